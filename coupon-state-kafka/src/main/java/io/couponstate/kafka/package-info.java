/**
 * Keeps a {@link io.couponstate.core.CouponState} current from Kafka: {@link io.couponstate.kafka.CouponConsumerRunner}
 * with checkpoints, pluggable {@link io.couponstate.kafka.SourceResolver} and
 * {@link io.couponstate.kafka.InvalidRecordHandler}, and {@link io.couponstate.kafka.RunnerMetrics}.
 */
package io.couponstate.kafka;
