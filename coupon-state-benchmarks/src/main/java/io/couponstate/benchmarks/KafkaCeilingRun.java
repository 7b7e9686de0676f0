package io.couponstate.benchmarks;

import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.testing.EmbeddedKafkaBroker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka ceiling: how close applying records to a state comes to what the client can deliver at all, and how it
 * compares with what a Kafka user would build instead. With a real broker in this JVM, loads {@code --records}
 * records (key = value = code bytes) into three topics, then alternates, {@code --rounds} times:
 * <ul>
 *   <li>(a) {@code bare}: a KafkaConsumer ({@code ByteArrayDeserializer}, all partitions assigned,
 *       {@code seekToBeginning}) that touches every value and does nothing else: the ceiling;</li>
 *   <li>(b) {@code runner}: the library's {@code CouponConsumerRunner} applying the same records to a
 *       {@code LockFreeCouponState} at default capacity, checkpointing on at its default interval;</li>
 *   <li>(c) {@code streams}: a Kafka Streams app (default config) that aggregates the three topics into a KTable
 *       code → source bitmask (the bit from the record's topic) in an in-memory store.</li>
 * </ul>
 * Records/s count from the first record seen to the last (start-up excluded); the wall time with start-up is
 * printed too. Heap per code is the heap delta after GC while the consumer or app still holds what it built.
 *
 * <pre>
 * java -Xmx4g -cp coupon-state-benchmarks/target/benchmarks.jar io.couponstate.benchmarks.KafkaCeilingRun \
 *      [--records 2000000] [--rounds 5] [--partitions 3] [--apply-threads 1,2] [--no-streams]
 *      [--streams-records N]
 * </pre>
 * {@code --apply-threads} runs (b) once per listed value of the runner's {@code applyThreads} (default: 1), each
 * round, named {@code runner-Nt}; {@code --no-streams} leaves (c) out (it is slow: ~40 K records/s).
 * {@code --streams-records N} gives (c) its own three topics of {@code N} records of the same shape (loaded once,
 * beside the main ones), so that a round of (a) can be made long (tens of millions of records) without a Streams
 * round of many minutes: (c) is then compared by rate (records/s) over fewer records, which the output says.
 *
 * <p>Output: per round the records/s of each run; then, for each run against (a) and against (c), the ratio of
 * rates in every round (both measured in that round, side by side, which is what cancels a changing machine
 * load), their median and their min-max spread, and the median of medians.
 */
public final class KafkaCeilingRun {

    private static final String[] TOPICS = {"coupons-1", "coupons-2", "coupons-3"};
    private static final String[] STREAMS_TOPICS = {"streams-coupons-1", "streams-coupons-2", "streams-coupons-3"};
    private static final long CATCH_UP_MS = TimeUnit.MINUTES.toMillis(10);

    private KafkaCeilingRun() {
    }

    /** One measurement: records applied, seconds from first to last record, wall seconds, retained heap. */
    record Result(String name, long records, double seconds, double wallSeconds, long retainedBytes, long codes) {
        double recordsPerSecond() {
            return records / seconds;
        }

        double bytesPerCode() {
            return codes == 0 ? 0 : (double) retainedBytes / codes;
        }
    }

    /** Runs the comparison; see the class comment for the arguments. */
    public static void main(String[] args) throws Exception {
        long records = 2_000_000;
        int rounds = 5;
        long streamsRecords = -1; // -1: (c) reads the main topics
        int partitions = 3;
        List<Integer> applyThreads = List.of(1);
        boolean withStreams = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--records" -> records = Long.parseLong(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--partitions" -> partitions = Integer.parseInt(args[++i]);
                case "--apply-threads" -> applyThreads = Arrays.stream(args[++i].split(",")).map(String::trim)
                        .map(Integer::valueOf).toList();
                case "--no-streams" -> withStreams = false;
                case "--streams-records" -> streamsRecords = Long.parseLong(args[++i]);
                default -> throw new IllegalArgumentException("argument: " + args[i]
                        + " (expected: --records N, --rounds N, --partitions N, --apply-threads N[,N...], "
                        + "--no-streams, --streams-records N)");
            }
        }
        List<String> runs = new ArrayList<>();
        runs.add("bare");
        for (int n : applyThreads) {
            runs.add("runner-" + n + "t");
        }
        if (withStreams) {
            runs.add("streams");
        }
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start()) {
            String servers = broker.bootstrapServers();
            createTopics(servers, partitions, TOPICS);
            long l0 = System.nanoTime();
            long loaded = load(servers, records, TOPICS);
            System.out.printf(Locale.ROOT, "loaded %,d records into %s (%d partitions each) in %.1f s%n", loaded,
                    Arrays.toString(TOPICS), partitions, (System.nanoTime() - l0) / 1e9);
            String[] streamsTopics = TOPICS;
            long streamsLoaded = loaded;
            if (withStreams && streamsRecords >= 0) {
                streamsTopics = STREAMS_TOPICS;
                createTopics(servers, partitions, STREAMS_TOPICS);
                long s0 = System.nanoTime();
                streamsLoaded = load(servers, streamsRecords, STREAMS_TOPICS);
                System.out.printf(Locale.ROOT, "loaded %,d records into %s for (c) only in %.1f s: (c) is compared "
                        + "by rate over fewer records than (a) and (b)%n", streamsLoaded,
                        Arrays.toString(STREAMS_TOPICS), (System.nanoTime() - s0) / 1e9);
            }

            Map<String, List<Result>> results = new HashMap<>();
            for (int round = 1; round <= rounds; round++) {
                for (String which : runs) {
                    Result r;
                    if (which.equals("bare")) {
                        r = bare(servers, loaded);
                    } else if (which.equals("streams")) {
                        r = streams(servers, streamsLoaded, round, streamsTopics);
                    } else {
                        int n = Integer.parseInt(which.substring("runner-".length(), which.length() - 1));
                        r = runner(servers, loaded, round, n);
                    }
                    results.computeIfAbsent(which, k -> new ArrayList<>()).add(r);
                    System.out.printf(Locale.ROOT,
                            "round %d %-10s %,12.0f records/s  (%,d records, %.2f s first→last, %.2f s wall)  "
                                    + "heap/code %.1f B%n", round, which, r.recordsPerSecond(), r.records(),
                            r.seconds(), r.wallSeconds(), r.bytesPerCode());
                }
            }
            double bare = median(results.get("bare"));
            System.out.println();
            System.out.println("| run | median records/s | median heap/code |");
            System.out.println("|---|---:|---:|");
            for (String which : runs) {
                System.out.printf(Locale.ROOT, "| %s | %,.0f | %.1f B |%n", which, median(results.get(which)),
                        results.get(which).stream().mapToDouble(Result::bytesPerCode).sorted()
                                .skip(results.get(which).size() / 2).findFirst().orElse(0));
            }
            System.out.println();
            for (String which : runs) {
                if (which.equals("bare")) {
                    continue;
                }
                double[] ratios = perRoundRatios(results, which, "bare");
                double[] sorted = ratios.clone();
                Arrays.sort(sorted);
                System.out.printf(Locale.ROOT, "%s / bare: median of medians %.3f; per round %s; median of the "
                        + "per-round ratios %.3f, min %.3f, max %.3f%n", which, median(results.get(which)) / bare,
                        Arrays.toString(round3(ratios)), medianOf(sorted), sorted[0], sorted[sorted.length - 1]);
                if (withStreams && !which.equals("streams")) {
                    double[] vs = perRoundRatios(results, which, "streams");
                    double[] vsSorted = vs.clone();
                    Arrays.sort(vsSorted);
                    System.out.printf(Locale.ROOT, "%s / streams: median of medians %.2f; per round %s; median of the "
                            + "per-round ratios %.2f, min %.2f, max %.2f%n", which,
                            median(results.get(which)) / median(results.get("streams")),
                            perRound(results, which, "streams"), medianOf(vsSorted), vsSorted[0],
                            vsSorted[vsSorted.length - 1]);
                }
            }
        }
    }

    private static double[] perRoundRatios(Map<String, List<Result>> results, String top, String bottom) {
        double[] out = new double[results.get(top).size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = results.get(top).get(i).recordsPerSecond() / results.get(bottom).get(i).recordsPerSecond();
        }
        return out;
    }

    private static double[] round3(double[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Math.round(v[i] * 1000) / 1000.0;
        }
        return out;
    }

    private static double medianOf(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static String perRound(Map<String, List<Result>> results, String top, String bottom) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < results.get(top).size(); i++) {
            out.add(String.format(Locale.ROOT, "%.3f", results.get(top).get(i).recordsPerSecond()
                    / results.get(bottom).get(i).recordsPerSecond()));
        }
        return out.toString();
    }

    private static double median(List<Result> rs) {
        double[] v = rs.stream().mapToDouble(Result::recordsPerSecond).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    static void createTopics(String servers, int partitions, String[] names)
            throws ExecutionException, InterruptedException {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, servers))) {
            List<NewTopic> topics = new ArrayList<>();
            for (String t : names) {
                topics.add(new NewTopic(t, partitions, (short) 1));
            }
            admin.createTopics(topics).all().get();
        }
    }

    /**
     * Writes {@code records} records: a third per topic, topic {@code i} holding codes of {@code 8 + i} characters
     * made like {@link ReferenceScaleRun}'s (distinct, no code in two topics), so every record is a new code; key =
     * value = the code's bytes (upper case already), default partitioner, as {@code CouponFilePublisher} sends them.
     */
    static long load(String servers, long records, String[] topics) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, servers);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        // not idempotent: a second idempotent producer in this JVM hit OutOfOrderSequenceException on the in-JVM
        // broker under load (2026-12-02) and retried for ever; a retried batch may duplicate records, which adds no
        // code, and the consumers here wait for codes or count records at least up to the expected number
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false);
        long sent = 0;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            for (int s = 0; s < topics.length; s++) {
                int length = 8 + s;
                long space = ReferenceScaleRun.space(length);
                long from = records * s / topics.length;
                long to = records * (s + 1) / topics.length;
                for (long j = from; j < to; j++) {
                    byte[] code = new byte[length];
                    ReferenceScaleRun.code(code, length, space, ReferenceScaleRun.B[s], j);
                    producer.send(new ProducerRecord<>(topics[s], code, code));
                    sent++;
                }
            }
            producer.flush();
        }
        return sent;
    }

    private static Properties consumerProps(String servers) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, servers);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        return p;
    }

    /** (a) The bare poll loop: assign everything, seek to the beginning, touch every value. */
    static Result bare(String servers, long expected) {
        return bare(servers, expected, TOPICS);
    }

    /** (a) over {@code topics}: assign all their partitions, seek to the beginning, touch every value. */
    static Result bare(String servers, long expected, String[] topics) {
        long before = Heap.usedAfterGc();
        long w0 = System.nanoTime();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(servers))) {
            List<TopicPartition> all = new ArrayList<>();
            for (String t : topics) {
                for (PartitionInfo pi : consumer.partitionsFor(t)) {
                    all.add(new TopicPartition(t, pi.partition()));
                }
            }
            consumer.assign(all);
            consumer.seekToBeginning(all);
            long seen = 0;
            long touched = 0;
            long first = 0;
            long deadline = System.currentTimeMillis() + CATCH_UP_MS;
            while (seen < expected) {
                ConsumerRecords<byte[], byte[]> batch = consumer.poll(java.time.Duration.ofMillis(100));
                if (first == 0 && !batch.isEmpty()) {
                    first = System.nanoTime();
                }
                for (ConsumerRecord<byte[], byte[]> r : batch) {
                    byte[] v = r.value();
                    touched += v.length + v[v.length - 1]; // touch the value so the loop can't skip it
                    seen++;
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("bare: caught up " + seen + " of " + expected);
                }
            }
            long end = System.nanoTime();
            long retained = Heap.usedAfterGc() - before;
            if (touched == 0) {
                throw new AssertionError("nothing touched");
            }
            return new Result("bare", seen, (end - first) / 1e9, (end - w0) / 1e9, retained, 0);
        }
    }

    /** (b) The runner: default settings but {@code applyThreads}, checkpoints at the default interval, into a fresh default-size state. */
    static Result runner(String servers, long expected, int round, int applyThreads)
            throws IOException, InterruptedException {
        Path checkpoints = Files.createTempDirectory("ceiling-runner-");
        long before = Heap.usedAfterGc();
        long w0 = System.nanoTime();
        LockFreeCouponState state = new LockFreeCouponState();
        CouponConsumerRunner runner = CouponConsumerRunner.builder().bootstrapServers(servers)
                .groupId("ceiling-runner-" + round + "-" + System.nanoTime()).topics(List.of(TOPICS)).state(state)
                .checkpointDirectory(checkpoints).applyThreads(applyThreads).build();
        try {
            runner.start();
            long deadline = System.currentTimeMillis() + CATCH_UP_MS;
            while (state.size() == 0) { // the first record applied
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("runner: nothing applied in state " + runner.runnerState());
                }
                Thread.sleep(1);
            }
            long first = System.nanoTime();
            if (!runner.awaitCaughtUp(Duration.ofMillis(CATCH_UP_MS))) {
                throw new IllegalStateException("runner: not caught up, " + state.size() + " of " + expected);
            }
            long end = System.nanoTime();
            if (state.size() != expected) {
                throw new IllegalStateException("runner: state holds " + state.size() + " codes, expected "
                        + expected);
            }
            long retained = Heap.usedAfterGc() - before;
            return new Result("runner-" + applyThreads + "t", expected, (end - first) / 1e9, (end - w0) / 1e9, retained, expected);
        } finally {
            runner.close();
            deleteRecursively(checkpoints);
        }
    }

    /** (c) Kafka Streams: KTable code → source bitmask over the three topics, in-memory store, default config. */
    static Result streams(String servers, long expected, int round, String[] topics)
            throws IOException, InterruptedException {
        return streams(servers, expected, round, topics, new Properties());
    }

    /** As above, with {@code overrides} on top of Kafka Streams' defaults. */
    static Result streams(String servers, long expected, int round, String[] topics, Properties overrides)
            throws IOException, InterruptedException {
        Path stateDir = Files.createTempDirectory("ceiling-streams-");
        long before = Heap.usedAfterGc();
        AtomicLong applied = new AtomicLong();
        AtomicLong first = new AtomicLong();
        Topology topology = ktable(topics, applied, first);
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "ceiling-streams-" + round + "-" + System.nanoTime());
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, servers);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.putAll(overrides);
        long w0 = System.nanoTime();
        KafkaStreams streams = new KafkaStreams(topology, p);
        try {
            streams.start();
            long deadline = System.currentTimeMillis() + CATCH_UP_MS;
            while (applied.get() < expected) {
                if (System.currentTimeMillis() > deadline || streams.state() == KafkaStreams.State.ERROR) {
                    throw new IllegalStateException("streams: applied " + applied.get() + " of " + expected
                            + " in state " + streams.state());
                }
                Thread.sleep(5);
            }
            long end = System.nanoTime();
            long retained = Heap.usedAfterGc() - before;
            return new Result("streams", applied.get(), (end - first.get()) / 1e9, (end - w0) / 1e9, retained,
                    expected);
        } finally {
            streams.close();
            streams.cleanUp();
            deleteRecursively(stateDir);
        }
    }

    /**
     * The KTable a Streams user writes for this job: code → source bitmask (the bit from the record's topic) over
     * {@code topics}, in an in-memory store named {@code codes}; counts the records aggregated in {@code applied} and
     * notes the time of the first in {@code first}.
     */
    static Topology ktable(String[] topics, AtomicLong applied, AtomicLong first) {
        StreamsBuilder builder = new StreamsBuilder();
        KStream<byte[], Integer> merged = null;
        for (int s = 0; s < topics.length; s++) {
            final int bit = 1 << s; // the source bit comes from the record's topic
            KStream<byte[], Integer> one = builder.stream(topics[s], Consumed.with(Serdes.ByteArray(),
                    Serdes.ByteArray())).mapValues(v -> bit);
            merged = merged == null ? one : merged.merge(one);
        }
        merged.groupByKey(Grouped.with(Serdes.ByteArray(), Serdes.Integer()))
                .aggregate(() -> 0, (code, bit, mask) -> {
                    if (applied.getAndIncrement() == 0) {
                        first.set(System.nanoTime());
                    }
                    return mask | bit;
                }, Materialized.<byte[], Integer>as(Stores.inMemoryKeyValueStore("codes"))
                        .withKeySerde(Serdes.ByteArray()).withValueSerde(Serdes.Integer()));
        return builder.build();
    }

    static void deleteRecursively(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Collections.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
