package io.couponstate.core;

import io.couponstate.core.InvalidCouponCodeException.Reason;
import io.couponstate.core.internal.Codes;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * What a coupon code may look like: {@code minLength..maxLength} characters of {@code A-Z} and {@code 0-9},
 * optionally case-insensitive (lower case is folded to upper case before anything else). Immutable and thread-safe.
 * The default is 8 to 10 characters, case-sensitive.
 */
public final class CodeFormat {

    /** The default format: 8 to 10 characters of {@code A-Z0-9}, case-sensitive. */
    public static final CodeFormat DEFAULT = new CodeFormat(8, 10, false);

    private static final int MAX_SHOWN = 40;

    private final int minLength;
    private final int maxLength;
    private final boolean caseInsensitive;

    private CodeFormat(int minLength, int maxLength, boolean caseInsensitive) {
        this.minLength = minLength;
        this.maxLength = maxLength;
        this.caseInsensitive = caseInsensitive;
    }

    /**
     * A format of {@code minLength..maxLength} characters.
     *
     * @param minLength the least number of characters of a code
     * @param maxLength the max length
     * @param caseInsensitive whether {@code a-z} are folded to {@code A-Z} first
     * @return a format of {@code minLength..maxLength} characters
     * @throws IllegalArgumentException unless {@code 1 <= minLength <= maxLength <= 12}
     */
    public static CodeFormat of(int minLength, int maxLength, boolean caseInsensitive) {
        if (minLength < 1 || minLength > Codes.MAX_LENGTH) {
            throw new IllegalArgumentException("codeLength min: " + minLength + " (expected: 1..12)");
        }
        if (maxLength < minLength || maxLength > Codes.MAX_LENGTH) {
            throw new IllegalArgumentException(
                    "codeLength max: " + maxLength + " (expected: " + minLength + "..12, at least min)");
        }
        return new CodeFormat(minLength, maxLength, caseInsensitive);
    }

    /**
     * The shortest code this format accepts.
     *
     * @return the least number of characters of a code
     */
    public int minLength() {
        return minLength;
    }

    /**
     * The longest code this format accepts.
     *
     * @return the most characters of a code
     */
    public int maxLength() {
        return maxLength;
    }

    /**
     * Whether {@code a-z} are folded to {@code A-Z} before anything else.
     *
     * @return {@code true} if lower case letters are accepted and folded
     */
    public boolean caseInsensitive() {
        return caseInsensitive;
    }

    /** True when every code of this format, with up to 12 source bits, fits one 64-bit word. */
    boolean fitsPackedSlot() {
        return maxLength <= Codes.PACKED_MAX_LENGTH;
    }

    /**
     * Whether {@code code} is in this format; false for null.
     *
     * @param code the coupon code
     * @return whether {@code code} is in this format; false for null
     */
    public boolean isWellFormed(CharSequence code) {
        return code != null && Codes.encode(code, minLength, maxLength, caseInsensitive) > 0;
    }

    /**
     * Whether the ASCII bytes are a code in this format.
     *
     * @param code the coupon code
     * @param offset the index of the code's first byte in {@code code}
     * @param length the number of bytes of the code
     * @return whether the ASCII bytes are a code in this format
     */
    public boolean isWellFormed(byte[] code, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, code.length);
        return Codes.encode(code, offset, length, minLength, maxLength, caseInsensitive) > 0;
    }

    /**
     * The rule the bytes break, or null if they are a code in this format. Allocates nothing.
     *
     * @param code the coupon code
     * @param offset the index of the code's first byte in {@code code}
     * @param length the number of bytes of the code
     * @return the rule the bytes break, or null if they are a code in this format
     */
    public Reason violation(byte[] code, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, code.length);
        return reasonOf(Codes.encode(code, offset, length, minLength, maxLength, caseInsensitive), length);
    }

    /**
     * The canonical (upper-case) form of a code in this format.
     *
     * @param code the coupon code
     * @return the canonical (upper-case) form of a code in this format
     */
    public String normalize(CharSequence code) {
        return Codes.decode(encode(code));
    }

    /** The code's number; throws {@link InvalidCouponCodeException} outside the format. */
    long encode(CharSequence code) {
        Objects.requireNonNull(code, "code");
        long key = Codes.encode(code, minLength, maxLength, caseInsensitive);
        if (key <= 0) {
            throw invalid(code.toString(), reasonOf(key, code.length()));
        }
        return key;
    }

    /** The code's number; throws {@link InvalidCouponCodeException} outside the format. */
    long encode(byte[] code, int offset, int length) {
        long key = Codes.encode(code, offset, length, minLength, maxLength, caseInsensitive);
        if (key <= 0) {
            throw invalid(new String(code, offset, Math.min(length, MAX_SHOWN * 4), StandardCharsets.ISO_8859_1),
                    reasonOf(key, length));
        }
        return key;
    }

    /** The code's number, or a value <= 0 outside the format; never throws for a non-null code. */
    long encodeOrZero(CharSequence code) {
        return Codes.encode(code, minLength, maxLength, caseInsensitive);
    }

    /** The rule a negative encoding result stands for (null for a code number). */
    Reason reasonOf(long result, int length) {
        if (result > 0) {
            return null;
        }
        if (result == Codes.BAD_LENGTH) {
            return length < minLength ? Reason.TOO_SHORT : Reason.TOO_LONG;
        }
        return result == Codes.NOT_ASCII ? Reason.NOT_ASCII : Reason.ILLEGAL_CHARACTER;
    }

    private InvalidCouponCodeException invalid(String code, Reason reason) {
        String shown = code.length() > MAX_SHOWN ? code.substring(0, MAX_SHOWN) + "..." : code;
        String rule;
        switch (reason) {
            case TOO_SHORT:
            case TOO_LONG:
                rule = "length " + code.length() + " (expected: " + lengthRule() + ")";
                break;
            case NOT_ASCII:
                rule = "a character outside ASCII (expected: " + alphabet() + ")";
                break;
            default:
                rule = "character " + firstIllegal(code) + " (expected: " + alphabet() + ")";
        }
        return new InvalidCouponCodeException(shown, reason, "coupon code \"" + escape(shown) + "\": " + rule);
    }

    private String firstIllegal(String code) {
        for (int i = 0; i < code.length(); i++) {
            char c = code.charAt(i);
            if (Codes.encode(String.valueOf(c), 1, 1, caseInsensitive) <= 0) {
                return "'" + escape(String.valueOf(c)) + "' at index " + i;
            }
        }
        return "?";
    }

    /**
     * {@code code} as error messages show it: cut to 40 characters (with "..." when cut), control and non-ASCII
     * characters escaped as {@code \\uXXXX}, in double quotes; so that a message never carries a huge or unprintable
     * input. The form {@link InvalidCouponCodeException} uses, for other messages about a code.
     *
     * @param code the coupon code
     * @return {@code code} as error messages show it: cut to 40 characters (with "..." when cut), control and non-ASCII
     *         characters escaped as {@code \\uXXXX}, in double quotes; so that a message never carries a huge or
     *         unprintable input
     */
    public static String quoted(CharSequence code) {
        String s = String.valueOf(code);
        return "\"" + escape(s.length() > MAX_SHOWN ? s.substring(0, MAX_SHOWN) + "..." : s) + "\"";
    }

    private static String escape(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f || c > 0x7e) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private String lengthRule() {
        return minLength == maxLength ? Integer.toString(minLength) : minLength + ".." + maxLength;
    }

    private String alphabet() {
        return caseInsensitive ? "A-Z, a-z or 0-9" : "A-Z or 0-9";
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof CodeFormat)) {
            return false;
        }
        CodeFormat other = (CodeFormat) o;
        return minLength == other.minLength && maxLength == other.maxLength
                && caseInsensitive == other.caseInsensitive;
    }

    @Override
    public int hashCode() {
        return Objects.hash(minLength, maxLength, caseInsensitive);
    }

    @Override
    public String toString() {
        return lengthRule() + " characters of " + alphabet()
                + (caseInsensitive ? ", case-insensitive" : ", case-sensitive");
    }
}
