package io.couponstate.kafka;

import io.couponstate.core.CouponState;
import io.couponstate.core.internal.DurableFiles;
import io.couponstate.kafka.internal.checkpoint.ChainRestore;
import io.couponstate.kafka.internal.checkpoint.CheckpointDirectory;
import io.couponstate.kafka.internal.checkpoint.CheckpointFormat;
import io.couponstate.kafka.internal.checkpoint.CheckpointWriter;
import io.couponstate.kafka.internal.checkpoint.PartitionedMarker;
import io.couponstate.kafka.internal.checkpoint.RestoreProgress;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Durable checkpoints of a {@link CouponState} with the Kafka offsets it covers, in a directory this object locks: what
 * {@link CouponConsumerRunner} checkpoints through, for a consumer that keeps its own {@code KafkaConsumer} loop.
 * {@link #open} the directory, {@link #restore} the newest checkpoint into the state, seek each partition to the
 * offset restored for it (to its beginning when none was), apply what you poll, and {@link #write} on a cadence and
 * before giving partitions up.
 *
 * <ul>
 * <li><b>Restore first.</b> {@link #write} on a directory that held checkpoints when it was opened is refused with
 *     {@link IllegalStateException} until {@link #restore} ran: a checkpoint of a state that never restored them
 *     would replace a good chain with less.</li>
 * <li><b>Restore is a union.</b> The checkpoint's codes and sources are added to what the state holds.</li>
 * <li><b>Offsets.</b> Per partition, the offset of the next record to read (as {@code consumer.position} and committed
 *     offsets are). A partition absent from a {@link #write} keeps the offset of the previous checkpoint: the state
 *     still holds what that one covered.</li>
 * <li><b>Bases and deltas.</b> A write is a full base, or a delta of the state's change journal
 *     ({@code CouponStateConfig changeJournalCapacity} > 0) while the deltas since the base stay within
 *     {@link Options#baseRolloverFraction} of its size; a failed write makes the next one a base.</li>
 * <li><b>Failures.</b> A damaged file (checksum, magic, truncation) is renamed {@code .corrupt} and restore falls
 *     back: to the previous base, or to the delta before it (the blocks of the damaged file that passed their
 *     checksum may stay in the state: genuine observations, which a union tolerates). An intact checkpoint that does not fit the state, a file
 *     that cannot be read, or a partitioned runner's directory is an {@link IncompatibleCheckpointException}, and no
 *     file is touched.</li>
 * <li><b>Threads.</b> Every method is thread-safe: {@link #restore} and {@link #write} are serialized (a chain's files
 *     are written in order), and may run while other threads update the state (a checkpoint holds at least every
 *     observation applied before it started, below the offsets given). The progress and {@link #fellBack} readers
 *     never block.</li>
 * </ul>
 * Design notes and the file format: {@link io.couponstate.kafka.internal.checkpoint}.
 */
public final class CouponCheckpoints implements AutoCloseable {

    /** The default {@link Options#baseRolloverFraction}: a new base once the deltas add up to half its size. */
    public static final double DEFAULT_BASE_ROLLOVER_FRACTION = CheckpointWriter.DEFAULT_BASE_ROLLOVER_FRACTION;

    private static final Logger LOG = LoggerFactory.getLogger(CouponCheckpoints.class);

    private final CheckpointDirectory directory;
    private final CheckpointWriter writer;
    private final ChainRestore chainRestore;
    private final RestoreProgress progress = new RestoreProgress();
    private final Options options;
    /** Serializes writes and restores: a chain's files are written in order, and restore sets where it goes on. */
    private final Object lock = new Object();
    private boolean mustRestore; // under lock: the directory held checkpoints at open and none was restored yet
    private Map<TopicPartition, Long> offsets = Map.of(); // under lock: the newest checkpoint's, restored or written
    private Map<String, Uuid> topicIds = Map.of(); // under lock: likewise
    private final LongSupplier wallClock; // epoch millis recorded in each file, for people reading it
    private volatile boolean closed; // volatile: close() may run on another thread than the writer
    private volatile boolean fellBack; // volatile: written by restore, read by any thread

    private CouponCheckpoints(CheckpointDirectory directory, Options options, DurableFiles.BeforeRename beforeRename,
            LongSupplier wallClock, LongSupplier nanoTime) throws IOException {
        this.directory = directory;
        this.wallClock = wallClock;
        this.options = options;
        this.writer = new CheckpointWriter(directory, options.baseRolloverFraction, beforeRename);
        this.chainRestore = new ChainRestore(directory, progress, options.restoreLog, nanoTime);
        this.mustRestore = !directory.list().isEmpty();
    }

    /**
     * {@link #open(Path, Options)} with {@link Options#defaults()}.
     *
     * @param directory the directory
     * @return what {@link #open(Path, Options)} returns
     * @throws IOException if reading or writing fails
     */
    public static CouponCheckpoints open(Path directory) throws IOException {
        return open(directory, Options.defaults());
    }

    /**
     * Opens {@code directory} (created if missing) and locks it until {@link #close()}: an OS file lock on
     * {@code <directory>/.lock}, which the OS releases when the process dies, however it dies.
     *
     * @param directory the directory
     * @param options the options
     * @return the open checkpoints
     * @throws CheckpointDirectoryLockedException if another {@code CouponCheckpoints} or runner holds it, in this JVM
     *     or another process
     * @throws IncompatibleCheckpointException if a partitioned runner's shards live there
     * @throws IOException naming the directory and the reason if it cannot be created, locked or written
     */
    public static CouponCheckpoints open(Path directory, Options options) throws IOException {
        return open(directory, options, DurableFiles.BeforeRename.NONE);
    }

    /** {@link #open(Path, Options)} stopping at {@code beforeRename} in every write: the crash tests' seam. */
    static CouponCheckpoints open(Path directory, Options options, DurableFiles.BeforeRename beforeRename)
            throws IOException {
        return open(directory, options, beforeRename, System::currentTimeMillis);
    }

    /** As above, recording {@code wallClock}'s time in each file: the golden-file tests' seam. */
    static CouponCheckpoints open(Path directory, Options options, DurableFiles.BeforeRename beforeRename,
            LongSupplier wallClock) throws IOException {
        Objects.requireNonNull(directory, "directory");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(beforeRename, "beforeRename");
        Path absolute = directory.toAbsolutePath();
        PartitionedMarker.refuseIfPartitioned(absolute); // before anything is created or locked there
        CheckpointDirectory locked = new CheckpointDirectory(absolute);
        try {
            return new CouponCheckpoints(locked, options, beforeRename, Objects.requireNonNull(wallClock, "wallClock"),
                    System::nanoTime);
        } catch (IOException | RuntimeException e) {
            locked.close();
            throw e;
        }
    }

    /**
     * Unions the newest intact checkpoint into {@code state} and returns, per partition, the offset of the next record
     * to read; empty when the directory holds no usable checkpoint. See {@link #restoreCheckpoint} for the fallback.
     *
     * @param state the state
     * @return per partition, the offset of the next record to read; empty when there is no checkpoint
     * @throws IncompatibleCheckpointException if a checkpoint is intact but does not fit {@code state}, or cannot be
     *     read at all; no file is renamed or deleted then
     * @throws IllegalStateException if closed
     * @throws IOException if reading or writing fails
     */
    public Map<TopicPartition, Long> restore(CouponState state) throws IOException {
        return restoreCheckpoint(state).map(Restored::offsets).orElse(Map.of());
    }

    /**
     * {@link #restore} telling what was read. The chain read is the newest intact base and then, in order, its deltas
     * up to the first damaged one: the offsets are those of the last good file, so the records after it are read
     * again, and no delta after a damaged one is applied (they are set aside with it). A damaged base is set aside and
     * the next older base is tried. Then {@link #fellBack()} is true. Stray temporary files of writes a crash cut off
     * are deleted. After it, {@link #write} is allowed and continues the chain read.
     *
     * @param state the state
     * @return what was restored; empty when no usable checkpoint exists
     * @throws IncompatibleCheckpointException as {@link #restore}
     * @throws IllegalStateException if closed
     * @throws IOException if reading or writing fails
     */
    public Optional<Restored> restoreCheckpoint(CouponState state) throws IOException {
        Objects.requireNonNull(state, "state");
        synchronized (lock) {
            requireOpen();
            writer.breakChain(); // until a chain is read completely, the next checkpoint is a base
            ChainRestore.Result r = chainRestore.restore(state);
            writer.afterRestore(r);
            fellBack = r.fellBack() || (!r.found() && directory.holdsQuarantined());
            mustRestore = false;
            if (!r.found()) {
                return Optional.empty();
            }
            CheckpointFormat.Header last = r.last();
            offsets = last.offsets();
            topicIds = last.topicIds();
            return Optional.of(new Restored(last.file(), last.sequence(), last.offsets(), last.topicIds(),
                    r.entries(), r.files()));
        }
    }

    /**
     * Writes a checkpoint of {@code state} covering {@code offsets}, durably: when this returns, a crash at any point
     * leaves it restorable. See {@link #write(CouponState, Map, Map)}.
     *
     * @param state the state
     * @param offsets the next offset to read of each partition the state covers
     * @throws IOException if reading or writing fails
     */
    public void write(CouponState state, Map<TopicPartition, Long> offsets) throws IOException {
        write(state, offsets, Map.of());
    }

    /**
     * Writes a checkpoint of {@code state} covering {@code offsets} and recording {@code topicIds}, durably, then
     * deletes the files no restore needs any more. Every observation applied to the state before the call must be
     * below the offsets (apply, then capture the positions, then write); the state may go on changing meanwhile.
     *
     * @param offsets per partition, the offset of the next record to read (each >= 0); a partition of the previous
     * @param topicIds the id of each topic, so that a restore can tell a topic deleted and created again (any subset
     * @param state the state
     *     checkpoint absent here keeps its offset
     *     of the offsets' topics; may be empty); a topic of the previous checkpoint absent here keeps its id
     * @return the checkpoint written
     * @throws IllegalStateException if the directory held checkpoints at {@link #open} and none was restored yet, or if
     *     closed
     * @throws IllegalArgumentException for a negative offset, or more than a million partitions or topics
     * @throws IOException if reading or writing fails
     */
    public Checkpoint write(CouponState state, Map<TopicPartition, Long> offsets, Map<String, Uuid> topicIds)
            throws IOException {
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(offsets, "offsets");
        Objects.requireNonNull(topicIds, "topicIds");
        synchronized (lock) {
            requireOpen();
            if (mustRestore) {
                throw new IllegalStateException("write: checkpoint directory " + directory.path() + " holds "
                        + "checkpoints that were not restored (expected: restore(state) before the first write, or "
                        + "a base of this state would replace them)");
            }
            Map<TopicPartition, Long> merged = new LinkedHashMap<>(this.offsets);
            merged.putAll(offsets);
            Map<String, Uuid> ids = new LinkedHashMap<>(this.topicIds);
            ids.putAll(topicIds);
            CheckpointWriter.Written w = writer.write(state, merged, ids, wallClock.getAsLong());
            this.offsets = Collections.unmodifiableMap(merged);
            this.topicIds = Collections.unmodifiableMap(ids);
            return new Checkpoint(w.file(), w.sequence(), w.delta(), w.bytes(), this.offsets);
        }
    }

    /**
     * The directory (absolute).
     *
     * @return the directory (absolute)
     */
    public Path directory() {
        return directory.path();
    }

    /**
     * The options it was opened with.
     *
     * @return the options it was opened with
     */
    public Options options() {
        return options;
    }

    /**
     * Whether the last restore skipped a damaged checkpoint, or found none while damaged ones set aside earlier remain
     * in the directory (so that no checkpoint does not mean none was ever written). Any thread.
     *
     * @return whether the last restore skipped a damaged checkpoint, or found none while damaged ones set aside earlier
     *         remain in the directory (so that no checkpoint does not mean none was ever written)
     */
    public boolean fellBack() {
        return fellBack;
    }

    /**
     * Bytes of checkpoint files the current (or last) restore has read. Any thread, never blocks.
     *
     * @return bytes of checkpoint files the current (or last) restore has read
     */
    public long restoreBytesRead() {
        return progress.readBytes();
    }

    /**
     * The sizes of the files the current restore expects to read (known before reading), or what the last one read;
     * 0 before a restore or without a checkpoint. Any thread, never blocks.
     *
     * @return the sizes of the files the current restore expects to read (known before reading), or what the last one
     *         read; 0 before a restore or without a checkpoint
     */
    public long restoreBytesTotal() {
        return progress.totalBytes();
    }

    /**
     * Bytes per second since the restore began (until it ended, once it has); 0 before. Any thread.
     *
     * @param nowNanos the current {@link System#nanoTime()}
     * @return bytes per second since the restore began (until it ended, once it has); 0 before
     */
    public double restoreBytesPerSecond(long nowNanos) {
        return progress.bytesPerSecond(nowNanos);
    }

    /**
     * The complete checkpoint files in {@code directory}, oldest first, each with its header read and checked; read
     * without taking the lock (for tools and monitoring next to an owner that writes), so weakly consistent: a file
     * deleted while listing is left out.
     *
     * @param directory the directory
     * @return the complete checkpoint files in {@code directory}, oldest first, each with its header read and checked;
     *         read without taking the lock (for tools and monitoring next to an owner that writes), so weakly
     *         consistent: a file deleted while listing is left out
     * @throws IOException if the directory cannot be listed, or a header fails its checks (naming the file)
     */
    public static List<Checkpoint> list(Path directory) throws IOException {
        List<Checkpoint> out = new ArrayList<>();
        for (Path file : CheckpointDirectory.list(Objects.requireNonNull(directory, "directory")).values()) {
            CheckpointFormat.Header h;
            try {
                h = CheckpointFormat.decode(file);
            } catch (NoSuchFileException e) {
                continue; // retention deleted it after the listing
            }
            out.add(new Checkpoint(file, h.sequence(), h.isDelta(), h.size(), h.offsets()));
        }
        return out;
    }

    /**
     * Releases the directory lock once a write or restore in progress has finished (never under a writer's feet);
     * idempotent. Restores and writes after it throw. Any thread.
     */
    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            directory.close();
        }
    }

    @Override
    public String toString() {
        return "CouponCheckpoints{" + directory.path() + "}";
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("checkpoint directory " + directory.path() + " is closed (expected: an "
                    + "open CouponCheckpoints)");
        }
    }

    /** How a {@link CouponCheckpoints} writes and restores. Immutable; each setter returns a copy. */
    public static final class Options {
        private static final Options DEFAULTS = new Options(DEFAULT_BASE_ROLLOVER_FRACTION, LOG::info);

        private final double baseRolloverFraction;
        private final Consumer<String> restoreLog;

        private Options(double baseRolloverFraction, Consumer<String> restoreLog) {
            this.baseRolloverFraction = baseRolloverFraction;
            this.restoreLog = restoreLog;
        }

        /**
         * Base rollover at {@link #DEFAULT_BASE_ROLLOVER_FRACTION}, restore progress to the log at INFO.
         *
         * @return base rollover at {@link #DEFAULT_BASE_ROLLOVER_FRACTION}, restore progress to the log at INFO
         */
        public static Options defaults() {
            return DEFAULTS;
        }

        /**
         * A copy that writes a new base once the deltas since the last one add up to more than
         * {@code baseRolloverFraction} times its size: lower restores faster, higher writes less.
         *
         * @param baseRolloverFraction the base rollover fraction
         * @return a copy that writes a new base once the deltas since the last one add up to more than {@code
         *         baseRolloverFraction} times its size: lower restores faster, higher writes less
         * @throws IllegalArgumentException unless finite and > 0
         */
        public Options baseRolloverFraction(double baseRolloverFraction) {
            return new Options(CheckpointWriter.checkedFraction(baseRolloverFraction), restoreLog);
        }

        /**
         * The base rollover fraction.
         *
         * @return the base rollover fraction
         */
        public double baseRolloverFraction() {
            return baseRolloverFraction;
        }

        /**
         * A copy that sends restore progress lines (every 10 s of a long restore, and one at its end) to
         * {@code restoreLog} instead of the log.
         *
         * @param restoreLog the restore log
         * @return a copy that sends restore progress lines (every 10 s of a long restore, and one at its end) to {@code
         *         restoreLog} instead of the log
         */
        public Options restoreLog(Consumer<String> restoreLog) {
            return new Options(baseRolloverFraction, Objects.requireNonNull(restoreLog, "restoreLog"));
        }
    }

    /** What a restore read. Immutable. */
    public static final class Restored {
        private final Path file;
        private final long sequence;
        private final Map<TopicPartition, Long> offsets;
        private final Map<String, Uuid> topicIds;
        private final long entries;
        private final List<Path> files;

        Restored(Path file, long sequence, Map<TopicPartition, Long> offsets, Map<String, Uuid> topicIds,
                long entries, List<Path> files) {
            this.file = file;
            this.sequence = sequence;
            this.offsets = offsets;
            this.topicIds = topicIds;
            this.entries = entries;
            this.files = List.copyOf(files);
        }

        /**
         * The last checkpoint file read (the chain's last good delta, or its base).
         *
         * @return the last checkpoint file read (the chain's last good delta, or its base)
         */
        public Path file() {
            return file;
        }

        /**
         * Its sequence number.
         *
         * @return its sequence number
         */
        public long sequence() {
            return sequence;
        }

        /**
         * Per partition, the offset of the next record to read.
         *
         * @return per partition, the offset of the next record to read
         */
        public Map<TopicPartition, Long> offsets() {
            return offsets;
        }

        /**
         * The id of each topic when the checkpoint was written; empty for the oldest file version.
         *
         * @return the id of each topic when the checkpoint was written; empty for the oldest file version
         */
        public Map<String, Uuid> topicIds() {
            return topicIds;
        }

        /**
         * Entries read into the state (base and deltas; a delta may repeat a code).
         *
         * @return entries read into the state (base and deltas; a delta may repeat a code)
         */
        public long entries() {
            return entries;
        }

        /**
         * The files read, in order: the base, then its deltas (the last is {@link #file()}).
         *
         * @return the files read, in order: the base, then its deltas (the last is {@link #file()})
         */
        public List<Path> files() {
            return files;
        }
    }

    /** One durable checkpoint file. Immutable. */
    public static final class Checkpoint {
        private final Path file;
        private final long sequence;
        private final boolean delta;
        private final long bytes;
        private final Map<TopicPartition, Long> offsets;

        Checkpoint(Path file, long sequence, boolean delta, long bytes, Map<TopicPartition, Long> offsets) {
            this.file = file;
            this.sequence = sequence;
            this.delta = delta;
            this.bytes = bytes;
            this.offsets = offsets;
        }

        /**
         * Its file.
         *
         * @return its file
         */
        public Path file() {
            return file;
        }

        /**
         * Its sequence number; later checkpoints have higher ones.
         *
         * @return its sequence number; later checkpoints have higher ones
         */
        public long sequence() {
            return sequence;
        }

        /**
         * Whether it holds the changes since the previous checkpoint (else a full base).
         *
         * @return whether it holds the changes since the previous checkpoint (else a full base)
         */
        public boolean delta() {
            return delta;
        }

        /**
         * Its file's size.
         *
         * @return its file's size
         */
        public long bytes() {
            return bytes;
        }

        /**
         * Per partition, the offset of the next record to read.
         *
         * @return per partition, the offset of the next record to read
         */
        public Map<TopicPartition, Long> offsets() {
            return offsets;
        }

        @Override
        public String toString() {
            return (delta ? "delta " : "base ") + file.getFileName() + " (" + bytes + " bytes, offsets " + offsets
                    + ")";
        }
    }
}
