package io.couponstate.kafka;

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
    /**
     * Partitioned mode: the code belongs to another partition than the one it was read from
     * ({@link PartitionedCouponState#partitionOf} of the code differs from the record's partition: the producer did
     * not key it with the upper-cased code, or used another partitioner), so no read of the code would look in this
     * shard. Not applied.
     */
    WRONG_PARTITION
    // No SOURCE_LIMIT: a source past the state's maxSources is a configuration error that fails the runner
    // (CouponConsumerRunner), never a bad record to skip past.
}
