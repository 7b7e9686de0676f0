package io.couponstate.kafka;

import io.couponstate.core.CouponState;
import io.couponstate.core.internal.DurableFiles;
import io.couponstate.kafka.internal.ClusterClient;
import io.couponstate.kafka.internal.ConsumerLoop;
import io.couponstate.kafka.internal.PartitionTracker;
import io.couponstate.kafka.internal.RateLimitedLog;
import io.couponstate.kafka.internal.RecordApplier;
import io.couponstate.kafka.internal.runner.Checkpointer;
import io.couponstate.kafka.internal.RunnerSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a {@link CouponState} current from Kafka: reads every partition of its topics (one topic per source, by
 * default), applies each record's code to the state, and checkpoints the state together with the offsets it covers,
 * so that a restart replays only the tail. Made by {@link #builder()}.
 *
 * <p><b>Threads and progress.</b> Thread-safe. {@link #start()} returns at once; one poll thread owns the
 * {@code KafkaConsumer} and applies records, and one checkpoint thread writes snapshots, so a long checkpoint never
 * holds up polling. {@link #awaitCaughtUp} and {@link #close()} block; {@link #metrics()}, {@link #runnerState()} and
 * {@link #state()} never block. Applying is as non-blocking as the state (lock-free or striped locks). The poll and
 * checkpoint threads are not daemons, so that a final checkpoint is never cut off: close a started runner (for
 * example with try-with-resources), or the JVM keeps running.
 *
 * <p><b>Happens-before.</b> Applying a record to the state happens-before its partition's applied position is
 * published; publishing it happens-before an {@link #awaitCaughtUp} that returns true because of it, so a caller that
 * saw {@code true} reads every record below the awaited end offsets from {@link #state()}. The offsets of a checkpoint
 * are captured on the poll thread after every record below them was applied, which happens-before the snapshot is
 * written; the checkpoint is durable (fsynced, renamed, directory fsynced) before its offsets are committed to the
 * group. A failure cause is published before the {@link State#FAILED} state.
 *
 * <p><b>Delivery.</b> At-least-once per record, exactly-once in effect: a replayed record is a duplicate observation,
 * which the state ignores (set union). On start each partition is positioned at the offset in the newest usable local
 * checkpoint, or at its beginning; offsets committed to the group (for lag monitoring) are never read.
 *
 * <p><b>Failures.</b> Bad records are counted, logged at a bounded rate and handed to the {@link InvalidRecordHandler};
 * the runner keeps going. Transient Kafka errors (a broker away for a while) are retried around the Kafka calls that
 * throw them; a cluster that gives no metadata for a few API timeouts shows as {@link RunnerMetrics#problem()}. A
 * fatal error stops the runner in {@link State#FAILED} with {@link #failureCause()} set: authorization, unsupported
 * version, a checkpoint below the log-start offset, an offset out of range, a topic missing at start (unless
 * {@link Builder#allowMissingTopics}), a topic recreated since the checkpoint (unless
 * {@link Builder#rebuildRecreatedTopics}), an incompatible checkpoint, a source past the state's {@code maxSources},
 * a final checkpoint that could not be written, and an exception of any type from a user callback (the handler, the
 * source resolver, the state's validity listener), which is never retried past. A failed periodic checkpoint is
 * logged at ERROR and shows in {@link RunnerMetrics#durable()}; it is retried at the next interval.
 *
 * <h2>Modes</h2>
 *
 * <p><b>{@link Mode#REPLICATED}</b> (the default), described above: every instance reads every partition with
 * {@code assign()}, never joins a group, and holds the whole state; any instance answers any code. Reads are as
 * consistent as the state's (per code linearizable, bulk queries weakly consistent).
 *
 * <p><b>{@link Mode#PARTITIONED}</b>: the instances of one {@link Builder#groupId group} share the partition numbers.
 * The topics must be co-partitioned (the same partition count, that of the {@link PartitionedCouponState}, and every
 * observation of a code on the same partition number: records keyed with the upper-cased code, default partitioner,
 * as {@link CouponFilePublisher} sends them; a record whose code maps elsewhere is
 * {@link InvalidRecordReason#WRONG_PARTITION}). A coordinator consumer subscribes to the topics with the range
 * assignor (classic protocol: {@code partition.assignment.strategy=RangeAssignor}; with the consumer property
 * {@code group.protocol=consumer}: the server-side {@code group.remote.assignor=range}), which gives partition
 * <i>p</i> of every topic to one member; it keeps its partitions paused, so its {@code poll()} only keeps the
 * membership and runs the rebalances. For each partition number <i>p</i> assigned here a shard runner (a
 * replicated-style runner over partition <i>p</i> of every topic, with no group and its checkpoints in
 * {@code <checkpointDirectory>/partition-<p>/}) restores the shard from its newest local checkpoint, or rebuilds it
 * from the start of partition <i>p</i> of every topic (the topics are the durable log: keep them with
 * {@code retention.ms=-1}), on its own threads; the shard is added to the {@link PartitionedCouponState}, and so
 * becomes queryable here ({@link ShardStatus#queryable()}), once it has caught up to the end offsets read when it
 * started. Until then, and for codes of partitions owned elsewhere, reads throw {@link NotOwnedException}.
 * <ul>
 * <li><b>Consistency.</b> A code lives in one shard: per code, reads and writes on its owner are linearizable as in
 * replicated mode. Bulk queries ({@code size}, {@code validCount}, listings) cover the shards queryable here when
 * they start and are weakly consistent; the whole answer is the sum over the instances, which is not atomic across
 * them. During a move a code may be unanswerable for a while (no instance holds its shard queryable); it is never
 * answered from a shard missing records below its caught-up point.
 * <li><b>Rebalances.</b> At every assignment the runner checks co-partitioning (every topic exists with the state's
 * partition count, and the assignment holds partition <i>p</i> of every topic or of none) and otherwise FAILS with
 * a message naming the topics, their counts and the partitions out of line, before any shard of that assignment is
 * added. The classic range assignor is eager (a rebalance revokes everything, then assigns anew): the runner keeps
 * its shards through the revocation and, once the new assignment is known, closes (final checkpoint, then drop) only
 * those of partition numbers that did not come back; a kept shard stays exact, as each shard is computed from the
 * log alone and ownership only decides who serves. With {@code group.protocol=consumer} (incremental) a revoked
 * shard is closed and dropped inside {@code onPartitionsRevoked}. On {@code onPartitionsLost} the shard is dropped
 * and its runner stopped, and nothing is committed for it. Otherwise the coordinator commits each shard's newest
 * durable checkpoint offsets to the group (asynchronously, from its poll loop, for partitions assigned to it then),
 * for lag monitoring only: positions come from the local checkpoints, never from the group. A rebalance callback never waits for a restore (that runs on the shard runner's threads), so a
 * restore never holds {@code poll()} past {@code max.poll.interval.ms}; closing a shard waits for its final
 * checkpoint (the shards closed by one rebalance close in parallel). A failure of any shard runner fails the whole
 * runner.
 * <li><b>Owner discovery.</b> Each instance may {@link Builder#applicationEndpoint advertise} an endpoint. At every
 * change of its owned partition numbers it writes, synchronously, one record to a compacted membership topic
 * ({@link Builder#membershipTopic}, default {@code <groupId>-couponstate-owners}, created if missing with one
 * partition): key = its instance id (a random UUID per runner), value = its endpoint and partition numbers; a
 * tombstone on close. Every instance tails the topic; the owner of <i>p</i> is the instance whose latest record
 * lists <i>p</i> and was written last among those that do. {@link #ownerOf} answers from that (and from this
 * instance's own assignment at once). A topic rather than the assignment's user data because the consumer protocol
 * assigns on the broker, where no client assignor carries user data; it works the same under both protocols. An
 * answer can be stale for a moment around a rebalance, and a killed instance's claims last until the new owners
 * claim its partitions.
 * <li><b>Checkpoint directory.</b> A partitioned runner marks its directory ({@code partitioned.properties}: mode and
 * partition count). A directory holding a replicated checkpoint, shards of another partition count, or, for a
 * replicated runner, a partitioned marker, fails {@code start()} with an {@link IncompatibleCheckpointException}
 * naming the directory and both values.
 * <li><b>Metrics.</b> {@link #metrics()} sums the shard runners here now and, for the counters (records, codes,
 * invalid records, checkpoints), those closed since start; distinct codes and valid codes are those of the shards
 * here now; lag is the sum over the shards here (-1 while one is unknown or none is assigned). {@link #shards()}
 * gives each assigned partition's status.
 * </ul>
 */
public final class CouponConsumerRunner implements AutoCloseable {

    /*
     * Parts (Kafka's GlobalStreamThread -> StateConsumer -> GlobalStateMaintainer -> GlobalStateManagerImpl)
     *   This class: the poll thread and the state machine (setState checks State.canTransitionTo, throws on an
     *   illegal move, tells the StateListener). ConsumerLoop: assign, seek, poll, hand off. ApplyStage: the apply
     *   threads (applyThreads, partition-affine), the bounded hand-off, positions over applied records only.
     *   RecordApplier: decode, classify, apply in ObservationBatches, count. PartitionTracker: positions, end
     *   offsets, caught-up. Checkpointer: store, checkpoint thread, cadence, commit. RunnerSettings: the validated builder values.
     *
     * Concurrency
     *   The consumer is touched only by the poll thread, except wakeup() from close(). awaitCaughtUp asks end
     *   offsets through the ClusterClient (an admin client, thread-safe) on the waiting thread, so that a long poll
     *   never starves a waiter. State moves happen under stateLock; the state field is volatile for lock-free reads.
     *
     * Shutdown
     *   close() sets closing, moves to PENDING_SHUTDOWN, wakes the consumer and joins the poll thread without a
     *   timeout (only an interrupt of the closing thread stops the wait). The poll thread stops the apply threads
     *   (each finishes its batch, what is queued is abandoned and never counted as applied), waits for the checkpoint
     *   in flight, writes the final checkpoint and commits it (a pending wakeup is retried past), then closes the
     *   checkpoint thread, the handler, the admin client and the consumer, each in its own try/catch, and moves to
     *   STOPPED, or to FAILED if the final checkpoint failed. Threads are not daemons: a JVM whose main thread ends
     *   still finishes the final checkpoint.
     */

    private static final Logger LOG = LoggerFactory.getLogger(CouponConsumerRunner.class);
    private static final Duration WAIT_STEP = Duration.ofMillis(5);

    /** The life cycle of a runner. Legal moves are listed with each state. */
    public enum State {
        /** Built, not started: to STARTING ({@code start()}) or PENDING_SHUTDOWN ({@code close()}). */
        CREATED,
        /** Restoring the checkpoint: to RUNNING, PENDING_SHUTDOWN or FAILED. */
        STARTING,
        /** Polling and applying: to PENDING_SHUTDOWN or FAILED. */
        RUNNING,
        /** Closing: final checkpoint, commit, release: to STOPPED or FAILED. */
        PENDING_SHUTDOWN,
        /** Closed cleanly; terminal. */
        STOPPED,
        /** Stopped by a fatal error ({@link CouponConsumerRunner#failureCause()}); terminal. */
        FAILED;

        /** Whether a runner in this state may move to {@code next}. */
        public boolean canTransitionTo(State next) {
            switch (this) {
                case CREATED:
                    return next == STARTING || next == PENDING_SHUTDOWN;
                case STARTING:
                    return next == RUNNING || next == PENDING_SHUTDOWN || next == FAILED;
                case RUNNING:
                    return next == PENDING_SHUTDOWN || next == FAILED;
                case PENDING_SHUTDOWN:
                    return next == STOPPED || next == FAILED;
                default:
                    return false;
            }
        }

        /** True for STOPPED and FAILED. */
        public boolean isTerminal() {
            return this == STOPPED || this == FAILED;
        }
    }

    /**
     * How the instances of an application share the work. See the class javadoc.
     */
    public enum Mode {
        /** Every instance reads every partition of the topics and holds the whole state (the default). */
        REPLICATED,
        /**
         * The instances of one consumer group share the partition numbers: each holds the shards of the partitions
         * the group assigns it, in a {@link PartitionedCouponState}.
         */
        PARTITIONED
    }

    private final RunnerSettings settings;
    private final String name;
    private final PartitionedRunner partitioned; // null in replicated mode
    private final PartitionTracker tracker = new PartitionTracker();
    private final RecordApplier applier;
    private final RateLimitedLog transientLog;

    private final Object lifecycle = new Object(); // start() and close() one at a time
    private final Object stateLock = new Object();
    private volatile State state = State.CREATED; // written under stateLock; volatile for lock-free readers
    private volatile Throwable failure; // written before the FAILED state is published
    private volatile boolean closing;
    private volatile Consumer<byte[], byte[]> consumer;
    private volatile ClusterClient cluster;
    private volatile Checkpointer checkpointer;
    private volatile ConsumerLoop loop;
    private volatile Thread pollThread;
    /** Where each checkpoint write stops between its fsync and its rename: a seam for crash tests. */
    private volatile DurableFiles.BeforeRename checkpointHook = DurableFiles.BeforeRename.NONE;

    private CouponConsumerRunner(RunnerSettings settings) {
        this.settings = settings;
        this.name = settings.name();
        this.transientLog = new RateLimitedLog(LOG, settings.clock(), 3, 30_000);
        this.applier = new RecordApplier(settings, new RateLimitedLog(LOG, settings.clock(), 10, 10_000));
        this.partitioned = settings.mode() == Mode.PARTITIONED ? new PartitionedRunner(this, settings) : null;
    }

    /** A shard runner of a partitioned runner: replicated-style over partition {@code p} of every topic. */
    static CouponConsumerRunner shard(RunnerSettings shardSettings) {
        return new CouponConsumerRunner(shardSettings);
    }

    /** Sets where each checkpoint write stops between its fsync and its rename; before {@link #start()}; for tests. */
    void checkpointHook(DurableFiles.BeforeRename hook) {
        this.checkpointHook = Objects.requireNonNull(hook, "hook");
    }

    /** The sequence of the checkpoint restored at start, or 0 (for the partitioned runner's shard status). */
    long restoredSequence() {
        ConsumerLoop l = loop;
        return l == null ? 0 : l.restoredSequence();
    }

    /**
     * Whether every partition this (shard) runner reads is assigned (one per topic) and applied up to its end offset
     * as of its discovery; never blocks.
     */
    boolean caughtUpToDiscovery() {
        return tracker.assignedSnapshot().size() == settings.topics().size() && tracker.caughtUp(Map.of());
    }

    /** The offsets of this (shard) runner's newest durable checkpoint; empty before one. Any thread. */
    Map<TopicPartition, Long> durableOffsets() {
        Checkpointer cp = checkpointer;
        return cp == null ? Map.of() : cp.durableOffsets();
    }

    /** The mode this runner was built with: {@link Mode#REPLICATED} unless {@link Builder#mode} said otherwise. */
    public Mode mode() {
        return settings.mode();
    }

    /** The {@code host:port} this instance advertises ({@link Builder#applicationEndpoint}), if one was set. */
    public Optional<String> applicationEndpoint() {
        return Optional.ofNullable(settings.applicationEndpoint());
    }

    /**
     * The endpoint of the instance that owns {@code code}'s partition, if known. Partitioned mode: this instance's
     * endpoint while the group assigns it the partition ({@link PartitionedCouponState#partitionOf}), else the
     * endpoint the owner advertised last in the membership topic (see the class javadoc), else empty (no owner
     * known yet, or the owner advertised no endpoint). Owners change at rebalances: an answer may be stale for as
     * long as the membership topic takes to carry a claim (typically milliseconds), so a caller forwarding a query
     * must expect {@link NotOwnedException} from the instance it forwards to. Replicated mode: this runner's
     * endpoint, if set (every instance holds every code). Never blocks.
     */
    public Optional<String> ownerOf(CharSequence code) {
        Objects.requireNonNull(code, "code");
        if (partitioned == null) {
            return applicationEndpoint();
        }
        return partitioned.ownerOf(code);
    }

    /**
     * Partitioned mode: the partition numbers the group assigns to this instance now, each with its shard's status
     * (sorted by partition; a snapshot, never blocks). Replicated mode: empty.
     */
    public Map<Integer, ShardStatus> shards() {
        return partitioned == null ? Map.of() : partitioned.shards();
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Checks what can be checked without a broker, takes the checkpoint directory, starts the poll thread and
     * returns. The poll thread restores the newest usable checkpoint (state STARTING), then finds and assigns the
     * partitions and polls (RUNNING).
     *
     * @throws IllegalStateException unless the runner is CREATED; or, leaving the runner FAILED with the same cause,
     *     when the sources the runner needs (its topics, or the resolver's declared sources) exceed the state's
     *     {@code maxSources} (naming both numbers), or the checkpoint directory cannot be used (naming it)
     */
    public void start() {
        synchronized (lifecycle) {
            synchronized (stateLock) {
                if (state != State.CREATED) {
                    throw new IllegalStateException("start: runner is " + state + " (expected: CREATED)");
                }
                setState(State.STARTING);
            }
            if (partitioned != null) {
                try {
                    checkSourceLimit();
                    partitioned.start();
                } catch (RuntimeException e) {
                    fail(e);
                    closeHandler();
                    throw e instanceof IllegalStateException ? e : new IllegalStateException(e.getMessage(), e);
                }
                return;
            }
            try {
                checkSourceLimit();
                CouponCheckpoints checkpoints = null;
                if (settings.checkpointDirectory() != null) {
                    try { // refuses a partitioned runner's directory itself
                        checkpoints = CouponCheckpoints.open(settings.checkpointDirectory(), CouponCheckpoints.Options
                                .defaults().baseRolloverFraction(settings.baseRolloverFraction()), checkpointHook);
                    } catch (IOException e) {
                        throw new IllegalStateException(e.getMessage(), e); // the message names the directory
                    }
                }
                checkpointer = new Checkpointer(settings, checkpoints, transientLog);
            } catch (RuntimeException e) {
                fail(e);
                releaseAfterStartFailure();
                throw e instanceof IllegalStateException ? e : new IllegalStateException(e.getMessage(), e);
            }
            // not a daemon: a JVM whose main thread ends must not kill the final checkpoint half-written
            Thread t = new Thread(this::run, "coupon-runner-poll-" + name);
            t.setDaemon(false);
            pollThread = t;
            t.start();
        }
    }

    private void checkSourceLimit() {
        int maxSources = settings.maxSources();
        Optional<Collection<String>> declared = settings.declaredSources();
        if (maxSources > 0 && declared.isPresent() && declared.get().size() > maxSources) {
            throw new IllegalStateException("sources: the runner needs " + declared.get().size() + " sources "
                    + declared.get() + " but the state's maxSources is " + maxSources + " (expected: at most "
                    + maxSources + " sources, or a state built with maxSources(" + declared.get().size()
                    + ") or more)");
        }
    }

    private void releaseAfterStartFailure() {
        Checkpointer cp = checkpointer;
        if (cp != null) {
            cp.close();
        }
        ClusterClient cl = cluster;
        if (cl != null) {
            cl.close();
        }
        closeHandler();
    }

    /**
     * Moves to {@code next} under the state lock: throws {@link IllegalStateException} if the move is illegal
     * ({@link State#canTransitionTo}), else publishes it and tells the {@link StateListener}. Package-private for
     * tests.
     */
    void setState(State next) {
        synchronized (stateLock) {
            State old = state;
            if (!old.canTransitionTo(next)) {
                throw new IllegalStateException("runner " + name + ": illegal state move " + old + " -> " + next);
            }
            state = next; // volatile: publishes the move (and, for FAILED, the cause written before it)
            StateListener listener = settings.stateListener();
            if (listener != null) {
                try {
                    listener.onChange(next, old);
                } catch (Throwable t) {
                    LOG.error("{}: state listener threw on {} -> {}; ignored (a listener only observes)", name,
                            old, next, t);
                }
            }
        }
    }

    /**
     * Waits until the state holds every record that was in the topics when the wait began. Partitioned mode: true
     * once at least one partition is assigned here and every assigned partition number's shard is queryable and has
     * applied, in every topic, up to the end offset read when the wait began (or, for a partition assigned during
     * the wait, when it was first seen); the same false and exceptions as below.
     *
     * <p>Replicated mode: waits until the state holds every record that was in the topics when the wait began. First waits until
     * partitions are known and assigned; then reads each partition's end offset once (through an admin client, on
     * this thread, so the answer never waits for a poll however long {@code pollTimeout} is; a partition found during
     * the wait: its end offset when found), and waits until every partition's applied position (applied to the
     * state, not merely fetched) has reached it. Never true before a partition is assigned. An end-offset request
     * that fails (broker away) is retried until the timeout.
     *
     * @return true when caught up; false on timeout, or if the runner stops (is closed) while waiting
     * @throws IllegalStateException with the failure as its cause if the runner is or becomes FAILED
     * @throws InterruptedException if the waiting thread is interrupted
     */
    public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        Objects.requireNonNull(timeout, "timeout");
        if (partitioned != null) {
            return partitioned.awaitCaughtUp(timeout, this::usable);
        }
        long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
        while (tracker.isEmpty()) {
            if (!usable() || System.nanoTime() - deadline >= 0) {
                return false;
            }
            pause(deadline);
        }
        // end offsets come from an admin client on this thread, never from the poll thread: a poll may block for
        // pollTimeout (minutes, say), and a waiter must still answer within its own timeout
        Map<TopicPartition, Long> targets = null;
        while (true) {
            if (!usable()) {
                return false;
            }
            long left = deadline - System.nanoTime();
            ClusterClient cl = cluster;
            if (targets == null && cl != null && left > 0) {
                try {
                    Duration ask = Duration.ofNanos(Math.min(left, settings.apiTimeout().toNanos()));
                    targets = cl.endOffsets(tracker.assignedSnapshot(), ask);
                } catch (KafkaException e) {
                    LOG.debug("{}: end offsets for awaitCaughtUp not available yet: {}", name, e.toString());
                }
            }
            if (targets != null && tracker.caughtUp(targets)) {
                return true;
            }
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            pause(deadline);
        }
    }

    /** False when stopping or stopped; throws when FAILED. */
    private boolean usable() {
        State s = state;
        if (s == State.FAILED) {
            Throwable cause = failure;
            throw new IllegalStateException("runner " + name + " FAILED: " + cause, cause);
        }
        return s != State.PENDING_SHUTDOWN && s != State.STOPPED;
    }

    private static void pause(long deadline) throws InterruptedException {
        long left = deadline - System.nanoTime();
        long step = Math.min(Math.max(left, 0), WAIT_STEP.toNanos());
        if (step > 0) {
            TimeUnit.NANOSECONDS.sleep(step);
        }
    }

    /**
     * The state this runner keeps current; readable at any time from any thread. Partitioned mode: the
     * {@link PartitionedCouponState} given to the builder, holding the shards queryable here.
     */
    public CouponState state() {
        return settings.state();
    }

    /** Where the runner is in its life cycle. */
    public State runnerState() {
        return state;
    }

    /** Why the runner is FAILED; empty otherwise. */
    public Optional<Throwable> failureCause() {
        return state == State.FAILED ? Optional.ofNullable(failure) : Optional.empty();
    }

    /**
     * The partitions assigned so far (replicated mode: every partition of the topics found so far; partitioned mode:
     * those the group assigns to this instance now).
     */
    public List<TopicPartition> assignedPartitions() {
        return partitioned != null ? partitioned.assignedPartitions() : tracker.assignedSnapshot();
    }

    /**
     * Per assigned partition, the next offset to apply: every record below it is in the state (partitioned mode:
     * of the shards this instance runs now, queryable or not yet).
     */
    public Map<TopicPartition, Long> appliedPositions() {
        return partitioned != null ? partitioned.appliedPositions() : tracker.appliedPositions();
    }

    /** Partitioned mode: the checkpoint sequence the shard of {@code partition} here restored, or 0; for tests. */
    long restoredSequence(int partition) {
        return partitioned == null ? restoredSequence() : partitioned.restoredSequence(partition);
    }

    /** Whether close() was called; for the partitioned coordinator. */
    boolean isClosing() {
        return closing;
    }

    /** STARTING -> RUNNING for the partitioned coordinator; false if the runner is no longer STARTING. */
    boolean startedRunning() {
        synchronized (stateLock) {
            if (state != State.STARTING) {
                return false;
            }
            setState(State.RUNNING);
            return true;
        }
    }

    /** PENDING_SHUTDOWN -> STOPPED for the partitioned coordinator, unless FAILED meanwhile. */
    void stoppedCleanly() {
        synchronized (stateLock) {
            if (state == State.PENDING_SHUTDOWN) {
                setState(State.STOPPED);
                LOG.info("{}: stopped; {}", name, metrics());
            }
        }
    }

    /** The consumer settings the runner uses, owned ones included (for diagnostics; passwords included). */
    Map<String, Object> consumerConfig() {
        return settings.consumerConfig();
    }

    /** A snapshot of the counters; cheap, never blocks. */
    public RunnerMetrics metrics() {
        if (partitioned != null) {
            return partitioned.metrics(state);
        }
        Checkpointer cp = checkpointer;
        ConsumerLoop l = loop;
        OptionalLong age = OptionalLong.empty();
        boolean durable = true;
        long written = 0;
        long failures = 0;
        Optional<String> lastFailure = Optional.empty();
        if (cp != null) {
            long at = cp.lastDurableAtMillis();
            if (at >= 0) {
                age = OptionalLong.of(Math.max(0, settings.clock().millis() - at));
            }
            durable = cp.durable();
            written = cp.written();
            failures = cp.failures();
            lastFailure = cp.lastFailure();
        }
        State s = state;
        CouponCheckpoints restore = cp == null ? null : cp.checkpoints();
        return new RunnerMetrics(s, applier.recordsConsumed(), applier.codesApplied(),
                l == null ? 0 : l.recordsPerSecond(), applier.invalidCounts(), settings.state().size(),
                applier.validCodes(), tracker.lag(), written, failures, l == null ? 0 : l.restoredSequence(),
                durable, age, lastFailure, l == null ? Optional.empty() : l.problem(),
                RunnerPhase.of(s, s == State.RUNNING && tracker.caughtUpOnce()),
                restore == null ? 0 : restore.restoreBytesRead(), restore == null ? 0 : restore.restoreBytesTotal(),
                restore == null ? 0 : restore.restoreBytesPerSecond(System.nanoTime()),
                l == null ? 0 : l.recentRecordsPerSecond());
    }

    /**
     * Stops the runner: wakes the consumer out of a poll, waits for the poll thread to write a final checkpoint and
     * commit its offsets, then to close the checkpoint thread, the handler and the consumer. Waits as long as that
     * takes; an interrupt of the calling thread ends the wait early (the interrupt flag is set again, and the poll
     * thread finishes on its own). Idempotent; a FAILED runner stays FAILED, and a runner whose final checkpoint
     * failed, or whose invalid-record handler failed to flush or close, ends FAILED with that cause.
     */
    @Override
    public void close() {
        Thread t;
        synchronized (lifecycle) {
            closing = true;
            synchronized (stateLock) {
                if (state == State.CREATED) {
                    setState(State.PENDING_SHUTDOWN);
                    setState(State.STOPPED); // never started: nothing to release but the handler
                    closeHandler();
                    return;
                }
                if (state == State.STARTING || state == State.RUNNING) {
                    setState(State.PENDING_SHUTDOWN);
                }
            }
            ConsumerLoop l = loop;
            if (l != null) {
                l.wakeIdle();
            }
            Consumer<byte[], byte[]> c = consumer;
            if (c != null) {
                c.wakeup();
            }
            t = pollThread;
            if (partitioned != null) {
                partitioned.wakeup();
                t = partitioned.thread();
            }
        }
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                LOG.warn("{}: close() interrupted before the poll thread finished its final checkpoint", name);
            }
        }
    }

    /** "; valid now: A B C" while at most {@code progressValidCodes} codes are valid, else nothing (the count is in
     *  the metrics). O(valid codes): the state keeps them apart from the table. */
    String validCodesNote() {
        int most = settings.progressValidCodes();
        CouponState coupons = settings.state();
        long valid = coupons.validCount();
        if (most == 0 || valid == 0 || valid > most) {
            return "";
        }
        List<String> codes = coupons.getCouponCodesByObservationCount(coupons.threshold());
        if (codes.size() > most) {
            return ""; // more crossed while listing
        }
        Collections.sort(codes);
        return "; valid now: " + String.join(" ", codes);
    }

    // ---------------------------------------------------------------------------------------------- poll thread

    private void run() {
        Throwable error = null;
        try {
            cluster = settings.clusterClientFactory().apply(settings.consumerConfig());
            Consumer<byte[], byte[]> c = settings.consumerFactory().apply(settings.consumerConfig());
            consumer = c;
            ConsumerLoop l = new ConsumerLoop(settings, c, cluster, tracker, applier, checkpointer, () -> closing);
            java.util.function.Consumer<String> sink = settings.progressSink().orElse(LOG::info);
            l.onProgress(() -> sink.accept(name + ": " + metrics() + validCodesNote()));
            loop = l;
            if (closing) {
                return;
            }
            l.restore();
            synchronized (stateLock) {
                if (state != State.STARTING) {
                    return; // closed while starting
                }
                setState(State.RUNNING);
            }
            LOG.info("{}: running on topics {} (restored checkpoint {})", name, settings.topics(),
                    l.restoredSequence() == 0 ? "none" : String.valueOf(l.restoredSequence()));
            while (!closing) {
                try {
                    l.runOnce();
                } catch (WakeupException e) {
                    if (closing) {
                        break; // the wakeup close() asked for: swallowed only while closing
                    }
                    throw e;
                }
            }
        } catch (WakeupException | InterruptException e) {
            if (!closing) {
                error = e;
            }
        } catch (InterruptedException e) {
            error = e;
        } catch (Throwable t) {
            error = t;
        } finally {
            shutdown(error);
        }
    }

    void fail(Throwable t) {
        synchronized (stateLock) {
            if (state.isTerminal()) {
                return;
            }
            failure = t; // published by the volatile state write in setState
            State old = state;
            setState(State.FAILED);
            LOG.error("{}: FAILED in state {}", name, old, t);
        }
    }

    private void shutdown(Throwable error) {
        if (error != null) {
            fail(error);
            if (loop != null) {
                try {
                    loop.stopApplying(); // no final checkpoint: only stop the apply threads
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        } else if (loop != null) {
            try {
                loop.finalCheckpoint();
                if (!checkpointer.enabled()) {
                    // no checkpoint flushed the handler: what it holds must still be made durable, or fail loudly
                    settings.invalidRecordHandler().flush();
                }
            } catch (Throwable t) {
                fail(t);
            }
        }
        Checkpointer cp = checkpointer;
        if (cp != null) {
            cp.close(); // waits for a write in flight; releases the directory
        }
        Throwable handlerFailure = closeHandler();
        if (handlerFailure != null && state == State.PENDING_SHUTDOWN) {
            fail(handlerFailure); // a dead letter lost on the way out: a clean close must not report STOPPED
        }
        ClusterClient cl = cluster;
        if (cl != null) {
            cl.close();
        }
        Consumer<byte[], byte[]> c = consumer;
        if (c != null) {
            try {
                c.close(CloseOptions.timeout(settings.apiTimeout()));
            } catch (Throwable t) {
                LOG.warn("{}: closing the consumer failed", name, t);
            }
        }
        synchronized (stateLock) {
            if (state == State.PENDING_SHUTDOWN) {
                setState(State.STOPPED);
                LOG.info("{}: stopped; {}", name, metrics());
            }
        }
    }

    /** Closes the handler; returns what it threw (logged), or null. */
    private Throwable closeHandler() {
        try {
            settings.invalidRecordHandler().close();
            return null;
        } catch (Throwable t) {
            LOG.warn("{}: closing the invalid-record handler failed", name, t);
            return t;
        }
    }

    @Override
    public String toString() {
        return "CouponConsumerRunner{" + name + ", " + state + ", topics=" + settings.topics() + "}";
    }

    // -------------------------------------------------------------------------------------------------- builder

    /** Builds a {@link CouponConsumerRunner}; not thread-safe. Every check happens in {@link #build()}. */
    public static final class Builder {

        /** Consumer properties the runner sets itself, and why. */
        static final Map<String, String> OWNED = RunnerSettings.OWNED;

        private final RunnerSettings.Builder settings = RunnerSettings.builder();

        private Builder() {
        }

        /** The brokers to bootstrap from, {@code host:port[,host:port...]} (required). */
        public Builder bootstrapServers(String bootstrapServers) {
            settings.bootstrapServers(bootstrapServers);
            return this;
        }

        /**
         * The group to commit offsets to, for lag monitoring only: each checkpoint's offsets, once it is durable (so
         * nothing is committed without a checkpoint directory). Optional in replicated mode; required in partitioned
         * mode, where it is the consumer group the instances share the partitions in. The group's offsets are never
         * read.
         */
        public Builder groupId(String groupId) {
            settings.groupId(groupId);
            return this;
        }

        /**
         * The topics to read, every partition of each (required, at least one). Each must exist at start unless
         * {@link #allowMissingTopics(boolean)}; with the default source resolver each topic is a source, so there
         * may be at most the state's {@code maxSources} of them.
         */
        public Builder topics(Collection<String> topics) {
            settings.topics(topics);
            return this;
        }

        /** The state to keep current (required); its validity listener runs on the poll thread. */
        public Builder state(CouponState state) {
            settings.state(state);
            return this;
        }

        /**
         * Where checkpoints live (optional: without it nothing is checkpointed and state is rebuilt by replay). One
         * runner at a time may use a directory.
         */
        public Builder checkpointDirectory(Path checkpointDirectory) {
            settings.checkpointDirectory(checkpointDirectory);
            return this;
        }

        /**
         * When a checkpoint is a new base rather than a delta (default 0.5; finite, > 0): once the deltas written
         * since the last base add up to more than this fraction of the base's size. A smaller fraction makes
         * restores read less (at most about {@code 1 + fraction} times a base) and bases more frequent; a larger one
         * the reverse. Deltas need a state with a change journal ({@code CouponStateConfig.Builder
         * .changeJournalCapacity}, sized for the changes of one {@link #checkpointInterval}); without one (the
         * default) every checkpoint is a full base, as the runner logs once, and when the journal overflows the next
         * checkpoint is a base. Checkpoint files keep the newest base and its deltas; the previous chain is deleted
         * once a new base is durable.
         *
         * @throws IllegalArgumentException if the fraction is not finite and > 0
         */
        public Builder baseRolloverFraction(double baseRolloverFraction) {
            settings.baseRolloverFraction(baseRolloverFraction);
            return this;
        }

        /** How often a checkpoint is written (default 1 minute; > 0); one is also written on close. */
        public Builder checkpointInterval(Duration checkpointInterval) {
            settings.checkpointInterval(checkpointInterval);
            return this;
        }

        /**
         * The longest one poll blocks (default 500 ms; > 0); {@code close()} wakes a poll, and {@code awaitCaughtUp}
         * never waits for one.
         */
        public Builder pollTimeout(Duration pollTimeout) {
            settings.pollTimeout(pollTimeout);
            return this;
        }

        /**
         * The longest a metadata, offsets or commit request blocks (default 5 s; > 0). No metadata for
         * three API timeouts in a row is reported as
         * {@link RunnerMetrics#problem()}.
         */
        public Builder apiTimeout(Duration apiTimeout) {
            settings.apiTimeout(apiTimeout);
            return this;
        }

        /** How often new partitions of the topics are looked for (default 30 s; > 0). */
        public Builder partitionDiscoveryInterval(Duration partitionDiscoveryInterval) {
            settings.partitionDiscoveryInterval(partitionDiscoveryInterval);
            return this;
        }

        /** How often the progress line is logged (default 30 s; {@code Duration.ZERO} turns it off). */
        public Builder progressLogInterval(Duration progressLogInterval) {
            settings.progressLogInterval(progressLogInterval);
            return this;
        }

        /**
         * The progress line names the currently valid codes, sorted, while there are at most {@code most} of them
         * (default 20; 0: never), and gives only their count beyond that. Listing them costs the number of valid
         * codes, not a scan of the state.
         */
        public Builder progressValidCodes(int most) {
            settings.progressValidCodes(most);
            return this;
        }

        /** Sets a consumer property the runner does not own (see {@link #build()}); later calls win. */
        public Builder consumerProperty(String key, Object value) {
            settings.consumerProperty(key, value);
            return this;
        }

        /** Sets several consumer properties, as {@link #consumerProperty} does. */
        public Builder consumerProperties(Map<String, ?> properties) {
            Objects.requireNonNull(properties, "properties").forEach(this::consumerProperty);
            return this;
        }

        /** How a record's source is found (default: {@link SourceResolver#topicName()}). */
        public Builder sourceResolver(SourceResolver sourceResolver) {
            settings.sourceResolver(sourceResolver);
            return this;
        }

        /** Who gets bad records (default: {@link InvalidRecordHandler#skip()}); the runner closes it. */
        public Builder invalidRecordHandler(InvalidRecordHandler invalidRecordHandler) {
            settings.invalidRecordHandler(invalidRecordHandler);
            return this;
        }

        /** Who is told of every state move (optional); see {@link StateListener}. */
        public Builder stateListener(StateListener stateListener) {
            settings.stateListener(stateListener);
            return this;
        }

        /**
         * How many threads apply polled records to the state (default 1). The poll thread only polls and hands whole
         * batches to them; each partition is applied by one of them, in offset order, so a partition's applied
         * position (what checkpoints and {@code awaitCaughtUp} see) never passes a record not yet applied. More than
         * one helps only when applying, not fetching, is the bottleneck.
         *
         * @throws IllegalArgumentException unless {@code 1 <= n <= 4 * availableProcessors}
         */
        public Builder applyThreads(int n) {
            settings.applyThreads(n);
            return this;
        }

        /** Whether a record's value holds many codes, one per line ({@code \n}, optional {@code \r}; default false). */
        public Builder bulkValues(boolean bulkValues) {
            settings.bulkValues(bulkValues);
            return this;
        }

        /** The largest value looked at; a longer one is {@link InvalidRecordReason#OVERSIZED} (default 1 MiB). */
        public Builder maxValueBytes(int maxValueBytes) {
            settings.maxValueBytes(maxValueBytes);
            return this;
        }

        /**
         * Whether a topic that does not exist at start is waited for (read once it is created, found by partition
         * discovery) rather than a failure naming it (default false: a misspelt topic fails the runner).
         */
        public Builder allowMissingTopics(boolean allowMissingTopics) {
            settings.allowMissingTopics(allowMissingTopics);
            return this;
        }

        /**
         * Whether a topic deleted and created again since the checkpoint (its topic id differs) is read again from
         * its beginning, with a WARN, rather than a failure naming it (default false). Safe because observations are
         * a union: what the old topic added stays in the state.
         */
        public Builder rebuildRecreatedTopics(boolean rebuildRecreatedTopics) {
            settings.rebuildRecreatedTopics(rebuildRecreatedTopics);
            return this;
        }

        /**
         * {@link Mode#REPLICATED} (the default: every partition here, the whole state) or {@link Mode#PARTITIONED}
         * (the instances of the {@link #groupId group} share the partition numbers; see the class javadoc). In
         * PARTITIONED mode {@link #build()} also requires: a {@link PartitionedCouponState} as the {@link #state},
         * whose {@link PartitionedCouponState#partitions() partitions} is every topic's partition count; a
         * {@link #groupId}; and declared sources (the default topic resolver, or
         * {@link SourceResolver#header(String, Collection)}), so that every shard numbers the sources alike. The
         * consumer property {@code group.protocol} may then be set ({@code classic}, the default, or
         * {@code consumer}); the assignor is the runner's (range).
         */
        public Builder mode(Mode mode) {
            settings.mode(mode);
            return this;
        }

        /**
         * The {@code host:port} this instance advertises to the others (partitioned mode: through the membership
         * topic, so that {@link CouponConsumerRunner#ownerOf} can name it), for example where its HTTP server
         * listens. Optional. Checked at once.
         *
         * @throws IllegalArgumentException naming the value unless it is {@code host:port} with a non-blank host
         *     (an IPv6 address in brackets) and a port in 1..65535
         */
        public Builder applicationEndpoint(String hostPort) {
            settings.applicationEndpoint(hostPort);
            return this;
        }

        /**
         * Partitioned mode: the compacted topic in which the instances advertise which partitions they own and at
         * which endpoint (default {@code <groupId>-couponstate-owners}); created by the runner (1 partition,
         * {@code cleanup.policy=compact}) if missing. Every instance of the group must name the same topic.
         *
         * @throws IllegalArgumentException for a blank name
         */
        public Builder membershipTopic(String topic) {
            settings.membershipTopic(topic);
            return this;
        }

        /** The clock for checkpoint, discovery and progress cadence (default: the system clock). */
        public Builder clock(Clock clock) {
            settings.clock(clock);
            return this;
        }

        /** Makes the consumer from the runner's consumer settings; for tests (MockConsumer). */
        Builder consumerFactory(Function<Map<String, Object>, Consumer<byte[], byte[]>> consumerFactory) {
            settings.consumerFactory(consumerFactory);
            return this;
        }

        /** Where progress lines go instead of the log; for tests. */
        Builder progressSink(java.util.function.Consumer<String> sink) {
            settings.progressSink(sink);
            return this;
        }

        /** Makes the cluster client (end offsets, topic ids) from the consumer settings; for tests. */
        Builder clusterClientFactory(Function<Map<String, Object>, ClusterClient> clusterClientFactory) {
            settings.clusterClientFactory(clusterClientFactory);
            return this;
        }

        /**
         * The runner; connects to nothing yet.
         *
         * @throws IllegalArgumentException naming the first bad or missing value and its rule, or a consumer
         *     property the runner owns and why it does
         */
        public CouponConsumerRunner build() {
            return new CouponConsumerRunner(settings.build());
        }
    }
}
