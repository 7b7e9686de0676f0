package io.couponstate.examples;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.PublishResult;
import io.couponstate.kafka.RunnerMetrics;
import io.couponstate.kafka.testing.EmbeddedKafkaBroker;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.ref.Reference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The whole pipeline in one command: a real broker in this JVM, three generated coupon files, published with a
 * progress bar, consumed by the runner until caught up, and a short report. Exit code 0 only when the valid codes
 * found are exactly the eight planted ones.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        header = "Runs the whole pipeline on generated data and reports what it found.",
        description = {"Starts a Kafka broker in this JVM (or uses --bootstrap-servers), generates three coupon "
            + "files, publishes them with a progress bar, consumes them with the runner until caught up, and reports "
            + "the valid codes, counts per source, records/s, state bytes per code and time per phase.",
            "Exit code 0 only when the valid codes are exactly the eight planted ones.",
            "--instances N (2..16): N partitioned runners in this JVM, one consumer group, each behind its own HTTP "
                + "service; prints who owns which partitions, asks every instance about every planted code and a "
                + "sample of invalid ones, and exits 0 only when every answer is right."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:exactly the eight planted codes are valid (and, with --instances, every instance answered "
            + "every sampled code right)", "1:other codes were found, or a step failed "
            + "(e.g. no broker answered at --bootstrap-servers)", "2:usage error", "4:not caught up within "
            + "--timeout-seconds"})
final class DemoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT[,HOST:PORT...]",
            description = "Use this Kafka cluster instead of a broker started in this JVM.")
    String bootstrapServers;

    @Option(names = {"-X", "--property"}, paramLabel = "NAME=VALUE",
            description = "A Kafka client property for an external cluster, e.g. -X security.protocol=SSL.")
    Map<String, String> properties = new LinkedHashMap<>();

    @Option(names = "--wait", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "With --bootstrap-servers: how long to wait for a broker to answer before giving up "
            + "(default: ${DEFAULT-VALUE}).", defaultValue = "30s")
    Duration wait = Duration.ofSeconds(30);

    @Mixin
    GeneratorOptions generator;

    @Option(names = "--partitions", paramLabel = "N", description = "Partitions per topic (default: 3, or 6 with "
            + "--instances above 1).")
    Integer partitions;

    @Option(names = "--instances", paramLabel = "N", description = "1: one runner holds the whole state (default). "
            + "2..16: N runners in partitioned mode in this JVM, one consumer group, each behind its own HTTP "
            + "service on a free port; the demo prints who owns which partitions, asks every instance about every "
            + "planted code and a sample of invalid ones (forwarding to the owner), and fails unless every answer "
            + "is right.", defaultValue = "1")
    int instances = 1;

    @Option(names = "--state", paramLabel = "KIND", description = "The state implementation: ${COMPLETION-CANDIDATES} "
            + "(default: ${DEFAULT-VALUE}).", defaultValue = "LOCKFREE")
    StateKind stateKind;

    @Option(names = "--work-dir", paramLabel = "DIR",
            description = "Where the files are written (default: a temporary directory, "
            + "deleted at the end).")
    Path workDir;

    @Option(names = "--no-progress", description = "Do not draw progress bars.")
    boolean noProgress;

    @Option(names = "--timeout-seconds", paramLabel = "S", description = "How long to wait for the runner to catch up "
            + "(default: ${DEFAULT-VALUE}).", defaultValue = "600")
    long timeoutSeconds;

    @Override
    public Integer call() throws Exception {
        if (instances < 1 || instances > 16) {
            throw new CommandFailure("--instances: " + instances + " (expected: 1..16)", ExitCodes.USAGE);
        }
        if (partitions != null && (partitions < 1 || partitions > 1_000)) {
            throw new CommandFailure("--partitions: " + partitions + " (expected: 1..1000)", ExitCodes.USAGE);
        }
        int partitionCount = partitions != null ? partitions : instances > 1 ? 6 : 3;
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Map<String, Duration> phases = new LinkedHashMap<>();
        long start = System.nanoTime();
        EmbeddedKafkaBroker broker = null;
        boolean ownsDir = workDir == null;
        Path dir = ownsDir ? Files.createTempDirectory("couponstate-demo-") : workDir;
        try {
            String bootstrap = bootstrapServers;
            if (bootstrap != null) {
                KafkaCheck.reachable(bootstrap, properties, wait).close();
            } else {
                err.println("demo: starting a Kafka broker in this JVM...");
                err.flush();
                long t = System.nanoTime();
                broker = EmbeddedKafkaBroker.start();
                bootstrap = broker.bootstrapServers();
                phases.put("broker start", since(t));
            }

            err.printf("demo: generating 3 files of %,d random codes in %s...%n", generator.codesPerFile, dir);
            err.flush();
            long t = System.nanoTime();
            List<Path> files = CouponFileGenerator.generate(dir, generator.codesPerFile, generator.seed, false);
            phases.put("generate", since(t));

            t = System.nanoTime();
            KafkaOptions kafka = new KafkaOptions();
            kafka.bootstrapServers = bootstrap;
            kafka.properties = properties;
            List<PublishResult> published = PublishCommand.publish(kafka, files, partitionCount,
                    io.couponstate.kafka.CouponFilePublisher.DEFAULT_MAX_LINE_LENGTH, !noProgress);
            Duration publishTime = since(t);
            phases.put("publish", publishTime);
            long totalPublished = published.stream().mapToLong(PublishResult::sent).sum();

            List<String> topics = published.stream().map(PublishResult::topic).toList();
            if (instances > 1) {
                t = System.nanoTime();
                List<String> report = List.of("  per source       : " + perSource(published),
                        String.format("  publish          : %,d records, %s records/s", totalPublished,
                                Durations.rate(totalPublished, publishTime)));
                int code = new PartitionedDemo(bootstrap, properties, topics, partitionCount, instances, stateKind,
                        3L * generator.codesPerFile, out, err).run(files.get(0), Duration.ofSeconds(timeoutSeconds),
                        report);
                phases.put("consume and query", since(t));
                phases.put("total", since(start));
                StringBuilder times = new StringBuilder();
                phases.forEach((name, d) -> times.append(times.length() == 0 ? "" : ", ").append(name).append(' ')
                        .append(Durations.seconds(d)));
                out.println("  time per phase   : " + times);
                out.flush();
                return code;
            }
            err.println("demo: consuming with the runner until caught up...");
            err.flush();
            long usedBefore = usedHeapAfterGc();
            CouponState state = stateKind.create(3L * generator.codesPerFile);
            RunnerMetrics metrics;
            CouponConsumerRunner.Builder builder = CouponConsumerRunner.builder()
                    .bootstrapServers(bootstrap)
                    .groupId("coupon-state-demo")
                    .topics(topics)
                    .state(state);
            properties.forEach(builder::consumerProperty);
            t = System.nanoTime();
            try (CouponConsumerRunner runner = builder.build()) {
                runner.start();
                if (!runner.awaitCaughtUp(Duration.ofSeconds(timeoutSeconds))) {
                    err.printf("demo: the runner did not catch up within %d s (%s)%n", timeoutSeconds,
                            runner.metrics());
                    return ExitCodes.NOT_CAUGHT_UP;
                }
                metrics = runner.metrics();
            }
            Duration consumeTime = since(t);
            phases.put("consume", consumeTime);

            List<String> valid = state.getCouponCodesByObservationCount(state.threshold());
            valid.sort(null);
            long distinct = state.size();
            long usedWithState = usedHeapAfterGc();
            Reference.reachabilityFence(state);
            phases.put("total", since(start));

            boolean ok = valid.equals(CouponFileGenerator.PLANTED_VALID);
            out.println("couponstate demo");
            out.printf("  valid codes      : %s%n", String.join(" ", valid));
            out.printf("  expected         : %s -> %s%n", String.join(" ", CouponFileGenerator.PLANTED_VALID),
                    ok ? "OK, exactly the planted codes" : "MISMATCH");
            out.println("  per source       : " + perSource(published));
            out.printf(Locale.ROOT, "  state            : %,d distinct codes, %s (%s)%n", distinct,
                    bytesPerCode(usedWithState - usedBefore, distinct), stateKind.name().toLowerCase(Locale.ROOT));
            out.printf("  publish          : %,d records, %s records/s%n", totalPublished,
                    Durations.rate(totalPublished, publishTime));
            out.printf("  consume          : %,d records, %s records/s (%,d invalid)%n", metrics.recordsConsumed(),
                    Durations.rate(metrics.recordsConsumed(), consumeTime), metrics.invalidRecordsTotal());
            StringBuilder times = new StringBuilder();
            phases.forEach((name, d) -> times.append(times.length() == 0 ? "" : ", ").append(name).append(' ')
                    .append(Durations.seconds(d)));
            out.println("  time per phase   : " + times);
            out.flush();
            if (!ok) {
                err.println("demo: expected exactly " + CouponFileGenerator.PLANTED_VALID + " to be valid, found "
                        + valid);
            }
            return ok ? 0 : 1;
        } finally {
            err.flush();
            if (broker != null) {
                broker.close();
            }
            if (ownsDir) {
                deleteRecursively(dir);
            }
        }
    }

    private static String perSource(List<PublishResult> published) {
        List<String> parts = new ArrayList<>();
        for (PublishResult r : published) {
            parts.add(String.format("%s %,d", r.topic(), r.sent()));
        }
        return String.join(", ", parts) + " records";
    }

    private static String bytesPerCode(long bytes, long codes) {
        if (codes == 0 || bytes <= 0) {
            return "heap per code not measurable";
        }
        return String.format(Locale.ROOT, "%.1f heap bytes per code (%,d KiB, measured after GC)",
                (double) bytes / codes, bytes >> 10);
    }

    private static Duration since(long startNanos) {
        return Duration.ofNanos(System.nanoTime() - startNanos);
    }

    /** Heap in use after a full collection; an estimate, but the state is by far the largest thing that changes. */
    private static long usedHeapAfterGc() {
        for (int i = 0; i < 2; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary directory left behind is not worth failing the demo for
        }
    }
}
