package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.CouponState;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** Topics, producing, a sequential model of the expected state, and comparison; for tests. */
final class KafkaTestSupport {

    private static final AtomicInteger TOPIC_SEQ = new AtomicInteger();
    private static final char[] ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".toCharArray();

    private KafkaTestSupport() {
    }

    /** Unique topic names with a prefix. */
    static List<String> topicNames(String prefix, int count) {
        int n = TOPIC_SEQ.incrementAndGet();
        List<String> out = new ArrayList<>();
        for (int i = 1; i <= count; i++) {
            out.add(prefix + n + "-" + i);
        }
        return out;
    }

    static void createTopics(String bootstrap, List<String> topics, int partitions) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            List<NewTopic> newTopics = new ArrayList<>();
            for (String t : topics) {
                newTopics.add(new NewTopic(t, partitions, (short) 1));
            }
            admin.createTopics(newTopics).all().get();
            // a produce right after creation can meet NOT_LEADER_OR_FOLLOWER; wait until every partition has a leader
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos(); // a hang guard only
            while (true) {
                boolean ready;
                try {
                    ready = admin.describeTopics(topics).allTopicNames().get().values().stream()
                            .allMatch(d -> d.partitions().size() == partitions
                                    && d.partitions().stream().allMatch(p -> p.leader() != null));
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
                        throw e;
                    }
                    ready = false; // created by the controller, not yet in the broker's metadata: ask again
                }
                if (ready) {
                    return;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("topics " + topics + " have no leaders after 2 minutes");
                }
                Thread.sleep(20);
            }
        }
    }

    static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
        Map<String, Object> p = new HashMap<>();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("linger.ms", 5);
        // not idempotent: after a leader change the idempotent producer can loop on OUT_OF_ORDER_SEQUENCE_NUMBER
        // until delivery times out, silently for a test that only flushes; one request in flight keeps the order
        p.put("enable.idempotence", false);
        p.put("max.in.flight.requests.per.connection", 1);
        p.put("delivery.timeout.ms", 60_000);
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** Produces every record and fails unless every one was acknowledged: the model must match the topics. */
    static void produce(String bootstrap, List<ProducerRecord<byte[], byte[]>> records) {
        try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap)) {
            send(producer, records);
        }
    }

    /** Sends, flushes and checks every acknowledgement. */
    static void send(KafkaProducer<byte[], byte[]> producer, List<ProducerRecord<byte[], byte[]>> records) {
        List<Future<RecordMetadata>> acks = new ArrayList<>(records.size());
        for (ProducerRecord<byte[], byte[]> r : records) {
            acks.add(producer.send(r));
        }
        producer.flush();
        try {
            for (Future<RecordMetadata> ack : acks) {
                ack.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("a test record was not acknowledged: " + e.getCause(), e.getCause());
        }
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** Common runner settings for tests: short intervals, low group timeouts, no progress spam. */
    static CouponConsumerRunner.Builder runner(String bootstrap, List<String> topics, CouponState state) {
        return CouponConsumerRunner.builder()
                .bootstrapServers(bootstrap)
                .topics(topics)
                .state(state)
                .pollTimeout(Duration.ofMillis(200))
                .checkpointInterval(Duration.ofMillis(300))
                .partitionDiscoveryInterval(Duration.ofMillis(500))
                .progressLogInterval(Duration.ofSeconds(2))
                .consumerProperty("session.timeout.ms", 6000)
                .consumerProperty("heartbeat.interval.ms", 1000)
                .consumerProperty("fetch.max.wait.ms", 100);
    }

    /** Group offsets committed for {@code groupId}, by partition. */
    static Map<TopicPartition, Long> committed(String bootstrap, String groupId) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            Map<TopicPartition, Long> out = new HashMap<>();
            admin.listConsumerGroupOffsets(groupId).partitionsToOffsetAndMetadata().get()
                    .forEach((tp, om) -> out.put(tp, om.offset()));
            return out;
        }
    }

    /** End offsets of every partition of {@code topics}. */
    static Map<TopicPartition, Long> endOffsets(String bootstrap, List<String> topics) {
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrap),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (String t : topics) {
                c.partitionsFor(t).forEach(p -> tps.add(new TopicPartition(t, p.partition())));
            }
            return c.endOffsets(tps, Duration.ofSeconds(30));
        }
    }

    /** The expected state: for every code, its sources. */
    static final class Model {
        final Map<String, Set<String>> sources = new TreeMap<>();
        long records;

        void add(String code, String source) {
            sources.computeIfAbsent(code, k -> new TreeSet<>()).add(source);
            records++;
        }

        Set<String> valid(int threshold) {
            Set<String> out = new TreeSet<>();
            sources.forEach((code, s) -> {
                if (s.size() >= threshold) {
                    out.add(code);
                }
            });
            return out;
        }
    }

    /**
     * {@code perTopic} records per topic, drawn with repetition from a shared pool (so some codes are in several
     * topics and some records are duplicates), in shuffled order, spread over partitions by key; added to the model.
     */
    static List<ProducerRecord<byte[], byte[]>> randomRecords(Random random, List<String> topics, int perTopic,
            Model model) {
        List<String> pool = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        while (pool.size() < perTopic) {
            String code = randomCode(random);
            if (seen.add(code)) {
                pool.add(code);
            }
        }
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        for (String topic : topics) {
            for (int i = 0; i < perTopic; i++) {
                String code = pool.get(random.nextInt(pool.size()));
                byte[] bytes = ascii(code);
                // keyed by a random byte rather than the code: the same code lands in different partitions, so
                // its observations arrive out of order relative to each other
                out.add(new ProducerRecord<>(topic, new byte[] {(byte) random.nextInt(256)}, bytes));
                model.add(code, topic);
            }
        }
        Collections.shuffle(out, random);
        return out;
    }

    static String randomCode(Random random) {
        int len = 8 + random.nextInt(3);
        char[] c = new char[len];
        for (int i = 0; i < len; i++) {
            c[i] = ALPHABET[random.nextInt(ALPHABET.length)];
        }
        return new String(c);
    }

    /** Asserts that {@code state} holds exactly the model: same codes, same sources, same valid codes. */
    static void assertMatches(CouponState state, Model model) {
        assertThat(state.size()).as("distinct codes").isEqualTo(model.sources.size());
        List<String> wrong = new ArrayList<>();
        model.sources.forEach((code, expected) -> {
            if (!new TreeSet<>(state.getObservations(code)).equals(expected)) {
                wrong.add(code + ": expected " + expected + ", found " + state.getObservations(code));
            }
        });
        assertThat(wrong).as("codes with wrong sources").isEmpty();
        assertThat(new TreeSet<>(state.getCouponCodesByObservationCount(state.threshold())))
                .as("valid codes").isEqualTo(model.valid(state.threshold()));
    }
}
