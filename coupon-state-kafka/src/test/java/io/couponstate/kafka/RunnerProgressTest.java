package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.CouponConsumerRunner.State;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What a watcher reads from {@link RunnerMetrics}: the phase, the recent rate, the ETA. No broker. */
@Timeout(120)
class RunnerProgressTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final TopicPartition T0 = new TopicPartition("t1", 0);

    private static RunnerMetrics metrics(State state, long lag, double recentRate) {
        EnumMap<InvalidRecordReason, Long> invalid = new EnumMap<>(InvalidRecordReason.class);
        for (InvalidRecordReason r : InvalidRecordReason.values()) {
            invalid.put(r, 0L);
        }
        return new RunnerMetrics(state, 0, 0, 0, invalid, 0, 0, lag, 0, 0, 0, true, OptionalLong.empty(),
                Optional.empty(), Optional.empty(), RunnerPhase.of(state, false), 10, 40, 5e6, recentRate);
    }

    @Test
    void etaSeconds_isLagOverTheRecentRate_roundedUp_andEmptyWhenEitherIsUnknown() {
        assertThat(metrics(State.RUNNING, 1_000, 300).etaSeconds()).hasValue(4);
        assertThat(metrics(State.RUNNING, 900, 300).etaSeconds()).hasValue(3);
        assertThat(metrics(State.RUNNING, 0, 0).etaSeconds()).as("nothing left").hasValue(0);
        assertThat(metrics(State.RUNNING, -1, 300).etaSeconds()).as("lag unknown").isEmpty();
        assertThat(metrics(State.RUNNING, 5, 0).etaSeconds()).as("no rate yet").isEmpty();
        RunnerMetrics m = metrics(State.STARTING, -1, 0);
        assertThat(m.phase()).isEqualTo(RunnerPhase.RESTORING);
        assertThat(m.restoredBytes()).isEqualTo(10);
        assertThat(m.restoreTotalBytes()).isEqualTo(40);
        assertThat(m.restoreBytesPerSecond()).isEqualTo(5e6);
        assertThat(m.toString()).contains("phase RESTORING").contains("restored 10 of 40 bytes");
        assertThat(metrics(State.RUNNING, 1_000, 300).toString()).contains("phase CATCHING_UP").contains("ETA 4 s");
    }

    @Test
    void phase_mapsEveryState_andRunningSplitsOnCaughtUp() {
        assertThat(RunnerPhase.of(State.CREATED, true)).isEqualTo(RunnerPhase.CREATED);
        assertThat(RunnerPhase.of(State.STARTING, true)).isEqualTo(RunnerPhase.RESTORING);
        assertThat(RunnerPhase.of(State.RUNNING, false)).isEqualTo(RunnerPhase.CATCHING_UP);
        assertThat(RunnerPhase.of(State.RUNNING, true)).isEqualTo(RunnerPhase.UP);
        assertThat(RunnerPhase.of(State.PENDING_SHUTDOWN, true)).isEqualTo(RunnerPhase.PENDING_SHUTDOWN);
        assertThat(RunnerPhase.of(State.STOPPED, true)).isEqualTo(RunnerPhase.STOPPED);
        assertThat(RunnerPhase.of(State.FAILED, true)).isEqualTo(RunnerPhase.FAILED);
    }

    @Test
    void theCountersOnlyConstructor_derivesThePhaseFromTheLag() {
        EnumMap<InvalidRecordReason, Long> invalid = new EnumMap<>(InvalidRecordReason.class);
        RunnerMetrics up = new RunnerMetrics(State.RUNNING, 0, 0, 7, invalid, 0, 0, 0, 0, 0, 0, true,
                OptionalLong.empty(), Optional.empty(), Optional.empty());
        assertThat(up.phase()).isEqualTo(RunnerPhase.UP);
        assertThat(up.recentRecordsPerSecond()).isEqualTo(7);
        RunnerMetrics behind = new RunnerMetrics(State.RUNNING, 0, 0, 7, invalid, 0, 0, 3, 0, 0, 0, true,
                OptionalLong.empty(), Optional.empty(), Optional.empty());
        assertThat(behind.phase()).isEqualTo(RunnerPhase.CATCHING_UP);
        assertThat(behind.restoreTotalBytes()).isZero();
    }

    @Test
    void aRunner_isCatchingUpUntilItReachesTheEndOffsets_thenStaysUp_andMetersTheRecentRate() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        synchronized (kafka.consumer) {
            kafka.consumer.updateEndOffsets(java.util.Map.of(T0, 4L)); // a backlog of 4 at assignment, fed below
        }
        CouponConsumerRunnerLoopTest.PollThreadClock clock = new CouponConsumerRunnerLoopTest.PollThreadClock();
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1"), new StripedLockCouponState()).clock(clock)
                .build()) {
            assertThat(runner.metrics().phase()).isEqualTo(RunnerPhase.CREATED);
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
            assertThat(runner.metrics().phase()).as("assigned, nothing applied of the 4").isEqualTo(
                    RunnerPhase.CATCHING_UP);
            kafka.append(T0, "GOODCODE1", "GOODCODE2", "GOODCODE3", "GOODCODE4");
            await().atMost(WAIT).until(() -> runner.metrics().phase() == RunnerPhase.UP);
            assertThat(runner.appliedPositions()).as("UP: the backlog found at assignment is applied")
                    .containsEntry(T0, 4L);
            assertThat(runner.metrics().restoreTotalBytes()).as("no checkpoint directory").isZero();

            clock.advanceAndAwaitTurns(Duration.ofSeconds(1));
            assertThat(runner.metrics().recentRecordsPerSecond()).as("4 records in the first second").isEqualTo(4);
            kafka.append(T0, "GOODCODE5", "GOODCODE6");
            await().atMost(WAIT).until(() -> runner.appliedPositions().get(T0) == 6L);
            clock.advanceAndAwaitTurns(Duration.ofMillis(500));
            assertThat(runner.metrics().phase()).as("sticky: records after UP do not undo it")
                    .isEqualTo(RunnerPhase.UP);
            clock.advanceAndAwaitTurns(Duration.ofMillis(500));
            assertThat(runner.metrics().recentRecordsPerSecond()).as("2 records in the next second").isEqualTo(2);
        }
    }

    @Test
    void aRunnerWithNothingAssigned_isNeverUp() throws Exception {
        MockKafka kafka = new MockKafka(); // no topic: nothing to assign
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1"), new StripedLockCouponState())
                .allowMissingTopics(true).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.runnerState() == State.RUNNING);
            assertThat(runner.metrics().phase()).isEqualTo(RunnerPhase.CATCHING_UP);
            assertThat(runner.metrics().etaSeconds()).as("lag unknown").isEmpty();
        }

    }
}
