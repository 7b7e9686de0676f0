/**
 * The Kafka module's internals, one room per job; not API (public only so that {@code io.couponstate.kafka} can reach
 * them), and they may change in any release:
 * <ul>
 * <li>{@code internal.runner}: the replicated engine and what it is built of (settings, lifecycle, consumer loop, apply
 *     stage, record applier, partition tracker, checkpoint thread, cluster client, source resolvers);</li>
 * <li>{@code internal.partition}: partitioned mode (the engine of shards, co-partitioning rules, owner directory, the one
 *     code partitioner);</li>
 * <li>{@code internal.checkpoint}: checkpoint files (directory lock and retention, file format, chain restore, writer,
 *     restore progress) behind {@link io.couponstate.kafka.CouponCheckpoints};</li>
 * <li>{@code internal.publish}: the file publisher's internals.</li>
 * </ul>
 * Dependencies run one way (partition to runner and checkpoint, runner to checkpoint), and none of them calls the
 * runner's facade.
 */
package io.couponstate.kafka.internal;
