package io.couponstate.core;

import io.couponstate.core.internal.Codes;
import io.couponstate.core.internal.SourceRegistry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The layout of a snapshot, base or delta file, with the header's encode and decode beside it.
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
 * <p>Version 3, the table image, is what a {@link CompactCouponState} writes for a snapshot or a base (its deltas,
 * and everything the other implementations write, stay version 2): its tables as they are, so that an empty compact
 * state adopts them without re-hashing a code. Every implementation reads it.
 * <pre>
 * header  as version 2 with version u16 = 3, kind 0 or 1, then after the mask bytes:
 *         | key bits u8 (the width of the bijective hash) | stripe count u16 (64) | CRC32C u32 of the header
 * stripe  per stripe, in index order:
 *         geometry  index u16 | bucket count u32 | wide u8 (slots are longs: 1, ints: 0) | quotient bits u8
 *                   | tag bits u8 | resize threshold u32 | side pairs u32 | slot bytes u8 | image tag bits u8
 *                   | CRC32C u32 of the geometry
 *         slots     blocks of slot count u64 (1..65536) | the slots, slot bytes each, big-endian, slot index
 *                   order | CRC32C u32 of the block (count and slots); bucket count * 8 slots in all
 *         side      blocks of pair count u64 (1..65536) | pairs: code number u64, mask u64 | CRC32C u32; as many
 *                   pairs in all as the geometry says (none: no block)
 * dictionary        tag count u64 n (0..1022) | the mask u64 of tags 1..n | CRC32C u32 of the block
 * end     u64 = 0 | total entries u64 | CRC32C u32 of every byte before it
 * </pre>
 * A slot is {@code tag << (quotient bits + 1) | alt << quotient bits | quotient}; 0 is an empty slot, the tag
 * {@code 2^tag bits - 1} says the mask is the code's side pair, any other tag is a dictionary number. Int slots are
 * written as they are (4 bytes, image tag bits = tag bits). Long slots are written in the fewest bytes (at least 4)
 * that hold the quotient, the alt bit and a tag of image tag bits, enough for every dictionary number when the
 * stripe was copied; the spill tag is then {@code 2^image tag bits - 1}, widened back when read. The code is
 * recovered from the stripe index, the quotient, the bucket (the home bucket, or the second one when alt is set)
 * and the inverse of the hash (see {@link CompactCouponState}). Each stripe is copied under its lock and written
 * from the copy, so its geometry is the one it had at that moment (stripes grow independently); the dictionary is
 * written after every stripe, so it numbers every tag a copied slot holds. Masks hold only the sources named in the
 * header: an entry whose mask is then 0 (a code seen only by sources registered after the write started) keeps its
 * slot, since removing it would break its bucket, and the reader skips it. The total counts the entries with a
 * non-zero mask. A stale side pair (its code's slot holds a dictionary number) is never written.
 *
 * <p>Entries are written in the order of the state's table walk. For a {@link LockFreeCouponState} that is slot
 * order, and slot order is hash order for any capacity (the slot index is a multiply-shift reduction of the hash,
 * monotone in it), so a restore into a table that holds every entry writes its slots front to back. The hint (the
 * state's size when the write started; the exact count is in the trailer) lets a reader grow the target once, before
 * loading, to the snapshot's size: hash-ordered entries poured into a table smaller than their number would pile up
 * in one probe run.
 */
final class SnapshotDescriptor {

    /** "CPST". */
    static final int MAGIC = 0x43505354;
    /** The entry-list version: every delta, and the snapshots and bases of states other than compact ones. */
    static final int VERSION = 2;
    /** The table image: snapshots and bases of a {@link CompactCouponState}. */
    static final int IMAGE_VERSION = 3;
    static final int MAX_BLOCK_ENTRIES = 65_536;
    static final int MAX_NAME_BYTES = SourceRegistry.MAX_NAME_BYTES;

    static final int KIND_SNAPSHOT = 0;
    static final int KIND_BASE = 1;
    static final int KIND_DELTA = 2;
    private static final String[] KINDS = {"snapshot", "base", "delta"};

    /** A block's entry count and an end's zero count. */
    static final int COUNT_BYTES = 8;
    static final int CRC_BYTES = 4;
    /** The end: a zero count, the total, the stream checksum. */
    static final int END_BYTES = COUNT_BYTES + 8 + CRC_BYTES;
    /** A stripe's geometry in an image, with its checksum. */
    static final int STRIPE_HEADER_BYTES = 2 + 4 + 1 + 1 + 1 + 4 + 4 + 1 + 1 + CRC_BYTES;
    /** The header without its source names, rounded up. */
    private static final int FIXED_HEADER_BYTES = 64;

    /** File I/O in buffers this big: a few large sequential transfers instead of many small ones. */
    static final int FILE_BUFFER = 4 << 20;
    /** A stream's buffer: the largest block (65536 entries of 16 bytes) and then some. */
    static final int STREAM_BUFFER = (1 << 20) + (16 << 10);

    private SnapshotDescriptor() {
    }

    /** The kind's name, for messages. */
    static String kindName(int kind) {
        return KINDS[kind];
    }

    /** The bytes of a key: 7 for the formats whose code numbers fit a packed slot, else 8. */
    static int keyBytes(int maxLength) {
        return maxLength <= Codes.PACKED_MAX_LENGTH ? 7 : 8;
    }

    /** The bytes of a source mask over {@code sources} sources: 1 to 8. */
    static int maskBytes(int sources) {
        return Math.max(1, (sources + 7) / 8);
    }

    /** The most bytes a header over {@code sources} sources takes. */
    static int maxHeaderBytes(int sources) {
        return FIXED_HEADER_BYTES + sources * (2 + MAX_NAME_BYTES);
    }

    /** The most bytes a block takes: its count, its entries, its checksum. */
    static int maxBlockBytes(int entryBytes) {
        return COUNT_BYTES + MAX_BLOCK_ENTRIES * entryBytes + CRC_BYTES;
    }

    /** Updates {@code crc} with bytes {@code from..to} of {@code buffer}, leaving its position and limit alone. */
    static void crc(CRC32C crc, ByteBuffer buffer, int from, int to) {
        ByteBuffer view = buffer.duplicate();
        view.limit(to).position(from);
        crc.update(view);
    }

    /**
     * Puts a version 2 header at {@code buffer}'s position, which must have {@link #maxHeaderBytes} room; returns
     * its checksum (the last field put).
     */
    static int putHeader(ByteBuffer buffer, int kind, CodeFormat format, int threshold, long chainId, int sequence,
            int baseCrc, long hint, List<String> sources) throws IOException {
        return putHeader(buffer, VERSION, kind, format, threshold, chainId, sequence, baseCrc, hint, sources, 0, 0);
    }

    /**
     * Puts a header of {@code version} (2, or {@link #IMAGE_VERSION} with the key bits and stripe count of the
     * image) at {@code buffer}'s position, which must have {@link #maxHeaderBytes} room; returns its checksum.
     */
    static int putHeader(ByteBuffer buffer, int version, int kind, CodeFormat format, int threshold, long chainId,
            int sequence, int baseCrc, long hint, List<String> sources, int keyBits, int stripes) throws IOException {
        int start = buffer.position();
        buffer.putInt(MAGIC);
        buffer.putShort((short) version);
        buffer.put((byte) kind);
        buffer.put((byte) format.minLength());
        buffer.put((byte) format.maxLength());
        buffer.put((byte) (format.caseInsensitive() ? 1 : 0));
        buffer.putShort((short) threshold);
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
        buffer.put((byte) keyBytes(format.maxLength()));
        buffer.put((byte) maskBytes(sources.size()));
        if (version == IMAGE_VERSION) {
            buffer.put((byte) keyBits);
            buffer.putShort((short) stripes);
        }
        CRC32C crc = new CRC32C();
        crc(crc, buffer, start, buffer.position());
        int headerCrc = (int) crc.getValue();
        buffer.putInt(headerCrc);
        return headerCrc;
    }

    /** Where a header is decoded from: the start of a stream. */
    interface Input {
        /** Reads {@code bytes} (at most 8) as an unsigned big-endian number, or fails naming {@code what}. */
        long take(int bytes, String what) throws IOException;

        /** Reads {@code length} bytes of UTF-8. */
        String utf8(int length, String what) throws IOException;

        /** The CRC32C of every byte taken so far. */
        long checksum();
    }

    /**
     * Decodes and checks a header of either version: magic, version, source names, checksum and the shape of its
     * kind. What depends on the reader (the kind it expects, its chain, its code format) is the reader's to check.
     */
    static Header decodeHeader(Input in) throws IOException {
        long magic = in.take(4, "magic");
        if (magic != (MAGIC & 0xFFFF_FFFFL)) {
            throw new SnapshotFormatException(String.format(
                    "not a coupon-state snapshot: magic 0x%08x (expected: 0x%08x \"CPST\")", magic, MAGIC));
        }
        int version = (int) in.take(2, "version");
        if (version < 1 || version > IMAGE_VERSION) {
            throw new SnapshotFormatException(
                    "unsupported snapshot version " + version + " (expected: 1, " + VERSION + " or " + IMAGE_VERSION
                    + ")",
                    SnapshotFormatException.Kind.INCOMPATIBLE);
        }
        int kind = version == 1 ? KIND_SNAPSHOT : (int) in.take(1, "kind");
        int min = (int) in.take(1, "format");
        int max = (int) in.take(1, "format");
        int folded = (int) in.take(1, "format");
        in.take(2, "threshold");
        long chainId = 0;
        int sequence = 0;
        int baseCrc = 0;
        long hint = -1;
        if (version >= 2) {
            chainId = in.take(8, "chain id");
            sequence = (int) in.take(4, "sequence");
            baseCrc = (int) in.take(4, "base checksum");
            hint = in.take(8, "entry count hint");
        }
        int sourceCount = (int) in.take(2, "source count");
        if (sourceCount > CouponStateConfig.MAX_SOURCES) {
            throw new SnapshotFormatException("source count " + sourceCount + " (expected: <= 64)");
        }
        String[] names = new String[sourceCount];
        for (int i = 0; i < sourceCount; i++) {
            int length = (int) in.take(2, "source name length");
            if (length == 0 || length > MAX_NAME_BYTES) {
                throw new SnapshotFormatException("source " + i + " name length " + length
                        + " (expected: 1.." + MAX_NAME_BYTES + ")");
            }
            names[i] = in.utf8(length, "source name");
        }
        int keyBytes = (int) in.take(1, "key width");
        int maskBytes = (int) in.take(1, "mask width");
        int keyBits = 0;
        int stripes = 0;
        if (version == IMAGE_VERSION) {
            keyBits = (int) in.take(1, "key bits");
            stripes = (int) in.take(2, "stripe count");
        }
        long expectedCrc = in.checksum();
        long headerCrc = in.take(4, "header checksum");
        if (headerCrc != expectedCrc) {
            throw new SnapshotFormatException(String.format(
                    "header checksum mismatch: stored 0x%08x, computed 0x%08x", headerCrc, expectedCrc));
        }
        Header header = new Header(kind, min, max, folded == 1, chainId, sequence, baseCrc, hint, names, keyBytes,
                maskBytes, (int) headerCrc, version, keyBits, stripes);
        header.checkShape();
        return header;
    }

    /** A decoded header whose checksum passed. */
    static final class Header {
        final int kind;
        final int minLength;
        final int maxLength;
        final boolean caseInsensitive;
        final long chainId;
        final int sequence;
        final int baseCrc;
        /** The writer's entry count estimate; -1 in version 1. */
        final long hint;
        final String[] sources;
        final int keyBytes;
        final int maskBytes;
        final int crc;
        final int version;
        /** An image's (version 3) key bits and stripe count; 0 in versions 1 and 2. */
        final int keyBits;
        final int stripes;

        Header(int kind, int minLength, int maxLength, boolean caseInsensitive, long chainId, int sequence,
                int baseCrc, long hint, String[] sources, int keyBytes, int maskBytes, int crc, int version,
                int keyBits, int stripes) {
            this.version = version;
            this.keyBits = keyBits;
            this.stripes = stripes;
            this.kind = kind;
            this.minLength = minLength;
            this.maxLength = maxLength;
            this.caseInsensitive = caseInsensitive;
            this.chainId = chainId;
            this.sequence = sequence;
            this.baseCrc = baseCrc;
            this.hint = hint;
            this.sources = sources;
            this.keyBytes = keyBytes;
            this.maskBytes = maskBytes;
            this.crc = crc;
        }

        private void checkShape() throws SnapshotFormatException {
            if (kind > KIND_DELTA || (version == IMAGE_VERSION && kind == KIND_DELTA)) {
                throw new SnapshotFormatException("kind " + kind + " in version " + version
                        + " (expected: 0 snapshot, 1 base or, in version 2, 2 delta)");
            }
            boolean shaped = kind == KIND_SNAPSHOT ? chainId == 0 && sequence == 0 && baseCrc == 0
                    : kind == KIND_BASE ? chainId != 0 && sequence == 0 && baseCrc == 0
                    : chainId != 0 && sequence > 0;
            if (!shaped) {
                throw new SnapshotFormatException("a " + kindName(kind) + " with chain id " + chainId + ", sequence "
                        + Integer.toUnsignedString(sequence) + " and base checksum " + baseCrc
                        + " (expected: a snapshot has none, a base a chain id, a delta a chain id and a sequence"
                        + " >= 1)");
            }
        }

        /** The code format the header names; refused as incompatible when no format has those parameters. */
        CodeFormat format() throws SnapshotFormatException {
            try {
                return CodeFormat.of(minLength, maxLength, caseInsensitive);
            } catch (IllegalArgumentException e) {
                throw new SnapshotFormatException("code format: " + e.getMessage(),
                        SnapshotFormatException.Kind.INCOMPATIBLE); // the header checksum passed: not damage
            }
        }

        /** Checks that the entry widths are those of the format and the source count. */
        void checkWidths() throws SnapshotFormatException {
            if (keyBytes != keyBytes(maxLength) || maskBytes != maskBytes(sources.length)) {
                throw new SnapshotFormatException("entry widths key " + keyBytes + " / mask " + maskBytes
                        + " do not match the format and " + sources.length + " sources",
                        SnapshotFormatException.Kind.INCOMPATIBLE);
            }
        }

        /** The source names, for messages. */
        String sourceList() {
            return Arrays.toString(sources);
        }
    }
}
