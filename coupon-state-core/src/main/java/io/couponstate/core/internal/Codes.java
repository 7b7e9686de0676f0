package io.couponstate.core.internal;

/**
 * Reads a coupon code as a numeral in bijective base 36 and back.
 *
 * <p>Digits are {@code 0-9} = 1..10 and {@code A-Z} = 11..36; there is no zero digit, so the length is implicit
 * and {@code A}, {@code 0A} and {@code AA} are distinct numbers. Every code of up to 10 characters is below
 * 2^52 and of up to 12 characters below 2^63, and no code is 0, so 0 can mean "empty". Stateless and thread-safe;
 * nothing here allocates except {@link #decode(long)}.
 */
public final class Codes {

    /** Largest supported code length: 12 characters fit below 2^63. */
    public static final int MAX_LENGTH = 12;
    /** Codes of up to this many characters fit in {@link #PACKED_KEY_BITS} bits. */
    public static final int PACKED_MAX_LENGTH = 10;
    /** Bits a packed slot gives the key. */
    public static final int PACKED_KEY_BITS = 52;

    /** Negative results of {@code encode}: the rule that was broken. */
    public static final long BAD_LENGTH = -1L;
    public static final long NOT_ASCII = -2L;
    public static final long BAD_CHARACTER = -3L;

    private static final byte[] DIGIT = new byte[128];
    private static final byte[] DIGIT_FOLDED = new byte[128];
    private static final char[] SYMBOL = new char[37];

    static {
        for (int c = '0'; c <= '9'; c++) {
            DIGIT[c] = DIGIT_FOLDED[c] = (byte) (c - '0' + 1);
            SYMBOL[c - '0' + 1] = (char) c;
        }
        for (int c = 'A'; c <= 'Z'; c++) {
            DIGIT[c] = DIGIT_FOLDED[c] = (byte) (c - 'A' + 11);
            DIGIT_FOLDED[c - 'A' + 'a'] = (byte) (c - 'A' + 11);
            SYMBOL[c - 'A' + 11] = (char) c;
        }
    }

    private Codes() {
    }

    /**
     * Encodes ASCII bytes; returns the code's number (> 0) or one of the negative rule constants. Never throws for
     * bad content; the caller has checked the bounds of {@code offset} and {@code length}.
     */
    public static long encode(byte[] code, int offset, int length, int minLength, int maxLength, boolean fold) {
        if (length < minLength || length > maxLength) {
            return BAD_LENGTH;
        }
        final byte[] digits = fold ? DIGIT_FOLDED : DIGIT;
        long value = 0;
        for (int i = offset, end = offset + length; i < end; i++) {
            int b = code[i];
            if (b < 0) {
                return NOT_ASCII;
            }
            int d = digits[b];
            if (d == 0) {
                return BAD_CHARACTER;
            }
            value = value * 36 + d;
        }
        return value;
    }

    /** Same as {@link #encode(byte[], int, int, int, int, boolean)} for characters. */
    public static long encode(CharSequence code, int minLength, int maxLength, boolean fold) {
        final int length = code.length();
        if (length < minLength || length > maxLength) {
            return BAD_LENGTH;
        }
        final byte[] digits = fold ? DIGIT_FOLDED : DIGIT;
        long value = 0;
        for (int i = 0; i < length; i++) {
            char c = code.charAt(i);
            if (c >= 128) {
                return NOT_ASCII;
            }
            int d = digits[c];
            if (d == 0) {
                return BAD_CHARACTER;
            }
            value = value * 36 + d;
        }
        return value;
    }

    /** The canonical (upper-case) text of a code number made by {@code encode}. */
    public static String decode(long value) {
        if (value <= 0) {
            throw new IllegalArgumentException("code number: " + value + " (expected: > 0)");
        }
        char[] buffer = new char[MAX_LENGTH + 1];
        int pos = buffer.length;
        long v = value;
        while (v > 0) {
            long d = (v - 1) % 36 + 1;
            buffer[--pos] = SYMBOL[(int) d];
            v = (v - d) / 36;
        }
        return new String(buffer, pos, buffer.length - pos);
    }

    /** The number of characters of the code with this number. */
    public static int length(long value) {
        int n = 0;
        long v = value;
        while (v > 0) {
            long d = (v - 1) % 36 + 1;
            v = (v - d) / 36;
            n++;
        }
        return n;
    }

    /** The smallest code number of {@code length} characters ("00...0"); numbers grow with the length. */
    public static long firstOfLength(int length) {
        long first = 0;
        for (int i = 0; i < length; i++) {
            first = first * 36 + 1;
        }
        return first;
    }

    /** The largest code number of {@code length} characters ("ZZ...Z"): 36 times the smallest. */
    public static long lastOfLength(int length) {
        return firstOfLength(length) * 36;
    }

    /** Finalizer of a 64-bit mix (Stafford variant 13): spreads a code number over all bits. */
    public static long mix(long key) {
        long z = key;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** Maps the low 32 bits of a hash onto {@code [0, capacity)} without division (Lemire's multiply-shift). */
    public static int index(long hash, int capacity) {
        return (int) (((hash & 0xFFFF_FFFFL) * capacity) >>> 32);
    }
}
