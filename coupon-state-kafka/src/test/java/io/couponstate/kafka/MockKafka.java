package io.couponstate.kafka;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.internal.runner.ClusterClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.WakeupException;

/** A MockConsumer and a fake cluster client behind a runner, for loop tests without a broker. */
final class MockKafka {

    final TestConsumer consumer = new TestConsumer();
    final FakeCluster cluster = new FakeCluster();
    /** The end offset of every partition, as the fake cluster reports it. */
    final Map<TopicPartition, Long> ends = new ConcurrentHashMap<>();

    /** Adds a topic with {@code partitions} empty partitions. */
    MockKafka topic(String topic, int partitions) {
        List<PartitionInfo> infos = new ArrayList<>();
        Map<TopicPartition, Long> zero = new HashMap<>();
        for (int p = 0; p < partitions; p++) {
            infos.add(new PartitionInfo(topic, p, null, null, null));
            zero.put(new TopicPartition(topic, p), 0L);
        }
        synchronized (consumer) {
            consumer.updateBeginningOffsets(zero);
            consumer.updateEndOffsets(zero);
            consumer.updatePartitions(topic, infos);
        }
        zero.forEach(ends::putIfAbsent);
        cluster.ids.putIfAbsent(topic, Uuid.randomUuid());
        return this;
    }

    /** Appends records (codes) to an assigned partition, all visible to the same next poll. */
    void append(TopicPartition tp, String... codes) {
        synchronized (consumer) {
            long end = ends.get(tp);
            for (String code : codes) {
                consumer.addRecord(new ConsumerRecord<>(tp.topic(), tp.partition(), end++, null,
                        code.getBytes(StandardCharsets.US_ASCII)));
            }
            consumer.updateEndOffsets(Map.of(tp, end));
            ends.put(tp, end);
        }
    }

    /** A runner builder over this mock: short timeouts, no progress lines. */
    CouponConsumerRunner.Builder runner(List<String> topics, CouponState state) {
        return CouponConsumerRunner.builder()
                .bootstrapServers("mock:9092")
                .topics(topics)
                .state(state)
                .pollTimeout(Duration.ofMillis(20))
                .apiTimeout(Duration.ofMillis(200))
                .partitionDiscoveryInterval(Duration.ofMillis(50))
                .checkpointInterval(Duration.ofMillis(50))
                .progressLogInterval(Duration.ZERO)
                .consumerFactory(config -> consumer)
                .clusterClientFactory(config -> cluster);
    }

    /** MockConsumer with a few faults that can be switched on. */
    static final class TestConsumer extends MockConsumer<byte[], byte[]> {
        volatile boolean failEndOffsets;
        /** When set, wakeup() is seen by commitSync, not by poll: a wakeup pending outside poll. */
        volatile boolean wakeupOutsidePoll;
        private volatile boolean pendingWakeup;
        /** Calls of poll(), and the records they returned. */
        final java.util.concurrent.atomic.AtomicLong polls = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong polledRecords = new java.util.concurrent.atomic.AtomicLong();
        /** Every offset committed, kept past close(). */
        final Map<TopicPartition, Long> commits = new ConcurrentHashMap<>();

        TestConsumer() {
            super("earliest");
        }

        @Override
        public synchronized ConsumerRecords<byte[], byte[]> poll(Duration timeout) {
            ConsumerRecords<byte[], byte[]> records = super.poll(timeout);
            polledRecords.addAndGet(records.count());
            polls.incrementAndGet();
            if (records.isEmpty()) {
                try {
                    wait(5); // a short idle instead of a busy loop; releases the monitor for the test thread
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return records;
        }

        @Override
        public synchronized Map<TopicPartition, Long> endOffsets(Collection<TopicPartition> partitions,
                Duration timeout) {
            if (failEndOffsets) {
                throw new TimeoutException("injected: end offsets unavailable");
            }
            return super.endOffsets(partitions, timeout);
        }

        @Override
        public synchronized void wakeup() {
            if (wakeupOutsidePoll) {
                pendingWakeup = true;
            } else {
                super.wakeup();
            }
        }

        @Override
        public synchronized void commitSync(Map<TopicPartition, OffsetAndMetadata> offsets, Duration timeout) {
            if (pendingWakeup) {
                pendingWakeup = false;
                throw new WakeupException();
            }
            super.commitSync(offsets, timeout);
            offsets.forEach((tp, om) -> commits.put(tp, om.offset()));
        }
    }

    /** End offsets from the mock consumer, topic ids from a map; both can be made to fail. */
    final class FakeCluster implements ClusterClient {
        volatile boolean fail;
        final Map<String, Uuid> ids = new ConcurrentHashMap<>();

        @Override
        public Map<TopicPartition, Long> endOffsets(Collection<TopicPartition> partitions, Duration timeout) {
            if (fail) {
                throw new TimeoutException("injected: listOffsets unavailable");
            }
            Map<TopicPartition, Long> out = new HashMap<>();
            for (TopicPartition tp : partitions) {
                out.put(tp, ends.get(tp));
            }
            return out;
        }

        @Override
        public Map<String, Uuid> topicIds(Collection<String> topics, Duration timeout) {
            Map<String, Uuid> out = new HashMap<>();
            for (String t : topics) {
                Uuid id = ids.get(t);
                if (id != null) {
                    out.put(t, id);
                }
            }
            return out;
        }

        @Override
        public void close() {
        }
    }
}
