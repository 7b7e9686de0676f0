package io.couponstate.kafka;

import static io.couponstate.kafka.KafkaTestSupport.assertMatches;
import static io.couponstate.kafka.KafkaTestSupport.createTopics;
import static io.couponstate.kafka.KafkaTestSupport.randomRecords;
import static io.couponstate.kafka.KafkaTestSupport.runner;
import static io.couponstate.kafka.KafkaTestSupport.topicNames;
import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.KafkaTestSupport.Model;
import io.couponstate.kafka.internal.checkpoint.ChainRestore;
import io.couponstate.kafka.internal.checkpoint.CheckpointDirectory;
import io.couponstate.kafka.internal.checkpoint.CheckpointFormat;
import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A runner in a child JVM is killed with SIGKILL at seeded moments, among them between a checkpoint's fsync and its
 * rename, and started again on the same checkpoint directory while records keep arriving; at the end a runner on that
 * directory must hold exactly the model. Repetitions: {@code -Dcouponstate.crash.repetitions} (default 6).
 */
@Tag("integration")
class CrashRecoveryIntegrationTest {

    private static final long SEED = Long.getLong("couponstate.seed", System.nanoTime());
    private static final int REPETITIONS = Integer.getInteger("couponstate.crash.repetitions", 6);
    private static final Duration WAIT = Duration.ofSeconds(60);

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();
    private static volatile RuntimeException produceFailure;
    /** Bounds the records fed after a chunk while a child has not yet paused (about 25 s at 25 ms each). */
    private static final int MAX_FEED_BATCHES = 1000;

    @TempDir
    Path dir;

    @BeforeAll
    static void printSeed() {
        System.out.println("CrashRecoveryIntegrationTest seed: " + SEED + " (-Dcouponstate.seed=" + SEED + ")");
    }

    @Test
    void killedAtSeededMoments_andRestarted_endsEqualToTheModel() throws Exception {
        crashAndRestart(false, REPETITIONS);
    }

    /**
     * The same over a state with a change journal, whose checkpoints are deltas: every kill at a rename is between a
     * delta's fsync and its rename (the child pauses at its first or second delta write), and the restart restores
     * the chain without it and replays the tail.
     */
    @Test
    void killedBetweenADeltasFsyncAndItsRename_andRestarted_endsEqualToTheModel() throws Exception {
        crashAndRestart(true, Math.max(2, REPETITIONS / 2));
    }

    private void crashAndRestart(boolean journal, int repetitions) throws Exception {
        String bootstrap = KAFKA.bootstrapServers();
        List<String> topics = topicNames(journal ? "crashdelta" : "crash", 3);
        createTopics(bootstrap, topics, 2);
        Random random = new Random(SEED);
        Model model = new Model();
        Path checkpoints = dir.resolve("checkpoints");
        int killsAtRename = 0;
        long unfinishedSequence = Long.MAX_VALUE; // a checkpoint killed between fsync and rename by the last kill
        for (int rep = 0; rep < repetitions; rep++) {
            boolean atRename = rep % 2 == 0;
            int pauseAt = atRename ? 1 + random.nextInt(2) : 0;
            long delayMillis = random.nextInt(1200);
            List<ProducerRecord<byte[], byte[]>> chunk = randomRecords(random, topics, 250, model);
            Path log = dir.resolve("child-" + rep + ".log");
            Process child = startChild(bootstrap, checkpoints, topics, pauseAt, log, journal);
            BlockingQueue<String> lines = readLines(child);
            try {
                String ready = expectLine(lines, "RUNNING", child, log);
                long restored = Long.parseLong(ready.substring(ready.indexOf("restored=") + "restored=".length()));
                assertThat(restored).as("a checkpoint never renamed must never be restored")
                        .isLessThan(unfinishedSequence);
                unfinishedSequence = Long.MAX_VALUE;
                // a kill at a rename needs the child to checkpoint pauseAt times after its first base, each time with
                // new records: until it reports the pause, the producer adds a few records at a time after the chunk
                AtomicBoolean feed = new AtomicBoolean(atRename);
                Random fill = new Random(SEED + rep);
                Thread producer = new Thread(() -> produceSlowly(bootstrap, chunk, feed, fill, topics, model),
                        "crash-producer-" + rep);
                producer.start();
                String moment;
                if (atRename) {
                    String fsynced = expectLine(lines, "FSYNCED", child, log);
                    feed.set(false);
                    Path tmp = checkpoints.resolve(fsynced.substring("FSYNCED ".length()));
                    assertThat(tmp).as("the fsynced, not yet renamed checkpoint").exists();
                    if (journal) {
                        assertThat(CheckpointFormat.decode(tmp).isDelta()).as("the checkpoint killed before its rename is a "
                                + "delta").isTrue();
                    }
                    String name = tmp.getFileName().toString();
                    unfinishedSequence = Long.parseLong(name.substring("checkpoint-".length(), name.indexOf('.')));
                    moment = "between fsync and rename of checkpoint write #" + pauseAt;
                    killsAtRename++;
                } else {
                    Thread.sleep(delayMillis);
                    moment = delayMillis + " ms after start";
                }
                child.destroyForcibly(); // SIGKILL
                assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
                feed.set(false);
                producer.join();
                assertThat(produceFailure).as("producing the chunk").isNull();
                System.out.println("crash rep " + rep + ": " + ready + ", killed " + moment + "; files "
                        + listing(checkpoints));
            } finally {
                child.destroyForcibly();
            }
        }
        assertThat(killsAtRename).isGreaterThanOrEqualTo(repetitions / 2);

        StripedLockCouponState state = journal ? CrashChildMain.journaledState() : new StripedLockCouponState();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state).checkpointDirectory(checkpoints).build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertMatches(state, model);
            System.out.println("after " + repetitions + " crashes: " + runner.metrics() + " of " + model.records
                    + " records produced");
        }
    }

    private static Process startChild(String bootstrap, Path checkpoints, List<String> topics, int pauseAt, Path log,
            boolean journal) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-Xmx256m", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), CrashChildMain.class.getName(),
                bootstrap, checkpoints.toString(), String.join(",", topics), Integer.toString(topics.size() * 2),
                Integer.toString(pauseAt), Boolean.toString(journal)));
        return new ProcessBuilder(command).redirectError(log.toFile()).start();
    }

    private static BlockingQueue<String> readLines(Process child) {
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(
                    new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    lines.add(line);
                }
            } catch (IOException e) {
                // the child was killed
            }
        }, "crash-child-stdout");
        reader.setDaemon(true);
        reader.start();
        return lines;
    }

    private static String expectLine(BlockingQueue<String> lines, String prefix, Process child, Path log)
            throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            String line = lines.poll(100, TimeUnit.MILLISECONDS);
            if (line != null && line.startsWith(prefix)) {
                return line;
            }
            if (line != null && line.startsWith("ENDED")) {
                break;
            }
        }
        throw new AssertionError("child never printed " + prefix + " (alive: " + child.isAlive() + "); its log:\n"
                + (Files.exists(log) ? Files.readString(log) : "(none)"));
    }

    /** Produces in small flushed batches, so that the child checkpoints several times while records arrive. */
    /**
     * Sends {@code records} in ten batches, then, while {@code feed} is set, one record per topic at a time (drawn
     * from {@code fill}, added to {@code model}), at most {@link #MAX_FEED_BATCHES} times.
     */
    private static void produceSlowly(String bootstrap, List<ProducerRecord<byte[], byte[]>> records,
            AtomicBoolean feed, Random fill, List<String> topics, Model model) {
        try (KafkaProducer<byte[], byte[]> producer = KafkaTestSupport.producer(bootstrap)) {
            int batch = Math.max(1, records.size() / 10);
            for (int from = 0; from < records.size(); from += batch) {
                KafkaTestSupport.send(producer, records.subList(from, Math.min(records.size(), from + batch)));
                Thread.sleep(25);
            }
            for (int i = 0; i < MAX_FEED_BATCHES && feed.get(); i++) {
                KafkaTestSupport.send(producer, randomRecords(fill, topics, 1, model));
                Thread.sleep(25);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            produceFailure = e;
        }
    }

    private static String listing(Path checkpoints) throws IOException {
        if (!Files.isDirectory(checkpoints)) {
            return "[]";
        }
        List<String> names = new ArrayList<>();
        File[] files = checkpoints.toFile().listFiles();
        if (files != null) {
            for (File f : files) {
                names.add(f.getName().replace("checkpoint-0000000000000000", "c"));
            }
        }
        names.sort(null);
        return names.toString();
    }
}
