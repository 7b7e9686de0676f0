package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.StripedLockCouponState;
import io.couponstate.core.internal.DurableFiles;
import io.couponstate.kafka.internal.checkpoint.ChainRestore;
import io.couponstate.kafka.internal.checkpoint.CheckpointDirectory;
import io.couponstate.kafka.internal.runner.Checkpointer;
import io.couponstate.kafka.internal.runner.RateLimitedLog;
import io.couponstate.kafka.internal.runner.RunnerSettings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class CheckpointerTest {

    private static final TopicPartition TP = new TopicPartition("t", 0);

    @TempDir
    Path dir;

    private final StripedLockCouponState state = new StripedLockCouponState();
    private Instant now = Instant.ofEpochMilli(1_000_000);
    private final Clock clock = new Clock() {
        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    };
    private final MockConsumer<byte[], byte[]> consumer = new MockConsumer<>("earliest");

    private static CouponCheckpoints hooked(Path dir, DurableFiles.BeforeRename hook) throws IOException {
        return CouponCheckpoints.open(dir, CouponCheckpoints.Options.defaults(), hook);
    }

    private Checkpointer checkpointer(CouponCheckpoints store) {
        RunnerSettings settings = RunnerSettings.builder().bootstrapServers("h:1").topics(List.of("t")).state(state)
                .groupId("g").clock(clock).checkpointInterval(java.time.Duration.ofSeconds(10)).build();
        return new Checkpointer(settings, store, new RateLimitedLog(LoggerFactory.getLogger(CheckpointerTest.class),
                clock, 3, 30_000));
    }

    @Test
    void cadence_followsTheClock_skipsUnchangedOffsets_andCommitsOnlyWhatIsDurable() throws Exception {
        consumer.assign(List.of(TP));
        try (Checkpointer cp = checkpointer(CouponCheckpoints.open(dir))) {
            Map<String, Uuid> ids = Map.of("t", Uuid.randomUuid());
            cp.maybeStart(clock.millis(), Map.of(TP, 5L), ids);
            cp.finish(consumer, List.of(TP), true);
            assertThat(cp.written()).as("interval not reached").isZero();
            now = now.plusSeconds(10);
            cp.maybeStart(clock.millis(), Map.of(TP, 5L), ids);
            cp.finish(consumer, List.of(TP), true);
            assertThat(cp.written()).isEqualTo(1);
            assertThat(cp.durable()).isTrue();
            assertThat(consumer.committed(java.util.Set.of(TP)).get(TP).offset()).isEqualTo(5L);
            assertThat(ChainRestore.readOne(CheckpointDirectory.list(dir).lastEntry().getValue(),
                    new StripedLockCouponState()).topicIds()).isEqualTo(ids);
            now = now.plusSeconds(10);
            cp.maybeStart(clock.millis(), Map.of(TP, 5L), ids);
            cp.finish(consumer, List.of(TP), true);
            assertThat(cp.written()).as("unchanged offsets write nothing").isEqualTo(1);
        }
    }

    @Test
    void aFailedWrite_showsAsNotDurable_untilALaterOneSucceeds() throws Exception {
        AtomicBoolean failing = new AtomicBoolean(true);
        DurableFiles.BeforeRename hook = (tmp, target) -> {
            if (failing.get()) {
                throw new UncheckedIOException(new IOException("No space left on device"));
            }
        };
        try (Checkpointer cp = checkpointer(hooked(dir, hook))) {
            now = now.plusSeconds(10);
            cp.maybeStart(clock.millis(), Map.of(TP, 1L), Map.of());
            cp.finish(consumer, List.of(TP), true);
            assertThat(cp.durable()).isFalse();
            assertThat(cp.failures()).isEqualTo(1);
            assertThat(cp.lastFailure()).get().asString().contains("No space left on device");
            assertThat(cp.lastDurableAtMillis()).isEqualTo(-1);
            failing.set(false);
            now = now.plusSeconds(10);
            cp.maybeStart(clock.millis(), Map.of(TP, 1L), Map.of());
            cp.finish(consumer, List.of(TP), true);
            assertThat(cp.durable()).isTrue();
            assertThat(cp.lastFailure()).isEmpty();
            assertThat(cp.lastDurableAtMillis()).isEqualTo(clock.millis());
        }
    }

    @Test
    void aFailedFinalCheckpoint_isThrown() throws Exception {
        DurableFiles.BeforeRename hook = (tmp, target) -> {
            throw new UncheckedIOException(new IOException("No space left on device"));
        };
        try (Checkpointer cp = checkpointer(hooked(dir, hook))) {
            assertThatThrownBy(() -> cp.finalCheckpoint(consumer, List.of(TP), Map.of(TP, 3L), Map.of()))
                    .hasMessageContaining("No space left on device");
            assertThat(cp.durable()).isFalse();
        }
    }

    @Test
    void withoutAStore_nothingIsWrittenOrCommitted() throws Exception {
        try (Checkpointer cp = checkpointer(null)) {
            now = now.plusSeconds(10);
            cp.maybeStart(clock.millis(), Map.of(TP, 1L), Map.of());
            cp.finalCheckpoint(consumer, List.of(TP), Map.of(TP, 1L), Map.of());
            assertThat(cp.written()).isZero();
            assertThat(cp.durable()).isTrue();
            assertThat(cp.restore()).isEmpty();
        }
    }

    @Test
    void aCommitTheGroupRefuses_isLoggedAndRetriedAnIntervalLater_neverThrown() throws Exception {
        java.util.Deque<RuntimeException> refusals = new java.util.ArrayDeque<>(List.of(
                new org.apache.kafka.clients.consumer.CommitFailedException("group g has active members"),
                new org.apache.kafka.common.errors.RebalanceInProgressException("rebalancing"),
                new org.apache.kafka.common.errors.UnknownMemberIdException("unknown member")));
        MockConsumer<byte[], byte[]> refusing = new MockConsumer<>("earliest") {
            @Override
            public synchronized void commitSync(Map<TopicPartition,
                    org.apache.kafka.clients.consumer.OffsetAndMetadata> offsets, java.time.Duration timeout) {
                RuntimeException refusal = refusals.poll();
                if (refusal != null) {
                    throw refusal;
                }
                super.commitSync(offsets, timeout);
            }
        };
        refusing.assign(List.of(TP));
        try (Checkpointer cp = checkpointer(CouponCheckpoints.open(dir))) {
            now = now.plusSeconds(10);
            cp.maybeStart(clock.millis(), Map.of(TP, 7L), Map.of());
            cp.finish(refusing, List.of(TP), true);
            assertThat(cp.written()).isEqualTo(1);
            assertThat(cp.durable()).as("the checkpoint is durable; only the monitoring commit failed").isTrue();
            assertThat(cp.commitFailures()).isEqualTo(1);

            cp.finish(refusing, List.of(TP), false);
            assertThat(refusals).as("no retry before the interval").hasSize(2);
            now = now.plusSeconds(10);
            cp.finish(refusing, List.of(TP), false); // offsets unchanged: the retry, not a new checkpoint, commits
            assertThat(cp.commitFailures()).isEqualTo(2);
            now = now.plusSeconds(10);
            cp.finish(refusing, List.of(TP), false);
            assertThat(cp.commitFailures()).isEqualTo(3);
            now = now.plusSeconds(10);
            cp.finish(refusing, List.of(TP), false);

            assertThat(cp.commitFailures()).isZero();
            assertThat(refusing.committed(java.util.Set.of(TP)).get(TP).offset()).isEqualTo(7L);
            assertThat(cp.written()).isEqualTo(1);
        }
    }
}
