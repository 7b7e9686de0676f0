package io.couponstate.kafka;

import static io.couponstate.kafka.KafkaTestSupport.ascii;
import static io.couponstate.kafka.KafkaTestSupport.createTopics;
import static io.couponstate.kafka.KafkaTestSupport.produce;
import static io.couponstate.kafka.KafkaTestSupport.runner;
import static io.couponstate.kafka.KafkaTestSupport.topicNames;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.CouponConsumerRunner.State;
import io.couponstate.kafka.internal.checkpoint.ChainRestore;
import io.couponstate.kafka.internal.checkpoint.CheckpointDirectory;
import io.couponstate.kafka.internal.checkpoint.CheckpointFormat;
import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Each fault of the durability issue against a real in-JVM broker: what the user gets instead of silent loss. */
@Tag("integration")
@Timeout(180)
class RunnerFaultsIntegrationTest {

    private static final Duration WAIT = Duration.ofSeconds(60);

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();
    private static String bootstrap;

    @TempDir
    Path dir;

    @BeforeAll
    static void broker() {
        bootstrap = KAFKA.bootstrapServers();
    }

    private void runToEndAndClose(List<String> topics, Path checkpoints) throws Exception {
        try (CouponConsumerRunner r = runner(bootstrap, topics, new StripedLockCouponState())
                .checkpointDirectory(checkpoints).build()) {
            r.start();
            assertThat(r.awaitCaughtUp(WAIT)).isTrue();
        }
    }

    @Test
    void aCheckpointDirectoryThatBecomesUnwritable_isAnErrorInTheMetrics_andCloseEndsFailed() throws Exception {
        List<String> topics = topicNames("unwritable", 1);
        createTopics(bootstrap, topics, 1);
        Path checkpoints = dir.resolve("ckpt");
        CouponConsumerRunner runner = runner(bootstrap, topics, new StripedLockCouponState())
                .checkpointDirectory(checkpoints).checkpointInterval(Duration.ofMillis(100)).build();
        try {
            runner.start();
            await().atMost(WAIT).until(() -> runner.runnerState() == State.RUNNING);
            // the disk "fills": the directory is moved away (atomically, whatever is being written) and replaced
            // by a file, so every later write fails
            Files.move(checkpoints, dir.resolve("moved-away"));
            Files.writeString(checkpoints, "not a directory");
            produce(bootstrap, List.of(new ProducerRecord<>(topics.get(0), ascii("UNSAVED01"))));
            await().atMost(WAIT).until(() -> !runner.metrics().durable());
            RunnerMetrics m = runner.metrics();
            assertThat(m.checkpointFailures()).isPositive();
            assertThat(m.lastCheckpointFailure()).get().asString().isNotBlank();
            assertThat(m.lastDurableCheckpointAgeMillis()).isEmpty();
            assertThat(m.toString()).contains("durable false").contains("last checkpoint failure: ");
            assertThat(runner.runnerState()).isEqualTo(State.RUNNING); // a periodic failure is retried
        } finally {
            runner.close();
        }
        assertThat(runner.runnerState()).isEqualTo(State.FAILED);
        assertThat(runner.failureCause()).isPresent();
    }

    @Test
    void nineTopicsWithTheDefaultEightSources_failAtStart_namingBothNumbers() {
        List<String> topics = topicNames("nine", 9);
        CouponConsumerRunner runner = runner(bootstrap, topics, new StripedLockCouponState()).build();
        assertThatThrownBy(runner::start).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("needs 9 sources").hasMessageContaining("maxSources is 8");
        assertThat(runner.runnerState()).isEqualTo(State.FAILED);
        runner.close();
    }

    @Test
    void anIncompatibleCheckpoint_failsTheRunnerWithItsMessage_andLeavesTheFilesAlone() throws Exception {
        List<String> topics = topicNames("incompatible", 3);
        createTopics(bootstrap, topics, 1);
        produce(bootstrap, List.of(new ProducerRecord<>(topics.get(0), ascii("THREESRC1")),
                new ProducerRecord<>(topics.get(1), ascii("THREESRC1")),
                new ProducerRecord<>(topics.get(2), ascii("THREESRC1"))));
        runToEndAndClose(topics, dir);
        TreeMap<Long, Path> before = CheckpointDirectory.list(dir);
        assertThat(before).isNotEmpty();

        StripedLockCouponState two = new StripedLockCouponState(CouponStateConfig.builder().maxSources(2).build());
        try (CouponConsumerRunner runner = runner(bootstrap, topics.subList(0, 2), two).checkpointDirectory(dir)
                .build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
            assertThat(runner.failureCause()).get().isInstanceOf(IncompatibleCheckpointException.class);
        }
        assertThat(CheckpointDirectory.list(dir)).isEqualTo(before);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".corrupt"));
        }
    }

    @Test
    void everyCheckpointDamaged_andRecordsDeletedByRetention_failsNamingThePartition() throws Exception {
        List<String> topics = topicNames("damagedall", 1);
        createTopics(bootstrap, topics, 1);
        TopicPartition tp = new TopicPartition(topics.get(0), 0);
        produce(bootstrap, List.of(new ProducerRecord<>(tp.topic(), ascii("DAMAGED01")),
                new ProducerRecord<>(tp.topic(), ascii("DAMAGED02"))));
        runToEndAndClose(topics, dir);
        for (Path file : CheckpointDirectory.list(dir).values()) {
            byte[] bytes = Files.readAllBytes(file);
            bytes[bytes.length / 2] ^= 0x20;
            Files.write(file, bytes);
        }
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(1))).all().get();
        }
        try (CouponConsumerRunner runner = runner(bootstrap, topics, new StripedLockCouponState())
                .checkpointDirectory(dir).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
            assertThat(runner.failureCause()).get().extracting(Throwable::getMessage).asString()
                    .contains("partition " + tp + ": the newest checkpoints were damaged")
                    .contains("log starts at offset 1");
        }
        // the damaged files are now set aside as .corrupt: a second start must not take "no checkpoint" for a
        // fresh start either
        try (CouponConsumerRunner runner = runner(bootstrap, topics, new StripedLockCouponState())
                .checkpointDirectory(dir).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
            assertThat(runner.failureCause()).get().extracting(Throwable::getMessage).asString()
                    .contains("partition " + tp + ": the newest checkpoints were damaged");
        }
    }

    @Test
    void aTopicDeletedAndCreatedAgain_failsNamingIt_unlessRebuildRecreatedTopics() throws Exception {
        List<String> topics = topicNames("recreated", 1);
        String topic = topics.get(0);
        createTopics(bootstrap, topics, 1);
        produce(bootstrap, List.of(new ProducerRecord<>(topic, ascii("OLDTOPIC1")),
                new ProducerRecord<>(topic, ascii("OLDTOPIC2"))));
        runToEndAndClose(topics, dir);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.deleteTopics(topics).all().get();
        }
        await().atMost(WAIT).ignoreExceptions().until(() -> {
            createTopics(bootstrap, topics, 1); // fails while the deletion is still going on
            return true;
        });
        // as many records as the checkpoint's offset: without topic ids, this is silently skipped
        produce(bootstrap, List.of(new ProducerRecord<>(topic, ascii("NEWTOPIC1")),
                new ProducerRecord<>(topic, ascii("NEWTOPIC2"))));

        try (CouponConsumerRunner runner = runner(bootstrap, topics, new StripedLockCouponState())
                .checkpointDirectory(dir).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
            assertThat(runner.failureCause()).get().extracting(Throwable::getMessage).asString()
                    .startsWith("topic " + topic + " was deleted and created again since the checkpoint");
        }
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state).checkpointDirectory(dir)
                .rebuildRecreatedTopics(true).build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertThat(state.observationCount("NEWTOPIC2")).isEqualTo(1);
            assertThat(state.observationCount("OLDTOPIC1")).as("restored: a union").isEqualTo(1);
            assertThat(runner.metrics().recordsConsumed()).isEqualTo(2);
        }
    }

    @Test
    void aCheckpointedTopicNoLongerRead_isLoggedAtWarnOnce_namingIt() throws Exception {
        List<String> topics = topicNames("dropped", 2);
        createTopics(bootstrap, topics, 1);
        produce(bootstrap, List.of(new ProducerRecord<>(topics.get(0), ascii("KEPTCODE1")),
                new ProducerRecord<>(topics.get(1), ascii("DROPCODE1"))));
        runToEndAndClose(topics, dir);
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        StripedLockCouponState state = new StripedLockCouponState();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try (CouponConsumerRunner runner = runner(bootstrap, topics.subList(0, 1), state).checkpointDirectory(dir)
                .build()) {
            runner.start();
            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
        } finally {
            System.setErr(err);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        String expected = "covers topic " + topics.get(1) + ", which is not in topics [" + topics.get(0)
                + "]: its observations stay in the state";
        assertThat(log).contains("WARN").contains(expected);
        assertThat(log.split(java.util.regex.Pattern.quote(expected), -1)).hasSize(2); // once
        assertThat(state.observationCount("DROPCODE1")).isEqualTo(1);
    }

    @Test
    void aTopicThatDoesNotExist_failsTheRunner_namingIt() throws Exception {
        List<String> topics = topicNames("exists", 1);
        createTopics(bootstrap, topics, 1);
        List<String> asked = new ArrayList<>(topics);
        asked.add("misspelt-" + topics.get(0));
        try (CouponConsumerRunner runner = runner(bootstrap, asked, new StripedLockCouponState()).build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.runnerState() == State.FAILED);
            assertThat(runner.failureCause()).get().extracting(Throwable::getMessage).asString()
                    .startsWith("topics not found: [misspelt-" + topics.get(0) + "]");
        }
    }

    @Test
    void anUnreachableBootstrap_isReportedAsAProblem_andTheRunnerKeepsTrying() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort(); // free once closed: nothing listens there
        }
        String address = "127.0.0.1:" + port;
        try (CouponConsumerRunner runner = runner(address, topicNames("nobroker", 1), new StripedLockCouponState())
                .apiTimeout(Duration.ofMillis(300))
                .consumerProperty("reconnect.backoff.max.ms", 1000)
                .build()) {
            runner.start();
            await().atMost(WAIT).until(() -> runner.metrics().problem().isPresent());
            assertThat(runner.metrics().problem()).get().asString()
                    .startsWith("cannot reach a Kafka broker at " + address + ": ");
            assertThat(runner.runnerState()).isEqualTo(State.RUNNING);
            assertThat(runner.metrics().toString()).contains("problem: cannot reach a Kafka broker at " + address);
        }
    }
}
