package io.couponstate.kafka;

import static io.couponstate.kafka.KafkaTestSupport.assertMatches;
import static io.couponstate.kafka.KafkaTestSupport.createTopics;
import static io.couponstate.kafka.KafkaTestSupport.endOffsets;
import static io.couponstate.kafka.KafkaTestSupport.produce;
import static io.couponstate.kafka.KafkaTestSupport.randomRecords;
import static io.couponstate.kafka.KafkaTestSupport.runner;
import static io.couponstate.kafka.KafkaTestSupport.topicNames;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.KafkaTestSupport.Model;
import io.couponstate.kafka.internal.checkpoint.ChainRestore;
import io.couponstate.kafka.internal.checkpoint.CheckpointDirectory;
import io.couponstate.kafka.internal.checkpoint.CheckpointFormat;
import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A runner over a state with a change journal checkpoints in deltas; a restart restores the base and its deltas and
 * replays the tail, exactly, also when a delta in the middle of the chain is damaged. Seed: {@code
 * -Dcouponstate.seed}.
 */
@Tag("integration")
class IncrementalCheckpointIntegrationTest {

    private static final long SEED = Long.getLong("couponstate.seed", System.nanoTime());
    private static final Duration WAIT = Duration.ofSeconds(120);

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    Path dir;

    @BeforeAll
    static void printSeed() {
        System.out.println("IncrementalCheckpointIntegrationTest seed: " + SEED + " (-Dcouponstate.seed=" + SEED
                + ")");
    }

    /**
     * Runs a runner over several produced chunks, each waited for until a checkpoint covers it, so that the
     * directory holds a base and at least {@code deltas} deltas; returns the checkpoint files.
     */
    private TreeMap<Long, Path> checkpointInChunks(String bootstrap, List<String> topics, Path checkpoints,
            Random random, Model model, int deltas) throws Exception {
        try (CouponConsumerRunner runner = runner(bootstrap, topics, CrashChildMain.journaledState()).checkpointDirectory(checkpoints)
                .baseRolloverFraction(100).build()) {
            runner.start();
            for (int chunk = 0; chunk <= deltas; chunk++) {
                produce(bootstrap, randomRecords(random, topics, 150, model));
                long end = sum(endOffsets(bootstrap, topics));
                await().atMost(WAIT).ignoreExceptions().until(() -> {
                    TreeMap<Long, Path> files = CheckpointDirectory.list(checkpoints);
                    return !files.isEmpty()
                            && sum(CheckpointFormat.decode(files.lastEntry().getValue()).offsets()) == end;
                });
            }
        }
        TreeMap<Long, Path> files = CheckpointDirectory.list(checkpoints);
        assertThat(CheckpointFormat.decode(files.firstEntry().getValue()).isDelta()).as("the chain starts with a base " + files)
                .isFalse();
        assertThat(deltas(files)).as("deltas among " + files).hasSizeGreaterThanOrEqualTo(deltas);
        return files;
    }

    private static List<Long> deltas(TreeMap<Long, Path> files) throws IOException {
        List<Long> out = new ArrayList<>();
        for (Map.Entry<Long, Path> e : files.entrySet()) {
            if (CheckpointFormat.decode(e.getValue()).isDelta()) {
                out.add(e.getKey());
            }
        }
        return out;
    }

    private static long sum(Map<TopicPartition, Long> offsets) {
        return offsets.values().stream().mapToLong(Long::longValue).sum();
    }

    @Test
    void aChainOfDeltas_restoresExactly_andTheTailIsReplayed() throws Exception {
        String bootstrap = KAFKA.bootstrapServers();
        List<String> topics = topicNames("incr", 3);
        createTopics(bootstrap, topics, 2);
        Random random = new Random(SEED);
        Model model = new Model();
        Path checkpoints = dir.resolve("checkpoints");
        TreeMap<Long, Path> files = checkpointInChunks(bootstrap, topics, checkpoints, random, model, 3);
        assertThat(CheckpointFormat.decode(files.lastEntry().getValue()).isDelta()).isTrue();

        produce(bootstrap, randomRecords(random, topics, 100, model)); // the tail, after the last checkpoint
        StripedLockCouponState state = CrashChildMain.journaledState();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state).checkpointDirectory(checkpoints)
                .baseRolloverFraction(100).build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertThat(runner.metrics().restoredCheckpointSequence()).as("restored up to the newest delta")
                    .isEqualTo(files.lastKey());
            assertMatches(state, model);
            // the restored state continues the chain: its next checkpoint is a delta of the same base
            produce(bootstrap, randomRecords(random, topics, 20, model));
            long end = sum(endOffsets(bootstrap, topics));
            await().atMost(WAIT).ignoreExceptions().until(() -> {
                TreeMap<Long, Path> now = CheckpointDirectory.list(checkpoints);
                return sum(CheckpointFormat.decode(now.lastEntry().getValue()).offsets()) == end;
            });
            TreeMap<Long, Path> now = CheckpointDirectory.list(checkpoints);
            assertThat(now.firstKey()).as("the same base").isEqualTo(files.firstKey());
            assertThat(CheckpointFormat.decode(now.lastEntry().getValue()).isDelta()).isTrue();
            assertMatches(state, model);
        }
    }

    @Test
    void aDamagedDelta_endsTheChainThere_andTheReplayFromItsOffsetsEndsExact() throws Exception {
        String bootstrap = KAFKA.bootstrapServers();
        List<String> topics = topicNames("incrbad", 3);
        createTopics(bootstrap, topics, 2);
        Random random = new Random(SEED + 1);
        Model model = new Model();
        Path checkpoints = dir.resolve("checkpoints");
        TreeMap<Long, Path> files = checkpointInChunks(bootstrap, topics, checkpoints, random, model, 3);
        List<Long> deltas = deltas(files);
        long damaged = deltas.get(deltas.size() - 2); // a delta with a later one after it
        long lastGood = files.lowerKey(damaged);
        Path file = files.get(damaged);
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 6] ^= 0x55; // in its trailer
        Files.write(file, bytes);

        produce(bootstrap, randomRecords(random, topics, 100, model));
        StripedLockCouponState state = CrashChildMain.journaledState();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state).checkpointDirectory(checkpoints)
                .baseRolloverFraction(100).build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertThat(runner.metrics().restoredCheckpointSequence()).as("the chain ends before the damaged delta")
                    .isEqualTo(lastGood);
            assertMatches(state, model);
        }
        assertThat(Files.exists(checkpoints.resolve(file.getFileName() + ".corrupt"))).isTrue();
    }
}
