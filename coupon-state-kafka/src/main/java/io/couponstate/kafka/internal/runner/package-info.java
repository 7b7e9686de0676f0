/**
 * The runner's engine, one job per class (as Kafka splits its global-state thread into {@code GlobalStreamThread},
 * {@code StateConsumer} and {@code GlobalStateMaintainer}): {@link
 * io.couponstate.kafka.internal.runner.ReplicatedEngine}
 * (the poll thread: restore, loop, shutdown; a partitioned runner runs one per shard),
 * {@link io.couponstate.kafka.internal.runner.Lifecycle} (the state machine, awaitCaughtUp and close, shared by both
 * engines), {@link io.couponstate.kafka.internal.runner.ConsumerLoop} (assign, seek, poll, hand off),
 * {@link io.couponstate.kafka.internal.runner.ApplyStage} (the apply threads),
 * {@link io.couponstate.kafka.internal.runner.RecordApplier} (decode, classify, apply, count),
 * {@link io.couponstate.kafka.internal.runner.PartitionTracker} (positions, end offsets, caught-up),
 * {@link io.couponstate.kafka.internal.runner.Checkpointer} (checkpoint thread, cadence, commit),
 * {@link io.couponstate.kafka.internal.runner.RunnerSettings} (the one immutable configuration),
 * {@link io.couponstate.kafka.internal.runner.ClusterClient} (end offsets and topic ids off the poll thread), the
 * built-in source resolvers and rate-limited logging. Depends on the API's interfaces, enums and exceptions, never on
 * its facades. Not API: public only so that {@code io.couponstate.kafka} can reach it; may change in any release.
 */
package io.couponstate.kafka.internal.runner;
