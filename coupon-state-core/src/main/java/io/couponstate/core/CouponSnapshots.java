package io.couponstate.core;

import io.couponstate.core.internal.Codes;
import io.couponstate.core.internal.DurableFiles;
import io.couponstate.core.internal.SourceRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.zip.CRC32C;

/**
 * Writes a state to a stream or file and reads one back as a <b>union</b> into any state of either implementation,
 * with source ids remapped by name; and writes and reads <b>checkpoint chains</b>: a base (a full snapshot) and the
 * deltas after it (the changes since the previous mark, from the state's change journal).
 *
 * <p>Format, version 2 (all integers big-endian):
 * <pre>
 * header  magic "CPST" (4) | version u16 = 2 | kind u8 (0 snapshot, 1 base, 2 delta)
 *         | min length u8 | max length u8 | case-insensitive u8 | threshold u16
 *         | chain id u64 (0 for a snapshot) | sequence u32 (0 for a snapshot or a base, 1.. for deltas)
 *         | base header CRC32C u32 (a delta: its base's header checksum; else 0) | entry count hint u64
 *         | source count u16, then per source: name length u16 + UTF-8 name
 *         | key bytes u8 (7 or 8) | mask bytes u8 (1..8) | CRC32C u32 of the header
 * blocks  entry count u64 (1..65536) | entries: key, mask | CRC32C u32 of the block (count and entries)
 * end     entry count u64 = 0 | total entries u64 | CRC32C u32 of every byte before it
 * </pre>
 * Version 1 is the same without the kind, chain id, sequence, base checksum and hint fields; it is still read.
 *
 * <p><b>Restore at disk speed.</b> Entries are written in the order of the state's table walk. For a
 * {@link LockFreeCouponState} that is slot order, and slot order is hash order for any capacity (the slot index is a
 * multiply-shift reduction of the hash, monotone in it), so a restore into a table that holds every entry writes its
 * slots front to back. The hint (the state's size when the write started; the exact count is in the trailer) lets a
 * reader grow the target once, before loading, to the snapshot's size, bounded by the bytes the input still holds:
 * hash-ordered entries poured into a table smaller than their number would pile up in one probe run.
 *
 * <p><b>Strict reading.</b> A reader refuses, with a {@link SnapshotFormatException} saying what failed: a wrong
 * magic, version or kind, a code format different from the target's, a truncated stream, a bad checksum, a block
 * count above 65536 (so a count the stream cannot hold fails at once, whatever the heap), an entry outside the
 * format, a wrong total; for chains also a delta of another chain, a delta out of order, and a delta read without
 * its base. Memory used by a read is bounded by the input: fixed buffers, and a target grown at most to the entries
 * the input can still hold.
 *
 * <p><b>Threads.</b> A read of an input known to hold 1M entries or more, on a machine with more than one processor,
 * unions half of each checked block on a helper thread (three 0.5 MB batches in flight at most) and half on the
 * calling thread; the read returns, or throws, only after the helper has applied what it was given and ended. The
 * system property {@code couponstate.snapshot.unionHelper=false} keeps a read on the calling thread.
 *
 * <p><b>Chains.</b> {@link #writeBase} marks the state's change journal (a new epoch starts) and then writes a full
 * snapshot; {@link #writeDelta} marks it again and writes what the closed epoch holds. A delta is guaranteed to
 * contain every change (a source added to a code) whose {@code addObservation} returned before the delta's mark
 * and after the previous mark; it may also contain some made while it was being written (harmless: a union is
 * idempotent). So base + deltas in order, read back with {@link #readChain}, hold every change made before the
 * last delta's mark. When the journal overflowed, after a union of data from outside the chain ({@link #read} into
 * the state), or after a checkpoint write failed, {@link #writeDelta} throws {@link BaseNeededException}: the next
 * checkpoint must be a base. Reading a chain into an empty state continues the chain: the next delta written from
 * that state follows the last one read, and the restored entries are not journaled again.
 *
 * <p><b>Concurrency.</b> Writing reads the state while writers run: the snapshot holds every observation recorded
 * before the write started and may hold some recorded during it (weakly consistent). Checkpoint writes of one state
 * are serialized (a lock held by the checkpointing thread only; writers never wait for it). Reading applies each
 * block after its checksum passes; a read that fails part-way leaves the target holding the union of the blocks
 * before the failure: genuine observations, never corrupt ones. Restore into a fresh state to get all or nothing.
 *
 * <p><b>Durability.</b> Every write to a {@link Path} goes to a temporary file beside it, is fsynced, renamed over
 * the target, and the directory fsynced: a base or delta exists under its name only when it is complete and durable.
 */
public final class CouponSnapshots {

    /** "CPST". */
    public static final int MAGIC = 0x43505354;
    /** The format version this class writes. */
    public static final int VERSION = 2;
    /** The most entries one block may claim. */
    public static final int MAX_BLOCK_ENTRIES = 65_536;
    /** The longest source name a snapshot holds, in UTF-8 bytes; {@code sourceId} refuses longer names. */
    public static final int MAX_NAME_BYTES = SourceRegistry.MAX_NAME_BYTES;

    private static final int KIND_SNAPSHOT = 0;
    private static final int KIND_BASE = 1;
    private static final int KIND_DELTA = 2;
    private static final String[] KINDS = {"snapshot", "base", "delta"};
    /** File I/O in buffers this big: a few large sequential transfers instead of many small ones. */
    private static final int FILE_BUFFER = 4 << 20;
    /** A stream's read buffer: enough for the largest block. */
    private static final int STREAM_BUFFER = 1 << 20;
    /**
     * Entries a stream of unknown length may pre-size for on its header's word alone: a sixty-fourth of the heap
     * in entries (about 15 % of it in packed slots), so a forged hint cannot exhaust the heap, while a genuine one
     * avoids growing under hash-ordered entries, which is quadratic.
     */
    private static long unprovenEntries() {
        return Runtime.getRuntime().maxMemory() / 64;
    }

    private CouponSnapshots() {
    }

    /** Writes {@code state} as a snapshot; returns the number of entries written. Does not close {@code out}. */
    public static long write(CouponState state, OutputStream out) throws IOException {
        AbstractCouponState source = ours(state, "state");
        Objects.requireNonNull(out, "out");
        Sink sink = new Sink(out);
        return new Writer(sink, source, KIND_SNAPSHOT, 0, 0, 0, source.size(), source.sourceNames()).writeTable();
    }

    /**
     * Writes {@code state} to {@code file} atomically: to a temporary file beside it, fsynced, renamed over
     * {@code file}, then the directory fsynced. Returns the number of entries written.
     */
    public static long write(CouponState state, Path file) throws IOException {
        AbstractCouponState source = ours(state, "state");
        return durably(file, sink -> new Writer(sink, source, KIND_SNAPSHOT, 0, 0, 0, source.size(),
                source.sourceNames()).writeTable());
    }

    /**
     * Reads a snapshot (or a chain's base: it is a full snapshot) and unions it into {@code target}; returns the
     * number of entries read. A delta is refused: it means nothing without its base ({@link #readChain}). If the
     * target keeps a change journal, its next checkpoint must be a base: this data did not come through it.
     */
    public static long read(InputStream in, CouponState target) throws IOException {
        AbstractCouponState state = ours(target, "target");
        Objects.requireNonNull(in, "in");
        foreignMerge(state);
        return new Reader(Source.of(in), state).read(KIND_SNAPSHOT, null);
    }

    /** Reads a snapshot file and unions it into {@code target}; returns the number of entries read. */
    public static long read(Path file, CouponState target) throws IOException {
        AbstractCouponState state = ours(target, "target");
        Objects.requireNonNull(file, "file");
        foreignMerge(state);
        try (Source source = Source.of(file)) {
            return new Reader(source, state).read(KIND_SNAPSHOT, null);
        } catch (SnapshotFormatException e) {
            throw new SnapshotFormatException(file + ": " + e.getMessage(), e.kind());
        }
    }

    /**
     * Writes a base of {@code state} to {@code file} durably and starts a new chain: marks the change journal (so
     * the next delta holds what changes from now on), then writes every entry. Returns the number of entries
     * written. Without a change journal ({@code changeJournalCapacity} 0) this is a full snapshot that no delta can
     * follow.
     */
    public static long writeBase(CouponState state, Path file) throws IOException {
        AbstractCouponState source = ours(state, "state");
        Objects.requireNonNull(file, "file");
        return writeBase(source, body -> durably(file, body));
    }

    /**
     * Writes a base of {@code state} into {@code out} from its current position and starts a new chain, like
     * {@link #writeBase(CouponState, Path)}, but leaves durability to the caller (for a file that holds more than the
     * base, such as a checkpoint with its offsets). A caller that fails to make the bytes durable must write a base
     * next: a delta written after this call follows this base. Does not close or force {@code out}.
     */
    public static long writeBase(CouponState state, FileChannel out) throws IOException {
        AbstractCouponState source = ours(state, "state");
        Objects.requireNonNull(out, "out");
        return writeBase(source, body -> body.apply(new Sink(out)));
    }

    /**
     * Writes a delta of {@code state} into {@code out} from its current position, like
     * {@link #writeDelta(CouponState, Path)}, but leaves durability to the caller. A caller that fails to make the
     * bytes durable must write a base next: the following delta would follow this one. Does not close or force
     * {@code out}.
     *
     * @throws BaseNeededException as {@link #writeDelta(CouponState, Path)}
     */
    public static long writeDelta(CouponState state, FileChannel out) throws IOException {
        AbstractCouponState source = ours(state, "state");
        Objects.requireNonNull(out, "out");
        return writeDelta(source, body -> body.apply(new Sink(out)));
    }

    /**
     * A reader of one chain, file by file, from file channels positioned at each base or delta (for files that hold
     * more than the chain file, such as checkpoints). Where {@link #readChain} fails as a whole, this tells its
     * caller which file failed, so a caller can stop at the last good delta. Not thread-safe; must not run
     * concurrently with a checkpoint write of the same state.
     */
    public static ChainReader chainReader(CouponState target) {
        return new ChainReader(ours(target, "target"));
    }

    /**
     * Reads a base, then its deltas in order, into one target; see {@link #chainReader}. Only after
     * {@link #complete()} does the target continue the chain (its next delta follows the last one read, if it was
     * empty when the reader was made); until then, and after any failure, its next checkpoint must be a base.
     */
    public static final class ChainReader {
        private final AbstractCouponState state;
        private final boolean continues;
        private final Chain chain = new Chain();
        private boolean baseRead;
        private boolean failed;
        private long reserve;

        private ChainReader(AbstractCouponState state) {
            this.state = state;
            synchronized (state.checkpointLock) {
                this.continues = state.size() == 0 && state.chainId == 0;
                state.baseNeeded = "a chain read into it did not complete";
            }
        }

        /**
         * Room for {@code codes} codes beyond the base's: the base read grows the target once to hold the base's
         * entries plus these, so that the new codes of the deltas, and of records applied right after the restore,
         * do not make a table that the base filled to its limit grow at once (a grow moves every entry). A hint,
         * each code costing the state's bytes per code (about 9.4) whether it comes or not; codes past it grow the
         * table as usual. Call before {@link #base}; 0 (the default) adds none.
         *
         * @throws IllegalArgumentException if {@code codes} is negative
         * @throws IllegalStateException if the base was read already
         */
        public ChainReader reserve(long codes) {
            if (codes < 0) {
                throw new IllegalArgumentException("reserve: " + codes + " (expected: >= 0)");
            }
            if (baseRead || failed) {
                throw new IllegalStateException("reserve: the base was read already (expected: before base())");
            }
            reserve = codes;
            return this;
        }

        /**
         * Reads the chain's base from {@code in}, which holds {@code bytes} more bytes at most (bounding how far the
         * target is grown before loading, beyond the {@link #reserve}); returns the entries read. Does not close it.
         */
        public long base(ReadableByteChannel in, long bytes) throws IOException {
            if (baseRead || failed) {
                throw new IllegalStateException(failed ? "a read of this chain failed" : "the base was read already");
            }
            baseRead = true;
            return read(in, bytes, KIND_BASE, reserve);
        }

        /** Reads the chain's next delta from {@code in}, as {@link #base}; returns the entries read. */
        public long delta(ReadableByteChannel in, long bytes) throws IOException {
            if (!baseRead || failed) {
                throw new IllegalStateException(failed ? "a read of this chain failed" : "no base read yet");
            }
            return read(in, bytes, KIND_DELTA, 0);
        }

        private long read(ReadableByteChannel in, long bytes, int kind, long extra) throws IOException {
            Objects.requireNonNull(in, "in");
            synchronized (state.checkpointLock) {
                failed = true;
                long entries;
                try (Source source = Source.of(in, bytes)) {
                    entries = new Reader(source, state, extra).read(kind, chain);
                }
                failed = false;
                return entries;
            }
        }

        /** The chain read completely: the target continues it (if it was empty when this reader was made). */
        public void complete() {
            if (!baseRead || failed) {
                throw new IllegalStateException(failed ? "a read of this chain failed" : "no base read yet");
            }
            synchronized (state.checkpointLock) {
                if (continues) {
                    state.chainId = chain.id;
                    state.chainBaseCrc = chain.baseCrc;
                    state.chainSequence = chain.sequence;
                    state.baseNeeded = state.journal == null
                            ? "the state keeps no change journal (changeJournalCapacity is 0)" : null;
                } else {
                    state.baseNeeded = "a chain was read into a state that was not empty";
                }
            }
        }
    }

    /** The body of a base write: marks, writes through {@code output}, then records the new chain. */
    private static long writeBase(AbstractCouponState source, Output output) throws IOException {
        synchronized (source.checkpointLock) {
            if (source.journal != null) {
                source.journal.recycle(source.journal.swap()); // the mark: the base holds everything recorded before
            }
            source.baseNeeded = "the last base write failed";
            long chainId = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
            Writer[] writer = new Writer[1];
            long entries = output.write(sink -> {
                writer[0] = new Writer(sink, source, KIND_BASE, chainId, 0, 0, source.size(), source.sourceNames());
                return writer[0].writeTable();
            });
            source.chainId = chainId;
            source.chainBaseCrc = writer[0].headerCrc;
            source.chainSequence = 0;
            source.baseNeeded = source.journal == null
                    ? "the state keeps no change journal (changeJournalCapacity is 0)" : null;
            return entries;
        }
    }

    /**
     * Writes a delta of {@code state} to {@code file} durably: marks the change journal and writes the changes
     * recorded since the previous mark (of the last base or delta). Returns the number of entries written (one per
     * change, so a code may appear more than once).
     *
     * @throws BaseNeededException when the next checkpoint must be a base: no base written or read yet, the
     *         journal overflowed, data from outside the chain was merged in, or an earlier checkpoint failed
     */
    public static long writeDelta(CouponState state, Path file) throws IOException {
        AbstractCouponState source = ours(state, "state");
        Objects.requireNonNull(file, "file");
        return writeDelta(source, body -> durably(file, body));
    }

    /** The body of a delta write: checks, marks, writes through {@code output}, then advances the chain. */
    private static long writeDelta(AbstractCouponState source, Output output) throws IOException {
        synchronized (source.checkpointLock) {
            if (source.journal == null) {
                throw new BaseNeededException("no delta without a change journal: the state's changeJournalCapacity "
                        + "is 0 (expected: > 0, see CouponStateConfig.Builder.changeJournalCapacity)");
            }
            if (source.baseNeeded != null) {
                throw new BaseNeededException("base needed: " + source.baseNeeded);
            }
            ChangeJournal.Epoch epoch = source.journal.swap(); // the mark
            if (epoch.overflowed) {
                source.journal.recycle(epoch);
                source.baseNeeded = "the change journal overflowed (more than " + source.journal.capacity()
                        + " changes since the last checkpoint)";
                throw new BaseNeededException("base needed: " + source.baseNeeded);
            }
            int sequence = source.chainSequence + 1;
            source.baseNeeded = "the delta write with sequence " + sequence + " failed";
            long entries;
            try {
                entries = output.write(sink -> new Writer(sink, source, KIND_DELTA, source.chainId, sequence,
                        source.chainBaseCrc, epoch.entries, source.sourceNames()).writeJournal(epoch));
            } finally {
                source.journal.recycle(epoch);
            }
            source.chainSequence = sequence;
            source.baseNeeded = null;
            return entries;
        }
    }

    /**
     * Whether {@code state} keeps a change journal ({@code changeJournalCapacity} > 0), that is whether deltas can
     * be written of it at all.
     */
    public static boolean keepsJournal(CouponState state) {
        return ours(state, "state").journal != null;
    }

    /**
     * Whether the next checkpoint of {@code state} must be a base (the reason is in the {@link BaseNeededException}
     * {@link #writeDelta} would throw). Weakly consistent: the journal may overflow right after this answers.
     */
    public static boolean baseNeeded(CouponState state) {
        AbstractCouponState source = ours(state, "state");
        synchronized (source.checkpointLock) {
            return source.journal == null || source.baseNeeded != null || source.journal.overflowing();
        }
    }

    /**
     * Reads a base and its deltas, in order, into {@code target}; returns the number of entries read. Refuses a
     * delta of another chain, a delta out of order or with one missing before it, and a delta whose base is not
     * {@code base}. If {@code target} was empty, it continues the chain: its next delta follows the last one read.
     */
    public static long readChain(Path base, List<Path> deltas, CouponState target) throws IOException {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(deltas, "deltas");
        AbstractCouponState state = ours(target, "target");
        synchronized (state.checkpointLock) {
            boolean continues = state.size() == 0 && state.chainId == 0;
            state.baseNeeded = "a chain read into it did not complete";
            Chain chain = new Chain();
            long total;
            try (Source source = Source.of(base)) {
                total = new Reader(source, state).read(KIND_BASE, chain);
            } catch (SnapshotFormatException e) {
                throw new SnapshotFormatException(base + ": " + e.getMessage(), e.kind());
            }
            for (Path delta : deltas) {
                try (Source source = Source.of(delta)) {
                    total += new Reader(source, state).read(KIND_DELTA, chain);
                } catch (SnapshotFormatException e) {
                    throw new SnapshotFormatException(delta + ": " + e.getMessage(), e.kind());
                }
            }
            if (continues) {
                state.chainId = chain.id;
                state.chainBaseCrc = chain.baseCrc;
                state.chainSequence = chain.sequence;
                state.baseNeeded = state.journal == null
                        ? "the state keeps no change journal (changeJournalCapacity is 0)" : null;
            } else {
                state.baseNeeded = "a chain was read into a state that was not empty";
            }
            return total;
        }
    }

    private static void foreignMerge(AbstractCouponState state) {
        synchronized (state.checkpointLock) {
            state.baseNeeded = "a snapshot from outside the chain was merged in";
        }
    }

    /** What a chain read has checked so far. */
    private static final class Chain {
        long id;
        int baseCrc;
        int sequence;
    }

    /** Writes {@code file} durably through {@code body} ({@link DurableFiles#write}). */
    private static long durably(Path file, IoFunction body) throws IOException {
        Objects.requireNonNull(file, "file");
        return DurableFiles.write(file, channel -> body.apply(new Sink(channel)));
    }

    /** Where a chain write goes: a file made durable, or a caller's channel. */
    @FunctionalInterface
    private interface Output {
        long write(IoFunction body) throws IOException;
    }

    @FunctionalInterface
    private interface IoFunction {
        long apply(Sink sink) throws IOException;
    }

    private static AbstractCouponState ours(CouponState state, String name) {
        Objects.requireNonNull(state, name);
        if (!(state instanceof AbstractCouponState)) {
            throw new IllegalArgumentException(name + ": " + state.getClass().getName()
                    + " (expected: a LockFreeCouponState or StripedLockCouponState)");
        }
        return (AbstractCouponState) state;
    }

    /**
     * A big-endian output buffer with the stream checksum: a direct buffer of 4 MB written to a file channel in
     * large transfers, or a heap buffer of 1 MB written to a stream. Not thread-safe.
     */
    private static final class Sink {
        final ByteBuffer buffer;
        private final FileChannel channel;
        private final OutputStream out;
        private final CRC32C whole = new CRC32C();
        private int summed; // bytes of the buffer already in the stream checksum

        Sink(FileChannel channel) {
            this.buffer = ByteBuffer.allocateDirect(FILE_BUFFER);
            this.channel = channel;
            this.out = null;
        }

        Sink(OutputStream out) {
            this.buffer = ByteBuffer.allocate(STREAM_BUFFER + (16 << 10));
            this.channel = null;
            this.out = out;
        }

        /** Makes room for {@code bytes} more bytes. */
        void room(int bytes) throws IOException {
            if (buffer.remaining() < bytes) {
                drain();
            }
        }

        /** The stream checksum of every byte put so far. */
        long wholeCrc() {
            sum();
            return whole.getValue();
        }

        private void sum() {
            int end = buffer.position();
            if (end > summed) {
                crc(whole, buffer, summed, end);
                summed = end;
            }
        }

        void drain() throws IOException {
            sum();
            buffer.flip();
            if (channel != null) {
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            } else {
                out.write(buffer.array(), buffer.arrayOffset(), buffer.limit());
            }
            buffer.clear();
            summed = 0;
        }

        void finish() throws IOException {
            drain();
            if (out != null) {
                out.flush();
            }
        }
    }

    /** Updates {@code crc} with bytes {@code from..to} of {@code buffer}, leaving its position and limit alone. */
    static void crc(CRC32C crc, ByteBuffer buffer, int from, int to) {
        ByteBuffer view = buffer.duplicate();
        view.limit(to).position(from);
        crc.update(view);
    }

    /** Puts a state's entries (or a journal's) into blocks; one per write, not thread-safe. */
    private static final class Writer {
        private final Sink sink;
        private final ByteBuffer buffer;
        private final AbstractCouponState state;
        private final int kind;
        private final long chainId;
        private final int sequence;
        private final int baseCrc;
        private final long hint;
        private final List<String> sources;
        private final int keyBytes;
        private final int maskBytes;
        private final int entryBytes;
        private final long maskLimit;
        private final CRC32C block = new CRC32C();
        private int blockStart = -1;
        private int inBlock;
        int headerCrc;
        long total;

        Writer(Sink sink, AbstractCouponState state, int kind, long chainId, int sequence, int baseCrc, long hint,
                List<String> sources) {
            this.sink = sink;
            this.buffer = sink.buffer;
            this.state = state;
            this.kind = kind;
            this.chainId = chainId;
            this.sequence = sequence;
            this.baseCrc = baseCrc;
            this.hint = hint;
            this.sources = sources; // fixed now: bits of sources registered later are newer than this write
            this.keyBytes = state.format.maxLength() <= Codes.PACKED_MAX_LENGTH ? 7 : 8;
            this.maskBytes = Math.max(1, (sources.size() + 7) / 8);
            this.entryBytes = keyBytes + maskBytes;
            this.maskLimit = sources.size() == 64 ? -1L : (1L << sources.size()) - 1;
        }

        long writeTable() throws IOException {
            header();
            try {
                state.forEachEntry(this::entry);
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            return finish();
        }

        long writeJournal(ChangeJournal.Epoch epoch) throws IOException {
            header();
            try {
                state.journal.forEach(epoch, this::entry);
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            return finish();
        }

        private void header() throws IOException {
            CodeFormat format = state.format;
            sink.room(64 + sources.size() * (2 + MAX_NAME_BYTES));
            int start = buffer.position();
            buffer.putInt(MAGIC);
            buffer.putShort((short) VERSION);
            buffer.put((byte) kind);
            buffer.put((byte) format.minLength());
            buffer.put((byte) format.maxLength());
            buffer.put((byte) (format.caseInsensitive() ? 1 : 0));
            buffer.putShort((short) state.threshold);
            buffer.putLong(chainId);
            buffer.putInt(sequence);
            buffer.putInt(baseCrc);
            buffer.putLong(hint);
            buffer.putShort((short) sources.size());
            for (String name : sources) {
                byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
                if (utf8.length > MAX_NAME_BYTES) { // sourceId refuses these; a guard for the format's sake
                    throw new IOException("source name longer than " + MAX_NAME_BYTES + " UTF-8 bytes: "
                            + name.substring(0, 40) + "...");
                }
                buffer.putShort((short) utf8.length);
                buffer.put(utf8);
            }
            buffer.put((byte) keyBytes);
            buffer.put((byte) maskBytes);
            CRC32C crc = new CRC32C();
            crc(crc, buffer, start, buffer.position());
            headerCrc = (int) crc.getValue();
            buffer.putInt(headerCrc);
        }

        void entry(long key, long mask) {
            long m = mask & maskLimit;
            if (m == 0) {
                return; // only sources registered after we started: newer than this snapshot
            }
            if (blockStart < 0) {
                try {
                    sink.room(8 + MAX_BLOCK_ENTRIES * entryBytes + 4);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                blockStart = buffer.position();
                buffer.position(blockStart + 8); // the count goes here when the block is done
            }
            if (keyBytes == 7 && maskBytes == 1) {
                buffer.putLong((key << 8) | m); // the common case: one word per entry
            } else {
                putBytes(key, keyBytes);
                putBytes(m, maskBytes);
            }
            if (++inBlock == MAX_BLOCK_ENTRIES) {
                endBlock();
            }
        }

        private void putBytes(long value, int bytes) {
            for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
                buffer.put((byte) (value >>> shift));
            }
        }

        private void endBlock() {
            if (inBlock == 0) {
                return;
            }
            buffer.putLong(blockStart, inBlock);
            block.reset();
            crc(block, buffer, blockStart, buffer.position());
            buffer.putInt((int) block.getValue());
            total += inBlock;
            inBlock = 0;
            blockStart = -1;
        }

        private long finish() throws IOException {
            endBlock();
            sink.room(8 + 8 + 4);
            buffer.putLong(0);
            buffer.putLong(total);
            buffer.putInt((int) sink.wholeCrc());
            sink.finish();
            return total;
        }
    }

    /** Where a reader's bytes come from: a file (read in large transfers) or a stream (read exactly as needed). */
    private abstract static class Source implements AutoCloseable {
        final ByteBuffer buffer;

        Source(ByteBuffer buffer) {
            this.buffer = buffer;
        }

        static Source of(Path file) throws IOException {
            FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
            return new Source(ByteBuffer.allocateDirect(FILE_BUFFER)) {
                @Override
                int readMore(int atLeast) throws IOException {
                    return channel.read(buffer);
                }

                @Override
                long remainingHint(long consumed) throws IOException {
                    return channel.size() - consumed;
                }

                @Override
                public void close() throws IOException {
                    channel.close();
                }
            };
        }

        /** From a channel holding {@code size} more bytes at most; the channel stays open. */
        static Source of(ReadableByteChannel channel, long size) {
            return new Source(ByteBuffer.allocateDirect(FILE_BUFFER)) {
                @Override
                int readMore(int atLeast) throws IOException {
                    return channel.read(buffer);
                }

                @Override
                long remainingHint(long consumed) throws IOException {
                    return Math.max(0, size - consumed);
                }

                @Override
                public void close() {
                    // the caller's channel stays open
                }
            };
        }

        static Source of(InputStream in) {
            return new Source(ByteBuffer.allocate(STREAM_BUFFER + (16 << 10))) {
                @Override
                int readMore(int atLeast) throws IOException {
                    // never past what is needed: the caller's stream may go on after the snapshot
                    int n = in.read(buffer.array(), buffer.arrayOffset() + buffer.position(),
                            Math.min(atLeast, buffer.remaining()));
                    if (n > 0) {
                        buffer.position(buffer.position() + n);
                    }
                    return n;
                }

                @Override
                long remainingHint(long consumed) throws IOException {
                    return in.available(); // exact for a file stream; 0 when unknown
                }

                @Override
                public void close() {
                    // the caller's stream stays open
                }
            };
        }

        /** Reads into the buffer (position = end of data) at most its remaining room; -1 at the end. */
        abstract int readMore(int atLeast) throws IOException;

        /** Bytes still to come after {@code consumed}, as far as the source knows (0: unknown). */
        abstract long remainingHint(long consumed) throws IOException;

        @Override
        public abstract void close() throws IOException;
    }

    /**
     * A second thread for the unions of a big read (at least {@value #MIN_ENTRIES} entries left, more than one
     * processor): the reading thread checks each block whole, hands the second half of its entries to this thread and
     * unions the first half itself. Every state takes concurrent unions, and a union commutes, so the order is free;
     * only checked blocks are handed over. At most {@value #BATCHES} half-blocks (0.5 MB each) are in flight. A failure
     * here is rethrown by the reader; {@link #close} waits until what was handed over is applied or abandoned. The
     * system property {@code couponstate.snapshot.unionHelper} is {@code auto} (the default), {@code false} (read on
     * one thread) or {@code always} (a helper for any input whose length is known, whatever the processors: tests).
     */
    private static final class UnionHelper implements AutoCloseable {
        static final long MIN_ENTRIES = 1 << 20;
        static final String PROPERTY = "couponstate.snapshot.unionHelper";
        static final int BATCHES = 3;
        private static final long[] STOP = new long[0];

        private final AbstractCouponState target;
        private final ArrayBlockingQueue<long[]> work = new ArrayBlockingQueue<>(BATCHES + 1);
        private final ArrayBlockingQueue<long[]> free = new ArrayBlockingQueue<>(BATCHES);
        private final Thread thread;
        private volatile Throwable failure; // written by the helper before it returns its batch
        private boolean stopped;

        static boolean worthIt(long entriesLeft) {
            String mode = System.getProperty(PROPERTY, "auto"); // read per snapshot read: cheap, and tests set it
            if ("false".equals(mode)) {
                return false;
            }
            return "always".equals(mode) ? entriesLeft > 0
                    : entriesLeft >= MIN_ENTRIES && Runtime.getRuntime().availableProcessors() > 1;
        }

        UnionHelper(AbstractCouponState target) {
            this.target = target;
            for (int i = 0; i < BATCHES; i++) {
                free.add(new long[1 + 2 * (MAX_BLOCK_ENTRIES - MAX_BLOCK_ENTRIES / 2)]);
            }
            thread = new Thread(this::run, "coupon-snapshot-union");
            thread.setDaemon(true); // joined by close(); a daemon so that it can never hold a JVM open
            thread.start();
        }

        /** A free batch ([n, key, mask, key, mask, ...]); waits for one; rethrows the helper's failure. */
        long[] batch() throws IOException {
            rethrow();
            try {
                long[] b = free.take();
                rethrow();
                return b;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while reading a snapshot");
            }
        }

        void submit(long[] batch) {
            work.add(batch); // never full: BATCHES batches and one STOP at most
        }

        private void run() {
            while (true) {
                long[] b;
                try {
                    b = work.take();
                } catch (InterruptedException e) {
                    return; // never interrupted: close() stops it with STOP
                }
                if (b == STOP) {
                    return;
                }
                if (failure == null) {
                    try {
                        int n = (int) b[0];
                        for (int i = 0; i < n; i++) {
                            target.union(b[1 + 2 * i], b[2 + 2 * i]);
                        }
                    } catch (Throwable t) {
                        failure = t; // volatile: read by the reader after it takes this batch back
                    }
                }
                free.add(b);
            }
        }

        /** Waits until every batch handed over is applied; rethrows the helper's failure. */
        void finish() throws IOException {
            close();
            rethrow();
        }

        private void rethrow() throws IOException {
            Throwable t = failure;
            if (t instanceof IOException) {
                throw (IOException) t;
            } else if (t instanceof RuntimeException) {
                throw (RuntimeException) t;
            } else if (t instanceof Error) {
                throw (Error) t;
            } else if (t != null) {
                throw new IOException(t);
            }
        }

        @Override
        public void close() {
            if (stopped) {
                return;
            }
            stopped = true;
            work.add(STOP);
            boolean interrupted = false;
            while (true) {
                try {
                    thread.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // the helper ends on STOP after the batches before it: wait for it
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Checks and applies one snapshot, base or delta; not thread-safe. */
    private static final class Reader {
        private final Source source;
        private final ByteBuffer buffer;
        private final AbstractCouponState target;
        private final CRC32C whole = new CRC32C();
        private final long priorSize;
        private final long extra; // room asked beyond the entries, granted by the first presize
        private int pos;      // next unread byte of the buffer
        private int end;      // end of the data in the buffer
        private long offset;  // stream offset of pos

        Reader(Source source, AbstractCouponState target) {
            this(source, target, 0);
        }

        Reader(Source source, AbstractCouponState target, long extra) {
            this.source = source;
            this.buffer = source.buffer;
            this.target = target;
            this.priorSize = target.size();
            this.extra = extra;
        }

        /** Reads one file of {@code kind} (snapshot also accepts a base) as part of {@code chain} (null: none). */
        long read(int expectedKind, Chain chain) throws IOException {
            long magic = take(4, "magic");
            if (magic != (MAGIC & 0xFFFF_FFFFL)) {
                throw new SnapshotFormatException(String.format(
                        "not a coupon-state snapshot: magic 0x%08x (expected: 0x%08x \"CPST\")", magic, MAGIC));
            }
            int version = (int) take(2, "version");
            if (version != 1 && version != 2) {
                throw new SnapshotFormatException(
                        "unsupported snapshot version " + version + " (expected: 1 or " + VERSION + ")",
                        SnapshotFormatException.Kind.INCOMPATIBLE);
            }
            int kind = version == 1 ? KIND_SNAPSHOT : (int) take(1, "kind");
            int min = (int) take(1, "format");
            int max = (int) take(1, "format");
            int folded = (int) take(1, "format");
            take(2, "threshold");
            long chainId = 0;
            int sequence = 0;
            int baseCrc = 0;
            long hint = -1;
            if (version == 2) {
                chainId = take(8, "chain id");
                sequence = (int) take(4, "sequence");
                baseCrc = (int) take(4, "base checksum");
                hint = take(8, "entry count hint");
            }
            int sourceCount = (int) take(2, "source count");
            if (sourceCount > CouponStateConfig.MAX_SOURCES) {
                throw new SnapshotFormatException("source count " + sourceCount + " (expected: <= 64)");
            }
            String[] names = new String[sourceCount];
            for (int i = 0; i < sourceCount; i++) {
                int length = (int) take(2, "source name length");
                if (length == 0 || length > MAX_NAME_BYTES) {
                    throw new SnapshotFormatException("source " + i + " name length " + length
                            + " (expected: 1.." + MAX_NAME_BYTES + ")");
                }
                fill(length, "source name");
                names[i] = new String(bytes(length), StandardCharsets.UTF_8);
                consume(length);
            }
            int keyBytes = (int) take(1, "key width");
            int maskBytes = (int) take(1, "mask width");
            long expectedHeaderCrc = whole.getValue();
            long headerCrc = take(4, "header checksum");
            if (headerCrc != expectedHeaderCrc) {
                throw new SnapshotFormatException(String.format(
                        "header checksum mismatch: stored 0x%08x, computed 0x%08x", headerCrc, expectedHeaderCrc));
            }
            checkKind(kind, expectedKind, chainId, sequence, baseCrc, (int) headerCrc, chain);
            CodeFormat format;
            try {
                format = CodeFormat.of(min, max, folded == 1);
            } catch (IllegalArgumentException e) {
                throw new SnapshotFormatException("code format: " + e.getMessage(),
                        SnapshotFormatException.Kind.INCOMPATIBLE); // the header checksum passed: not damage
            }
            if (!format.equals(target.format)) {
                throw new SnapshotFormatException(
                        "code format " + format + " differs from the target's " + target.format,
                        SnapshotFormatException.Kind.INCOMPATIBLE);
            }
            int expectedKeyBytes = max <= Codes.PACKED_MAX_LENGTH ? 7 : 8;
            if (keyBytes != expectedKeyBytes || maskBytes != Math.max(1, (sourceCount + 7) / 8)) {
                throw new SnapshotFormatException("entry widths key " + keyBytes + " / mask " + maskBytes
                        + " do not match the format and " + sourceCount + " sources",
                        SnapshotFormatException.Kind.INCOMPATIBLE);
            }
            int[] remap = new int[sourceCount];
            for (int i = 0; i < sourceCount; i++) {
                try {
                    remap[i] = target.sourceId(names[i]);
                } catch (IllegalStateException e) { // past the target's maxSources: it can never hold this snapshot
                    throw new SnapshotFormatException("the snapshot has " + sourceCount + " sources "
                            + java.util.Arrays.toString(names) + " but the target allows at most maxSources = "
                            + target.config().maxSources() + ": " + e.getMessage(),
                            SnapshotFormatException.Kind.INCOMPATIBLE);
                }
            }
            // a delta's entries are mostly codes the base holds already: it grows the target only as it must
            long total = entries(format, keyBytes, maskBytes, remap, hint, kind != KIND_DELTA);
            if (chain != null) {
                if (kind == KIND_BASE) {
                    chain.id = chainId;
                    chain.baseCrc = (int) headerCrc;
                }
                chain.sequence = sequence;
            }
            return total;
        }

        private static void checkKind(int kind, int expected, long chainId, int sequence, int baseCrc,
                int headerCrc, Chain chain) throws SnapshotFormatException {
            if (kind > KIND_DELTA) {
                throw new SnapshotFormatException("kind " + kind + " (expected: 0 snapshot, 1 base or 2 delta)");
            }
            boolean shaped = kind == KIND_SNAPSHOT ? chainId == 0 && sequence == 0 && baseCrc == 0
                    : kind == KIND_BASE ? chainId != 0 && sequence == 0 && baseCrc == 0
                    : chainId != 0 && sequence > 0;
            if (!shaped) {
                throw new SnapshotFormatException("a " + KINDS[kind] + " with chain id " + chainId + ", sequence "
                        + Integer.toUnsignedString(sequence) + " and base checksum " + baseCrc
                        + " (expected: a snapshot has none, a base a chain id, a delta a chain id and a sequence >= 1)");
            }
            if (expected == KIND_SNAPSHOT) {
                if (kind == KIND_DELTA) {
                    throw new SnapshotFormatException("a delta (chain " + Long.toHexString(chainId) + ", sequence "
                            + sequence + ") cannot be read without its base: read base and deltas with readChain");
                }
                return;
            }
            if (kind != expected) {
                throw new SnapshotFormatException("a " + KINDS[kind] + " where the chain's " + KINDS[expected]
                        + " was expected" + (expected == KIND_BASE ? " (a chain starts with its base)" : ""));
            }
            if (kind == KIND_DELTA) {
                if (chainId != chain.id || baseCrc != chain.baseCrc) {
                    throw new SnapshotFormatException(String.format("a delta of another base: chain %x with base "
                            + "checksum 0x%08x, but the base read is chain %x with header checksum 0x%08x",
                            chainId, baseCrc, chain.id, chain.baseCrc));
                }
                if (sequence != chain.sequence + 1) {
                    throw new SnapshotFormatException("delta sequence " + Integer.toUnsignedString(sequence)
                            + " where " + (chain.sequence + 1) + " was expected (deltas are read in order, none "
                            + "missing)");
                }
            }
        }

        /**
         * Grows the target, before the entries that would need it arrive, to hold what the input can still hold
         * and the header announces: a snapshot lists entries in hash order, and hash-ordered keys poured into a
         * table smaller than their number pile up in one probe run that every later key walks (quadratic). The
         * input's remaining bytes (exact for files) bound the growth, so memory stays bounded by the input. An
         * input that cannot tell its length (a socket) is trusted with the hint up to {@code unprovenEntries()},
         * and past that grows to twice what has arrived: bounded, but slow for big hash-ordered inputs.
         */
        private long presize(long ensured, long read, int entryBytes, long hint) throws IOException {
            long provable = source.remainingHint(offset) / entryBytes;
            long coming;
            if (provable > 0) {
                coming = read + provable;
                if (ensured == 0 && hint >= 0) {
                    coming = Math.min(coming, Math.max(read, hint)); // the header's hint, within what the input holds
                }
            } else {
                coming = ensured == 0 ? Math.max(read, Math.min(unprovenEntries(), Math.max(0, hint)))
                        : Math.max(read, 2 * ensured);
            }
            if (coming > ensured) {
                // the reserve rides on every grow: a later, bigger presize must not drop it
                target.ensureCapacity(priorSize + coming + extra);
                return coming;
            }
            return ensured;
        }

        private long entries(CodeFormat format, int keyBytes, int maskBytes, int[] remap, long hint,
                boolean presize) throws IOException {
            final int entryBytes = keyBytes + maskBytes;
            final long maskLimit = remap.length == 64 ? -1L : (1L << remap.length) - 1;
            final long minKey = Codes.firstOfLength(format.minLength());
            final long maxKey = Codes.lastOfLength(format.maxLength());
            boolean identity = true;
            for (int i = 0; i < remap.length; i++) {
                identity &= remap[i] == i;
            }
            final boolean word = keyBytes == 7 && maskBytes == 1;
            CRC32C block = new CRC32C();
            long total = 0;
            long ensured = presize ? presize(0, 0, entryBytes, hint) : Long.MAX_VALUE;
            try (UnionHelper helper = UnionHelper.worthIt(source.remainingHint(offset) / entryBytes)
                    ? new UnionHelper(target) : null) {
                return entries(helper, format, keyBytes, maskBytes, remap, identity, word, block, total, ensured,
                        minKey, maxKey, maskLimit, entryBytes);
            }
        }

        private long entries(UnionHelper helper, CodeFormat format, int keyBytes, int maskBytes, int[] remap,
                boolean identity, boolean word, CRC32C block, long total, long ensured, long minKey, long maxKey,
                long maskLimit, int entryBytes) throws IOException {
            while (true) {
                long blockStart = offset;
                long count = take(8, "block entry count");
                if (count == 0) {
                    break;
                }
                if (count < 0 || count > MAX_BLOCK_ENTRIES) {
                    throw new SnapshotFormatException("block at byte " + blockStart + " claims "
                            + Long.toUnsignedString(count)
                            + " entries (expected: 1.." + MAX_BLOCK_ENTRIES + ")");
                }
                if (total + count > ensured) {
                    ensured = presize(ensured, total + count, entryBytes, -1);
                }
                int bytes = (int) count * entryBytes;
                fill(bytes + 4, "block of " + count + " entries and its checksum");
                block.reset();
                for (int shift = 56; shift >= 0; shift -= 8) {
                    block.update((int) (count >>> shift));
                }
                crc(block, buffer, pos, pos + bytes);
                long computed = block.getValue();
                long stored = Integer.toUnsignedLong(buffer.getInt(pos + bytes));
                if (stored != computed) {
                    throw new SnapshotFormatException(String.format(
                            "block at byte %d: checksum mismatch: stored 0x%08x, computed 0x%08x",
                            blockStart, stored, computed));
                }
                // the block is intact: check every entry before applying any
                int p = pos;
                for (int e = 0; e < count; e++, p += entryBytes) {
                    long key = keyAt(p, word, keyBytes);
                    long mask = maskAt(p, word, keyBytes, maskBytes);
                    if (key < minKey || key > maxKey) { // lengths grow with the number
                        throw new SnapshotFormatException("entry " + (total + e) + ": code number " + key
                                + " is outside the format " + format);
                    }
                    if (mask == 0 || (mask & ~maskLimit) != 0) {
                        throw new SnapshotFormatException("entry " + (total + e) + ": source mask 0x"
                                + Long.toHexString(mask) + " (expected: non-zero, within "
                                + remap.length + " sources)");
                    }
                }
                int half = 0;
                if (helper != null) { // the second half of the block to the helper, the first half here
                    half = (int) count / 2;
                    long[] batch = helper.batch();
                    int n = 0;
                    p = pos + half * entryBytes;
                    for (int e = half; e < count; e++, p += entryBytes) {
                        long mask = maskAt(p, word, keyBytes, maskBytes);
                        batch[++n] = keyAt(p, word, keyBytes);
                        batch[++n] = identity ? mask : remapped(mask, remap);
                    }
                    batch[0] = n / 2;
                    helper.submit(batch);
                }
                int applied = helper != null ? half : (int) count;
                p = pos;
                for (int e = 0; e < applied; e++, p += entryBytes) {
                    long key = keyAt(p, word, keyBytes);
                    long mask = maskAt(p, word, keyBytes, maskBytes);
                    target.union(key, identity ? mask : remapped(mask, remap));
                }
                consume(bytes + 4);
                total += count;
            }
            if (helper != null) {
                helper.finish(); // every entry of every block is in the target before the trailer is checked
            }
            long declared = take(8, "total entry count");
            long expected = whole.getValue();
            long stored = take(4, "checksum");
            if (stored != expected) {
                throw new SnapshotFormatException(String.format(
                        "checksum mismatch: stored 0x%08x, computed 0x%08x", stored, expected));
            }
            if (declared != total) {
                throw new SnapshotFormatException("total entry count " + declared + " but " + total + " entries read");
            }
            return total;
        }

        /** The key of the entry at {@code p}: 7 bytes of a packed word, or {@code keyBytes} big-endian bytes. */
        private long keyAt(int p, boolean word, int keyBytes) {
            return word ? buffer.getLong(p) >>> 8 : getBytes(p, keyBytes);
        }

        /** The source mask of the entry at {@code p}: a packed word's low byte, or the bytes after the key. */
        private long maskAt(int p, boolean word, int keyBytes, int maskBytes) {
            return word ? buffer.getLong(p) & 0xFF : getBytes(p + keyBytes, maskBytes);
        }

        private static long remapped(long mask, int[] remap) {
            long out = 0;
            for (long m = mask; m != 0; m &= m - 1) {
                out |= 1L << remap[Long.numberOfTrailingZeros(m)];
            }
            return out;
        }

        private long getBytes(int position, int bytes) {
            long v = 0;
            for (int i = 0; i < bytes; i++) {
                v = (v << 8) | (buffer.get(position + i) & 0xFF);
            }
            return v;
        }

        private byte[] bytes(int length) {
            byte[] out = new byte[length];
            buffer.get(pos, out);
            return out;
        }

        /** Reads {@code bytes} (at most 8) as an unsigned big-endian number and consumes them. */
        private long take(int bytes, String what) throws IOException {
            fill(bytes, what);
            long v = getBytes(pos, bytes);
            consume(bytes);
            return v;
        }

        /** Consumes {@code bytes} buffered bytes, adding them to the whole-stream checksum. */
        private void consume(int bytes) {
            crc(whole, buffer, pos, pos + bytes);
            pos += bytes;
            offset += bytes;
        }

        /** Makes {@code bytes} bytes available at {@code pos}, or fails naming where the stream ended. */
        private void fill(int bytes, String what) throws IOException {
            if (end - pos >= bytes) {
                return;
            }
            // move what is left to the front, then read after it
            buffer.limit(end).position(pos);
            buffer.compact(); // position = bytes kept, limit = capacity
            end -= pos;
            pos = 0;
            while (end < bytes) {
                int n = source.readMore(bytes - end);
                if (n < 0) {
                    throw new SnapshotFormatException("truncated: the stream ends at byte " + (offset + end)
                            + " inside the " + what + " (" + bytes + " bytes expected there)");
                }
                end = buffer.position();
            }
            buffer.clear();
        }
    }
}
