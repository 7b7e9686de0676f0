/**
 * couponstate inside Kafka Streams: {@link io.couponstate.kafka.streams.CouponStores} builds a state store holding
 * one {@code CouponState} per task (with a compacted changelog, its own offsets and an on-disk image), the processor
 * that applies records to it, and the routing of a code to its owner; {@link io.couponstate.kafka.streams.CouponQueries}
 * holds the IQv2 queries it answers.
 */
package io.couponstate.kafka.streams;
