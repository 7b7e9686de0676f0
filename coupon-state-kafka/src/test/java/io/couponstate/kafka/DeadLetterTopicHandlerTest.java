package io.couponstate.kafka;

import static io.couponstate.kafka.KafkaTestSupport.createTopics;
import static io.couponstate.kafka.KafkaTestSupport.topicNames;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import io.couponstate.core.StripedLockCouponState;
import java.util.HashMap;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

@Tag("integration")
class DeadLetterTopicHandlerTest {

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    private static final Duration WAIT = Duration.ofMinutes(2); // hang guard only

    private static byte[] bytes(int length, long seed) {
        byte[] b = new byte[length];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    private static ConsumerRecord<byte[], byte[]> bad(byte[] key, byte[] value) {
        ConsumerRecord<byte[], byte[]> r = new ConsumerRecord<>("input", 3, 1234L, key, value);
        r.headers().add(new RecordHeader("source", "couponbase1".getBytes(StandardCharsets.UTF_8)));
        return r;
    }

    private static String header(ConsumerRecord<byte[], byte[]> r, String key) {
        Header h = r.headers().lastHeader(key);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    @Test
    @Timeout(180)
    void aTwoMegabyteRecord_isSentTruncated_withHeadersNamingItsOriginalSizes() throws Exception {
        String dlt = topicNames("dlt-big", 1).get(0);
        createTopics(KAFKA.bootstrapServers(), List.of(dlt), 1);
        byte[] key = bytes(600_000, 1);
        byte[] value = bytes(2 * 1024 * 1024, 2);
        try (DeadLetterTopicHandler handler = new DeadLetterTopicHandler(dlt,
                Map.of("bootstrap.servers", KAFKA.bootstrapServers()))) {
            handler.handle(bad(key, value), InvalidRecordReason.OVERSIZED);
            handler.handle(bad(null, value), InvalidRecordReason.OVERSIZED);
            handler.flush(); // a failed send would throw here, and the runner would stop in FAILED
            handler.handle(bad("SMALLKEY".getBytes(StandardCharsets.US_ASCII), "ABC".getBytes(
                    StandardCharsets.US_ASCII)), InvalidRecordReason.TOO_SHORT); // and here, at the next record
            handler.flush();
        }
        List<ConsumerRecord<byte[], byte[]>> dead = consume(dlt, 3);

        ConsumerRecord<byte[], byte[]> first = dead.get(0);
        assertThat(header(first, DeadLetterTopicHandler.TRUNCATED_HEADER)).isEqualTo("true");
        assertThat(header(first, DeadLetterTopicHandler.ORIGINAL_VALUE_SIZE_HEADER)).isEqualTo("2097152");
        assertThat(header(first, DeadLetterTopicHandler.ORIGINAL_KEY_SIZE_HEADER)).isEqualTo("600000");
        assertThat(header(first, DeadLetterTopicHandler.REASON_HEADER)).isEqualTo("OVERSIZED");
        assertThat(header(first, DeadLetterTopicHandler.TOPIC_HEADER)).isEqualTo("input");
        assertThat(header(first, DeadLetterTopicHandler.PARTITION_HEADER)).isEqualTo("3");
        assertThat(header(first, DeadLetterTopicHandler.OFFSET_HEADER)).isEqualTo("1234");
        assertThat(header(first, "source")).isEqualTo("couponbase1");
        assertThat(first.key().length + first.value().length).isLessThan(1024 * 1024)
                .isGreaterThan(512 * 1024); // cut to fit, not to nothing
        assertThat(first.key()).isEqualTo(Arrays.copyOf(key, first.key().length)); // prefixes of the originals
        assertThat(first.value()).isEqualTo(Arrays.copyOf(value, first.value().length));

        ConsumerRecord<byte[], byte[]> second = dead.get(1);
        assertThat(second.key()).isNull();
        assertThat(header(second, DeadLetterTopicHandler.ORIGINAL_KEY_SIZE_HEADER)).isNull();
        assertThat(header(second, DeadLetterTopicHandler.ORIGINAL_VALUE_SIZE_HEADER)).isEqualTo("2097152");
        assertThat(second.value()).isEqualTo(Arrays.copyOf(value, second.value().length));

        ConsumerRecord<byte[], byte[]> small = dead.get(2);
        assertThat(small.value()).isEqualTo("ABC".getBytes(StandardCharsets.US_ASCII)); // whole, and unmarked
        assertThat(header(small, DeadLetterTopicHandler.TRUNCATED_HEADER)).isNull();
        assertThat(header(small, DeadLetterTopicHandler.ORIGINAL_VALUE_SIZE_HEADER)).isNull();
    }

    @Test
    @Timeout(180)
    void aRunner_deadLettersATwoMegabyteRecord_truncated_andKeepsRunning() throws Exception {
        List<String> names = topicNames("dlt-runner", 2);
        String input = names.get(0);
        String dlt = names.get(1);
        createTopics(KAFKA.bootstrapServers(), List.of(dlt), 1);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", KAFKA.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(input, 1, (short) 1)
                    .configs(Map.of("max.message.bytes", Integer.toString(4 << 20))))).all().get();
        }
        byte[] huge = bytes(2 * 1024 * 1024, 6);
        Map<String, Object> big = new HashMap<>();
        big.put("bootstrap.servers", KAFKA.bootstrapServers());
        big.put("max.request.size", 4 << 20);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(big, new ByteArraySerializer(),
                new ByteArraySerializer())) {
            KafkaTestSupport.send(producer, List.of(new ProducerRecord<>(input, null, huge),
                    new ProducerRecord<>(input, null, KafkaTestSupport.ascii("GOODCODE1"))));
        }
        StripedLockCouponState state = new StripedLockCouponState();
        CouponConsumerRunner runner = KafkaTestSupport.runner(KAFKA.bootstrapServers(), List.of(input), state)
                .invalidRecordHandler(new DeadLetterTopicHandler(dlt,
                        Map.of("bootstrap.servers", KAFKA.bootstrapServers())))
                .build();
        try {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertThat(runner.metrics().invalidRecords(InvalidRecordReason.OVERSIZED)).isEqualTo(1);
            assertThat(state.observationCount("GOODCODE1")).isEqualTo(1);
        } finally {
            runner.close();
        }
        assertThat(runner.failureCause()).isEmpty();
        assertThat(runner.runnerState()).isEqualTo(CouponConsumerRunner.State.STOPPED);
        ConsumerRecord<byte[], byte[]> dead = consume(dlt, 1).get(0);
        assertThat(header(dead, DeadLetterTopicHandler.TRUNCATED_HEADER)).isEqualTo("true");
        assertThat(header(dead, DeadLetterTopicHandler.ORIGINAL_VALUE_SIZE_HEADER)).isEqualTo("2097152");
        assertThat(dead.value()).isEqualTo(Arrays.copyOf(huge, dead.value().length));
    }

    @Test
    @Timeout(180)
    void theConfiguredMaxRequestSize_bounds_theTruncatedRecord() throws Exception {
        String dlt = topicNames("dlt-limit", 1).get(0);
        createTopics(KAFKA.bootstrapServers(), List.of(dlt), 1);
        byte[] value = bytes(500_000, 3);
        byte[] fits = bytes(100_000, 4);
        try (DeadLetterTopicHandler handler = new DeadLetterTopicHandler(dlt,
                Map.of("bootstrap.servers", KAFKA.bootstrapServers(), "max.request.size", "200000"))) {
            handler.handle(bad(null, value), InvalidRecordReason.OVERSIZED);
            handler.handle(bad(null, fits), InvalidRecordReason.OVERSIZED);
            handler.flush();
        }
        List<ConsumerRecord<byte[], byte[]>> dead = consume(dlt, 2);
        assertThat(dead.get(0).value().length).isLessThan(200_000).isGreaterThan(100_000);
        assertThat(header(dead.get(0), DeadLetterTopicHandler.ORIGINAL_VALUE_SIZE_HEADER)).isEqualTo("500000");
        assertThat(dead.get(1).value()).isEqualTo(fits);
        assertThat(header(dead.get(1), DeadLetterTopicHandler.TRUNCATED_HEADER)).isNull();
    }

    @Test
    @Timeout(180)
    void originalHeadersTooLargeToCopy_areDropped_andCounted() throws Exception {
        String dlt = topicNames("dlt-headers", 1).get(0);
        createTopics(KAFKA.bootstrapServers(), List.of(dlt), 1);
        ConsumerRecord<byte[], byte[]> r = bad(null, "ABC".getBytes(StandardCharsets.US_ASCII));
        r.headers().add(new RecordHeader("huge", bytes(900_000, 5)));
        try (DeadLetterTopicHandler handler = new DeadLetterTopicHandler(dlt,
                Map.of("bootstrap.servers", KAFKA.bootstrapServers()))) {
            handler.handle(r, InvalidRecordReason.TOO_SHORT);
            handler.flush();
        }
        ConsumerRecord<byte[], byte[]> dead = consume(dlt, 1).get(0);
        assertThat(dead.headers().lastHeader("huge")).isNull();
        assertThat(dead.headers().lastHeader("source")).isNull();
        assertThat(header(dead, DeadLetterTopicHandler.DROPPED_HEADERS_HEADER)).isEqualTo("2");
        assertThat(header(dead, DeadLetterTopicHandler.REASON_HEADER)).isEqualTo("TOO_SHORT");
        assertThat(dead.value()).isEqualTo("ABC".getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    @Timeout(180)
    void aFailedSend_isReportedByFlush_byTheNextHandle_andByClose() {
        DeadLetterTopicHandler handler = new DeadLetterTopicHandler("not a valid/topic name",
                Map.of("bootstrap.servers", KAFKA.bootstrapServers(), "max.block.ms", 10_000));
        ConsumerRecord<byte[], byte[]> r = bad(null, "ABC".getBytes(StandardCharsets.US_ASCII));
        handler.handle(r, InvalidRecordReason.TOO_SHORT);
        assertThatThrownBy(handler::flush).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("sending to dead-letter topic not a valid/topic name failed");
        assertThatThrownBy(() -> handler.handle(r, InvalidRecordReason.TOO_SHORT))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(handler::close).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("not a valid/topic name");
    }

    @Test
    void aMaxRequestSizeThatIsNotANumber_isRefused_namingIt() {
        assertThatThrownBy(() -> new DeadLetterTopicHandler("dlt",
                Map.of("bootstrap.servers", "localhost:1", "max.request.size", "big")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("max.request.size: big");
    }

    private static List<ConsumerRecord<byte[], byte[]>> consume(String topic, int expected) {
        Map<String, Object> config = Map.of("bootstrap.servers", KAFKA.bootstrapServers());
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(config, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            await().atMost(WAIT).until(() -> {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
                return out.size() >= expected;
            });
        }
        assertThat(out).hasSize(expected);
        return out;
    }
}
