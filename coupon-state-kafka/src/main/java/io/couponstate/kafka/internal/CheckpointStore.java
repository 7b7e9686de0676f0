package io.couponstate.kafka.internal;

import io.couponstate.core.CouponSnapshots;
import io.couponstate.core.CouponState;
import io.couponstate.core.SnapshotFormatException;
import io.couponstate.kafka.CheckpointDirectoryLockedException;
import io.couponstate.kafka.IncompatibleCheckpointException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoint files in one directory, which this store locks: each holds the offsets it covers, the ids of the topics
 * they belong to and a state snapshot, written atomically; the newest two are kept.
 *
 * <p>File {@code checkpoint-<sequence, 20 digits>.ckpt}, all integers big-endian:
 * <pre>
 * header  magic "CKPT" u32 | version u16 = 2 | sequence u64 | written at (epoch ms) u64
 *         | partition count u32 (at most 1,000,000), then per partition:
 *           topic length u16 + UTF-8 topic | partition u32 | offset u64 (next offset to apply)
 *         | topic id count u32 (at most 1,000,000; version 2 only), then per topic, by name:
 *           topic length u16 + UTF-8 topic | topic id: most significant u64 | least significant u64
 *         | CRC32C u32 of every header byte before it
 * state   a {@link CouponSnapshots} stream (its own magic, version, block and whole-stream CRC32C)
 * </pre>
 * Version 1 files (without the topic ids) are still read, with no topic ids.
 *
 * <p><b>Ownership.</b> The constructor takes an exclusive OS file lock on {@code <dir>/.lock}, so two stores (two
 * runners, in one JVM or in two processes) never share a directory: the second one fails with
 * {@link CheckpointDirectoryLockedException}. {@link #close()} releases it; the OS releases it when the process dies,
 * however it dies. Within one JVM a registry of locked directories refuses a second store before it opens the lock
 * file, because on POSIX systems closing any descriptor of a file releases the whole process's lock on it (so
 * nothing else in the process may open {@code .lock} either, not even to read it). The lock file itself is never
 * deleted (deleting it would let a newcomer lock a fresh file while an old holder still holds
 * the unlinked one).
 *
 * <p><b>Concurrency.</b> {@link #write} is thread-safe: concurrent writes get distinct sequences and temporary files.
 * {@link #restore} must not run concurrently with a write (a runner restores before its first write). Either may run
 * while other threads update the state: the snapshot holds every observation applied before the write started (so
 * everything below the offsets, which were captured before) and maybe some newer ones, which are harmless because
 * restoring is a set union. {@link #fellBack()} is a volatile read of what the last restore found.
 *
 * <p><b>Durability.</b> A write goes to a temporary file of its own ({@code <name>.<pid>-<n>.tmp}), is fsynced, renamed
 * over its final name, and the directory is fsynced; only then are files older than the previous checkpoint deleted.
 * A crash at any point leaves either the new checkpoint or the previous ones intact, plus perhaps a stray
 * {@code .tmp} that the next restore deletes (safe: the lock says no other writer is in flight).
 *
 * <p><b>Failures on restore.</b> Only a <em>damaged</em> checkpoint (a checksum or magic that fails, a truncated
 * file) is skipped: it is renamed {@code .corrupt} (the newest {@link #KEPT_CORRUPT} of those are kept) and the next
 * older one is tried. A checkpoint that is intact but does not fit the state (another code format or case folding,
 * more sources than {@code maxSources}, a newer file version) or that cannot be read at all (permissions, an I/O
 * error) is a configuration problem: {@link IncompatibleCheckpointException}, and no file is touched.
 */
public final class CheckpointStore implements AutoCloseable {

    /** "CKPT". */
    public static final int MAGIC = 0x434b5054;
    /** The format version this class writes; version 1 (no topic ids) is still read. */
    public static final int VERSION = 2;
    /** How many complete checkpoints are kept. */
    public static final int KEPT = 2;
    /** How many quarantined ({@code .corrupt}) checkpoints are kept, the newest; older ones are deleted. */
    public static final int KEPT_CORRUPT = 2;

    /*
     * Design notes
     *
     * Classification
     *   A failed check is classified by SnapshotFormatException.kind(), for this class's header as for core's
     *   snapshot: DAMAGED (magic, checksum, truncation, impossible counts) falls back; INCOMPATIBLE (versions we
     *   cannot read, a format or source limit that differs from the state's, all checked after a checksum vouched
     *   for the bytes) and any other failure stop the restore untouched. A wrong guess the other way round would
     *   quarantine good checkpoints and silently replay from the log start, so anything unknown is "incompatible".
     *
     * Progress
     *   The file is read through a counting stream below the 64 KiB buffer: it sees few, large reads and consults
     *   the clock once per 4 MiB, so logging costs nothing next to decoding, whatever core's restore speed becomes.
     */

    private static final Logger LOG = LoggerFactory.getLogger(CheckpointStore.class);
    private static final String PREFIX = "checkpoint-";
    private static final String SUFFIX = ".ckpt";
    private static final String CORRUPT = ".corrupt";
    private static final String LOCK_FILE = ".lock";
    private static final int MAX_PARTITIONS = 1_000_000;
    private static final int MAX_TOPIC_BYTES = 0xFFFF;
    /** How many bytes the progress stream reads between two looks at the clock. */
    static final long PROGRESS_CHECK_BYTES = 4L << 20;
    /** How often restore progress is logged. */
    static final long PROGRESS_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** Called at points of a checkpoint write, for crash tests; a test sets it, production leaves it null. */
    public interface Hook {
        /** After the temporary file is fsynced, before it is renamed to {@code target}. */
        void fsyncedBeforeRename(Path tmp, Path target);
    }

    private static volatile Hook hook; // volatile: set by a test thread, read by the checkpoint thread
    /** The directories (real paths) locked by stores of this JVM. */
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private final Path dir;
    private final Path heldKey;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final AtomicLong nextSequence = new AtomicLong(1); // atomic: concurrent writers each take their own
    private final AtomicLong temporaries = new AtomicLong(); // atomic: a temporary file name of its own per write
    private volatile boolean closed; // volatile: close() may run on another thread than the writer
    private volatile boolean fellBack; // volatile: written by restore, read by the runner's threads
    private volatile Consumer<String> progressSink = LOG::info; // volatile: a test may swap it before restore
    private final LongSupplier nanoTime = System::nanoTime;

    /**
     * A store in {@code dir}, created if missing, and locked by this store until {@link #close()}.
     *
     * @throws CheckpointDirectoryLockedException if another store (in this JVM or another process) holds the lock
     * @throws IOException naming the directory and the reason if it cannot be created, locked or written
     */
    public CheckpointStore(Path dir) throws IOException {
        this.dir = Objects.requireNonNull(dir, "dir").toAbsolutePath();
        try {
            Files.createDirectories(this.dir);
        } catch (IOException e) {
            throw unusable("it cannot be created", e);
        }
        Path key = this.dir.toRealPath(); // one key per directory, however it is spelled
        // Checked before any descriptor of the lock file is opened: POSIX drops every lock a process holds on a file
        // when it closes any descriptor of it, so a refusal that opened and closed one would unlock the holder.
        if (!HELD.add(key)) {
            throw new CheckpointDirectoryLockedException(this.dir, null);
        }
        this.heldKey = key;
        Path lockFile = this.dir.resolve(LOCK_FILE);
        FileChannel channel;
        try {
            channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        } catch (IOException e) {
            HELD.remove(key);
            throw unusable("its lock file " + lockFile + " cannot be created or opened", e);
        }
        FileLock acquired;
        try {
            acquired = channel.tryLock();
        } catch (OverlappingFileLockException e) { // this JVM holds it through another path (a bind mount, say)
            closeQuietly(channel);
            HELD.remove(key);
            throw new CheckpointDirectoryLockedException(this.dir, e);
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel);
            HELD.remove(key);
            throw unusable("its lock file " + lockFile + " cannot be locked", e);
        }
        if (acquired == null) { // another process holds it
            closeQuietly(channel);
            HELD.remove(key);
            throw new CheckpointDirectoryLockedException(this.dir, null);
        }
        this.lockChannel = channel;
        this.lock = acquired;
        try {
            probeWritable();
            nextSequence.set(highestSequence() + 1); // past quarantined ones too: a name is never reused
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Sets (or with null clears) the crash-test hook for every store in this JVM. */
    public static void setHook(Hook h) {
        hook = h;
    }

    /** The directory (absolute). */
    public Path directory() {
        return dir;
    }

    /**
     * The complete checkpoint files in {@code dir}, by sequence, read without taking the lock (for tools and tests
     * that look at a directory a runner owns). Weakly consistent while a runner writes.
     */
    public static TreeMap<Long, Path> list(Path dir) throws IOException {
        return bySequence(Objects.requireNonNull(dir, "dir").toAbsolutePath(), SUFFIX);
    }

    /** Releases the directory lock; idempotent. Writes and restores after it throw. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            lock.release();
        } catch (IOException e) {
            LOG.warn("releasing the lock of checkpoint directory {} failed: {}", dir, e.toString());
        }
        closeQuietly(lockChannel);
        HELD.remove(heldKey); // after the descriptor is closed: a successor opens its own only now
    }

    /** What a restore found. */
    public static final class Restored {
        private final Path file;
        private final long sequence;
        private final Map<TopicPartition, Long> offsets;
        private final Map<String, Uuid> topicIds;
        private final long entries;

        Restored(Path file, long sequence, Map<TopicPartition, Long> offsets, Map<String, Uuid> topicIds,
                long entries) {
            this.file = file;
            this.sequence = sequence;
            this.offsets = Collections.unmodifiableMap(offsets);
            this.topicIds = Collections.unmodifiableMap(topicIds);
            this.entries = entries;
        }

        /** The checkpoint file. */
        public Path file() {
            return file;
        }

        /** Its sequence number. */
        public long sequence() {
            return sequence;
        }

        /** The offsets it covers: per partition, the next offset to apply. */
        public Map<TopicPartition, Long> offsets() {
            return offsets;
        }

        /** The id of each topic as it was when the checkpoint was written; empty for a version 1 file. */
        public Map<String, Uuid> topicIds() {
            return topicIds;
        }

        /** Snapshot entries read into the state. */
        public long entries() {
            return entries;
        }
    }

    /**
     * Unions the newest checkpoint that passes every check into {@code state} and returns it; empty if there is none.
     * A damaged checkpoint (checksum, magic, truncation) is logged with the reason and renamed to {@code .corrupt}, so
     * it is neither retried nor counted among the kept ones; then the next older one is tried and {@link #fellBack()}
     * becomes true. A failed read may leave part of the damaged snapshot in the state: only blocks whose checksum
     * passed, that is genuine observations, which a set union tolerates. Stray temporary files are deleted.
     *
     * @throws IncompatibleCheckpointException if a checkpoint is intact but does not fit {@code state}, or cannot be
     *     read at all; no file is renamed or deleted then
     */
    public Optional<Restored> restore(CouponState state) throws IOException {
        Objects.requireNonNull(state, "state");
        requireOpen();
        fellBack = false;
        deleteTemporaryFiles();
        nextSequence.accumulateAndGet(highestSequence() + 1, Math::max);
        TreeMap<Long, Path> files = list();
        for (Map.Entry<Long, Path> e : files.descendingMap().entrySet()) {
            Path file = e.getValue();
            try {
                return Optional.of(read(file, state, progressSink, nanoTime));
            } catch (SnapshotFormatException ex) {
                if (ex.kind() != SnapshotFormatException.Kind.DAMAGED) {
                    throw new IncompatibleCheckpointException(file, ex.getMessage(), ex);
                }
                LOG.warn("checkpoint {} is damaged ({}): quarantining it as {} and trying the next older one", file,
                        ex.getMessage(), file.getFileName() + CORRUPT);
                fellBack = true;
                quarantine(file);
            } catch (IOException | RuntimeException ex) { // permissions, I/O errors, a state we cannot fill
                throw new IncompatibleCheckpointException(file, "reading it failed: " + ex, ex);
            }
        }
        return Optional.empty();
    }

    /** Whether the last {@link #restore} skipped at least one damaged checkpoint (so it restored an older one). */
    public boolean fellBack() {
        return fellBack;
    }

    /** Reads one checkpoint file into {@code state}; throws saying which check failed. */
    public static Restored read(Path file, CouponState state) throws IOException {
        return read(file, state, LOG::info, System::nanoTime);
    }

    private static Restored read(Path file, CouponState state, Consumer<String> sink, LongSupplier nanoTime)
            throws IOException {
        long size = Files.size(file);
        long start = nanoTime.getAsLong();
        try (ProgressInputStream counting = new ProgressInputStream(Files.newInputStream(file), file, size, sink,
                nanoTime); BufferedInputStream in = new BufferedInputStream(counting, 1 << 16)) {
            CRC32C crc = new CRC32C();
            DataInputStream data = new DataInputStream(new CheckedInputStream(in, crc));
            long sequence;
            Map<TopicPartition, Long> offsets = new LinkedHashMap<>();
            Map<String, Uuid> topicIds = new LinkedHashMap<>();
            try {
                int magic = data.readInt();
                if (magic != MAGIC) {
                    throw new SnapshotFormatException(String.format("no checkpoint magic (found 0x%08x, expected "
                            + "0x%08x)", magic, MAGIC));
                }
                int version = data.readUnsignedShort();
                if (version < 1 || version > VERSION) {
                    throw new SnapshotFormatException("checkpoint version " + version + " (expected: 1.." + VERSION
                            + "): written by a newer couponstate, or damaged", version > VERSION
                            ? SnapshotFormatException.Kind.INCOMPATIBLE : SnapshotFormatException.Kind.DAMAGED);
                }
                sequence = data.readLong();
                data.readLong(); // written at: for people reading the file
                int count = count(data.readInt(), "partition count");
                for (int i = 0; i < count; i++) {
                    String topic = topic(data);
                    int partition = data.readInt();
                    long offset = data.readLong();
                    if (partition < 0 || offset < 0) {
                        throw new SnapshotFormatException("partition " + partition + " offset " + offset
                                + " (expected: >= 0)");
                    }
                    offsets.put(new TopicPartition(topic, partition), offset);
                }
                if (version >= 2) {
                    int ids = count(data.readInt(), "topic id count");
                    for (int i = 0; i < ids; i++) {
                        String topic = topic(data);
                        topicIds.put(topic, new Uuid(data.readLong(), data.readLong()));
                    }
                }
                int computed = (int) crc.getValue(); // before the stored value passes through the checked stream
                int stored = data.readInt();
                if (stored != computed) {
                    throw new SnapshotFormatException(String.format("checkpoint header CRC32C mismatch (stored "
                            + "0x%08x, computed 0x%08x)", stored, computed));
                }
            } catch (EOFException e) {
                throw new SnapshotFormatException("checkpoint header truncated");
            }
            long entries = CouponSnapshots.read(in, state); // the buffered stream: no checksum over the snapshot
            double seconds = (nanoTime.getAsLong() - start) / 1e9;
            sink.accept(String.format("restored checkpoint %s: %d entries, %.1f MB in %.3f s (%.1f MB/s), offsets %s",
                    file, entries, size / 1e6, seconds, seconds > 0 ? size / 1e6 / seconds : 0.0, offsets));
            return new Restored(file, sequence, offsets, topicIds, entries);
        }
    }

    private static int count(int count, String what) throws SnapshotFormatException {
        if (count < 0 || count > MAX_PARTITIONS) {
            throw new SnapshotFormatException(what + " " + count + " (expected: 0.." + MAX_PARTITIONS + ")");
        }
        return count;
    }

    private static String topic(DataInputStream data) throws IOException {
        int len = data.readUnsignedShort();
        byte[] topic = data.readNBytes(len);
        if (topic.length != len) {
            throw new EOFException();
        }
        return new String(topic, StandardCharsets.UTF_8);
    }

    /**
     * Writes a checkpoint of {@code offsets}, {@code topicIds} and {@code state} durably and deletes all but the
     * newest {@link #KEPT}. Thread-safe.
     *
     * @param offsets per partition, the next offset to apply
     * @param topicIds the id of each topic (any subset of the offsets' topics; may be empty)
     * @param state the state to snapshot
     * @param nowMillis the time to record in the file
     * @return the new checkpoint's file
     */
    public Path write(Map<TopicPartition, Long> offsets, Map<String, Uuid> topicIds, CouponState state,
            long nowMillis) throws IOException {
        Objects.requireNonNull(offsets, "offsets");
        Objects.requireNonNull(topicIds, "topicIds");
        Objects.requireNonNull(state, "state");
        requireOpen();
        long sequence = nextSequence.getAndIncrement();
        byte[] header = header(sequence, nowMillis, offsets, topicIds); // refuses bad input before any file exists
        Path target = dir.resolve(String.format("%s%020d%s", PREFIX, sequence, SUFFIX));
        Path tmp = null;
        try {
            FileChannel channel = null;
            while (channel == null) {
                tmp = dir.resolve(target.getFileName() + "." + ProcessHandle.current().pid() + "-"
                        + temporaries.incrementAndGet() + ".tmp");
                try {
                    channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                } catch (FileAlreadyExistsException e) {
                    tmp = null; // left by a crashed process of the same pid: take the next name, never share one
                }
            }
            try (FileChannel c = channel) {
                OutputStream out = new BufferedOutputStream(Channels.newOutputStream(c), 1 << 16);
                out.write(header);
                CouponSnapshots.write(state, out);
                out.flush();
                c.force(true);
            }
            Hook h = hook;
            if (h != null) {
                h.fsyncedBeforeRename(tmp, target);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            fsyncDirectory();
        } finally {
            if (tmp != null) {
                Files.deleteIfExists(tmp);
            }
        }
        TreeMap<Long, Path> files = list();
        while (files.size() > KEPT) {
            Path oldest = files.pollFirstEntry().getValue();
            try {
                Files.deleteIfExists(oldest);
            } catch (IOException e) {
                LOG.warn("could not delete old checkpoint {}: {}", oldest, e.toString());
            }
        }
        return target;
    }

    /** The complete checkpoint files, by sequence. */
    public TreeMap<Long, Path> list() throws IOException {
        return bySequence(dir, SUFFIX);
    }

    /** Sets where restore progress goes (the log at INFO by default); for tests. */
    void progressSink(Consumer<String> sink) {
        this.progressSink = Objects.requireNonNull(sink, "sink");
    }

    private static TreeMap<Long, Path> bySequence(Path dir, String suffix) throws IOException {
        TreeMap<Long, Path> files = new TreeMap<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, PREFIX + "*" + suffix)) {
            for (Path p : stream) {
                String name = p.getFileName().toString();
                String digits = name.substring(PREFIX.length(), name.length() - suffix.length());
                try {
                    files.put(Long.parseLong(digits), p);
                } catch (NumberFormatException e) {
                    LOG.warn("ignoring {}: not a checkpoint file name", p);
                }
            }
        }
        return files;
    }

    private long highestSequence() throws IOException {
        TreeMap<Long, Path> good = list();
        TreeMap<Long, Path> corrupt = bySequence(dir, SUFFIX + CORRUPT);
        long high = 0;
        if (!good.isEmpty()) {
            high = good.lastKey();
        }
        if (!corrupt.isEmpty()) {
            high = Math.max(high, corrupt.lastKey());
        }
        return high;
    }

    private static byte[] header(long sequence, long nowMillis, Map<TopicPartition, Long> offsets,
            Map<String, Uuid> topicIds) throws IOException {
        if (offsets.size() > MAX_PARTITIONS || topicIds.size() > MAX_PARTITIONS) {
            throw new IllegalArgumentException("offsets: " + offsets.size() + " partitions, topicIds: "
                    + topicIds.size() + " topics (expected: at most " + MAX_PARTITIONS + " each)");
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + offsets.size() * 32 + topicIds.size() * 48);
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(MAGIC);
        out.writeShort(VERSION);
        out.writeLong(sequence);
        out.writeLong(nowMillis);
        out.writeInt(offsets.size());
        for (Map.Entry<TopicPartition, Long> e : offsets.entrySet()) {
            long offset = Objects.requireNonNull(e.getValue(), "offset of " + e.getKey());
            if (offset < 0) {
                throw new IllegalArgumentException("offset of " + e.getKey() + ": " + offset + " (expected: >= 0)");
            }
            writeTopic(out, e.getKey().topic());
            out.writeInt(e.getKey().partition());
            out.writeLong(offset);
        }
        Map<String, Uuid> sorted = new TreeMap<>(topicIds); // by name: the same map always gives the same bytes
        out.writeInt(sorted.size());
        for (Map.Entry<String, Uuid> e : sorted.entrySet()) {
            Uuid id = Objects.requireNonNull(e.getValue(), "topic id of " + e.getKey());
            writeTopic(out, e.getKey());
            out.writeLong(id.getMostSignificantBits());
            out.writeLong(id.getLeastSignificantBits());
        }
        out.flush();
        CRC32C crc = new CRC32C();
        crc.update(bytes.toByteArray());
        out.writeInt((int) crc.getValue());
        out.flush();
        return bytes.toByteArray();
    }

    private static void writeTopic(DataOutputStream out, String topic) throws IOException {
        byte[] utf8 = topic.getBytes(StandardCharsets.UTF_8);
        if (utf8.length > MAX_TOPIC_BYTES) {
            throw new IllegalArgumentException("topic name of " + utf8.length + " UTF-8 bytes (expected: at most "
                    + MAX_TOPIC_BYTES + ")");
        }
        out.writeShort(utf8.length);
        out.write(utf8);
    }

    private void deleteTemporaryFiles() throws IOException {
        List<Path> stray = new ArrayList<>();
        // both the old shared name (<name>.tmp) and the unique ones (<name>.<pid>-<n>.tmp)
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, PREFIX + "*" + SUFFIX + "*.tmp")) {
            stream.forEach(stray::add);
        }
        for (Path p : stray) {
            LOG.info("deleting {}: a checkpoint write that did not finish", p);
            Files.deleteIfExists(p);
        }
    }

    private void quarantine(Path file) {
        try {
            Files.move(file, file.resolveSibling(file.getFileName() + CORRUPT), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            LOG.warn("could not rename damaged checkpoint {}: {}", file, e.toString());
        }
        try {
            TreeMap<Long, Path> corrupt = bySequence(dir, SUFFIX + CORRUPT);
            while (corrupt.size() > KEPT_CORRUPT) {
                Path oldest = corrupt.pollFirstEntry().getValue();
                LOG.info("deleting quarantined checkpoint {}: only the newest {} are kept", oldest, KEPT_CORRUPT);
                Files.deleteIfExists(oldest);
            }
        } catch (IOException e) {
            LOG.warn("could not bound the quarantined checkpoints in {}: {}", dir, e.toString());
        }
    }

    private void probeWritable() throws IOException {
        Path probe = dir.resolve(".write-probe-" + ProcessHandle.current().pid());
        try {
            Files.deleteIfExists(probe);
            Files.write(probe, new byte[] {1}, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw unusable("it cannot be written", e);
        } finally {
            try {
                Files.deleteIfExists(probe);
            } catch (IOException e) {
                LOG.warn("could not delete {}: {}", probe, e.toString());
            }
        }
    }

    private IOException unusable(String why, Exception cause) {
        return new IOException("checkpoint directory " + dir + " cannot be used: " + why + " (" + cause + ")", cause);
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("checkpoint store " + dir + " is closed");
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException e) {
            LOG.warn("closing a checkpoint lock file failed: {}", e.toString());
        }
    }

    private void fsyncDirectory() throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            if (!System.getProperty("os.name", "").startsWith("Windows")) {
                throw e;
            }
        }
    }

    /**
     * Counts the bytes read from a checkpoint file and reports progress at most every {@link
     * #PROGRESS_INTERVAL_NANOS}, looking at the clock only once per {@link #PROGRESS_CHECK_BYTES}. Not thread-safe:
     * one restore reads it.
     */
    static final class ProgressInputStream extends FilterInputStream {
        private final Path file;
        private final long size;
        private final Consumer<String> sink;
        private final LongSupplier nanoTime;
        private final long start;
        private long lastReport;
        private long count;
        private long nextCheck = PROGRESS_CHECK_BYTES;

        ProgressInputStream(InputStream in, Path file, long size, Consumer<String> sink, LongSupplier nanoTime) {
            super(in);
            this.file = file;
            this.size = size;
            this.sink = sink;
            this.nanoTime = nanoTime;
            this.start = nanoTime.getAsLong();
            this.lastReport = start;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                advance(1);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) {
                advance(n);
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = in.skip(n);
            if (skipped > 0) {
                advance(skipped);
            }
            return skipped;
        }

        private void advance(long n) {
            count += n;
            if (count < nextCheck) {
                return;
            }
            nextCheck = count + PROGRESS_CHECK_BYTES;
            long now = nanoTime.getAsLong();
            if (now - lastReport < PROGRESS_INTERVAL_NANOS) {
                return;
            }
            lastReport = now;
            double seconds = (now - start) / 1e9;
            sink.accept(String.format("restoring checkpoint %s: %.1f of %.1f MB read (%.0f%%) in %.0f s, %.1f MB/s",
                    file, count / 1e6, size / 1e6, size > 0 ? 100.0 * count / size : 100.0, seconds,
                    seconds > 0 ? count / 1e6 / seconds : 0.0));
        }
    }
}
