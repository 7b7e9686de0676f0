package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.CouponConsumerRunner.State;
import io.couponstate.kafka.internal.runner.ApplyStage;
import io.couponstate.kafka.internal.checkpoint.ChainRestore;
import io.couponstate.kafka.internal.checkpoint.CheckpointDirectory;
import io.couponstate.kafka.internal.checkpoint.CheckpointFormat;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The pipelined apply stage over a MockConsumer: a slow (blocked) apply stage never lets positions or checkpoints
 * pass unapplied records, the hand-off is bounded while poll() goes on, and an apply failure fails the runner.
 */
@Timeout(120)
class PipelinedApplyTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final TopicPartition T0 = new TopicPartition("t1", 0);
    private static final TopicPartition T1 = new TopicPartition("t1", 1);
    private static final TopicPartition U0 = new TopicPartition("t2", 0);

    @TempDir
    Path dir;

    /** A handler that blocks on {@code release} for the record "BAD", after counting down {@code entered}. */
    private static InvalidRecordHandler blockingOnBad(CountDownLatch entered, CountDownLatch release,
            List<String> handled) {
        return (record, reason) -> {
            String value = new String(record.value(), StandardCharsets.US_ASCII);
            handled.add(value + ":" + reason);
            if (value.equals("BAD")) {
                entered.countDown();
                try {
                    if (!release.await(2, TimeUnit.MINUTES)) {
                        throw new IllegalStateException("never released");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
        };
    }

    @ParameterizedTest(name = "applyThreads {0}")
    @ValueSource(ints = {1, 2})
    void aSlowApplyStage_neverLetsPositionsOrCheckpointsPassUnappliedRecords(int threads) throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 2);
        StripedLockCouponState state = new StripedLockCouponState();
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<String> handled = new CopyOnWriteArrayList<>();
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1", "t2"), state).applyThreads(threads)
                .allowMissingTopics(true)
                .invalidRecordHandler(blockingOnBad(entered, release, handled))
                .checkpointDirectory(dir).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 2);
            kafka.append(T0, "GOODCODE1", "GOODCODE2");
            kafka.append(T1, "GOODCODE5");
            await().atMost(WAIT).until(() -> runner.appliedPositions().equals(Map.of(T0, 2L, T1, 1L)));

            kafka.append(T0, "GOODCODE3", "BAD", "GOODCODE4"); // one batch; applying stops inside it
            assertThat(entered.await(2, TimeUnit.MINUTES)).isTrue();
            kafka.append(T1, "GOODCODE6"); // a later batch: polled, perhaps applied, but its position must wait
            await().atMost(WAIT).until(() -> kafka.consumer.polledRecords.get() == 7);
            if (threads > 1) {
                // T1 is another thread's: applied at once, yet its position waits for the batch before it
                await().atMost(WAIT).until(() -> state.observationCount("GOODCODE6") == 1);
            }
            assertThat(state.observationCount("GOODCODE3")).isEqualTo(1);
            assertThat(state.observationCount("GOODCODE4")).isZero();
            assertThat(runner.appliedPositions()).isEqualTo(Map.of(T0, 2L, T1, 1L));

            // a checkpoint written while the stage is blocked covers only what is applied: a topic created now is
            // found and assigned, which changes the offsets to checkpoint, so one is written during the block
            kafka.topic("t2", 1);
            AtomicReference<Map<TopicPartition, Long>> checkpointed = new AtomicReference<>();
            // exceptions ignored: retention may delete the file listed before it is read; the next one is read
            await().atMost(WAIT).ignoreExceptions().until(() -> {
                NavigableMap<Long, Path> files = CheckpointDirectory.list(dir);
                if (files.isEmpty()) {
                    return false;
                }
                checkpointed.set(ChainRestore.readOne(files.lastEntry().getValue(), new StripedLockCouponState())
                        .offsets());
                return checkpointed.get().containsKey(U0);
            });
            assertThat(checkpointed.get()).isEqualTo(Map.of(T0, 2L, T1, 1L, U0, 0L));
            assertThat(runner.appliedPositions()).isEqualTo(Map.of(T0, 2L, T1, 1L, U0, 0L));
            assertThat(state.observationCount("GOODCODE4")).isZero();

            release.countDown();
            await().atMost(WAIT).until(() -> runner.appliedPositions().equals(Map.of(T0, 5L, T1, 2L, U0, 0L)));
            for (String code : List.of("GOODCODE1", "GOODCODE2", "GOODCODE3", "GOODCODE4", "GOODCODE5",
                    "GOODCODE6")) {
                assertThat(state.observationCount(code)).as(code).isEqualTo(1);
            }
            assertThat(handled).containsExactly("BAD:" + InvalidRecordReason.TOO_SHORT);
            assertThat(runner.metrics().recordsConsumed()).isEqualTo(7);
        }
    }

    @Test
    void backPressure_aBlockedApplyStageBuffersAtMostTheBound_whilePollGoesOn() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        StripedLockCouponState state = new StripedLockCouponState();
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        int bound = ApplyStage.IN_FLIGHT_PER_THREAD; // batches in flight with one apply thread
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1"), state)
                .invalidRecordHandler(blockingOnBad(entered, release, new CopyOnWriteArrayList<>())).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
            kafka.append(T0, "BAD"); // batch 1: blocks the stage
            assertThat(entered.await(2, TimeUnit.MINUTES)).isTrue();
            long offered = 1;
            for (int batch = 2; batch <= bound + 3; batch++) {
                String[] codes = new String[10];
                for (int i = 0; i < codes.length; i++) {
                    codes[i] = String.format("CODE%02d%03d", batch, i);
                }
                kafka.append(T0, codes);
                offered += codes.length;
                long returnedBefore = kafka.consumer.polledRecords.get();
                if (batch <= bound) {
                    // room in the stage: the next poll takes this batch
                    await().atMost(WAIT).until(() -> kafka.consumer.polledRecords.get() == returnedBefore + 10);
                }
            }
            long inFlightLimit = 1 + 10L * (bound - 1);
            await().atMost(WAIT).until(() -> kafka.consumer.paused().contains(T0));
            long polls = kafka.consumer.polls.get();
            await().atMost(WAIT).until(() -> kafka.consumer.polls.get() >= polls + 20); // poll() goes on, paused
            assertThat(kafka.consumer.polledRecords.get()).isEqualTo(inFlightLimit);
            assertThat(kafka.consumer.paused()).containsExactly(T0);
            assertThat(runner.appliedPositions()).containsEntry(T0, 0L);
            assertThat(runner.runnerState()).isEqualTo(State.RUNNING);

            release.countDown();
            long all = offered;
            await().atMost(WAIT).until(() -> runner.appliedPositions().get(T0) == all);
            assertThat(kafka.consumer.paused()).isEmpty();
            assertThat(state.observationCount(String.format("CODE%02d%03d", bound + 3, 9))).isEqualTo(1);
            assertThat(runner.metrics().codesApplied()).isEqualTo(offered - 1);
        }
    }

    @Test
    void aFailureOnOneApplyThread_failsTheRunner_withItsCause_andPositionsStayBelowIt() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 2);
        StripedLockCouponState state = new StripedLockCouponState();
        IllegalStateException thrown = new IllegalStateException("dead letters unreachable");
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1"), state).applyThreads(2)
                .invalidRecordHandler((record, reason) -> {
                    throw thrown;
                }).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 2);
            kafka.append(T0, "GOODCODE1");
            kafka.append(T1, "GOODCODE2");
            await().atMost(WAIT).until(() -> runner.appliedPositions().equals(Map.of(T0, 1L, T1, 1L)));
            kafka.append(T1, "GOODCODE3", "BAD", "GOODCODE4");
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
            assertThat(runner.failureCause()).containsSame(thrown);
            assertThat(runner.appliedPositions()).containsEntry(T1, 1L);
            assertThat(state.observationCount("GOODCODE4")).isZero();
        }
    }

    @Test
    void applyThreads_outsideItsRange_isRejectedNamingTheRange() {
        int most = Runtime.getRuntime().availableProcessors() * 4;
        assertThatThrownBy(() -> CouponConsumerRunner.builder().applyThreads(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("applyThreads: 0 (expected: 1.." + most + ", at most 4 per available processor)");
        assertThatThrownBy(() -> CouponConsumerRunner.builder().applyThreads(most + 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("applyThreads: " + (most + 1) + " (expected: 1..");
        CouponConsumerRunner.builder().applyThreads(most); // the top of the range is fine
    }
}
