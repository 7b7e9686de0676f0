package io.couponstate.core;

import static io.couponstate.core.SnapshotDescriptor.KIND_BASE;
import static io.couponstate.core.SnapshotDescriptor.KIND_DELTA;
import static io.couponstate.core.SnapshotDescriptor.KIND_SNAPSHOT;

import io.couponstate.core.internal.DurableFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Objects;

/**
 * Writes a state to a stream or file and reads one back as a <b>union</b> into any state of either implementation,
 * with source ids remapped by name; and writes and reads <b>checkpoint chains</b>: a base (a full snapshot) and the
 * deltas after it (the changes since the previous mark, from the state's change journal).
 *
 * <p>Reading is strict: damage, truncation, another code format, or a chain out of order is a
 * {@link SnapshotFormatException} saying what failed, and memory used by a read is bounded by the input. A read that
 * fails part-way leaves the target holding the union of the blocks before the failure (genuine observations, never
 * corrupt ones): restore into a fresh state to get all or nothing.
 *
 * <p>Writing reads the state while writers run: a snapshot holds every observation recorded before the write started
 * and may hold some recorded during it. A delta holds every change whose {@code addObservation} returned between the
 * previous mark and its own, so base and deltas read back in order hold every change made before the last delta's
 * mark. Checkpoint writes of one state are serialized; writers never wait for them. Every write to a {@link Path} is
 * durable when it returns (a temporary file, fsynced, renamed, the directory fsynced): a file exists under its name
 * only when it is complete.
 *
 * <p>A read of a big input unions on two threads (see {@link #read(Path, CouponState, int)}).
 *
 * <p>A {@link CompactCouponState} writes its snapshots and bases as a table image (format version 3): its tables as
 * they are, which an empty compact state of the same code format adopts without re-hashing a code (whatever its
 * sources' numbering), so a restart reads little more than the bytes. Any other target, or a compact state that
 * holds codes already, gets the image's entries unioned one by one, so switching the implementation between
 * restarts restores the same state; images of versions 1 and 2 read into every implementation, a compact one
 * included. Deltas stay entry lists (version 2), and follow an image base like any other.
 */
public final class CouponSnapshots {

    /** "CPST". */
    public static final int MAGIC = SnapshotDescriptor.MAGIC;
    /**
     * The format version of the entry list this class writes for every delta and for the snapshots and bases of
     * every implementation but {@link CompactCouponState}, whose snapshots and bases are its table image, version 3.
     * Versions 1 to 3 are read into every implementation.
     */
    public static final int VERSION = SnapshotDescriptor.VERSION;
    /** The most entries one block may claim. */
    public static final int MAX_BLOCK_ENTRIES = SnapshotDescriptor.MAX_BLOCK_ENTRIES;
    /** The longest source name a snapshot holds, in UTF-8 bytes; {@code sourceId} refuses longer names. */
    public static final int MAX_NAME_BYTES = SnapshotDescriptor.MAX_NAME_BYTES;

    private CouponSnapshots() {
    }

    /**
     * Writes {@code state} as a snapshot; returns the number of entries written. Does not close {@code out}.
     *
     * @param state the state
     * @param out the stream to write
     * @return the number of entries written
     * @throws IOException if reading or writing fails
     */
    public static long write(CouponState state, OutputStream out) throws IOException {
        AbstractCouponState source = ours(state, "state");
        Objects.requireNonNull(out, "out");
        return SnapshotWriter.snapshot(source, out);
    }

    /**
     * Writes {@code state} to {@code file} atomically: to a temporary file beside it, fsynced, renamed over
     * {@code file}, then the directory fsynced. Returns the number of entries written.
     *
     * @param state the state
     * @param file the file
     * @return the number of entries written
     * @throws IOException if reading or writing fails
     */
    public static long write(CouponState state, Path file) throws IOException {
        AbstractCouponState source = ours(state, "state");
        Objects.requireNonNull(file, "file");
        return DurableFiles.write(file, channel -> SnapshotWriter.snapshot(source, channel));
    }

    /**
     * Reads a snapshot (or a chain's base: it is a full snapshot) and unions it into {@code target}; returns the
     * number of entries read. A delta is refused: it means nothing without its base ({@link #readChain}). If the
     * target keeps a change journal, its next checkpoint must be a base: this data did not come through it.
     *
     * @param in the stream to read
     * @param target the state to restore into
     * @return the number of entries read
     * @throws IOException if reading or writing fails
     */
    public static long read(InputStream in, CouponState target) throws IOException {
        return readStream(in, target, UnionHelper.AUTO);
    }

    /**
     * {@link #read(InputStream, CouponState)} on {@code unionThreads} threads, as
     * {@link #read(Path, CouponState, int)}; two threads need a stream whose {@code available()} tells its length.
     *
     * @param in the stream to read
     * @param target the state to restore into
     * @param unionThreads how many threads union the entries into the state (1: the calling thread alone)
     * @return what {@link #read(InputStream, CouponState)} returns
     * @throws IllegalArgumentException if {@code unionThreads} is not 1 or 2
     * @throws IOException if reading or writing fails
     */
    public static long read(InputStream in, CouponState target, int unionThreads) throws IOException {
        return readStream(in, target, checkUnionThreads(unionThreads));
    }

    private static long readStream(InputStream in, CouponState target, int unionThreads) throws IOException {
        AbstractCouponState state = ours(target, "target");
        Objects.requireNonNull(in, "in");
        state.chain.mergedFromOutside();
        return SnapshotReader.read(SnapshotReader.Source.of(in), state, KIND_SNAPSHOT, null, 0, unionThreads);
    }

    /**
     * Reads a snapshot file and unions it into {@code target}; returns the number of entries read. A file of 1M
     * entries or more is unioned on two threads when the machine has more than one processor
     * ({@link #read(Path, CouponState, int)} chooses).
     *
     * @param file the file
     * @param target the state to restore into
     * @return the number of entries read
     * @throws IOException if reading or writing fails
     */
    public static long read(Path file, CouponState target) throws IOException {
        return readFile(file, target, UnionHelper.AUTO);
    }

    /**
     * {@link #read(Path, CouponState)} on {@code unionThreads} threads: 1 unions every entry on the calling thread;
     * 2 unions half of each checked block on a helper thread (at most three half-blocks of 0.5 MB in flight) and
     * half on the calling thread, whatever the input's size and the machine's processors. The read returns, or
     * throws, only after the helper has applied what it was given and ended. The result is the same either way.
     *
     * @param file the file
     * @param target the state to restore into
     * @param unionThreads how many threads union the entries into the state (1: the calling thread alone)
     * @return what {@link #read(Path, CouponState)} returns
     * @throws IllegalArgumentException if {@code unionThreads} is not 1 or 2
     * @throws IOException if reading or writing fails
     */
    public static long read(Path file, CouponState target, int unionThreads) throws IOException {
        return readFile(file, target, checkUnionThreads(unionThreads));
    }

    private static long readFile(Path file, CouponState target, int unionThreads) throws IOException {
        AbstractCouponState state = ours(target, "target");
        Objects.requireNonNull(file, "file");
        state.chain.mergedFromOutside();
        try (SnapshotReader.Source source = SnapshotReader.Source.of(file)) {
            return SnapshotReader.read(source, state, KIND_SNAPSHOT, null, 0, unionThreads);
        } catch (SnapshotFormatException e) {
            throw new SnapshotFormatException(file + ": " + e.getMessage(), e.kind());
        }
    }

    /**
     * Writes a base of {@code state} to {@code file} durably and starts a new chain: marks the change journal (so
     * the next delta holds what changes from now on), then writes every entry. Returns the number of entries
     * written. Without a change journal ({@code changeJournalCapacity} 0) this is a full snapshot that no delta can
     * follow.
     *
     * @param state the state
     * @param file the file
     * @return the number of entries written
     * @throws IOException if reading or writing fails
     */
    public static long writeBase(CouponState state, Path file) throws IOException {
        AbstractCouponState source = ours(state, "state");
        Objects.requireNonNull(file, "file");
        return source.chain.writeBase(chainId -> DurableFiles.write(file,
                channel -> SnapshotWriter.base(source, chainId, channel)));
    }

    /**
     * Writes a base of {@code state} into {@code out} from its current position and starts a new chain, like
     * {@link #writeBase(CouponState, Path)}, but leaves durability to the caller (for a file that holds more than the
     * base, such as a checkpoint with its offsets). A caller that fails to make the bytes durable must write a base
     * next: a delta written after this call follows this base. Does not close or force {@code out}.
     *
     * @param state the state
     * @param out the stream to write
     * @return the number of entries written
     * @throws IOException if reading or writing fails
     */
    public static long writeBase(CouponState state, FileChannel out) throws IOException {
        AbstractCouponState source = ours(state, "state");
        Objects.requireNonNull(out, "out");
        return source.chain.writeBase(chainId -> SnapshotWriter.base(source, chainId, out));
    }

    /**
     * Writes a delta of {@code state} to {@code file} durably: marks the change journal and writes the changes
     * recorded since the previous mark (of the last base or delta). Returns the number of entries written (one per
     * change, so a code may appear more than once). A delta may also hold changes made while it was written
     * (harmless: a union is idempotent).
     *
     * @param state the state
     * @param file the file
     * @return the number of entries written
     * @throws BaseNeededException when the next checkpoint must be a base: no base written or read yet, the
     *         journal overflowed, data from outside the chain was merged in, or an earlier checkpoint failed
     * @throws IOException if reading or writing fails
     */
    public static long writeDelta(CouponState state, Path file) throws IOException {
        AbstractCouponState source = ours(state, "state");
        Objects.requireNonNull(file, "file");
        return source.chain.writeDelta((chainId, sequence, baseCrc, changes) -> DurableFiles.write(file,
                channel -> SnapshotWriter.delta(source, chainId, sequence, baseCrc, changes, channel)));
    }

    /**
     * Writes a delta of {@code state} into {@code out} from its current position, like
     * {@link #writeDelta(CouponState, Path)}, but leaves durability to the caller. A caller that fails to make the
     * bytes durable must write a base next: the following delta would follow this one. Does not close or force
     * {@code out}.
     *
     * @param state the state
     * @param out the stream to write
     * @return the number of entries written
     * @throws BaseNeededException as {@link #writeDelta(CouponState, Path)}
     * @throws IOException if reading or writing fails
     */
    public static long writeDelta(CouponState state, FileChannel out) throws IOException {
        AbstractCouponState source = ours(state, "state");
        Objects.requireNonNull(out, "out");
        return source.chain.writeDelta((chainId, sequence, baseCrc, changes) ->
                SnapshotWriter.delta(source, chainId, sequence, baseCrc, changes, out));
    }

    /**
     * Whether {@code state} keeps a change journal ({@code changeJournalCapacity} > 0), that is whether deltas can
     * be written of it at all.
     *
     * @param state the state
     * @return whether {@code state} keeps a change journal ({@code changeJournalCapacity} > 0), that is whether deltas
     *         can be written of it at all
     */
    public static boolean keepsJournal(CouponState state) {
        return ours(state, "state").chain.journaled();
    }

    /**
     * Whether the next checkpoint of {@code state} must be a base (the reason is in the {@link BaseNeededException}
     * {@link #writeDelta} would throw). Weakly consistent: the journal may overflow right after this answers.
     *
     * @param state the state
     * @return whether the next checkpoint of {@code state} must be a base (the reason is in the {@link
     *         BaseNeededException} {@link #writeDelta} would throw)
     */
    public static boolean baseNeeded(CouponState state) {
        return ours(state, "state").chain.baseNeeded();
    }

    /**
     * Reads a base and its deltas, in order, into {@code target}; returns the number of entries read. Refuses a
     * delta of another chain, a delta out of order or with one missing before it, and a delta whose base is not
     * {@code base}. If {@code target} was empty, it continues the chain: its next delta follows the last one read,
     * and the restored entries are not journaled again. A {@link ChainReader} over the files, held for the whole
     * chain.
     *
     * @param base the base
     * @param deltas the deltas
     * @param target the state to restore into
     * @return the number of entries read
     * @throws IOException if reading or writing fails
     */
    public static long readChain(Path base, List<Path> deltas, CouponState target) throws IOException {
        return readChainFiles(base, deltas, target, UnionHelper.AUTO);
    }

    /**
     * {@link #readChain(Path, List, CouponState)} on {@code unionThreads} threads, as
     * {@link #read(Path, CouponState, int)}.
     *
     * @param base the base
     * @param deltas the deltas
     * @param target the state to restore into
     * @param unionThreads how many threads union the entries into the state (1: the calling thread alone)
     * @return what {@link #readChain(Path, List, CouponState)} returns
     * @throws IllegalArgumentException if {@code unionThreads} is not 1 or 2
     * @throws IOException if reading or writing fails
     */
    public static long readChain(Path base, List<Path> deltas, CouponState target, int unionThreads)
            throws IOException {
        return readChainFiles(base, deltas, target, checkUnionThreads(unionThreads));
    }

    private static long readChainFiles(Path base, List<Path> deltas, CouponState target, int unionThreads)
            throws IOException {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(deltas, "deltas");
        AbstractCouponState state = ours(target, "target");
        return state.chain.whileLocked(() -> {
            ChainReader reader = new ChainReader(state, unionThreads);
            long total = readPart(base, reader::base);
            for (Path delta : deltas) {
                total += readPart(delta, reader::delta);
            }
            reader.complete();
            return total;
        });
    }

    /** One file of a chain read through {@link ChainReader}. */
    @FunctionalInterface
    private interface ChainPart {
        long read(ReadableByteChannel in, long bytes) throws IOException;
    }

    private static long readPart(Path file, ChainPart part) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            return part.read(channel, channel.size());
        } catch (SnapshotFormatException e) {
            throw new SnapshotFormatException(file + ": " + e.getMessage(), e.kind());
        }
    }

    /**
     * A reader of one chain, file by file, from file channels positioned at each base or delta (for files that hold
     * more than the chain file, such as checkpoints). Where {@link #readChain} fails as a whole, this tells its
     * caller which file failed, so a caller can stop at the last good delta. Not thread-safe; must not run
     * concurrently with a checkpoint write of the same state.
     *
     * @param target the state to restore into
     * @return a reader of one chain, file by file, from file channels positioned at each base or delta (for files that
     *         hold more than the chain file, such as checkpoints)
     */
    public static ChainReader chainReader(CouponState target) {
        return new ChainReader(ours(target, "target"), UnionHelper.AUTO);
    }

    /**
     * Reads a base, then its deltas in order, into one target; see {@link #chainReader}. Only after
     * {@link #complete()} does the target continue the chain (its next delta follows the last one read, if it was
     * empty when the reader was made); until then, and after any failure, its next checkpoint must be a base.
     */
    public static final class ChainReader {
        private final AbstractCouponState state;
        private final boolean continues;
        private final SnapshotReader.Chain chain = new SnapshotReader.Chain();
        private boolean baseRead;
        private boolean failed;
        private long reserve;
        private int unionThreads;

        private ChainReader(AbstractCouponState state, int unionThreads) {
            this.state = state;
            this.unionThreads = unionThreads;
            this.continues = state.chain.readStarts(state.size() == 0);
        }

        /**
         * Room for {@code codes} codes beyond the base's: the base read grows the target once to hold the base's
         * entries plus these, so that the new codes of the deltas, and of records applied right after the restore,
         * do not make a table that the base filled to its limit grow at once (a grow moves every entry). A hint,
         * each code costing the state's bytes per code (about 9.4) whether it comes or not; codes past it grow the
         * table as usual. Call before {@link #base}; 0 (the default) adds none.
         *
         * @param codes the codes
         * @return this reader
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
         * Reads each following file on {@code threads} threads, as {@link CouponSnapshots#read(Path, CouponState,
         * int)}; by default a file of 1M entries or more is read on two when the machine has more than one
         * processor. May be called between files.
         *
         * @param threads how many threads union the entries (1: the calling thread alone)
         * @return this reader
         * @throws IllegalArgumentException if {@code threads} is not 1 or 2
         */
        public ChainReader unionThreads(int threads) {
            unionThreads = checkUnionThreads(threads);
            return this;
        }

        /**
         * Reads the chain's base from {@code in}, which holds {@code bytes} more bytes at most (bounding how far the
         * target is grown before loading, beyond the {@link #reserve}); returns the entries read. Does not close it.
         *
         * @param in the stream to read
         * @param bytes the bytes
         * @return the entries read
         * @throws IOException if reading or writing fails
         */
        public long base(ReadableByteChannel in, long bytes) throws IOException {
            if (baseRead || failed) {
                throw new IllegalStateException(failed ? "a read of this chain failed" : "the base was read already");
            }
            baseRead = true;
            return read(in, bytes, KIND_BASE, reserve);
        }

        /**
         * Reads the chain's next delta from {@code in}, as {@link #base}; returns the entries read.
         *
         * @param in the stream to read
         * @param bytes the bytes
         * @return the entries read
         * @throws IOException if reading or writing fails
         */
        public long delta(ReadableByteChannel in, long bytes) throws IOException {
            if (!baseRead || failed) {
                throw new IllegalStateException(failed ? "a read of this chain failed" : "no base read yet");
            }
            return read(in, bytes, KIND_DELTA, 0);
        }

        private long read(ReadableByteChannel in, long bytes, int kind, long extra) throws IOException {
            Objects.requireNonNull(in, "in");
            return state.chain.whileLocked(() -> {
                failed = true;
                long entries;
                try (SnapshotReader.Source source = SnapshotReader.Source.of(in, bytes)) {
                    entries = SnapshotReader.read(source, state, kind, chain, extra, unionThreads);
                }
                failed = false;
                return entries;
            });
        }

        /** The chain read completely: the target continues it (if it was empty when this reader was made). */
        public void complete() {
            if (!baseRead || failed) {
                throw new IllegalStateException(failed ? "a read of this chain failed" : "no base read yet");
            }
            state.chain.readComplete(continues, chain.id, chain.baseCrc, chain.sequence);
        }
    }

    private static int checkUnionThreads(int threads) {
        if (threads != 1 && threads != 2) {
            throw new IllegalArgumentException("unionThreads: " + threads + " (expected: 1 or 2)");
        }
        return threads;
    }

    /**
     * The source names a snapshot of {@code state} carries, in id order (a source's id is its index): what a caller
     * that combines states (a partitioned state checking a shard's ids) compares.
     *
     * @param state a state of this library: {@link LockFreeCouponState}, {@link StripedLockCouponState} or
     *        {@link CompactCouponState}
     * @return the registered names, unmodifiable
     * @throws IllegalArgumentException if {@code state} is of another implementation
     */
    public static List<String> sourceNames(CouponState state) {
        return ours(state, "state").sourceNames();
    }

    private static AbstractCouponState ours(CouponState state, String name) {
        Objects.requireNonNull(state, name);
        if (!(state instanceof AbstractCouponState)) {
            throw new IllegalArgumentException(name + ": " + state.getClass().getName()
                    + " (expected: a LockFreeCouponState, StripedLockCouponState or CompactCouponState)");
        }
        return (AbstractCouponState) state;
    }
}
