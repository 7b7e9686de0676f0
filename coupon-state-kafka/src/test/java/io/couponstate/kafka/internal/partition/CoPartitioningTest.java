package io.couponstate.kafka.internal.partition;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class CoPartitioningTest {

    private static final List<String> TOPICS = List.of("a", "b");

    @Test
    void counts_mustAllBeTheStatesPartitionCount_elseTheMessageNamesEveryCount() {
        CoPartitioning.requireCounts(Map.of("a", 6, "b", 6), 6);
        assertThatThrownBy(() -> CoPartitioning.requireCounts(new TreeMap<>(Map.of("a", 6, "b", 0)), 6))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("partition counts {a=6, b=0} (0: missing)")
                .hasMessageContaining("PartitionedCouponState's 6 partitions");
    }

    @Test
    void anAssignment_isCompleteForNumbersHeldInEveryTopic_andPartialForTheRest() {
        List<TopicPartition> owned = List.of(new TopicPartition("a", 0), new TopicPartition("b", 0),
                new TopicPartition("a", 3), new TopicPartition("b", 5));
        assertThat(CoPartitioning.complete(owned, TOPICS.size())).containsExactly(0);
        assertThat(CoPartitioning.partial(owned, TOPICS)).isEqualTo(Map.of(3, Set.of("a"), 5, Set.of("b")));
        assertThat(CoPartitioning.partial(List.of(), TOPICS)).isEmpty();
    }
}
