package io.couponstate.kafka.internal.partition;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * The partition of a code: Kafka's default partitioner over the code's record key, {@code
 * Utils.toPositive(Utils.murmur2(key)) % partitions}, where the key is the code's bytes with {@code a-z} upper-cased
 * (so the spellings of one code under a case-insensitive format share a partition). The publisher places records
 * with it and the partitioned state routes codes with it, so both always agree, and topics written before keep their
 * layout. Reads the code in place: allocates nothing for ASCII. Stateless and thread-safe.
 */
public final class CodePartitioner {

    private static final int SEED = 0x9747b28c;
    private static final int M = 0x5bd1e995;
    private static final int R = 24;
    private static final int CASE_OFFSET = 'a' - 'A';

    private CodePartitioner() {
    }

    /** The partition of the code {@code code[offset, offset + length)} on a topic of {@code partitions}. */
    public static int partition(byte[] code, int offset, int length, int partitions) {
        Objects.checkFromIndexSize(offset, length, code.length);
        return toPartition(murmur2(code, offset, length), partitions);
    }

    /**
     * The partition of {@code code} on a topic of {@code partitions}: as {@link #partition(byte[], int, int, int)} of
     * its ASCII bytes, or of its UTF-8 bytes when it holds anything beyond ASCII.
     */
    public static int partition(CharSequence code, int partitions) {
        int length = code.length();
        for (int i = 0; i < length; i++) {
            if (code.charAt(i) > 0x7F) {
                byte[] utf8 = code.toString().getBytes(StandardCharsets.UTF_8);
                return partition(utf8, 0, utf8.length, partitions);
            }
        }
        return toPartition(murmur2(code, length), partitions);
    }

    /** The record key the publisher sends: the code with {@code a-z} upper-cased (the array itself if it has none). */
    public static byte[] key(byte[] code) {
        byte[] key = code;
        for (int i = 0; i < code.length; i++) {
            byte b = code[i];
            if (b >= 'a' && b <= 'z') {
                if (key == code) {
                    key = code.clone();
                }
                key[i] = (byte) (b - CASE_OFFSET);
            }
        }
        return key;
    }

    /** Kafka's {@code Utils.murmur2} of the key of the code {@code code[offset, offset + length)}. */
    public static int hash(byte[] code, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, code.length);
        return murmur2(code, offset, length);
    }

    private static int toPartition(int hash, int partitions) {
        return (hash & 0x7fffffff) % partitions; // Utils.toPositive(hash) % numPartitions
    }

    private static int murmur2(byte[] data, int offset, int length) {
        return murmur2(data, null, offset, length);
    }

    private static int murmur2(CharSequence data, int length) {
        return murmur2(null, data, 0, length);
    }

    /**
     * Kafka's {@code Utils.murmur2} (seed 0x9747b28c) over {@code length} bytes of {@code bytes} from {@code offset},
     * or, when {@code bytes} is null, of the chars of {@code chars}: one loop for both, without a key array (the JIT
     * hoists the null check out of the loop).
     */
    @SuppressWarnings("fallthrough") // the tail bytes, as in Kafka's murmur2
    private static int murmur2(byte[] bytes, CharSequence chars, int offset, int length) {
        int h = SEED ^ length;
        int length4 = length / 4;
        for (int i = 0; i < length4; i++) {
            int i4 = i * 4;
            int k = at(bytes, chars, offset, i4) + (at(bytes, chars, offset, i4 + 1) << 8)
                    + (at(bytes, chars, offset, i4 + 2) << 16) + (at(bytes, chars, offset, i4 + 3) << 24);
            k *= M;
            k ^= k >>> R;
            k *= M;
            h *= M;
            h ^= k;
        }
        int tail = length & ~3;
        switch (length % 4) {
            case 3:
                h ^= at(bytes, chars, offset, tail + 2) << 16;
                // fall through
            case 2:
                h ^= at(bytes, chars, offset, tail + 1) << 8;
                // fall through
            case 1:
                h ^= at(bytes, chars, offset, tail);
                h *= M;
                break;
            default:
                break;
        }
        h ^= h >>> 13;
        h *= M;
        h ^= h >>> 15;
        return h;
    }

    private static int at(byte[] bytes, CharSequence chars, int offset, int i) {
        return upper(bytes != null ? bytes[offset + i] : chars.charAt(i));
    }

    /** The unsigned byte value of an ASCII byte or char, {@code a-z} upper-cased. */
    private static int upper(int c) {
        int b = c & 0xff;
        return b >= 'a' && b <= 'z' ? b - CASE_OFFSET : b;
    }
}
