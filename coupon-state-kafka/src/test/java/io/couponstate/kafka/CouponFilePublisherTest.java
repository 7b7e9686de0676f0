package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import java.util.zip.GZIPOutputStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

@Tag("integration")
class CouponFilePublisherTest {

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    Path dir;

    @Test
    void publish_plainFile_sendsEachCodeKeyedByItselfAndSkipsBlankAndOversizedLines() throws Exception {
        Path file = dir.resolve("plainsource.txt");
        String oversized = "X".repeat(CouponFilePublisher.DEFAULT_MAX_LINE_LENGTH + 1);
        Files.writeString(file, "BIRTHDAY\n\n   \nOVER9000\r\n" + oversized + "\n  HAPPYHRS \t\nLASTLINE",
                StandardCharsets.US_ASCII);
        List<PublishProgress> progress = new CopyOnWriteArrayList<>();

        PublishResult result;
        try (CouponFilePublisher publisher = publisher(2).progressListener(progress::add).build()) {
            result = publisher.publish(file);
        }

        assertThat(result.topic()).isEqualTo("plainsource");
        assertThat(result.lines()).isEqualTo(7);
        assertThat(result.sent()).isEqualTo(4);
        assertThat(result.blankLines()).isEqualTo(2);
        assertThat(result.oversizedLines()).isEqualTo(1);
        assertThat(result.bytesRead()).isEqualTo(Files.size(file));
        List<ConsumerRecord<byte[], byte[]>> records = consume("plainsource", 4);
        assertThat(records).allSatisfy(r -> assertThat(r.key()).isEqualTo(r.value()));
        assertThat(values(records)).containsExactlyInAnyOrder("BIRTHDAY", "OVER9000", "HAPPYHRS", "LASTLINE");
        assertThat(progress).last().satisfies(p -> {
            assertThat(p.done()).isTrue();
            assertThat(p.lines()).isEqualTo(7);
            assertThat(p.fraction()).isEqualTo(1.0);
            assertThat(p.estimatedTimeLeft()).contains(Duration.ZERO);
        });
    }

    @Test
    void publish_missingTopic_isCreatedWithThePartitionCountAndUnlimitedRetention() throws Exception {
        Path file = dir.resolve("retained.txt");
        Files.writeString(file, "BIRTHDAY\n");
        try (CouponFilePublisher publisher = publisher(4).build()) {
            publisher.publish(file);
        }
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", KAFKA.bootstrapServers()))) {
            TopicDescription description = admin.describeTopics(List.of("retained")).allTopicNames().get()
                    .get("retained");
            assertThat(description.partitions()).hasSize(4);
            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, "retained");
            String retention = admin.describeConfigs(List.of(resource)).all().get().get(resource)
                    .get("retention.ms").value();
            assertThat(retention).isEqualTo("-1");
        }
    }

    @Test
    void publish_gzipFile_isDecompressedAndNamedWithoutItsExtensions() throws Exception {
        List<String> codes = randomCodes(5_000, 9, 42);
        Path file = dir.resolve("zipped.txt.gz");
        writeGzip(file, codes);

        PublishResult result;
        try (CouponFilePublisher publisher = publisher(3).build()) {
            result = publisher.publish(file);
        }

        assertThat(result.topic()).isEqualTo("zipped");
        assertThat(result.sent()).isEqualTo(codes.size());
        assertThat(result.bytesRead()).isEqualTo(Files.size(file));
        assertThat(values(consume("zipped", codes.size()))).containsExactlyInAnyOrderElementsOf(codes);
    }

    @Test
    void publish_truncatedGzip_failsNamingTheFileAndLineAfterFlushingWhatWasRead() throws Exception {
        List<String> codes = randomCodes(60_000, 10, 7);
        Path whole = dir.resolve("whole.gz");
        writeGzip(whole, codes);
        byte[] bytes = Files.readAllBytes(whole);
        Path file = dir.resolve("truncated.gz");
        Files.write(file, Arrays.copyOf(bytes, bytes.length / 2));

        try (CouponFilePublisher publisher = publisher(2).build()) {
            assertThatThrownBy(() -> publisher.publish(file))
                    .isInstanceOf(PublishException.class)
                    .hasMessageContaining(file.toString())
                    .hasMessageContaining("truncated")
                    .satisfies(e -> {
                        PublishException p = (PublishException) e;
                        assertThat(p.lineReached()).isBetween(1L, (long) codes.size() - 1);
                        assertThat(p.getMessage()).contains("after line " + p.lineReached());
                        assertThat(p.sent()).isEqualTo(p.lineReached());
                        // everything read before the failure is in Kafka, in file order per partition
                        List<String> inKafka = values(consume("truncated", (int) p.sent()));
                        assertThat(inKafka).containsExactlyInAnyOrderElementsOf(
                                codes.subList(0, (int) p.lineReached()));
                    });
        }
    }

    @Test
    void publish_notGzipButNamedGz_failsWithAClearError() throws Exception {
        Path file = dir.resolve("fake.gz");
        Files.writeString(file, "BIRTHDAY\n");
        try (CouponFilePublisher publisher = publisher(1).build()) {
            assertThatThrownBy(() -> publisher.publish(file))
                    .isInstanceOf(PublishException.class)
                    .hasMessageContaining(file.toString())
                    .hasMessageContaining("GZIP");
        }
    }

    @Test
    void publish_notGzipButNamedGz_createsNoTopic() throws Exception {
        Path file = dir.resolve("fakegz2.gz");
        Files.writeString(file, "BIRTHDAY\n");
        try (CouponFilePublisher publisher = publisher(1).build()) {
            assertThatThrownBy(() -> publisher.publish(file)).isInstanceOf(PublishException.class)
                    .hasMessage("cannot read " + file + ": not valid gzip data (Not in GZIP format)");
        }
        assertThat(topicExists("fakegz2")).isFalse();
    }

    @Test
    void publish_directory_isRefusedBeforeAnyTopicIsCreated() throws Exception {
        Path sub = Files.createDirectories(dir.resolve("adir"));
        try (CouponFilePublisher publisher = publisher(1).build()) {
            assertThatThrownBy(() -> publisher.publish(sub)).isInstanceOf(PublishException.class)
                    .hasMessage("cannot publish " + sub + ": a directory (expected: a coupon file, one code per "
                            + "line)");
        }
        assertThat(topicExists("adir")).isFalse();
    }

    @Test
    void aPartitionerProperty_isRefused_asThePublisherPlacesEachCode() {
        assertThatThrownBy(() -> CouponFilePublisher.builder().producerProperty("partitioner.class",
                "org.apache.kafka.clients.producer.RoundRobinPartitioner"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("partitioner.class: set by the publisher");
    }

    @Test
    void publish_missingFile_saysNoSuchFile() throws Exception {
        Path missing = dir.resolve("nofile.txt");
        try (CouponFilePublisher publisher = publisher(1).build()) {
            assertThatThrownBy(() -> publisher.publish(missing)).isInstanceOf(PublishException.class)
                    .hasMessage("cannot read " + missing + ": no such file");
        }
        assertThat(topicExists("nofile")).isFalse();
    }

    @Test
    void publish_binaryFile_isRefusedBeforeAnyTopicIsCreated() throws Exception {
        Path file = dir.resolve("binary1");
        byte[] bytes = new byte[10_000];
        new Random(3).nextBytes(bytes);
        bytes[100] = 0;
        Files.write(file, bytes);
        try (CouponFilePublisher publisher = publisher(1).build()) {
            assertThatThrownBy(() -> publisher.publish(file)).isInstanceOf(PublishException.class)
                    .hasMessageStartingWith("cannot publish " + file + ": not a text file (a NUL byte at byte ");
        }
        assertThat(topicExists("binary1")).isFalse();
    }

    @Test
    void publish_mostlyOversizedLines_isRefused_aFewAreSkipped() throws Exception {
        Path csv = dir.resolve("export1.csv");
        StringBuilder rows = new StringBuilder();
        for (int i = 0; i < 2_000; i++) {
            rows.append("CODE").append(i).append(",").append("x".repeat(80)).append('\n');
        }
        Files.writeString(csv, rows);
        try (CouponFilePublisher publisher = publisher(1).build()) {
            assertThatThrownBy(() -> publisher.publish(csv)).isInstanceOf(PublishException.class)
                    .hasMessageContaining("not a coupon file (")
                    .hasMessageContaining("lines in the first 65536 bytes are longer than 64 bytes");
            Path fewLong = dir.resolve("fewlong1.txt");
            Files.writeString(fewLong, "BIRTHDAY\nOVER9000\n" + "Z".repeat(100) + "\n");
            PublishResult r = publisher.publish(fewLong);
            assertThat(r.sent()).isEqualTo(2);
            assertThat(r.oversizedLines()).isEqualTo(1);
        }
        assertThat(topicExists("export1")).isFalse();
    }

    @Test
    void publish_emptyFile_isSkippedWithoutATopic_unlessAsked() throws Exception {
        Path empty = Files.writeString(dir.resolve("empty1.txt"), "\n  \n");
        Path empty2 = Files.createFile(dir.resolve("empty2.txt"));
        try (CouponFilePublisher publisher = publisher(1).build()) {
            PublishResult r = publisher.publish(empty);
            assertThat(r.skippedEmpty()).isTrue();
            assertThat(r.sent()).isZero();
            assertThat(r.blankLines()).isEqualTo(2);
            assertThat(publisher.publish(empty2).skippedEmpty()).isTrue();
        }
        assertThat(topicExists("empty1")).isFalse();
        assertThat(topicExists("empty2")).isFalse();
        try (CouponFilePublisher publisher = publisher(1).skipEmptyFiles(false).build()) {
            PublishResult r = publisher.publish(empty2);
            assertThat(r.skippedEmpty()).isFalse();
        }
        assertThat(topicExists("empty2")).isTrue();
    }

    @Test
    void publish_withoutTopicCreation_failsForAMissingTopic() throws Exception {
        Path file = Files.writeString(dir.resolve("nocreate1.txt"), "BIRTHDAY\n");
        try (CouponFilePublisher publisher = publisher(1).createTopics(false).build()) {
            assertThatThrownBy(() -> publisher.publish(file)).isInstanceOf(IOException.class)
                    .hasMessage("topic nocreate1 does not exist, and creating topics is off");
        }
        assertThat(topicExists("nocreate1")).isFalse();
    }

    @Test
    void publish_explicitTopic_overridesTheFileName() throws Exception {
        Path file = dir.resolve("anything.csv");
        Files.writeString(file, "OVER9000\n");
        try (CouponFilePublisher publisher = publisher(1).build()) {
            assertThat(publisher.publish(file, "explicit-topic").topic()).isEqualTo("explicit-topic");
        }
        assertThat(values(consume("explicit-topic", 1))).containsExactly("OVER9000");
    }

    @Test
    void publish_recordTheProducerRefuses_failsNamingTheFileAfterFlushing() throws Exception {
        Path file = dir.resolve("refused.txt");
        Files.writeString(file, "BIRTHDAY\n" + "Y".repeat(300) + "\nOVER9000\n");
        try (CouponFilePublisher publisher = publisher(1).maxLineLength(1_000)
                .producerProperty("max.request.size", 200).build()) {
            assertThatThrownBy(() -> publisher.publish(file))
                    .isInstanceOf(PublishException.class)
                    .hasMessageContaining(file.toString())
                    .hasMessageContaining("refused")
                    .hasMessageContaining("2 of 3 records read before it were sent");
        }
        assertThat(values(consume("refused", 2))).containsExactlyInAnyOrder("BIRTHDAY", "OVER9000");
    }

    @Test
    void progress_reportsFractionRateAndEstimatedTimeLeft() {
        PublishProgress halfway = new PublishProgress(Path.of("f.gz"), "f", 500, 1_000, 2_000, Duration.ofSeconds(2),
                false);
        assertThat(halfway.fraction()).isEqualTo(0.5);
        assertThat(halfway.linesPerSecond()).isEqualTo(250.0);
        assertThat(halfway.bytesPerSecond()).isEqualTo(500.0);
        assertThat(halfway.estimatedTimeLeft()).contains(Duration.ofSeconds(2));
        PublishProgress unknownSize = new PublishProgress(Path.of("f"), "f", 1, 1, -1, Duration.ofSeconds(1), false);
        assertThat(unknownSize.fraction()).isEqualTo(-1);
        assertThat(unknownSize.estimatedTimeLeft()).isEmpty();
    }

    @Test
    void topicFor_stripsEveryExtensionAndRejectsIllegalNames() {
        assertThat(CouponFilePublisher.topicFor(Path.of("/data/couponbase1.gz"))).isEqualTo("couponbase1");
        assertThat(CouponFilePublisher.topicFor(Path.of("couponbase2"))).isEqualTo("couponbase2");
        assertThatThrownBy(() -> CouponFilePublisher.topicFor(Path.of("bad name.txt")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bad name")
                .hasMessageContaining("[a-zA-Z0-9._-]");
    }

    @Test
    void publish_inputStreamFromAPipe_sendsEveryLineOnce() throws Exception {
        List<String> codes = randomCodes(200_000, 10, 17L);
        PipedInputStream pipe = new PipedInputStream(8192);
        Thread writer = writeInBackground(new PipedOutputStream(pipe), codes, false);

        PublishResult result;
        try (CouponFilePublisher publisher = publisher(3).build(); pipe) {
            result = publisher.publish(pipe, "standard input", "pipedstream");
        }
        writer.join();

        assertThat(result.file()).isEqualTo(Path.of("standard input"));
        assertThat(result.lines()).isEqualTo(200_000);
        assertThat(result.sent()).isEqualTo(200_000);
        assertThat(sorted(values(consume("pipedstream", 200_000)))).isEqualTo(sorted(codes));
    }

    @Test
    void publish_gzipThroughAFifo_isSniffedFromTheSameStreamAndSentOnce() throws Exception {
        List<String> codes = randomCodes(50_000, 9, 18L);
        Path fifo = dir.resolve("piped.gz.fifo");   // not named .gz: gzip must be recognised by its bytes
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertThat(mkfifo.waitFor()).isZero();
        Thread writer = new Thread(() -> {
            try (OutputStream out = Files.newOutputStream(fifo)) {
                writeLines(out, codes, true);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, "fifo-writer");
        writer.start();

        PublishResult result;
        try (CouponFilePublisher publisher = publisher(3).build()) {
            result = publisher.publish(fifo, "pipedgzip");
        }
        writer.join();

        assertThat(result.sent()).isEqualTo(50_000);
        assertThat(sorted(values(consume("pipedgzip", 50_000)))).isEqualTo(sorted(codes));
    }

    @Test
    void publish_binaryStream_isRefusedBeforeAnyTopicIsCreated() throws Exception {
        byte[] binary = new byte[1000];
        binary[500] = 0;
        Arrays.fill(binary, 0, 500, (byte) 'A');
        try (CouponFilePublisher publisher = publisher(1).build()) {
            assertThatThrownBy(() -> publisher.publish(new ByteArrayInputStream(binary), "standard input",
                    "binarystream")).isInstanceOf(PublishException.class)
                    .hasMessageContaining("cannot publish standard input: not a text file (a NUL byte at byte 500");
        }
        assertThat(topicExists("binarystream")).isFalse();
    }

    /** A sorted copy: containsExactlyInAnyOrder is quadratic, too slow for 200,000 elements. */
    private static List<String> sorted(List<String> list) {
        List<String> copy = new ArrayList<>(list);
        copy.sort(null);
        return copy;
    }

    private static Thread writeInBackground(OutputStream out, List<String> codes, boolean gzip) {
        Thread writer = new Thread(() -> {
            try (out) {
                writeLines(out, codes, gzip);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, "pipe-writer");
        writer.start();
        return writer;
    }

    /** Writes in small pieces, as a pipe delivers them, with a line cut across two writes now and then. */
    private static void writeLines(OutputStream sink, List<String> codes, boolean gzip) throws IOException {
        OutputStream out = gzip ? new GZIPOutputStream(sink, 512) : sink;
        byte[] all = (String.join("\n", codes) + "\n").getBytes(StandardCharsets.US_ASCII);
        for (int off = 0; off < all.length; off += 4093) {
            out.write(all, off, Math.min(4093, all.length - off));
            out.flush();
        }
        if (gzip) {
            ((GZIPOutputStream) out).finish();
        }
        out.flush();
    }

    @Test
    void builder_rejectsOwnedPropertiesAndMissingBootstrap() {
        assertThatThrownBy(() -> CouponFilePublisher.builder().producerProperty("key.serializer", "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("key.serializer");
        assertThatThrownBy(() -> CouponFilePublisher.builder().partitions(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("partitions: 0");
        assertThatThrownBy(() -> CouponFilePublisher.builder().build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("bootstrapServers");
    }

    private static CouponFilePublisher.Builder publisher(int partitions) {
        return CouponFilePublisher.builder().bootstrapServers(KAFKA.bootstrapServers()).partitions(partitions);
    }

    private static List<String> randomCodes(int count, int length, long seed) {
        Random random = new Random(seed);
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        List<String> codes = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            StringBuilder sb = new StringBuilder(length);
            for (int j = 0; j < length; j++) {
                sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
            }
            codes.add(sb.toString());
        }
        return codes;
    }

    private static boolean topicExists(String topic) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", KAFKA.bootstrapServers()))) {
            return admin.listTopics().names().get().contains(topic);
        }
    }

    private static void writeGzip(Path file, Collection<String> codes) throws IOException {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        for (String code : codes) {
            raw.writeBytes((code + "\n").getBytes(StandardCharsets.US_ASCII));
        }
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
            raw.writeTo(out);
        }
    }

    private static List<String> values(List<ConsumerRecord<byte[], byte[]>> records) {
        return records.stream().map(r -> new String(r.value(), StandardCharsets.US_ASCII))
                .collect(Collectors.toList());
    }

    /** Reads exactly {@code expected} records from every partition of the topic, then checks that no more come. */
    private static List<ConsumerRecord<byte[], byte[]>> consume(String topic, int expected) {
        Map<String, Object> config = Map.of("bootstrap.servers", KAFKA.bootstrapServers());
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).collect(Collectors.toList());
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long endTotal = consumer.endOffsets(partitions).values().stream().mapToLong(Long::longValue).sum();
            assertThat(endTotal).as("records in topic %s", topic).isEqualTo(expected);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (out.size() < expected && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        assertThat(out).hasSize(expected);
        return out;
    }
}
