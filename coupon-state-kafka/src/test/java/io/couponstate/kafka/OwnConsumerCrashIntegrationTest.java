package io.couponstate.kafka;

import static io.couponstate.kafka.KafkaTestSupport.assertMatches;
import static io.couponstate.kafka.KafkaTestSupport.createTopics;
import static io.couponstate.kafka.KafkaTestSupport.endOffsets;
import static io.couponstate.kafka.KafkaTestSupport.randomRecords;
import static io.couponstate.kafka.KafkaTestSupport.topicNames;
import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.KafkaTestSupport.Model;
import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A plain {@code KafkaConsumer} loop over {@link CouponCheckpoints} ({@link OwnConsumerLoop}) in a child JVM is killed
 * with SIGKILL at seeded moments while records arrive, and started again on the same checkpoint directory (each time
 * in a new consumer group: nothing rests on committed offsets); a last run that catches up must hold exactly every
 * published code with its sources, and so must a restore of its final checkpoint.
 */
@Tag("integration")
class OwnConsumerCrashIntegrationTest {

    private static final long SEED = Long.getLong("couponstate.seed", System.nanoTime());
    private static final int KILLS = 3;
    private static final Duration WAIT = Duration.ofSeconds(60);

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    Path dir;

    @BeforeAll
    static void printSeed() {
        System.out.println("OwnConsumerCrashIntegrationTest seed: " + SEED + " (-Dcouponstate.seed=" + SEED + ")");
    }

    @Test
    @Timeout(600) // hang guard only
    void killedAtSeededMoments_andRestarted_endsExact() throws Exception {
        String bootstrap = KAFKA.bootstrapServers();
        List<String> topics = topicNames("ownloop", 2);
        createTopics(bootstrap, topics, 2);
        Random random = new Random(SEED);
        Model model = new Model();
        Path checkpoints = dir.resolve("checkpoints");
        for (int kill = 0; kill < KILLS; kill++) {
            List<ProducerRecord<byte[], byte[]>> chunk = randomRecords(random, topics, 400, model);
            long delayMillis = random.nextInt(1500);
            Path log = dir.resolve("child-" + kill + ".log");
            Process child = startChild(bootstrap, checkpoints, topics, log);
            try {
                expectRunning(readLines(child), child, log);
                AtomicReference<RuntimeException> failure = new AtomicReference<>();
                Thread producer = new Thread(() -> produceSlowly(bootstrap, chunk, failure), "own-loop-producer");
                producer.start();
                Thread.sleep(delayMillis); // the seeded moment of the kill, while records arrive
                child.destroyForcibly(); // SIGKILL
                assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
                producer.join();
                assertThat(failure.get()).as("producing the chunk").isNull();
                System.out.println("own loop killed " + delayMillis + " ms after it ran; checkpoints "
                        + CouponCheckpoints.list(checkpoints));
            } finally {
                child.destroyForcibly();
            }
        }

        Map<TopicPartition, Long> end = endOffsets(bootstrap, topics);
        StripedLockCouponState state = CrashChildMain.journaledState();
        OwnConsumerLoop.consume(OwnConsumerLoop.config(bootstrap, "own-loop-final-" + SEED), topics, state,
                checkpoints, Duration.ofMillis(100), size -> { }, (consumer, next) ->
                        consumer.assignment().size() == end.size() && consumer.assignment().stream()
                                .allMatch(tp -> consumer.position(tp) >= end.get(tp)));
        assertMatches(state, model);

        StripedLockCouponState restored = new StripedLockCouponState();
        try (CouponCheckpoints again = CouponCheckpoints.open(checkpoints)) {
            assertThat(again.restore(restored)).as("the final checkpoint covers every record").isEqualTo(end);
        }
        assertMatches(restored, model);
    }

    private static Process startChild(String bootstrap, Path checkpoints, List<String> topics, Path log)
            throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp",
                System.getProperty("java.class.path"), OwnConsumerChildMain.class.getName(), bootstrap,
                checkpoints.toString(), String.join(",", topics), Integer.toString(topics.size() * 2))
                .redirectError(log.toFile()).start();
    }

    private static BlockingQueue<String> readLines(Process child) {
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    lines.add(line);
                }
            } catch (IOException e) {
                // the child was killed
            }
        }, "own-loop-child-stdout");
        reader.setDaemon(true);
        reader.start();
        return lines;
    }

    private static void expectRunning(BlockingQueue<String> lines, Process child, Path log) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos(); // a hang guard only
        while (System.nanoTime() < deadline && child.isAlive()) {
            String line = lines.poll(100, TimeUnit.MILLISECONDS);
            if ("RUNNING".equals(line)) {
                return;
            }
        }
        throw new AssertionError("child never printed RUNNING (alive: " + child.isAlive() + "); its log:\n"
                + (Files.exists(log) ? Files.readString(log) : "(none)"));
    }

    /** Produces in small flushed batches, so that the child checkpoints several times while records arrive. */
    private static void produceSlowly(String bootstrap, List<ProducerRecord<byte[], byte[]>> records,
            AtomicReference<RuntimeException> failure) {
        try (KafkaProducer<byte[], byte[]> producer = KafkaTestSupport.producer(bootstrap)) {
            int batch = Math.max(1, records.size() / 10);
            for (int from = 0; from < records.size(); from += batch) {
                KafkaTestSupport.send(producer, records.subList(from, Math.min(records.size(), from + batch)));
                Thread.sleep(25);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            failure.set(e);
        }
    }
}
