/**
 * Partitioned mode's machinery: {@link io.couponstate.kafka.internal.partition.PartitionedEngine} (the coordinator
 * consumer, rebalances, one replicated engine per shard, summed metrics),
 * {@link io.couponstate.kafka.internal.partition.OwnerDirectory} (who owns which partition, from the membership
 * topic), {@code CoPartitioning} (the layout rules an assignment is checked against) and
 * {@link io.couponstate.kafka.internal.partition.CodePartitioner} (a code's partition, shared by the
 * publisher and the partitioned state). Builds on {@code internal.runner}; nothing there depends on this package.
 * Not API; may change in any release.
 */
package io.couponstate.kafka.internal.partition;
