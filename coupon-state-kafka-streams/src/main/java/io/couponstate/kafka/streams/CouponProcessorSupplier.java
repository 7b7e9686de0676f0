package io.couponstate.kafka.streams;

import io.couponstate.core.CodeFormat;
import io.couponstate.core.InvalidCouponCodeException;
import io.couponstate.kafka.InvalidRecordReason;
import io.couponstate.kafka.SourceResolver;
import io.couponstate.kafka.internal.partition.CodePartitioner;
import io.couponstate.kafka.internal.runner.RecordApplier;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.streams.errors.StreamsException;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.ProcessorSupplier;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.StoreBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Supplies the processors that apply records to a {@link CouponStore}, and remembers the partition counts of the
 * topics they read (asked once per topic and instance with an admin client), which the co-partitioning check and the
 * partition check of each code need. Thread-safe: the stream threads share it.
 */
final class CouponProcessorSupplier implements ProcessorSupplier<byte[], byte[], Void, Void> {

    private static final Logger LOG = LoggerFactory.getLogger(CouponProcessorSupplier.class);

    private final CouponStores.Settings settings;
    private final List<String> topics;
    private final StoreBuilder<CouponStore> storeBuilder;
    private final Map<String, Integer> partitionCounts = new ConcurrentHashMap<>();

    CouponProcessorSupplier(CouponStores.Settings settings, List<String> topics,
            StoreBuilder<CouponStore> storeBuilder) {
        this.settings = settings;
        this.topics = topics;
        this.storeBuilder = storeBuilder;
    }

    @Override
    public Set<StoreBuilder<?>> stores() {
        return Set.of(storeBuilder);
    }

    @Override
    public Processor<byte[], byte[], Void, Void> get() {
        return new CouponProcessor();
    }

    /** The partition counts of {@code names}, asking the cluster for those not known yet. */
    Map<String, Integer> partitionCounts(Collection<String> names, ProcessorContext<?, ?> context) {
        List<String> missing = names.stream().filter(t -> !partitionCounts.containsKey(t)).toList();
        if (!missing.isEmpty()) {
            Map<String, Object> adminConfig = new HashMap<>();
            context.appConfigs().forEach((k, v) -> {
                if (AdminClientConfig.configNames().contains(k)) {
                    adminConfig.put(k, v);
                }
            });
            adminConfig.putAll(context.appConfigsWithPrefix("admin."));
            adminConfig.put(AdminClientConfig.CLIENT_ID_CONFIG, context.applicationId() + "-couponstate-admin");
            try (Admin admin = Admin.create(adminConfig)) {
                Map<String, TopicDescription> described = admin.describeTopics(missing).allTopicNames()
                        .get(60, TimeUnit.SECONDS);
                described.forEach((t, d) -> partitionCounts.put(t, d.partitions().size()));
            } catch (ExecutionException | TimeoutException e) {
                throw new StreamsException("store " + settings.storeName + ": cannot describe topics " + missing
                        + " to check their partition counts", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StreamsException("store " + settings.storeName + ": interrupted describing " + missing, e);
            }
        }
        Map<String, Integer> out = new TreeMap<>();
        for (String t : names) {
            out.put(t, partitionCounts.get(t));
        }
        return out;
    }

    /** One task's processor. Not thread-safe: the task's stream thread calls it. */
    private final class CouponProcessor implements Processor<byte[], byte[], Void, Void> {
        private ProcessorContext<Void, Void> context;
        private CouponStore store;
        private CodeFormat format;
        private String internalTopicPrefix;
        private String lastTopic;
        private int lastSourceId;
        private final Map<String, Integer> sourceIds = new HashMap<>();

        @Override
        public void init(ProcessorContext<Void, Void> context) {
            this.context = context;
            this.store = context.getStateStore(settings.storeName);
            this.format = settings.config().codeFormat();
            this.internalTopicPrefix = context.applicationId() + "-";
            Map<String, Integer> counts = partitionCounts(topics, context);
            if (counts.values().stream().distinct().count() > 1) {
                throw new StreamsException("store " + settings.storeName + ": the input topics are not "
                        + "co-partitioned: partition counts " + counts + " (expected: the same count for every topic, "
                        + "so that partition p of every topic holds the same codes and task p's state is complete)");
            }
        }

        @Override
        public void process(Record<byte[], byte[]> record) {
            RecordMetadata md = context.recordMetadata().orElseThrow(() -> new IllegalStateException("store "
                    + settings.storeName + ": a record without metadata (expected: records read from a topic)"));
            if (settings.sourceResolver == null && md.topic() != lastTopic) {
                refuseInternal(md.topic());
            }
            byte[] value = record.value();
            InvalidRecordReason bad = null;
            int sourceId = SourceResolver.UNRESOLVED;
            if (value == null) {
                bad = InvalidRecordReason.NULL_VALUE;
            } else if (value.length == 0) {
                bad = InvalidRecordReason.EMPTY_VALUE;
            } else if (value.length > settings.maxValueBytes) {
                bad = InvalidRecordReason.OVERSIZED;
            } else {
                InvalidCouponCodeException.Reason violation = format.violation(value, 0, value.length);
                if (violation != null) {
                    bad = RecordApplier.reasonOf(violation);
                } else if (CodePartitioner.partition(value, 0, value.length, partitionsOf(md.topic()))
                        != md.partition()) {
                    bad = InvalidRecordReason.WRONG_PARTITION;
                } else {
                    sourceId = sourceId(record, md);
                    if (sourceId == SourceResolver.UNRESOLVED) {
                        bad = InvalidRecordReason.SOURCE_UNRESOLVED;
                    } else if (sourceId == SourceResolver.SOURCE_LIMIT) {
                        throw new IllegalStateException("store " + settings.storeName + ": record " + md.topic()
                                + "-" + md.partition() + "@" + md.offset() + " names a source past the state's "
                                + "maxSources " + settings.config().maxSources() + " (expected: a larger maxSources)");
                    }
                }
            }
            settings.recordsProcessed.increment();
            if (bad == null) {
                store.apply(value, sourceId, record.timestamp());
                return;
            }
            settings.invalidCounts.incrementAndGet(bad.ordinal());
            LOG.debug("store {}: invalid record {}-{}@{}: {}", settings.storeName, md.topic(), md.partition(),
                    md.offset(), bad);
            ConsumerRecord<byte[], byte[]> consumed = consumerRecord(record, md);
            synchronized (settings.callbackLock) { // one call at a time across stream threads
                settings.handler().handle(consumed, bad);
            }
        }

        private int partitionsOf(String topic) {
            Integer n = partitionCounts.get(topic);
            return n != null ? n : partitionCounts(List.of(topic), context).get(topic);
        }

        private int sourceId(Record<byte[], byte[]> record, RecordMetadata md) {
            String topic = md.topic();
            if (settings.sourceResolver != null) {
                return settings.sourceResolver.sourceId(consumerRecord(record, md), store.state());
            }
            if (topic == lastTopic) { // records of one partition share one topic String
                return lastSourceId;
            }
            Integer id = sourceIds.get(topic);
            if (id == null) {
                try {
                    id = store.state().sourceId(topic);
                } catch (IllegalStateException e) {
                    id = SourceResolver.SOURCE_LIMIT;
                }
                sourceIds.put(topic, id);
            }
            lastTopic = topic;
            lastSourceId = id;
            return id;
        }

        /** The default resolver names sources after topics: Kafka Streams' own topics name none. */
        private void refuseInternal(String topic) {
            if (topic.startsWith(internalTopicPrefix)
                    && (topic.endsWith("-repartition") || topic.endsWith("-changelog"))) {
                throw new StreamsException("store " + settings.storeName + ": record from " + topic + ", an internal "
                        + "topic of Kafka Streams, whose name is no source (expected: the input topics " + topics
                        + " read directly, or a header source resolver: CouponStores.Builder#sourceResolver)");
            }
        }

        private ConsumerRecord<byte[], byte[]> consumerRecord(Record<byte[], byte[]> record, RecordMetadata md) {
            byte[] value = record.value();
            byte[] key = record.key();
            return new ConsumerRecord<>(md.topic(), md.partition(), md.offset(), record.timestamp(),
                    TimestampType.CREATE_TIME, key == null ? -1 : key.length, value == null ? -1 : value.length, key,
                    value, record.headers(), Optional.empty());
        }
    }
}
