package io.couponstate.core;

import static io.couponstate.core.SnapshotDescriptor.KIND_BASE;
import static io.couponstate.core.SnapshotDescriptor.KIND_DELTA;
import static io.couponstate.core.SnapshotDescriptor.KIND_SNAPSHOT;
import static io.couponstate.core.SnapshotDescriptor.CRC_BYTES;
import static io.couponstate.core.SnapshotDescriptor.MAX_BLOCK_ENTRIES;
import static io.couponstate.core.SnapshotDescriptor.crc;
import static io.couponstate.core.SnapshotDescriptor.kindName;

import io.couponstate.core.internal.Codes;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * Checks and unions one snapshot, base or delta ({@link SnapshotDescriptor}) into a state; one instance per file,
 * not thread-safe.
 *
 * <p><b>Strict.</b> It refuses, with a {@link SnapshotFormatException} saying what failed: a wrong magic, version or
 * kind, a code format different from the target's, a truncated stream, a bad checksum, a block count above 65536 (so
 * a count the stream cannot hold fails at once, whatever the heap), an entry outside the format, a wrong total; for
 * chains also a delta of another chain, a delta out of order, and a delta read without its base. Each block is
 * applied only after its checksum and every entry in it pass, so a read that fails part-way leaves the target
 * holding the union of the blocks before the failure.
 *
 * <p>A table image (version 3) is checked whole before anything reaches the target: an empty compact target adopts
 * its tables, any other target gets its entries unioned (see {@link CouponSnapshots}).
 *
 * <p><b>Bounded.</b> Memory used by a read is bounded by the input: fixed buffers, and a target grown at most to the
 * entries the input can still hold (see {@link #presize}).
 *
 * <p><b>Threads.</b> With a {@link UnionHelper} (as its caller's thread count and the input's size decide), half
 * of each checked block is unioned on the helper and half here; the read returns, or throws, only after the helper
 * has applied what it was given and ended.
 */
final class SnapshotReader implements SnapshotDescriptor.Input {

    /** What a chain read has checked so far: the chain of its base and the sequence of its last file. */
    static final class Chain {
        long id;
        int baseCrc;
        int sequence;
    }

    private final Source source;
    private final ByteBuffer buffer;
    private final AbstractCouponState target;
    private final CRC32C whole = new CRC32C();
    private final long priorSize;
    private final long extra; // room asked beyond the entries, granted by the first presize
    private final int unionThreads;
    private int pos;      // next unread byte of the buffer
    private int end;      // end of the data in the buffer
    private long offset;  // stream offset of pos

    private SnapshotReader(Source source, AbstractCouponState target, long extra, int unionThreads) {
        this.source = source;
        this.buffer = source.buffer;
        this.target = target;
        this.priorSize = target.size();
        this.extra = extra;
        this.unionThreads = unionThreads;
    }

    /**
     * Reads one file of {@code expectedKind} (a snapshot also accepts a base) from {@code source} into
     * {@code target}, as part of {@code chain} (null: none, which it then advances); returns the entries read.
     *
     * @param extra codes to make room for beyond the file's, when the target is grown before loading
     * @param unionThreads {@link UnionHelper#AUTO}, 1 or 2
     */
    static long read(Source source, AbstractCouponState target, int expectedKind, Chain chain, long extra,
            int unionThreads) throws IOException {
        return new SnapshotReader(source, target, extra, unionThreads).read(expectedKind, chain);
    }

    /**
     * Entries a stream of unknown length may pre-size for on its header's word alone: a sixty-fourth of the heap
     * in entries (about 15 % of it in packed slots), so a forged hint cannot exhaust the heap, while a genuine one
     * avoids growing under hash-ordered entries, which is quadratic.
     */
    private static long unprovenEntries() {
        return Runtime.getRuntime().maxMemory() / 64;
    }

    private long read(int expectedKind, Chain chain) throws IOException {
        SnapshotDescriptor.Header header = SnapshotDescriptor.decodeHeader(this);
        checkKind(header, expectedKind, chain);
        CodeFormat format = header.format();
        if (!format.equals(target.format)) {
            throw new SnapshotFormatException(
                    "code format " + format + " differs from the target's " + target.format,
                    SnapshotFormatException.Kind.INCOMPATIBLE);
        }
        header.checkWidths();
        String[] names = header.sources;
        int[] remap = new int[names.length];
        for (int i = 0; i < names.length; i++) {
            try {
                remap[i] = target.sourceId(names[i]);
            } catch (IllegalStateException e) { // past the target's maxSources: it can never hold this snapshot
                throw new SnapshotFormatException("the snapshot has " + names.length + " sources "
                        + header.sourceList() + " but the target allows at most maxSources = "
                        + target.config().maxSources() + ": " + e.getMessage(),
                        SnapshotFormatException.Kind.INCOMPATIBLE);
            }
        }
        // a delta's entries are mostly codes the base holds already: it grows the target only as it must
        long total = header.version == SnapshotDescriptor.IMAGE_VERSION ? image(header, format, remap)
                : entries(format, header.keyBytes, header.maskBytes, remap, header.hint, header.kind != KIND_DELTA);
        if (chain != null) {
            if (header.kind == KIND_BASE) {
                chain.id = header.chainId;
                chain.baseCrc = header.crc;
            }
            chain.sequence = header.sequence;
        }
        return total;
    }

    /** Checks the kind against what the caller expects and, for a delta, against the chain read so far. */
    private static void checkKind(SnapshotDescriptor.Header header, int expected, Chain chain)
            throws SnapshotFormatException {
        int kind = header.kind;
        if (expected == KIND_SNAPSHOT) {
            if (kind == KIND_DELTA) {
                throw new SnapshotFormatException("a delta (chain " + Long.toHexString(header.chainId)
                        + ", sequence " + header.sequence
                        + ") cannot be read without its base: read base and deltas with readChain");
            }
            return;
        }
        if (kind != expected) {
            throw new SnapshotFormatException("a " + kindName(kind) + " where the chain's " + kindName(expected)
                    + " was expected" + (expected == KIND_BASE ? " (a chain starts with its base)" : ""));
        }
        if (kind == KIND_DELTA) {
            if (header.chainId != chain.id || header.baseCrc != chain.baseCrc) {
                throw new SnapshotFormatException(String.format("a delta of another base: chain %x with base "
                        + "checksum 0x%08x, but the base read is chain %x with header checksum 0x%08x",
                        header.chainId, header.baseCrc, chain.id, chain.baseCrc));
            }
            if (header.sequence != chain.sequence + 1) {
                throw new SnapshotFormatException("delta sequence " + Integer.toUnsignedString(header.sequence)
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
        boolean twoThreads = UnionHelper.wanted(unionThreads, source.remainingHint(offset) / entryBytes);
        try (UnionHelper helper = twoThreads
                ? new UnionHelper(target, MAX_BLOCK_ENTRIES - MAX_BLOCK_ENTRIES / 2) : null) {
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

    /**
     * Reads a table image (version 3): every stripe's table into an unpublished table of its geometry, the
     * dictionary, the end; nothing reaches the target before all of it passed its checks. An empty compact target
     * adopts the tables as they are (no code is re-hashed); any other target gets each entry unioned, decoded by a
     * scratch compact state that adopted them.
     */
    private long image(SnapshotDescriptor.Header header, CodeFormat format, int[] remap) throws IOException {
        final int keyBits = CompactCouponState.keyBitsOf(format);
        final int stripes = CompactCouponState.stripeCount();
        if (header.keyBits != keyBits || header.stripes != stripes) {
            throw new SnapshotFormatException("an image of " + header.stripes + " stripes over " + header.keyBits
                    + " key bits (expected: " + stripes + " stripes over " + keyBits + " for the format " + format
                    + ")", SnapshotFormatException.Kind.INCOMPATIBLE);
        }
        final long maskLimit = remap.length == 64 ? -1L : (1L << remap.length) - 1;
        final long minKey = Codes.firstOfLength(format.minLength());
        final long maxKey = Codes.lastOfLength(format.maxLength());
        final CRC32C block = new CRC32C();
        CompactCouponState.Table[] tables = new CompactCouponState.Table[stripes];
        boolean emptyMasks = false; // a side mask left empty by the writer's source limit
        for (int i = 0; i < stripes; i++) {
            final String where = "stripe " + i;
            long at = offset;
            checkedSection(block, SnapshotDescriptor.STRIPE_HEADER_BYTES - CRC_BYTES, where + " geometry");
            int index = buffer.getShort(pos) & 0xFFFF;
            int buckets = buffer.getInt(pos + 2);
            int wide = buffer.get(pos + 6);
            int qBits = buffer.get(pos + 7);
            int tagBits = buffer.get(pos + 8);
            int resizeAt = buffer.getInt(pos + 9);
            int sidePairs = buffer.getInt(pos + 13);
            final int width = buffer.get(pos + 17);
            final int imageTagBits = buffer.get(pos + 18);
            consume(SnapshotDescriptor.STRIPE_HEADER_BYTES);
            long slots = 8L * buckets;
            long room = source.remainingHint(offset);
            if (room <= 0) {
                room = unprovenEntries() * 8; // a stream that cannot tell its length: a bound on the heap
            }
            boolean packed = wide == 1 ? width >= 4 && width <= 8 && imageTagBits >= 1 && imageTagBits <= tagBits
                    && qBits + 1 + imageTagBits <= 8 * width
                    : wide == 0 && width == 4 && imageTagBits == tagBits;
            CompactCouponState.Table t = index != i || !packed || sidePairs < 0 || sidePairs > slots
                    || slots * width > room ? null
                    : CompactCouponState.imageTable(keyBits, buckets, wide == 1, qBits, tagBits, resizeAt);
            if (t == null) {
                throw new SnapshotFormatException(where + " geometry at byte " + at + ": index " + index + ", "
                        + buckets + " buckets, wide " + wide + ", quotient bits " + qBits + ", tag bits " + tagBits
                        + ", " + sidePairs + " side pairs, slots of " + width + " bytes with " + imageTagBits
                        + " tag bits: no compact table has it (or the input is too short)");
            }
            int[][] ints = CompactCouponState.intPages(t);
            long[][] longs = CompactCouponState.longPages(t);
            final int pageBits = CompactCouponState.PAGE_BITS;
            for (int from = 0, block_ = 0; from < slots; block_++) {
                int n = imageBlock(block, width, 1, slots - from, where + " slot block " + block_);
                ByteBuffer view = buffer.duplicate();
                view.limit(pos + 8 + n * width).position(pos + 8);
                java.nio.IntBuffer intView = wide == 0 ? view.asIntBuffer() : null;
                int p = pos + 8;
                for (int done = 0; done < n; ) {
                    int s = from + done;
                    int page = s >>> pageBits;
                    int off = s & ((1 << pageBits) - 1);
                    int run = Math.min(n - done, (1 << pageBits) - off);
                    if (wide == 0) {
                        intView.get(ints[page], off, run);
                    } else {
                        p = unpack(longs[page], off, run, p, width, qBits + 1, imageTagBits, tagBits, where);
                    }
                    done += run;
                }
                consume(8 + n * width + CRC_BYTES);
                from += n;
            }
            for (int read = 0, block_ = 0; read < sidePairs; block_++) {
                int n = imageBlock(block, 16, 1, sidePairs - read, where + " side block " + block_);
                for (int p = pos + 8, e = 0; e < n; e++, p += 16) {
                    long code = buffer.getLong(p);
                    long mask = buffer.getLong(p + 8);
                    if (code < minKey || code > maxKey || (mask & ~maskLimit) != 0) {
                        throw new SnapshotFormatException(where + " side block " + block_ + ": code number " + code
                                + " with mask 0x" + Long.toHexString(mask) + " (expected: a code of the format "
                                + format + ", a mask within " + remap.length + " sources)");
                    }
                    emptyMasks |= mask == 0;
                    CompactCouponState.putImageSide(t, code, mask);
                }
                consume(8 + n * 16 + CRC_BYTES);
                read += n;
            }
            tables[i] = t;
        }
        int tags = imageBlock(block, 8, 0, 1022, "dictionary");
        long[] dict = new long[tags + 1];
        long[] renumbered = new long[tags + 1];
        for (int tag = 1; tag <= tags; tag++) {
            long mask = buffer.getLong(pos + 8 * tag);
            if ((mask & ~maskLimit) != 0) {
                throw new SnapshotFormatException("dictionary: tag " + tag + " has mask 0x" + Long.toHexString(mask)
                        + " (expected: within " + remap.length + " sources)");
            }
            emptyMasks |= mask == 0;
            dict[tag] = mask;
            renumbered[tag] = remapped(mask, remap);
        }
        consume(8 + 8 * tags + CRC_BYTES);
        long marker = take(8, "end marker");
        long declared = take(8, "total entry count");
        long expected = whole.getValue();
        long stored = take(4, "checksum");
        if (marker != 0) {
            throw new SnapshotFormatException("end marker " + marker + " after the dictionary (expected: 0)");
        }
        if (stored != expected) {
            throw new SnapshotFormatException(String.format(
                    "checksum mismatch: stored 0x%08x, computed 0x%08x", stored, expected));
        }
        long codes;
        try {
            codes = CompactCouponState.checkImage(tables, dict);
        } catch (IllegalArgumentException e) {
            throw new SnapshotFormatException(e.getMessage());
        }
        boolean identity = true;
        for (int i = 0; i < remap.length; i++) {
            identity &= remap[i] == i;
        }
        if (!emptyMasks && declared != codes) {
            throw new SnapshotFormatException("total entry count " + declared + " but the image holds " + codes);
        }
        if (!emptyMasks && target instanceof CompactCouponState
                && ((CompactCouponState) target).adoptImage(tables, renumbered, identity ? null : remap, true)) {
            // what the target was sized for, or asked to make room for, beyond the image's geometry
            target.ensureCapacity(Math.max(target.config().expectedCodes(), target.size() + extra));
            return codes;
        }
        CompactCouponState scratch = new CompactCouponState(CouponStateConfig.builder()
                .codeLength(format.minLength(), format.maxLength()).caseInsensitive(format.caseInsensitive())
                .build());
        scratch.adoptImage(tables, dict, null, false);
        target.ensureCapacity(priorSize + codes + extra);
        long[] entries = {0};
        final boolean same = identity;
        scratch.forEachEntry((key, mask) -> {
            if (mask != 0) { // an entry of sources registered after the write started only: not in the image
                target.union(key, same ? mask : remapped(mask, remap));
                entries[0]++;
            }
        });
        if (declared != entries[0]) {
            throw new SnapshotFormatException("total entry count " + declared + " but " + entries[0]
                    + " entries read");
        }
        return entries[0];
    }

    /**
     * Unpacks {@code run} long slots of {@code width} bytes from buffer position {@code p} into {@code page} from
     * {@code off}, widening the tag from {@code imageTagBits} to {@code tagBits} (the spill tag is all ones in
     * both); returns the position after them. Reads 8 bytes per slot: at most 4 past the last slot, which the block's
     * checksum holds.
     */
    private int unpack(long[] page, int off, int run, int p, int width, int tagShift, int imageTagBits, int tagBits,
            String where) throws SnapshotFormatException {
        final int drop = 64 - 8 * width;
        final long idMask = (1L << tagShift) - 1;
        final long imageSpill = (1L << imageTagBits) - 1;
        final long spill = (1L << tagBits) - 1;
        for (int k = off; k < off + run; k++, p += width) {
            long x = buffer.getLong(p) >>> drop;
            long tag = x >>> tagShift;
            if (tag > imageSpill) {
                throw new SnapshotFormatException(where + ": slot " + k + " of its page has tag " + tag
                        + " (expected: at most " + imageSpill + ")");
            }
            page[k] = tag == imageSpill ? spill << tagShift | (x & idMask) : x;
        }
        return p;
    }

    /**
     * Makes an image block available and checks it: count u64 ({@code min..max}, at most the block limit), count
     * items of {@code width} bytes, CRC32C of both. Returns the count; the items start at {@code pos + 8}, and the
     * caller consumes the block.
     */
    private int imageBlock(CRC32C block, int width, long min, long max, String what) throws IOException {
        long at = offset;
        fill(8, what + " count");
        long count = buffer.getLong(pos);
        long most = Math.min(MAX_BLOCK_ENTRIES, max);
        if (count < min || count > most) {
            throw new SnapshotFormatException(what + " at byte " + at + " claims " + Long.toUnsignedString(count)
                    + " items (expected: " + min + ".." + most + ")");
        }
        int bytes = 8 + (int) count * width;
        fill(bytes + CRC_BYTES, what + " of " + count + " items and its checksum");
        checkCrc(block, bytes, what + " at byte " + at);
        return (int) count;
    }

    /** Makes a fixed-size section and its CRC32C available and checks it; the caller consumes both. */
    private void checkedSection(CRC32C block, int bytes, String what) throws IOException {
        long at = offset;
        fill(bytes + CRC_BYTES, what);
        checkCrc(block, bytes, what + " at byte " + at);
    }

    private void checkCrc(CRC32C block, int bytes, String what) throws SnapshotFormatException {
        block.reset();
        crc(block, buffer, pos, pos + bytes);
        long computed = block.getValue();
        long stored = Integer.toUnsignedLong(buffer.getInt(pos + bytes));
        if (stored != computed) {
            throw new SnapshotFormatException(String.format("%s: checksum mismatch: stored 0x%08x, computed 0x%08x",
                    what, stored, computed));
        }
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

    /** Reads {@code bytes} (at most 8) as an unsigned big-endian number and consumes them. */
    @Override
    public long take(int bytes, String what) throws IOException {
        fill(bytes, what);
        long v = getBytes(pos, bytes);
        consume(bytes);
        return v;
    }

    @Override
    public String utf8(int length, String what) throws IOException {
        fill(length, what);
        byte[] out = new byte[length];
        buffer.get(pos, out);
        consume(length);
        return new String(out, StandardCharsets.UTF_8);
    }

    @Override
    public long checksum() {
        return whole.getValue();
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

    /** Where a reader's bytes come from: a file (read in large transfers) or a stream (read exactly as needed). */
    abstract static class Source implements AutoCloseable {
        final ByteBuffer buffer;

        private Source(ByteBuffer buffer) {
            this.buffer = buffer;
        }

        static Source of(Path file) throws IOException {
            FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
            return new Source(ByteBuffer.allocateDirect(SnapshotDescriptor.FILE_BUFFER)) {
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
            return new Source(ByteBuffer.allocateDirect(SnapshotDescriptor.FILE_BUFFER)) {
                @Override
                int readMore(int atLeast) throws IOException {
                    return channel.read(buffer);
                }

                @Override
                long remainingHint(long consumed) {
                    return Math.max(0, size - consumed);
                }

                @Override
                public void close() {
                    // the caller's channel stays open
                }
            };
        }

        /** From a stream; the stream stays open, and nothing past the snapshot's end is read from it. */
        static Source of(InputStream in) {
            return new Source(ByteBuffer.allocate(SnapshotDescriptor.STREAM_BUFFER)) {
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
}
