package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** A {@code consume} in a child JVM killed with SIGKILL, then run again on the same checkpoint directory. */
@Tag("integration")
class ConsumeRestartTest {

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    Path dir;

    @Test
    void consume_killedAndRunAgainWithItsCheckpoints_reachesTheSameAnswerReplayingOnlyTheTail() throws Exception {
        String bootstrap = KAFKA.bootstrapServers();
        List<Path> files = CouponFileGenerator.generate(dir.resolve("coupons"), 20_000, 5, false);
        Path emptyThird = Files.createDirectories(dir.resolve("empty")).resolve("couponbase3.txt");
        Files.createFile(emptyThird);
        Topics.publish(bootstrap, files.get(0), files.get(1));
        // an empty source that exists: its topic is created only when asked
        Cli.Run empty = Cli.run("publish", "--bootstrap-servers", bootstrap, "--no-progress", "--allow-empty",
                emptyThird.toString());
        assertThat(empty.exitCode()).as(empty.toString()).isZero();
        Path checkpoints = dir.resolve("checkpoints");
        Path childOut = dir.resolve("child.out");

        Process child = startConsumeChild(bootstrap, checkpoints, childOut);
        try {
            // caught up with files 1 and 2, and a durable checkpoint covering all of them: the runner commits a
            // checkpoint's offsets to its group once the checkpoint is on disk, so the group's offsets say what the
            // newest checkpoint covers (a file on disk alone may be the first one, taken before any record)
            awaitTrue(() -> Files.readString(childOut).contains("\ntotals: ") && hasFiles(checkpoints), child);
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
                Map<TopicPartition, Long> published = endOffsets(admin, List.of("couponbase1", "couponbase2"));
                awaitTrue(() -> covers(admin.listConsumerGroupOffsets("coupon-state").partitionsToOffsetAndMetadata()
                        .get(), published), child);
            }
            Topics.publish(bootstrap, files.get(2));   // the tail, arriving while the child runs
        } finally {
            child.destroyForcibly();                   // SIGKILL: no final checkpoint
            child.waitFor();
        }
        assertThat(Files.readString(childOut)).startsWith(Topics.expectedValidSection().replace("HAPPYHRS\n", ""));

        Cli.Run restarted = Cli.run("consume", "--bootstrap-servers", bootstrap, "--until-caught-up",
                "--checkpoint-dir", checkpoints.toString());
        Cli.Run fresh = Cli.run("consume", "--bootstrap-servers", bootstrap, "--until-caught-up");

        assertThat(restarted.exitCode()).as(restarted.toString()).isZero();
        assertThat(fresh.exitCode()).as(fresh.toString()).isZero();
        assertThat(Topics.validSection(restarted.out())).isEqualTo(Topics.expectedValidSection());
        assertThat(Topics.validSection(fresh.out())).isEqualTo(Topics.expectedValidSection());
        assertThat(Topics.total(restarted.out(), "distinct")).isEqualTo(Topics.total(fresh.out(), "distinct"));
        assertThat(restarted.out()).doesNotContain("checkpoint: restored=none");
        assertThat(Topics.total(restarted.out(), "records"))
                .as("records replayed after the restore")
                .isLessThan(Topics.total(fresh.out(), "records"));
    }

    private static Process startConsumeChild(String bootstrap, Path checkpoints, Path out) throws IOException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        return new ProcessBuilder(java.toString(), "-Xmx256m", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), CouponStateCli.class.getName(),
                "consume", "--bootstrap-servers", bootstrap, "--checkpoint-dir", checkpoints.toString(),
                "--checkpoint-interval-ms", "200")
                .redirectOutput(out.toFile())
                .redirectError(out.resolveSibling("child.err").toFile())
                .start();
    }

    private static Map<TopicPartition, Long> endOffsets(Admin admin, List<String> topics) throws Exception {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        admin.describeTopics(topics).allTopicNames().get().values().forEach(d -> d.partitions().forEach(
                p -> latest.put(new TopicPartition(d.name(), p.partition()), OffsetSpec.latest())));
        Map<TopicPartition, Long> end = new HashMap<>();
        admin.listOffsets(latest).all().get().forEach((tp, info) -> end.put(tp, info.offset()));
        return end;
    }

    private static boolean covers(Map<TopicPartition, OffsetAndMetadata> committed, Map<TopicPartition, Long> end) {
        return end.entrySet().stream().allMatch(e -> e.getValue() == 0 || (committed.get(e.getKey()) != null
                && committed.get(e.getKey()).offset() >= e.getValue()));
    }

    private static boolean hasFiles(Path directory) throws IOException {
        if (!Files.isDirectory(directory)) {
            return false;
        }
        try (Stream<Path> files = Files.list(directory)) { // a complete checkpoint: not the lock file, not a .tmp
            return files.anyMatch(p -> p.getFileName().toString().matches("checkpoint-\\d+\\.ckpt"));
        }
    }

    private interface Check {
        boolean ok() throws Exception;
    }

    private static void awaitTrue(Check check, Process child) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (!check.ok()) {
            assertThat(child.isAlive()).as("child consume still running").isTrue();
            assertThat(System.nanoTime()).as("waited 2 minutes for the child to catch up").isLessThan(deadline);
            Thread.sleep(100);
        }
    }
}
