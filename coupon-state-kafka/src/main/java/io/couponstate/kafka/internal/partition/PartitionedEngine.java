package io.couponstate.kafka.internal.partition;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.InvalidRecordHandler;
import io.couponstate.kafka.InvalidRecordReason;
import io.couponstate.kafka.PartitionedCouponState;
import io.couponstate.kafka.ShardStatus;
import io.couponstate.kafka.SourceResolver;
import io.couponstate.kafka.internal.checkpoint.PartitionedMarker;
import io.couponstate.kafka.internal.runner.ClusterClient;
import io.couponstate.kafka.internal.runner.Engine;
import io.couponstate.kafka.internal.runner.Lifecycle;
import io.couponstate.kafka.internal.runner.MetricsSnapshot;
import io.couponstate.kafka.internal.runner.ReplicatedEngine;
import io.couponstate.kafka.internal.runner.RunnerSettings;
import io.couponstate.kafka.internal.runner.HeaderSourceResolver;
import io.couponstate.kafka.internal.runner.SkipHandler;
import io.couponstate.kafka.internal.runner.TopicSourceResolver;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The partitioned engine (the contract is the public runner's, in the package description of
 * {@code io.couponstate.kafka}): a coordinator consumer that only holds group membership, and one
 * {@link ReplicatedEngine} per assigned partition number.
 *
 * <p><b>Parts.</b> The coordinator is a {@code KafkaConsumer} subscribed to the topics with the range assignor
 * (classic protocol: {@code partition.assignment.strategy=RangeAssignor}; {@code group.protocol=consumer}:
 * {@code group.remote.assignor=range}); every partition it is assigned stays paused, so its {@code poll()} fetches
 * nothing and only drives heartbeats and rebalances. Each assigned partition number <i>p</i> gets a shard runner: a
 * {@link ReplicatedEngine} restricted to partition <i>p</i> of every topic, with no group (it
 * never commits), its state {@link PartitionedCouponState#newShard(int)} and its checkpoints in
 * {@code <checkpointDirectory>/partition-<p>/}. It restores or rebuilds on its own threads, so a rebalance callback
 * only starts it and never waits for a restore; the coordinator's loop adds the shard to the
 * {@link PartitionedCouponState} once the shard runner has caught up to the end offsets it read at discovery.
 *
 * <p><b>Threads.</b> One coordinator thread (non-daemon) owns the coordinator consumer, runs the rebalance callbacks,
 * starts, watches and closes the shard runners, and writes the membership records; the {@link OwnerDirectory}
 * tails the membership topic on a thread of its own. {@link #ownerOf}, {@link #shards}, {@link #metrics} and
 * {@link #awaitCaughtUp} may be called from any thread: they read volatile snapshots and a concurrent map.
 */
public final class PartitionedEngine implements Engine {

    private static final Logger LOG = LoggerFactory.getLogger("io.couponstate.kafka.CouponConsumerRunner");
    private static final Duration PENDING_POLL = Duration.ofMillis(50);

    /** How long a rebalance callback waits for a shard runner whose restore it cancelled. */
    static final Duration RESTORE_CANCEL_WAIT = Duration.ofSeconds(5);

    /**
     * The coordinator's {@code session.timeout.ms} under the classic protocol unless given: how long a member killed
     * without leaving keeps its partitions. The smallest the broker accepts by default
     * ({@code group.min.session.timeout.ms=6000}); the client's own default is 45 s.
     */
    public static final int DEFAULT_SESSION_TIMEOUT_MS = 6_000;
    /**
     * The coordinator's {@code heartbeat.interval.ms} under the classic protocol unless given (a third of the session;
     * of a smaller given session, a third of that).
     */
    public static final int DEFAULT_HEARTBEAT_INTERVAL_MS = 2_000;

    private final Lifecycle lifecycle;
    private final RunnerSettings settings;
    private final PartitionedCouponState state;
    private final String name;
    private final boolean consumerProtocol;
    private final InvalidRecordHandler sharedHandler;
    private final SourceResolver userResolver; // serialized across the shards; null for the built-in resolvers
    /** Held by every call of the user's handler (handle) and resolver, from any shard. */
    private final Object callbackLock = new Object();

    // coordinator thread only
    private final Set<TopicPartition> owned = new HashSet<>();
    private RuntimeException pendingFailure;
    private boolean checkPending; // the co-partitioning check met a transient error: retried by the loop
    private boolean stopping;
    private Set<Integer> advertised;
    private boolean advertisePending;
    private KafkaConsumer<byte[], byte[]> coordinator;
    private final Map<TopicPartition, Long> committed = new HashMap<>();
    /** Shard runners whose cancelled restore outlived {@link #RESTORE_CANCEL_WAIT}, by partition, with their closer. */
    private final Map<Integer, Map.Entry<Shard, Thread>> lingering = new HashMap<>();

    /** Shards by partition number: written by the coordinator thread, read by any. */
    private final ConcurrentHashMap<Integer, Shard> shards = new ConcurrentHashMap<>();
    /** The partition numbers assigned now, sorted; written by the coordinator thread. */
    private volatile Set<Integer> ownedNumbers = Set.of();
    /**
     * Whether an assignment has been reconciled here, even an empty one: an instance the group gives no partition
     * (more instances than partitions) has caught up with its share, and answers by forwarding, so it reports UP.
     */
    private volatile boolean assignmentReconciled;
    private volatile List<TopicPartition> ownedView = List.of();
    private volatile ClusterClient cluster;
    private volatile OwnerDirectory directory;
    private volatile Thread thread;
    /** Counters of shard runners closed since start (monotonic metrics survive a move); coordinator thread writes. */
    private volatile MetricsSnapshot retired;

    /** One assigned partition number: its shard runner and whether its shard is in the state. */
    private static final class Shard {
        final int partition;
        final ReplicatedEngine runner;
        final CouponState state;
        volatile boolean queryable;

        Shard(int partition, ReplicatedEngine runner, CouponState state) {
            this.partition = partition;
            this.runner = runner;
            this.state = state;
        }
    }

    /** An engine over {@code settings}; {@code listener} (nullable) is told of every state move, (new, old). */
    public PartitionedEngine(RunnerSettings settings, BiConsumer<Lifecycle.Stage, Lifecycle.Stage> listener) {
        this.lifecycle = new Lifecycle(settings.name(), listener);
        this.settings = settings;
        this.state = (PartitionedCouponState) settings.state();
        this.name = settings.name();
        this.consumerProtocol = settings.consumerGroupProtocol();
        InvalidRecordHandler handler = settings.invalidRecordHandler();
        // shared by the shards and closed once, by this engine; the default handler is passed as it is, as it holds
        // nothing to close and the shards' appliers recognise it (see SkipHandler). The shards apply in parallel, and
        // the handler's contract is one handle() at a time and one flush() at a time (a runner has one checkpoint
        // thread), so the wrapper serializes each across the shards; a handle() may still overlap a flush(), as in a
        // replicated runner. handle() shares its lock with a user's resolver, as the apply threads of a replicated
        // runner do (RecordApplier's callback lock): the user's callbacks never run at once.
        Object handleLock = callbackLock;
        Object flushLock = new Object();
        this.sharedHandler = handler instanceof SkipHandler ? handler : new InvalidRecordHandler() {
            @Override
            public void handle(org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]> record,
                    InvalidRecordReason reason) {
                synchronized (handleLock) { // each call happens-before the next, whichever shard makes it
                    handler.handle(record, reason);
                }
            }

            @Override
            public void flush() {
                synchronized (flushLock) {
                    handler.flush();
                }
            }
        };
        this.userResolver = settings.sourceResolver() instanceof TopicSourceResolver
                || settings.sourceResolver() instanceof HeaderSourceResolver ? null
                : serialized(settings.sourceResolver(), callbackLock);
    }

    /**
     * The resolver of a shard runner: the built-in ones are copied per shard (each caches one state's source ids);
     * a user's is shared, and called one call at a time across the shards, as {@link SourceResolver} promises.
     */
    private SourceResolver resolverForShard() {
        SourceResolver r = settings.sourceResolver();
        if (r instanceof TopicSourceResolver) {
            return new TopicSourceResolver();
        }
        if (r instanceof HeaderSourceResolver h) {
            return h.copy();
        }
        return userResolver;
    }

    private static SourceResolver serialized(SourceResolver user, Object lock) {
        return new SourceResolver() {
            @Override
            public int sourceId(org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]> record,
                    CouponState shard) {
                synchronized (lock) { // each call happens-before the next, whichever shard makes it
                    return user.sourceId(record, shard);
                }
            }

            @Override
            public Optional<Collection<String>> declaredSources() {
                return user.declaredSources();
            }
        };
    }

    // --------------------------------------------------------------------------------------------------- start

    /**
     * On the caller of {@code start()}: checks and marks the checkpoint directory, registers the declared sources
     * (before any shard exists, so every shard numbers them alike), starts the coordinator thread.
     */
    @Override
    public void start() {
        lifecycle.start(() -> {
            try {
                ReplicatedEngine.checkSourceLimit(settings);
                if (settings.checkpointDirectory() != null) {
                    claimDirectory(settings.checkpointDirectory(), state.partitions());
                }
                Collection<String> declared = settings.declaredSources().orElseThrow();
                for (String source : declared) {
                    state.sourceId(source);
                }
            } catch (RuntimeException e) {
                lifecycle.fail(e);
                closeHandler();
                throw e instanceof IllegalStateException ? e : new IllegalStateException(e.getMessage(), e);
            }
            Thread t = new Thread(this::run, "coupon-runner-partitioned-" + name);
            t.setDaemon(false); // shard runners' final checkpoints must not be cut off
            thread = t;
            t.start();
        });
    }

    @Override
    public Lifecycle lifecycle() {
        return lifecycle;
    }

    @Override
    public void close() {
        lifecycle.close(this::closeHandler, () -> {
            KafkaConsumer<byte[], byte[]> c = coordinator;
            if (c != null) {
                c.wakeup(); // out of its poll
            }
        }, () -> thread);
    }

    private Throwable closeHandler() {
        return ReplicatedEngine.closeHandler(settings);
    }

    // ----------------------------------------------------------------------------------------- coordinator thread

    private void run() {
        Throwable error = null;
        try {
            cluster = settings.clusterClientFactory().apply(settings.consumerConfig());
            OwnerDirectory dir = new OwnerDirectory(settings, state.partitions());
            directory = dir;
            if (lifecycle.closing()) {
                return;
            }
            dir.start();
            KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(coordinatorConfig(), new ByteArrayDeserializer(),
                    new ByteArrayDeserializer());
            coordinator = c;
            if (lifecycle.closing()) {
                return;
            }
            c.subscribe(settings.topics(), new Listener());
            if (!lifecycle.moveIf(Lifecycle.Stage.STARTING, Lifecycle.Stage.RUNNING)) {
                return; // closed while starting
            }
            LOG.info("{}: partitioned mode, group {}, topics {}, {} partitions, protocol {}, endpoint {}", name,
                    settings.groupId(), settings.topics(), state.partitions(), consumerProtocol ? "consumer"
                    : "classic", settings.applicationEndpoint());
            while (!lifecycle.closing()) {
                boolean pending = advertisePending || shards.values().stream().anyMatch(s -> !s.queryable);
                try {
                    c.poll(pending ? PENDING_POLL : settings.pollTimeout());
                } catch (WakeupException e) {
                    if (lifecycle.closing()) {
                        break;
                    }
                    throw e;
                }
                if (pendingFailure != null) {
                    throw pendingFailure;
                }
                c.pause(c.assignment()); // the coordinator never fetches
                if (checkPending) {
                    checkAndReconcile("assignment check retried");
                    if (pendingFailure != null) {
                        throw pendingFailure;
                    }
                }
                reapLingering();
                watchShards();
                commitDurableOffsets();
                if (advertisePending) {
                    advertise();
                }
            }
        } catch (WakeupException | InterruptException e) {
            if (!lifecycle.closing()) {
                error = e;
            }
        } catch (Throwable t) {
            error = t;
        } finally {
            shutdown(error);
        }
    }

    private Map<String, Object> coordinatorConfig() {
        Map<String, Object> config = new HashMap<>(settings.consumerConfig());
        config.put(ConsumerConfig.CLIENT_ID_CONFIG, name + "-coordinator");
        // the coordinator fetches nothing (its partitions stay paused): where a position would be is irrelevant
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        if (consumerProtocol) {
            config.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG, "range");
        } else {
            config.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, RangeAssignor.class.getName());
            // a member killed without leaving holds its partitions, unanswered, for the whole session
            config.putIfAbsent(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, DEFAULT_SESSION_TIMEOUT_MS);
            if (!config.containsKey(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG)) {
                int session = Integer.parseInt(String.valueOf(config.get(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG)));
                config.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG,
                        Math.max(1, Math.min(DEFAULT_HEARTBEAT_INTERVAL_MS, session / 3)));
            }
        }
        return config;
    }

    /** Fails on a failed shard runner; makes caught-up shards queryable. */
    private void watchShards() {
        for (Shard s : shards.values()) {
            Lifecycle.Stage st = s.runner.lifecycle().stage();
            if (st == Lifecycle.Stage.FAILED) {
                Throwable cause = s.runner.lifecycle().failure();
                throw new IllegalStateException("partition " + s.partition + ": its shard runner FAILED: " + cause,
                        cause);
            }
            if (st.isTerminal() || st == Lifecycle.Stage.PENDING_SHUTDOWN) {
                throw new IllegalStateException("partition " + s.partition + ": its shard runner stopped ("
                        + st + ") while the partition is assigned here");
            }
            if (!s.queryable && s.runner.caughtUpToDiscovery()) {
                state.addShard(s.partition, s.state);
                s.queryable = true; // after addShard: a status that says queryable is true
                long restored = s.runner.restoredSequence(s.partition);
                LOG.info("{}: partition {} is queryable ({}, restored checkpoint {})", name, s.partition,
                        s.runner.appliedPositions(), restored == 0 ? "none, rebuilt from the topics"
                        : String.valueOf(restored));
            }
        }
    }

    /**
     * Commits each shard's newest durable checkpoint offsets to the group, for lag monitoring only (never read back:
     * positions come from the local checkpoints), asynchronously, from this thread with the current generation; only
     * for partitions assigned here now, never from a rebalance callback (so never for lost partitions). A failed
     * commit (a rebalance in progress, the broker away) is retried with the next checkpoint.
     */
    private void commitDurableOffsets() {
        Map<TopicPartition, org.apache.kafka.clients.consumer.OffsetAndMetadata> commits = new HashMap<>();
        Set<TopicPartition> assigned = coordinator.assignment();
        for (Shard s : shards.values()) {
            s.runner.durableOffsets().forEach((tp, offset) -> {
                if (assigned.contains(tp) && !offset.equals(committed.get(tp))) {
                    commits.put(tp, new org.apache.kafka.clients.consumer.OffsetAndMetadata(offset));
                }
            });
        }
        if (commits.isEmpty()) {
            return;
        }
        commits.forEach((tp, om) -> committed.put(tp, om.offset()));
        coordinator.commitAsync(commits, (offsets, e) -> {
            if (e != null) {
                LOG.debug("{}: committing checkpointed offsets for lag monitoring failed, retried with the next "
                        + "checkpoint: {}", name, e.toString());
                if (offsets != null) {
                    offsets.keySet().forEach(committed::remove); // this thread: callbacks run inside poll()
                }
            }
        });
    }

    /** The rebalance callbacks; run on the coordinator thread inside {@code poll()} (and never during stop). */
    private final class Listener implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
            if (stopping || !consumerProtocol) {
                // classic range assignment is eager: everything is revoked and then reassigned in one rebalance; a
                // shard is closed in onPartitionsAssigned only if it does not come straight back
                return;
            }
            owned.removeAll(revoked);
            if (checkPending) {
                checkAndReconcile("revoked " + revoked); // no shard starts before its assignment is checked
            } else {
                reconcile("revoked " + revoked);
            }
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
            if (stopping) {
                return;
            }
            if (!consumerProtocol) {
                owned.clear(); // eager: the whole new assignment
            }
            owned.addAll(assigned);
            coordinator.pause(assigned);
            if (pendingFailure != null) {
                return;
            }
            checkAndReconcile("assigned " + assigned);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> lost) {
            if (stopping) {
                return;
            }
            // nothing is committed for lost partitions (commits happen only in the poll loop, for assigned ones)
            owned.removeAll(lost);
            if (checkPending) {
                checkAndReconcile("lost " + lost);
            } else {
                reconcile("lost " + lost);
            }
        }
    }

    /**
     * Checks co-partitioning, then reconciles; a failed check fails the runner (after poll(), so nothing of this
     * assignment is added), a transient error (metadata not available) is retried by the loop.
     */
    private void checkAndReconcile(String why) {
        try {
            checkCoPartitioned();
        } catch (org.apache.kafka.common.errors.RetriableException e) {
            checkPending = true;
            LOG.warn("{}: {}: topic metadata not available for the co-partitioning check, retrying: {}", name, why,
                    e.toString());
            return;
        } catch (RuntimeException e) {
            pendingFailure = e;
            return;
        }
        checkPending = false;
        reconcile(why);
    }

    /**
     * Every topic must have {@link PartitionedCouponState#partitions()} partitions, and the assignment must hold
     * partition p of every topic or of none (classic protocol: the assignment is computed at once; under the consumer
     * protocol the partitions of one number may arrive in steps, so a partial number is waited for, not a failure).
     */
    private void checkCoPartitioned() {
        Map<String, Integer> counts = new TreeMap<>();
        for (String topic : settings.topics()) {
            List<PartitionInfo> parts = coordinator.partitionsFor(topic, settings.apiTimeout());
            counts.put(topic, parts == null ? 0 : parts.size());
        }
        CoPartitioning.requireCounts(counts, state.partitions());
        Map<Integer, Set<String>> partial = CoPartitioning.partial(owned, settings.topics());
        if (!partial.isEmpty() && consumerProtocol) {
            // incremental: a partition reaches its new owner once the old one released it, so partition p of the
            // topics may arrive in steps; the shard starts once all of them are here
            LOG.info("{}: partitions {} assigned for some topics only so far {}; waiting for the rest", name,
                    partial.keySet(), partial);
        } else if (!partial.isEmpty()) {
            throw new IllegalStateException("partitioned mode: the group assigned partitions " + partial.keySet()
                    + " of some topics only " + partial + " of topics " + settings.topics() + " (partition counts "
                    + counts + "; expected: partition p of every topic on one member, as the range assignor does "
                    + "when every member subscribes to the same co-partitioned topics)");
        }
    }

    /**
     * Brings the shard runners in line with {@link #owned}: closes (final checkpoint) and drops those of partition
     * numbers no longer owned, starts those of new ones, and advertises the owned set.
     */
    private void reconcile(String why) {
        Set<Integer> target = CoPartitioning.complete(owned, settings.topics().size()); // every topic's here
        List<Shard> gone = new ArrayList<>();
        for (Shard s : shards.values()) {
            if (!target.contains(s.partition)) {
                gone.add(s);
            }
        }
        ownedNumbers = Collections.unmodifiableSet(new TreeSet<>(target));
        ownedView = List.copyOf(owned);
        assignmentReconciled = true;
        closeShards(gone);
        for (int p : target) {
            if (!shards.containsKey(p)) {
                openShard(p);
            }
        }
        LOG.info("{}: {}: partitions {} now owned here (closed {})", name, why, target,
                gone.stream().map(s -> s.partition).toList());
        advertise();
    }

    private void openShard(int p) {
        if (lingering.containsKey(p)) {
            return; // its previous runner still holds the directory: reapLingering() opens it once that has stopped
        }
        CouponState shardState = state.newShard(p);
        Path base = settings.checkpointDirectory();
        Path dir = base == null ? null : base.resolve("partition-" + p);
        ReplicatedEngine r = new ReplicatedEngine(settings.forShard(p, shardState, dir, sharedHandler,
                resolverForShard()), null);
        r.start(); // restores on its own poll thread; throws only when the directory cannot be used
        shards.put(p, new Shard(p, r, shardState));
    }

    /**
     * Drops the shards from the state (from here on their codes answer {@link
     * io.couponstate.kafka.NotOwnedException}: their records already go to the new owner), then closes their shard
     * runners in parallel; each writes its final checkpoint from its shard, which it still holds. A shard still
     * restoring has its restore cancelled and is waited for at most {@link #RESTORE_CANCEL_WAIT}: a rebalance
     * callback never waits for a restore; one that is slow to stop finishes on its own, and its partition, should it
     * come back meanwhile, is reopened once it has (see {@link #reapLingering()}).
     */
    private void closeShards(List<Shard> gone) {
        if (gone.isEmpty()) {
            return;
        }
        Set<Integer> restoring = new HashSet<>();
        for (Shard s : gone) {
            if (s.queryable) {
                s.queryable = false; // before dropShard: a status never says queryable for a shard not in the state
                state.dropShard(s.partition);
            } else if (s.runner.lifecycle().stage() == Lifecycle.Stage.STARTING) {
                s.runner.cancelRestore();
                restoring.add(s.partition);
            }
        }
        Map<Shard, Thread> closers = new HashMap<>();
        for (Shard s : gone) {
            Thread t = new Thread(s.runner::close, "coupon-runner-close-" + name + "-p" + s.partition);
            t.start();
            closers.put(s, t);
        }
        long cancelDeadline = System.nanoTime() + RESTORE_CANCEL_WAIT.toNanos();
        boolean interrupted = false;
        for (Map.Entry<Shard, Thread> e : closers.entrySet()) {
            Thread t = e.getValue();
            boolean bounded = restoring.contains(e.getKey().partition);
            while (t.isAlive()) {
                try {
                    if (!bounded) {
                        t.join(); // a final checkpoint: waited for, however long it takes
                    } else {
                        long left = cancelDeadline - System.nanoTime();
                        if (left <= 0) {
                            break;
                        }
                        t.join(Math.max(1, left / 1_000_000));
                    }
                } catch (InterruptedException ex) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        for (Map.Entry<Shard, Thread> e : closers.entrySet()) {
            Shard s = e.getKey();
            shards.remove(s.partition);
            if (e.getValue().isAlive()) {
                LOG.warn("{}: partition {}: its restore did not stop within {} ms of being cancelled; going on "
                        + "without it (it is reopened here, if assigned again, once it has stopped)", name,
                        s.partition, RESTORE_CANCEL_WAIT.toMillis());
                lingering.put(s.partition, e);
            } else {
                closed(s);
            }
        }
    }

    /** After a shard runner's close: its metrics are kept, its failure fails the runner. */
    private void closed(Shard s) {
        retire(s.runner.metrics());
        if (s.runner.lifecycle().stage() == Lifecycle.Stage.FAILED && pendingFailure == null) {
            Throwable cause = s.runner.lifecycle().failure();
            pendingFailure = new IllegalStateException("partition " + s.partition + ": closing its shard "
                    + "runner failed: " + cause, cause);
        }
    }

    /** Collects the shard runners that outlived their cancellation bound, and reopens their partitions if owned. */
    private void reapLingering() {
        if (lingering.isEmpty()) {
            return;
        }
        var it = lingering.values().iterator();
        while (it.hasNext()) {
            Map.Entry<Shard, Thread> e = it.next();
            if (!e.getValue().isAlive()) {
                it.remove();
                closed(e.getKey());
                int p = e.getKey().partition;
                if (ownedNumbers.contains(p) && !shards.containsKey(p)) {
                    openShard(p);
                }
            }
        }
    }

    private void retire(MetricsSnapshot m) {
        MetricsSnapshot r = retired;
        retired = r == null ? m : MetricsSnapshot.sum(List.of(r, m), m.stage(), state.size(), 0, 0);
    }

    /** Writes this instance's owned partition numbers to the membership topic, synchronously; retried if it fails. */
    private void advertise() {
        Set<Integer> now = ownedNumbers;
        if (now.equals(advertised) && !advertisePending) {
            return;
        }
        try {
            directory.advertise(now);
            advertised = now;
            advertisePending = false;
        } catch (KafkaException | IllegalStateException e) {
            advertisePending = true;
            LOG.warn("{}: advertising partitions {} in {} failed, retrying: {}", name, now,
                    settings.membershipTopic(), e.toString());
        }
    }

    private void shutdown(Throwable error) {
        stopping = true;
        if (error != null) {
            lifecycle.fail(error);
        }
        List<Shard> all = new ArrayList<>(shards.values());
        try {
            closeShards(all);
        } catch (RuntimeException e) {
            LOG.warn("{}: closing the shard runners failed", name, e);
        }
        for (Map.Entry<Shard, Thread> e : lingering.values()) {
            try {
                e.getValue().join(); // the runner stops only once every shard runner has
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                break;
            }
            closed(e.getKey());
        }
        lingering.clear();
        ownedNumbers = Set.of();
        ownedView = List.of();
        RuntimeException closeFailure = pendingFailure;
        OwnerDirectory dir = directory;
        if (dir != null) {
            dir.close(); // a tombstone for this instance, then stops tailing
        }
        KafkaConsumer<byte[], byte[]> c = coordinator;
        if (c != null) {
            try {
                c.close(CloseOptions.timeout(settings.apiTimeout())); // leaves the group
            } catch (Throwable t) {
                LOG.warn("{}: closing the coordinator consumer failed", name, t);
            }
        }
        ClusterClient cl = cluster;
        if (cl != null) {
            cl.close();
        }
        Throwable handlerFailure = closeHandler();
        if (error == null && closeFailure != null) {
            lifecycle.fail(closeFailure);
        } else if (error == null && handlerFailure != null) {
            lifecycle.fail(handlerFailure);
        }
        if (lifecycle.stopped()) {
            LOG.info("{}: stopped; {}", name, metrics());
        }
    }

    // ------------------------------------------------------------------------------------------------ any thread

    @Override
    public Optional<String> ownerOf(CharSequence code) {
        int p = state.partitionOf(code);
        if (ownedNumbers.contains(p)) {
            return Optional.ofNullable(settings.applicationEndpoint());
        }
        OwnerDirectory dir = directory;
        return dir == null ? Optional.empty() : dir.ownerOf(p);
    }

    @Override
    public Map<Integer, ShardStatus> shards() {
        Map<Integer, ShardStatus> out = new TreeMap<>();
        for (int p : ownedNumbers) {
            Shard s = shards.get(p);
            boolean queryable = s != null && s.queryable;
            long lag = s == null ? -1 : s.runner.metrics().lag();
            out.put(p, new ShardStatus(p, queryable, lag));
        }
        return Collections.unmodifiableMap(out);
    }

    /** The partitions assigned here now (of every topic). */
    @Override
    public List<TopicPartition> assignedPartitions() {
        return ownedView;
    }

    /** Per partition of the shards here now, the next offset to apply. */
    @Override
    public Map<TopicPartition, Long> appliedPositions() {
        Map<TopicPartition, Long> out = new HashMap<>();
        for (Shard s : shards.values()) {
            out.putAll(s.runner.appliedPositions());
        }
        return out;
    }

    /** The restored checkpoint sequence of the shard of {@code partition} here, or 0 (for tests). */
    @Override
    public long restoredSequence(int partition) {
        Shard s = shards.get(partition);
        return s == null ? 0 : s.runner.restoredSequence(s.partition);
    }

    /**
     * True once at least one partition is assigned here and every assigned partition number's shard is queryable
     * and has applied, in every topic, up to the end offset read when the wait began (or, for a partition assigned
     * during the wait, when it was first seen).
     */
    @Override
    public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        Map<TopicPartition, Long> targets = new HashMap<>();
        return lifecycle.awaitCaughtUp(timeout, settings.apiTimeout(), ask -> {
            Set<Integer> numbers = ownedNumbers;
            if (numbers.isEmpty()) {
                return false;
            }
            List<TopicPartition> missing = new ArrayList<>();
            for (int p : numbers) {
                for (String topic : settings.topics()) {
                    TopicPartition tp = new TopicPartition(topic, p);
                    if (!targets.containsKey(tp)) {
                        missing.add(tp);
                    }
                }
            }
            ClusterClient cl = cluster;
            if (!missing.isEmpty() && cl != null && !ask.isZero()) {
                try {
                    targets.putAll(cl.endOffsets(missing, ask));
                } catch (KafkaException e) {
                    LOG.debug("{}: end offsets for awaitCaughtUp not available yet: {}", name, e.toString());
                }
            }
            return caughtUp(numbers, targets);
        });
    }

    private boolean caughtUp(Set<Integer> numbers, Map<TopicPartition, Long> targets) {
        for (int p : numbers) {
            Shard s = shards.get(p);
            if (s == null || !s.queryable) {
                return false;
            }
            Map<TopicPartition, Long> applied = s.runner.appliedPositions();
            for (String topic : settings.topics()) {
                TopicPartition tp = new TopicPartition(topic, p);
                Long target = targets.get(tp);
                Long position = applied.get(tp);
                if (target == null || position == null || position < target) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The metrics summed over the shard runners here now and those closed since start. */
    @Override
    public MetricsSnapshot metrics() {
        Lifecycle.Stage runnerState = lifecycle.stage();
        List<MetricsSnapshot> parts = new ArrayList<>();
        long lag = 0;
        boolean any = false;
        for (Shard s : shards.values()) {
            MetricsSnapshot m = s.runner.metrics();
            parts.add(m);
            any = true;
            lag = lag < 0 || m.lag() < 0 ? -1 : lag + m.lag();
        }
        long valid = 0;
        for (MetricsSnapshot m : parts) {
            valid += m.validCodes();
        }
        MetricsSnapshot r = retired;
        if (r != null) {
            parts.add(r);
        }
        long reported = any ? lag : assignmentReconciled && ownedNumbers.isEmpty() ? 0 : -1;
        return MetricsSnapshot.sum(parts, runnerState, state.size(), reported, valid);
    }

    /** Marks the checkpoint directory as this runner's shards, or refuses one of another mode or partition count. */
    private static void claimDirectory(Path dir, int partitions) {
        try {
            PartitionedMarker.claimForPartitions(dir, partitions);
        } catch (IOException e) {
            throw new IllegalStateException("checkpoint directory " + dir + ": cannot be used: " + e, e);
        }
    }
}
