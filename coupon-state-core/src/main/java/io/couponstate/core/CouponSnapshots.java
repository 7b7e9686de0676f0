package io.couponstate.core;

import io.couponstate.core.internal.Codes;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Objects;
import java.util.zip.CRC32C;

/**
 * Writes a state to a stream or file and reads one back as a <b>union</b> into any state of either implementation,
 * with source ids remapped by name.
 *
 * <p>Format, version 1 (all integers big-endian):
 * <pre>
 * header  magic "CPST" (4) | version u16 = 1 | min length u8 | max length u8 | case-insensitive u8
 *         | threshold u16 | source count u16, then per source: name length u16 + UTF-8 name
 *         | key bytes u8 (7 or 8) | mask bytes u8 (1..8) | CRC32C u32 of the header
 * blocks  entry count u64 (1..65536) | entries: key, mask | CRC32C u32 of the block (count and entries)
 * end     entry count u64 = 0 | total entries u64 | CRC32C u32 of every byte before it
 * </pre>
 * A reader refuses, with a {@link SnapshotFormatException} saying what failed: a wrong magic or version, a code
 * format different from the target's, a truncated stream, a bad checksum, a block count above 65536 (so a count
 * the stream cannot hold fails at once, whatever the heap), an entry outside the format, a wrong total.
 *
 * <p><b>Concurrency.</b> Writing reads the state while writers run: the snapshot holds every observation recorded
 * before the write started and may hold some recorded during it (weakly consistent). Reading applies each block
 * after its checksum passes; a read that fails part-way leaves the target holding the union of the blocks before
 * the failure: genuine observations, never corrupt ones. Restore into a fresh state to get all or nothing.
 */
public final class CouponSnapshots {

    /** "CPST". */
    public static final int MAGIC = 0x43505354;
    /** The format version this class writes. */
    public static final int VERSION = 1;
    /** The most entries one block may claim. */
    public static final int MAX_BLOCK_ENTRIES = 65_536;

    private static final int MAX_NAME_BYTES = 1024;

    private CouponSnapshots() {
    }

    /** Writes {@code state}; returns the number of entries written. Does not close {@code out}. */
    public static long write(CouponState state, OutputStream out) throws IOException {
        AbstractCouponState source = ours(state, "state");
        Objects.requireNonNull(out, "out");
        Writer writer = new Writer(new BufferedOutputStream(nonClosing(out), 1 << 16), source);
        writer.header();
        try {
            source.forEachEntry(writer::entry);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        writer.finish();
        return writer.total;
    }

    /**
     * Writes {@code state} to {@code file} atomically: to a temporary file beside it, fsynced, renamed over
     * {@code file}, then the directory fsynced. Returns the number of entries written.
     */
    public static long write(CouponState state, Path file) throws IOException {
        Objects.requireNonNull(file, "file");
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try {
            long entries;
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                OutputStream out = Channels.newOutputStream(channel);
                entries = write(state, out);
                out.flush();
                channel.force(true);
            }
            moveAtomically(tmp, file);
            fsyncDirectory(dir);
            return entries;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Reads a snapshot and unions it into {@code target}; returns the number of entries read. */
    public static long read(InputStream in, CouponState target) throws IOException {
        AbstractCouponState state = ours(target, "target");
        Objects.requireNonNull(in, "in");
        return new Reader(in instanceof BufferedInputStream ? in : new BufferedInputStream(in, 1 << 16), state).read();
    }

    /** Reads a snapshot file and unions it into {@code target}; returns the number of entries read. */
    public static long read(Path file, CouponState target) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            return read(in, target);
        } catch (SnapshotFormatException e) {
            throw new SnapshotFormatException(file + ": " + e.getMessage(), e.kind());
        }
    }

    /** Renames {@code from} over {@code to} atomically where the file system can. */
    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Makes a rename in {@code dir} durable; a no-op where directories cannot be opened (Windows). */
    static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            if (!System.getProperty("os.name", "").startsWith("Windows")) {
                throw e;
            }
        }
    }

    private static AbstractCouponState ours(CouponState state, String name) {
        Objects.requireNonNull(state, name);
        if (!(state instanceof AbstractCouponState)) {
            throw new IllegalArgumentException(name + ": " + state.getClass().getName()
                    + " (expected: a LockFreeCouponState or StripedLockCouponState)");
        }
        return (AbstractCouponState) state;
    }

    private static OutputStream nonClosing(OutputStream out) {
        return new java.io.FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                flush();
            }
        };
    }

    /** Streams entries into blocks; one per write call, not thread-safe. */
    private static final class Writer {
        private final OutputStream out;
        private final AbstractCouponState state;
        private final CRC32C whole = new CRC32C();
        private final CRC32C block = new CRC32C();
        private final byte[] buffer;
        private final int keyBytes;
        private final int maskBytes;
        private final long maskLimit;
        private final List<String> sources;
        private int inBlock;
        private int position;
        long total;

        Writer(OutputStream out, AbstractCouponState state) {
            this.out = out;
            this.state = state;
            this.sources = state.sourceNames(); // fixed now: bits of sources registered later are newer than us
            this.keyBytes = state.format.maxLength() <= Codes.PACKED_MAX_LENGTH ? 7 : 8;
            this.maskBytes = Math.max(1, (sources.size() + 7) / 8);
            this.maskLimit = sources.size() == 64 ? -1L : (1L << sources.size()) - 1;
            this.buffer = new byte[8 + MAX_BLOCK_ENTRIES * (keyBytes + maskBytes) + 4];
        }

        void header() throws IOException {
            CodeFormat format = state.format;
            position = 0;
            putInt(MAGIC, 4);
            putInt(VERSION, 2);
            putInt(format.minLength(), 1);
            putInt(format.maxLength(), 1);
            putInt(format.caseInsensitive() ? 1 : 0, 1);
            putInt(state.threshold, 2);
            putInt(sources.size(), 2);
            for (String name : sources) {
                byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
                if (utf8.length > MAX_NAME_BYTES) {
                    throw new IOException("source name longer than " + MAX_NAME_BYTES + " UTF-8 bytes: "
                            + name.substring(0, 40) + "...");
                }
                putInt(utf8.length, 2);
                System.arraycopy(utf8, 0, buffer, position, utf8.length);
                position += utf8.length;
            }
            putInt(keyBytes, 1);
            putInt(maskBytes, 1);
            whole.update(buffer, 0, position);
            putInt(whole.getValue(), 4);
            whole.update(buffer, position - 4, 4);
            emit(false);
            position = 8; // room for the block's count
        }

        void entry(long key, long mask) {
            long m = mask & maskLimit;
            if (m == 0) {
                return; // only sources registered after we started: newer than this snapshot
            }
            putInt(key, keyBytes);
            putInt(m, maskBytes);
            if (++inBlock == MAX_BLOCK_ENTRIES) {
                flushBlock();
            }
        }

        private void flushBlock() {
            if (inBlock == 0) {
                return;
            }
            int end = position;
            position = 0;
            putInt(inBlock, 8);
            position = end;
            block.reset();
            block.update(buffer, 0, position);
            whole.update(buffer, 0, position);
            putInt(block.getValue(), 4);
            whole.update(buffer, position - 4, 4);
            try {
                emit(false);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            total += inBlock;
            inBlock = 0;
            position = 8;
        }

        void finish() throws IOException {
            try {
                flushBlock();
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            position = 0;
            putInt(0, 8);
            putInt(total, 8);
            whole.update(buffer, 0, position);
            putInt(whole.getValue(), 4);
            emit(true);
        }

        private void emit(boolean flush) throws IOException {
            out.write(buffer, 0, position);
            position = 0;
            if (flush) {
                out.flush();
            }
        }

        private void putInt(long value, int bytes) {
            for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
                buffer[position++] = (byte) (value >>> shift);
            }
        }
    }

    /** Checks and applies one snapshot; not thread-safe. */
    private static final class Reader {
        private final InputStream in;
        private final AbstractCouponState target;
        private final CRC32C whole = new CRC32C();
        private byte[] buffer = new byte[256];
        private long offset;

        Reader(InputStream in, AbstractCouponState target) {
            this.in = in;
            this.target = target;
        }

        long read() throws IOException {
            long magic = take(4, "magic");
            if (magic != (MAGIC & 0xFFFF_FFFFL)) {
                throw new SnapshotFormatException(String.format(
                        "not a coupon-state snapshot: magic 0x%08x (expected: 0x%08x \"CPST\")", magic, MAGIC));
            }
            int version = (int) take(2, "version");
            if (version != VERSION) {
                throw new SnapshotFormatException(
                        "unsupported snapshot version " + version + " (expected: " + VERSION + ")",
                        SnapshotFormatException.Kind.INCOMPATIBLE);
            }
            int min = (int) take(1, "format");
            int max = (int) take(1, "format");
            int folded = (int) take(1, "format");
            take(2, "threshold");
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
                names[i] = new String(buffer, 0, length, StandardCharsets.UTF_8);
            }
            int keyBytes = (int) take(1, "key width");
            int maskBytes = (int) take(1, "mask width");
            long expectedHeaderCrc = whole.getValue();
            long headerCrc = take(4, "header checksum");
            if (headerCrc != expectedHeaderCrc) {
                throw new SnapshotFormatException(String.format(
                        "header checksum mismatch: stored 0x%08x, computed 0x%08x", headerCrc, expectedHeaderCrc));
            }
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
            return entries(format, keyBytes, maskBytes, remap);
        }

        private long entries(CodeFormat format, int keyBytes, int maskBytes, int[] remap) throws IOException {
            final int entryBytes = keyBytes + maskBytes;
            final long maskLimit = remap.length == 64 ? -1L : (1L << remap.length) - 1;
            CRC32C block = new CRC32C();
            long total = 0;
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
                int bytes = (int) count * entryBytes;
                fill(bytes + 4, "block of " + count + " entries and its checksum");
                block.reset();
                for (int shift = 56; shift >= 0; shift -= 8) {
                    block.update((int) (count >>> shift));
                }
                block.update(buffer, 0, bytes);
                long computed = block.getValue();
                long stored = getLong(bytes, 4);
                if (stored != computed) {
                    throw new SnapshotFormatException(String.format(
                            "block at byte %d: checksum mismatch: stored 0x%08x, computed 0x%08x",
                            blockStart, stored, computed));
                }
                // the block is intact: check every entry before applying any
                for (int pass = 0; pass < 2; pass++) {
                    int p = 0;
                    for (int e = 0; e < count; e++) {
                        long key = getLong(p, keyBytes);
                        long mask = getLong(p + keyBytes, maskBytes);
                        p += entryBytes;
                        if (pass == 0) {
                            int length = key > 0 ? Codes.length(key) : 0;
                            if (length < format.minLength() || length > format.maxLength()) {
                                throw new SnapshotFormatException("entry " + (total + e) + ": code number " + key
                                        + " is outside the format " + format);
                            }
                            if (mask == 0 || (mask & ~maskLimit) != 0) {
                                throw new SnapshotFormatException("entry " + (total + e) + ": source mask 0x"
                                        + Long.toHexString(mask) + " (expected: non-zero, within "
                                        + remap.length + " sources)");
                            }
                        } else {
                            target.merge(key, remapped(mask, remap));
                        }
                    }
                }
                total += count;
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

        private static long remapped(long mask, int[] remap) {
            long out = 0;
            for (long m = mask; m != 0; m &= m - 1) {
                out |= 1L << remap[Long.numberOfTrailingZeros(m)];
            }
            return out;
        }

        private long getLong(int position, int bytes) {
            long v = 0;
            for (int i = 0; i < bytes; i++) {
                v = (v << 8) | (buffer[position + i] & 0xFF);
            }
            return v;
        }

        /** Reads {@code bytes} (at most 8) as an unsigned big-endian number. */
        private long take(int bytes, String what) throws IOException {
            fill(bytes, what);
            return getLong(0, bytes);
        }

        /** Reads exactly {@code bytes} into the buffer, adding them to the whole-stream checksum. */
        private void fill(int bytes, String what) throws IOException {
            if (buffer.length < bytes) {
                buffer = new byte[Math.max(bytes, buffer.length * 2)];
            }
            int n = 0;
            while (n < bytes) {
                int r = in.read(buffer, n, bytes - n);
                if (r < 0) {
                    throw new SnapshotFormatException("truncated: the stream ends at byte " + (offset + n)
                            + " inside the " + what + " (" + bytes + " bytes expected there)");
                }
                n += r;
            }
            whole.update(buffer, 0, bytes);
            offset += bytes;
        }
    }

}
