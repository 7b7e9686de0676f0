package io.couponstate.kafka.internal.runner;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.CouponCheckpoints;
import io.couponstate.kafka.InvalidRecordHandler;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.IllegalGenerationException;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.StaleMemberEpochException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoints on a cadence (the runner's {@code GlobalStateMaintainer.maybeCheckpoint} over its
 * {@code GlobalStateManagerImpl}): owns the {@link CouponCheckpoints} and a checkpoint thread, so that writing a large
 * state never holds up polling, and commits each durable checkpoint's offsets to the group for lag monitoring.
 *
 * <p><b>Threads.</b> Every method but the metrics readers is called by the poll thread. The write itself runs on the
 * checkpoint thread: at most one at a time; the offsets it covers were captured on the poll thread after every record
 * below them was applied, which happens-before the write starts (executor submission). The metrics are volatile with
 * a single writer (the poll thread), readable from any thread.
 *
 * <p><b>Incremental.</b> What each write is, a base or a delta of the state's change journal, is the checkpoints' choice
 * ({@link CouponCheckpoints#write}); a failed write makes the next one a base.
 *
 * <p><b>Failures.</b> A failed periodic write is logged at ERROR with its cause, counted, and shows in
 * {@link #durable()} and {@link #lastFailure()} until a later write succeeds; it is retried at the next interval. A
 * failed final write is thrown to the caller, which fails the runner.
 */
public final class Checkpointer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Checkpointer.class);

    private final CouponCheckpoints checkpoints; // null: no checkpoint directory
    private final CouponState state;
    private final InvalidRecordHandler handler;
    private final Clock clock;
    private final long intervalMillis;
    private final String groupId;
    private final Duration apiTimeout;
    private final String name;
    private final RateLimitedLog transientLog;
    private final ExecutorService executor;

    private Future<Map<TopicPartition, Long>> inFlight; // poll thread only
    private Map<TopicPartition, Long> lastCheckpointed = Map.of();
    /** The offsets of the newest durable checkpoint (restored or written), for any thread; empty before one. */
    private volatile Map<TopicPartition, Long> durableOffsets = Map.of();
    private long nextCheckpointAt;
    /** Offsets whose commit failed and is retried after {@link #nextCommitRetryAt}; null when none. Poll thread. */
    private Map<TopicPartition, Long> pendingCommit;
    private long nextCommitRetryAt;

    private volatile long written;
    private volatile long failures;
    private volatile boolean durable = true;
    private volatile long lastDurableAtMillis = -1;
    private volatile String lastFailure;
    private volatile long commitFailures;

    /**
     * A checkpointer over {@code checkpoints}, which it closes (null: nothing is checkpointed, commits too are skipped,
     * as there is nothing durable to commit).
     */
    public Checkpointer(RunnerSettings settings, CouponCheckpoints checkpoints, RateLimitedLog transientLog) {
        this.checkpoints = checkpoints;
        this.state = settings.state();
        this.handler = settings.invalidRecordHandler();
        this.clock = settings.clock();
        this.intervalMillis = settings.checkpointInterval().toMillis();
        this.groupId = settings.groupId();
        this.apiTimeout = settings.apiTimeout();
        this.name = settings.name();
        this.transientLog = transientLog;
        this.nextCheckpointAt = clock.millis() + intervalMillis;
        this.executor = checkpoints == null ? null : Executors.newSingleThreadExecutor(runnable -> {
            // not a daemon: a JVM whose main thread ends must not kill a checkpoint half-written
            Thread t = new Thread(runnable, "coupon-runner-checkpoint-" + settings.name());
            t.setDaemon(false);
            return t;
        });
    }

    /** Whether there is a checkpoint directory to checkpoint to. */
    public boolean enabled() {
        return checkpoints != null;
    }

    /** The checkpoints; null without a checkpoint directory. */
    public CouponCheckpoints checkpoints() {
        return checkpoints;
    }

    /** Unions the newest usable checkpoint into the state; remembers its offsets as already checkpointed. */
    public Optional<CouponCheckpoints.Restored> restore() throws IOException {
        if (checkpoints == null) {
            return Optional.empty();
        }
        Optional<CouponCheckpoints.Restored> r = checkpoints.restoreCheckpoint(state);
        r.ifPresent(restored -> {
            lastCheckpointed = new HashMap<>(restored.offsets());
            durableOffsets = Map.copyOf(restored.offsets());
        });
        return r;
    }

    /**
     * Starts a checkpoint of {@code offsets} on the checkpoint thread if the interval has passed, none is in flight,
     * and the offsets changed since the last durable one.
     */
    public void maybeStart(long now, Map<TopicPartition, Long> offsets, Map<String, Uuid> topicIds) {
        if (checkpoints == null || inFlight != null || now - nextCheckpointAt < 0) {
            return;
        }
        nextCheckpointAt = now + intervalMillis;
        if (offsets.equals(lastCheckpointed)) {
            return;
        }
        Map<TopicPartition, Long> frozen = Map.copyOf(offsets);
        Map<String, Uuid> ids = Map.copyOf(topicIds);
        inFlight = executor.submit(() -> write(frozen, ids));
    }

    /** Whether the cadence would start a checkpoint at {@code now}; for the loop's bookkeeping. */
    public boolean due(long now) {
        return checkpoints != null && inFlight == null && now - nextCheckpointAt >= 0;
    }

    private Map<TopicPartition, Long> write(Map<TopicPartition, Long> offsets, Map<String, Uuid> topicIds)
            throws IOException {
        handler.flush(); // dead letters below these offsets become durable before the checkpoint that skips them
        CouponCheckpoints.Checkpoint written = checkpoints.write(state, offsets, topicIds);
        LOG.debug("{}: checkpoint {} written for offsets {}", name, written, offsets);
        return offsets;
    }

    /**
     * Collects the checkpoint in flight if it is done (or, with {@code block}, once it is) and commits its offsets
     * for the partitions in {@code assigned}; a failure is recorded, logged and retried at the next interval.
     */
    public void finish(Consumer<byte[], byte[]> consumer, Collection<TopicPartition> assigned, boolean block)
            throws InterruptedException {
        Future<Map<TopicPartition, Long>> f = inFlight;
        if (f == null || (!block && !f.isDone())) {
            if (pendingCommit != null && clock.millis() - nextCommitRetryAt >= 0) {
                commit(consumer, assigned, pendingCommit);
            }
            return;
        }
        Map<TopicPartition, Long> offsets;
        try {
            offsets = f.get();
        } catch (ExecutionException e) {
            failed(e.getCause(), "checkpoint failed, retrying at the next interval");
            return;
        } finally {
            inFlight = null;
        }
        succeeded(offsets);
        commit(consumer, assigned, offsets);
    }

    /**
     * Waits for the checkpoint in flight, then writes a final one unless the offsets are those of the last durable
     * checkpoint, then commits. Blocks as long as the write takes.
     *
     * @throws IOException if the final checkpoint could not be written: the caller fails the runner
     */
    public void finalCheckpoint(Consumer<byte[], byte[]> consumer, Collection<TopicPartition> assigned,
            Map<TopicPartition, Long> offsets, Map<String, Uuid> topicIds) throws IOException, InterruptedException {
        if (checkpoints == null) {
            return;
        }
        finish(consumer, assigned, true);
        if (!offsets.equals(lastCheckpointed)) {
            try {
                write(offsets, topicIds);
            } catch (IOException | RuntimeException e) {
                failed(e, "final checkpoint failed; the next start replays from the previous one");
                throw e;
            }
            succeeded(offsets);
        }
        if (!lastCheckpointed.isEmpty() && consumer != null) {
            // committed even when unchanged: the periodic commit of this checkpoint may have failed (broker away)
            commit(consumer, assigned, lastCheckpointed);
        }
    }

    private void succeeded(Map<TopicPartition, Long> offsets) {
        lastCheckpointed = offsets;
        durableOffsets = Map.copyOf(offsets); // volatile: read by a partitioned runner's coordinator
        written = written + 1; // volatile stores, single writer
        lastDurableAtMillis = clock.millis();
        durable = true;
        lastFailure = null;
    }

    private void failed(Throwable cause, String what) {
        boolean first = durable; // the first failure in a row gets the stack trace; repeats one line each
        failures = failures + 1; // volatile stores, single writer
        durable = false;
        lastFailure = String.valueOf(cause);
        if (first) {
            LOG.error("{}: {} (checkpoint directory {})", name, what, checkpoints.directory(), cause);
        } else {
            LOG.error("{}: {} (checkpoint directory {}; failing since the previous attempt): {}", name, what,
                    checkpoints.directory(), cause.toString());
        }
    }

    /**
     * Commits {@code offsets} of the partitions in {@code assigned} to the group, if there is one. The commit is for
     * lag monitoring only (positions come from the checkpoint), so no failure of it is fatal: a retriable one, or one
     * of the group refusing this member ({@link CommitFailedException}, {@link RebalanceInProgressException}, an
     * unknown member, an old generation or a stale epoch: for instance when the group id is also used by an active
     * group) is logged, rate-limited, and the commit is retried an interval later unless a newer one replaces it. A
     * wakeup from {@code close()} that found no blocking call lands here once and is retried once, so that a pending
     * wakeup never skips the commit.
     */
    public void commit(Consumer<byte[], byte[]> consumer, Collection<TopicPartition> assigned,
            Map<TopicPartition, Long> offsets) {
        if (groupId == null || consumer == null) {
            return;
        }
        Map<TopicPartition, OffsetAndMetadata> commits = new HashMap<>();
        for (TopicPartition tp : assigned) {
            Long offset = offsets.get(tp);
            if (offset != null) {
                commits.put(tp, new OffsetAndMetadata(offset));
            }
        }
        pendingCommit = null;
        if (commits.isEmpty()) {
            return;
        }
        try {
            try {
                consumer.commitSync(commits, apiTimeout);
            } catch (WakeupException e) {
                consumer.commitSync(commits, apiTimeout); // a wakeup is consumed by the call it interrupts
            }
            commitFailures = 0;
        } catch (RetriableException | CommitFailedException | RebalanceInProgressException
                | UnknownMemberIdException | IllegalGenerationException | StaleMemberEpochException e) {
            pendingCommit = offsets;
            nextCommitRetryAt = clock.millis() + intervalMillis;
            commitFailures = commitFailures + 1; // volatile store, single writer
            transientLog.warn("{}: committing offsets to group {} for lag monitoring failed (the state and its "
                    + "checkpoints are not affected), retrying in {} ms: {}", name, groupId, intervalMillis,
                    e.toString());
        }
    }

    /** Failed group commits in a row (lag monitoring only); 0 after a commit succeeds. Any thread. */
    public long commitFailures() {
        return commitFailures;
    }

    /** The offsets of the newest durable checkpoint, restored or written; empty before one. Any thread. */
    public Map<TopicPartition, Long> durableOffsets() {
        return durableOffsets;
    }

    /** Checkpoints made durable since start. */
    public long written() {
        return written;
    }

    /** Checkpoint writes that failed since start. */
    public long failures() {
        return failures;
    }

    /** False while the newest checkpoint attempt failed; true before any attempt and without a checkpoint directory. */
    public boolean durable() {
        return durable;
    }

    /** When the last durable checkpoint of this run was written (clock millis), or -1 if none was. */
    public long lastDurableAtMillis() {
        return lastDurableAtMillis;
    }

    /** The newest failure's cause while {@link #durable()} is false. */
    public Optional<String> lastFailure() {
        return Optional.ofNullable(lastFailure);
    }

    /**
     * Waits for the checkpoint thread to finish what it is writing (however long; an interrupt stops the wait) and
     * releases the checkpoint directory. Never throws.
     */
    @Override
    public void close() {
        if (executor != null) {
            executor.shutdown();
            try {
                while (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
                    LOG.info("{}: waiting for a checkpoint write to finish", name);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                LOG.warn("{}: interrupted while a checkpoint was being written; it may not be complete (the "
                        + "previous checkpoint stays usable)", name);
            }
        }
        if (checkpoints != null) {
            try {
                checkpoints.close(); // releases the checkpoint directory's lock
            } catch (RuntimeException e) {
                LOG.warn("{}: releasing the checkpoint directory failed", name, e);
            }
        }
    }
}
