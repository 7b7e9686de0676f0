package io.couponstate.core;

/** A code outside the state's {@link CodeFormat}; the message names the code (cut if long) and the rule. */
public class InvalidCouponCodeException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    /** Which rule of the format a code broke. */
    public enum Reason {
        /** Shorter than the format's minimum length (including empty). */
        TOO_SHORT,
        /** Longer than the format's maximum length. */
        TOO_LONG,
        /** A byte or character outside 7-bit ASCII. */
        NOT_ASCII,
        /** An ASCII character other than {@code A-Z} and {@code 0-9} (or {@code a-z} when case-insensitive). */
        ILLEGAL_CHARACTER
    }

    /** The rule the code broke. */
    private final Reason reason;
    /** The code as text, cut to at most 40 characters. */
    private final String code;

    /**
     * Creates the exception.
     *
     * @param code the rejected code as text, cut to at most 40 characters
     * @param reason the rule it broke
     * @param message the detail message, naming the code and the rule
     */
    public InvalidCouponCodeException(String code, Reason reason, String message) {
        super(message);
        this.code = code;
        this.reason = reason;
    }

    /**
     * The rejected code as text, cut to at most 40 characters.
     *
     * @return the rejected code as text, cut to at most 40 characters
     */
    public String code() {
        return code;
    }

    /**
     * The rule the code broke.
     *
     * @return the rule the code broke
     */
    public Reason reason() {
        return reason;
    }
}
