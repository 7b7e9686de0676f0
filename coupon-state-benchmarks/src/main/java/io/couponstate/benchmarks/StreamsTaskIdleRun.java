package io.couponstate.benchmarks;

import io.couponstate.kafka.streams.CouponStores;
import io.couponstate.kafka.testing.EmbeddedKafkaBroker;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;

/**
 * The couponstate store in Kafka Streams at {@code max.task.idle.ms} 0 (Kafka Streams' default) and -1, alternating
 * in one JVM on the same three topics ({@link KafkaCeilingRun#load}: each topic's records after the previous
 * topic's, so a task reads one partition's backlog while the others wait, and then runs on with the first ones dry).
 * Per run: records/s from the first record applied to the last, the process's CPU time over that span, and Kafka
 * Streams' {@code enforced-processing-total} (records processed while a partition of their task was empty).
 *
 * <pre>
 * java -Xmx2g -cp coupon-state-benchmarks/target/benchmarks.jar io.couponstate.benchmarks.StreamsTaskIdleRun \
 *      [--records 900000] [--rounds 4]
 * </pre>
 */
public final class StreamsTaskIdleRun {

    private static final String[] TOPICS = {"coupons-1", "coupons-2", "coupons-3"};
    private static final long WAIT_NANOS = TimeUnit.MINUTES.toNanos(20);

    private StreamsTaskIdleRun() {
    }

    /** Runs it; see the class comment for the arguments. */
    public static void main(String[] args) throws Exception {
        long records = 900_000;
        int rounds = 4;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--records" -> records = Long.parseLong(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("argument: " + args[i] + " (expected: --records N, "
                        + "--rounds N)");
            }
        }
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start()) {
            String servers = broker.bootstrapServers();
            KafkaCeilingRun.createTopics(servers, 3, TOPICS);
            long loaded = KafkaCeilingRun.load(servers, records, TOPICS);
            System.out.printf(Locale.ROOT, "loaded %,d records into %s, 3 partitions each; machine shared with other "
                    + "work: read the ratios of each round%n", loaded, String.join(", ", TOPICS));
            for (int round = 1; round <= rounds; round++) {
                double[] rate = new double[2];
                String[] idles = {"0", "-1"};
                for (int k = 0; k < idles.length; k++) {
                    rate[k] = run(servers, loaded, round, idles[k]);
                }
                System.out.printf(Locale.ROOT, "round %d ratio: -1 / 0 %.2fx%n", round, rate[1] / rate[0]);
            }
        }
    }

    private static double run(String servers, long expected, int round, String idle) throws Exception {
        Path stateDir = Files.createTempDirectory("streams-idle-");
        CouponStores coupons = CouponStores.builder("coupons", List.of(TOPICS)).build();
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "idle-" + round + "-" + (idle.equals("0") ? "0" : "off") + "-"
                + System.nanoTime());
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, servers);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.MAX_TASK_IDLE_MS_CONFIG, idle);
        p.put(StreamsConfig.METRICS_RECORDING_LEVEL_CONFIG, "DEBUG"); // enforced-processing-total is a debug metric
        KafkaStreams streams = new KafkaStreams(coupons.addTo(new Topology()), p);
        try {
            streams.start();
            long deadline = System.nanoTime() + WAIT_NANOS;
            awaitProcessed(coupons, 1, streams, deadline);
            long first = System.nanoTime();
            long cpu0 = processCpuNanos();
            awaitProcessed(coupons, expected, streams, deadline);
            long end = System.nanoTime();
            long cpu = processCpuNanos() - cpu0;
            double enforced = streams.metrics().entrySet().stream()
                    .filter(e -> e.getKey().name().equals("enforced-processing-total"))
                    .mapToDouble(e -> ((Number) e.getValue().metricValue()).doubleValue()).sum();
            double rate = coupons.recordsProcessed() / ((end - first) / 1e9);
            System.out.printf(Locale.ROOT, "round %d max.task.idle.ms=%-2s %,10.0f records/s  (%.2f s first→last, "
                    + "process CPU %.2f s)  enforced-processing-total %,.0f%n", round, idle, rate,
                    (end - first) / 1e9, cpu / 1e9, enforced);
            return rate;
        } finally {
            streams.close();
            streams.cleanUp();
            KafkaCeilingRun.deleteRecursively(stateDir);
        }
    }

    private static void awaitProcessed(CouponStores coupons, long records, KafkaStreams streams, long deadline)
            throws InterruptedException {
        while (coupons.recordsProcessed() < records) {
            if (System.nanoTime() > deadline || streams.state() == KafkaStreams.State.ERROR) {
                throw new IllegalStateException("processed " + coupons.recordsProcessed() + " of " + records
                        + ", streams " + streams.state());
            }
            Thread.sleep(1);
        }
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }
}
