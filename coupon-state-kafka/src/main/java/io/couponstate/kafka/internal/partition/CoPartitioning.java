package io.couponstate.kafka.internal.partition;

import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.common.TopicPartition;

/**
 * The rules of partitioned mode's layout, apart from the consumer that gathers the facts: every topic has the state's
 * partition count, and an assignment holds partition p of every topic or of none. Stateless.
 */
final class CoPartitioning {

    private CoPartitioning() {
    }

    /**
     * Throws, naming every topic's count, unless each topic has {@code partitions} partitions ({@code counts}: per
     * topic, its partition count, 0 when missing).
     */
    static void requireCounts(Map<String, Integer> counts, int partitions) {
        if (counts.values().stream().anyMatch(n -> n != partitions)) {
            throw new IllegalStateException("partitioned mode: the topics are not co-partitioned: partition counts "
                    + counts + " (0: missing) (expected: every topic with the PartitionedCouponState's "
                    + partitions + " partitions, so that partition p of every topic holds the same codes)");
        }
    }

    /** The partition numbers {@code owned} holds for some of {@code topics} only, each with those topics. */
    static Map<Integer, Set<String>> partial(Collection<TopicPartition> owned, List<String> topics) {
        Map<Integer, Set<String>> byNumber = new TreeMap<>();
        for (TopicPartition tp : owned) {
            byNumber.computeIfAbsent(tp.partition(), k -> new TreeSet<>()).add(tp.topic());
        }
        byNumber.values().removeIf(held -> held.size() == topics.size());
        return byNumber;
    }

    /** The partition numbers of which {@code owned} holds the partition of every one of {@code topicCount} topics. */
    static Set<Integer> complete(Collection<TopicPartition> owned, int topicCount) {
        Map<Integer, Integer> topicsOf = new HashMap<>();
        for (TopicPartition tp : owned) {
            topicsOf.merge(tp.partition(), 1, Integer::sum);
        }
        Set<Integer> numbers = new TreeSet<>();
        topicsOf.forEach((p, n) -> {
            if (n == topicCount) {
                numbers.add(p);
            }
        });
        return numbers;
    }
}
