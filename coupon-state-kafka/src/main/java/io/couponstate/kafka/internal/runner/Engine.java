package io.couponstate.kafka.internal.runner;

import io.couponstate.kafka.ShardStatus;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.common.TopicPartition;

/**
 * What a runner's facade drives: the replicated engine (every partition here) or the partitioned one (a share of the
 * partition numbers, one replicated engine per shard). Each owns one {@link Lifecycle}; the facade only delegates.
 * Thread-safe, as the facade's methods are.
 */
public interface Engine {

    /** The engine's life cycle (state, failure, close). */
    Lifecycle lifecycle();

    /**
     * Checks what can be checked without a broker, takes the checkpoint directory and starts the engine's thread.
     *
     * @throws IllegalStateException unless CREATED, or (leaving the engine FAILED with the same cause) when it cannot
     *     start
     */
    void start();

    /** Stops the engine and waits for its final checkpoint; idempotent. */
    void close();

    /** Waits until the state holds every record in the topics when the wait began; see the facade. */
    boolean awaitCaughtUp(Duration timeout) throws InterruptedException;

    /** The counters now; never blocks. */
    MetricsSnapshot metrics();

    /** The partitions read here now. */
    List<TopicPartition> assignedPartitions();

    /** Per partition read here, the next offset to apply. */
    Map<TopicPartition, Long> appliedPositions();

    /** The sequence of the checkpoint restored for {@code partition} (any, when replicated), or 0. */
    long restoredSequence(int partition);

    /** The endpoint of the owner of {@code code}'s partition, if known. */
    Optional<String> ownerOf(CharSequence code);

    /** Each partition number assigned here with its shard's status; empty when replicated. */
    Map<Integer, ShardStatus> shards();
}
