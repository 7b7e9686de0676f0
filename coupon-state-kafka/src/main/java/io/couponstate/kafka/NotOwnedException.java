package io.couponstate.kafka;

import io.couponstate.core.CodeFormat;

/**
 * Thrown by a {@link PartitionedCouponState} asked to read or write a code whose shard (partition) is not owned by
 * this instance: the answer lives on another instance of the consumer group, or on none while the shard moves. It
 * never means "unknown code": an owned shard answers that with an empty result.
 */
public class NotOwnedException extends IllegalStateException {

    private static final long serialVersionUID = 1L;
    private static final int MAX_SHOWN = 40;

    /** The partition the code maps to. */
    private final int partition;
    /** The code as shown in the message: escaped and cut. */
    private final String code;

    /**
     * A refusal for {@code code}, which maps to {@code partition}; the message shows the code escaped and cut.
     *
     * @param code the coupon code
     * @param partition the partition
     */
    public NotOwnedException(CharSequence code, int partition) {
        super("coupon code " + CodeFormat.quoted(code) + ": partition " + partition
                + " is not owned by this instance (ask the partition's owner)");
        this.code = shown(code);
        this.partition = partition;
    }

    /**
     * The partition (shard) the code maps to.
     *
     * @return the partition (shard) the code maps to
     */
    public int partition() {
        return partition;
    }

    /**
     * The code asked for, cut to 40 characters (with "..." when cut); not escaped.
     *
     * @return the code asked for, cut to 40 characters (with "..." when cut); not escaped
     */
    public String code() {
        return code;
    }

    private static String shown(CharSequence code) {
        String s = String.valueOf(code);
        return s.length() > MAX_SHOWN ? s.substring(0, MAX_SHOWN) + "..." : s;
    }
}
