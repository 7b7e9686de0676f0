package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPOutputStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

@Tag("integration")
class PublishAndBrokerCommandTest {

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"demo", "broker", "generate", "publish", "consume", "serve"})
    void everyCommand_hasHelp(String command) {
        Cli.Run run = Cli.run(command, "--help");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("Usage: coupon-state-examples " + command);
    }

    @Test
    void noCommand_isAUsageError() {
        Cli.Run run = Cli.run();
        assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
        assertThat(run.err()).contains("Missing command");
    }

    @Test
    void generateThenPublish_gzipFiles_sendsEveryLine() throws Exception {
        Path out = dir.resolve("coupons");
        Cli.Run generated = Cli.run("generate", "--out", out.toString(), "--codes-per-file", "2000", "--gzip");
        assertThat(generated.exitCode()).as(generated.toString()).isZero();
        Path file = out.resolve("couponbase2.gz");
        assertThat(generated.out()).contains(file.toString());

        Cli.Run run = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--partitions", "2",
                "--no-progress", file.toString());

        assertThat(run.exitCode()).as(run.toString()).isZero();
        int expected = 2000 + CouponFileGenerator.plantedIn(2).size();
        assertThat(run.out()).contains(String.format("-> couponbase2: %,d records", expected));
        assertThat(recordsIn("couponbase2")).isEqualTo(expected);
    }

    @Test
    void publish_blankAndOversizedLines_areCountedAndNotSent() throws Exception {
        Path file = dir.resolve("messy.txt");
        Files.writeString(file, "BIRTHDAY\n\nOVER9000\n" + "A".repeat(65) + "\nHAPPYHRS\n");

        Cli.Run run = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--no-progress",
                file.toString());

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("-> messy: 3 records, 1 blank and 1 oversized lines skipped");
        assertThat(recordsIn("messy")).isEqualTo(3);
    }

    @Test
    void publish_truncatedGzip_exitsOneNamingTheFileAndTheLine() throws Exception {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 30_000; i++) {
            text.append(String.format("C%08d%n", i));
        }
        Path whole = dir.resolve("whole.gz");
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(whole))) {
            out.write(text.toString().getBytes(StandardCharsets.US_ASCII));
        }
        byte[] bytes = Files.readAllBytes(whole);
        Path file = dir.resolve("cut.gz");
        Files.write(file, Arrays.copyOf(bytes, bytes.length * 2 / 3));

        Cli.Run run = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--no-progress",
                file.toString());

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        assertThat(run.err()).contains("publish failed", file.toString(), "truncated", "after line ");
        long inKafka = recordsIn("cut");
        assertThat(inKafka).isPositive().isLessThan(30_000);
        assertThat(run.err()).contains(inKafka + " of " + inKafka + " records read before it were sent");
    }

    @Test
    void publish_missingFile_exitsOneNamingIt() {
        Path missing = dir.resolve("nope.txt");
        Cli.Run run = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), missing.toString());
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err()).contains("publish failed", missing.toString());
    }

    @Test
    void broker_printsItsAddressAndServesUntilInterrupted() throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = CouponStateCli.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        AtomicInteger exit = new AtomicInteger(-1);
        Path data = dir.resolve("broker-data");
        Thread thread = new Thread(() -> exit.set(cli.execute("broker", "--port", "0", "--data-dir",
                data.toString())), "broker-command");
        thread.start();
        try {
            long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
            while (!out.toString().contains("\n") && thread.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            String line = out.toString().strip();
            assertThat(line).as("stderr: %s", err).matches("bootstrap\\.servers=127\\.0\\.0\\.1:\\d+");
            String bootstrap = line.substring("bootstrap.servers=".length());
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
                assertThat(admin.describeCluster().nodes().get()).hasSize(1);
            }
        } finally {
            thread.interrupt();
            thread.join(Duration.ofMinutes(1).toMillis());
        }
        assertThat(exit.get()).isZero();
        assertThat(data.resolve("logs").resolve("meta.properties")).exists();
    }

    private static long recordsIn(String topic) {
        Map<String, Object> config = Map.of("bootstrap.servers", KAFKA.bootstrapServers());
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            return consumer.endOffsets(partitions).values().stream().mapToLong(Long::longValue).sum();
        }
    }
}
