package io.couponstate.kafka;

import io.couponstate.core.CouponState;
import io.couponstate.core.internal.DurableFiles;
import io.couponstate.kafka.internal.partition.PartitionedEngine;
import io.couponstate.kafka.internal.runner.ClusterClient;
import io.couponstate.kafka.internal.runner.Engine;
import io.couponstate.kafka.internal.runner.Lifecycle;
import io.couponstate.kafka.internal.runner.ReplicatedEngine;
import io.couponstate.kafka.internal.runner.RunnerSettings;
import io.couponstate.kafka.internal.runner.StateClaims;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.TopicPartition;

/**
 * Keeps a {@link CouponState} current from Kafka: reads the partitions of its topics, applies each record's code to
 * the state, and checkpoints the state together with the offsets it covers, so that a restart replays only the
 * tail. Made by {@link #builder()}; in {@link Mode#REPLICATED} (the default) every instance holds the whole state, in
 * {@link Mode#PARTITIONED} the instances of a group share the partition numbers.
 *
 * <p>Thread-safe. {@link #start()} returns at once; {@link #awaitCaughtUp} and {@link #close()} block;
 * {@link #metrics()}, {@link #runnerState()} and {@link #state()} never block. A caller that saw
 * {@code awaitCaughtUp} return true reads every record below the awaited end offsets from {@link #state()}.
 * Delivery is at-least-once per record and exactly-once in effect (a replayed record is a duplicate observation,
 * which the state ignores). Bad records are counted and handed to the {@link InvalidRecordHandler}; a fatal error
 * stops the runner in {@link State#FAILED} with {@link #failureCause()} set. The runner's threads are not daemons:
 * close a started runner. The whole contract (threads, happens-before, failures, partitioned mode) is in the
 * {@linkplain io.couponstate.kafka package description}.
 */
public final class CouponConsumerRunner implements AutoCloseable {

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

        private static final State[] BY_STAGE = values();

        /**
         * Whether a runner in this state may move to {@code next}.
         *
         * @param next the state to move to
         * @return whether a runner in this state may move to {@code next}
         */
        public boolean canTransitionTo(State next) {
            return stage().canMoveTo(next.stage());
        }

        /**
         * True for STOPPED and FAILED.
         *
         * @return true for STOPPED and FAILED
         */
        public boolean isTerminal() {
            return stage().isTerminal();
        }

        /** The engine's stage of the same name. */
        Lifecycle.Stage stage() {
            return Lifecycle.Stage.values()[ordinal()];
        }

        /** The state of the same name as the engine's {@code stage}. */
        static State of(Lifecycle.Stage stage) {
            return BY_STAGE[stage.ordinal()];
        }
    }

    /**
     * How the instances of an application share the work. See the package description.
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
    private final Engine engine;

    private CouponConsumerRunner(RunnerSettings settings) {
        this.settings = settings;
        StateListener listener = settings.stateListener();
        BiConsumer<Lifecycle.Stage, Lifecycle.Stage> told = listener == null ? null
                : (next, old) -> listener.onChange(State.of(next), State.of(old));
        this.engine = settings.partitioned() ? new PartitionedEngine(settings, told)
                : new ReplicatedEngine(settings, told);
    }

    /**
     * The mode this runner was built with: {@link Mode#REPLICATED} unless {@link Builder#mode} said otherwise.
     *
     * @return the mode this runner was built with: {@link Mode#REPLICATED} unless {@link Builder#mode} said otherwise
     */
    public Mode mode() {
        return settings.partitioned() ? Mode.PARTITIONED : Mode.REPLICATED;
    }

    /**
     * The {@code host:port} this instance advertises ({@link Builder#applicationEndpoint}), if one was set.
     *
     * @return the {@code host:port} this instance advertises ({@link Builder#applicationEndpoint}), if one was set
     */
    public Optional<String> applicationEndpoint() {
        return Optional.ofNullable(settings.applicationEndpoint());
    }

    /**
     * The endpoint of the instance that owns {@code code}'s partition, if known. Partitioned mode: this instance's
     * endpoint while the group assigns it the partition ({@link PartitionedCouponState#partitionOf}), else the
     * endpoint the owner advertised last in the membership topic (see the package description), else empty (no
     * owner known yet, or the owner advertised no endpoint). Owners change at rebalances: an answer may be stale for
     * as long as the membership topic takes to carry a claim (typically milliseconds), so a caller forwarding a
     * query must expect {@link NotOwnedException} from the instance it forwards to. Replicated mode: this runner's
     * endpoint, if set (every instance holds every code). Never blocks.
     *
     * @param code the coupon code
     * @return the endpoint of the instance that owns {@code code}'s partition, if known
     */
    public Optional<String> ownerOf(CharSequence code) {
        Objects.requireNonNull(code, "code");
        return engine.ownerOf(code);
    }

    /**
     * Partitioned mode: the partition numbers the group assigns to this instance now, each with its shard's status
     * (sorted by partition; a snapshot, never blocks). Replicated mode: empty.
     *
     * @return partitioned mode: the partition numbers the group assigns to this instance now, each with its shard's
     *         status (sorted by partition; a snapshot, never blocks)
     */
    public Map<Integer, ShardStatus> shards() {
        return engine.shards();
    }

    /**
     * A new builder.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Checks what can be checked without a broker, takes the checkpoint directory, starts the poll thread and
     * returns. The poll thread restores the newest usable checkpoint (state STARTING), then finds and assigns the
     * partitions and polls (RUNNING).
     *
     * @throws IllegalStateException unless the runner is CREATED; if another started runner, not yet closed, keeps
     *     the same state current (naming it; one runner per state); or, leaving the runner FAILED with the same
     *     cause, when the sources the runner needs (its topics, or the resolver's declared sources) exceed the
     *     state's {@code maxSources}, or, being two or more, are fewer than its threshold (naming both numbers), or
     *     the checkpoint directory cannot be used (naming it)
     */
    public void start() {
        boolean claimed = StateClaims.claim(settings.state(), this);
        try {
            engine.start();
        } catch (RuntimeException e) {
            if (claimed) {
                StateClaims.release(settings.state(), this);
            }
            throw e;
        }
    }

    /**
     * Moves to {@code next}: throws {@link IllegalStateException} if the move is illegal
     * ({@link State#canTransitionTo}), else publishes it and tells the {@link StateListener}. For tests.
     */
    void setState(State next) {
        engine.lifecycle().moveTo(next.stage());
    }

    /**
     * Waits until the state holds every record that was in the topics when the wait began. Partitioned mode: true
     * once at least one partition is assigned here and every assigned partition number's shard is queryable and has
     * applied, in every topic, up to the end offset read when the wait began (or, for a partition assigned during
     * the wait, when it was first seen); the same false and exceptions as below.
     *
     * <p>Replicated mode: first waits until partitions are known and assigned; then reads each partition's end offset
     * once (through an admin client, on this thread, so the answer never waits for a poll however long
     * {@code pollTimeout} is; a partition found during the wait: its end offset when found), and waits until every
     * partition's applied position (applied to the state, not merely fetched) has reached it. Never true before a
     * partition is assigned. An end-offset request that fails (broker away) is retried until the timeout.
     *
     * @param timeout how long to wait at most
     * @return true when caught up; false on timeout, or if the runner stops (is closed) while waiting
     * @throws IllegalStateException if the runner was not started (a wait that could only time out); with the
     *     failure as its cause if the runner is or becomes FAILED
     * @throws InterruptedException if the waiting thread is interrupted
     */
    public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        Objects.requireNonNull(timeout, "timeout");
        return engine.awaitCaughtUp(timeout);
    }

    /**
     * The state this runner keeps current; readable at any time from any thread. Partitioned mode: the
     * {@link PartitionedCouponState} given to the builder, holding the shards queryable here.
     *
     * @return the state this runner keeps current; readable at any time from any thread
     */
    public CouponState state() {
        return settings.state();
    }

    /**
     * Where the runner is in its life cycle.
     *
     * @return where the runner is in its life cycle
     */
    public State runnerState() {
        return State.of(engine.lifecycle().stage());
    }

    /**
     * Why the runner is FAILED; empty otherwise.
     *
     * @return why the runner is FAILED; empty otherwise
     */
    public Optional<Throwable> failureCause() {
        return Optional.ofNullable(engine.lifecycle().failure());
    }

    /**
     * The partitions assigned so far (replicated mode: every partition of the topics found so far; partitioned mode:
     * those the group assigns to this instance now).
     *
     * @return the partitions assigned so far (replicated mode: every partition of the topics found so far; partitioned
     *         mode: those the group assigns to this instance now)
     */
    public List<TopicPartition> assignedPartitions() {
        return engine.assignedPartitions();
    }

    /**
     * Per assigned partition, the next offset to apply: every record below it is in the state (partitioned mode:
     * of the shards this instance runs now, queryable or not yet).
     *
     * @return per assigned partition, the next offset to apply: every record below it is in the state (partitioned
     *         mode: of the shards this instance runs now, queryable or not yet)
     */
    public Map<TopicPartition, Long> appliedPositions() {
        return engine.appliedPositions();
    }

    /** The checkpoint sequence restored at start (partitioned mode: by the shard of {@code partition}), or 0. */
    long restoredSequence(int partition) {
        return engine.restoredSequence(partition);
    }

    /** The consumer settings the runner uses, owned ones included (for diagnostics; passwords included). */
    Map<String, Object> consumerConfig() {
        return settings.consumerConfig();
    }

    /**
     * A snapshot of the counters; cheap, never blocks.
     *
     * @return a snapshot of the counters; cheap, never blocks
     */
    public RunnerMetrics metrics() {
        return new RunnerMetrics(engine.metrics());
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
        try {
            engine.close();
        } finally {
            StateClaims.release(settings.state(), this);
        }
    }

    /** The progress line's note on valid codes; for tests. */
    String validCodesNote() {
        return ReplicatedEngine.validCodesNote(settings);
    }

    @Override
    public String toString() {
        return "CouponConsumerRunner{" + settings.name() + ", " + runnerState() + ", topics=" + settings.topics()
                + "}";
    }

    // -------------------------------------------------------------------------------------------------- builder

    /** Builds a {@link CouponConsumerRunner}; not thread-safe. Every check happens in {@link #build()}. */
    public static final class Builder {

        /** Consumer properties the runner sets itself, and why. */
        static final Map<String, String> OWNED = RunnerSettings.OWNED;

        private final RunnerSettings.Builder settings = RunnerSettings.builder();

        private Builder() {
        }

        /**
         * The brokers to bootstrap from, {@code host:port[,host:port...]} (required).
         *
         * @param bootstrapServers the Kafka bootstrap servers, {@code host:port[,host:port...]}
         * @return this builder
         */
        public Builder bootstrapServers(String bootstrapServers) {
            settings.bootstrapServers(bootstrapServers);
            return this;
        }

        /**
         * The group to commit offsets to, for lag monitoring only: each checkpoint's offsets, once it is durable (so
         * nothing is committed without a checkpoint directory). Optional in replicated mode; required in partitioned
         * mode, where it is the consumer group the instances share the partitions in. The group's offsets are never
         * read.
         *
         * @param groupId the consumer group id
         * @return this builder
         */
        public Builder groupId(String groupId) {
            settings.groupId(groupId);
            return this;
        }

        /**
         * The topics to read, every partition of each (required, at least one). Each must exist at start unless
         * {@link #allowMissingTopics(boolean)}; with the default source resolver each topic is a source, so there
         * may be at most the state's {@code maxSources} of them.
         *
         * @param topics the topics
         * @return this builder
         */
        public Builder topics(Collection<String> topics) {
            settings.topics(topics);
            return this;
        }

        /**
         * The state to keep current (required); its validity listener runs on the poll thread.
         *
         * @param state the state
         * @return this builder
         */
        public Builder state(CouponState state) {
            settings.state(state);
            return this;
        }

        /**
         * Where checkpoints live (optional: without it nothing is checkpointed and state is rebuilt by replay). One
         * runner at a time may use a directory.
         *
         * @param checkpointDirectory the checkpoint directory
         * @return this builder
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
         * @param baseRolloverFraction the base rollover fraction
         * @return this builder
         * @throws IllegalArgumentException if the fraction is not finite and > 0
         */
        public Builder baseRolloverFraction(double baseRolloverFraction) {
            settings.baseRolloverFraction(baseRolloverFraction);
            return this;
        }

        /**
         * How often a checkpoint is written (default 1 minute; > 0); one is also written on close.
         *
         * @param checkpointInterval the checkpoint interval
         * @return this builder
         */
        public Builder checkpointInterval(Duration checkpointInterval) {
            settings.checkpointInterval(checkpointInterval);
            return this;
        }

        /**
         * The longest one poll blocks (default 500 ms; > 0); {@code close()} wakes a poll, and {@code awaitCaughtUp}
         * never waits for one.
         *
         * @param pollTimeout the poll timeout
         * @return this builder
         */
        public Builder pollTimeout(Duration pollTimeout) {
            settings.pollTimeout(pollTimeout);
            return this;
        }

        /**
         * The longest a metadata, offsets or commit request blocks (default 5 s; > 0). No metadata for
         * three API timeouts in a row is reported as
         * {@link RunnerMetrics#problem()}.
         *
         * @param apiTimeout the api timeout
         * @return this builder
         */
        public Builder apiTimeout(Duration apiTimeout) {
            settings.apiTimeout(apiTimeout);
            return this;
        }

        /**
         * How often new partitions of the topics are looked for (default 30 s; > 0).
         *
         * @param partitionDiscoveryInterval the partition discovery interval
         * @return this builder
         */
        public Builder partitionDiscoveryInterval(Duration partitionDiscoveryInterval) {
            settings.partitionDiscoveryInterval(partitionDiscoveryInterval);
            return this;
        }

        /**
         * How often the progress line is logged (default 30 s; {@code Duration.ZERO} turns it off).
         *
         * @param progressLogInterval the progress log interval
         * @return this builder
         */
        public Builder progressLogInterval(Duration progressLogInterval) {
            settings.progressLogInterval(progressLogInterval);
            return this;
        }

        /**
         * The progress line names the currently valid codes, sorted, while there are at most {@code most} of them
         * (default 20; 0: never), and gives only their count beyond that. Listing them costs the number of valid
         * codes, not a scan of the state.
         *
         * @param most the most valid codes to show
         * @return this builder
         */
        public Builder progressValidCodes(int most) {
            settings.progressValidCodes(most);
            return this;
        }

        /**
         * Sets a consumer property the runner does not own (see {@link #build()}); later calls win.
         *
         * @param key the key
         * @param value the value to set
         * @return this builder
         */
        public Builder consumerProperty(String key, Object value) {
            settings.consumerProperty(key, value);
            return this;
        }

        /**
         * Sets several consumer properties, as {@link #consumerProperty} does.
         *
         * @param properties the properties
         * @return this builder
         */
        public Builder consumerProperties(Map<String, ?> properties) {
            Objects.requireNonNull(properties, "properties").forEach(this::consumerProperty);
            return this;
        }

        /**
         * How a record's source is found (default: {@link SourceResolver#topicName()}).
         *
         * @param sourceResolver the source resolver
         * @return this builder
         */
        public Builder sourceResolver(SourceResolver sourceResolver) {
            settings.sourceResolver(sourceResolver);
            return this;
        }

        /**
         * Who gets bad records (default: {@link InvalidRecordHandler#skip()}); the runner closes it.
         *
         * @param invalidRecordHandler the invalid record handler
         * @return this builder
         */
        public Builder invalidRecordHandler(InvalidRecordHandler invalidRecordHandler) {
            settings.invalidRecordHandler(invalidRecordHandler);
            return this;
        }

        /**
         * Who is told of every state move (optional); see {@link StateListener}.
         *
         * @param stateListener the state listener
         * @return this builder
         */
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
         * @param n the number of apply threads
         * @return this builder
         * @throws IllegalArgumentException unless {@code 1 <= n <= 4 * availableProcessors}
         */
        public Builder applyThreads(int n) {
            settings.applyThreads(n);
            return this;
        }

        /**
         * Whether a record's value holds many codes, one per line ({@code \n}, optional {@code \r}; default false).
         *
         * @param bulkValues the bulk values
         * @return this builder
         */
        public Builder bulkValues(boolean bulkValues) {
            settings.bulkValues(bulkValues);
            return this;
        }

        /**
         * The largest value looked at; a longer one is {@link InvalidRecordReason#OVERSIZED} (default 1 MiB).
         *
         * @param maxValueBytes the max value bytes
         * @return this builder
         */
        public Builder maxValueBytes(int maxValueBytes) {
            settings.maxValueBytes(maxValueBytes);
            return this;
        }

        /**
         * Whether a topic that does not exist at start is waited for (read once it is created, found by partition
         * discovery) rather than a failure naming it (default false: a misspelt topic fails the runner).
         *
         * @param allowMissingTopics the allow missing topics
         * @return this builder
         */
        public Builder allowMissingTopics(boolean allowMissingTopics) {
            settings.allowMissingTopics(allowMissingTopics);
            return this;
        }

        /**
         * Whether a topic deleted and created again since the checkpoint (its topic id differs) is read again from
         * its beginning, with a WARN, rather than a failure naming it (default false). Safe because observations are
         * a union: what the old topic added stays in the state.
         *
         * @param rebuildRecreatedTopics the rebuild recreated topics
         * @return this builder
         */
        public Builder rebuildRecreatedTopics(boolean rebuildRecreatedTopics) {
            settings.rebuildRecreatedTopics(rebuildRecreatedTopics);
            return this;
        }

        /**
         * {@link Mode#REPLICATED} (the default: every partition here, the whole state) or {@link Mode#PARTITIONED}
         * (the instances of the {@link #groupId group} share the partition numbers; see the package description). In
         * PARTITIONED mode {@link #build()} also requires: a {@link PartitionedCouponState} as the {@link #state},
         * whose {@link PartitionedCouponState#partitions() partitions} is every topic's partition count; a
         * {@link #groupId}; and declared sources (the default topic resolver, or
         * {@link SourceResolver#header(String, Collection)}), so that every shard numbers the sources alike. The
         * consumer property {@code group.protocol} may then be set ({@code classic}, the default, or
         * {@code consumer}); the assignor is the runner's (range).
         *
         * @param mode the mode
         * @return this builder
         */
        public Builder mode(Mode mode) {
            settings.partitioned(Objects.requireNonNull(mode, "mode") == Mode.PARTITIONED);
            return this;
        }

        /**
         * The {@code host:port} this instance advertises to the others (partitioned mode: through the membership
         * topic, so that {@link CouponConsumerRunner#ownerOf} can name it), for example where its HTTP server
         * listens. Optional. Checked at once.
         *
         * @param hostPort the host port
         * @return this builder
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
         * @param topic the topic
         * @return this builder
         * @throws IllegalArgumentException for a blank name
         */
        public Builder membershipTopic(String topic) {
            settings.membershipTopic(topic);
            return this;
        }

        /**
         * The clock for checkpoint, discovery and progress cadence (default: the system clock).
         *
         * @param clock the clock
         * @return this builder
         */
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

        /** Runs {@code hook} in every checkpoint write between its fsync and its rename; for crash tests. */
        Builder checkpointHook(DurableFiles.BeforeRename hook) {
            Objects.requireNonNull(hook, "hook");
            settings.checkpointsOpener((dir, options) -> CouponCheckpoints.open(dir, options, hook));
            return this;
        }

        /** Opens the checkpoint directories (a shard's too); for tests. */
        Builder checkpointsOpener(io.couponstate.kafka.internal.runner.CheckpointsOpener opener) {
            settings.checkpointsOpener(opener);
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
         * @return the runner; connects to nothing yet
         * @throws IllegalArgumentException naming the first bad or missing value and its rule, or a consumer
         *     property the runner owns and why it does
         */
        public CouponConsumerRunner build() {
            return new CouponConsumerRunner(settings.build());
        }
    }
}
