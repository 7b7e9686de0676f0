package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.StripedLockCouponState;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/** The names code outside this repository uses; this class must compile unchanged. */
class ApiSurfaceTest {

    /** The issue's block as written; compiled, never run (it would connect to 127.0.0.1:9092 over SSL). */
    @SuppressWarnings("unused")
    static void documentedUsage() throws Exception {
        try (CouponConsumerRunner runner = CouponConsumerRunner.builder()
                .bootstrapServers("127.0.0.1:9092")
                .groupId("coupon-state")
                .topics(List.of("couponbase1", "couponbase2", "couponbase3"))
                .state(new StripedLockCouponState())
                .checkpointDirectory(Path.of("state"))
                .consumerProperty("security.protocol", "SSL")
                .build()) {
            runner.start();
            boolean caughtUp = runner.awaitCaughtUp(Duration.ofMinutes(5));
            CouponState state = runner.state();
        }
    }

    /** The names the durability issue adds, as the examples and the README use them; compiled, never run. */
    @SuppressWarnings("unused")
    static void durabilityNames(CouponConsumerRunner.Builder builder) {
        CouponConsumerRunner runner = builder
                .stateListener((newState, oldState) -> { })
                .allowMissingTopics(true)
                .rebuildRecreatedTopics(true)
                .build();
        RunnerMetrics m = runner.metrics();
        boolean durable = m.durable();
        java.util.OptionalLong age = m.lastDurableCheckpointAgeMillis();
        java.util.Optional<String> failure = m.lastCheckpointFailure();
        java.util.Optional<String> problem = m.problem();
        StateListener listener = (CouponConsumerRunner.State newState, CouponConsumerRunner.State oldState) -> { };
    }

    /** Issue 12's names for the runner side of partitioned mode, as the serve and demo code uses them; compiled. */
    @SuppressWarnings("unused")
    static void partitionedRunnerNames(CouponConsumerRunner.Builder builder, PartitionedCouponState state) {
        CouponConsumerRunner runner = builder
                .mode(CouponConsumerRunner.Mode.PARTITIONED)
                .applicationEndpoint("127.0.0.1:8080")
                .membershipTopic("coupon-state-owners")
                .state(state)
                .build();
        CouponConsumerRunner.Mode mode = runner.mode();
        java.util.Optional<String> endpoint = runner.applicationEndpoint();
        java.util.Optional<String> owner = runner.ownerOf("BIRTHDAY");
        java.util.Map<Integer, ShardStatus> shards = runner.shards();
        ShardStatus status = shards.get(0);
        int partition = status.partition();
        boolean queryable = status.queryable();
        long lag = status.lag();
        CouponConsumerRunner.Mode[] modes = {CouponConsumerRunner.Mode.REPLICATED,
            CouponConsumerRunner.Mode.PARTITIONED};
        InvalidRecordReason wrong = InvalidRecordReason.WRONG_PARTITION;
    }

    /** Issue 21's public checkpoint API, as a consumer with its own KafkaConsumer loop uses it; compiled. */
    @SuppressWarnings("unused")
    static void checkpointNames(CouponState state, Map<TopicPartition, Long> positions) throws Exception {
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(Path.of("state"))) {
            Map<TopicPartition, Long> next = checkpoints.restore(state);
            checkpoints.write(state, positions);
        }
        CouponCheckpoints.Options options = CouponCheckpoints.Options.defaults()
                .baseRolloverFraction(CouponCheckpoints.DEFAULT_BASE_ROLLOVER_FRACTION)
                .restoreLog(line -> { });
        double fraction = options.baseRolloverFraction();
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(Path.of("state"), options)) {
            java.util.Optional<CouponCheckpoints.Restored> restored = checkpoints.restoreCheckpoint(state);
            CouponCheckpoints.Restored r = restored.orElseThrow();
            Map<TopicPartition, Long> offsets = r.offsets();
            Map<String, org.apache.kafka.common.Uuid> ids = r.topicIds();
            long sequence = r.sequence();
            long entries = r.entries();
            Path file = r.file();
            List<Path> files = r.files();
            CouponCheckpoints.Checkpoint written = checkpoints.write(state, positions, ids);
            boolean delta = written.delta();
            long bytes = written.bytes();
            long writtenSequence = written.sequence();
            Path writtenFile = written.file();
            Map<TopicPartition, Long> writtenOffsets = written.offsets();
            boolean fellBack = checkpoints.fellBack();
            long read = checkpoints.restoreBytesRead();
            long total = checkpoints.restoreBytesTotal();
            double rate = checkpoints.restoreBytesPerSecond(System.nanoTime());
            Path directory = checkpoints.directory();
            CouponCheckpoints.Options same = checkpoints.options();
        }
        List<CouponCheckpoints.Checkpoint> listed = CouponCheckpoints.list(Path.of("state"));
        IllegalStateException locked = new CheckpointDirectoryLockedException(Path.of("state"), null);
        IllegalStateException incompatible = new IncompatibleCheckpointException(Path.of("state"), "why", null);
    }

    @Test
    void theDocumentedBuilderChainBuildsWithoutConnecting() {
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = CouponConsumerRunner.builder()
                .bootstrapServers("127.0.0.1:9092")
                .groupId("coupon-state")
                .topics(List.of("couponbase1", "couponbase2", "couponbase3"))
                .state(state)
                .checkpointDirectory(Path.of("state"))
                .consumerProperty("security.protocol", "SSL")
                .build()) {
            assertThat(runner.state()).isSameAs(state);
            assertThat(runner.metrics().recordsConsumed()).isZero();
        }
    }

    @Test
    void theDocumentedBlockIsKept() throws Exception {
        assertThat(ApiSurfaceTest.class.getDeclaredMethod("documentedUsage")).isNotNull();
    }

    /** Issue 12's names for the state side of partitioned mode; compiled, and run on a state without a broker. */
    @Test
    void thePartitionedStateNamesOfIssue12() {
        PartitionedCouponState partitioned = new PartitionedCouponState(6, CouponStateConfig.defaults(),
                p -> new LockFreeCouponState());
        CouponState asState = partitioned;
        int partition = partitioned.partitionOf("BIRTHDAY");
        partitioned.addShard(partition);
        assertThat(partitioned.isOwned("BIRTHDAY")).isTrue();
        assertThat(partitioned.ownedPartitions()).containsExactly(partition);
        assertThat(asState.observationCount("BIRTHDAY")).isZero();
        CouponState dropped = partitioned.dropShard(partition);
        partitioned.addShard(partition, dropped);
        NotOwnedException e = new NotOwnedException("BIRTHDAY", partition);
        assertThat(e.partition()).isEqualTo(partition);
    }
}
