package io.couponstate.kafka.internal.checkpoint;

import io.couponstate.core.SnapshotFormatException;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;

/**
 * The checkpoint file format, as a descriptor: names, magic, version, limits, and the header's encoding and decoding.
 * Stateless and thread-safe.
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
 * state   a CouponSnapshots base or delta (version 3) or snapshot (versions 1 and 2), with its own magic,
 *         version, chain id and sequence, block and whole-stream CRC32C
 * </pre>
 * Version 2 files (a snapshot, no kind) and version 1 files (no topic ids either) are still read, as bases.
 *
 * <p>A failed check is a {@link SnapshotFormatException}: {@code DAMAGED} for what a torn or flipped byte explains
 * (magic, checksum, truncation, impossible counts), {@code INCOMPATIBLE} for what only another writer explains (a
 * newer version, an unknown kind), checked after the checksum vouched for the bytes.
 */
public final class CheckpointFormat {

    /** "CKPT". */
    public static final int MAGIC = 0x434b5054;
    /** The format version written; versions 1 (no topic ids) and 2 (no chains) are still read. */
    public static final int VERSION = 3;
    /** The kind of a full snapshot of the state (and of every version 1 and 2 file). */
    public static final int KIND_BASE = 1;
    /** The kind of the changes since the previous checkpoint of a chain. */
    public static final int KIND_DELTA = 2;
    /** The most partitions, and the most topic ids, a header holds. */
    public static final int MAX_PARTITIONS = 1_000_000;
    /** The longest topic name, in UTF-8 bytes. */
    public static final int MAX_TOPIC_BYTES = 0xFFFF;
    /** The fewest bytes a snapshot entry takes (a 7-byte key and a 1-byte mask): bounds the entries of a file. */
    public static final int MIN_ENTRY_BYTES = 8;
    /** The start of every checkpoint file name. */
    public static final String PREFIX = "checkpoint-";
    /** The end of every complete checkpoint file name. */
    public static final String SUFFIX = ".ckpt";

    private CheckpointFormat() {
    }

    /** The name of the checkpoint file of {@code sequence}. */
    public static String fileName(long sequence) {
        return String.format("%s%020d%s", PREFIX, sequence, SUFFIX);
    }

    /** A decoded, checksum-checked header. Immutable. */
    public static final class Header {
        private final Path file;
        private final int version;
        private final long sequence;
        private final int kind;
        private final long baseSequence;
        private final Map<TopicPartition, Long> offsets;
        private final Map<String, Uuid> topicIds;
        private final long length;
        private final long size;

        Header(Path file, int version, long sequence, int kind, long baseSequence, Map<TopicPartition, Long> offsets,
                Map<String, Uuid> topicIds, long length, long size) {
            this.file = file;
            this.version = version;
            this.sequence = sequence;
            this.kind = kind;
            this.baseSequence = baseSequence;
            this.offsets = Collections.unmodifiableMap(offsets);
            this.topicIds = Collections.unmodifiableMap(topicIds);
            this.length = length;
            this.size = size;
        }

        /** The file it was read from. */
        public Path file() {
            return file;
        }

        /** The format version, 1 to {@link #VERSION}. */
        public int version() {
            return version;
        }

        /** The checkpoint's sequence number. */
        public long sequence() {
            return sequence;
        }

        /** {@link #KIND_BASE} or {@link #KIND_DELTA}; a version 1 or 2 file is a base. */
        public int kind() {
            return kind;
        }

        /** Whether the file holds a delta. */
        public boolean isDelta() {
            return kind == KIND_DELTA;
        }

        /** A base's own sequence; a delta's base's. */
        public long baseSequence() {
            return baseSequence;
        }

        /** Per partition, the next offset to apply. */
        public Map<TopicPartition, Long> offsets() {
            return offsets;
        }

        /** The id of each topic when written; empty for a version 1 file. */
        public Map<String, Uuid> topicIds() {
            return topicIds;
        }

        /** The header's bytes, its CRC included: where the state starts. */
        public long length() {
            return length;
        }

        /** The file's bytes. */
        public long size() {
            return size;
        }
    }

    /**
     * Encodes a version {@value #VERSION} header; refuses bad input before any file exists.
     *
     * @throws IllegalArgumentException for a negative offset, too many partitions or topics, a too long topic name
     */
    public static byte[] encode(long sequence, long nowMillis, int kind, long baseSequence,
            Map<TopicPartition, Long> offsets, Map<String, Uuid> topicIds) {
        if (offsets.size() > MAX_PARTITIONS || topicIds.size() > MAX_PARTITIONS) {
            throw new IllegalArgumentException("offsets: " + offsets.size() + " partitions, topicIds: "
                    + topicIds.size() + " topics (expected: at most " + MAX_PARTITIONS + " each)");
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + offsets.size() * 32 + topicIds.size() * 48);
        DataOutputStream out = new DataOutputStream(bytes);
        try {
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
                    throw new IllegalArgumentException("offset of " + e.getKey() + ": " + offset
                            + " (expected: >= 0)");
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
        } catch (IOException e) {
            throw new AssertionError("a byte array stream does not fail", e);
        }
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

    /**
     * Reads and checks the header of {@code file}, without its state.
     *
     * @throws SnapshotFormatException saying which check failed, of kind {@code DAMAGED} or {@code INCOMPATIBLE}
     * @throws IOException if the file cannot be read
     */
    public static Header decode(Path file) throws IOException {
        long size = Files.size(file);
        try (InputStream raw = Files.newInputStream(file)) {
            CRC32C crc = new CRC32C();
            DataInputStream data = new DataInputStream(new CheckedInputStream(new BufferedInputStream(raw, 1 << 16),
                    crc));
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
                long length = 4 + 2 + 8 + 8;
                long sequence = data.readLong();
                data.readLong(); // written at: for people reading the file
                int kind = KIND_BASE;
                long baseSequence = sequence;
                if (version >= 3) {
                    kind = data.readUnsignedByte();
                    baseSequence = data.readLong();
                    length += 1 + 8;
                }
                Map<TopicPartition, Long> offsets = new LinkedHashMap<>();
                int count = count(data.readInt(), "partition count");
                length += 4;
                for (int i = 0; i < count; i++) {
                    String topic = topic(data);
                    int partition = data.readInt();
                    long offset = data.readLong();
                    if (partition < 0 || offset < 0) {
                        throw new SnapshotFormatException("partition " + partition + " offset " + offset
                                + " (expected: >= 0)");
                    }
                    offsets.put(new TopicPartition(topic, partition), offset);
                    length += 2 + topic.getBytes(StandardCharsets.UTF_8).length + 4 + 8;
                }
                Map<String, Uuid> topicIds = new LinkedHashMap<>();
                if (version >= 2) {
                    int ids = count(data.readInt(), "topic id count");
                    length += 4;
                    for (int i = 0; i < ids; i++) {
                        String topic = topic(data);
                        topicIds.put(topic, new Uuid(data.readLong(), data.readLong()));
                        length += 2 + topic.getBytes(StandardCharsets.UTF_8).length + 16;
                    }
                }
                int computed = (int) crc.getValue(); // before the stored value passes through the checked stream
                int stored = data.readInt();
                length += 4;
                if (stored != computed) {
                    throw new SnapshotFormatException(String.format("checkpoint header CRC32C mismatch (stored "
                            + "0x%08x, computed 0x%08x)", stored, computed));
                }
                // checked after the checksum vouched for the bytes: a kind we do not know is from a newer writer
                if (kind != KIND_BASE && kind != KIND_DELTA
                        || kind == KIND_BASE && baseSequence != sequence
                        || kind == KIND_DELTA && baseSequence >= sequence) {
                    throw new SnapshotFormatException("checkpoint kind " + kind + " with base sequence "
                            + baseSequence + " at sequence " + sequence + " (expected: 1 base with its own "
                            + "sequence or 2 delta with an earlier one)", SnapshotFormatException.Kind.INCOMPATIBLE);
                }
                return new Header(file, version, sequence, kind, baseSequence, offsets, topicIds, length, size);
            } catch (EOFException e) {
                throw new SnapshotFormatException("checkpoint header truncated");
            }
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
}
