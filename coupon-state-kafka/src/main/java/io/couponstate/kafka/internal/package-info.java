/**
 * Internals of the Kafka module that serve more than one room: the checkpoint store and its restore progress, and a
 * byte-counting stream. The runner's engine is in {@code internal.runner}, partitioned mode in
 * {@code internal.partition}. Not API: public only so that {@code io.couponstate.kafka} can reach them; may change in
 * any release.
 */
package io.couponstate.kafka.internal;
