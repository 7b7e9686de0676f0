package io.couponstate.kafka;

import io.couponstate.core.InvalidCouponCodeException;

/** Why the runner could not apply a record (or, in bulk mode, one line of a record). */
public enum InvalidRecordReason {
    /** The record has a null value (a tombstone). */
    NULL_VALUE,
    /** The record's value (or a bulk record's only content) is empty. */
    EMPTY_VALUE,
    /** The value is longer than {@link CouponConsumerRunner.Builder#maxValueBytes(int)}; it is not scanned. */
    OVERSIZED,
    /** A byte outside 7-bit ASCII. */
    NOT_ASCII,
    /** Shorter than the code format's minimum length. */
    TOO_SHORT,
    /** Longer than the code format's maximum length. */
    TOO_LONG,
    /** An ASCII character the code format does not allow. */
    ILLEGAL_CHARACTER,
    /** The source resolver found no source for the record (for example, the source header is missing). */
    SOURCE_UNRESOLVED,
    /** The record's source would be one more than the state's {@code maxSources}. */
    SOURCE_LIMIT;

    /** The reason matching a core format violation. */
    static InvalidRecordReason of(InvalidCouponCodeException.Reason reason) {
        switch (reason) {
            case TOO_SHORT:
                return TOO_SHORT;
            case TOO_LONG:
                return TOO_LONG;
            case NOT_ASCII:
                return NOT_ASCII;
            default:
                return ILLEGAL_CHARACTER;
        }
    }
}
