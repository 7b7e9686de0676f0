package io.couponstate.kafka;

import static io.couponstate.kafka.KafkaTestSupport.createTopics;
import static io.couponstate.kafka.KafkaTestSupport.endOffsets;
import static io.couponstate.kafka.KafkaTestSupport.produce;
import static io.couponstate.kafka.KafkaTestSupport.randomRecords;
import static io.couponstate.kafka.KafkaTestSupport.topicNames;
import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.KafkaTestSupport.Model;
import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The supported kafka-clients range, both ends: the runner and {@link CouponCheckpoints} run end to end against the
 * in-JVM broker with the oldest supported client ({@code kafka.oldest.version} in the root pom, copied to
 * {@code target/kafka-clients-oldest} by the build) in a child JVM whose class path holds the library, that client
 * with its compression libraries, and slf4j (the broker needs the newest client on its own class path, so it stays
 * in this JVM); then the newest (the one the module is built with) in this JVM. With the oldest: the runner catches
 * up and is killed with SIGKILL once a checkpoint covers everything; a second runner restores it, catches up with new
 * records and closes (final checkpoint); a plain consumer loop restores that through {@code CouponCheckpoints}, reads
 * the rest and writes a checkpoint. With the newest: a runner restores that checkpoint and catches up with more.
 * Every step must hold exactly the published codes with their sources.
 */
@Tag("integration")
class KafkaClientsRangeIntegrationTest {

    private static final long SEED = Long.getLong("couponstate.seed", System.nanoTime());

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    Path dir;

    @BeforeAll
    static void printSeed() {
        System.out.println("KafkaClientsRangeIntegrationTest seed: " + SEED + " (-Dcouponstate.seed=" + SEED + ")");
    }

    @Test
    @Timeout(300) // hang guard only
    void oldestClientInAChildJvm_thenNewestInProcess_endExact() throws Exception {
        String expectedVersion = oldestVersion();
        List<String> classPath = childClassPath();
        String bootstrap = KAFKA.bootstrapServers();
        List<String> topics = topicNames("range", 2);
        createTopics(bootstrap, topics, 2);
        Random random = new Random(SEED);
        Model model = new Model();
        Path checkpoints = dir.resolve("checkpoints");
        long t0 = System.nanoTime();

        produce(bootstrap, randomRecords(random, topics, 300, model));
        Process killed = start(classPath, "runner-kill", bootstrap, checkpoints, topics, "runner-kill");
        try {
            List<String> lines = readUntil(killed, "DURABLE");
            assertThat(lines).as(log("runner-kill"))
                    .containsExactly("CLIENT " + expectedVersion, "RESTORED 0", describe(model), "DURABLE");
        } finally {
            killed.destroyForcibly(); // SIGKILL
            assertThat(killed.waitFor(60, TimeUnit.SECONDS)).isTrue();
        }
        long t1 = System.nanoTime();

        produce(bootstrap, randomRecords(random, topics, 300, model));
        List<String> closed = runToEnd(classPath, "runner-close", bootstrap, checkpoints, topics);
        assertThat(closed).hasSize(4);
        assertThat(closed.get(0)).isEqualTo("CLIENT " + expectedVersion);
        assertThat(closed.get(1)).as("restored the killed runner's checkpoint").isNotEqualTo("RESTORED 0")
                .startsWith("RESTORED ");
        assertThat(closed.subList(2, 4)).containsExactly(describe(model), "CLOSED");
        long t2 = System.nanoTime();

        Map<TopicPartition, Long> beforeLoop = endOffsets(bootstrap, topics);
        produce(bootstrap, randomRecords(random, topics, 300, model));
        List<String> loop = runToEnd(classPath, "loop", bootstrap, checkpoints, topics);
        assertThat(loop).containsExactly("CLIENT " + expectedVersion,
                "RESTORED_OFFSETS " + beforeLoop.values().stream().mapToLong(Long::longValue).sum(), describe(model));
        long t3 = System.nanoTime();

        // the newest client, in this JVM: a runner restores what the oldest wrote and catches up with more
        produce(bootstrap, randomRecords(random, topics, 300, model));
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = KafkaTestSupport.runner(bootstrap, topics, state)
                .checkpointDirectory(checkpoints).build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(Duration.ofSeconds(120))).as("caught up").isTrue();
            assertThat(runner.metrics().restoredCheckpointSequence()).as("restored the loop's checkpoint")
                    .isPositive();
            KafkaTestSupport.assertMatches(state, model);
        }
        long t4 = System.nanoTime();
        System.out.printf("kafka-clients %s (child JVM): %s; then %s in process: exact. Runner killed %.1f s, "
                + "runner restored and closed %.1f s, own loop %.1f s, newest runner %.1f s%n", expectedVersion,
                loop.get(2), ClientsRangeChildMain.clientVersion(), (t1 - t0) / 1e9, (t2 - t1) / 1e9,
                (t3 - t2) / 1e9, (t4 - t3) / 1e9);
    }

    private static String oldestVersion() {
        return System.getProperty("couponstate.kafka.oldest.version", "(run through Maven: kafka.oldest.version)");
    }

    /**
     * This JVM's class path less every jar but core and slf4j (the kafka module's classes are directories), plus the
     * oldest kafka-clients and its compression libraries, copied by the build.
     */
    private static List<String> childClassPath() throws IOException {
        List<String> keep = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String name = Path.of(entry).getFileName().toString();
            boolean library = Files.isDirectory(Path.of(entry)) || name.startsWith("coupon-state-core")
                    || name.startsWith("slf4j-api") || name.startsWith("slf4j-simple");
            if (library) {
                keep.add(entry);
            }
        }
        Path copied = Path.of(System.getProperty("couponstate.kafka.oldest.dir", "target/kafka-clients-oldest"));
        try (Stream<Path> jars = Files.list(copied)) {
            jars.filter(p -> p.toString().endsWith(".jar")).sorted().forEach(p -> keep.add(p.toString()));
        }
        assertThat(keep).as("the oldest client, copied by the build").anyMatch(e -> e.contains("kafka-clients-"));
        return keep;
    }

    private Process start(List<String> classPath, String mode, String bootstrap, Path checkpoints,
            List<String> topics, String logName) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp",
                String.join(File.pathSeparator, classPath), ClientsRangeChildMain.class.getName(), mode, bootstrap,
                checkpoints.toString(), String.join(",", topics))
                .redirectError(dir.resolve(logName + ".log").toFile()).start();
    }

    /** Runs a child that exits by itself; its stdout lines, after it exited 0. */
    private List<String> runToEnd(List<String> classPath, String mode, String bootstrap, Path checkpoints,
            List<String> topics) throws Exception {
        Process child = start(classPath, mode, bootstrap, checkpoints, topics, mode);
        try {
            String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(child.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(child.exitValue()).as(mode + " exit status; stdout:\n" + out + "\nstderr:\n" + log(mode))
                    .isZero();
            return out.lines().toList();
        } finally {
            child.destroyForcibly();
        }
    }

    /** Reads the child's stdout until {@code last} (or its end: it exited, then the assertion shows why). */
    private List<String> readUntil(Process child, String last) throws IOException {
        List<String> lines = new ArrayList<>();
        try (var in = child.inputReader(StandardCharsets.UTF_8)) {
            for (String line; (line = in.readLine()) != null; ) {
                lines.add(line);
                if (line.equals(last) || line.startsWith("FAILED")) {
                    break;
                }
            }
        }
        return lines;
    }

    private String log(String name) throws IOException {
        Path log = dir.resolve(name + ".log");
        return Files.exists(log) ? Files.readString(log) : "(none)";
    }

    /** What {@link ClientsRangeChildMain#describe} prints for a state that holds exactly the model. */
    private static String describe(Model model) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        model.sources.forEach((code, sources) -> sha.update(ClientsRangeChildMain.line(code, sources)
                .getBytes(StandardCharsets.UTF_8)));
        return "STATE codes=" + model.sources.size() + " valid=" + model.valid(2).size() + " sha256="
                + HexFormat.of().formatHex(sha.digest());
    }
}
