package io.couponstate.kafka.streams;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.InvalidRecordHandler;
import io.couponstate.kafka.InvalidRecordReason;
import io.couponstate.kafka.SourceResolver;
import io.couponstate.kafka.internal.partition.CodePartitioner;
import java.time.Duration;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.StreamPartitioner;
import org.apache.kafka.streams.processor.api.ProcessorSupplier;
import org.apache.kafka.streams.state.StoreBuilder;

/**
 * The entry point for couponstate inside Kafka Streams: a {@link StoreBuilder} of a {@link CouponStore} (one
 * {@code CouponState} per task, a compacted changelog, its own offsets and on-disk image), the processor that applies
 * records to it, and the routing of a code to the instance that owns it.
 *
 * <pre>{@code
 * CouponStores coupons = CouponStores.builder("coupons", List.of("couponbase1", "couponbase2", "couponbase3"))
 *         .build();
 * Topology topology = new Topology();
 * coupons.addTo(topology);                  // one source per topic, the processor, the store
 * KafkaStreams streams = new KafkaStreams(topology, props);
 * }</pre>
 * From the DSL: {@code builder.stream(topics, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
 * .process(coupons.processor())} (the supplier brings its store).
 *
 * <p><b>Input.</b> Records whose value is one code (the key is not read), produced as {@code CouponFilePublisher}
 * does: keyed by the code with {@code a-z} upper-cased, default partitioner, so that partition p of every topic holds
 * the same codes and task p's state is complete. The input topics must have the same partition count (checked when a
 * task starts: it fails naming every topic's count). A record whose code belongs to another partition is counted as
 * {@link InvalidRecordReason#WRONG_PARTITION} and not stored: no query for that code would look in this task.
 *
 * <p><b>Sources.</b> By default a record's topic is its source; Kafka Streams' own repartition and changelog topics
 * are refused (the task fails naming the topic): their name says nothing about the source file, so use
 * {@link Builder#sourceResolver} with a header instead. Bad records are counted ({@link #invalidCounts()}) and handed
 * to the {@link InvalidRecordHandler}, one call at a time, as the runner does.
 *
 * <p><b>Throughput: {@code max.task.idle.ms=-1}.</b> A task reads one partition of every input topic. At Kafka
 * Streams' default ({@code 0}), while one of them has nothing buffered (for example a topic whose backlog is read
 * before the others', or one that has run dry) the task checks before every record whether it may go on without it,
 * and Kafka Streams 4.4 formats a log string in that check whether or not it is logged (in the benchmarks a third of
 * the stream thread's time; {@code -1} ingested 1.3-1.4x faster). {@code -1} skips the check and processes what is
 * buffered. The store's state and
 * its changelog are the same in whatever order a task reads its partitions (a union), so {@code -1} changes nothing
 * for it; the setting applies to every task of the application, so weigh it for any other processor that joins or
 * windows records of several partitions in one task.
 *
 * <p><b>Threads.</b> This object is immutable after {@link Builder#build()} and thread-safe; its counters are
 * atomic. One instance serves one topology.
 */
public final class CouponStores {

    private final Settings settings;
    private final List<String> topics;

    /** What the store and the processor share (tests). */
    Settings settings() {
        return settings;
    }

    private CouponStores(Settings settings, List<String> topics) {
        this.settings = settings;
        this.topics = topics;
    }

    /**
     * A builder of a store named {@code storeName} fed from {@code topics}.
     *
     * @param storeName the store's name (its changelog is {@code <application.id>-<storeName>-changelog})
     * @param topics the input topics, at least one, co-partitioned
     * @return a builder with the defaults
     */
    public static Builder builder(String storeName, List<String> topics) {
        return new Builder(storeName, topics);
    }

    /**
     * The store's name.
     *
     * @return the name given to {@link #builder}
     */
    public String storeName() {
        return settings.storeName;
    }

    /**
     * The input topics.
     *
     * @return the topics given to {@link #builder}
     */
    public List<String> topics() {
        return topics;
    }

    /**
     * A builder of the store, logged to a compacted changelog. Caching does not apply to it; logging cannot be
     * turned off (the changelog is what a moved task and a standby are rebuilt from).
     *
     * @return a new store builder
     */
    public StoreBuilder<CouponStore> storeBuilder() {
        return new CouponStoreBuilder(settings);
    }

    /**
     * The processor that applies records to the store; its {@code stores()} holds the store's builder, so adding it
     * to a topology (or {@code KStream#process}) adds and connects the store.
     *
     * @return the processor supplier
     */
    public ProcessorSupplier<byte[], byte[], Void, Void> processor() {
        return new CouponProcessorSupplier(settings, topics, storeBuilder());
    }

    /**
     * Adds a source per input topic (byte-array deserializers, named {@code <storeName>-source-<topic>}) and the
     * processor (named {@code <storeName>-processor}) with its store to {@code topology}.
     *
     * @param topology the topology to add to
     * @return {@code topology}
     */
    public Topology addTo(Topology topology) {
        Objects.requireNonNull(topology, "topology");
        String[] sourceNames = new String[topics.size()];
        for (int i = 0; i < topics.size(); i++) {
            sourceNames[i] = settings.storeName + "-source-" + topics.get(i);
            topology.addSource(sourceNames[i], new ByteArrayDeserializer(), new ByteArrayDeserializer(),
                    topics.get(i));
        }
        topology.addProcessor(settings.storeName + "-processor", processor(), sourceNames);
        return topology;
    }

    /**
     * Bad records seen by this topology's processors on this instance, by reason; every reason present.
     *
     * @return a snapshot of the counters
     */
    public Map<InvalidRecordReason, Long> invalidCounts() {
        EnumMap<InvalidRecordReason, Long> out = new EnumMap<>(InvalidRecordReason.class);
        for (InvalidRecordReason r : InvalidRecordReason.values()) {
            out.put(r, settings.invalidCounts.get(r.ordinal()));
        }
        return out;
    }

    /**
     * Records handed to this topology's processors on this instance (applied or bad), since it was built.
     *
     * @return the count
     */
    public long recordsProcessed() {
        return settings.recordsProcessed.sum();
    }

    /**
     * The partitioner that places a code as the publisher does: the code with {@code a-z} upper-cased, Kafka's
     * default murmur2. For {@code KafkaStreams.queryMetadataForKey} and for a {@code to(...)} that writes codes.
     *
     * @return a stateless partitioner
     */
    public static StreamPartitioner<String, Object> codePartitioner() {
        return (topic, code, value, partitions) -> Optional.of(Set.of(CodePartitioner.partition(code, partitions)));
    }

    /**
     * Where {@code code} lives: the active and standby hosts of its partition in {@code storeName}, asked with the
     * code case-folded and the publisher's partitioner (so a lower-case spelling routes like the code itself).
     *
     * @param streams a running instance with {@code application.server} set
     * @param storeName the store's name
     * @param code the code, in any case
     * @return the metadata; {@code KeyQueryMetadata.NOT_AVAILABLE} while the instance is rebalancing
     */
    public static KeyQueryMetadata queryMetadata(KafkaStreams streams, String storeName, String code) {
        Objects.requireNonNull(streams, "streams");
        Objects.requireNonNull(storeName, "storeName");
        Objects.requireNonNull(code, "code");
        return streams.queryMetadataForKey(storeName, code.toUpperCase(java.util.Locale.ROOT), codePartitioner());
    }

    /** Builds a {@link CouponStores}. Not thread-safe. */
    public static final class Builder {
        private final String storeName;
        private final List<String> topics;
        private CouponStateConfig config = CouponStateConfig.builder().changeJournalCapacity(1 << 16).build();
        private SourceResolver sourceResolver;
        private InvalidRecordHandler handler = InvalidRecordHandler.skip();
        private Duration imageInterval = Duration.ofSeconds(30);
        private int maxValueBytes = 64;
        private Function<CouponStateConfig, ? extends CouponState> stateFactory = LockFreeCouponState::new;

        private Builder(String storeName, List<String> topics) {
            Objects.requireNonNull(storeName, "storeName");
            if (storeName.isEmpty()) {
                throw new IllegalArgumentException("storeName: empty (expected: a store name)");
            }
            Objects.requireNonNull(topics, "topics");
            if (topics.isEmpty() || topics.stream().anyMatch(t -> t == null || t.isEmpty())) {
                throw new IllegalArgumentException("topics: " + topics + " (expected: at least one, none empty)");
            }
            if (Set.copyOf(topics).size() != topics.size()) {
                throw new IllegalArgumentException("topics: " + topics + " (expected: no topic twice)");
            }
            this.storeName = storeName;
            this.topics = List.copyOf(topics);
        }

        /**
         * Each task's state configuration (threshold, code format, sources, change journal for delta images).
         * The default has a change journal of 65,536 entries, so that images are deltas between bases.
         *
         * @param config the configuration
         * @return this builder
         */
        public Builder config(CouponStateConfig config) {
            this.config = Objects.requireNonNull(config, "config");
            return this;
        }

        /**
         * How a record's source is found; the default is its topic's name (one topic per source).
         *
         * @param sourceResolver a resolver, for example {@code SourceResolver.header(...)}; called by the stream
         *     threads one call at a time
         * @return this builder
         */
        public Builder sourceResolver(SourceResolver sourceResolver) {
            this.sourceResolver = Objects.requireNonNull(sourceResolver, "sourceResolver");
            return this;
        }

        /**
         * Where bad records go after they are counted; the default drops them. The caller owns it and closes it
         * after closing {@code KafkaStreams}; its {@code flush()} runs at every task commit.
         *
         * @param handler the handler, called by the stream threads one call at a time
         * @return this builder
         */
        public Builder invalidRecordHandler(InvalidRecordHandler handler) {
            this.handler = Objects.requireNonNull(handler, "handler");
            return this;
        }

        /**
         * The least time between two images of a task's state written at commits (default 30 s). Shorter: a restart
         * reads less of the changelog; longer: fewer writes. A task closing cleanly writes one anyway.
         *
         * @param imageInterval at least zero
         * @return this builder
         */
        public Builder imageInterval(Duration imageInterval) {
            Objects.requireNonNull(imageInterval, "imageInterval");
            if (imageInterval.isNegative()) {
                throw new IllegalArgumentException("imageInterval: " + imageInterval + " (expected: >= 0)");
            }
            this.imageInterval = imageInterval;
            return this;
        }

        /**
         * The longest record value looked at (default 64 bytes); a longer one is {@code OVERSIZED}.
         *
         * @param maxValueBytes at least 1
         * @return this builder
         */
        public Builder maxValueBytes(int maxValueBytes) {
            if (maxValueBytes < 1) {
                throw new IllegalArgumentException("maxValueBytes: " + maxValueBytes + " (expected: >= 1)");
            }
            this.maxValueBytes = maxValueBytes;
            return this;
        }

        /**
         * Which {@link CouponState} implementation each task's store holds (default {@link LockFreeCouponState}); for
         * example {@code CompactCouponState::new} for the smallest heap per code. Switching it between restarts keeps
         * the state: every implementation reads the others' images.
         *
         * @param stateFactory makes a new, empty state from the store's configuration; called once per task opened
         * @return this builder
         */
        public Builder stateFactory(Function<CouponStateConfig, ? extends CouponState> stateFactory) {
            this.stateFactory = Objects.requireNonNull(stateFactory, "stateFactory");
            return this;
        }

        /**
         * Builds it.
         *
         * @return the stores
         */
        public CouponStores build() {
            return new CouponStores(new Settings(storeName, config, sourceResolver, handler, imageInterval.toNanos(),
                    maxValueBytes, stateFactory), topics);
        }
    }

    /** What the store and the processor share. Immutable but for the counters and the handler's lock. */
    static final class Settings {
        final String storeName;
        private final CouponStateConfig config;
        final SourceResolver sourceResolver; // null: the topic's name
        private final InvalidRecordHandler handler;
        private final Function<CouponStateConfig, ? extends CouponState> stateFactory;
        private final long imageIntervalNanos;
        final int maxValueBytes;
        final AtomicLongArray invalidCounts = new AtomicLongArray(InvalidRecordReason.values().length);
        final Object callbackLock = new Object();
        final LongAdder recordsProcessed = new LongAdder();

        Settings(String storeName, CouponStateConfig config, SourceResolver sourceResolver,
                InvalidRecordHandler handler, long imageIntervalNanos, int maxValueBytes,
                Function<CouponStateConfig, ? extends CouponState> stateFactory) {
            this.storeName = storeName;
            this.stateFactory = stateFactory;
            this.config = config;
            this.sourceResolver = sourceResolver;
            this.handler = handler;
            this.imageIntervalNanos = imageIntervalNanos;
            this.maxValueBytes = maxValueBytes;
        }

        CouponStateConfig config() {
            return config;
        }

        /** A new, empty state from the factory, refused unless empty and of this store's configuration. */
        CouponState newState() {
            CouponState fresh = Objects.requireNonNull(stateFactory.apply(config), "stateFactory returned null");
            CouponStateConfig got = fresh.config();
            if (got.threshold() != config.threshold() || !got.codeFormat().equals(config.codeFormat())
                    || got.maxSources() != config.maxSources() || fresh.size() != 0) {
                throw new IllegalStateException("store " + storeName + ": stateFactory returned " + fresh.getClass()
                        .getName() + " of " + fresh.config() + " with " + fresh.size() + " codes (expected: a new, "
                        + "empty state of " + config + ")");
            }
            return fresh;
        }

        long imageIntervalNanos() {
            return imageIntervalNanos;
        }

        InvalidRecordHandler handler() {
            return handler;
        }

        void flushHandler() {
            synchronized (callbackLock) {
                handler.flush();
            }
        }
    }

    /** The store's builder: logging always on, no cache. */
    private static final class CouponStoreBuilder implements StoreBuilder<CouponStore> {
        private final Settings settings;
        private final Map<String, String> logConfig = new LinkedHashMap<>();

        CouponStoreBuilder(Settings settings) {
            this.settings = settings;
        }

        @Override
        public StoreBuilder<CouponStore> withCachingEnabled() {
            throw new UnsupportedOperationException("store " + settings.storeName + ": caching (expected: none; "
                    + "an observation is one bit set, there is nothing to coalesce)");
        }

        @Override
        public StoreBuilder<CouponStore> withCachingDisabled() {
            return this;
        }

        @Override
        public StoreBuilder<CouponStore> withLoggingEnabled(Map<String, String> config) {
            logConfig.putAll(Objects.requireNonNull(config, "config"));
            return this;
        }

        @Override
        public StoreBuilder<CouponStore> withLoggingDisabled() {
            throw new UnsupportedOperationException("store " + settings.storeName + ": logging disabled (expected: "
                    + "enabled; the changelog is what a moved task and a standby are rebuilt from)");
        }

        @Override
        public CouponStore build() {
            return new CouponStore(settings.storeName, settings);
        }

        @Override
        public Map<String, String> logConfig() {
            return logConfig;
        }

        @Override
        public boolean loggingEnabled() {
            return true;
        }

        @Override
        public String name() {
            return settings.storeName;
        }
    }

}
