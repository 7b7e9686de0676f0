package io.couponstate.kafka.internal.runner;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.ShardStatus;
import io.couponstate.kafka.CouponCheckpoints;
import java.io.IOException;
import java.time.Duration;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replicated engine (Kafka's {@code GlobalStreamThread}): one poll thread that restores the checkpoint, then runs
 * the {@link ConsumerLoop} over every partition of the topics (or, for a partitioned runner's shard, over partition
 * {@code onlyPartition} of each) until closed, and shuts down in order. The contract is the public runner's (see
 * {@code CouponConsumerRunner}); a partitioned engine runs one of these per shard. Thread-safe.
 */
public final class ReplicatedEngine implements Engine {

    /*
     * Concurrency
     *   The consumer is touched only by the poll thread, except wakeup() from close(). awaitCaughtUp asks end
     *   offsets through the ClusterClient (an admin client, thread-safe) on the waiting thread, so that a long poll
     *   never starves a waiter.
     *
     * Shutdown
     *   close() moves to PENDING_SHUTDOWN, wakes the consumer and joins the poll thread without a timeout (only an
     *   interrupt of the closing thread stops the wait). The poll thread stops the apply threads (each finishes its
     *   batch, what is queued is abandoned and never counted as applied), waits for the checkpoint in flight, writes
     *   the final checkpoint and commits it (a pending wakeup is retried past), then closes the checkpoint thread,
     *   the handler, the admin client and the consumer, each in its own try/catch, and moves to STOPPED, or to
     *   FAILED if the final checkpoint failed. Threads are not daemons: a JVM whose main thread ends still finishes
     *   the final checkpoint.
     */

    private static final Logger LOG = LoggerFactory.getLogger("io.couponstate.kafka.CouponConsumerRunner");

    private final RunnerSettings settings;
    private final String name;
    private final Lifecycle lifecycle;
    private final PartitionTracker tracker = new PartitionTracker();
    private final RecordApplier applier;
    private final RateLimitedLog transientLog;

    private volatile Consumer<byte[], byte[]> consumer;
    private volatile ClusterClient cluster;
    private volatile Checkpointer checkpointer;
    private volatile ConsumerLoop loop;
    private volatile Thread pollThread;
    /** True while the poll thread restores the checkpoint; with {@link #restoreCancelled}, a Dekker-style handshake. */
    private volatile boolean restoring;
    private volatile boolean restoreCancelled;

    /** An engine over {@code settings}; {@code listener} (nullable) is told of every state move, (new, old). */
    public ReplicatedEngine(RunnerSettings settings, BiConsumer<Lifecycle.Stage, Lifecycle.Stage> listener) {
        this.settings = settings;
        this.name = settings.name();
        this.lifecycle = new Lifecycle(name, listener);
        this.transientLog = new RateLimitedLog(LOG, settings.clock(), 3, 30_000);
        this.applier = new RecordApplier(settings, new RateLimitedLog(LOG, settings.clock(), 10, 10_000));
    }

    @Override
    public Lifecycle lifecycle() {
        return lifecycle;
    }

    @Override
    public void start() {
        lifecycle.start(() -> {
            try {
                checkSourceLimit(settings);
                CouponCheckpoints checkpoints = null;
                if (settings.checkpointDirectory() != null) {
                    try { // refuses a partitioned runner's directory itself (a shard's lives below it)
                        checkpoints = settings.checkpointsOpener().open(settings.checkpointDirectory(),
                                CouponCheckpoints.Options.defaults()
                                        .baseRolloverFraction(settings.baseRolloverFraction()));
                    } catch (IOException e) {
                        throw new IllegalStateException(e.getMessage(), e); // the message names the directory
                    }
                }
                checkpointer = new Checkpointer(settings, checkpoints, transientLog);
            } catch (RuntimeException e) {
                lifecycle.fail(e);
                releaseAfterStartFailure();
                throw e instanceof IllegalStateException ? e : new IllegalStateException(e.getMessage(), e);
            }
            // not a daemon: a JVM whose main thread ends must not kill the final checkpoint half-written
            Thread t = new Thread(this::run, "coupon-runner-poll-" + name);
            t.setDaemon(false);
            pollThread = t;
            t.start();
        });
    }

    /**
     * Fails when the sources the runner needs exceed the state's {@code maxSources}, or when several sources are
     * fewer than its threshold (no code could ever become valid); both engines check it. A runner of one source may
     * have any threshold: it keeps observation counts (a seen-set), or feeds a state other writers also add to.
     */
    public static void checkSourceLimit(RunnerSettings settings) {
        int maxSources = settings.maxSources();
        Optional<Collection<String>> declared = settings.declaredSources();
        int threshold = settings.state().threshold();
        if (declared.isPresent() && declared.get().size() > 1 && threshold > declared.get().size()) {
            throw new IllegalStateException("threshold: " + threshold + " but the runner reads only "
                    + declared.get().size() + " sources " + declared.get() + ", so no code could ever become valid "
                    + "(expected: a threshold of at most " + declared.get().size() + ", or more topics/sources)");
        }
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

    @Override
    public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        // end offsets come from an admin client on the waiting thread, never from the poll thread: a poll may block
        // for pollTimeout (minutes, say), and a waiter must still answer within its own timeout
        // read once per wait: the end offsets when the wait began
        AtomicReference<Map<TopicPartition, Long>> targets = new AtomicReference<>();
        return lifecycle.awaitCaughtUp(timeout, settings.apiTimeout(), ask -> {
            if (tracker.isEmpty()) {
                return false; // never caught up before a partition is assigned
            }
            ClusterClient cl = cluster;
            if (targets.get() == null && cl != null && !ask.isZero()) {
                try {
                    targets.set(cl.endOffsets(tracker.assignedSnapshot(), ask));
                } catch (KafkaException e) {
                    LOG.debug("{}: end offsets for awaitCaughtUp not available yet: {}", name, e.toString());
                }
            }
            Map<TopicPartition, Long> t = targets.get();
            return t != null && tracker.caughtUp(t);
        });
    }

    @Override
    public List<TopicPartition> assignedPartitions() {
        return tracker.assignedSnapshot();
    }

    @Override
    public Map<TopicPartition, Long> appliedPositions() {
        return tracker.appliedPositions();
    }

    @Override
    public long restoredSequence(int partition) {
        ConsumerLoop l = loop;
        return l == null ? 0 : l.restoredSequence();
    }

    @Override
    public Optional<String> ownerOf(CharSequence code) {
        return Optional.ofNullable(settings.applicationEndpoint()); // every instance holds every code
    }

    @Override
    public Map<Integer, ShardStatus> shards() {
        return Map.of();
    }

    /**
     * Whether every partition this (shard) engine reads is assigned (one per topic) and applied up to its end offset
     * as of its discovery; never blocks.
     */
    public boolean caughtUpToDiscovery() {
        return tracker.assignedSnapshot().size() == settings.topics().size() && tracker.caughtUp(Map.of());
    }

    /** The offsets of the newest durable checkpoint; empty before one. Any thread. */
    public Map<TopicPartition, Long> durableOffsets() {
        Checkpointer cp = checkpointer;
        return cp == null ? Map.of() : cp.durableOffsets();
    }

    @Override
    public MetricsSnapshot metrics() {
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
        Lifecycle.Stage s = lifecycle.stage();
        CouponCheckpoints restore = cp == null ? null : cp.checkpoints();
        CouponState state = settings.state();
        return new MetricsSnapshot(s, applier.recordsConsumed(), applier.codesApplied(),
                l == null ? 0 : l.recordsPerSecond(), applier.invalidCounts(), state.size(), state.validCount(),
                l == null ? tracker.lag() : l.lag(), written, failures, l == null ? 0 : l.restoredSequence(), durable, age, lastFailure,
                l == null ? Optional.empty() : l.problem(),
                s.phase(s == Lifecycle.Stage.RUNNING && tracker.caughtUpOnce()),
                restore == null ? 0 : restore.restoreBytesRead(), restore == null ? 0 : restore.restoreBytesTotal(),
                restore == null ? 0 : restore.restoreBytesPerSecond(System.nanoTime()),
                l == null ? 0 : l.recentRecordsPerSecond());
    }

    @Override
    public void close() {
        lifecycle.close(this::closeHandler, () -> {
            ConsumerLoop l = loop;
            if (l != null) {
                l.wakeIdle();
            }
            Consumer<byte[], byte[]> c = consumer;
            if (c != null) {
                c.wakeup();
            }
        }, () -> pollThread);
    }

    /**
     * "; valid now: A B C" while at most {@code progressValidCodes} codes are valid, else nothing (the count is in
     * the metrics). O(valid codes): the state keeps them apart from the table.
     */
    public static String validCodesNote(RunnerSettings settings) {
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
            ConsumerLoop l = new ConsumerLoop(settings, c, cluster, tracker, applier, checkpointer,
                    lifecycle::closing);
            java.util.function.Consumer<String> sink = settings.progressSink().orElse(LOG::info);
            l.onProgress(() -> sink.accept(name + ": " + metrics() + validCodesNote(settings)));
            loop = l;
            if (lifecycle.closing()) {
                return;
            }
            restoring = true;
            if (restoreCancelled) {
                return;
            }
            l.restore();
            restoring = false;
            if (!lifecycle.moveIf(Lifecycle.Stage.STARTING, Lifecycle.Stage.RUNNING)) {
                return; // closed while starting
            }
            LOG.info("{}: running on topics {} (restored checkpoint {})", name, settings.topics(),
                    l.restoredSequence() == 0 ? "none" : String.valueOf(l.restoredSequence()));
            while (!lifecycle.closing()) {
                try {
                    l.runOnce();
                } catch (WakeupException e) {
                    if (lifecycle.closing()) {
                        break; // the wakeup close() asked for: swallowed only while closing
                    }
                    throw e;
                }
            }
        } catch (WakeupException | InterruptException e) {
            if (!lifecycle.closing()) {
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

    /**
     * Cancels the restore in progress, if any, for a partitioned runner whose shard moved away before it was ready:
     * the poll thread is interrupted (reading a checkpoint file stops at its next read: file channels are
     * interruptible), and the engine then stops without a final checkpoint (its state may be half restored) and
     * without failing. Call {@link #close()} after it. Once this is called, no final checkpoint is written, even if
     * the restore had just finished: the shard is going away, and its previous checkpoint stays usable.
     */
    public void cancelRestore() {
        restoreCancelled = true;
        Thread t = pollThread;
        if (restoring && t != null) { // volatile read after the volatile write: run() sees one or the other
            t.interrupt();
        }
    }

    private void shutdown(Throwable error) {
        if (restoreCancelled) {
            Thread.interrupted(); // the cancellation's interrupt must not cut the closing below short
            if (error != null) {
                LOG.info("{}: restore cancelled ({})", name, error.toString());
            }
            error = null;
            if (loop != null) {
                try {
                    loop.stopApplying(); // no final checkpoint: the state may be half restored
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        } else if (error != null) {
            lifecycle.fail(error);
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
                lifecycle.fail(t);
            }
        }
        Checkpointer cp = checkpointer;
        if (cp != null) {
            cp.close(); // waits for a write in flight; releases the directory
        }
        Throwable handlerFailure = closeHandler();
        if (handlerFailure != null && lifecycle.stage() == Lifecycle.Stage.PENDING_SHUTDOWN) {
            lifecycle.fail(handlerFailure); // a dead letter lost on the way out: a clean close must not report STOPPED
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
        if (lifecycle.stopped()) {
            LOG.info("{}: stopped; {}", name, metrics());
        }
    }

    private Throwable closeHandler() {
        return closeHandler(settings);
    }

    /** Closes the settings' invalid-record handler; returns what it threw (logged), or null. Both engines close
     *  it this way, once, at the end of their shutdown. */
    public static Throwable closeHandler(RunnerSettings settings) {
        try {
            settings.invalidRecordHandler().close();
            return null;
        } catch (Throwable t) {
            LOG.warn("{}: closing the invalid-record handler failed", settings.name(), t);
            return t;
        }
    }
}
