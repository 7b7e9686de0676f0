package io.couponstate.kafka;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * An {@link InvalidRecordHandler} that copies each bad record (key, value, headers) to a dead-letter topic, adding
 * headers {@code couponstate.reason}, {@code couponstate.topic}, {@code couponstate.partition} and
 * {@code couponstate.offset}.
 *
 * <p><b>Oversized records.</b> A bad record is often bad because it is huge, and a copy over the producer's
 * {@code max.request.size} (or {@code buffer.memory}) would fail its send and so the runner. Such a copy is sent
 * truncated instead: key and value are cut to prefixes so that the record fits with a margin, and headers
 * {@link #TRUNCATED_HEADER} ({@code true}), {@link #ORIGINAL_VALUE_SIZE_HEADER} and {@link #ORIGINAL_KEY_SIZE_HEADER}
 * (for a non-null key) say what was cut. Original headers too large to copy (over a quarter of the limit together)
 * are left out and counted in {@link #DROPPED_HEADERS_HEADER}. The dead-letter topic's own
 * {@code max.message.bytes} must be at least the producer's {@code max.request.size} (the broker's and the
 * producer's defaults are).
 *
 * <p>Thread-safe as the handler contract needs: {@link #handle} sends asynchronously on an apply thread (one call
 * at a time); {@link #flush()} (called before each checkpoint is written) waits until every record sent so far is acknowledged,
 * so no dead letter is lost across a crash (one may be sent twice). A send that failed makes {@code flush} throw, so
 * the checkpoint that would skip past it is not written, and the next {@code handle} throw, which stops the runner in
 * {@code FAILED}: bad records are never dropped silently. {@link #close()} throws too when a send failed.
 */
public final class DeadLetterTopicHandler implements InvalidRecordHandler {

    /** Header naming the {@link InvalidRecordReason}. */
    public static final String REASON_HEADER = "couponstate.reason";
    /** Header with the source topic. */
    public static final String TOPIC_HEADER = "couponstate.topic";
    /** Header with the source partition. */
    public static final String PARTITION_HEADER = "couponstate.partition";
    /** Header with the source offset. */
    public static final String OFFSET_HEADER = "couponstate.offset";
    /** Header {@code true} on a copy whose key or value was cut to fit the producer's limit. */
    public static final String TRUNCATED_HEADER = "couponstate.truncated";
    /** Header with the original value's length in bytes, on a truncated copy. */
    public static final String ORIGINAL_VALUE_SIZE_HEADER = "couponstate.original.value.size";
    /** Header with the original key's length in bytes, on a truncated copy of a record with a key. */
    public static final String ORIGINAL_KEY_SIZE_HEADER = "couponstate.original.key.size";
    /** Header with how many original headers were left out because together they were too large to copy. */
    public static final String DROPPED_HEADERS_HEADER = "couponstate.dropped.headers";
    /** The producer's {@code max.request.size} when none is configured. */
    public static final int DEFAULT_MAX_REQUEST_SIZE = 1_048_576;

    /*
     * Size accounting
     *   A record's size as the producer checks it is at most: the batch header (61 bytes), the record's varints
     *   (attributes, timestamp and offset deltas, key, value and header lengths, count: 36 bytes at most), then per
     *   header its key and value plus two length varints (10 bytes). The copy gets that plus a fixed margin (so a
     *   future client's slightly larger framing, or a timestamp varint, never tips it over), and whatever room is
     *   left goes to key and value.
     */

    private static final int BATCH_AND_RECORD_OVERHEAD = 61 + 36;
    private static final int PER_HEADER_OVERHEAD = 10;
    private static final int MARGIN = 1024;

    private final String topic;
    private final Producer<byte[], byte[]> producer;
    private final int maxRecordBytes;
    private volatile Exception sendFailure; // volatile: written by the producer's I/O thread, read by the apply threads

    /**
     * A handler with its own producer.
     *
     * @param topic the dead-letter topic
     * @param producerConfig producer settings; {@code bootstrap.servers} at least. Serializers are set here; acks
     *     default to {@code all}. Its {@code max.request.size} and {@code buffer.memory} bound the copies.
     */
    public DeadLetterTopicHandler(String topic, Map<String, Object> producerConfig) {
        this.topic = Objects.requireNonNull(topic, "topic");
        Map<String, Object> config = new HashMap<>(Objects.requireNonNull(producerConfig, "producerConfig"));
        config.putIfAbsent("acks", "all");
        this.maxRecordBytes = (int) Math.min(
                setting(config, ProducerConfig.MAX_REQUEST_SIZE_CONFIG, DEFAULT_MAX_REQUEST_SIZE),
                setting(config, ProducerConfig.BUFFER_MEMORY_CONFIG, Long.MAX_VALUE));
        this.producer = new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /**
     * A handler sending with {@code producer}, which it closes on {@link #close()}; the producer's
     * {@code max.request.size} is taken to be the default, {@value #DEFAULT_MAX_REQUEST_SIZE}.
     *
     * @param topic the topic
     * @param producer the producer
     */
    public DeadLetterTopicHandler(String topic, Producer<byte[], byte[]> producer) {
        this(topic, producer, DEFAULT_MAX_REQUEST_SIZE);
    }

    /**
     * A handler sending with {@code producer}, which it closes on {@link #close()}.
     *
     * @param maxRequestSize the producer's {@code max.request.size}: copies are cut to fit it
     * @param topic the topic
     * @param producer the producer
     */
    public DeadLetterTopicHandler(String topic, Producer<byte[], byte[]> producer, int maxRequestSize) {
        this.topic = Objects.requireNonNull(topic, "topic");
        this.producer = Objects.requireNonNull(producer, "producer");
        if (maxRequestSize < 1) {
            throw new IllegalArgumentException("maxRequestSize: " + maxRequestSize + " (expected: >= 1)");
        }
        this.maxRecordBytes = maxRequestSize;
    }

    /**
     * The dead-letter topic.
     *
     * @return the dead-letter topic
     */
    public String topic() {
        return topic;
    }

    @Override
    public void handle(ConsumerRecord<byte[], byte[]> record, InvalidRecordReason reason) {
        throwIfFailed();
        Headers headers = new RecordHeaders();
        int dropped = 0;
        if (size(record.headers()) <= maxRecordBytes / 4) {
            for (Header h : record.headers()) {
                headers.add(h);
            }
        } else {
            for (Header ignored : record.headers()) {
                dropped++;
            }
        }
        headers.add(REASON_HEADER, utf8(reason.name()));
        headers.add(TOPIC_HEADER, utf8(record.topic()));
        headers.add(PARTITION_HEADER, utf8(Integer.toString(record.partition())));
        headers.add(OFFSET_HEADER, utf8(Long.toString(record.offset())));
        if (dropped > 0) {
            headers.add(DROPPED_HEADERS_HEADER, utf8(Integer.toString(dropped)));
        }
        byte[] key = record.key();
        byte[] value = record.value();
        int keyLength = key == null ? 0 : key.length;
        int valueLength = value == null ? 0 : value.length;
        // room for the truncation headers too, so that adding them cannot break the fit
        long room = (long) maxRecordBytes - BATCH_AND_RECORD_OVERHEAD - MARGIN - size(headers)
                - 3L * (PER_HEADER_OVERHEAD + 40);
        if (keyLength + (long) valueLength > room) {
            int space = (int) Math.max(0, room);
            int keyKept;
            if (keyLength <= space / 2) {
                keyKept = keyLength; // a small key is kept whole; the value gets the rest
            } else if (valueLength <= space / 2) {
                keyKept = space - valueLength;
            } else {
                keyKept = space / 2;
            }
            int valueKept = Math.min(valueLength, space - keyKept);
            headers.add(TRUNCATED_HEADER, utf8("true"));
            if (value != null) {
                headers.add(ORIGINAL_VALUE_SIZE_HEADER, utf8(Integer.toString(valueLength)));
                value = Arrays.copyOf(value, valueKept);
            }
            if (key != null) {
                headers.add(ORIGINAL_KEY_SIZE_HEADER, utf8(Integer.toString(keyLength)));
                key = Arrays.copyOf(key, keyKept);
            }
        }
        ProducerRecord<byte[], byte[]> out = new ProducerRecord<>(topic, null, null, key, value, headers);
        producer.send(out, (metadata, e) -> {
            if (e != null && sendFailure == null) {
                sendFailure = e; // racy but benign: any one failure is enough to report
            }
        });
    }

    @Override
    public void flush() {
        producer.flush();
        throwIfFailed();
    }

    /**
     * Closes the producer, waiting up to 30 s for the records in flight, then throws if any send failed: a dead
     * letter lost on the way out must not pass quietly either.
     */
    @Override
    public void close() {
        producer.close(Duration.ofSeconds(30));
        throwIfFailed();
    }

    private void throwIfFailed() {
        Exception e = sendFailure;
        if (e != null) {
            String hint = e instanceof RecordTooLargeException ? " (is the topic's max.message.bytes below the "
                    + "producer's max.request.size = " + maxRecordBytes + "?)" : "";
            throw new IllegalStateException("sending to dead-letter topic " + topic + " failed" + hint + ": " + e, e);
        }
    }

    private static long size(Headers headers) {
        long total = 0;
        for (Header h : headers) {
            total += PER_HEADER_OVERHEAD + h.key().getBytes(StandardCharsets.UTF_8).length
                    + (h.value() == null ? 0 : h.value().length);
        }
        return total;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A size setting as the producer would read it: a number or a decimal string. */
    private static long setting(Map<String, Object> config, String key, long defaultValue) {
        Object v = config.get(key);
        if (v == null) {
            return defaultValue;
        }
        long parsed;
        try {
            parsed = v instanceof Number ? ((Number) v).longValue() : Long.parseLong(v.toString().trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + ": " + v + " (expected: a positive number of bytes)", e);
        }
        if (parsed < 1) {
            throw new IllegalArgumentException(key + ": " + v + " (expected: a positive number of bytes)");
        }
        return parsed;
    }
}
