package io.couponstate.kafka;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * An {@link InvalidRecordHandler} that copies each bad record (key, value, headers) to a dead-letter topic, adding
 * headers {@code couponstate.reason}, {@code couponstate.topic}, {@code couponstate.partition} and
 * {@code couponstate.offset}.
 *
 * <p>Thread-safe as the handler contract needs: {@link #handle} sends asynchronously on the poll thread;
 * {@link #flush()} (called before each checkpoint is written) waits until every record sent so far is acknowledged,
 * so no dead letter is lost across a crash (one may be sent twice). A send that failed makes {@code flush} throw, so
 * the checkpoint that would skip past it is not written, and the next {@code handle} throw, which stops the runner in
 * {@code FAILED}: bad records are never dropped silently.
 */
public final class DeadLetterTopicHandler implements InvalidRecordHandler {

    /** Header naming the {@link InvalidRecordReason}. */
    public static final String REASON_HEADER = "couponstate.reason";
    /** Header naming the source topic. */
    public static final String TOPIC_HEADER = "couponstate.topic";
    /** Header with the source partition. */
    public static final String PARTITION_HEADER = "couponstate.partition";
    /** Header with the source offset. */
    public static final String OFFSET_HEADER = "couponstate.offset";

    private final String topic;
    private final Producer<byte[], byte[]> producer;
    private volatile Exception sendFailure; // volatile: written by the producer's I/O thread, read by the poll thread

    /**
     * A handler with its own producer.
     *
     * @param topic the dead-letter topic
     * @param producerConfig producer settings; {@code bootstrap.servers} at least. Serializers are set here; acks
     *     default to {@code all}.
     */
    public DeadLetterTopicHandler(String topic, Map<String, Object> producerConfig) {
        this.topic = Objects.requireNonNull(topic, "topic");
        Map<String, Object> config = new HashMap<>(Objects.requireNonNull(producerConfig, "producerConfig"));
        config.putIfAbsent("acks", "all");
        this.producer = new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** A handler sending with {@code producer}, which it closes on {@link #close()}. */
    public DeadLetterTopicHandler(String topic, Producer<byte[], byte[]> producer) {
        this.topic = Objects.requireNonNull(topic, "topic");
        this.producer = Objects.requireNonNull(producer, "producer");
    }

    /** The dead-letter topic. */
    public String topic() {
        return topic;
    }

    @Override
    public void handle(ConsumerRecord<byte[], byte[]> record, InvalidRecordReason reason) {
        throwIfFailed();
        ProducerRecord<byte[], byte[]> out = new ProducerRecord<>(topic, null, record.key(), record.value());
        for (Header h : record.headers()) {
            out.headers().add(h);
        }
        out.headers().add(REASON_HEADER, reason.name().getBytes(StandardCharsets.UTF_8));
        out.headers().add(TOPIC_HEADER, record.topic().getBytes(StandardCharsets.UTF_8));
        out.headers().add(PARTITION_HEADER, Integer.toString(record.partition()).getBytes(StandardCharsets.UTF_8));
        out.headers().add(OFFSET_HEADER, Long.toString(record.offset()).getBytes(StandardCharsets.UTF_8));
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

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(30));
    }

    private void throwIfFailed() {
        Exception e = sendFailure;
        if (e != null) {
            throw new IllegalStateException("sending to dead-letter topic " + topic + " failed: " + e, e);
        }
    }
}
