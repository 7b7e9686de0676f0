package io.couponstate.core;

import static io.couponstate.core.SnapshotDescriptor.KIND_BASE;
import static io.couponstate.core.SnapshotDescriptor.KIND_DELTA;
import static io.couponstate.core.SnapshotDescriptor.KIND_SNAPSHOT;
import static io.couponstate.core.SnapshotDescriptor.MAX_BLOCK_ENTRIES;
import static io.couponstate.core.SnapshotDescriptor.crc;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Writes one snapshot, base or delta ({@link SnapshotDescriptor}): the header, the state's entries (or a journal
 * epoch's) in blocks, the end; for the snapshot or base of a {@link CompactCouponState}, its table image (version
 * 3). One instance per write; not thread-safe. The state may change while it is written: the source names are fixed
 * when the write starts, and bits of sources registered later are left out.
 */
final class SnapshotWriter {

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
    private int headerCrc;
    private long total;

    private SnapshotWriter(Sink sink, AbstractCouponState state, int kind, long chainId, int sequence, int baseCrc,
            long hint) {
        this.sink = sink;
        this.buffer = sink.buffer;
        this.state = state;
        this.kind = kind;
        this.chainId = chainId;
        this.sequence = sequence;
        this.baseCrc = baseCrc;
        this.hint = hint;
        this.sources = state.sourceNames(); // fixed now: bits of sources registered later are newer than this write
        this.keyBytes = SnapshotDescriptor.keyBytes(state.format.maxLength());
        this.maskBytes = SnapshotDescriptor.maskBytes(sources.size());
        this.entryBytes = keyBytes + maskBytes;
        this.maskLimit = sources.size() == 64 ? -1L : (1L << sources.size()) - 1;
    }

    /** Writes a snapshot of {@code state} to {@code out}; returns the entries written. Does not close it. */
    static long snapshot(AbstractCouponState state, OutputStream out) throws IOException {
        return new SnapshotWriter(new Sink(out), state, KIND_SNAPSHOT, 0, 0, 0, state.size()).writeTable();
    }

    /** Writes a snapshot of {@code state} into {@code out} from its position; returns the entries written. */
    static long snapshot(AbstractCouponState state, FileChannel out) throws IOException {
        return new SnapshotWriter(new Sink(out), state, KIND_SNAPSHOT, 0, 0, 0, state.size()).writeTable();
    }

    /** Writes a base of chain {@code chainId} into {@code out} from its position. */
    static CheckpointChain.Written base(AbstractCouponState state, long chainId, FileChannel out) throws IOException {
        SnapshotWriter writer = new SnapshotWriter(new Sink(out), state, KIND_BASE, chainId, 0, 0, state.size());
        long entries = writer.writeTable();
        return new CheckpointChain.Written(entries, writer.headerCrc);
    }

    /** Writes the changes of a closed journal epoch as delta {@code sequence}; returns the entries written. */
    static long delta(AbstractCouponState state, long chainId, int sequence, int baseCrc,
            ChangeJournal.Epoch changes, FileChannel out) throws IOException {
        return new SnapshotWriter(new Sink(out), state, KIND_DELTA, chainId, sequence, baseCrc, changes.entries)
                .writeJournal(changes);
    }

    private long writeTable() throws IOException {
        if (state instanceof CompactCouponState) {
            return writeImage((CompactCouponState) state);
        }
        header();
        try {
            state.forEachEntry(this::entry);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        return finish();
    }

    /**
     * Writes a compact state as a table image (version 3): each stripe copied under its lock and written from the
     * copy, its slots raw, then the dictionary, taken after every copy so that it numbers every tag they hold.
     * Masks are limited to the sources fixed when the write started; an entry whose mask is then empty stays in its
     * slot (moving it would break its bucket) and the reader skips it.
     */
    private long writeImage(CompactCouponState compact) throws IOException {
        sink.room(SnapshotDescriptor.maxHeaderBytes(sources.size()));
        final int stripes = CompactCouponState.stripeCount();
        headerCrc = SnapshotDescriptor.putHeader(buffer, SnapshotDescriptor.IMAGE_VERSION, kind, state.format,
                state.threshold, chainId, sequence, baseCrc, hint, sources, compact.keyBits(), stripes);
        long[] limited = new long[0]; // tag -> mask within the limit, grown as copies show newer tags
        for (int i = 0; i < stripes; i++) {
            CompactCouponState.StripeCopy copy = compact.copyStripe(i);
            // every tag in the copy was numbered before the copy: the dictionary of now covers it
            long[] dict = compact.dictionary();
            if (dict.length > limited.length) {
                limited = dict;
                for (int t = 1; t < limited.length; t++) {
                    limited[t] &= maskLimit;
                }
            }
            total += stripeImage(i, copy, limited);
        }
        long[] dict = compact.dictionary();
        sink.room(SnapshotDescriptor.maxBlockBytes(8));
        int start = buffer.position();
        buffer.putLong(dict.length - 1);
        for (int t = 1; t < dict.length; t++) {
            buffer.putLong(dict[t] & maskLimit);
        }
        blockCrc(start);
        sink.room(SnapshotDescriptor.END_BYTES);
        buffer.putLong(0);
        buffer.putLong(total);
        buffer.putInt((int) sink.wholeCrc());
        sink.finish();
        return total;
    }

    /** Writes one stripe's copy: its geometry, slot blocks, side blocks; returns its entries within the limit. */
    private long stripeImage(int index, CompactCouponState.StripeCopy copy, long[] limited) throws IOException {
        sink.room(SnapshotDescriptor.STRIPE_HEADER_BYTES);
        int start = buffer.position();
        buffer.putShort((short) index);
        buffer.putInt(copy.buckets);
        buffer.put((byte) (copy.wide ? 1 : 0));
        buffer.put((byte) copy.qBits);
        buffer.put((byte) copy.tagBits);
        // a long slot is written in the bytes its quotient and a tag wide enough for the dictionary so far need
        final int tagShift = copy.tagShift();
        final int imageTagBits = copy.wide ? Math.min(copy.tagBits, 64 - Long.numberOfLeadingZeros(limited.length))
                : copy.tagBits;
        final int slotBytes = copy.wide ? Math.max(4, (tagShift + imageTagBits + 7) / 8) : 4;
        buffer.putInt(copy.resizeAt);
        buffer.putInt(copy.side.length / 2);
        buffer.put((byte) slotBytes);
        buffer.put((byte) imageTagBits);
        blockCrc(start);
        final int slots = copy.buckets * 8;
        final long spill = copy.spill();
        final long imageSpill = (1L << imageTagBits) - 1;
        final long idMask = (1L << tagShift) - 1;
        final int drop = 64 - 8 * slotBytes;
        long entries = 0;
        for (int from = 0; from < slots; from += MAX_BLOCK_ENTRIES) {
            int n = Math.min(MAX_BLOCK_ENTRIES, slots - from);
            sink.room(SnapshotDescriptor.maxBlockBytes(slotBytes));
            start = buffer.position();
            buffer.putLong(n);
            for (int done = 0; done < n; ) {
                int s = from + done;
                int page = s >>> CompactCouponState.PAGE_BITS;
                int at = s & ((1 << CompactCouponState.PAGE_BITS) - 1);
                int run = Math.min(n - done, (1 << CompactCouponState.PAGE_BITS) - at);
                if (copy.wide) {
                    long[] p = copy.longs[page];
                    int to = buffer.position();
                    for (int k = at; k < at + run; k++, to += slotBytes) {
                        long v = p[k];
                        long tag = v >>> tagShift;
                        if (v != 0) {
                            if (tag == spill) {
                                v = imageSpill << tagShift | (v & idMask);
                            } else if (limited[(int) tag] != 0) {
                                entries++;
                            }
                        }
                        // the slot's low bytes, big-endian; the bytes past them are overwritten by what follows
                        buffer.putLong(to, v << drop);
                    }
                    buffer.position(to - run * slotBytes);
                } else {
                    int[] p = copy.ints[page];
                    buffer.asIntBuffer().put(p, at, run);
                    for (int k = at; k < at + run; k++) {
                        int tag = p[k] >>> tagShift;
                        if (p[k] != 0 && tag != spill && limited[tag] != 0) {
                            entries++;
                        }
                    }
                }
                buffer.position(buffer.position() + run * slotBytes);
                done += run;
            }
            blockCrc(start);
        }
        long[] side = copy.side;
        for (int from = 0; from < side.length; from += 2 * MAX_BLOCK_ENTRIES) {
            int n = Math.min(MAX_BLOCK_ENTRIES, (side.length - from) / 2);
            sink.room(SnapshotDescriptor.maxBlockBytes(16));
            start = buffer.position();
            buffer.putLong(n);
            for (int k = from; k < from + 2 * n; k += 2) {
                long mask = side[k + 1] & maskLimit;
                buffer.putLong(side[k]);
                buffer.putLong(mask);
                if (mask != 0) {
                    entries++;
                }
            }
            blockCrc(start);
        }
        return entries;
    }

    /** Ends a block of the image begun at {@code start}: the CRC32C of everything put since. */
    private void blockCrc(int start) {
        block.reset();
        crc(block, buffer, start, buffer.position());
        buffer.putInt((int) block.getValue());
    }

    private long writeJournal(ChangeJournal.Epoch epoch) throws IOException {
        header();
        try {
            state.journal.forEach(epoch, this::entry);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        return finish();
    }

    private void header() throws IOException {
        sink.room(SnapshotDescriptor.maxHeaderBytes(sources.size()));
        headerCrc = SnapshotDescriptor.putHeader(buffer, kind, state.format, state.threshold, chainId, sequence,
                baseCrc, hint, sources);
    }

    private void entry(long key, long mask) {
        long m = mask & maskLimit;
        if (m == 0) {
            return; // only sources registered after we started: newer than this snapshot
        }
        if (blockStart < 0) {
            try {
                sink.room(SnapshotDescriptor.maxBlockBytes(entryBytes));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            blockStart = buffer.position();
            buffer.position(blockStart + SnapshotDescriptor.COUNT_BYTES); // the count goes here when the block is done
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
        sink.room(SnapshotDescriptor.END_BYTES);
        buffer.putLong(0);
        buffer.putLong(total);
        buffer.putInt((int) sink.wholeCrc());
        sink.finish();
        return total;
    }

    /**
     * A big-endian output buffer with the stream checksum: a direct buffer written to a file channel in large
     * transfers, or a heap buffer written to a stream. Not thread-safe.
     */
    private static final class Sink {
        final ByteBuffer buffer;
        private final FileChannel channel;
        private final OutputStream out;
        private final CRC32C whole = new CRC32C();
        private int summed; // bytes of the buffer already in the stream checksum

        Sink(FileChannel channel) {
            this.buffer = ByteBuffer.allocateDirect(SnapshotDescriptor.FILE_BUFFER);
            this.channel = channel;
            this.out = null;
        }

        Sink(OutputStream out) {
            this.buffer = ByteBuffer.allocate(SnapshotDescriptor.STREAM_BUFFER);
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

        private void drain() throws IOException {
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
}
