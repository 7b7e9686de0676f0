package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** partitionOf against the partitions a real producer picks on a real broker. */
@Tag("integration")
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class PartitionedCouponStateKafkaTest {

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    Path dir;

    @Test
    void partitionOf_equalsThePartitionTheDefaultPartitionerPicksOnASixPartitionTopic() throws Exception {
        SplittableRandom rnd = new SplittableRandom(PartitionedCouponStateTest.seed("partitionOf_realProducer"));
        String topic = KafkaTestSupport.topicNames("partitioned", 1).get(0);
        KafkaTestSupport.createTopics(KAFKA.bootstrapServers(), List.of(topic), 6);
        PartitionedCouponState state = PartitionedCouponState.lockFree(6, CouponStateConfig.defaults());
        List<String> codes = new ArrayList<>();
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer = KafkaTestSupport.producer(KAFKA.bootstrapServers())) {
            for (int i = 0; i < 2_000; i++) {
                String code = PartitionedCouponStateTest.code(rnd, PartitionedCouponStateTest.UPPER);
                codes.add(code);
                byte[] bytes = code.getBytes(StandardCharsets.US_ASCII);
                acks.add(producer.send(new ProducerRecord<>(topic, bytes, bytes)));
            }
            producer.flush();
        }
        int[] perPartition = new int[6];
        for (int i = 0; i < codes.size(); i++) {
            int partition = acks.get(i).get().partition();
            perPartition[partition]++;
            assertThat(state.partitionOf(codes.get(i))).as(codes.get(i)).isEqualTo(partition);
        }
        assertThat(java.util.Arrays.stream(perPartition).min().getAsInt()).isPositive();
    }

    @Test
    void publishedCodes_landInThePartitionPartitionOfNamesHoweverTheyAreSpelt() throws Exception {
        SplittableRandom rnd = new SplittableRandom(PartitionedCouponStateTest.seed("publishedCodes"));
        String topic = KafkaTestSupport.topicNames("published", 1).get(0);
        Path file = dir.resolve("mixed.txt");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            String code = PartitionedCouponStateTest.code(rnd, PartitionedCouponStateTest.MIXED);
            lines.add(code);
            lines.add(code.toLowerCase(Locale.ROOT)); // the other spelling must share its partition
        }
        Files.write(file, lines, StandardCharsets.US_ASCII);
        try (CouponFilePublisher publisher = CouponFilePublisher.builder()
                .bootstrapServers(KAFKA.bootstrapServers()).partitions(6).build()) {
            assertThat(publisher.publish(file, topic).sent()).isEqualTo(lines.size());
        }
        PartitionedCouponState state = PartitionedCouponState.lockFree(6,
                CouponStateConfig.builder().caseInsensitive(true).build());
        Map<String, Integer> partitionOfCanonical = new HashMap<>();
        List<ConsumerRecord<byte[], byte[]>> records = consumeAll(topic, 6, lines.size());
        for (ConsumerRecord<byte[], byte[]> r : records) {
            String value = new String(r.value(), StandardCharsets.US_ASCII);
            assertThat(new String(r.key(), StandardCharsets.US_ASCII)).isEqualTo(value.toUpperCase(Locale.ROOT));
            assertThat(state.partitionOf(value)).as(value).isEqualTo(r.partition());
            Integer before = partitionOfCanonical.putIfAbsent(value.toUpperCase(Locale.ROOT), r.partition());
            if (before != null) {
                assertThat(r.partition()).as("both spellings of %s", value).isEqualTo(before);
            }
        }
    }

    private static List<ConsumerRecord<byte[], byte[]>> consumeAll(String topic, int partitions, int expected) {
        Map<String, Object> config = Map.of("bootstrap.servers", KAFKA.bootstrapServers(),
                "auto.offset.reset", "earliest", "enable.auto.commit", false);
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(config, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < partitions; p++) {
                tps.add(new TopicPartition(topic, p));
            }
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2); // a hang guard, not a speed check
            while (out.size() < expected && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        assertThat(out).hasSize(expected);
        return out;
    }
}
