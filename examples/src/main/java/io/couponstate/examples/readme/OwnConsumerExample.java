package io.couponstate.examples.readme;

// README:own-consumer:begin
import io.couponstate.core.CouponState;
import io.couponstate.core.InvalidCouponCodeException;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.CouponCheckpoints;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** Your own KafkaConsumer loop, with the state and its offsets checkpointed by CouponCheckpoints. */
public class OwnConsumerExample {

    /** Reads {@code topics} into {@code state} until {@code stop} is set; checkpoints in {@code directory}. */
    public static void consume(Map<String, Object> consumerConfig, Collection<String> topics, CouponState state,
            Path directory, AtomicBoolean stop) throws IOException {
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(directory);   // locks the directory
                KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerConfig,
                        new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            Map<TopicPartition, Long> next = new HashMap<>(checkpoints.restore(state)); // next offset per partition
            consumer.subscribe(topics, new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    checkpoint(checkpoints, state, consumer, partitions, next); // before another instance reads on
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
                }
            });
            long due = System.nanoTime();
            while (!stop.get()) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    try {
                        state.addObservation(new String(record.value(), StandardCharsets.US_ASCII), record.topic());
                    } catch (InvalidCouponCodeException e) {
                        // not a coupon code: skipped
                    }
                }
                if (System.nanoTime() - due >= 0) {                        // on a cadence
                    checkpoint(checkpoints, state, consumer, consumer.assignment(), next);
                    due = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                }
            }
            checkpoint(checkpoints, state, consumer, consumer.assignment(), next);
        }
    }

    /** Every record below the positions of {@code partitions} is applied: write them with the state. */
    static void checkpoint(CouponCheckpoints checkpoints, CouponState state, KafkaConsumer<?, ?> consumer,
            Collection<TopicPartition> partitions, Map<TopicPartition, Long> next) {
        for (TopicPartition partition : partitions) {
            next.put(partition, consumer.position(partition));
        }
        try {
            checkpoints.write(state, next);                                // durable when it returns
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code java OwnConsumerExample [HOST:PORT]}: consumes three topics until Ctrl-C. */
    public static void main(String[] args) throws IOException {
        AtomicBoolean stop = new AtomicBoolean();
        Thread consuming = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.set(true);
            try {
                consuming.join();                                          // lets the last checkpoint finish
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        consume(Map.of("bootstrap.servers", args.length > 0 ? args[0] : "127.0.0.1:9092",
                        "group.id", "ordering-service", "enable.auto.commit", false),
                List.of("couponbase1", "couponbase2", "couponbase3"), new LockFreeCouponState(),
                Path.of("coupon-state"), stop);
    }
}
// README:own-consumer:end
