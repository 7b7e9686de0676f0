package io.couponstate.kafka;

import static io.couponstate.kafka.KafkaTestSupport.assertMatches;
import static io.couponstate.kafka.KafkaTestSupport.createTopics;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** A restart with a checkpoint and a backlog goes RESTORING, CATCHING_UP, UP, with the restore progress exact. */
@Tag("integration")
class RunnerProgressIntegrationTest {

    private static final long SEED = Long.getLong("couponstate.seed", System.nanoTime());
    private static final Duration WAIT = Duration.ofSeconds(120);

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    Path dir;

    @Test
    void aRestartWithACheckpointAndABacklog_goesRestoringCatchingUpUp() throws Exception {
        System.out.println("RunnerProgressIntegrationTest seed: " + SEED + " (-Dcouponstate.seed=" + SEED + ")");
        String bootstrap = KAFKA.bootstrapServers();
        List<String> topics = topicNames("progress", 2);
        createTopics(bootstrap, topics, 2);
        Random random = new Random(SEED);
        Model model = new Model();
        Path checkpoints = dir.resolve("checkpoints");
        produce(bootstrap, randomRecords(random, topics, 300, model));
        try (CouponConsumerRunner first = runner(bootstrap, topics, CrashChildMain.journaledState()).checkpointDirectory(checkpoints)
                .build()) {
            first.start();
            assertThat(first.awaitCaughtUp(WAIT)).isTrue();
        } // the final checkpoint covers everything so far
        long checkpointBytes = 0;
        for (Path f : CheckpointDirectory.list(checkpoints).values()) {
            checkpointBytes += Files.size(f);
        }
        assertThat(checkpointBytes).isPositive();
        produce(bootstrap, randomRecords(random, topics, 300, model)); // the backlog after the checkpoint

        List<RunnerMetrics> atMoves = new CopyOnWriteArrayList<>();
        AtomicReference<CouponConsumerRunner> self = new AtomicReference<>();
        StripedLockCouponState state = CrashChildMain.journaledState();
        // metrics() never blocks: safe from the listener, which sees each move as it happens
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state).checkpointDirectory(checkpoints)
                .stateListener((now, before) -> atMoves.add(self.get().metrics())).build()) {
            self.set(runner);
            assertThat(runner.metrics().phase()).isEqualTo(RunnerPhase.CREATED);
            runner.start();
            await().atMost(WAIT).until(() -> runner.metrics().phase() == RunnerPhase.UP);
            RunnerMetrics up = runner.metrics();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertMatches(state, model);

            assertThat(atMoves).extracting(RunnerMetrics::phase).as("the moves seen by the listener")
                    .containsExactly(RunnerPhase.RESTORING, RunnerPhase.CATCHING_UP);
            RunnerMetrics running = atMoves.get(1);
            assertThat(running.restoredBytes()).as("the restore read every checkpoint file").isEqualTo(
                    checkpointBytes);
            assertThat(running.restoreTotalBytes()).isEqualTo(checkpointBytes);
            assertThat(running.restoredCheckpointSequence()).isPositive();
            assertThat(up.recordsConsumed()).as("UP only once the backlog is applied").isEqualTo(600);
            assertThat(up.etaSeconds()).as("lag unknown or 0 by now, never a positive ETA with nothing left")
                    .satisfiesAnyOf(eta -> assertThat(eta).isEmpty(), eta -> assertThat(eta).hasValue(0));
        }
        assertThat(atMoves).extracting(RunnerMetrics::phase).as("then the close")
                .containsExactly(RunnerPhase.RESTORING, RunnerPhase.CATCHING_UP, RunnerPhase.PENDING_SHUTDOWN,
                        RunnerPhase.STOPPED);
    }
}
