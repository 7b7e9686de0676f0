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
        assertThat(run.err()).contains("publish: ", file.toString(), "truncated", "after line ")
                .doesNotContain("Exception");
        long inKafka = recordsIn("cut");
        assertThat(inKafka).isPositive().isLessThan(30_000);
        assertThat(run.err()).contains(inKafka + " of " + inKafka + " records read before it were sent");
    }

    @Test
    void publish_fifo_sendsEveryLineOnce() throws Exception {
        Path fifo = dir.resolve("piped");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start().waitFor()).isZero();
        Thread writer = new Thread(() -> {
            try (OutputStream out = Files.newOutputStream(fifo)) {
                writeNumberedCodes(out, 200_000);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, "fifo-writer");
        writer.start();

        Cli.Run run = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--no-progress",
                "--topic", "piped", fifo.toString());
        writer.join();

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("-> piped: 200,000 records");
        assertThat(distinctNumberedCodesIn("piped")).isEqualTo(200_000);
    }

    @Test
    void publish_dash_readsGzipFromStandardInput_andNeedsATopic() throws Exception {
        Cli.Run noTopic = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "-");
        assertThat(noTopic.exitCode()).as(noTopic.toString()).isEqualTo(CommandLine.ExitCode.USAGE);
        assertThat(noTopic.err()).contains("'-' (standard input) without --topic");

        java.io.PipedInputStream stdin = new java.io.PipedInputStream(8192);
        java.io.PipedOutputStream pipe = new java.io.PipedOutputStream(stdin);
        Thread writer = new Thread(() -> {
            try (OutputStream out = new GZIPOutputStream(pipe, 512)) {
                writeNumberedCodes(out, 30_000);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, "stdin-writer");
        writer.start();
        KafkaOptions kafka = new KafkaOptions();
        kafka.bootstrapServers = KAFKA.bootstrapServers();
        PublishCommand.Settings settings = new PublishCommand.Settings(kafka, 2, 64, false);
        settings.topic = "stdingzip";
        settings.stdin = stdin;

        List<io.couponstate.kafka.PublishResult> results =
                PublishCommand.publish(settings, List.of(Path.of("-")), r -> { });
        writer.join();

        assertThat(results).singleElement().satisfies(r -> {
            assertThat(r.sent()).isEqualTo(30_000);
            assertThat(PublishCommand.describe(r)).startsWith("published standard input -> stdingzip: 30,000 records");
        });
        assertThat(distinctNumberedCodesIn("stdingzip")).isEqualTo(30_000);
    }

    /** Codes P00000000, P00000001, ... one a line, written in pieces that cut lines, as a pipe delivers them. */
    private static void writeNumberedCodes(OutputStream out, int count) throws java.io.IOException {
        StringBuilder text = new StringBuilder(count * 10);
        for (int i = 0; i < count; i++) {
            text.append('P').append(String.format("%08d", i)).append('\n');
        }
        byte[] bytes = text.toString().getBytes(StandardCharsets.US_ASCII);
        for (int off = 0; off < bytes.length; off += 4093) {
            out.write(bytes, off, Math.min(4093, bytes.length - off));
        }
    }

    private static final java.util.regex.Pattern NUMBERED = java.util.regex.Pattern.compile("P[0-9]{8}");

    /** How many distinct codes of {@link #writeNumberedCodes} the topic holds; fails on any other value. */
    private static int distinctNumberedCodesIn(String topic) {
        Map<String, Object> config = Map.of("bootstrap.servers", KAFKA.bootstrapServers());
        java.util.BitSet seen = new java.util.BitSet();
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))
                    && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> {
                    String code = new String(r.value(), StandardCharsets.US_ASCII);
                    if (!NUMBERED.matcher(code).matches()) {
                        throw new AssertionError("topic " + topic + ": unexpected value '" + code + "'");
                    }
                    seen.set(Integer.parseInt(code, 1, 9, 10));
                });
            }
        }
        return seen.cardinality();
    }

    @Test
    void publish_missingFile_exitsOneNamingIt_withoutAClassName() {
        Path missing = dir.resolve("nope.txt");
        Cli.Run run = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), missing.toString());
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err().strip()).isEqualTo("publish: cannot read " + missing + ": no such file");
    }

    @Test
    void publish_directoryAndBinary_areRefused_andGetNoTopic() throws Exception {
        Path sub = Files.createDirectories(dir.resolve("adir"));
        Cli.Run run = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), sub.toString());
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.err().strip()).isEqualTo("publish: cannot publish " + sub + ": a directory (expected: a "
                + "coupon file, one code per line)");

        Path ls = dir.resolve("ls");
        Files.copy(Path.of(ProcessHandle.current().info().command().orElseThrow()), ls);   // the java binary
        Cli.Run binary = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--no-progress",
                ls.toString());
        assertThat(binary.exitCode()).as(binary.toString()).isEqualTo(1);
        assertThat(binary.err()).contains("publish: cannot publish " + ls + ": not a text file (a NUL byte");
        assertThat(topics()).doesNotContain("adir", "ls");
    }

    @Test
    void publish_emptyFile_warnsAndCreatesNoTopic_unlessAllowEmpty() throws Exception {
        Path empty = Files.createFile(dir.resolve("emptysource.txt"));
        Cli.Run run = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--no-progress",
                empty.toString());
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out().strip()).isEqualTo("skipped emptysource.txt: no code line (0 blank lines), topic "
                + "emptysource not created (--allow-empty creates it)");
        assertThat(topics()).doesNotContain("emptysource");

        Cli.Run allowed = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--no-progress",
                "--allow-empty", empty.toString());
        assertThat(allowed.exitCode()).as(allowed.toString()).isZero();
        assertThat(allowed.out()).contains("published emptysource.txt -> emptysource: 0 records");
        assertThat(topics()).contains("emptysource");
    }

    @Test
    void publish_aLaterFileFails_theEarlierResultLinesArePrintedAlready() throws Exception {
        Path good = Files.writeString(dir.resolve("goodfirst.txt"), "BIRTHDAY\nOVER9000\n");
        Path missing = dir.resolve("missingsecond.txt");
        Cli.Run run = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--no-progress",
                good.toString(), missing.toString());
        assertThat(run.exitCode()).isEqualTo(1);
        assertThat(run.out()).startsWith("published goodfirst.txt -> goodfirst: 2 records");
        assertThat(run.err().strip()).isEqualTo("publish: cannot read " + missing + ": no such file");
    }

    @Test
    void publish_topicReplicationFactorAndNoCreateTopics() throws Exception {
        Path file = Files.writeString(dir.resolve("anyname.txt"), "BIRTHDAY\nOVER9000\nHAPPYHRS\n");
        Cli.Run named = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--no-progress",
                "--topic", "chosen-topic", "--replication-factor", "1", "--partitions", "1", file.toString());
        assertThat(named.exitCode()).as(named.toString()).isZero();
        assertThat(named.out()).contains("-> chosen-topic: 3 records");
        assertThat(recordsIn("chosen-topic")).isEqualTo(3);

        Cli.Run tooMany = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--topic", "x",
                file.toString(), file.toString());
        assertThat(tooMany.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(tooMany.err()).contains("expected: exactly one file");

        Cli.Run badFactor = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--no-progress",
                "--topic", "replicated3", "--replication-factor", "3", file.toString());
        assertThat(badFactor.exitCode()).as(badFactor.toString()).isEqualTo(1);
        assertThat(badFactor.err()).contains("replicated3").contains("replication factor");

        Cli.Run noCreate = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--no-progress",
                "--no-create-topics", "--topic", "never-created", file.toString());
        assertThat(noCreate.exitCode()).isEqualTo(1);
        assertThat(noCreate.err().strip()).isEqualTo("publish: topic never-created does not exist, and creating "
                + "topics is off");
        assertThat(topics()).doesNotContain("never-created", "replicated3");
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

    private static java.util.Set<String> topics() throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", KAFKA.bootstrapServers()))) {
            return admin.listTopics().names().get();
        }
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
