package io.couponstate.kafka.internal.runner;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.CouponCheckpoints;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The poll thread's work (the runner's {@code StateConsumer}): restore, find and assign partitions, seek, poll, hand
 * whole polled batches to the {@link ApplyStage} (which applies them with the {@link RecordApplier} on its own
 * threads and advances the applied positions in the {@link PartitionTracker}), and drive the {@link Checkpointer}'s
 * cadence.
 *
 * <p><b>Back-pressure.</b> While the apply stage holds its bound of batches in flight, the loop waits up to
 * {@code pollTimeout} for room, then pauses every assigned partition and polls anyway (returning nothing), so
 * {@code poll()} keeps being called at least every {@code pollTimeout} however slow applying is, and no more than
 * the bound is ever buffered; the partitions are resumed once there is room.
 *
 * <p><b>Threads.</b> Not thread-safe: every method is called by the poll thread, except {@link #wakeIdle()},
 * {@link #problem()}, {@link #recordsPerSecond()}, {@link #recentRecordsPerSecond()} and {@link #restoredSequence()},
 * which any thread may call.
 *
 * <p><b>Failures.</b> Each failure class is caught where it is thrown: retriable errors around the metadata, offset
 * and poll calls (logged at a bounded rate and retried on the next loop, polling goes on), an out-of-range position
 * around {@code poll} (fatal: records were deleted before they were applied). An apply thread's failure (a user
 * callback's exception of any type, a source limit) is rethrown by the next {@link #runOnce()}, so it fails the
 * runner. {@code WakeupException} is left to the
 * runner, which swallows it only while closing.
 */
public final class ConsumerLoop {

    private static final Logger LOG = LoggerFactory.getLogger("io.couponstate.kafka.CouponConsumerRunner");
    /** Metadata failing this many API timeouts in a row counts as an unreachable cluster. */
    static final int UNREACHABLE_AFTER_TIMEOUTS = 3;

    private final RunnerSettings settings;
    private final Consumer<byte[], byte[]> consumer;
    private final ClusterClient cluster;
    private final PartitionTracker tracker;
    private final RecordApplier applier;
    private final Checkpointer checkpointer;
    private final ApplyStage stage;
    private final BooleanSupplier closing;
    private final Clock clock;
    private final String name;
    private final Duration pollTimeout;
    private final Duration apiTimeout;
    private final RateLimitedLog transientLog;
    private final RateLimitedLog problemLog;
    private final Object idle = new Object();

    // poll thread only
    private Map<TopicPartition, Long> restoredOffsets = Map.of();
    private Map<TopicPartition, Long> kept = new LinkedHashMap<>(); // restored offsets of partitions not assigned now
    private Map<String, Uuid> restoredIds = Map.of();
    private final Map<String, Uuid> topicIds = new LinkedHashMap<>();
    private boolean fellBack;
    private boolean topicsChecked;
    private long nextDiscoveryAt;
    private long metadataFailingSince = -1;
    private long rateMarkMillis;
    private long rateMarkRecords;
    private Runnable progress = () -> { };
    private boolean idleLineLogged;
    private boolean paused; // every assigned partition is paused for back-pressure

    private volatile String problem;
    private volatile double recordsPerSecond;
    private volatile double recentRecordsPerSecond;
    private long recentMarkMillis = -1;
    private long recentMarkRecords;
    private boolean caughtUpLogged;
    private long runningSinceMillis;
    private volatile long restoredSequence;

    /** The loop over one consumer; connects to nothing until {@link #runOnce()}. */
    public ConsumerLoop(RunnerSettings settings, Consumer<byte[], byte[]> consumer, ClusterClient cluster,
            PartitionTracker tracker, RecordApplier applier, Checkpointer checkpointer, BooleanSupplier closing) {
        this.settings = settings;
        this.consumer = consumer;
        this.cluster = cluster;
        this.tracker = tracker;
        this.applier = applier;
        this.checkpointer = checkpointer;
        this.closing = closing;
        this.clock = settings.clock();
        this.name = settings.name();
        this.pollTimeout = settings.pollTimeout();
        this.apiTimeout = settings.apiTimeout();
        this.transientLog = new RateLimitedLog(LOG, clock, 3, 30_000);
        long progress = settings.progressLogInterval().toMillis();
        this.problemLog = new RateLimitedLog(LOG, clock, 1, progress > 0 ? progress : 30_000);
        this.rateMarkMillis = clock.millis();
        this.stage = new ApplyStage(applier, tracker, settings.applyThreads(), name);
    }

    /**
     * Restores the newest usable checkpoint, warns about topics it covers that are no longer read, registers the
     * sources the runner is known to need.
     *
     * @throws IllegalStateException if the state cannot hold the sources needed
     */
    public void restore() throws IOException {
        Optional<CouponCheckpoints.Restored> r = checkpointer.restore();
        if (r.isPresent()) {
            CouponCheckpoints.Restored restored = r.get();
            restoredOffsets = restored.offsets();
            kept = new LinkedHashMap<>(restoredOffsets);
            restoredIds = restoredTopicIds(restored);
            restoredSequence = restored.sequence(); // volatile: read by metrics
            Set<String> gone = new TreeSet<>();
            for (TopicPartition tp : restoredOffsets.keySet()) {
                if (!settings.topics().contains(tp.topic())) {
                    gone.add(tp.topic());
                }
            }
            for (String topic : gone) {
                LOG.warn("{}: checkpoint {} covers topic {}, which is not in topics {}: its observations stay in "
                        + "the state (they are in the snapshot); delete the checkpoint directory to rebuild without "
                        + "them", name, restored.file(), topic, settings.topics());
            }
        }
        fellBack = storeFellBack() || (r.isEmpty() && quarantinedFilesExist());
        registerSources();
        rateMarkMillis = clock.millis();
        runningSinceMillis = rateMarkMillis;
    }

    private static Map<String, Uuid> restoredTopicIds(CouponCheckpoints.Restored restored) {
        return restored.topicIds();
    }

    private boolean storeFellBack() {
        return checkpointer.checkpoints() != null && checkpointer.checkpoints().fellBack();
    }

    /** Damaged checkpoints set aside by an earlier start: no usable checkpoint now does not mean none ever was. */
    private boolean quarantinedFilesExist() throws IOException {
        if (checkpointer.checkpoints() == null) {
            return false;
        }
        try (java.nio.file.DirectoryStream<java.nio.file.Path> files = java.nio.file.Files.newDirectoryStream(
                checkpointer.checkpoints().directory(), "*.corrupt")) {
            return files.iterator().hasNext();
        }
    }

    private void registerSources() {
        Optional<Collection<String>> declared = settings.declaredSources();
        if (declared.isEmpty()) {
            return;
        }
        CouponState state = settings.state();
        for (String source : declared.get()) {
            try {
                state.sourceId(source);
            } catch (IllegalStateException e) {
                throw new IllegalStateException("sources: the runner needs " + declared.get().size() + " sources "
                        + declared.get() + ", but the state cannot register '" + source + "'"
                        + (settings.maxSources() > 0 ? " (maxSources " + settings.maxSources() + ")" : "")
                        + ", counting those its checkpoint already holds: raise maxSources", e);
            }
        }
    }

    /** Wakes the loop out of its wait for a first partition (close). Any thread. */
    public void wakeIdle() {
        synchronized (idle) {
            idle.notifyAll();
        }
    }

    /**
     * One turn: rethrow an apply failure, discover if due, poll once (or pause and poll while the apply stage is
     * full), hand the batch off, checkpoint if due, log progress if due.
     */
    public void runOnce() throws InterruptedException {
        stage.throwIfFailed();
        long now = clock.millis();
        if (tracker.isEmpty() || now - nextDiscoveryAt >= 0) {
            nextDiscoveryAt = now + (tracker.isEmpty() ? pollTimeout.toMillis()
                    : settings.partitionDiscoveryInterval().toMillis());
            discover(now);
        }
        if (tracker.isEmpty()) {
            synchronized (idle) {
                if (!closing.getAsBoolean()) {
                    idle.wait(pollTimeout.toMillis());
                }
            }
            maybeLogProgress(clock.millis());
            return;
        }
        retryMissingEndOffsets();
        boolean full = stage.isFull();
        if (full) {
            stage.awaitRoom(pollTimeout.toMillis());
            stage.throwIfFailed();
            full = stage.isFull();
        }
        if (full) {
            consumer.pause(tracker.assigned()); // again each time: partitions found since are paused too
            paused = true;
        } else if (paused) {
            consumer.resume(tracker.assigned());
            paused = false;
        }
        ConsumerRecords<byte[], byte[]> records;
        try {
            records = consumer.poll(full ? Duration.ZERO : pollTimeout);
        } catch (OffsetOutOfRangeException e) {
            throw new IllegalStateException("offsets out of range " + e.offsetOutOfRangePartitions()
                    + ": records were deleted (retention) before they were applied; refusing to skip them", e);
        } catch (RetriableException e) {
            transientLog.warn("{}: transient error polling, retrying: {}", name, e.toString());
            records = ConsumerRecords.empty();
        }
        if (!records.isEmpty()) {
            if (metadataFailingSince >= 0) {
                metadataFailingSince = -1; // records arrive: the cluster is reachable again
                problem = null; // volatile: read by metrics
            }
        }
        if (!full || !records.isEmpty()) {
            handOff(records); // a paused poll returns nothing; should it return records, they are not dropped
        }
        publishLag();
        now = clock.millis();
        checkpointer.finish(consumer, tracker.assigned(), false);
        if (checkpointer.due(now)) {
            checkpointer.maybeStart(now, tracker.capture(kept), checkpointTopicIds());
        }
        maybeLogProgress(now);
        meterRecentRate(now);
        if (!caughtUpLogged && tracker.caughtUpOnce()) {
            caughtUpLogged = true;
            LOG.info("{}: caught up with the end offsets found at assignment: {} records in {} ms, lag {}", name,
                    applier.recordsConsumed(), now - runningSinceMillis, lag());
        }
    }

    /**
     * Samples the records consumed at most once a second: the rate over the last sample interval (about a second)
     * is what an ETA divides the lag by, so it follows the catch-up closely, unlike the progress interval's rate.
     */
    private void meterRecentRate(long now) {
        long consumed = applier.recordsConsumed();
        if (recentMarkMillis < 0) {
            recentMarkMillis = now;
            recentMarkRecords = consumed;
            return;
        }
        long elapsed = now - recentMarkMillis;
        if (elapsed >= RECENT_RATE_MILLIS) {
            recentRecordsPerSecond = (consumed - recentMarkRecords) * 1000.0 / elapsed; // volatile
            recentMarkMillis = now;
            recentMarkRecords = consumed;
        }
    }

    /** How often the recent rate is sampled (ms). */
    static final long RECENT_RATE_MILLIS = 1_000;

    /** Records per second over the last second or so of running (0 before the first second). Any thread. */
    public double recentRecordsPerSecond() {
        return recentRecordsPerSecond;
    }

    /** The final checkpoint on a clean shutdown; see {@link Checkpointer#finalCheckpoint}. */
    public void finalCheckpoint() throws IOException, InterruptedException {
        stopApplying();
        stage.throwIfFailed(); // a failure while closing fails the close, never a checkpoint past it
        checkpointer.finalCheckpoint(consumer, tracker.assigned(), tracker.capture(kept), checkpointTopicIds());
    }

    /** Topic ids to write: those restored (topics not read now keep theirs) overlaid with the current ones. */
    private Map<String, Uuid> checkpointTopicIds() {
        Map<String, Uuid> ids = new HashMap<>(restoredIds);
        ids.putAll(topicIds);
        return ids;
    }

    private void discover(long now) throws InterruptedException {
        Map<String, List<PartitionInfo>> all;
        try {
            all = consumer.listTopics(apiTimeout);
        } catch (RetriableException e) {
            metadataFailed(now, e);
            return;
        }
        metadataFailingSince = -1;
        problem = null; // volatile: read by metrics
        if (!topicsChecked) {
            List<String> missing = new ArrayList<>();
            for (String topic : settings.topics()) {
                if (!all.containsKey(topic)) {
                    missing.add(topic);
                }
            }
            if (!missing.isEmpty() && !settings.allowMissingTopics()) {
                throw new IllegalStateException("topics not found: " + missing + " (of topics " + settings.topics()
                        + "; expected: existing topics the client may describe; allowMissingTopics(true) waits for "
                        + "them to be created)");
            }
            if (!missing.isEmpty()) {
                LOG.info("{}: topics {} do not exist yet; they are read once created", name, missing);
            }
            topicsChecked = true;
        }
        List<TopicPartition> found = new ArrayList<>();
        Set<String> newTopics = new LinkedHashSet<>();
        for (String topic : settings.topics()) {
            List<PartitionInfo> parts = all.get(topic);
            if (parts == null) {
                continue;
            }
            for (PartitionInfo p : parts) {
                if (settings.onlyPartition() >= 0 && p.partition() != settings.onlyPartition()) {
                    continue; // a partitioned runner's shard: partition p of every topic, no other
                }
                TopicPartition tp = new TopicPartition(p.topic(), p.partition());
                if (!tracker.isAssigned(tp)) {
                    found.add(tp);
                    if (!topicIds.containsKey(topic)) {
                        newTopics.add(topic);
                    }
                }
            }
        }
        if (found.isEmpty()) {
            return;
        }
        found.sort((a, b) -> a.topic().equals(b.topic()) ? Integer.compare(a.partition(), b.partition())
                : a.topic().compareTo(b.topic()));
        Map<TopicPartition, Long> begin;
        Map<TopicPartition, Long> end;
        Map<String, Uuid> ids;
        try {
            begin = consumer.beginningOffsets(found, apiTimeout);
            end = consumer.endOffsets(found, apiTimeout);
            ids = newTopics.isEmpty() ? Map.of() : cluster.topicIds(newTopics, apiTimeout);
        } catch (RetriableException e) {
            // nothing assigned yet for these partitions: the whole discovery is tried again soon
            nextDiscoveryAt = now + pollTimeout.toMillis();
            transientLog.warn("{}: offsets of new partitions {} not available, retrying: {}", name, found,
                    e.toString());
            return;
        }
        Set<String> rebuilt = new TreeSet<>();
        for (String topic : newTopics) {
            Uuid currentId = ids.get(topic);
            Uuid then = restoredIds.get(topic);
            if (currentId != null && then != null && !currentId.equals(then)) {
                if (!settings.rebuildRecreatedTopics()) {
                    throw new IllegalStateException("topic " + topic + " was deleted and created again since the "
                            + "checkpoint (topic id " + then + " in the checkpoint, " + currentId + " now): its "
                            + "checkpointed offsets belong to the old topic. Delete the checkpoint directory, or set "
                            + "rebuildRecreatedTopics(true) to read the new topic from its beginning");
                }
                LOG.warn("{}: topic {} was deleted and created again since the checkpoint (topic id {} in the "
                        + "checkpoint, {} now): reading it again from its beginning (observations are a union, "
                        + "so what the old topic added stays)", name, topic, then, currentId);
                rebuilt.add(topic);
            }
            if (currentId != null) {
                topicIds.put(topic, currentId);
            }
        }
        if (!rebuilt.isEmpty()) {
            kept.keySet().removeIf(tp -> rebuilt.contains(tp.topic()));
        }
        Map<TopicPartition, Long> start = new LinkedHashMap<>();
        for (TopicPartition tp : found) {
            Long checkpointed = rebuilt.contains(tp.topic()) ? null : restoredOffsets.get(tp);
            long logStart = begin.get(tp);
            long logEnd = end.get(tp);
            if (checkpointed == null) {
                if (fellBack && logStart > 0 && !rebuilt.contains(tp.topic())) {
                    throw new IllegalStateException("partition " + tp + ": the newest checkpoints were damaged and "
                            + "set aside, and the partition's log starts at offset " + logStart + " (records deleted "
                            + "by retention): starting from the log start would skip records the damaged "
                            + "checkpoints covered; refusing. Delete the checkpoint directory to rebuild from what "
                            + "the topics still hold.");
                }
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
        List<TopicPartition> assignment = new ArrayList<>(tracker.assigned());
        assignment.addAll(found);
        consumer.assign(assignment);
        for (Map.Entry<TopicPartition, Long> e : start.entrySet()) {
            consumer.seek(e.getKey(), e.getValue());
            kept.remove(e.getKey());
        }
        tracker.assign(start, end);
        LOG.info("{}: assigned {} (start offsets {}, end offsets {})", name, found, start, end);
    }

    private void metadataFailed(long now, RetriableException e) {
        if (metadataFailingSince < 0) {
            metadataFailingSince = now;
        }
        if (now - metadataFailingSince >= UNREACHABLE_AFTER_TIMEOUTS * apiTimeout.toMillis()) {
            String reason = "cannot reach a Kafka broker at " + settings.bootstrapServers() + ": " + e;
            problem = reason; // volatile: read by metrics
            problemLog.warn("{}: {} (retrying; no metadata for {} ms)", name, reason, now - metadataFailingSince);
        } else {
            transientLog.warn("{}: metadata not available, retrying: {}", name, e.toString());
        }
    }

    private void retryMissingEndOffsets() {
        List<TopicPartition> missing = tracker.missingEndOffsets();
        if (missing.isEmpty()) {
            return;
        }
        try {
            consumer.endOffsets(missing, apiTimeout).forEach(tracker::endOffset);
        } catch (RetriableException e) {
            // polling goes on; asked again on the next loop
            transientLog.warn("{}: end offsets of {} not available, retrying: {}", name, missing, e.toString());
        }
    }

    /**
     * Hands the polled batch to the apply stage with every assigned partition's position after this poll: one past
     * the last record it returned (or past skipped control records), which becomes the applied position once this
     * batch and all before it are applied. Allocates per poll, never per record.
     */
    private void handOff(ConsumerRecords<byte[], byte[]> records) {
        List<TopicPartition> assigned = tracker.assigned();
        TopicPartition[] partitions = assigned.toArray(new TopicPartition[0]);
        long[] positions = new long[partitions.length];
        for (int i = 0; i < partitions.length; i++) {
            try {
                positions[i] = consumer.position(partitions[i], Duration.ZERO);
            } catch (TimeoutException e) {
                // position being revalidated (say, after a leader change): not advanced by this batch; safe
                positions[i] = -1;
            }
        }
        stage.handOff(records, partitions, positions);
    }

    private void publishLag() {
        long totalLag = 0;
        for (TopicPartition tp : tracker.assigned()) {
            OptionalLong partitionLag = consumer.currentLag(tp);
            if (totalLag >= 0 && partitionLag.isPresent()) {
                totalLag += partitionLag.getAsLong();
            } else {
                totalLag = -1;
            }
        }
        // the consumer's lag is from its fetch position; what is polled and not yet applied is added when read
        // (lag()), so that a reader right after the apply threads finished a batch does not see it as lag
        tracker.lag(totalLag);
    }

    /**
     * Records not yet applied: the consumer's lag from its fetch position as of the last poll, plus the polled
     * records not yet applied now; -1 while unknown. Any thread.
     */
    public long lag() {
        long fetchLag = tracker.lag();
        return fetchLag < 0 ? -1 : fetchLag + stage.inFlightRecords();
    }

    /**
     * Stops the apply stage (each thread finishes the batch it is on; the rest is abandoned, never counted as
     * applied, so the positions a checkpoint captures stay exact). Waits up to the API timeout for the threads.
     * Idempotent; poll thread.
     */
    public void stopApplying() throws InterruptedException {
        stage.stop(Math.max(apiTimeout.toMillis(), 10_000));
    }

    private void maybeLogProgress(long now) {
        long interval = settings.progressLogInterval().toMillis();
        long window = interval > 0 ? interval : 10_000;
        if (now - rateMarkMillis < window) {
            return;
        }
        long consumed = applier.recordsConsumed();
        boolean idle = consumed == rateMarkRecords;
        recordsPerSecond = (consumed - rateMarkRecords) * 1000.0 / (now - rateMarkMillis); // volatile
        rateMarkRecords = consumed;
        rateMarkMillis = now;
        if (interval > 0 && !(idle && idleLineLogged)) {
            progress.run(); // an idle runner says so once, then stays quiet until records arrive again
        }
        idleLineLogged = idle;
    }

    /** What logs the progress line (the runner's metrics); called on the poll thread. */
    public void onProgress(Runnable progress) {
        this.progress = progress;
    }

    /** Why the runner cannot make progress now (an unreachable cluster), if it cannot. Any thread. */
    public Optional<String> problem() {
        return Optional.ofNullable(problem);
    }

    /** Records per second over the last progress window. Any thread. */
    public double recordsPerSecond() {
        return recordsPerSecond;
    }

    /** The sequence of the checkpoint restored, or 0. Any thread. */
    public long restoredSequence() {
        return restoredSequence;
    }

    /** Whether restore fell back past damaged checkpoints. */
    public boolean fellBack() {
        return fellBack;
    }
}
