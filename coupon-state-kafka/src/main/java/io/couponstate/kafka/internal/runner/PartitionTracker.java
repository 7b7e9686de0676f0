package io.couponstate.kafka.internal.runner;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.common.TopicPartition;

/**
 * The assigned partitions and how far each is applied: positions, end offsets at discovery, caught-up, lag.
 *
 * <p><b>Threads.</b> One writer (the poll thread) calls {@link #assign}, {@link #endOffset} and {@link #lag(long)};
 * {@link #advance} is called by the apply stage, one call at a time (under the {@link ApplyStage}'s monitor), for
 * partitions already assigned (a concurrent map's merge, so it is safe beside the poll thread's writes); any thread
 * may call the readers. A partition's applied position and end offset at discovery are
 * stored before the partition is added to the published list, so a reader that sees a partition sees both
 * (concurrent maps and a copy-on-write list give the happens-before). Applied positions only grow.
 */
public final class PartitionTracker {

    private final List<TopicPartition> assigned = new ArrayList<>(); // writer only
    private final Set<TopicPartition> assignedSet = new HashSet<>(); // writer only
    private final CopyOnWriteArrayList<TopicPartition> assignedView = new CopyOnWriteArrayList<>();
    private final ConcurrentHashMap<TopicPartition, Long> applied = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<TopicPartition, Long> endAtDiscovery = new ConcurrentHashMap<>();
    private volatile long lag = -1;
    private volatile boolean caughtUpOnce;

    /**
     * Adds partitions (writer only): each with the offset it starts at (everything below is applied) and, if known,
     * its end offset when found.
     */
    public void assign(Map<TopicPartition, Long> start, Map<TopicPartition, Long> end) {
        List<TopicPartition> added = new ArrayList<>();
        for (Map.Entry<TopicPartition, Long> e : start.entrySet()) {
            TopicPartition tp = e.getKey();
            if (assignedSet.add(tp)) {
                assigned.add(tp);
                added.add(tp);
                applied.put(tp, e.getValue());
                Long endOffset = end.get(tp);
                if (endOffset != null) {
                    endAtDiscovery.put(tp, endOffset);
                }
            }
        }
        assignedView.addAll(added); // after applied and endAtDiscovery: a reader that sees a partition sees both
    }

    /** Whether {@code tp} is assigned (writer only). */
    public boolean isAssigned(TopicPartition tp) {
        return assignedSet.contains(tp);
    }

    /** The assigned partitions, in assignment order (writer only: no copy). */
    public List<TopicPartition> assigned() {
        return Collections.unmodifiableList(assigned);
    }

    /** A copy of the assigned partitions, for any thread. */
    public List<TopicPartition> assignedSnapshot() {
        return List.copyOf(assignedView);
    }

    /** Whether no partition is assigned yet; any thread. */
    public boolean isEmpty() {
        return assignedView.isEmpty();
    }

    /**
     * Moves the applied position of {@code tp} to {@code position} (the apply stage), once every record below it is
     * applied. A lower value is ignored: positions never move back.
     */
    public void advance(TopicPartition tp, long position) {
        applied.merge(tp, position, Math::max);
    }

    /** Records the end offset of {@code tp} as of its discovery, when it could not be read then (writer only). */
    public void endOffset(TopicPartition tp, long end) {
        endAtDiscovery.putIfAbsent(tp, end);
    }

    /** The assigned partitions whose end offset at discovery is still unknown (writer only). */
    public List<TopicPartition> missingEndOffsets() {
        List<TopicPartition> out = new ArrayList<>();
        for (TopicPartition tp : assigned) {
            if (!endAtDiscovery.containsKey(tp)) {
                out.add(tp);
            }
        }
        return out;
    }

    /** Per assigned partition, the next offset to apply; any thread. */
    public Map<TopicPartition, Long> appliedPositions() {
        return Map.copyOf(applied);
    }

    /**
     * The offsets a checkpoint may cover (writer only): {@code kept} (the restored offsets of partitions not
     * assigned now, so their topics are not forgotten) overlaid with every assigned partition's applied position.
     */
    public Map<TopicPartition, Long> capture(Map<TopicPartition, Long> kept) {
        Map<TopicPartition, Long> offsets = new LinkedHashMap<>(kept);
        for (TopicPartition tp : assigned) {
            offsets.put(tp, applied.get(tp));
        }
        return offsets;
    }

    /**
     * Whether every assigned partition's applied position has reached its target: from {@code targets}, or for a
     * partition not in it (found later), its end offset at discovery. False while nothing is assigned, or while a
     * partition has neither; any thread.
     */
    public boolean caughtUp(Map<TopicPartition, Long> targets) {
        if (assignedView.isEmpty()) {
            return false;
        }
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

    /**
     * Whether every assigned partition has, at least once, been applied up to its end offset at discovery
     * ({@link #caughtUp caughtUp} with no other targets): a latch, true for good once true (partitions found later do
     * not reset it). False while nothing is assigned. Any thread; cheap: a few map reads per partition until it
     * latches, one volatile read after.
     */
    public boolean caughtUpOnce() {
        if (caughtUpOnce) {
            return true;
        }
        if (caughtUp(Map.of())) {
            caughtUpOnce = true; // racy but benign: every thread that sets it sets true, and it is never cleared
            return true;
        }
        return false;
    }

    /** Sets the consumer's total lag from its fetch positions (writer only); -1 while unknown. */
    public void lag(long lag) {
        this.lag = lag; // volatile: published to metrics readers
    }

    /**
     * Records not yet fetched in the assigned partitions, as of the last poll; -1 while unknown. The runner's lag adds
     * the records fetched and not yet applied ({@code ConsumerLoop.lag()}).
     */
    public long lag() {
        return lag;
    }
}
