package io.couponstate.benchmarks;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.streams.CouponQueries;
import io.couponstate.kafka.streams.CouponStores;
import io.couponstate.kafka.testing.EmbeddedKafkaBroker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.query.KeyQuery;
import org.apache.kafka.streams.query.QueryResult;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.query.StateQueryRequest;

/**
 * The couponstate store inside Kafka Streams against the KTable aggregate a Streams user writes for this job and
 * against the runner, on the same three topics, rounds side by side (as {@link KafkaCeilingRun}):
 * <ul>
 *   <li>(a) {@code ktable}: {@link KafkaCeilingRun#ktable} (in-memory store, default config);</li>
 *   <li>(b) {@code store}: {@code CouponStores.addTo(topology)} (default config, one stream thread);</li>
 *   <li>(c) {@code runner}: {@code CouponConsumerRunner}, one apply thread.</li>
 * </ul>
 * Records/s from the first record applied to the last, heap bytes per code while the app still holds its state.
 * Then the restart of (a) and (b) on the same state directory after a clean close: from {@code start()} to
 * {@code RUNNING} (the restore: (a) reads its whole changelog into the in-memory store; (b) loads its image and the
 * changelog's tail), and from {@code start()} to the first exact answer for the last code loaded.
 *
 * <pre>
 * java -Xmx6g -cp coupon-state-benchmarks/target/benchmarks.jar io.couponstate.benchmarks.StreamsStoreRun \
 *      [--records 3000000] [--rounds 3] [--partitions 3] [--restart-records 3000000] [--max-task-idle-ms N]
 * # the restart alone at 10M codes (rates, heap per code, restore phase, first answer of (a) and (b)):
 * java -Xmx10g -cp coupon-state-benchmarks/target/benchmarks.jar io.couponstate.benchmarks.StreamsStoreRun \
 *      --rounds 0 --restart-records 10000000
 * </pre>
 * {@code --max-task-idle-ms} sets that Kafka Streams option for (a) and (b) alike; unset, both run on Kafka Streams'
 * default (0), as every result recorded before it was added. {@code -1} skips the per-record check of a task whose
 * partitions are not all buffered (see the benchmarks README); neither (a)'s aggregate nor (b)'s union depends on
 * the order in which a task reads its partitions.
 */
public final class StreamsStoreRun {

    private static final String[] TOPICS = {"coupons-1", "coupons-2", "coupons-3"};
    private static final String[] RESTART_TOPICS = {"restart-1", "restart-2", "restart-3"};
    private static final long WAIT_MS = TimeUnit.MINUTES.toMillis(20);
    private static final CloseOptions LEAVE = CloseOptions.groupMembershipOperation(
            CloseOptions.GroupMembershipOperation.LEAVE_GROUP);

    private StreamsStoreRun() {
    }

    /** Runs it; see the class comment for the arguments. */
    public static void main(String[] args) throws Exception {
        long records = 3_000_000;
        int rounds = 3;
        int partitions = 3;
        long restartRecords = -1;
        Properties overrides = new Properties();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--records" -> records = Long.parseLong(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--partitions" -> partitions = Integer.parseInt(args[++i]);
                case "--restart-records" -> restartRecords = Long.parseLong(args[++i]);
                case "--max-task-idle-ms" -> overrides.put(StreamsConfig.MAX_TASK_IDLE_MS_CONFIG,
                        Long.toString(Long.parseLong(args[++i])));
                default -> throw new IllegalArgumentException("argument: " + args[i] + " (expected: --records N, "
                        + "--rounds N, --partitions N, --restart-records N, --max-task-idle-ms N)");
            }
        }
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start()) {
            String servers = broker.bootstrapServers();
            if (rounds > 0) { // --rounds 0: the restart alone
                KafkaCeilingRun.createTopics(servers, partitions, TOPICS);
                long loaded = KafkaCeilingRun.load(servers, records, TOPICS);
                System.out.printf(Locale.ROOT, "loaded %,d records into %s, %d partitions each; machine shared with "
                        + "other work: read the ratios of each round; Kafka Streams overrides %s%n", loaded,
                        Arrays.toString(TOPICS), partitions, overrides);
                Map<String, List<KafkaCeilingRun.Result>> results = new HashMap<>();
                List<String> runs = List.of("ktable", "store", "runner");
                for (int round = 1; round <= rounds; round++) {
                    for (String which : runs) {
                        KafkaCeilingRun.Result r = switch (which) {
                            case "ktable" -> KafkaCeilingRun.streams(servers, loaded, round, TOPICS, overrides);
                            case "store" -> store(servers, loaded, round, overrides);
                            default -> KafkaCeilingRun.runner(servers, loaded, round, 1);
                        };
                        results.computeIfAbsent(which, k -> new ArrayList<>()).add(r);
                        System.out.printf(Locale.ROOT, "round %d %-7s %,12.0f records/s  (%,d records, %.2f s "
                                + "first→last, %.2f s wall)  heap/code %.1f B%n", round, which, r.recordsPerSecond(),
                                r.records(), r.seconds(), r.wallSeconds(), r.bytesPerCode());
                    }
                    KafkaCeilingRun.Result a = results.get("ktable").get(round - 1);
                    KafkaCeilingRun.Result b = results.get("store").get(round - 1);
                    KafkaCeilingRun.Result c = results.get("runner").get(round - 1);
                    System.out.printf(Locale.ROOT, "round %d ratios: store/ktable %.1fx, runner/store %.1fx; heap/code "
                            + "ktable/store %.1fx%n", round, b.recordsPerSecond() / a.recordsPerSecond(),
                            c.recordsPerSecond() / b.recordsPerSecond(), a.bytesPerCode() / b.bytesPerCode());
                }
            }
            if (restartRecords != 0) {
                long n = restartRecords < 0 ? records : restartRecords;
                KafkaCeilingRun.createTopics(servers, partitions, RESTART_TOPICS);
                long restartLoaded = KafkaCeilingRun.load(servers, n, RESTART_TOPICS);
                System.out.printf(Locale.ROOT, "%nrestart after a clean close, %,d codes:%n", restartLoaded);
                restartKtable(servers, restartLoaded, overrides);
                restartStore(servers, restartLoaded, overrides);
            }
        }
    }

    /** (b) the couponstate store: the default store, one stream thread, a fresh application id. */
    static KafkaCeilingRun.Result store(String servers, long expected, int round, Properties overrides)
            throws Exception {
        Path stateDir = Files.createTempDirectory("streams-store-");
        long before = Heap.usedAfterGc();
        CouponStores coupons = CouponStores.builder("coupons", List.of(TOPICS)).build();
        long w0 = System.nanoTime();
        KafkaStreams streams = new KafkaStreams(coupons.addTo(new Topology()),
                props(servers, "store-" + round + "-" + System.nanoTime(), stateDir, overrides));
        try {
            streams.start();
            await(() -> coupons.recordsProcessed() > 0, streams, "store: first record");
            long first = System.nanoTime();
            await(() -> coupons.recordsProcessed() >= expected, streams, "store: all records");
            long end = System.nanoTime();
            long retained = Heap.usedAfterGc() - before;
            return new KafkaCeilingRun.Result("store", coupons.recordsProcessed(), (end - first) / 1e9,
                    (end - w0) / 1e9, retained, expected);
        } finally {
            streams.close();
            streams.cleanUp();
            KafkaCeilingRun.deleteRecursively(stateDir);
        }
    }

    private static void restartKtable(String servers, long expected, Properties overrides) throws Exception {
        Path stateDir = Files.createTempDirectory("streams-ktable-restart-");
        String app = "ktable-restart-" + System.nanoTime();
        AtomicLong applied = new AtomicLong();
        long before = Heap.usedAfterGc();
        KafkaStreams first = new KafkaStreams(KafkaCeilingRun.ktable(RESTART_TOPICS, applied, new AtomicLong()),
                props(servers, app, stateDir, overrides));
        first.start();
        load("ktable", first, applied::get, expected, before);
        first.close(LEAVE); // else the restart waits a session timeout for the old member
        byte[] last = lastCode(expected);
        RestorePhase phase = new RestorePhase();
        long t0 = System.nanoTime(); // before the constructor: it opens the stores of the task directories it finds
        KafkaStreams second = new KafkaStreams(KafkaCeilingRun.ktable(RESTART_TOPICS, new AtomicLong(),
                new AtomicLong()), props(servers, app, stateDir, overrides));
        second.setGlobalStateRestoreListener(phase);
        second.start();
        await(() -> second.state() == KafkaStreams.State.RUNNING, second, "ktable: running");
        long running = System.nanoTime();
        await(() -> {
            KeyQueryMetadata where = second.queryMetadataForKey("codes", last, (topic, key, value, n) ->
                    CouponStores.codePartitioner().partitions(topic, new String(key, StandardCharsets.US_ASCII),
                            value, n));
            if (where.partition() < 0) {
                return false;
            }
            QueryResult<Integer> r = second.query(StateQueryRequest.inStore("codes")
                    .withQuery(KeyQuery.<byte[], Integer>withKey(last)).withPartitions(Set.of(where.partition())))
                    .getPartitionResults().get(where.partition());
            return r != null && r.isSuccess() && r.getResult() != null && r.getResult() == 4;
        }, second, "ktable: first answer");
        long answered = System.nanoTime();
        System.out.printf(Locale.ROOT, "restart ktable: restore phase (first changelog restore start→RUNNING) %.2f s "
                + "(%,d changelog records read); start→RUNNING %.2f s; start→first exact answer %.2f s%n",
                phase.seconds(running), phase.restored.get(), (running - t0) / 1e9, (answered - t0) / 1e9);
        second.close();
        second.cleanUp();
        KafkaCeilingRun.deleteRecursively(stateDir);
    }

    private static void restartStore(String servers, long expected, Properties overrides) throws Exception {
        Path stateDir = Files.createTempDirectory("streams-store-restart-");
        String app = "store-restart-" + System.nanoTime();
        CouponStores coupons = CouponStores.builder("coupons", List.of(RESTART_TOPICS))
                .config(CouponStateConfig.builder().changeJournalCapacity(1 << 16).build()).build();
        long before = Heap.usedAfterGc();
        KafkaStreams first = new KafkaStreams(coupons.addTo(new Topology()), props(servers, app, stateDir,
                overrides));
        first.start();
        load("store", first, coupons::recordsProcessed, expected, before);
        first.close(LEAVE); // else the restart waits a session timeout for the old member
        String last = new String(lastCode(expected), StandardCharsets.US_ASCII);
        RestorePhase phase = new RestorePhase();
        // the same store, its state made through a factory that marks when the first task's store opens: the image
        // is loaded right after, before any changelog record is restored
        CouponStores reopened = CouponStores.builder("coupons", List.of(RESTART_TOPICS))
                .config(CouponStateConfig.builder().changeJournalCapacity(1 << 16).build())
                .stateFactory(config -> {
                    phase.started();
                    return new LockFreeCouponState(config);
                }).build();
        long t0 = System.nanoTime(); // before the constructor: it opens the stores of the task directories it finds
        KafkaStreams second = new KafkaStreams(reopened.addTo(new Topology()), props(servers, app, stateDir,
                overrides));
        second.setGlobalStateRestoreListener(phase);
        second.start();
        await(() -> second.state() == KafkaStreams.State.RUNNING, second, "store: running");
        long running = System.nanoTime();
        await(() -> {
            KeyQueryMetadata where = CouponStores.queryMetadata(second, "coupons", last);
            if (where.partition() < 0) {
                return false;
            }
            QueryResult<CouponQueries.CodeAnswer> r = second.query(StateQueryRequest.inStore("coupons")
                    .withQuery(CouponQueries.code(last)).withPartitions(Set.of(where.partition())))
                    .getPartitionResults().get(where.partition());
            return r != null && r.isSuccess() && r.getResult().sources().equals(List.of(RESTART_TOPICS[2]));
        }, second, "store: first answer");
        long answered = System.nanoTime();
        System.out.printf(Locale.ROOT, "restart store:  restore phase (first store open→RUNNING: image + changelog "
                + "tail) %.2f s (%,d changelog records read); start→RUNNING %.2f s; start→first exact answer "
                + "%.2f s%n",
                phase.seconds(running), phase.restored.get(), (running - t0) / 1e9, (answered - t0) / 1e9);
        second.close();
        second.cleanUp();
        KafkaCeilingRun.deleteRecursively(stateDir);
    }

    /**
     * Waits until {@code processed} reaches {@code expected}, then prints the rate from the first record to the
     * last and the heap the application holds per code (measured while it is still open).
     */
    private static void load(String which, KafkaStreams streams, LongSupplier processed, long expected, long before)
            throws Exception {
        long w0 = System.nanoTime();
        await(() -> processed.getAsLong() > 0, streams, which + ": first record");
        long first = System.nanoTime();
        await(() -> processed.getAsLong() >= expected, streams, which + ": all records");
        long end = System.nanoTime();
        long retained = Heap.usedAfterGc() - before;
        System.out.printf(Locale.ROOT, "load %-6s %,12.0f records/s  (%,d records, %.2f s first→last, %.2f s wall)  "
                + "heap/code %.1f B%n", which, expected / ((end - first) / 1e9), expected, (end - first) / 1e9,
                (end - w0) / 1e9, retained / (double) expected);
    }

    /**
     * When a restart's restore begins (the first changelog restore, or for the store the first store opened, which
     * loads its image) and how many changelog records it read: the restore phase alone, without the group join.
     */
    private static final class RestorePhase implements StateRestoreListener {
        final AtomicLong start = new AtomicLong();
        final AtomicLong restored = new AtomicLong();

        void started() {
            start.compareAndSet(0, System.nanoTime());
        }

        double seconds(long running) {
            long s = start.get();
            return s == 0 ? 0 : (running - s) / 1e9;
        }

        @Override
        public void onRestoreStart(TopicPartition partition, String store, long startingOffset, long endingOffset) {
            started();
        }

        @Override
        public void onBatchRestored(TopicPartition partition, String store, long batchEndOffset, long numRestored) {
            restored.addAndGet(numRestored);
        }

        @Override
        public void onRestoreEnd(TopicPartition partition, String store, long totalRestored) {
        }
    }

    /** The last code {@link KafkaCeilingRun#load} wrote (in the third topic). */
    private static byte[] lastCode(long records) {
        int length = 8 + 2;
        byte[] code = new byte[length];
        ReferenceScaleRun.code(code, length, ReferenceScaleRun.space(length), ReferenceScaleRun.B[2], records - 1);
        return code;
    }

    private static Properties props(String servers, String app, Path stateDir, Properties overrides) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, app);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, servers);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.APPLICATION_SERVER_CONFIG, "127.0.0.1:1"); // for queryMetadataForKey; never served
        p.putAll(overrides);
        return p;
    }

    private static void await(BooleanSupplier condition, KafkaStreams streams, String what) throws Exception {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline || streams.state() == KafkaStreams.State.ERROR) {
                throw new IllegalStateException(what + ": not reached, streams " + streams.state());
            }
            Thread.sleep(1);
        }
    }

}
