/**
 * Internals of the Kafka runner: the checkpoint store, the built-in source resolvers and rate-limited logging. Not
 * API: public only so that {@code io.couponstate.kafka} and its tests can reach them; may change in any release.
 */
package io.couponstate.kafka.internal;
