package io.couponstate.kafka;

import io.couponstate.core.CouponState;
import io.couponstate.core.InvalidCouponCodeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiPredicate;
import java.util.function.IntConsumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * A plain {@code KafkaConsumer} loop written against {@link CouponCheckpoints} only, as the README's "In your own
 * consumer" shows it (open, restore, subscribe, seek to the restored offset or the beginning, poll, apply, write on a
 * cadence and on revocation), with a short cadence, for {@link OwnConsumerCrashIntegrationTest}.
 */
final class OwnConsumerLoop {

    private OwnConsumerLoop() {
    }

    /**
     * Runs the loop until {@code stop} says so after a poll (given the consumer and the positions it wrote last),
     * then writes a final checkpoint. {@code assigned} hears the size of each assignment.
     */
    static void consume(Map<String, Object> consumerConfig, Collection<String> topics, CouponState state,
            Path directory, Duration interval, IntConsumer assigned,
            BiPredicate<KafkaConsumer<byte[], byte[]>, Map<TopicPartition, Long>> stop) throws IOException {
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(directory);
                KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerConfig,
                        new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            Map<TopicPartition, Long> next = new HashMap<>(checkpoints.restore(state));
            consumer.subscribe(topics, new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    checkpoint(checkpoints, state, consumer, partitions, next);
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    for (TopicPartition partition : partitions) {
                        Long offset = next.get(partition);
                        if (offset != null) {
                            consumer.seek(partition, offset);
                        } else {
                            consumer.seekToBeginning(List.of(partition)); // never the group's committed offset
                        }
                    }
                    assigned.accept(consumer.assignment().size());
                }
            });
            long due = System.nanoTime() + interval.toNanos();
            while (true) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(50))) {
                    try {
                        state.addObservation(new String(record.value(), StandardCharsets.US_ASCII), record.topic());
                    } catch (InvalidCouponCodeException e) {
                        // not a coupon code: skipped
                    }
                }
                if (System.nanoTime() - due >= 0) {
                    checkpoint(checkpoints, state, consumer, consumer.assignment(), next);
                    due = System.nanoTime() + interval.toNanos();
                }
                if (stop.test(consumer, next)) {
                    break;
                }
            }
            checkpoint(checkpoints, state, consumer, consumer.assignment(), next);
        }
    }

    private static void checkpoint(CouponCheckpoints checkpoints, CouponState state, KafkaConsumer<?, ?> consumer,
            Collection<TopicPartition> partitions, Map<TopicPartition, Long> next) {
        for (TopicPartition partition : partitions) {
            next.put(partition, consumer.position(partition));
        }
        try {
            checkpoints.write(state, next);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Consumer settings for a group of its own (no committed offsets, no dead member to wait for). */
    static Map<String, Object> config(String bootstrap, String groupId) {
        Map<String, Object> config = new HashMap<>();
        config.put("bootstrap.servers", bootstrap);
        config.put("group.id", groupId);
        config.put("enable.auto.commit", false);
        config.put("auto.offset.reset", "latest"); // never used: every partition is sought explicitly
        config.put("session.timeout.ms", 6000);
        config.put("heartbeat.interval.ms", 1000);
        config.put("fetch.max.wait.ms", 50);
        config.put("max.poll.records", 50);
        return config;
    }
}
