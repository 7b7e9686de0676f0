package io.couponstate.kafka.internal.partition;

import io.couponstate.kafka.internal.runner.RunnerSettings;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who owns which partition number, learnt from the membership topic: a compacted topic of one partition in which
 * every instance of a partitioned group writes, at each change of the partitions it owns, one record: key = its
 * instance id (a random UUID per runner), value = {@code v1\n<endpoint>\n<p,p,...>} ({@code <endpoint>} empty when it
 * advertises none); a tombstone when it closes cleanly. Every instance tails the topic from its beginning.
 *
 * <p><b>Resolution.</b> By record order: the owner of partition p is the instance whose current record (its last one)
 * lists p and was written last among those that list it. A later claim of p overrides an earlier one, and an
 * instance's record drops every partition it no longer lists. A killed instance's record stays until its partitions
 * are claimed by their new owners (or forever for partitions nobody claims, which are then shown as the dead
 * instance's: a forward to it fails and the caller answers 503).
 *
 * <p><b>Why a topic.</b> It works the same under both group protocols: with {@code group.protocol=consumer} the
 * assignment is computed by the broker and there is no client assignor to carry user data (Kafka Streams' way), and
 * Admin {@code describeConsumerGroups} would poll the group coordinator from every instance and knows no endpoints.
 *
 * <p><b>Threads.</b> {@link #advertise} and {@link #close} are called by the coordinator thread; the tailer runs on a
 * thread of its own (non-daemon, stopped by {@code close}); {@link #ownerOf} from any thread reads a volatile array.
 */
final class OwnerDirectory implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger("io.couponstate.kafka.CouponConsumerRunner");

    private final RunnerSettings settings;
    private final String topic;
    private final String instanceId = UUID.randomUUID().toString();
    private final byte[] key = instanceId.getBytes(StandardCharsets.UTF_8);
    private final String endpoint;
    private final int partitions;
    private final KafkaProducer<byte[], byte[]> producer;
    private final KafkaConsumer<byte[], byte[]> tail;
    private final Thread tailer;
    private volatile boolean closing;

    /** Tailer thread only: instance id -> its current claim. */
    private final Map<String, Claim> claims = new HashMap<>();
    /** Partition -> owner's endpoint ("" for an owner that advertises none), null when unknown; volatile array. */
    private volatile String[] owners;

    private static final class Claim {
        final String endpoint;
        final Set<Integer> partitions;
        final long offset;

        Claim(String endpoint, Set<Integer> partitions, long offset) {
            this.endpoint = endpoint;
            this.partitions = partitions;
            this.offset = offset;
        }
    }

    OwnerDirectory(RunnerSettings settings, int partitions) {
        this.settings = settings;
        this.topic = settings.membershipTopic();
        this.endpoint = settings.applicationEndpoint() == null ? "" : settings.applicationEndpoint();
        this.partitions = partitions;
        this.owners = new String[partitions];
        Map<String, Object> base = settings.consumerConfig();
        Map<String, Object> p = filtered(base, ProducerConfig.configNames());
        p.put(ProducerConfig.CLIENT_ID_CONFIG, settings.name() + "-owners-producer");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) Math.max(1_000, settings.apiTimeout().toMillis()));
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) Math.max(500, settings.apiTimeout().toMillis()));
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, settings.apiTimeout().toMillis());
        this.producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        Map<String, Object> c = filtered(base, ConsumerConfig.configNames());
        c.remove(ConsumerConfig.GROUP_ID_CONFIG);
        c.remove(ConsumerConfig.GROUP_PROTOCOL_CONFIG);
        c.remove(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
        c.remove(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG);
        c.remove(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG);
        c.put(ConsumerConfig.CLIENT_ID_CONFIG, settings.name() + "-owners");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        this.tail = new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        this.tailer = new Thread(this::tailLoop, "coupon-runner-owners-" + settings.name());
        tailer.setDaemon(false);
    }

    private static Map<String, Object> filtered(Map<String, Object> config, Set<String> names) {
        Map<String, Object> out = new HashMap<>();
        config.forEach((k, v) -> {
            if (names.contains(k)) {
                out.put(k, v);
            }
        });
        return out;
    }

    /** Creates the topic if it is missing (compacted, 1 partition) and starts tailing it. Coordinator thread. */
    void start() throws InterruptedException {
        Map<String, Object> a = filtered(settings.consumerConfig(), AdminClientConfig.configNames());
        a.put(AdminClientConfig.CLIENT_ID_CONFIG, settings.name() + "-owners-admin");
        try (Admin admin = Admin.create(a)) {
            NewTopic t = new NewTopic(topic, Optional.of(1), Optional.empty())
                    .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
            try {
                admin.createTopics(List.of(t)).all().get(settings.apiTimeout().toMillis() * 3, TimeUnit.MILLISECONDS);
                LOG.info("{}: created membership topic {} (compacted, 1 partition)", settings.name(), topic);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw new IllegalStateException("membership topic " + topic + ": cannot be created (expected: "
                            + "an existing topic, or the right to create it): " + e.getCause(), e.getCause());
                }
            } catch (java.util.concurrent.TimeoutException e) {
                throw new IllegalStateException("membership topic " + topic + ": no answer from the cluster within "
                        + settings.apiTimeout().multipliedBy(3) + " while creating it", e);
            }
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        tail.assign(List.of(tp));
        tail.seekToBeginning(List.of(tp));
        tailer.start();
    }

    /** Writes this instance's claim, synchronously (acknowledged by the broker before it returns). */
    void advertise(Set<Integer> owned) {
        StringBuilder v = new StringBuilder("v1\n").append(endpoint).append('\n');
        boolean first = true;
        for (int p : new TreeSet<>(owned)) {
            v.append(first ? "" : ",").append(p);
            first = false;
        }
        send(v.toString().getBytes(StandardCharsets.UTF_8));
    }

    private void send(byte[] value) {
        try {
            producer.send(new ProducerRecord<>(topic, 0, key, value))
                    .get(settings.apiTimeout().toMillis() + 1_000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptException(e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof KafkaException ? (KafkaException) e.getCause()
                    : new KafkaException(e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new org.apache.kafka.common.errors.TimeoutException("membership record not acknowledged within "
                    + settings.apiTimeout(), e);
        }
    }

    /** The endpoint of the owner of {@code partition}, if known and advertised. Any thread. */
    Optional<String> ownerOf(int partition) {
        String e = owners[partition]; // volatile read of the array
        return e == null || e.isEmpty() ? Optional.empty() : Optional.of(e);
    }

    private void tailLoop() {
        try {
            while (!closing) {
                boolean changed = false;
                for (ConsumerRecord<byte[], byte[]> r : tail.poll(settings.pollTimeout())) {
                    changed |= apply(r);
                }
                if (changed) {
                    publish();
                }
            }
        } catch (WakeupException | InterruptException e) {
            if (!closing) {
                LOG.error("{}: tailing membership topic {} stopped: {}", settings.name(), topic, e.toString());
            }
        } catch (Throwable t) {
            LOG.error("{}: tailing membership topic {} failed; ownerOf answers from what it knew", settings.name(),
                    topic, t);
        } finally {
            try {
                tail.close(CloseOptions.timeout(Duration.ofSeconds(5)));
            } catch (RuntimeException e) {
                LOG.debug("{}: closing the membership tailer failed", settings.name(), e);
            }
        }
    }

    private boolean apply(ConsumerRecord<byte[], byte[]> r) {
        if (r.key() == null) {
            return false;
        }
        String id = new String(r.key(), StandardCharsets.UTF_8);
        if (r.value() == null) {
            return claims.remove(id) != null;
        }
        String[] lines = new String(r.value(), StandardCharsets.UTF_8).split("\n", -1);
        if (lines.length < 3 || !lines[0].equals("v1")) {
            LOG.warn("{}: membership topic {}: record at offset {} is not a v1 claim; ignored", settings.name(),
                    topic, r.offset());
            return false;
        }
        Set<Integer> set = new TreeSet<>();
        for (String s : lines[2].split(",")) {
            if (!s.isBlank()) {
                try {
                    int p = Integer.parseInt(s.trim());
                    if (p >= 0 && p < partitions) {
                        set.add(p);
                    }
                } catch (NumberFormatException e) {
                    LOG.warn("{}: membership topic {}: bad partition '{}' at offset {}; ignored", settings.name(),
                            topic, s, r.offset());
                }
            }
        }
        claims.put(id, new Claim(lines[1], set, r.offset()));
        return true;
    }

    private void publish() {
        String[] next = new String[partitions];
        long[] at = new long[partitions];
        java.util.Arrays.fill(at, -1);
        for (Claim c : claims.values()) {
            for (int p : c.partitions) {
                if (c.offset > at[p]) {
                    at[p] = c.offset;
                    next[p] = c.endpoint;
                }
            }
        }
        owners = next; // volatile write
    }

    /** Writes this instance's tombstone (best effort), stops the tailer and closes the clients. Never throws. */
    @Override
    public void close() {
        try {
            send(null);
        } catch (RuntimeException e) {
            LOG.warn("{}: writing the tombstone to membership topic {} failed (the next owners' claims override "
                    + "this instance's): {}", settings.name(), topic, e.toString());
        }
        closing = true;
        tail.wakeup();
        if (tailer.isAlive() && tailer != Thread.currentThread()) {
            try {
                tailer.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        } else if (!tailer.isAlive()) {
            try {
                tail.close(CloseOptions.timeout(Duration.ofSeconds(5)));
            } catch (RuntimeException e) {
                // never started, or closed already
            }
        }
        try {
            producer.close(Duration.ofSeconds(5));
        } catch (RuntimeException e) {
            LOG.debug("{}: closing the membership producer failed", settings.name(), e);
        }
    }
}
