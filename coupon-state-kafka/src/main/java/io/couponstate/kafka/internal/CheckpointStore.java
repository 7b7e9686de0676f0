package io.couponstate.kafka.internal;

import io.couponstate.core.BaseNeededException;
import io.couponstate.core.CouponSnapshots;
import io.couponstate.core.CouponState;
import io.couponstate.core.SnapshotFormatException;
import io.couponstate.core.internal.DurableFiles;
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
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
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
import java.util.SortedMap;
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
 * they belong to and either a <b>base</b> (a full snapshot of the state) or a <b>delta</b> (the changes since the
 * previous checkpoint, from the state's change journal), written atomically. Bases and their deltas form chains.
 *
 * <p>File {@code checkpoint-<sequence, 20 digits>.ckpt}, all integers big-endian:
 * <pre>
 * header  magic "CKPT" u32 | version u16 = 3 | sequence u64 | written at (epoch ms) u64
 *         | kind u8 (1 base, 2 delta; version 3 only) | base sequence u64 (a base: its own; a delta: its base's;
 *           version 3 only)
 *         | partition count u32 (at most 1,000,000), then per partition:
 *           topic length u16 + UTF-8 topic | partition u32 | offset u64 (next offset to apply)
 *         | topic id count u32 (at most 1,000,000; version 2 and 3), then per topic, by name:
 *           topic length u16 + UTF-8 topic | topic id: most significant u64 | least significant u64
 *         | CRC32C u32 of every header byte before it
 * state   a {@link CouponSnapshots} base or delta (version 3) or snapshot (versions 1 and 2), with its own magic,
 *         version, chain id and sequence, block and whole-stream CRC32C
 * </pre>
 * Version 2 files (a snapshot, no kind) and version 1 files (no topic ids either) are still read, as bases.
 *
 * <p><b>Bases and deltas.</b> A checkpoint is a delta when the state keeps a change journal
 * ({@code CouponStateConfig changeJournalCapacity} > 0), a base of the current chain is durable here, and the deltas
 * written since it add up to at most {@link #baseRolloverFraction()} times its size; otherwise a base: also when
 * core asks for one ({@link io.couponstate.core.BaseNeededException}: the journal overflowed, data came from outside
 * the chain) and after any failed write. Without a journal every checkpoint is a base (a full rewrite, logged once).
 * {@link #restore} reads the newest intact base, then its deltas in order, and stops at the first damaged one.
 *
 * <p><b>Retention</b> keeps what a restore needs: for a state with a journal, the newest base and its deltas, the
 * previous chain being deleted only once a new base is durable (so a damaged newest base has no older fallback: the
 * consumer then replays from the log); for a state without one, the newest {@link #KEPT} bases (the older one a
 * fallback, as before chains).
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
 * <p><b>Concurrency.</b> {@link #write} and {@link #restore} are thread-safe: serialized by a lock of the store, as a
 * chain's files must be written in sequence order. Either may run while other threads update the state: a base holds
 * every observation applied before the write started, a delta every change since the previous checkpoint's mark (so
 * everything below the offsets, which were captured before), and maybe some newer ones, which are harmless because
 * restoring is a set union. {@link #fellBack()} is a volatile read of what the last restore found.
 *
 * <p><b>Durability.</b> A write goes to a temporary file of its own ({@code <name>.<pid>-<n>.tmp}), is fsynced, renamed
 * over its final name, and the directory is fsynced; only then are files no restore needs deleted. A delta too exists
 * under its name only once durable: a crash between its fsync and its rename leaves a {@code .tmp} that restore
 * ignores (and deletes), so the chain ends at the delta before it. A crash at any point leaves either the new
 * checkpoint or the previous ones intact, plus perhaps a stray {@code .tmp} that the next restore deletes (safe: the
 * lock says no other writer is in flight).
 *
 * <p><b>Failures on restore.</b> Only a <em>damaged</em> checkpoint (a checksum or magic that fails, a truncated
 * file) is skipped: it is renamed {@code .corrupt} (the newest {@link #KEPT_CORRUPT} of those are kept); for a base the
 * next older base is tried, for a delta the chain ends at the file before it (the deltas after it are quarantined
 * too: they would skip its changes). A checkpoint that is intact but does not fit the state (another code format or case folding,
 * more sources than {@code maxSources}, a newer file version) or that cannot be read at all (permissions, an I/O
 * error) is a configuration problem: {@link IncompatibleCheckpointException}, and no file is touched.
 */
public final class CheckpointStore implements AutoCloseable {

    /** "CKPT". */
    public static final int MAGIC = 0x434b5054;
    /** The format version this class writes; versions 1 (no topic ids) and 2 (no chains) are still read. */
    public static final int VERSION = 3;
    /** How many complete checkpoints are kept for a state without a change journal (each is a full base). */
    public static final int KEPT = 2;
    /**
     * The default {@link #baseRolloverFraction()}: a new base once the deltas since the last one add up to half its
     * size, so a restore reads at most about 1.5 times a base, and the disk holds at most about 1.5 times one base
     * (2.5 times while a new base is written, as the old chain stays until the new base is durable).
     */
    public static final double DEFAULT_BASE_ROLLOVER_FRACTION = 0.5;
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
    private static final int KIND_BASE = 1;
    private static final int KIND_DELTA = 2;
    private static final int MAX_PARTITIONS = 1_000_000;
    private static final int MAX_TOPIC_BYTES = 0xFFFF;
    /** The fewest bytes a snapshot entry takes (a 7-byte key and a 1-byte mask): bounds the entries of a file. */
    private static final int MIN_ENTRY_BYTES = 8;
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
    private final RestoreProgress restoreProgress = new RestoreProgress();
    private final double baseRolloverFraction;
    /** Serializes writes and restores: a chain's files are written in order, and restore sets where it goes on. */
    private final Object writeLock = new Object();
    private long chainBase = -1; // under writeLock: the sequence of the base the next delta follows; -1: a base next
    private long chainBaseBytes; // under writeLock: that base's file size
    private long chainDeltaBytes; // under writeLock: the sizes of its deltas written or restored since
    private boolean fullRewritesLogged; // under writeLock

    /**
     * A store in {@code dir}, created if missing, and locked by this store until {@link #close()}.
     *
     * @throws CheckpointDirectoryLockedException if another store (in this JVM or another process) holds the lock
     * @throws IOException naming the directory and the reason if it cannot be created, locked or written
     */
    public CheckpointStore(Path dir) throws IOException {
        this(dir, DEFAULT_BASE_ROLLOVER_FRACTION);
    }

    /**
     * A store in {@code dir}, as {@link #CheckpointStore(Path)}, writing a new base once the deltas since the last
     * one add up to more than {@code baseRolloverFraction} times its size.
     *
     * @throws IllegalArgumentException if {@code baseRolloverFraction} is not finite and > 0
     */
    public CheckpointStore(Path dir, double baseRolloverFraction) throws IOException {
        this.baseRolloverFraction = checkedFraction(baseRolloverFraction);
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

    /** Checks a base rollover fraction; returns it. */
    public static double checkedFraction(double fraction) {
        if (!(fraction > 0) || Double.isInfinite(fraction)) {
            throw new IllegalArgumentException("baseRolloverFraction: " + fraction + " (expected: finite and > 0)");
        }
        return fraction;
    }

    /** How far the current (or last) {@link #restore} has read; any thread. */
    public RestoreProgress restoreProgress() {
        return restoreProgress;
    }

    /** A new base is written once the deltas since the last one add up to more than this times its size. */
    public double baseRolloverFraction() {
        return baseRolloverFraction;
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
        private final List<Path> files;

        Restored(Path file, long sequence, Map<TopicPartition, Long> offsets, Map<String, Uuid> topicIds,
                long entries, List<Path> files) {
            this.files = List.copyOf(files);
            this.file = file;
            this.sequence = sequence;
            this.offsets = Collections.unmodifiableMap(offsets);
            this.topicIds = Collections.unmodifiableMap(topicIds);
            this.entries = entries;
        }

        /** The files read, in order: the base, then its deltas (the last is {@link #file()}). */
        public List<Path> files() {
            return files;
        }

        /** The last checkpoint file read (the chain's last good delta, or its base): its offsets position the replay. */
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

        /** Entries read into the state (base and deltas; a delta may repeat a code). */
        public long entries() {
            return entries;
        }
    }

    /**
     * Unions the newest checkpoint chain that passes every check into {@code state} and returns what it restored;
     * empty if there is none. The chain is the newest intact base (or version 1/2 checkpoint) and then, in order,
     * every delta written after it for it, up to the first damaged one: the offsets returned are those of the last
     * good file, so that the tail after it is replayed, and no delta after a damaged one is ever applied (they are
     * quarantined with it: they mean nothing without it). A damaged base is quarantined and the next older base is
     * tried ({@link #fellBack()} becomes true, as it does for a damaged delta). A damaged file is logged with the
     * reason and renamed to {@code .corrupt}, so it is neither retried nor counted among the kept ones. A failed read
     * may leave part of the damaged file in the state: only blocks whose checksum passed, that is genuine
     * observations, which a set union tolerates. Stray temporary files are deleted.
     *
     * @throws IncompatibleCheckpointException if a checkpoint is intact but does not fit {@code state}, or cannot be
     *     read at all; no file is renamed or deleted then
     */
    public Optional<Restored> restore(CouponState state) throws IOException {
        Objects.requireNonNull(state, "state");
        requireOpen();
        synchronized (writeLock) {
            fellBack = false;
            chainBase = -1; // until a chain is read completely, the next checkpoint is a base
            deleteTemporaryFiles();
            nextSequence.accumulateAndGet(highestSequence() + 1, Math::max);
            TreeMap<Long, Path> files = list();
            for (Map.Entry<Long, Path> e : files.descendingMap().entrySet()) {
                Path file = e.getValue();
                Header header;
                try {
                    header = header(file);
                    if (header.kind == KIND_DELTA) {
                        continue; // a delta is read after its base, never alone
                    }
                    Restored restored = restoreChain(header, list().tailMap(e.getKey(), false), state);
                    return Optional.of(restored);
                } catch (SnapshotFormatException ex) {
                    damaged(file, ex);
                } catch (IncompatibleCheckpointException ex) {
                    throw ex;
                } catch (IOException | RuntimeException ex) { // permissions, I/O errors, a state we cannot fill
                    throw new IncompatibleCheckpointException(file, "reading it failed: " + ex, ex);
                }
            }
            restoreProgress.finish(0, nanoTime.getAsLong());
            return Optional.empty();
        }
    }

    /** Reads {@code base} (already known intact in its header) and its deltas among {@code newer}. */
    private Restored restoreChain(Header base, SortedMap<Long, Path> newer, CouponState state) throws IOException {
        long start = nanoTime.getAsLong();
        long newerBytes = 0;
        for (Path p : newer.values()) {
            newerBytes += sizeOrZero(p); // known before reading: what a watcher's progress counts towards
        }
        restoreProgress.begin(base.size + newerBytes, start);
        if (base.version < 3) { // a version 1 or 2 checkpoint: a snapshot, no chain
            long entries = readLegacy(base, state, progressSink, nanoTime, restoreProgress);
            restoreProgress.finish(base.size, nanoTime.getAsLong());
            logRestored(base, List.of(), entries, start, state);
            return new Restored(base.file, base.sequence, base.offsets, base.topicIds, entries, List.of(base.file));
        }
        CouponSnapshots.ChainReader chain = CouponSnapshots.chainReader(state).reserve(reserve(base, newerBytes));
        long entries = readPart(base, chain, state);
        Header last = base;
        List<Path> read = new ArrayList<>();
        read.add(base.file);
        long deltaBytes = 0;
        boolean complete = true;
        List<Path> pending = new ArrayList<>(newer.values());
        for (int i = 0; i < pending.size(); i++) {
            Path file = pending.get(i);
            Header header;
            try {
                header = header(file);
                if (header.kind != KIND_DELTA || header.baseSequence != base.sequence) {
                    LOG.warn("ignoring checkpoint {}: not a delta of base {} (a leftover of a damaged chain)", file,
                            base.file.getFileName());
                    continue;
                }
                entries += readPart(header, chain, state);
            } catch (SnapshotFormatException ex) {
                damaged(file, ex);
                // the deltas after a damaged one follow it: applying them would skip its changes
                for (Path later : pending.subList(i + 1, pending.size())) {
                    Header h = headerOrNull(later);
                    if (h != null && h.kind == KIND_DELTA && h.baseSequence == base.sequence) {
                        LOG.warn("quarantining checkpoint {}: it follows the damaged delta {}", later,
                                file.getFileName());
                        quarantine(later);
                    }
                }
                complete = false;
                break;
            }
            last = header;
            read.add(file);
            deltaBytes += header.size;
        }
        if (complete) {
            chain.complete(); // the state continues the chain: the next checkpoint may be a delta of this base
            chainBase = base.sequence;
            chainBaseBytes = base.size;
            chainDeltaBytes = deltaBytes;
        }
        restoreProgress.finish(base.size + deltaBytes, nanoTime.getAsLong());
        logRestored(last, read, entries, start, state);
        return new Restored(last.file, last.sequence, last.offsets, last.topicIds, entries, read);
    }

    /**
     * Codes to make room for beyond the base, given the bytes of the files after it: an entry of a delta is at least
     * {@value #MIN_ENTRY_BYTES} bytes and may be a new code, and the records replayed after the restore bring new
     * codes too (1/64 of the base's entries as a guess). Without it a base read fills the table to its limit and the
     * first new code moves every entry.
     */
    private static long reserve(Header base, long deltaBytes) {
        long baseEntries = Math.max(0, base.size - base.length) / MIN_ENTRY_BYTES;
        return deltaBytes / MIN_ENTRY_BYTES + baseEntries / 64;
    }

    private static long sizeOrZero(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return 0; // only for progress; reading it will say what is wrong
        }
    }

    private void logRestored(Header last, List<Path> files, long entries, long start, CouponState state) {
        double seconds = (nanoTime.getAsLong() - start) / 1e9;
        long bytes = 0;
        for (Path p : files) {
            try {
                bytes += Files.size(p);
            } catch (IOException e) {
                // only for the log line
            }
        }
        progressSink.accept(String.format("restored checkpoint %s (%d file%s: a base and %d delta%s): %d entries, "
                + "%d codes, %.1f MB in %.3f s (%.1f MB/s), offsets %s", last.file, files.size(),
                files.size() == 1 ? "" : "s", Math.max(0, files.size() - 1), files.size() == 2 ? "" : "s", entries,
                state.size(), bytes / 1e6, seconds, seconds > 0 ? bytes / 1e6 / seconds : 0.0, last.offsets));
    }

    private void damaged(Path file, SnapshotFormatException ex) {
        if (ex.kind() != SnapshotFormatException.Kind.DAMAGED) {
            throw new IncompatibleCheckpointException(file, ex.getMessage(), ex);
        }
        LOG.warn("checkpoint {} is damaged ({}): quarantining it as {} and falling back", file, ex.getMessage(),
                file.getFileName() + CORRUPT);
        fellBack = true;
        quarantine(file);
    }

    private static Header headerOrNull(Path file) {
        try {
            return header(file);
        } catch (IOException e) {
            return null;
        }
    }

    /** Reads the base or delta after {@code header} through a progress-counting channel. */
    private long readPart(Header header, CouponSnapshots.ChainReader chain, CouponState state) throws IOException {
        try (FileChannel channel = FileChannel.open(header.file, StandardOpenOption.READ)) {
            channel.position(header.length);
            long bytes = header.size - header.length;
            restoreProgress.add(header.length);
            ProgressChannel in = new ProgressChannel(channel, new Progress(header.file, header.size, progressSink,
                    nanoTime, header.length, restoreProgress));
            return header.kind == KIND_BASE ? chain.base(in, bytes) : chain.delta(in, bytes);
        } catch (SnapshotFormatException e) {
            throw new SnapshotFormatException(header.file + ": " + e.getMessage(), e.kind());
        }
    }

    /** Whether the last {@link #restore} skipped at least one damaged checkpoint (so it restored an older one). */
    public boolean fellBack() {
        return fellBack;
    }

    /**
     * Reads one checkpoint file into {@code state} (a base, or a version 1/2 checkpoint); throws saying which check
     * failed. A delta cannot be read alone: it throws a {@link SnapshotFormatException} (use {@link #restore}), but
     * {@link #readHeader} reads its offsets.
     */
    public static Restored read(Path file, CouponState state) throws IOException {
        Header header = header(file);
        long entries;
        if (header.version < 3) {
            entries = readLegacy(header, state, LOG::info, System::nanoTime, null);
        } else if (header.kind == KIND_BASE) {
            CouponSnapshots.ChainReader chain = CouponSnapshots.chainReader(state);
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                channel.position(header.length);
                entries = chain.base(channel, header.size - header.length);
            }
        } else {
            throw new SnapshotFormatException(file + ": a delta (of base " + header.baseSequence + ") cannot be "
                    + "read without its base", SnapshotFormatException.Kind.INCOMPATIBLE);
        }
        return new Restored(file, header.sequence, header.offsets, header.topicIds, entries, List.of(file));
    }

    /** Reads the header of one checkpoint file (offsets, topic ids), checksum-checked, without its state. */
    public static Restored readHeader(Path file) throws IOException {
        Header header = header(file);
        return new Restored(file, header.sequence, header.offsets, header.topicIds, 0, List.of(file));
    }

    /** Whether {@code file} (a complete checkpoint) holds a delta; its header is checked. */
    public static boolean isDelta(Path file) throws IOException {
        return header(file).kind == KIND_DELTA;
    }

    /** A checkpoint file's header. */
    private static final class Header {
        Path file;
        int version;
        long sequence;
        int kind; // KIND_BASE for version 1 and 2 (a snapshot)
        long baseSequence;
        Map<TopicPartition, Long> offsets = new LinkedHashMap<>();
        Map<String, Uuid> topicIds = new LinkedHashMap<>();
        long length; // header bytes, the CRC included
        long size; // file bytes
    }

    private static Header header(Path file) throws IOException {
        Header h = new Header();
        h.file = file;
        h.size = Files.size(file);
        try (InputStream raw = Files.newInputStream(file);
                CountingInputStream counted = new CountingInputStream(new BufferedInputStream(raw, 1 << 16))) {
            CRC32C crc = new CRC32C();
            DataInputStream data = new DataInputStream(new CheckedInputStream(counted, crc));
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
                h.version = version;
                h.sequence = data.readLong();
                data.readLong(); // written at: for people reading the file
                h.kind = KIND_BASE;
                h.baseSequence = h.sequence;
                if (version >= 3) {
                    h.kind = data.readUnsignedByte();
                    h.baseSequence = data.readLong();
                }
                int count = count(data.readInt(), "partition count");
                for (int i = 0; i < count; i++) {
                    String topic = topic(data);
                    int partition = data.readInt();
                    long offset = data.readLong();
                    if (partition < 0 || offset < 0) {
                        throw new SnapshotFormatException("partition " + partition + " offset " + offset
                                + " (expected: >= 0)");
                    }
                    h.offsets.put(new TopicPartition(topic, partition), offset);
                }
                if (version >= 2) {
                    int ids = count(data.readInt(), "topic id count");
                    for (int i = 0; i < ids; i++) {
                        String topic = topic(data);
                        h.topicIds.put(topic, new Uuid(data.readLong(), data.readLong()));
                    }
                }
                int computed = (int) crc.getValue(); // before the stored value passes through the checked stream
                int stored = data.readInt();
                if (stored != computed) {
                    throw new SnapshotFormatException(String.format("checkpoint header CRC32C mismatch (stored "
                            + "0x%08x, computed 0x%08x)", stored, computed));
                }
                // checked after the checksum vouched for the bytes: a kind we do not know is from a newer writer
                if (h.kind != KIND_BASE && h.kind != KIND_DELTA
                        || h.kind == KIND_BASE && h.baseSequence != h.sequence
                        || h.kind == KIND_DELTA && h.baseSequence >= h.sequence) {
                    throw new SnapshotFormatException("checkpoint kind " + h.kind + " with base sequence "
                            + h.baseSequence + " at sequence " + h.sequence + " (expected: 1 base with its own "
                            + "sequence or 2 delta with an earlier one)", SnapshotFormatException.Kind.INCOMPATIBLE);
                }
            } catch (EOFException e) {
                throw new SnapshotFormatException("checkpoint header truncated");
            }
            h.length = counted.count();
        }
        return h;
    }

    /** Reads the snapshot of a version 1 or 2 checkpoint. */
    private static long readLegacy(Header header, CouponState state, Consumer<String> sink, LongSupplier nanoTime,
            RestoreProgress shared) throws IOException {
        try (ProgressInputStream counting = new ProgressInputStream(Files.newInputStream(header.file), header.file,
                header.size, sink, nanoTime, shared); BufferedInputStream in = new BufferedInputStream(counting, 1 << 16)) {
            in.skipNBytes(header.length);
            return CouponSnapshots.read(in, state); // the buffered stream: no checksum over the snapshot
        } catch (SnapshotFormatException e) {
            throw new SnapshotFormatException(header.file + ": " + e.getMessage(), e.kind());
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
     * Writes a checkpoint of {@code offsets}, {@code topicIds} and {@code state} durably: a delta (the changes since
     * the previous checkpoint, from the state's change journal) when the state keeps a journal, a base of this
     * chain is on disk, and the deltas since it stay within {@link #baseRolloverFraction()} of its size; else a base
     * (a full snapshot), also when core says a base is needed (the journal overflowed, no base yet, a failed
     * write). Then deletes what no restore needs any more. Thread-safe: writes are serialized (a chain's files must
     * be written in order).
     *
     * @param offsets per partition, the next offset to apply
     * @param topicIds the id of each topic (any subset of the offsets' topics; may be empty)
     * @param state the state to checkpoint; always the same one for one store
     * @param nowMillis the time to record in the file
     * @return the new checkpoint's file
     */
    public Path write(Map<TopicPartition, Long> offsets, Map<String, Uuid> topicIds, CouponState state,
            long nowMillis) throws IOException {
        Objects.requireNonNull(offsets, "offsets");
        Objects.requireNonNull(topicIds, "topicIds");
        Objects.requireNonNull(state, "state");
        synchronized (writeLock) {
            requireOpen();
            boolean journaled = CouponSnapshots.keepsJournal(state);
            if (!journaled && !fullRewritesLogged) {
                fullRewritesLogged = true;
                LOG.info("checkpoints to {} are full rewrites of the state: it keeps no change journal "
                        + "(CouponStateConfig changeJournalCapacity is 0; give it one for incremental checkpoints)",
                        dir);
            }
            long sequence = nextSequence.getAndIncrement();
            long base = chainBase;
            boolean delta = journaled && base > 0
                    && chainDeltaBytes <= baseRolloverFraction * chainBaseBytes && !CouponSnapshots.baseNeeded(state);
            // refuses bad input before any file exists
            byte[] header = header(sequence, nowMillis, delta ? KIND_DELTA : KIND_BASE,
                    delta ? base : sequence, offsets, topicIds);
            Path target = dir.resolve(String.format("%s%020d%s", PREFIX, sequence, SUFFIX));
            Path tmp = null;
            chainBase = -1; // until this write is durable: if it fails, the next one is a base
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
                    writeFully(c, header);
                    if (delta) {
                        try {
                            CouponSnapshots.writeDelta(state, c);
                        } catch (BaseNeededException e) { // raced an overflow: this checkpoint becomes a base
                            LOG.info("checkpoint {}: writing a base instead of a delta ({})", target.getFileName(),
                                    e.getMessage());
                            delta = false;
                            c.truncate(0);
                            c.position(0);
                            header = header(sequence, nowMillis, KIND_BASE, sequence, offsets, topicIds);
                            writeFully(c, header);
                        }
                    }
                    if (!delta) {
                        CouponSnapshots.writeBase(state, c);
                    }
                    c.force(true);
                }
                Hook h = hook;
                if (h != null) {
                    h.fsyncedBeforeRename(tmp, target);
                }
                DurableFiles.atomicMove(tmp, target);
                DurableFiles.fsyncDirectory(dir);
            } finally {
                if (tmp != null) {
                    Files.deleteIfExists(tmp);
                }
            }
            long size = Files.size(target);
            if (delta) {
                chainBase = base;
                chainDeltaBytes += size;
            } else {
                chainBase = journaled ? sequence : -1;
                chainBaseBytes = size;
                chainDeltaBytes = 0;
            }
            retain(journaled, sequence, delta);
            return target;
        }
    }

    /**
     * Deletes the files no restore needs: after a base is durable, every older file when the state keeps a journal
     * (the new base and its deltas are the whole chain), or all but the newest {@link #KEPT} when it keeps none (each
     * checkpoint is then a full base, and the previous one stays as a fallback, as before chains).
     */
    private void retain(boolean journaled, long sequence, boolean delta) throws IOException {
        if (delta) {
            return; // the chain only grew: its base and every delta are still needed
        }
        TreeMap<Long, Path> files = list();
        List<Path> old = new ArrayList<>();
        if (journaled) {
            old.addAll(files.headMap(sequence, false).values());
        } else {
            while (files.size() > KEPT) {
                old.add(files.pollFirstEntry().getValue());
            }
        }
        for (Path file : old) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                LOG.warn("could not delete old checkpoint {}: {}", file, e.toString());
            }
        }
    }

    private static void writeFully(FileChannel channel, byte[] bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
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

    private static byte[] header(long sequence, long nowMillis, int kind, long baseSequence,
            Map<TopicPartition, Long> offsets, Map<String, Uuid> topicIds) throws IOException {
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
        out.writeByte(kind);
        out.writeLong(baseSequence);
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

    /** A channel that reports restore progress through a {@link Progress}. Not thread-safe. */
    private static final class ProgressChannel implements ReadableByteChannel {
        private final FileChannel channel;
        private final Progress progress;

        ProgressChannel(FileChannel channel, Progress progress) {
            this.channel = channel;
            this.progress = progress;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            int n = channel.read(dst);
            if (n > 0) {
                progress.advance(n);
            }
            return n;
        }

        @Override
        public boolean isOpen() {
            return channel.isOpen();
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    /**
     * Counts the bytes read from a checkpoint file and reports progress at most every {@link
     * #PROGRESS_INTERVAL_NANOS}, looking at the clock only once per {@link #PROGRESS_CHECK_BYTES}. Not thread-safe:
     * one restore reads it.
     */
    static final class Progress {
        private final Path file;
        private final long size;
        private final Consumer<String> sink;
        private final LongSupplier nanoTime;
        private final RestoreProgress shared; // null: nobody watches
        private final long start;
        private long lastReport;
        private long count;
        private long nextCheck = PROGRESS_CHECK_BYTES;

        Progress(Path file, long size, Consumer<String> sink, LongSupplier nanoTime, long already,
                RestoreProgress shared) {
            this.shared = shared;
            this.file = file;
            this.size = size;
            this.sink = sink;
            this.nanoTime = nanoTime;
            this.start = nanoTime.getAsLong();
            this.lastReport = start;
            this.count = already;
        }

        void advance(long n) {
            count += n;
            if (shared != null) {
                shared.add(n); // one volatile store per channel read (64 KiB or more), not per entry
            }
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

    /** A stream that reports restore progress through a {@link Progress}. Not thread-safe. */
    static final class ProgressInputStream extends FilterInputStream {
        private final Progress progress;

        ProgressInputStream(InputStream in, Path file, long size, Consumer<String> sink, LongSupplier nanoTime,
                RestoreProgress shared) {
            super(in);
            this.progress = new Progress(file, size, sink, nanoTime, 0, shared);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                progress.advance(1);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) {
                progress.advance(n);
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = in.skip(n);
            if (skipped > 0) {
                progress.advance(skipped);
            }
            return skipped;
        }
    }
}
