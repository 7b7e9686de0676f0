package io.couponstate.kafka;

import io.couponstate.core.CodeFormat;
import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.InvalidCouponCodeException;
import io.couponstate.kafka.internal.CheckpointStore;
import io.couponstate.kafka.internal.ClusterClient;
import io.couponstate.kafka.internal.RateLimitedLog;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
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
 * {@link #state()} never block. Applying is as non-blocking as the state (lock-free or striped locks).
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
 * the runner keeps going. Transient Kafka errors (a broker away for a while) are retried. A fatal error (authorization,
 * unsupported version, a checkpoint below the log-start offset, an offset out of range, an exception from the
 * handler or the state's listener) stops the runner in {@link State#FAILED} with {@link #failureCause()} set.
 */
public final class CouponConsumerRunner implements AutoCloseable {

    /*
     * Concurrency
     *   The consumer is touched only by the poll thread, except wakeup() from close(). Other threads see the poll
     *   thread's progress through concurrent maps (applied positions, end offsets at discovery), a copy-on-write list
     *   of assigned partitions, volatile counters with a single writer, and the AtomicReference state. awaitCaughtUp
     *   asks the poll thread for end offsets through a queue of futures, because the consumer is not thread-safe.
     *
     * Checkpoint
     *   Poll thread: capture applied positions (everything below is applied) -> submit to the checkpoint thread,
     *   which flushes the invalid-record handler and writes the file -> poll thread sees the future done and commits
     *   those offsets to the group. At most one checkpoint is in flight; an unchanged position set writes nothing.
     *
     * Shutdown
     *   close() sets closing, moves to PENDING_SHUTDOWN, wakes the consumer and joins the poll thread, which waits
     *   for the checkpoint in flight, writes a final checkpoint and commits it, then closes the checkpoint thread,
     *   the handler and the consumer, each in its own try/catch, and moves to STOPPED.
     */

    private static final Logger LOG = LoggerFactory.getLogger(CouponConsumerRunner.class);
    private static final AtomicInteger INSTANCES = new AtomicInteger();
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

    private final CouponState state;
    private final List<String> topics;
    private final Map<String, Object> consumerConfig;
    private final String groupId;
    private final Path checkpointDirectory;
    private final long checkpointIntervalMillis;
    private final Duration pollTimeout;
    private final Duration apiTimeout;
    private final Duration closeTimeout;
    private final long discoveryIntervalMillis;
    private final long progressIntervalMillis;
    private final SourceResolver resolver;
    private final InvalidRecordHandler handler;
    private final boolean bulkValues;
    private final int maxValueBytes;
    private final Clock clock;
    private final CodeFormat format;
    private final int threshold;
    private final String name;

    private final AtomicReference<State> runnerState = new AtomicReference<>(State.CREATED);
    private volatile Throwable failure;
    private volatile boolean closing;
    private volatile KafkaConsumer<byte[], byte[]> consumer;
    private volatile Thread pollThread;
    private volatile ClusterClient cluster; // made by start(), closed by the poll thread on its way out
    private final Object sleepLock = new Object();

    // read by any thread, written by the poll thread
    private final ConcurrentHashMap<TopicPartition, Long> applied = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<TopicPartition, Long> endAtDiscovery = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<TopicPartition> assignedView = new CopyOnWriteArrayList<>();
    private final AtomicLongArray invalidCounts = new AtomicLongArray(InvalidRecordReason.values().length);
    private volatile long recordsConsumed;
    private volatile long codesApplied;
    private volatile long validCodes;
    private volatile long lag = -1;
    private volatile long checkpointsWritten;
    private volatile long checkpointFailures;
    private volatile long restoredSequence;
    private volatile double recordsPerSecond;

    // poll thread only
    private final List<TopicPartition> assigned = new ArrayList<>();
    private final Set<TopicPartition> assignedSet = new HashSet<>();
    private Map<TopicPartition, Long> restoredOffsets = Map.of();
    private Map<TopicPartition, Long> lastCheckpointed = Map.of();
    private CheckpointStore store;
    private ExecutorService checkpointExecutor;
    private Future<Map<TopicPartition, Long>> inFlight;
    private long nextCheckpointAt;
    private long nextDiscoveryAt;
    private long rateMarkMillis;
    private long rateMarkRecords;
    private long batchApplied;
    private long batchValid;
    private final RateLimitedLog badRecordLog;
    private final RateLimitedLog transientLog;

    private CouponConsumerRunner(Builder b, CodeFormat format) {
        this.state = b.state;
        this.topics = List.copyOf(b.topics);
        this.groupId = b.groupId;
        this.checkpointDirectory = b.checkpointDirectory;
        this.checkpointIntervalMillis = b.checkpointInterval.toMillis();
        this.pollTimeout = b.pollTimeout;
        this.apiTimeout = b.apiTimeout;
        this.closeTimeout = b.closeTimeout;
        this.discoveryIntervalMillis = b.partitionDiscoveryInterval.toMillis();
        this.progressIntervalMillis = b.progressLogInterval.toMillis();
        this.resolver = b.sourceResolver == null ? SourceResolver.topicName() : b.sourceResolver;
        this.handler = b.invalidRecordHandler == null ? InvalidRecordHandler.skip() : b.invalidRecordHandler;
        this.bulkValues = b.bulkValues;
        this.maxValueBytes = b.maxValueBytes;
        this.clock = b.clock;
        this.format = format;
        this.threshold = state.threshold();
        this.badRecordLog = new RateLimitedLog(LOG, clock, 10, 10_000);
        this.transientLog = new RateLimitedLog(LOG, clock, 3, 30_000);
        Map<String, Object> config = new HashMap<>(b.consumerProperties);
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, b.bootstrapServers);
        if (groupId != null) {
            config.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        }
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        config.putIfAbsent(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
        config.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "coupon-state-runner-" + INSTANCES.incrementAndGet());
        this.consumerConfig = Collections.unmodifiableMap(config);
        this.name = String.valueOf(config.get(ConsumerConfig.CLIENT_ID_CONFIG));
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts the poll thread and returns at once. The poll thread restores the newest usable checkpoint (state
     * STARTING), then finds and assigns the partitions and polls (RUNNING).
     *
     * @throws IllegalStateException unless the runner is CREATED
     */
    public void start() {
        if (!runnerState.compareAndSet(State.CREATED, State.STARTING)) {
            throw new IllegalStateException("start: runner is " + runnerState.get() + " (expected: CREATED)");
        }
        cluster = ClusterClient.admin(consumerConfig, name + "-admin");
        Thread t = new Thread(this::run, "coupon-runner-poll-" + name);
        t.setDaemon(true);
        pollThread = t;
        t.start();
    }

    /**
     * Waits until the state holds every record that was in the topics when the wait began. First waits until
     * partitions are known and assigned; then reads each partition's end offset once, at that moment (a partition
     * found during the wait: its end offset when found), and waits until every partition's applied position (applied
     * to the state, not merely fetched) has reached it. Never true before a partition is assigned.
     *
     * @return true when caught up; false on timeout, or if the runner stops (is closed) while waiting
     * @throws IllegalStateException with the failure as its cause if the runner is or becomes FAILED
     * @throws InterruptedException if the waiting thread is interrupted
     */
    public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        Objects.requireNonNull(timeout, "timeout");
        long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
        while (assignedView.isEmpty()) {
            if (!usable() || System.nanoTime() - deadline >= 0) {
                return false;
            }
            pause(deadline);
        }
        // end offsets come from an admin client on this thread, never from the poll thread: a poll may block for
        // pollTimeout (minutes, say), and a waiter must still answer within its own timeout
        ClusterClient cluster = this.cluster;
        Map<TopicPartition, Long> targets = null;
        while (true) {
            if (!usable()) {
                return false;
            }
            long left = deadline - System.nanoTime();
            if (targets == null && cluster != null && left > 0) {
                try {
                    Duration ask = Duration.ofNanos(Math.min(left, apiTimeout.toNanos()));
                    targets = cluster.endOffsets(List.copyOf(assignedView), ask);
                } catch (KafkaException e) {
                    LOG.debug("{}: end offsets for awaitCaughtUp not available yet: {}", name, e.toString());
                }
            }
            if (targets != null && caughtUp(targets)) {
                return true;
            }
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            pause(deadline);
        }
    }

    private boolean caughtUp(Map<TopicPartition, Long> targets) {
        for (TopicPartition tp : assignedView) {
            Long target = targets.get(tp);
            if (target == null) {
                target = endAtDiscovery.get(tp);
            }
            Long position = applied.get(tp);
            if (target == null || position == null || position < target) {
                return false;
            }
        }
        return true;
    }

    /** False when stopping or stopped; throws when FAILED. */
    private boolean usable() {
        State s = runnerState.get();
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

    /** The state this runner keeps current; readable at any time from any thread. */
    public CouponState state() {
        return state;
    }

    /** Where the runner is in its life cycle. */
    public State runnerState() {
        return runnerState.get();
    }

    /** Why the runner is FAILED; empty otherwise. */
    public Optional<Throwable> failureCause() {
        return runnerState.get() == State.FAILED ? Optional.ofNullable(failure) : Optional.empty();
    }

    /** The partitions assigned so far (replicated mode: every partition of the topics found so far). */
    public List<TopicPartition> assignedPartitions() {
        return List.copyOf(assignedView);
    }

    /** Per assigned partition, the next offset to apply: every record below it is in the state. */
    public Map<TopicPartition, Long> appliedPositions() {
        return Map.copyOf(applied);
    }

    /** The consumer settings the runner uses, owned ones included (for diagnostics; passwords included). */
    Map<String, Object> consumerConfig() {
        return consumerConfig;
    }

    /** A snapshot of the counters; cheap, never blocks. */
    public RunnerMetrics metrics() {
        EnumMap<InvalidRecordReason, Long> invalid = new EnumMap<>(InvalidRecordReason.class);
        for (InvalidRecordReason r : InvalidRecordReason.values()) {
            invalid.put(r, invalidCounts.get(r.ordinal()));
        }
        return new RunnerMetrics(runnerState.get(), recordsConsumed, codesApplied, recordsPerSecond, invalid,
                state.size(), validCodes, lag, checkpointsWritten, checkpointFailures, restoredSequence);
    }

    /**
     * Stops the runner: wakes the consumer out of a poll, waits for the poll thread to write a final checkpoint and
     * commit its offsets, then closes the checkpoint thread, the handler and the consumer. Waits at most the close
     * timeout for the poll thread. Idempotent; a FAILED runner stays FAILED.
     */
    @Override
    public void close() {
        closing = true;
        while (true) {
            State s = runnerState.get();
            if (s.isTerminal() || s == State.PENDING_SHUTDOWN) {
                break;
            }
            if (runnerState.compareAndSet(s, State.PENDING_SHUTDOWN)) {
                if (s == State.CREATED) {
                    runnerState.set(State.STOPPED); // never started: nothing to release but the handler
                    closeHandler();
                    return;
                }
                break;
            }
        }
        synchronized (sleepLock) {
            sleepLock.notifyAll();
        }
        KafkaConsumer<byte[], byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        Thread t = pollThread;
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join(closeTimeout.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (t.isAlive()) {
                LOG.warn("{}: poll thread did not finish within {}", name, closeTimeout);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------- poll thread

    private void run() {
        try {
            if (checkpointDirectory != null) {
                restore();
            }
            KafkaConsumer<byte[], byte[]> c =
                    new KafkaConsumer<>(consumerConfig, new ByteArrayDeserializer(), new ByteArrayDeserializer());
            consumer = c;
            long now = clock.millis();
            nextCheckpointAt = now + checkpointIntervalMillis;
            rateMarkMillis = now;
            if (!runnerState.compareAndSet(State.STARTING, State.RUNNING)) {
                return; // closed while starting
            }
            LOG.info("{}: running on topics {} (restored checkpoint {})", name, topics, restoredSequence);
            while (!closing) {
                try {
                    loopOnce(c);
                } catch (WakeupException e) {
                    if (closing) {
                        break; // the wakeup close() asked for: swallowed only while closing
                    }
                    throw e;
                } catch (RetriableException e) {
                    transientLog.warn("{}: transient Kafka error, retrying: {}", name, e.toString());
                }
            }
        } catch (WakeupException | InterruptException e) {
            if (!closing) {
                fail(e);
            }
        } catch (Throwable t) {
            fail(t);
        } finally {
            shutdown();
        }
    }

    private void restore() throws IOException {
        store = new CheckpointStore(checkpointDirectory);
        Optional<CheckpointStore.Restored> r = store.restore(state);
        if (r.isPresent()) {
            restoredOffsets = r.get().offsets();
            lastCheckpointed = new HashMap<>(restoredOffsets);
            restoredSequence = r.get().sequence();
        }
        long[] valid = {0};
        state.forEachCouponCode(threshold, code -> valid[0]++);
        validCodes = valid[0];
        checkpointExecutor = Executors.newSingleThreadExecutor(runnable -> {
            Thread t = new Thread(runnable, "coupon-runner-checkpoint-" + name);
            t.setDaemon(true);
            return t;
        });
    }

    private void loopOnce(KafkaConsumer<byte[], byte[]> c) {
        long now = clock.millis();
        if (assigned.isEmpty() || now - nextDiscoveryAt >= 0) {
            nextDiscoveryAt = now + (assigned.isEmpty() ? pollTimeout.toMillis() : discoveryIntervalMillis);
            discover(c);
        }
        if (assigned.isEmpty()) {
            synchronized (sleepLock) {
                if (!closing) {
                    try {
                        sleepLock.wait(pollTimeout.toMillis());
                    } catch (InterruptedException e) {
                        throw new InterruptException(e);
                    }
                }
            }
            return;
        }
        retryMissingEndOffsets(c);
        ConsumerRecords<byte[], byte[]> records;
        try {
            records = c.poll(pollTimeout);
        } catch (OffsetOutOfRangeException e) {
            throw new IllegalStateException("offsets out of range " + e.offsetOutOfRangePartitions()
                    + ": records were deleted (retention) before they were applied; refusing to skip them", e);
        }
        if (!records.isEmpty()) {
            apply(records);
        }
        publishPositions(c);
        now = clock.millis();
        finishCheckpoint(c, false);
        maybeStartCheckpoint(now);
        maybeLogProgress(now);
    }

    private void discover(KafkaConsumer<byte[], byte[]> c) {
        Map<String, List<PartitionInfo>> all = c.listTopics(apiTimeout);
        List<TopicPartition> found = new ArrayList<>();
        for (String topic : topics) {
            List<PartitionInfo> parts = all.get(topic);
            if (parts == null) {
                continue;
            }
            for (PartitionInfo p : parts) {
                TopicPartition tp = new TopicPartition(p.topic(), p.partition());
                if (!assignedSet.contains(tp)) {
                    found.add(tp);
                }
            }
        }
        if (found.isEmpty()) {
            return;
        }
        found.sort((a, b) -> a.topic().equals(b.topic()) ? Integer.compare(a.partition(), b.partition())
                : a.topic().compareTo(b.topic()));
        Map<TopicPartition, Long> begin = c.beginningOffsets(found, apiTimeout);
        Map<TopicPartition, Long> end = c.endOffsets(found, apiTimeout);
        Map<TopicPartition, Long> start = new LinkedHashMap<>();
        for (TopicPartition tp : found) {
            Long checkpointed = restoredOffsets.get(tp);
            long logStart = begin.get(tp);
            long logEnd = end.get(tp);
            if (checkpointed == null) {
                start.put(tp, logStart);
            } else if (checkpointed < logStart) {
                throw new IllegalStateException("partition " + tp + ": checkpoint offset " + checkpointed
                        + " is below the log-start offset " + logStart + " (records deleted by retention were never "
                        + "applied); refusing to skip them. Delete the checkpoint directory to rebuild from the "
                        + "beginning.");
            } else if (checkpointed > logEnd) {
                throw new IllegalStateException("partition " + tp + ": checkpoint offset " + checkpointed
                        + " is above the log-end offset " + logEnd + " (was the topic deleted and created again?)");
            } else {
                start.put(tp, checkpointed);
            }
        }
        assigned.addAll(found);
        assignedSet.addAll(found);
        c.assign(assigned);
        for (Map.Entry<TopicPartition, Long> e : start.entrySet()) {
            c.seek(e.getKey(), e.getValue());
            applied.put(e.getKey(), e.getValue());
            endAtDiscovery.put(e.getKey(), end.get(e.getKey()));
        }
        assignedView.addAll(found); // after applied and endAtDiscovery: a waiter that sees a partition sees both
        LOG.info("{}: assigned {} (start offsets {}, end offsets {})", name, found, start, end);
    }

    private void retryMissingEndOffsets(KafkaConsumer<byte[], byte[]> c) {
        if (endAtDiscovery.size() < assigned.size()) {
            List<TopicPartition> missing = new ArrayList<>();
            for (TopicPartition tp : assigned) {
                if (!endAtDiscovery.containsKey(tp)) {
                    missing.add(tp);
                }
            }
            try {
                endAtDiscovery.putAll(c.endOffsets(missing, apiTimeout));
            } catch (RetriableException e) {
                // polling goes on; asked again on the next loop
                transientLog.warn("{}: end offsets of {} not available, retrying: {}", name, missing, e.toString());
            }
        }
    }

    private void apply(ConsumerRecords<byte[], byte[]> records) {
        final CouponState state = this.state;
        final SourceResolver resolver = this.resolver;
        final int maxValueBytes = this.maxValueBytes;
        final boolean bulkValues = this.bulkValues;
        long consumed = 0;
        batchApplied = 0;
        batchValid = 0;
        for (TopicPartition tp : records.partitions()) {
            for (ConsumerRecord<byte[], byte[]> record : records.records(tp)) {
                consumed++;
                byte[] value = record.value();
                InvalidRecordReason bad;
                boolean counted = false;
                if (value == null) {
                    bad = InvalidRecordReason.NULL_VALUE;
                } else if (value.length == 0) {
                    bad = InvalidRecordReason.EMPTY_VALUE;
                } else if (value.length > maxValueBytes) {
                    bad = InvalidRecordReason.OVERSIZED;
                } else {
                    int sourceId = resolver.sourceId(record, state);
                    if (sourceId < 0) {
                        bad = sourceId == SourceResolver.SOURCE_LIMIT ? InvalidRecordReason.SOURCE_LIMIT
                                : InvalidRecordReason.SOURCE_UNRESOLVED;
                    } else if (bulkValues) {
                        bad = applyLines(record, value, sourceId);
                        counted = true; // line by line
                    } else {
                        bad = applyCode(record, value, 0, value.length, sourceId);
                    }
                }
                if (bad != null) {
                    if (!counted) {
                        count(record, bad);
                    }
                    handler.handle(record, bad);
                }
            }
        }
        // volatile stores with a single writer: each publishes the batch's applied records
        recordsConsumed = recordsConsumed + consumed;
        codesApplied = codesApplied + batchApplied;
        validCodes = validCodes + batchValid;
    }

    /** Applies one code; returns why it is bad, or null. Allocates nothing for a good code. */
    private InvalidRecordReason applyCode(ConsumerRecord<byte[], byte[]> record, byte[] value, int offset, int length,
            int sourceId) {
        if (format != null) {
            InvalidCouponCodeException.Reason violation = format.violation(value, offset, length);
            if (violation != null) {
                return InvalidRecordReason.of(violation);
            }
        }
        int count;
        try {
            count = state.addObservation(value, offset, length, sourceId);
        } catch (InvalidCouponCodeException e) {
            return InvalidRecordReason.of(e.reason()); // a state whose format we could not see up front
        }
        batchApplied++;
        if (count == threshold) {
            batchValid++;
        }
        return null;
    }

    /** Applies every non-empty line; counts each bad line; returns the first bad line's reason, or null. */
    private InvalidRecordReason applyLines(ConsumerRecord<byte[], byte[]> record, byte[] value, int sourceId) {
        InvalidRecordReason first = null;
        boolean any = false;
        int start = 0;
        for (int i = 0; i <= value.length; i++) {
            if (i == value.length || value[i] == '\n') {
                int end = i;
                if (end > start && value[end - 1] == '\r') {
                    end--;
                }
                if (end > start) {
                    any = true;
                    InvalidRecordReason bad = applyCode(record, value, start, end - start, sourceId);
                    if (bad != null) {
                        count(record, bad);
                        if (first == null) {
                            first = bad;
                        }
                    }
                }
                start = i + 1;
            }
        }
        if (!any) {
            count(record, InvalidRecordReason.EMPTY_VALUE);
            return InvalidRecordReason.EMPTY_VALUE;
        }
        return first;
    }

    private void count(ConsumerRecord<byte[], byte[]> record, InvalidRecordReason reason) {
        invalidCounts.incrementAndGet(reason.ordinal());
        badRecordLog.warn("{}: invalid record {}-{}@{}: {}", name, record.topic(), record.partition(),
                record.offset(), reason);
    }

    private void publishPositions(KafkaConsumer<byte[], byte[]> c) {
        long totalLag = 0;
        for (TopicPartition tp : assigned) {
            // the position after a poll is one past the last record it returned, all of which are now applied
            try {
                applied.put(tp, c.position(tp, Duration.ZERO));
            } catch (TimeoutException e) {
                // position being revalidated (say, after a leader change): keep the older, lower value; safe
            }
            OptionalLong partitionLag = c.currentLag(tp);
            if (totalLag >= 0 && partitionLag.isPresent()) {
                totalLag += partitionLag.getAsLong();
            } else {
                totalLag = -1;
            }
        }
        lag = totalLag;
    }

    private Map<TopicPartition, Long> captureOffsets() {
        Map<TopicPartition, Long> offsets = new LinkedHashMap<>(restoredOffsets); // keeps topics gone for now
        for (TopicPartition tp : assigned) {
            offsets.put(tp, applied.get(tp));
        }
        return offsets;
    }

    private void maybeStartCheckpoint(long now) {
        if (store == null || inFlight != null || now - nextCheckpointAt < 0) {
            return;
        }
        nextCheckpointAt = now + checkpointIntervalMillis;
        Map<TopicPartition, Long> offsets = captureOffsets();
        if (offsets.equals(lastCheckpointed)) {
            return;
        }
        inFlight = checkpointExecutor.submit(() -> writeCheckpoint(offsets));
    }

    private Map<TopicPartition, Long> writeCheckpoint(Map<TopicPartition, Long> offsets) throws IOException {
        handler.flush(); // dead letters below these offsets become durable before the checkpoint that skips them
        Path file = store.write(offsets, Map.of(), state, clock.millis()); // topic ids: the runner's own change
        LOG.debug("{}: checkpoint {} written for offsets {}", name, file, offsets);
        return offsets;
    }

    private void finishCheckpoint(KafkaConsumer<byte[], byte[]> c, boolean block) {
        Future<Map<TopicPartition, Long>> f = inFlight;
        if (f == null || (!block && !f.isDone())) {
            return;
        }
        Map<TopicPartition, Long> offsets;
        try {
            offsets = f.get();
        } catch (ExecutionException e) {
            checkpointFailures = checkpointFailures + 1;
            LOG.error("{}: checkpoint failed, retrying at the next interval", name, e.getCause());
            return;
        } catch (InterruptedException e) {
            throw new InterruptException(e);
        } finally {
            inFlight = null;
        }
        lastCheckpointed = offsets;
        checkpointsWritten = checkpointsWritten + 1;
        commit(c, offsets);
    }

    private void commit(KafkaConsumer<byte[], byte[]> c, Map<TopicPartition, Long> offsets) {
        if (groupId == null) {
            return;
        }
        Map<TopicPartition, OffsetAndMetadata> commits = new HashMap<>();
        for (TopicPartition tp : assigned) {
            Long offset = offsets.get(tp);
            if (offset != null) {
                commits.put(tp, new OffsetAndMetadata(offset));
            }
        }
        try {
            c.commitSync(commits, apiTimeout);
        } catch (RetriableException e) {
            transientLog.warn("{}: committing offsets for lag monitoring failed, next checkpoint retries: {}", name,
                    e.toString());
        }
    }

    private void maybeLogProgress(long now) {
        long window = progressIntervalMillis > 0 ? progressIntervalMillis : 10_000;
        if (now - rateMarkMillis < window) {
            return;
        }
        long consumed = recordsConsumed;
        recordsPerSecond = (consumed - rateMarkRecords) * 1000.0 / (now - rateMarkMillis);
        rateMarkRecords = consumed;
        rateMarkMillis = now;
        if (progressIntervalMillis > 0) {
            LOG.info("{}: {}", name, metrics());
        }
    }

    private void fail(Throwable t) {
        failure = t; // published by the state store below
        while (true) {
            State s = runnerState.get();
            if (s.isTerminal()) {
                break;
            }
            if (runnerState.compareAndSet(s, State.FAILED)) {
                LOG.error("{}: FAILED in state {}", name, s, t);
                break;
            }
        }
    }

    private void shutdown() {
        KafkaConsumer<byte[], byte[]> c = consumer;
        if (runnerState.get() != State.FAILED && c != null) {
            try {
                finishCheckpoint(c, true);
                finalCheckpoint(c);
            } catch (Throwable t) {
                LOG.error("{}: final checkpoint or commit failed; the next start replays from the previous one",
                        name, t);
            }
        }
        if (checkpointExecutor != null) {
            try {
                checkpointExecutor.shutdown();
                if (!checkpointExecutor.awaitTermination(closeTimeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    LOG.warn("{}: checkpoint thread still busy after {}", name, closeTimeout);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (Throwable t) {
                LOG.warn("{}: stopping the checkpoint thread failed", name, t);
            }
        }
        closeHandler();
        ClusterClient cl = cluster;
        if (cl != null) {
            cl.close();
        }
        if (store != null) {
            store.close(); // releases the checkpoint directory's lock
        }
        if (c != null) {
            try {
                c.close(closeTimeout);
            } catch (Throwable t) {
                LOG.warn("{}: closing the consumer failed", name, t);
            }
        }
        if (runnerState.compareAndSet(State.PENDING_SHUTDOWN, State.STOPPED)) {
            LOG.info("{}: stopped; {}", name, metrics());
        }
    }

    private void finalCheckpoint(KafkaConsumer<byte[], byte[]> c) throws IOException {
        if (store == null) {
            return;
        }
        Map<TopicPartition, Long> offsets = captureOffsets();
        if (!offsets.equals(lastCheckpointed)) {
            writeCheckpoint(offsets);
            lastCheckpointed = offsets;
            checkpointsWritten = checkpointsWritten + 1;
        }
        if (lastCheckpointed.isEmpty()) {
            return;
        }
        // committed even when unchanged: the periodic commit of this checkpoint may have failed (broker away)
        try {
            commit(c, lastCheckpointed);
        } catch (WakeupException e) {
            commit(c, lastCheckpointed); // a wakeup() from close() that found no blocking call lands here once
        }
    }

    private void closeHandler() {
        try {
            handler.close();
        } catch (Throwable t) {
            LOG.warn("{}: closing the invalid-record handler failed", name, t);
        }
    }

    @Override
    public String toString() {
        return "CouponConsumerRunner{" + name + ", " + runnerState.get() + ", topics=" + topics + "}";
    }

    // -------------------------------------------------------------------------------------------------- builder

    /** Builds a {@link CouponConsumerRunner}; not thread-safe. Every check happens in {@link #build()}. */
    public static final class Builder {

        /** Consumer properties the runner sets itself, and why. */
        static final Map<String, String> OWNED;

        static {
            Map<String, String> owned = new LinkedHashMap<>();
            owned.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
                    "offsets are committed only after the checkpoint that covers them is durable");
            owned.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG,
                    "records are read as byte[] so that no String is made per record");
            owned.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
                    "records are read as byte[] so that no String is made per record");
            owned.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "positions come from the local checkpoint or the "
                    + "partition's beginning; an out-of-range position fails the runner rather than skip data");
            owned.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG,
                    "the runner assigns every partition itself (replicated mode) and never joins a group");
            owned.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                    "the runner assigns every partition itself (replicated mode) and never joins a group");
            owned.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG,
                    "the runner assigns every partition itself (replicated mode) and never joins a group");
            owned.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, "set it with bootstrapServers()");
            owned.put(ConsumerConfig.GROUP_ID_CONFIG, "set it with groupId()");
            OWNED = Collections.unmodifiableMap(owned);
        }

        private String bootstrapServers;
        private String groupId;
        private List<String> topics;
        private CouponState state;
        private Path checkpointDirectory;
        private Duration checkpointInterval = Duration.ofMinutes(1);
        private Duration pollTimeout = Duration.ofMillis(500);
        private Duration apiTimeout = Duration.ofSeconds(5);
        private Duration closeTimeout = Duration.ofSeconds(30);
        private Duration partitionDiscoveryInterval = Duration.ofSeconds(30);
        private Duration progressLogInterval = Duration.ofSeconds(30);
        private final Map<String, Object> consumerProperties = new LinkedHashMap<>();
        private SourceResolver sourceResolver;
        private InvalidRecordHandler invalidRecordHandler;
        private boolean bulkValues;
        private int maxValueBytes = 1 << 20;
        private Clock clock = Clock.systemUTC();

        private Builder() {
        }

        /** The brokers to bootstrap from, {@code host:port[,host:port...]} (required). */
        public Builder bootstrapServers(String bootstrapServers) {
            this.bootstrapServers = Objects.requireNonNull(bootstrapServers, "bootstrapServers");
            return this;
        }

        /**
         * The group to commit offsets to, for lag monitoring only: each checkpoint's offsets, once it is durable (so
         * nothing is committed without a checkpoint directory). Optional; the group's offsets are never read.
         */
        public Builder groupId(String groupId) {
            this.groupId = Objects.requireNonNull(groupId, "groupId");
            return this;
        }

        /** The topics to read, every partition of each (required, at least one). */
        public Builder topics(Collection<String> topics) {
            this.topics = new ArrayList<>(Objects.requireNonNull(topics, "topics"));
            return this;
        }

        /** The state to keep current (required); its validity listener runs on the poll thread. */
        public Builder state(CouponState state) {
            this.state = Objects.requireNonNull(state, "state");
            return this;
        }

        /** Where checkpoints live (optional: without it nothing is checkpointed and state is rebuilt by replay). */
        public Builder checkpointDirectory(Path checkpointDirectory) {
            this.checkpointDirectory = Objects.requireNonNull(checkpointDirectory, "checkpointDirectory");
            return this;
        }

        /** How often a checkpoint is written (default 1 minute; > 0); one is also written on close. */
        public Builder checkpointInterval(Duration checkpointInterval) {
            this.checkpointInterval = Objects.requireNonNull(checkpointInterval, "checkpointInterval");
            return this;
        }

        /** The longest one poll blocks (default 500 ms; > 0). */
        public Builder pollTimeout(Duration pollTimeout) {
            this.pollTimeout = Objects.requireNonNull(pollTimeout, "pollTimeout");
            return this;
        }

        /** The longest a metadata, offsets or commit request blocks the poll thread (default 5 s; > 0). */
        public Builder apiTimeout(Duration apiTimeout) {
            this.apiTimeout = Objects.requireNonNull(apiTimeout, "apiTimeout");
            return this;
        }

        /** The longest {@code close()} waits for the poll thread (default 30 s; > 0). */
        public Builder closeTimeout(Duration closeTimeout) {
            this.closeTimeout = Objects.requireNonNull(closeTimeout, "closeTimeout");
            return this;
        }

        /** How often new partitions of the topics are looked for (default 30 s; > 0). */
        public Builder partitionDiscoveryInterval(Duration partitionDiscoveryInterval) {
            this.partitionDiscoveryInterval =
                    Objects.requireNonNull(partitionDiscoveryInterval, "partitionDiscoveryInterval");
            return this;
        }

        /** How often the progress line is logged (default 30 s; {@code Duration.ZERO} turns it off). */
        public Builder progressLogInterval(Duration progressLogInterval) {
            this.progressLogInterval = Objects.requireNonNull(progressLogInterval, "progressLogInterval");
            return this;
        }

        /** Sets a consumer property the runner does not own (see {@link #build()}); later calls win. */
        public Builder consumerProperty(String key, Object value) {
            consumerProperties.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** Sets several consumer properties, as {@link #consumerProperty} does. */
        public Builder consumerProperties(Map<String, ?> properties) {
            Objects.requireNonNull(properties, "properties").forEach(this::consumerProperty);
            return this;
        }

        /** How a record's source is found (default: {@link SourceResolver#topicName()}). */
        public Builder sourceResolver(SourceResolver sourceResolver) {
            this.sourceResolver = Objects.requireNonNull(sourceResolver, "sourceResolver");
            return this;
        }

        /** Who gets bad records (default: {@link InvalidRecordHandler#skip()}); the runner closes it. */
        public Builder invalidRecordHandler(InvalidRecordHandler invalidRecordHandler) {
            this.invalidRecordHandler = Objects.requireNonNull(invalidRecordHandler, "invalidRecordHandler");
            return this;
        }

        /** Whether a record's value holds many codes, one per line ({@code \n}, optional {@code \r}; default false). */
        public Builder bulkValues(boolean bulkValues) {
            this.bulkValues = bulkValues;
            return this;
        }

        /** The largest value looked at; a longer one is {@link InvalidRecordReason#OVERSIZED} (default 1 MiB). */
        public Builder maxValueBytes(int maxValueBytes) {
            this.maxValueBytes = maxValueBytes;
            return this;
        }

        /** The clock for checkpoint, discovery and progress cadence (default: the system clock). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * The runner; connects to nothing yet.
         *
         * @throws IllegalArgumentException naming the first bad or missing value and its rule, or a consumer
         *     property the runner owns and why it does
         */
        public CouponConsumerRunner build() {
            if (bootstrapServers == null || bootstrapServers.isBlank()) {
                throw new IllegalArgumentException(
                        "bootstrapServers: " + bootstrapServers + " (expected: host:port[,host:port...])");
            }
            if (topics == null || topics.isEmpty()) {
                throw new IllegalArgumentException("topics: " + topics + " (expected: at least one topic)");
            }
            for (String topic : topics) {
                if (topic == null || topic.isBlank()) {
                    throw new IllegalArgumentException("topics: " + topics + " (expected: no null or blank name)");
                }
            }
            if (new HashSet<>(topics).size() != topics.size()) {
                throw new IllegalArgumentException("topics: " + topics + " (expected: no duplicates)");
            }
            if (state == null) {
                throw new IllegalArgumentException("state: null (expected: the CouponState to keep current)");
            }
            positive("checkpointInterval", checkpointInterval);
            positive("pollTimeout", pollTimeout);
            positive("apiTimeout", apiTimeout);
            positive("closeTimeout", closeTimeout);
            positive("partitionDiscoveryInterval", partitionDiscoveryInterval);
            if (progressLogInterval.isNegative()) {
                throw new IllegalArgumentException("progressLogInterval: " + progressLogInterval
                        + " (expected: >= 0, 0 turns it off)");
            }
            if (maxValueBytes < 1) {
                throw new IllegalArgumentException("maxValueBytes: " + maxValueBytes + " (expected: >= 1)");
            }
            for (String key : consumerProperties.keySet()) {
                String why = OWNED.get(key);
                if (why != null) {
                    throw new IllegalArgumentException("consumerProperty " + key + ": owned by the runner (" + why
                            + ")");
                }
            }
            return new CouponConsumerRunner(this, formatOf(state));
        }

        private static void positive(String name, Duration d) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + ": " + d + " (expected: > 0)");
            }
        }

        /**
         * The state's code format, through its public {@code config()} (on the implementation classes), so that bad
         * codes are found without an exception; null for a state without one (then the exception is caught).
         */
        private static CodeFormat formatOf(CouponState state) {
            try {
                Object config = state.getClass().getMethod("config").invoke(state);
                return config instanceof CouponStateConfig ? ((CouponStateConfig) config).codeFormat() : null;
            } catch (ReflectiveOperationException | RuntimeException e) {
                return null;
            }
        }
    }
}
