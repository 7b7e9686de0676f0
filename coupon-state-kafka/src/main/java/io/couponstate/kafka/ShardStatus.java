package io.couponstate.kafka;

/**
 * Where one shard of a partitioned runner stands ({@link CouponConsumerRunner#shards()}): the partition number
 * assigned to this instance, whether its shard answers queries yet, and how far it is behind. Immutable; a snapshot
 * taken when {@code shards()} was called.
 */
public final class ShardStatus {

    private final int partition;
    private final boolean queryable;
    private final long lag;

    /**
     * A status.
     *
     * @param partition the partition number (shard), {@code >= 0}
     * @param queryable whether the shard was restored or rebuilt, caught up and added to the
     *     {@link PartitionedCouponState}, so reads of its codes are answered here
     * @param lag records of partition {@code partition} of every topic not yet applied, or -1 while unknown
     * @throws IllegalArgumentException if {@code partition < 0} or {@code lag < -1}
     */
    public ShardStatus(int partition, boolean queryable, long lag) {
        if (partition < 0) {
            throw new IllegalArgumentException("partition: " + partition + " (expected: >= 0)");
        }
        if (lag < -1) {
            throw new IllegalArgumentException("lag: " + lag + " (expected: >= 0, or -1 for unknown)");
        }
        this.partition = partition;
        this.queryable = queryable;
        this.lag = lag;
    }

    /**
     * The partition number: partition {@code partition()} of every source topic.
     *
     * @return the partition number: partition {@code partition()} of every source topic
     */
    public int partition() {
        return partition;
    }

    /**
     * Whether the shard answers queries here: restored from the local checkpoint or rebuilt from the topics, caught
     * up to the end offsets read when it was assigned, and added to the {@link PartitionedCouponState}. While false
     * its codes throw {@link NotOwnedException} here.
     *
     * @return whether the shard answers queries here: restored from the local checkpoint or rebuilt from the topics,
     *         caught up to the end offsets read when it was assigned, and added to the {@link PartitionedCouponState}
     */
    public boolean queryable() {
        return queryable;
    }

    /**
     * Records of the partition (summed over the topics) not yet applied, as of the shard's last poll; -1 unknown.
     *
     * @return records of the partition (summed over the topics) not yet applied, as of the shard's last poll; -1
     *         unknown
     */
    public long lag() {
        return lag;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ShardStatus)) {
            return false;
        }
        ShardStatus other = (ShardStatus) o;
        return partition == other.partition && queryable == other.queryable && lag == other.lag;
    }

    @Override
    public int hashCode() {
        return (partition * 31 + (queryable ? 1 : 0)) * 31 + Long.hashCode(lag);
    }

    @Override
    public String toString() {
        return "ShardStatus{partition=" + partition + ", " + (queryable ? "queryable" : "not queryable yet")
                + ", lag=" + (lag < 0 ? "unknown" : String.valueOf(lag)) + "}";
    }
}
