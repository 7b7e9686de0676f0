package io.couponstate.kafka;

import static io.couponstate.kafka.KafkaTestSupport.ascii;
import static io.couponstate.kafka.KafkaTestSupport.assertMatches;
import static io.couponstate.kafka.KafkaTestSupport.createTopics;
import static io.couponstate.kafka.KafkaTestSupport.produce;
import static io.couponstate.kafka.KafkaTestSupport.randomRecords;
import static io.couponstate.kafka.KafkaTestSupport.runner;
import static io.couponstate.kafka.KafkaTestSupport.topicNames;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.CouponConsumerRunner.State;
import io.couponstate.kafka.KafkaTestSupport.Model;
import io.couponstate.kafka.internal.checkpoint.ChainRestore;
import io.couponstate.kafka.internal.checkpoint.CheckpointDirectory;
import io.couponstate.kafka.internal.checkpoint.CheckpointFormat;
import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The runner against a real in-JVM KRaft broker, shared by every test of the class. */
@Tag("integration")
class CouponConsumerRunnerIntegrationTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final long SEED = Long.getLong("couponstate.seed", System.nanoTime());

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();
    private static String bootstrap;

    @TempDir
    Path checkpoints;

    @BeforeAll
    static void printSeed() {
        System.out.println("CouponConsumerRunnerIntegrationTest seed: " + SEED + " (-Dcouponstate.seed=" + SEED + ")");
        bootstrap = KAFKA.bootstrapServers();
    }

    @Test
    void threeTopics_withDuplicatesAndOutOfOrder_matchTheModel_andCommitTheCheckpointOffsets() throws Exception {
        List<String> topics = topicNames("three", 3);
        createTopics(bootstrap, topics, 2);
        Model model = new Model();
        produce(bootstrap, randomRecords(new Random(SEED), topics, 1500, model));
        String group = "g-" + topics.get(0);

        StripedLockCouponState state = new StripedLockCouponState();
        CouponConsumerRunner runner = runner(bootstrap, topics, state).groupId(group)
                .checkpointDirectory(checkpoints).build();
        try (runner) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertMatches(state, model);
            RunnerMetrics m = runner.metrics();
            assertThat(m.recordsConsumed()).isEqualTo(model.records);
            assertThat(m.codesApplied()).isEqualTo(model.records);
            assertThat(m.invalidRecordsTotal()).isZero();
            assertThat(m.distinctCodes()).isEqualTo(model.sources.size());
            assertThat(m.validCodes()).isEqualTo(model.valid(2).size());
            assertThat(runner.runnerState()).isEqualTo(State.RUNNING);
            assertThat(runner.assignedPartitions()).hasSize(6);
            // right after awaitCaughtUp: no older than the poll that proved it (nothing is produced meanwhile)
            assertThat(m.lag()).isZero();
            System.out.println("three topics: " + runner.metrics());
        }
        assertThat(runner.runnerState()).isEqualTo(State.STOPPED);
        Map<TopicPartition, Long> end = KafkaTestSupport.endOffsets(bootstrap, topics);
        assertThat(KafkaTestSupport.committed(bootstrap, group)).isEqualTo(end);
        assertThat(CheckpointDirectory.list(checkpoints)).isNotEmpty().hasSizeLessThanOrEqualTo(2);
    }

    @Test
    void twoApplyThreads_overManyPartitions_giveExactlyTheSequentialModelsState() throws Exception {
        List<String> topics = topicNames("pipe", 3);
        createTopics(bootstrap, topics, 4);
        Model model = new Model();
        Random random = new Random(SEED + 7);
        produce(bootstrap, randomRecords(random, topics, 3000, model));
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state).applyThreads(2)
                .checkpointDirectory(checkpoints).build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            produce(bootstrap, randomRecords(random, topics, 1000, model)); // more while running
            await().atMost(WAIT).until(() -> runner.metrics().recordsConsumed() == model.records);
            await().atMost(WAIT).until(() -> runner.appliedPositions()
                    .equals(KafkaTestSupport.endOffsets(bootstrap, topics)));
            assertMatches(state, model);
            RunnerMetrics m = runner.metrics();
            assertThat(m.codesApplied()).isEqualTo(model.records);
            assertThat(m.validCodes()).isEqualTo(model.valid(2).size());
            assertThat(runner.assignedPartitions()).hasSize(12);
        }
        Map<TopicPartition, Long> end = KafkaTestSupport.endOffsets(bootstrap, topics);
        assertThat(ChainRestore.readOne(CheckpointDirectory.list(checkpoints).lastEntry().getValue(),
                new StripedLockCouponState()).offsets()).isEqualTo(end);
    }

    @Test
    void restart_fromACheckpoint_replaysOnlyTheTail() throws Exception {
        List<String> topics = topicNames("tail", 2);
        createTopics(bootstrap, topics, 2);
        Random random = new Random(SEED + 1);
        Model model = new Model();
        produce(bootstrap, randomRecords(random, topics, 800, model));
        try (CouponConsumerRunner first = runner(bootstrap, topics, new StripedLockCouponState())
                .checkpointDirectory(checkpoints).build()) {
            first.start();
            assertThat(first.awaitCaughtUp(WAIT)).isTrue();
        }
        long before = model.records;
        produce(bootstrap, randomRecords(random, topics, 300, model));
        long tail = model.records - before;

        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner second = runner(bootstrap, topics, state).checkpointDirectory(checkpoints).build()) {
            second.start();
            assertThat(second.awaitCaughtUp(WAIT)).isTrue();
            assertMatches(state, model);
            assertThat(second.metrics().restoredCheckpointSequence()).isPositive();
            assertThat(second.metrics().recordsConsumed()).as("records re-read").isEqualTo(tail);
        }
    }

    enum Damage { TRUNCATE, FLIP_A_BYTE }

    @ParameterizedTest
    @EnumSource(Damage.class)
    void newestCheckpointDamaged_theOlderIsUsed_andTheResultIsExact(Damage damage) throws Exception {
        List<String> topics = topicNames("damage", 2);
        createTopics(bootstrap, topics, 1);
        Random random = new Random(SEED + 2);
        Model model = new Model();
        produce(bootstrap, randomRecords(random, topics, 400, model));
        runToEndAndClose(topics);
        long afterFirst = model.records;
        produce(bootstrap, randomRecords(random, topics, 200, model));
        runToEndAndClose(topics);
        TreeMap<Long, Path> files = CheckpointDirectory.list(checkpoints);
        assertThat(files).hasSize(2);
        Path newest = files.lastEntry().getValue();
        byte[] bytes = Files.readAllBytes(newest);
        if (damage == Damage.TRUNCATE) {
            Files.write(newest, Arrays.copyOf(bytes, bytes.length - 9));
        } else {
            bytes[bytes.length / 2] ^= 0x20;
            Files.write(newest, bytes);
        }
        produce(bootstrap, randomRecords(random, topics, 100, model));

        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state).checkpointDirectory(checkpoints).build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertMatches(state, model);
            assertThat(runner.metrics().restoredCheckpointSequence()).isEqualTo(files.firstKey());
            assertThat(runner.metrics().recordsConsumed()).isEqualTo(model.records - afterFirst);
        }
        assertThat(Files.exists(newest.resolveSibling(newest.getFileName() + ".corrupt"))).isTrue();
    }

    private void runToEndAndClose(List<String> topics) throws Exception {
        try (CouponConsumerRunner r = runner(bootstrap, topics, new StripedLockCouponState())
                .checkpointDirectory(checkpoints).build()) {
            r.start();
            assertThat(r.awaitCaughtUp(WAIT)).isTrue();
        }
    }

    @Test
    void everyKindOfBadRecord_isCountedAndDeadLettered_andTheRunnerKeepsRunning() throws Exception {
        List<String> topics = topicNames("bad", 1);
        String topic = topics.get(0);
        String dlt = topic + "-dlt";
        createTopics(bootstrap, List.of(topic, dlt), 1);
        // two sources allowed and registered (a source past the limit fails the runner: its own test)
        StripedLockCouponState state = new StripedLockCouponState(CouponStateConfig.builder().maxSources(2).build());
        state.sourceId("s1");
        state.sourceId("s2");
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        records.add(withSource(topic, ascii("GOODCODE1"), "s1"));
        records.add(withSource(topic, ascii("GOODCODE1"), "s2"));
        records.add(withSource(topic, null, "s1"));                                              // NULL_VALUE
        records.add(withSource(topic, new byte[0], "s1"));                                       // EMPTY_VALUE
        records.add(withSource(topic, "ÄBCDEFGH".getBytes(StandardCharsets.UTF_8), "s1"));     // NOT_ASCII
        records.add(withSource(topic, ascii("ABC"), "s1"));                                      // TOO_SHORT
        records.add(withSource(topic, ascii("ABCDEFGHIJK"), "s1"));                              // TOO_LONG
        records.add(withSource(topic, ascii("ABCD-EFG"), "s1"));                                 // ILLEGAL_CHARACTER
        records.add(withSource(topic, ascii("abcdefgh"), "s2"));                                 // ILLEGAL_CHARACTER
        records.add(withSource(topic, new byte[100], "s1"));                                     // OVERSIZED
        records.add(new ProducerRecord<>(topic, null, ascii("NOHEADER1")));                      // SOURCE_UNRESOLVED
        records.add(withSource(topic, ascii("GOODCODE2"), "s1"));
        produce(bootstrap, records);

        DeadLetterTopicHandler handler = new DeadLetterTopicHandler(dlt, Map.of("bootstrap.servers", bootstrap));
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state)
                .sourceResolver(SourceResolver.header("source", List.of("s1", "s2")))
                .invalidRecordHandler(handler)
                .maxValueBytes(64)
                .checkpointDirectory(checkpoints)
                .build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            RunnerMetrics m = runner.metrics();
            assertThat(m.invalidRecords(InvalidRecordReason.NULL_VALUE)).isEqualTo(1);
            assertThat(m.invalidRecords(InvalidRecordReason.EMPTY_VALUE)).isEqualTo(1);
            assertThat(m.invalidRecords(InvalidRecordReason.NOT_ASCII)).isEqualTo(1);
            assertThat(m.invalidRecords(InvalidRecordReason.TOO_SHORT)).isEqualTo(1);
            assertThat(m.invalidRecords(InvalidRecordReason.TOO_LONG)).isEqualTo(1);
            assertThat(m.invalidRecords(InvalidRecordReason.ILLEGAL_CHARACTER)).isEqualTo(2);
            assertThat(m.invalidRecords(InvalidRecordReason.OVERSIZED)).isEqualTo(1);
            assertThat(m.invalidRecords(InvalidRecordReason.SOURCE_UNRESOLVED)).isEqualTo(1);
            assertThat(m.invalidRecordsTotal()).isEqualTo(9);
            assertThat(m.recordsConsumed()).isEqualTo(12);
            assertThat(m.codesApplied()).isEqualTo(3);
            assertThat(state.isValid("GOODCODE1")).isTrue();
            assertThat(state.observationCount("GOODCODE2")).isEqualTo(1);
            assertThat(state.size()).isEqualTo(2);
            assertThat(runner.runnerState()).isEqualTo(State.RUNNING);
        }
        List<ConsumerRecord<byte[], byte[]>> dead = consumeAll(dlt, 9);
        assertThat(dead).hasSize(9);
        assertThat(dead.stream().map(r -> new String(r.headers().lastHeader(DeadLetterTopicHandler.REASON_HEADER)
                .value(), StandardCharsets.UTF_8))).containsExactlyInAnyOrder("NULL_VALUE", "EMPTY_VALUE",
                "NOT_ASCII", "TOO_SHORT", "TOO_LONG", "ILLEGAL_CHARACTER", "ILLEGAL_CHARACTER", "OVERSIZED",
                "SOURCE_UNRESOLVED");
        assertThat(dead.get(0).headers().lastHeader(DeadLetterTopicHandler.TOPIC_HEADER).value())
                .isEqualTo(ascii(topic));
    }

    private static ProducerRecord<byte[], byte[]> withSource(String topic, byte[] value, String source) {
        ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, null, value);
        r.headers().add(new RecordHeader("source", ascii(source)));
        return r;
    }

    @Test
    void bulkValues_applyEveryLine_andCountBadLinesOneByOne() throws Exception {
        List<String> topics = topicNames("bulk", 2);
        createTopics(bootstrap, topics, 1);
        produce(bootstrap, List.of(
                new ProducerRecord<>(topics.get(0), ascii("AAAAAAAA\nBBBBBBBB\r\nCCCCCCCC\n")),
                new ProducerRecord<>(topics.get(1), ascii("BBBBBBBB\nshortcod\n\nDDDDDDDD\nTOOLONGCODE12")),
                new ProducerRecord<>(topics.get(1), ascii("\n\n"))));
        List<InvalidRecordReason> handled = new CopyOnWriteArrayList<>();
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state).bulkValues(true)
                .invalidRecordHandler((record, reason) -> handled.add(reason)).build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            RunnerMetrics m = runner.metrics();
            assertThat(m.codesApplied()).isEqualTo(5);
            assertThat(m.invalidRecords(InvalidRecordReason.ILLEGAL_CHARACTER)).isEqualTo(1); // lower case
            assertThat(m.invalidRecords(InvalidRecordReason.TOO_LONG)).isEqualTo(1);
            assertThat(m.invalidRecords(InvalidRecordReason.EMPTY_VALUE)).isEqualTo(1);
            assertThat(handled).containsExactlyInAnyOrder(InvalidRecordReason.ILLEGAL_CHARACTER,
                    InvalidRecordReason.EMPTY_VALUE); // once per record, with its first bad line's reason
            assertThat(state.getCouponCodesByObservationCount(2)).containsExactly("BBBBBBBB");
            assertThat(state.size()).isEqualTo(4);
        }
    }

    @Test
    void awaitCaughtUp_beforeAnyAssignment_isFalse_thenTrueOnceTheTopicAppears() throws Exception {
        List<String> topics = topicNames("late", 1);
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state).allowMissingTopics(true).build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(Duration.ofMillis(1500))).isFalse();
            assertThat(runner.assignedPartitions()).isEmpty();
            assertThat(runner.runnerState()).isEqualTo(State.RUNNING);

            createTopics(bootstrap, topics, 1);
            produce(bootstrap, List.of(new ProducerRecord<>(topics.get(0), ascii("LATECODE1"))));
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertThat(state.observationCount("LATECODE1")).isEqualTo(1);
        }
    }

    @Test
    void addedPartitions_areNoticedAndRead() throws Exception {
        List<String> topics = topicNames("grow", 1);
        String topic = topics.get(0);
        createTopics(bootstrap, topics, 1);
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state).build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
                admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(3))).all().get();
            }
            produce(bootstrap, List.of(new ProducerRecord<>(topic, 2, null, ascii("PARTTWO01"))));
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 3);
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertThat(state.observationCount("PARTTWO01")).isEqualTo(1);
        }
    }

    @Test
    void checkpointBelowTheLogStart_fails_namingThePartition_andAwaitCaughtUpThrows() throws Exception {
        List<String> topics = topicNames("retention", 1);
        createTopics(bootstrap, topics, 1);
        TopicPartition tp = new TopicPartition(topics.get(0), 0);
        produce(bootstrap, List.of(new ProducerRecord<>(tp.topic(), ascii("RETAINED1"))));
        runToEndAndClose(topics);
        assertThat(CheckpointDirectory.list(checkpoints)).isNotEmpty();
        produce(bootstrap, List.of(new ProducerRecord<>(tp.topic(), ascii("DELETED01")),
                new ProducerRecord<>(tp.topic(), ascii("DELETED02"))));
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(3))).all().get();
        }
        try (CouponConsumerRunner runner = runner(bootstrap, topics, new StripedLockCouponState())
                .checkpointDirectory(checkpoints).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
            assertThat(runner.failureCause()).get().extracting(Throwable::getMessage).asString()
                    .contains("partition " + tp + ": checkpoint offset 1 is below the log-start offset 3");
            assertThatThrownBy(() -> runner.awaitCaughtUp(Duration.ofSeconds(1)))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("FAILED")
                    .hasCauseInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void aHandlerThatThrows_failsTheRunner_withTheCause() throws Exception {
        List<String> topics = topicNames("throwing", 1);
        createTopics(bootstrap, topics, 1);
        produce(bootstrap, List.of(new ProducerRecord<>(topics.get(0), ascii("bad"))));
        try (CouponConsumerRunner runner = runner(bootstrap, topics, new StripedLockCouponState())
                .invalidRecordHandler((record, reason) -> {
                    throw new IllegalStateException("dead-letter topic gone");
                }).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
            assertThat(runner.failureCause()).get().extracting(Throwable::getMessage)
                    .isEqualTo("dead-letter topic gone");
            assertThatThrownBy(() -> runner.awaitCaughtUp(WAIT)).hasRootCauseMessage("dead-letter topic gone");
            runner.close();
            assertThat(runner.runnerState()).isEqualTo(State.FAILED);
        }
    }

    @Test
    void close_duringAPoll_wakesIt_writesTheFinalCheckpoint_andStops() throws Exception {
        List<String> topics = topicNames("closing", 1);
        createTopics(bootstrap, topics, 1);
        produce(bootstrap, List.of(new ProducerRecord<>(topics.get(0), ascii("CLOSING01"))));
        CouponConsumerRunner runner = runner(bootstrap, topics, new StripedLockCouponState())
                .pollTimeout(Duration.ofMinutes(5)) // a poll that would outlast the test unless woken
                .checkpointInterval(Duration.ofHours(1)) // so only close() writes one
                .checkpointDirectory(checkpoints)
                .groupId("g-" + topics.get(0))
                .build();
        runner.start();
        assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
        assertThat(CheckpointDirectory.list(checkpoints)).isEmpty();
        assertTimeoutPreemptively(Duration.ofSeconds(60), runner::close); // generous: a poll blocks 5 minutes
        assertThat(runner.runnerState()).isEqualTo(State.STOPPED);
        assertThat(runner.failureCause()).isEmpty();
        assertThat(CheckpointDirectory.list(checkpoints)).hasSize(1);
        assertThat(KafkaTestSupport.committed(bootstrap, "g-" + topics.get(0)))
                .containsEntry(new TopicPartition(topics.get(0), 0), 1L);
        runner.close(); // idempotent
        assertThat(runner.runnerState()).isEqualTo(State.STOPPED);
    }

    @Test
    void awaitCaughtUp_duringAPollOfMinutes_answersWithinItsOwnTimeout() throws Exception {
        List<String> topics = topicNames("longpoll", 1);
        createTopics(bootstrap, topics, 1);
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state)
                .pollTimeout(Duration.ofMinutes(10)) // each poll blocks until a record arrives or 10 minutes pass
                .build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.assignedPartitions().size() == 1);
            produce(bootstrap, List.of(new ProducerRecord<>(topics.get(0), ascii("LONGPOLL1"))));
            await().atMost(WAIT).until(() -> state.observationCount("LONGPOLL1") == 1);
            // the poll thread is now in a poll that returns only after 10 minutes: end offsets must not wait for it
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertThat(runner.appliedPositions()).containsEntry(new TopicPartition(topics.get(0), 0), 1L);
        }
    }

    @Test
    void aStuckCheckpoint_neitherBlocksPolling_norLetsOffsetsBeCommittedBeforeItIsDurable() throws Exception {
        List<String> topics = topicNames("stuck", 1);
        createTopics(bootstrap, topics, 1);
        TopicPartition tp = new TopicPartition(topics.get(0), 0);
        String group = "g-" + topics.get(0);
        java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        try (CouponConsumerRunner runner = runner(bootstrap, topics, new StripedLockCouponState()).groupId(group)
                .checkpointInterval(Duration.ofMillis(100)).checkpointDirectory(checkpoints)
                .checkpointHook((tmp, target) -> {
                    entered.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }).build()) {
            runner.start();
            produce(bootstrap, List.of(new ProducerRecord<>(tp.topic(), ascii("STUCKONE1"))));
            assertThat(entered.await(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            // the checkpoint thread now hangs between fsync and rename; the poll thread must go on applying
            produce(bootstrap, List.of(new ProducerRecord<>(tp.topic(), ascii("STUCKTWO1")),
                    new ProducerRecord<>(tp.topic(), ascii("STUCKTRE1"))));
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertThat(runner.state().observationCount("STUCKTRE1")).isEqualTo(1);
            assertThat(runner.appliedPositions()).containsEntry(tp, 3L);
            assertThat(KafkaTestSupport.committed(bootstrap, group)).as("nothing durable, nothing committed")
                    .isEmpty();
            release.countDown();
            await().atMost(WAIT).until(() -> KafkaTestSupport.committed(bootstrap, group).getOrDefault(tp, 0L) == 3L);
        } finally {
            release.countDown();
        }
    }

    @Test
    void theStatesValidityListener_firesOncePerCodeThatBecomesValid() throws Exception {
        List<String> topics = topicNames("listener", 3);
        createTopics(bootstrap, topics, 2);
        Model model = new Model();
        produce(bootstrap, randomRecords(new Random(SEED + 4), topics, 500, model));
        List<String> fired = new CopyOnWriteArrayList<>();
        StripedLockCouponState state = new StripedLockCouponState(CouponStateConfig.builder()
                .validityListener((code, sources) -> fired.add(code)).build());
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state).build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertThat(fired).hasSameSizeAs(model.valid(2)).containsExactlyInAnyOrderElementsOf(model.valid(2));
            assertThat(runner.metrics().validCodes()).isEqualTo(model.valid(2).size());
        }
    }

    @Test
    void groupOffsets_areNeverUsedToPosition() throws Exception {
        List<String> topics = topicNames("grouppos", 1);
        createTopics(bootstrap, topics, 1);
        TopicPartition tp = new TopicPartition(topics.get(0), 0);
        produce(bootstrap, List.of(new ProducerRecord<>(tp.topic(), ascii("GROUPPOS1")),
                new ProducerRecord<>(tp.topic(), ascii("GROUPPOS2"))));
        String group = "g-" + tp.topic();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            // a group offset at the end, as another machine's runner would have committed it
            admin.alterConsumerGroupOffsets(group, Map.of(tp, new org.apache.kafka.clients.consumer
                    .OffsetAndMetadata(2))).all().get();
        }
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state).groupId(group).build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertThat(runner.metrics().recordsConsumed()).isEqualTo(2);
            assertThat(state.size()).isEqualTo(2);
        }
    }

    @Test
    void checkpointCadence_followsTheInjectedClock() throws Exception {
        List<String> topics = topicNames("clock", 1);
        createTopics(bootstrap, topics, 1);
        produce(bootstrap, List.of(new ProducerRecord<>(topics.get(0), ascii("CLOCKED01"))));
        MutableClock clock = new MutableClock();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, new StripedLockCouponState()).clock(clock)
                .checkpointInterval(Duration.ofHours(1)).checkpointDirectory(checkpoints).build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            Thread.sleep(500); // several polls while the clock stands still
            assertThat(CheckpointDirectory.list(checkpoints)).isEmpty();
            assertThat(runner.metrics().checkpointsWritten()).isZero();
            clock.advance(Duration.ofHours(1));
            await().atMost(WAIT).until(() -> runner.metrics().checkpointsWritten() == 1);
            assertThat(CheckpointDirectory.list(checkpoints)).hasSize(1);
        }
    }

    @Test
    void aConsumerThatCannotBeMade_failsTheRunner_withTheCause() throws Exception {
        try (CouponConsumerRunner runner = runner(bootstrap, topicNames("nojaas", 1), new StripedLockCouponState())
                .consumerProperty("security.protocol", "SASL_PLAINTEXT") // no JAAS configuration: a fatal error
                .build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
            assertThat(runner.failureCause()).get().isInstanceOf(KafkaException.class);
            assertThatThrownBy(() -> runner.awaitCaughtUp(Duration.ofSeconds(1)))
                    .isInstanceOf(IllegalStateException.class).hasCauseInstanceOf(KafkaException.class);
        }
    }

    /** Not a benchmark (the machine is shared): a rough records/s figure for the log, and an exact result. */
    @Test
    void throughput_ofTheApplyPath_isLogged_andTheResultIsExact() throws Exception {
        int count = Integer.getInteger("couponstate.throughput.records", 200_000);
        List<String> topics = topicNames("volume", 1);
        createTopics(bootstrap, topics, 3);
        Random random = new Random(SEED + 3);
        java.util.Set<String> codes = new java.util.HashSet<>();
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            String code = KafkaTestSupport.randomCode(random);
            codes.add(code);
            records.add(new ProducerRecord<>(topics.get(0), ascii(code)));
        }
        produce(bootstrap, records);
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state)
                .consumerProperty("max.poll.records", 5000).build()) {
            long start = System.nanoTime();
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(state.size()).isEqualTo(codes.size());
            assertThat(runner.metrics().codesApplied()).isEqualTo(count);
            System.out.printf("throughput: %d records in %.2f s from start() to caught up = %.0f records/s%n",
                    count, seconds, count / seconds);
        }
    }

    private static List<ConsumerRecord<byte[], byte[]>> consumeAll(String topic, int expected) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrap),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (out.size() < expected && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            return out;
        }
    }
}
