/**
 * Internals of the Kafka runner, one job per class (as Kafka splits its global-state thread): {@link
 * io.couponstate.kafka.internal.RunnerSettings} (validated builder values), {@link
 * io.couponstate.kafka.internal.ConsumerLoop} (assign, seek, poll), {@link io.couponstate.kafka.internal.RecordApplier}
 * (decode, classify, apply, count), {@link io.couponstate.kafka.internal.PartitionTracker} (positions, end offsets,
 * caught-up), {@link io.couponstate.kafka.internal.runner.Checkpointer} (checkpoint thread, cadence, commit), {@link
 * io.couponstate.kafka.internal.ClusterClient} (end offsets and topic ids off the poll thread), the checkpoint files
 * (package {@code checkpoint}), the built-in source resolvers and rate-limited logging. Not API: public only so that {@code io.couponstate.kafka}
 * and its tests can reach them; may change in any release.
 */
package io.couponstate.kafka.internal;
