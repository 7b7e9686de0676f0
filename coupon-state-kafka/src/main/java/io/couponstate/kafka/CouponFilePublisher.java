package io.couponstate.kafka;

import io.couponstate.kafka.internal.publish.CountingInputStream;
import io.couponstate.kafka.internal.partition.CodePartitioner;
import io.couponstate.kafka.internal.publish.FileCheck;
import io.couponstate.kafka.internal.publish.LineSplitter;
import io.couponstate.kafka.internal.publish.TopicPreparer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes coupon files (plain text or gzip, one code per line) to Kafka, one topic per file: the topic is the file
 * name without its extensions ({@code couponbase1.gz} → {@code couponbase1}) unless given. Each code becomes one
 * record whose value is the code's bytes and whose key is the same with {@code a-z} upper-cased (the canonical code),
 * so the default partitioner puts a code, however it is spelt, in the same partition number of every topic with the
 * same partition count (the topics are co-partitioned): the partition {@link PartitionedCouponState#partitionOf}
 * names.
 *
 * <pre>{@code
 * try (CouponFilePublisher publisher = CouponFilePublisher.builder()
 *         .bootstrapServers("127.0.0.1:9092")
 *         .partitions(3)
 *         .progressListener(p -> System.err.println(p.lines() + " lines"))
 *         .build()) {
 *     PublishResult result = publisher.publish(Path.of("couponbase1.gz"));
 * }
 * }</pre>
 *
 * <p><b>Lines.</b> Leading and trailing white space (including a {@code \r} before the {@code \n}) is dropped. A line
 * with nothing else is counted as blank and skipped. A line whose content is longer than
 * {@link Builder#maxLineLength(int)} bytes is counted as oversized and skipped: it is never sent, and it is never held
 * in memory whole. Anything else is sent as it is; checking the code format is the consumer's job (it counts and
 * reports what it rejects).
 *
 * <p><b>Checks before anything is sent.</b> A directory, a missing or unreadable file, and a file that is not text
 * lines are refused with a {@link PublishException} before any topic is created: the first
 * {@value #PREFIX_CHECK_BYTES} bytes (decompressed for gzip) are read first, and a NUL byte, or more than
 * {@link Builder#maxOversizedShare(double) a share} (default half) of lines longer than the line bound, means the
 * file is not a coupon file (a binary, a CSV export with long rows...). A file without a single code line is
 * skipped with a warning and no topic is created ({@link PublishResult#skippedEmpty()}), unless
 * {@link Builder#skipEmptyFiles(boolean) skipEmptyFiles(false)}: then its (empty) topic is created, for a source that
 * exists and has no codes yet.
 *
 * <p><b>Topics.</b> A missing topic is created with the configured partition count and {@code retention.ms=-1}: a
 * coupon file must stay replayable, since a consumer without a checkpoint rebuilds its state from the beginning. An
 * existing topic is used as it is.
 *
 * <p><b>Failures.</b> An unreadable, corrupt or truncated file, or a record the broker refuses, stops the file with a
 * {@link PublishException} naming the file and the line reached; it is thrown after the producer has been flushed, so
 * everything read before the failure is in Kafka, and {@link PublishException#sent()} says how much that is. The
 * messages are for people: {@code cannot read coupons/x.txt: no such file}, never an exception class name.
 *
 * <p><b>Producer.</b> Batching and lz4 compression by default ({@code linger.ms=5}, {@code batch.size=262144},
 * {@code compression.type=lz4}, {@code acks=all}, {@code enable.idempotence=false}: a duplicate from a retry is
 * harmless to a grow-only set); any of these can be overridden with
 * {@link Builder#producerProperty(String, Object)}. Security settings that the admin client needs too go through
 * {@link Builder#clientProperty(String, Object)}.
 *
 * <p><b>Threads.</b> Not thread-safe: one thread publishes one file at a time. The progress callback runs on that
 * thread.
 */
public final class CouponFilePublisher implements AutoCloseable {

    /* design notes
     *
     * Parts: FileCheck refuses what is not a file of code lines before anything is sent, TopicPreparer makes the
     * topic, LineSplitter splits the file into lines without a String per line, CodePartitioner places each code's
     * record where the partitioned state looks for it; this class sends and reports. Byte progress counts the bytes of the file itself (compressed
     * bytes for gzip), because that is what the file size, and so the ETA, is measured in.
     *
     * Failures: a send failure is reported on the producer's I/O thread; the first one is kept and the read loop
     * stops at its next check. Whatever ends the loop, the producer is flushed before publish() returns or throws.
     */

    /** The default bound on a line's length in bytes; codes are 8 to 12 characters, so this leaves ample room. */
    public static final int DEFAULT_MAX_LINE_LENGTH = 64;

    /** The default partition count of a topic this publisher creates. */
    public static final int DEFAULT_PARTITIONS = 3;

    private static final Logger LOG = LoggerFactory.getLogger(CouponFilePublisher.class);
    private static final Pattern LEGAL_TOPIC = Pattern.compile("[a-zA-Z0-9._-]{1,249}");
    private static final Set<String> OWNED_PRODUCER_PROPERTIES =
            Set.of(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG);
    private static final int PROGRESS_CHECK_LINES = 4096;

    /** How much of a file (decompressed) is checked for being text lines before anything is sent. */
    public static final int PREFIX_CHECK_BYTES = FileCheck.PREFIX_BYTES;

    private final TopicPreparer topics;
    private final int maxLineLength;
    private final double maxOversizedShare;
    private final boolean skipEmptyFiles;
    private final Consumer<? super PublishProgress> progressListener;
    private final long progressIntervalNanos;
    private final KafkaProducer<byte[], byte[]> producer;

    private CouponFilePublisher(Builder b) {
        Map<String, Object> clientProperties = Map.copyOf(b.clientProperties);
        this.topics = new TopicPreparer(b.bootstrapServers, clientProperties, b.partitions, b.replicationFactor,
                b.createTopics);
        this.maxLineLength = b.maxLineLength;
        this.maxOversizedShare = b.maxOversizedShare;
        this.skipEmptyFiles = b.skipEmptyFiles;
        this.progressListener = b.progressListener;
        this.progressIntervalNanos = b.progressInterval.toNanos();

        Map<String, Object> config = new HashMap<>();
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        // The state is a grow-only set: a duplicate from a retry or a reordering changes nothing, so the idempotent
        // producer's per-partition sequence state buys nothing here, and recovering it after a leader change can
        // wedge the producer in OUT_OF_ORDER_SEQUENCE_NUMBER retries (seen on 4.4.0 right after topic creation).
        config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false);
        config.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        config.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        config.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        config.put(ProducerConfig.CLIENT_ID_CONFIG, "coupon-file-publisher");
        config.putAll(clientProperties);
        config.putAll(b.producerProperties);
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, b.bootstrapServers);
        config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        this.producer = new KafkaProducer<>(config);
    }

    /**
     * A new builder; {@link Builder#bootstrapServers(String)} is required.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The topic a file is published to by default: its name without any extension
     * ({@code couponbase1.txt.gz} → {@code couponbase1}).
     *
     * @param file the file
     * @return the topic a file is published to by default: its name without any extension ({@code couponbase1.txt.gz} →
     *         {@code couponbase1})
     * @throws IllegalArgumentException when the result is not a legal Kafka topic name
     */
    public static String topicFor(Path file) {
        Objects.requireNonNull(file, "file");
        Path name = file.getFileName();
        String fileName = name == null ? "" : name.toString();
        int dot = fileName.indexOf('.', 1);
        String topic = dot < 0 ? fileName : fileName.substring(0, dot);
        if (!LEGAL_TOPIC.matcher(topic).matches()) {
            throw new IllegalArgumentException("file " + file + ": topic name derived from the file name '" + topic
                    + "' is not a legal Kafka topic name (expected: 1..249 of [a-zA-Z0-9._-]); give the topic");
        }
        return topic;
    }

    /**
     * Publishes a file to the topic named after it ({@link #topicFor(Path)}).
     *
     * @param file the coupon file, plain or gzip; a FIFO or {@code /dev/stdin} is read once, like any file
     * @return what was sent, skipped and counted
     * @throws IOException as {@link #publish(Path, String)}
     */
    public PublishResult publish(Path file) throws IOException {
        return publish(file, topicFor(file));
    }

    /**
     * Publishes every code line of {@code file} to {@code topic}, creating the topic if it is missing, and returns
     * once every record has been acknowledged. The file is opened and read once, so a FIFO, {@code /dev/stdin} or a
     * process substitution ({@code <(zcat file.gz)}) works as well as a regular file.
     *
     * @param file the coupon file, plain or gzip (by its {@code .gz} name or its first two bytes)
     * @param topic the topic to publish to
     * @return what was sent, skipped and counted
     * @throws PublishException when the file is missing, unreadable, a directory or not text lines (then nothing is
     *                          sent and no topic created), or cannot be read to its end or the broker refuses a
     *                          record (thrown after flushing what was read before)
     * @throws IOException when the topic cannot be created or described
     */
    public PublishResult publish(Path file, String topic) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(topic, "topic");
        checkTopic(topic);
        long totalBytes = FileCheck.checkFile(file);
        InputStream raw;
        try {
            raw = Files.newInputStream(file);
        } catch (IOException e) {
            throw new PublishException(file, 0, 0, "cannot read " + file + ": " + FileCheck.fileProblem(e), e);
        }
        try (raw) {
            return publish(file, raw, totalBytes, topic);
        }
    }

    /**
     * Publishes every code line read from {@code in} to {@code topic}, creating the topic if it is missing, and
     * returns once every record has been acknowledged: the entry point for standard input, a pipe, a socket or any
     * stream that can be read only once. The stream is read once, from where it stands to its end: gzip is
     * recognised by its first two bytes, and the first {@value #PREFIX_CHECK_BYTES} bytes (decompressed) are checked
     * to be text lines before anything is sent, from the same buffer that is then sent. The stream is not closed.
     *
     * @param in the coupon lines, plain or gzip; read to its end and left open
     * @param name what the result and messages call the input, e.g. {@code "standard input"}; it is
     *             {@link PublishResult#file()} as a path
     * @param topic the topic to publish to
     * @return what was sent, skipped and counted
     * @throws PublishException when the input is not text lines (then nothing is sent and no topic created), or
     *                          cannot be read to its end, or the broker refuses a record (thrown after flushing what
     *                          was read before)
     * @throws IOException when the topic cannot be created or described
     * @throws java.nio.file.InvalidPathException when {@code name} cannot be a path
     */
    public PublishResult publish(InputStream in, String name, String topic) throws IOException {
        Objects.requireNonNull(in, "in");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(topic, "topic");
        checkTopic(topic);
        return publish(Path.of(name), in, -1, topic);
    }

    private PublishResult publish(Path file, InputStream raw, long totalBytes, String topic) throws IOException {
        long startNanos = System.nanoTime();
        CountingInputStream counted = new CountingInputStream(raw);
        FileCheck.Prefix prefix = FileCheck.checkPrefix(file, counted, maxLineLength, maxOversizedShare);
        if (prefix.empty() && skipEmptyFiles) {
            LOG.warn("file {} holds no code line: skipped, topic {} not created", file, topic);
            return new PublishResult(file, topic, prefix.lines, 0, prefix.lines, 0, counted.count(),
                    Duration.ofNanos(System.nanoTime() - startNanos), true);
        }
        topics.ensure(topic);
        return new FileRun(file, topic, totalBytes, counted, prefix.stream).run();
    }

    private static void checkTopic(String topic) {
        if (!LEGAL_TOPIC.matcher(topic).matches()) {
            throw new IllegalArgumentException(
                    "topic: '" + topic + "' (expected: a legal Kafka topic name, 1..249 of [a-zA-Z0-9._-])");
        }
    }

    /** Flushes and closes the producer and the admin client. */
    @Override
    public void close() {
        try {
            producer.close();
        } catch (RuntimeException e) {
            LOG.warn("closing the producer failed", e);
        }
        topics.close();
    }

    /** The record key of a code (see {@link CodePartitioner#key}). */
    static byte[] canonicalKey(byte[] code) {
        return CodePartitioner.key(code);
    }

    /**
     * The partition a code's record goes to on a topic of {@code partitions}: the one the producer's default
     * partitioner would pick for its key, and {@link PartitionedCouponState#partitionOf} names, by construction.
     */
    static int partitionOf(byte[] code, int partitions) {
        return CodePartitioner.partition(code, 0, code.length, partitions);
    }

    /** The state of publishing one file. */
    private final class FileRun {
        private final Path file;
        private final String topic;
        private final long totalBytes;
        private final long startNanos = System.nanoTime();
        private final AtomicLong acked = new AtomicLong();
        private final AtomicReference<Exception> sendFailure = new AtomicReference<>();
        private final CountingInputStream counted;
        private final InputStream content; // decompressed, from the first byte
        /** One callback for every record of the file; runs on the producer's I/O thread. */
        private final Callback onAck = (metadata, exception) -> {
            if (exception == null) {
                acked.incrementAndGet();
            } else {
                sendFailure.compareAndSet(null, exception);   // keep the first; the read loop stops on it
            }
        };
        private long lines;
        private long sentAttempted;
        private long blank;
        private long oversized;
        private long lastProgressNanos = startNanos;
        private int partitionCount; // of the topic, read before the first send

        private FileRun(Path file, String topic, long totalBytes, CountingInputStream counted, InputStream content) {
            this.file = file;
            this.topic = topic;
            this.totalBytes = totalBytes;
            this.counted = counted;
            this.content = content;
        }

        PublishResult run() throws IOException {
            try {
                readAll();
            } catch (IOException e) {
                flushQuietly();
                throw failure("unreadable after line " + lines + " (" + FileCheck.fileProblem(e) + ")", e);
            } catch (KafkaException e) {
                flushQuietly();
                throw failure("sending line " + (lines + 1) + " failed: " + FileCheck.words(e), e);
            }
            producer.flush();
            Exception failed = sendFailure.get();
            if (failed != null) {
                throw failure("the broker refused a record (" + FileCheck.words(failed) + ")", failed);
            }
            report(true);
            return new PublishResult(file, topic, lines, acked.get(), blank, oversized, counted.count(),
                    Duration.ofNanos(System.nanoTime() - startNanos));
        }

        private void readAll() throws IOException {
            new LineSplitter(maxLineLength).split(content, this::endLine);
        }

        private void endLine(byte[] line, int contentLen, boolean tooLong) throws PublishException {
            lines++;
            if (tooLong) {
                oversized++;
            } else if (contentLen == 0) {
                blank++;
            } else {
                byte[] code = Arrays.copyOf(line, contentLen);
                if (partitionCount == 0) {
                    partitionCount = producer.partitionsFor(topic).size();
                }
                producer.send(new ProducerRecord<>(topic, partitionOf(code, partitionCount), canonicalKey(code),
                        code), onAck);
                sentAttempted++;
            }
            if (lines % PROGRESS_CHECK_LINES == 0) {
                Exception failed = sendFailure.get();
                if (failed != null) {
                    flushQuietly();
                    throw failure("the broker refused a record (" + FileCheck.words(failed) + ")", failed);
                }
                long now = System.nanoTime();
                if (now - lastProgressNanos >= progressIntervalNanos) {
                    lastProgressNanos = now;
                    report(false);
                }
            }
        }

        private void report(boolean done) {
            if (progressListener != null) {
                progressListener.accept(new PublishProgress(file, topic, lines, counted.count(), totalBytes,
                        Duration.ofNanos(System.nanoTime() - startNanos), done));
            }
        }

        private void flushQuietly() {
            try {
                producer.flush();
            } catch (RuntimeException e) {
                LOG.warn("file {}: flushing after a failure failed too", file, e);
            }
        }

        private PublishException failure(String what, Throwable cause) {
            return new PublishException(file, lines, acked.get(), "file " + file + " (topic " + topic + "): " + what
                    + "; " + acked.get() + " of " + sentAttempted + " records read before it were sent and flushed",
                    cause);
        }
    }

    /** Builds a {@link CouponFilePublisher}. Not thread-safe. */
    public static final class Builder {
        private String bootstrapServers;
        private int partitions = DEFAULT_PARTITIONS;
        private Optional<Short> replicationFactor = Optional.empty();
        private boolean createTopics = true;
        private int maxLineLength = DEFAULT_MAX_LINE_LENGTH;
        private double maxOversizedShare = 0.5;
        private boolean skipEmptyFiles = true;
        private final Map<String, Object> clientProperties = new HashMap<>();
        private final Map<String, Object> producerProperties = new HashMap<>();
        private Consumer<? super PublishProgress> progressListener;
        private Duration progressInterval = Duration.ofMillis(500);

        private Builder() {
        }

        /**
         * The Kafka cluster to publish to, {@code host:port[,host:port...]}; required.
         *
         * @param bootstrapServers the Kafka bootstrap servers, {@code host:port[,host:port...]}
         * @return this builder
         */
        public Builder bootstrapServers(String bootstrapServers) {
            this.bootstrapServers = Objects.requireNonNull(bootstrapServers, "bootstrapServers");
            return this;
        }

        /**
         * The partition count of topics this publisher creates; default {@value #DEFAULT_PARTITIONS}.
         *
         * @param partitions the number of partitions
         * @return this builder
         */
        public Builder partitions(int partitions) {
            if (partitions < 1) {
                throw new IllegalArgumentException("partitions: " + partitions + " (expected: >= 1)");
            }
            this.partitions = partitions;
            return this;
        }

        /**
         * The replication factor of topics this publisher creates; default: the broker's default.
         *
         * @param replicationFactor the replication factor
         * @return this builder
         */
        public Builder replicationFactor(short replicationFactor) {
            if (replicationFactor < 1) {
                throw new IllegalArgumentException("replicationFactor: " + replicationFactor + " (expected: >= 1)");
            }
            this.replicationFactor = Optional.of(replicationFactor);
            return this;
        }

        /**
         * Whether missing topics are created (default true); when false, they must exist already.
         *
         * @param createTopics the create topics
         * @return this builder
         */
        public Builder createTopics(boolean createTopics) {
            this.createTopics = createTopics;
            return this;
        }

        /**
         * The longest line content, in bytes, that is sent; longer lines are counted and skipped. Default
         * {@value #DEFAULT_MAX_LINE_LENGTH}.
         *
         * @param maxLineLength the max line length
         * @return this builder
         */
        public Builder maxLineLength(int maxLineLength) {
            if (maxLineLength < 1 || maxLineLength > 1 << 20) {
                throw new IllegalArgumentException("maxLineLength: " + maxLineLength + " (expected: 1..1048576)");
            }
            this.maxLineLength = maxLineLength;
            return this;
        }

        /**
         * The largest share of a file's first {@value CouponFilePublisher#PREFIX_CHECK_BYTES} bytes' lines that may
         * be longer than {@link #maxLineLength(int)} (0..1, default 0.5); above it the file is refused as not a
         * coupon file before anything is sent. 1 turns the check off.
         *
         * @param maxOversizedShare the max oversized share
         * @return this builder
         */
        public Builder maxOversizedShare(double maxOversizedShare) {
            if (!(maxOversizedShare >= 0 && maxOversizedShare <= 1)) {
                throw new IllegalArgumentException("maxOversizedShare: " + maxOversizedShare + " (expected: 0..1)");
            }
            this.maxOversizedShare = maxOversizedShare;
            return this;
        }

        /**
         * Whether a file without a single code line is skipped with a warning, its topic not created (default true);
         * false creates its empty topic, for a source that exists and has no codes yet.
         *
         * @param skipEmptyFiles the skip empty files
         * @return this builder
         */
        public Builder skipEmptyFiles(boolean skipEmptyFiles) {
            this.skipEmptyFiles = skipEmptyFiles;
            return this;
        }

        /**
         * A property for both the producer and the admin client that creates topics, typically security settings
         * ({@code security.protocol}, {@code sasl.jaas.config}, {@code ssl.truststore.location}...).
         *
         * @param name the name
         * @param value the value to set
         * @return this builder
         */
        public Builder clientProperty(String name, Object value) {
            clientProperties.put(checkProperty(name), Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * A producer property, overriding the publisher's defaults; the serializers are the publisher's own.
         *
         * @param name the name
         * @param value the value to set
         * @return this builder
         */
        public Builder producerProperty(String name, Object value) {
            producerProperties.put(checkProperty(name), Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Called on the publishing thread about every {@link #progressInterval(Duration)} and once at the end.
         *
         * @param progressListener the progress listener
         * @return this builder
         */
        public Builder progressListener(Consumer<? super PublishProgress> progressListener) {
            this.progressListener = progressListener;
            return this;
        }

        /**
         * How often the progress listener is called at most; default 500 ms.
         *
         * @param progressInterval the progress interval
         * @return this builder
         */
        public Builder progressInterval(Duration progressInterval) {
            Objects.requireNonNull(progressInterval, "progressInterval");
            if (progressInterval.isNegative()) {
                throw new IllegalArgumentException("progressInterval: " + progressInterval + " (expected: >= 0)");
            }
            this.progressInterval = progressInterval;
            return this;
        }

        /**
         * Creates the publisher and its producer.
         *
         * @return the new CouponFilePublisher
         */
        public CouponFilePublisher build() {
            if (bootstrapServers == null || bootstrapServers.isBlank()) {
                throw new IllegalStateException("bootstrapServers is required (e.g. \"127.0.0.1:9092\")");
            }
            return new CouponFilePublisher(this);
        }

        private static String checkProperty(String name) {
            Objects.requireNonNull(name, "name");
            if (OWNED_PRODUCER_PROPERTIES.contains(name)) {
                throw new IllegalArgumentException(name + ": set by the publisher (records are byte[] key and value)");
            }
            if (ProducerConfig.BOOTSTRAP_SERVERS_CONFIG.equals(name)) {
                throw new IllegalArgumentException(name + ": use bootstrapServers(...)");
            }
            if (ProducerConfig.PARTITIONER_CLASS_CONFIG.equals(name)) {
                throw new IllegalArgumentException(name + ": set by the publisher (each record goes to its code's "
                        + "partition, so that the topics stay co-partitioned; expected: no partitioner.class)");
            }
            return name;
        }
    }
}
