package io.couponstate.core;

/**
 * A delta checkpoint cannot be written: the next checkpoint must be a base ({@link CouponSnapshots#writeBase}). The
 * message says why: no base yet, the change journal overflowed, foreign data was merged in, or an earlier
 * checkpoint failed after the mark.
 */
public class BaseNeededException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    /**
     * An exception with {@code message}.
     *
     * @param message the detail message
     */
    public BaseNeededException(String message) {
        super(message);
    }
}
