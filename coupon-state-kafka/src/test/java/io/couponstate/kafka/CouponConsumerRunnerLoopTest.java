package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.CouponConsumerRunner.State;
import io.couponstate.kafka.internal.checkpoint.ChainRestore;
import io.couponstate.kafka.internal.checkpoint.CheckpointDirectory;
import io.couponstate.kafka.internal.checkpoint.CheckpointFormat;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The poll loop over a MockConsumer: positions, retries, failures, the state machine. No broker. */
@Timeout(120)
class CouponConsumerRunnerLoopTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final TopicPartition T0 = new TopicPartition("t1", 0);

    @TempDir
    Path dir;

    @Test
    void progressLine_anIdleRunnerSaysSoOnce_thenStaysQuietUntilRecordsArrive() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        PollThreadClock clock = new PollThreadClock();
        List<String> lines = new CopyOnWriteArrayList<>();
        Duration interval = Duration.ofSeconds(30);
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1"), new StripedLockCouponState())
                .progressLogInterval(interval).clock(clock).progressSink(lines::add).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
            kafka.append(T0, "GOODCODE1", "GOODCODE2");
            await().atMost(WAIT).until(() -> runner.appliedPositions().get(T0) == 2L);

            clock.advanceAndAwaitTurns(interval);
            assertThat(lines).as("records in the interval: a line").hasSize(1);
            clock.advanceAndAwaitTurns(interval);
            assertThat(lines).as("the first idle interval: one line saying so").hasSize(2);
            for (int i = 0; i < 5; i++) {
                clock.advanceAndAwaitTurns(interval);
            }
            assertThat(lines).as("further idle intervals: quiet").hasSize(2);

            kafka.append(T0, "GOODCODE3");
            await().atMost(WAIT).until(() -> runner.appliedPositions().get(T0) == 3L);
            clock.advanceAndAwaitTurns(interval);
            assertThat(lines).as("records again: a line").hasSize(3);
            assertThat(lines.get(2)).contains("consumed 3");
        }
    }

    /**
     * A clock that moves only when told, counting the poll thread's reads: each loop turn reads it first, so three
     * reads after a move mean a whole turn ran with the new time.
     */
    static final class PollThreadClock extends MutableClock {
        private final java.util.concurrent.atomic.AtomicLong pollReads = new java.util.concurrent.atomic.AtomicLong();

        void advanceAndAwaitTurns(Duration d) {
            long before = pollReads.get();
            advance(d);
            await().atMost(WAIT).until(() -> pollReads.get() >= before + 3);
        }

        @Override
        public long millis() {
            if (Thread.currentThread().getName().startsWith("coupon-runner-poll-")) {
                pollReads.incrementAndGet();
            }
            return super.millis();
        }
    }

    @Test
    void positionsAdvanceOnlyOverAppliedRecords_andAHandlersRetriableExceptionFailsTheRunner() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        StripedLockCouponState state = new StripedLockCouponState();
        TimeoutException thrown = new TimeoutException("dead-letter send timed out");
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1"), state)
                .invalidRecordHandler((record, reason) -> {
                    throw thrown; // retriable by type, but a user callback's failure: never retried past
                }).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
            kafka.append(T0, "GOODCODE1", "GOODCODE2");
            await().atMost(WAIT).until(() -> runner.appliedPositions().get(T0) == 2L);
            kafka.append(T0, "BAD", "GOODCODE3", "GOODCODE4"); // one poll returns all three
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
            assertThat(runner.failureCause()).containsSame(thrown);
            assertThat(runner.appliedPositions()).containsEntry(T0, 2L);
            assertThat(state.observationCount("GOODCODE2")).isEqualTo(1);
            assertThat(state.observationCount("GOODCODE3")).isZero();
        }
    }

    @Test
    void aSourceResolversRetriableException_failsTheRunner() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1"), new StripedLockCouponState())
                .sourceResolver((record, s) -> {
                    throw new TimeoutException("lookup service timed out");
                }).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
            kafka.append(T0, "GOODCODE1");
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
            assertThat(runner.failureCause()).get().extracting(Throwable::getMessage)
                    .isEqualTo("lookup service timed out");
            assertThat(runner.appliedPositions()).containsEntry(T0, 0L);
        }
    }

    @Test
    void aRetriableErrorFromPoll_isRetried_andNothingIsLost() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1"), state).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
            synchronized (kafka.consumer) {
                kafka.consumer.setPollException(new TimeoutException("injected: fetch timed out"));
                kafka.append(T0, "AFTERPOLL1");
            }
            await().atMost(WAIT).until(() -> state.observationCount("AFTERPOLL1") == 1);
            assertThat(runner.runnerState()).isEqualTo(State.RUNNING);
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertThat(runner.appliedPositions()).containsEntry(T0, 1L);
        }
    }

    @Test
    void failingEndOffsetRequests_neverStopPolling() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1"), state).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
            kafka.consumer.failEndOffsets = true;
            kafka.cluster.fail = true;
            kafka.topic("t1", 2); // a new partition whose discovery needs end offsets: retried, not fatal
            kafka.append(T0, "WHILEFAIL1");
            await().atMost(WAIT).until(() -> state.observationCount("WHILEFAIL1") == 1);
            assertThat(runner.awaitCaughtUp(Duration.ofMillis(300))).as("no end offsets, no answer").isFalse();
            kafka.append(T0, "WHILEFAIL2");
            await().atMost(WAIT).until(() -> state.observationCount("WHILEFAIL2") == 1);
            assertThat(runner.runnerState()).isEqualTo(State.RUNNING);
            assertThat(runner.assignedPartitions()).containsExactly(T0);

            kafka.consumer.failEndOffsets = false;
            kafka.cluster.fail = false;
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 2);
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertThat(runner.appliedPositions()).containsEntry(T0, 2L);
        }
    }

    @Test
    void stateMoves_areReportedToTheListener_inOrder() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        List<String> moves = new CopyOnWriteArrayList<>();
        CouponConsumerRunner runner = kafka.runner(List.of("t1"), new StripedLockCouponState())
                .stateListener((newState, oldState) -> moves.add(oldState + "->" + newState)).build();
        runner.start();
        await().atMost(WAIT).until(() -> runner.runnerState() == State.RUNNING);
        runner.close();
        assertThat(moves).containsExactly("CREATED->STARTING", "STARTING->RUNNING", "RUNNING->PENDING_SHUTDOWN",
                "PENDING_SHUTDOWN->STOPPED");
        runner.close(); // idempotent: no further move
        assertThat(moves).hasSize(4);
    }

    @Test
    void aFailure_isReportedAsTheLastMove() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        List<String> moves = new CopyOnWriteArrayList<>();
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1"), new StripedLockCouponState())
                .invalidRecordHandler((record, reason) -> {
                    throw new IllegalStateException("handler down");
                })
                .stateListener((newState, oldState) -> moves.add(oldState + "->" + newState)).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
            kafka.append(T0, "BAD");
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
        }
        assertThat(moves).containsExactly("CREATED->STARTING", "STARTING->RUNNING", "RUNNING->FAILED");
    }

    @Test
    void anIllegalMove_throws_andIsNotReported() {
        List<String> moves = new CopyOnWriteArrayList<>();
        CouponConsumerRunner runner = new MockKafka().topic("t1", 1).runner(List.of("t1"),
                new StripedLockCouponState()).stateListener((n, o) -> moves.add(o + "->" + n)).build();
        assertThatThrownBy(() -> runner.setState(State.RUNNING)).isInstanceOf(IllegalStateException.class)
                .hasMessageEndingWith("illegal state move CREATED -> RUNNING");
        assertThat(runner.runnerState()).isEqualTo(State.CREATED);
        assertThat(moves).isEmpty();
        runner.close();
        assertThatThrownBy(() -> runner.setState(State.STARTING)).isInstanceOf(IllegalStateException.class)
                .hasMessageEndingWith("illegal state move STOPPED -> STARTING");
        assertThat(moves).containsExactly("CREATED->PENDING_SHUTDOWN", "PENDING_SHUTDOWN->STOPPED");
    }

    @Test
    void aMissingTopic_failsTheRunner_namingIt() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1", "t9"), new StripedLockCouponState())
                .build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
            assertThat(runner.failureCause()).get().extracting(Throwable::getMessage).asString()
                    .startsWith("topics not found: [t9]");
            assertThat(runner.assignedPartitions()).isEmpty();
        }
    }

    @Test
    void allowMissingTopics_startsWithout_andPicksTheTopicUpOnceCreated() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1", "t9"), state).allowMissingTopics(true)
                .build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
            assertThat(runner.runnerState()).isEqualTo(State.RUNNING);
            kafka.topic("t9", 1);
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 2);
            kafka.append(new TopicPartition("t9", 0), "LATETOPIC");
            await().atMost(WAIT).until(() -> state.observationCount("LATETOPIC") == 1);
        }
    }

    @Test
    void moreTopicsThanMaxSources_failsAtStart_namingBothNumbers() {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        StripedLockCouponState state = new StripedLockCouponState(CouponStateConfig.builder().maxSources(2).build());
        CouponConsumerRunner runner = kafka.runner(List.of("a", "b", "c"), state).build();
        assertThatThrownBy(runner::start).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("needs 3 sources").hasMessageContaining("maxSources is 2");
        assertThat(runner.runnerState()).isEqualTo(State.FAILED);
        assertThat(runner.failureCause()).get().extracting(Throwable::getMessage).asString()
                .contains("needs 3 sources");
        runner.close();
        assertThat(runner.runnerState()).isEqualTo(State.FAILED);
    }

    @Test
    void aRecordNeedingOneSourceMore_failsTheRunner_andIsNotMarkedApplied() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        StripedLockCouponState state = new StripedLockCouponState(CouponStateConfig.builder().maxSources(2).build());
        state.sourceId("x");
        state.sourceId("y");
        // a resolver that knows no sources up front, so nothing is checked before the record comes
        SourceResolver byTopic = (record, s) -> {
            try {
                return s.sourceId(record.topic());
            } catch (IllegalStateException e) {
                return SourceResolver.SOURCE_LIMIT;
            }
        };
        try (CouponConsumerRunner runner = kafka.runner(List.of("t1"), state).sourceResolver(byTopic).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
            kafka.append(T0, "NEEDSMORE");
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
            assertThat(runner.failureCause()).get().extracting(Throwable::getMessage).asString()
                    .contains("record t1-0@0 needs one source more than the state's maxSources (2)");
            assertThat(runner.appliedPositions()).containsEntry(T0, 0L);
        }
    }

    @Test
    void aWakeupPendingOutsidePoll_doesNotSkipTheFinalCheckpointOrItsCommit() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        kafka.consumer.wakeupOutsidePoll = true;
        AtomicReference<CouponConsumerRunner> ref = new AtomicReference<>();
        try {
            CouponConsumerRunner runner = kafka.runner(List.of("t1"), new StripedLockCouponState()).groupId("g")
                    .checkpointDirectory(dir)
                    .checkpointHook((tmp, target) -> {
                        // the first checkpoint is still in flight when close() comes
                        await().atMost(WAIT).until(() -> ref.get().runnerState() == State.PENDING_SHUTDOWN);
                    }).build();
            ref.set(runner);
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
            kafka.append(T0, "FIRSTCODE");
            await().atMost(WAIT).until(() -> runner.appliedPositions().get(T0) == 1L);
            kafka.append(T0, "SECONDCODE");
            await().atMost(WAIT).until(() -> runner.appliedPositions().get(T0) == 2L);
            runner.close();
            assertThat(runner.runnerState()).isEqualTo(State.STOPPED);
            Map<Long, Path> files = CheckpointDirectory.list(dir);
            Path newest = ((java.util.TreeMap<Long, Path>) files).lastEntry().getValue();
            assertThat(ChainRestore.readOne(newest, new StripedLockCouponState()).offsets()).containsEntry(T0, 2L);
            assertThat(kafka.consumer.commits).containsEntry(T0, 2L);
        } finally {
            ref.get().close(); // idempotent: stops the runner if an assertion failed before its close
        }
    }

    @Test
    void close_waitsForTheFinalCheckpoint_howeverLongItTakes() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        CouponConsumerRunner runner = kafka.runner(List.of("t1"), new StripedLockCouponState())
                .checkpointInterval(Duration.ofHours(1)).checkpointDirectory(dir)
                .checkpointHook((tmp, target) -> {
                    entered.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }).build();
        try {
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
            kafka.append(T0, "FINALCODE");
            await().atMost(WAIT).until(() -> runner.appliedPositions().get(T0) == 1L);
            Thread closer = new Thread(runner::close, "closer");
            closer.start();
            assertThat(entered.await(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            // the final checkpoint hangs between fsync and rename: close() must still be waiting for it
            assertThat(closer.isAlive()).isTrue();
            assertThat(runner.runnerState()).isEqualTo(State.PENDING_SHUTDOWN);
            release.countDown();
            closer.join(WAIT.toMillis());
            assertThat(closer.isAlive()).isFalse();
            assertThat(runner.runnerState()).isEqualTo(State.STOPPED);
            assertThat(ChainRestore.readOne(CheckpointDirectory.list(dir).lastEntry().getValue(),
                    new StripedLockCouponState()).offsets()).containsEntry(T0, 1L);
        } finally {
            release.countDown();
        }
    }

    @Test
    void aFailedDeadLetterFlush_isACheckpointFailure_inTheMetrics_andFailsTheFinalCheckpoint() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        InvalidRecordHandler flushFails = new InvalidRecordHandler() {
            @Override
            public void handle(org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]> record,
                    InvalidRecordReason reason) {
            }

            @Override
            public void flush() {
                throw new IllegalStateException("dead-letter topic unreachable");
            }
        };
        CouponConsumerRunner runner = kafka.runner(List.of("t1"), new StripedLockCouponState())
                .invalidRecordHandler(flushFails).checkpointDirectory(dir).build();
        runner.start();
        await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
        kafka.append(T0, "bad", "GOODCODE1");
        await().atMost(WAIT).until(() -> !runner.metrics().durable());
        assertThat(runner.metrics().lastCheckpointFailure()).get().asString()
                .contains("dead-letter topic unreachable");
        assertThat(CheckpointDirectory.list(dir)).isEmpty();
        runner.close();
        assertThat(runner.runnerState()).isEqualTo(State.FAILED);
        assertThat(runner.failureCause()).get().extracting(Throwable::getMessage)
                .isEqualTo("dead-letter topic unreachable");
    }

    @Test
    void aSecondRunnerOnALockedCheckpointDirectory_failsAtStart_namingIt() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        try (CouponConsumerRunner first = kafka.runner(List.of("t1"), new StripedLockCouponState())
                .checkpointDirectory(dir).build()) {
            first.start();
            await().atMost(WAIT).until(() -> first.runnerState() == State.RUNNING);
            CouponConsumerRunner second = new MockKafka().topic("t1", 1).runner(List.of("t1"),
                    new StripedLockCouponState()).checkpointDirectory(dir).build();
            assertThatThrownBy(second::start).isInstanceOf(CheckpointDirectoryLockedException.class)
                    .hasMessageContaining(dir.toAbsolutePath().toString());
            assertThat(second.runnerState()).isEqualTo(State.FAILED);
            second.close();
            assertThat(first.runnerState()).isEqualTo(State.RUNNING);
        }
        // released on close: a new runner may take the directory
        MockKafka again = new MockKafka(); // the same topic (same id) behind a fresh consumer
        again.cluster.ids.put("t1", kafka.cluster.ids.get("t1"));
        again.topic("t1", 1);
        try (CouponConsumerRunner third = again.runner(List.of("t1"), new StripedLockCouponState())
                .checkpointDirectory(dir).build()) {
            third.start();
            await().atMost(WAIT).until(() -> third.runnerState() == State.RUNNING);
        }
    }

    @Test
    void withoutACheckpointDirectory_closeStillFlushesTheHandler_andAFailedFlushEndsFailed() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        java.util.concurrent.atomic.AtomicInteger flushes = new java.util.concurrent.atomic.AtomicInteger();
        InvalidRecordHandler handler = new InvalidRecordHandler() {
            @Override
            public void handle(org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]> record,
                    InvalidRecordReason reason) {
            }

            @Override
            public void flush() {
                flushes.incrementAndGet();
                throw new IllegalStateException("dead letter lost: send failed");
            }
        };
        CouponConsumerRunner runner = kafka.runner(List.of("t1"), new StripedLockCouponState())
                .invalidRecordHandler(handler).build();
        runner.start();
        await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
        kafka.append(T0, "bad");
        await().atMost(WAIT).until(() -> runner.appliedPositions().get(T0) == 1L);
        runner.close();
        assertThat(flushes).hasValue(1);
        assertThat(runner.runnerState()).isEqualTo(State.FAILED);
        assertThat(runner.failureCause()).get().extracting(Throwable::getMessage)
                .isEqualTo("dead letter lost: send failed");
    }

    @Test
    void aHandlerWhoseCloseThrows_endsAClosingRunnerFailed() throws Exception {
        MockKafka kafka = new MockKafka().topic("t1", 1);
        InvalidRecordHandler handler = new InvalidRecordHandler() {
            @Override
            public void handle(org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]> record,
                    InvalidRecordReason reason) {
            }

            @Override
            public void close() {
                throw new IllegalStateException("2 dead letters not delivered");
            }
        };
        CouponConsumerRunner runner = kafka.runner(List.of("t1"), new StripedLockCouponState())
                .invalidRecordHandler(handler).checkpointDirectory(dir).build();
        runner.start();
        await().atMost(WAIT).until(() -> runner.runnerState() == State.RUNNING);
        runner.close();
        assertThat(runner.runnerState()).isEqualTo(State.FAILED);
        assertThat(runner.failureCause()).get().extracting(Throwable::getMessage)
                .isEqualTo("2 dead letters not delivered");
    }
}
