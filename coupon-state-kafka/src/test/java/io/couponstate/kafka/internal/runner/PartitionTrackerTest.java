package io.couponstate.kafka.internal.runner;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class PartitionTrackerTest {

    private static final TopicPartition A = new TopicPartition("a", 0);
    private static final TopicPartition B = new TopicPartition("a", 1);

    @Test
    void caughtUp_isFalseBeforeAnyAssignment() {
        assertThat(new PartitionTracker().caughtUp(Map.of())).isFalse();
    }

    @Test
    void caughtUp_needsEveryPartitionAtItsTarget_orItsEndAtDiscovery() {
        PartitionTracker t = new PartitionTracker();
        t.assign(Map.of(A, 0L, B, 5L), Map.of(A, 3L));
        assertThat(t.caughtUp(Map.of(A, 3L, B, 5L))).isFalse();
        t.advance(A, 3);
        assertThat(t.caughtUp(Map.of(A, 3L, B, 5L))).isTrue();
        assertThat(t.caughtUp(Map.of(B, 5L))).as("A from its end at discovery").isTrue();
        assertThat(t.caughtUp(Map.of(A, 3L))).as("B has no end offset anywhere").isFalse();
        assertThat(t.missingEndOffsets()).containsExactly(B);
        t.endOffset(B, 5);
        assertThat(t.missingEndOffsets()).isEmpty();
        assertThat(t.caughtUp(Map.of())).isTrue();
    }

    @Test
    void positions_neverMoveBack_andAReassignmentKeepsTheFirstStart() {
        PartitionTracker t = new PartitionTracker();
        t.assign(Map.of(A, 4L), Map.of());
        t.advance(A, 9);
        t.advance(A, 7);
        t.assign(Map.of(A, 0L), Map.of());
        assertThat(t.appliedPositions()).containsExactly(Map.entry(A, 9L));
        assertThat(t.assigned()).containsExactly(A);
    }

    @Test
    void capture_overlaysAppliedPositionsOnTheKeptOffsets() {
        PartitionTracker t = new PartitionTracker();
        TopicPartition gone = new TopicPartition("gone", 0);
        t.assign(Map.of(A, 2L), Map.of());
        assertThat(t.capture(Map.of(gone, 7L, A, 1L))).containsOnly(Map.entry(gone, 7L), Map.entry(A, 2L));
    }

    @Test
    void lag_isUnknownUntilSet() {
        PartitionTracker t = new PartitionTracker();
        assertThat(t.lag()).isEqualTo(-1);
        t.lag(12);
        assertThat(t.lag()).isEqualTo(12);
    }
}
