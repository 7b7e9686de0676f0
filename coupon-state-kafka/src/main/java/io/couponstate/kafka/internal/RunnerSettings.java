package io.couponstate.kafka.internal;

import io.couponstate.core.CodeFormat;
import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.kafka.internal.checkpoint.CheckpointWriter;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.InvalidRecordHandler;
import io.couponstate.kafka.PartitionedCouponState;
import io.couponstate.kafka.SourceResolver;
import io.couponstate.kafka.StateListener;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * A runner's settings, validated once by {@link Builder#build()}; immutable and thread-safe afterwards. Holds what
 * is derived from them too: the consumer configuration (with the properties the runner owns), the client name, the
 * state's code format and source limit, and the sources the runner is known to need.
 */
public final class RunnerSettings {

    /** Consumer properties the runner sets itself, and why. */
    public static final Map<String, String> OWNED;

    static {
        Map<String, String> owned = new LinkedHashMap<>();
        owned.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG,
                "offsets are committed only after the checkpoint that covers them is durable");
        owned.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG,
                "records are read as byte[] so that no String is made per record");
        owned.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
                "records are read as byte[] so that no String is made per record");
        owned.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "positions come from the local checkpoint or the "
                + "partition's beginning; an out-of-range position fails the runner rather than skip data");
        owned.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG,
                "the runner assigns every partition itself (replicated mode) and never joins a group; in "
                + "partitioned mode it may be set, to classic or consumer");
        owned.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                "the runner assigns every partition itself (replicated mode) and never joins a group; in "
                + "partitioned mode it uses the range assignor, which keeps partition p of every topic together");
        owned.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG,
                "the runner assigns every partition itself (replicated mode) and never joins a group; in "
                + "partitioned mode it uses the range assignor, which keeps partition p of every topic together");
        owned.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, "set it with bootstrapServers()");
        owned.put(ConsumerConfig.GROUP_ID_CONFIG, "set it with groupId()");
        OWNED = Collections.unmodifiableMap(owned);
    }

    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final String bootstrapServers;
    private final String groupId;
    private final List<String> topics;
    private final CouponState state;
    private final Path checkpointDirectory;
    private final Duration checkpointInterval;
    private final double baseRolloverFraction;
    private final Duration pollTimeout;
    private final Duration apiTimeout;
    private final Duration partitionDiscoveryInterval;
    private final Duration progressLogInterval;
    private final int progressValidCodes;
    private final java.util.function.Consumer<String> progressSink;
    private final SourceResolver sourceResolver;
    private final InvalidRecordHandler invalidRecordHandler;
    private final StateListener stateListener;
    private final boolean bulkValues;
    private final int maxValueBytes;
    private final boolean allowMissingTopics;
    private final boolean rebuildRecreatedTopics;
    private final Clock clock;
    private final Function<Map<String, Object>, Consumer<byte[], byte[]>> consumerFactory;
    private final Function<Map<String, Object>, ClusterClient> clusterClientFactory;
    private final Map<String, Object> consumerConfig;
    private final String name;
    private final CodeFormat codeFormat;
    private final int maxSources;
    private final int applyThreads;
    private final CouponConsumerRunner.Mode mode;
    private final String applicationEndpoint;
    private final String membershipTopic;
    private final int onlyPartition;
    private final PartitionedCouponState router;
    private final Builder origin;

    private RunnerSettings(Builder b) {
        this.origin = b.copy();
        this.mode = b.mode;
        this.applicationEndpoint = b.applicationEndpoint;
        this.membershipTopic = b.membershipTopic != null ? b.membershipTopic
                : b.groupId == null ? null : b.groupId + "-couponstate-owners";
        this.onlyPartition = b.onlyPartition;
        this.router = b.router;
        this.bootstrapServers = b.bootstrapServers;
        this.groupId = b.groupId;
        this.topics = List.copyOf(b.topics);
        this.state = b.state;
        this.checkpointDirectory = b.checkpointDirectory;
        this.checkpointInterval = b.checkpointInterval;
        this.baseRolloverFraction = b.baseRolloverFraction;
        this.pollTimeout = b.pollTimeout;
        this.apiTimeout = b.apiTimeout;
        this.partitionDiscoveryInterval = b.partitionDiscoveryInterval;
        this.progressLogInterval = b.progressLogInterval;
        this.progressValidCodes = b.progressValidCodes;
        this.progressSink = b.progressSink;
        this.sourceResolver = b.sourceResolver == null ? SourceResolver.topicName() : b.sourceResolver;
        this.invalidRecordHandler = b.invalidRecordHandler == null ? InvalidRecordHandler.skip()
                : b.invalidRecordHandler;
        this.stateListener = b.stateListener;
        this.bulkValues = b.bulkValues;
        this.applyThreads = b.applyThreads;
        this.maxValueBytes = b.maxValueBytes;
        this.allowMissingTopics = b.allowMissingTopics;
        this.rebuildRecreatedTopics = b.rebuildRecreatedTopics;
        this.clock = b.clock;
        this.consumerFactory = b.consumerFactory;
        this.clusterClientFactory = b.clusterClientFactory;
        Map<String, Object> config = new HashMap<>(b.consumerProperties);
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        if (groupId != null) {
            config.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        }
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        config.putIfAbsent(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
        config.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "coupon-state-runner-" + INSTANCES.incrementAndGet());
        this.consumerConfig = Collections.unmodifiableMap(config);
        this.name = String.valueOf(config.get(ConsumerConfig.CLIENT_ID_CONFIG));
        CouponStateConfig stateConfig = configOf(state);
        this.codeFormat = stateConfig == null ? null : stateConfig.codeFormat();
        this.maxSources = stateConfig == null ? 0 : stateConfig.maxSources();
    }

    /** A new, empty builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** REPLICATED (every partition here) or PARTITIONED (a share of the partition numbers, by a consumer group). */
    public CouponConsumerRunner.Mode mode() {
        return mode;
    }

    /** The {@code host:port} this instance advertises; null for none. */
    public String applicationEndpoint() {
        return applicationEndpoint;
    }

    /** Partitioned mode: the compacted topic the instances advertise their partitions in; null without a group. */
    public String membershipTopic() {
        return membershipTopic;
    }

    /** The one partition number this runner reads of every topic (a partitioned runner's shard), or -1 for all. */
    public int onlyPartition() {
        return onlyPartition;
    }

    /**
     * A shard runner's partitioned state, whose {@code partitionOf} each record's code must match the record's
     * partition ({@link io.couponstate.kafka.InvalidRecordReason#WRONG_PARTITION}); null elsewhere.
     */
    public PartitionedCouponState router() {
        return router;
    }

    /** Whether the consumer properties ask for the consumer group protocol of KIP-848 (group.protocol=consumer). */
    public boolean consumerGroupProtocol() {
        Object v = consumerConfig.get(ConsumerConfig.GROUP_PROTOCOL_CONFIG);
        return v != null && "consumer".equalsIgnoreCase(String.valueOf(v).trim());
    }

    /**
     * The settings of the shard runner of {@code partition} in partitioned mode: partition {@code partition} of every
     * topic, {@code shard} as the state, {@code directory} (null: none) for checkpoints, no group (a shard never
     * joins one or commits), {@code handler} for bad records, no state listener, a client id of its own.
     */
    public RunnerSettings forShard(int partition, CouponState shard, Path directory, InvalidRecordHandler handler) {
        Builder b = origin.copy();
        b.mode = CouponConsumerRunner.Mode.REPLICATED;
        b.onlyPartition = partition;
        b.router = (PartitionedCouponState) state;
        b.state = shard;
        b.checkpointDirectory = directory;
        b.groupId = null;
        b.invalidRecordHandler = handler;
        b.stateListener = null;
        for (String key : SHARD_DROPPED) {
            b.consumerProperties.remove(key);
        }
        b.consumerProperties.put(ConsumerConfig.CLIENT_ID_CONFIG, name + "-p" + partition);
        return b.build();
    }

    /** Group settings a shard runner (which never joins a group) leaves out. */
    private static final List<String> SHARD_DROPPED = List.of(ConsumerConfig.GROUP_PROTOCOL_CONFIG,
            ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG,
            ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, ConsumerConfig.CLIENT_ID_CONFIG);

    /** {@code host:port[,host:port...]}. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** The group offsets are committed to for lag monitoring; null for none. */
    public String groupId() {
        return groupId;
    }

    /** The topics, in the order given. */
    public List<String> topics() {
        return topics;
    }

    /** The state kept current. */
    public CouponState state() {
        return state;
    }

    /** Where checkpoints live; null for none. */
    public Path checkpointDirectory() {
        return checkpointDirectory;
    }

    /** Between two periodic checkpoints. */
    public Duration checkpointInterval() {
        return checkpointInterval;
    }

    /** A new checkpoint base once the deltas since the last one exceed this fraction of its size. */
    public double baseRolloverFraction() {
        return baseRolloverFraction;
    }

    /** The longest one poll blocks. */
    public Duration pollTimeout() {
        return pollTimeout;
    }

    /** The longest one metadata, offsets or commit request blocks. */
    public Duration apiTimeout() {
        return apiTimeout;
    }

    /** Between two looks for new partitions. */
    public Duration partitionDiscoveryInterval() {
        return partitionDiscoveryInterval;
    }

    /** Between two progress lines; zero for none. */
    public Duration progressLogInterval() {
        return progressLogInterval;
    }

    /** Where the progress line goes: the runner's log at INFO unless a test set another sink. */
    public Optional<java.util.function.Consumer<String>> progressSink() {
        return Optional.ofNullable(progressSink);
    }

    /** The progress line names the valid codes while there are at most this many (0: never names them). */
    public int progressValidCodes() {
        return progressValidCodes;
    }

    /** Resolves a record's source. */
    public SourceResolver sourceResolver() {
        return sourceResolver;
    }

    /** Gets the bad records. */
    public InvalidRecordHandler invalidRecordHandler() {
        return invalidRecordHandler;
    }

    /** Told of every state move; null for none. */
    public StateListener stateListener() {
        return stateListener;
    }

    /** The threads applying polled records (1 by default); partitions are spread over them, each on one. */
    public int applyThreads() {
        return applyThreads;
    }

    /** Whether a value holds many codes, one per line. */
    public boolean bulkValues() {
        return bulkValues;
    }

    /** The largest value looked at. */
    public int maxValueBytes() {
        return maxValueBytes;
    }

    /** Whether a topic missing at start is waited for rather than an error. */
    public boolean allowMissingTopics() {
        return allowMissingTopics;
    }

    /** Whether a topic recreated since the checkpoint is read again from its beginning rather than an error. */
    public boolean rebuildRecreatedTopics() {
        return rebuildRecreatedTopics;
    }

    /** The clock for every cadence. */
    public Clock clock() {
        return clock;
    }

    /** Makes the consumer from {@link #consumerConfig()}. */
    public Function<Map<String, Object>, Consumer<byte[], byte[]>> consumerFactory() {
        return consumerFactory;
    }

    /** Makes the cluster client from {@link #consumerConfig()}. */
    public Function<Map<String, Object>, ClusterClient> clusterClientFactory() {
        return clusterClientFactory;
    }

    /** The consumer's configuration, owned properties included. */
    public Map<String, Object> consumerConfig() {
        return consumerConfig;
    }

    /** The client id, used as the runner's name in logs and thread names. */
    public String name() {
        return name;
    }

    /** The state's code format, or null when the state does not expose it (then bad codes are caught). */
    public CodeFormat codeFormat() {
        return codeFormat;
    }

    /** The state's {@code maxSources}, or 0 when the state does not expose it. */
    public int maxSources() {
        return maxSources;
    }

    /**
     * The source names the runner is known to need: the topics for the default topic resolver, else what the
     * resolver declares ({@link SourceResolver#declaredSources()}); empty when unknown.
     */
    public Optional<Collection<String>> declaredSources() {
        if (sourceResolver instanceof TopicSourceResolver) {
            return Optional.of(topics);
        }
        return sourceResolver.declaredSources();
    }

    /**
     * The state's public {@code config()} (on the implementation classes), so that bad codes are found without an
     * exception and the source limit is known up front; null for a state without one.
     */
    private static CouponStateConfig configOf(CouponState state) {
        try {
            java.lang.reflect.Method method = state.getClass().getMethod("config");
            // declared by a package-private base class: reachable through the public subclass, not reflectively
            method.trySetAccessible();
            Object config = method.invoke(state);
            return config instanceof CouponStateConfig ? (CouponStateConfig) config : null;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** Collects settings unchecked; {@link #build()} checks them all. Not thread-safe. */
    public static final class Builder {
        private String bootstrapServers;
        private String groupId;
        private List<String> topics;
        private CouponState state;
        private Path checkpointDirectory;
        private Duration checkpointInterval = Duration.ofMinutes(1);
        private double baseRolloverFraction = CheckpointWriter.DEFAULT_BASE_ROLLOVER_FRACTION;
        private Duration pollTimeout = Duration.ofMillis(500);
        private Duration apiTimeout = Duration.ofSeconds(5);
        private Duration partitionDiscoveryInterval = Duration.ofSeconds(30);
        private Duration progressLogInterval = Duration.ofSeconds(30);
        private int progressValidCodes = 20;
        private java.util.function.Consumer<String> progressSink;
        private final Map<String, Object> consumerProperties = new LinkedHashMap<>();
        private SourceResolver sourceResolver;
        private InvalidRecordHandler invalidRecordHandler;
        private StateListener stateListener;
        private boolean bulkValues;
        private int applyThreads = 1;
        private int maxValueBytes = 1 << 20;
        private boolean allowMissingTopics;
        private boolean rebuildRecreatedTopics;
        private Clock clock = Clock.systemUTC();
        private Function<Map<String, Object>, Consumer<byte[], byte[]>> consumerFactory =
                config -> new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        private Function<Map<String, Object>, ClusterClient> clusterClientFactory =
                config -> ClusterClient.admin(config, config.get(ConsumerConfig.CLIENT_ID_CONFIG) + "-admin");
        private CouponConsumerRunner.Mode mode = CouponConsumerRunner.Mode.REPLICATED;
        private String applicationEndpoint;
        private String membershipTopic;
        private int onlyPartition = -1;
        private PartitionedCouponState router;

        private Builder() {
        }

        private Builder copy() {
            Builder b = new Builder();
            b.bootstrapServers = bootstrapServers;
            b.groupId = groupId;
            b.topics = topics == null ? null : new ArrayList<>(topics);
            b.state = state;
            b.checkpointDirectory = checkpointDirectory;
            b.checkpointInterval = checkpointInterval;
            b.baseRolloverFraction = baseRolloverFraction;
            b.pollTimeout = pollTimeout;
            b.apiTimeout = apiTimeout;
            b.partitionDiscoveryInterval = partitionDiscoveryInterval;
            b.progressLogInterval = progressLogInterval;
            b.progressValidCodes = progressValidCodes;
            b.progressSink = progressSink;
            b.consumerProperties.putAll(consumerProperties);
            b.sourceResolver = sourceResolver;
            b.invalidRecordHandler = invalidRecordHandler;
            b.stateListener = stateListener;
            b.bulkValues = bulkValues;
            b.applyThreads = applyThreads;
            b.maxValueBytes = maxValueBytes;
            b.allowMissingTopics = allowMissingTopics;
            b.rebuildRecreatedTopics = rebuildRecreatedTopics;
            b.clock = clock;
            b.consumerFactory = consumerFactory;
            b.clusterClientFactory = clusterClientFactory;
            b.mode = mode;
            b.applicationEndpoint = applicationEndpoint;
            b.membershipTopic = membershipTopic;
            b.onlyPartition = onlyPartition;
            b.router = router;
            return b;
        }

        /** See {@link RunnerSettings#mode()}. */
        public Builder mode(CouponConsumerRunner.Mode v) {
            this.mode = Objects.requireNonNull(v, "mode");
            return this;
        }

        /**
         * See {@link RunnerSettings#applicationEndpoint()}; checked at once: {@code host:port} with a non-blank host
         * and a port in 1..65535 (an IPv6 host in brackets).
         */
        public Builder applicationEndpoint(String v) {
            this.applicationEndpoint = checkedEndpoint(v);
            return this;
        }

        /** See {@link RunnerSettings#membershipTopic()}. */
        public Builder membershipTopic(String v) {
            Objects.requireNonNull(v, "membershipTopic");
            if (v.isBlank()) {
                throw new IllegalArgumentException("membershipTopic: \"" + v + "\" (expected: a topic name)");
            }
            this.membershipTopic = v;
            return this;
        }

        /** See {@link RunnerSettings#bootstrapServers()}. */
        public Builder bootstrapServers(String v) {
            this.bootstrapServers = Objects.requireNonNull(v, "bootstrapServers");
            return this;
        }

        /** See {@link RunnerSettings#groupId()}. */
        public Builder groupId(String v) {
            this.groupId = Objects.requireNonNull(v, "groupId");
            return this;
        }

        /** See {@link RunnerSettings#topics()}. */
        public Builder topics(Collection<String> v) {
            this.topics = new ArrayList<>(Objects.requireNonNull(v, "topics"));
            return this;
        }

        /** See {@link RunnerSettings#state()}. */
        public Builder state(CouponState v) {
            this.state = Objects.requireNonNull(v, "state");
            return this;
        }

        /** See {@link RunnerSettings#checkpointDirectory()}. */
        public Builder checkpointDirectory(Path v) {
            this.checkpointDirectory = Objects.requireNonNull(v, "checkpointDirectory");
            return this;
        }

        /** See {@link RunnerSettings#checkpointInterval()}. */
        public Builder checkpointInterval(Duration v) {
            this.checkpointInterval = Objects.requireNonNull(v, "checkpointInterval");
            return this;
        }

        /** See {@link RunnerSettings#baseRolloverFraction()}; checked at once (finite, > 0). */
        public Builder baseRolloverFraction(double v) {
            this.baseRolloverFraction = CheckpointWriter.checkedFraction(v);
            return this;
        }

        /** See {@link RunnerSettings#pollTimeout()}. */
        public Builder pollTimeout(Duration v) {
            this.pollTimeout = Objects.requireNonNull(v, "pollTimeout");
            return this;
        }

        /** See {@link RunnerSettings#apiTimeout()}. */
        public Builder apiTimeout(Duration v) {
            this.apiTimeout = Objects.requireNonNull(v, "apiTimeout");
            return this;
        }

        /** See {@link RunnerSettings#partitionDiscoveryInterval()}. */
        public Builder partitionDiscoveryInterval(Duration v) {
            this.partitionDiscoveryInterval = Objects.requireNonNull(v, "partitionDiscoveryInterval");
            return this;
        }

        /** See {@link RunnerSettings#progressSink()}. */
        public Builder progressSink(java.util.function.Consumer<String> v) {
            this.progressSink = Objects.requireNonNull(v, "progressSink");
            return this;
        }

        /** See {@link RunnerSettings#progressValidCodes()}. */
        public Builder progressValidCodes(int v) {
            this.progressValidCodes = v;
            return this;
        }

        /** See {@link RunnerSettings#progressLogInterval()}. */
        public Builder progressLogInterval(Duration v) {
            this.progressLogInterval = Objects.requireNonNull(v, "progressLogInterval");
            return this;
        }

        /** A consumer property; later calls win. */
        public Builder consumerProperty(String key, Object value) {
            consumerProperties.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** See {@link RunnerSettings#sourceResolver()}. */
        public Builder sourceResolver(SourceResolver v) {
            this.sourceResolver = Objects.requireNonNull(v, "sourceResolver");
            return this;
        }

        /** See {@link RunnerSettings#invalidRecordHandler()}. */
        public Builder invalidRecordHandler(InvalidRecordHandler v) {
            this.invalidRecordHandler = Objects.requireNonNull(v, "invalidRecordHandler");
            return this;
        }

        /** See {@link RunnerSettings#stateListener()}. */
        public Builder stateListener(StateListener v) {
            this.stateListener = Objects.requireNonNull(v, "stateListener");
            return this;
        }

        /** See {@link RunnerSettings#applyThreads()}. */
        public Builder applyThreads(int v) {
            int most = Runtime.getRuntime().availableProcessors() * 4;
            if (v < 1 || v > most) {
                throw new IllegalArgumentException("applyThreads: " + v + " (expected: 1.." + most
                        + ", at most 4 per available processor)");
            }
            this.applyThreads = v;
            return this;
        }

        /** See {@link RunnerSettings#bulkValues()}. */
        public Builder bulkValues(boolean v) {
            this.bulkValues = v;
            return this;
        }

        /** See {@link RunnerSettings#maxValueBytes()}. */
        public Builder maxValueBytes(int v) {
            this.maxValueBytes = v;
            return this;
        }

        /** See {@link RunnerSettings#allowMissingTopics()}. */
        public Builder allowMissingTopics(boolean v) {
            this.allowMissingTopics = v;
            return this;
        }

        /** See {@link RunnerSettings#rebuildRecreatedTopics()}. */
        public Builder rebuildRecreatedTopics(boolean v) {
            this.rebuildRecreatedTopics = v;
            return this;
        }

        /** See {@link RunnerSettings#clock()}. */
        public Builder clock(Clock v) {
            this.clock = Objects.requireNonNull(v, "clock");
            return this;
        }

        /** See {@link RunnerSettings#consumerFactory()}. */
        public Builder consumerFactory(Function<Map<String, Object>, Consumer<byte[], byte[]>> v) {
            this.consumerFactory = Objects.requireNonNull(v, "consumerFactory");
            return this;
        }

        /** See {@link RunnerSettings#clusterClientFactory()}. */
        public Builder clusterClientFactory(Function<Map<String, Object>, ClusterClient> v) {
            this.clusterClientFactory = Objects.requireNonNull(v, "clusterClientFactory");
            return this;
        }

        /**
         * The settings.
         *
         * @throws IllegalArgumentException naming the first bad or missing value and its rule, or a consumer
         *     property the runner owns and why it does
         */
        public RunnerSettings build() {
            if (bootstrapServers == null || bootstrapServers.isBlank()) {
                throw new IllegalArgumentException(
                        "bootstrapServers: " + bootstrapServers + " (expected: host:port[,host:port...])");
            }
            if (topics == null || topics.isEmpty()) {
                throw new IllegalArgumentException("topics: " + topics + " (expected: at least one topic)");
            }
            for (String topic : topics) {
                if (topic == null || topic.isBlank()) {
                    throw new IllegalArgumentException("topics: " + topics + " (expected: no null or blank name)");
                }
            }
            if (new HashSet<>(topics).size() != topics.size()) {
                throw new IllegalArgumentException("topics: " + topics + " (expected: no duplicates)");
            }
            if (state == null) {
                throw new IllegalArgumentException("state: null (expected: the CouponState to keep current)");
            }
            positive("checkpointInterval", checkpointInterval);
            positive("pollTimeout", pollTimeout);
            positive("apiTimeout", apiTimeout);
            positive("partitionDiscoveryInterval", partitionDiscoveryInterval);
            if (progressLogInterval.isNegative()) {
                throw new IllegalArgumentException("progressLogInterval: " + progressLogInterval
                        + " (expected: >= 0, 0 turns it off)");
            }
            if (progressValidCodes < 0) {
                throw new IllegalArgumentException("progressValidCodes: " + progressValidCodes
                        + " (expected: >= 0, 0 never names them)");
            }
            if (maxValueBytes < 1) {
                throw new IllegalArgumentException("maxValueBytes: " + maxValueBytes + " (expected: >= 1)");
            }
            for (String key : consumerProperties.keySet()) {
                String why = OWNED.get(key);
                if (key.equals(ConsumerConfig.GROUP_PROTOCOL_CONFIG) && mode == CouponConsumerRunner.Mode.PARTITIONED) {
                    String protocol = String.valueOf(consumerProperties.get(key)).trim();
                    if (!protocol.equalsIgnoreCase("classic") && !protocol.equalsIgnoreCase("consumer")) {
                        throw new IllegalArgumentException("consumerProperty " + key + ": \"" + protocol
                                + "\" (expected: classic or consumer)");
                    }
                    continue;
                }
                if (why != null) {
                    throw new IllegalArgumentException("consumerProperty " + key + ": owned by the runner (" + why
                            + ")");
                }
            }
            if (mode == CouponConsumerRunner.Mode.PARTITIONED) {
                if (!(state instanceof PartitionedCouponState)) {
                    throw new IllegalArgumentException("state: a " + state.getClass().getName() + " (expected: a "
                            + "PartitionedCouponState in mode PARTITIONED, one shard per partition number)");
                }
                if (groupId == null || groupId.isBlank()) {
                    throw new IllegalArgumentException("groupId: " + groupId + " (expected: the consumer group the "
                            + "instances share, required in mode PARTITIONED)");
                }
                if (!(sourceResolver == null || sourceResolver instanceof TopicSourceResolver)
                        && sourceResolver.declaredSources().isEmpty()) {
                    throw new IllegalArgumentException("sourceResolver: declares no sources (expected in mode "
                            + "PARTITIONED: the topic resolver, or SourceResolver.header(key, allowedSources), so that "
                            + "every shard numbers the sources alike)");
                }
            }
            return new RunnerSettings(this);
        }

        /** {@code host:port}, or an IllegalArgumentException naming the value and the rule. */
        static String checkedEndpoint(String v) {
            Objects.requireNonNull(v, "applicationEndpoint");
            String rule = " (expected: host:port, a non-blank host and a port in 1..65535)";
            int colon = v.lastIndexOf(':');
            if (colon <= 0 || colon == v.length() - 1) {
                throw new IllegalArgumentException("applicationEndpoint: \"" + v + "\"" + rule);
            }
            String host = v.substring(0, colon);
            if (host.isBlank() || host.chars().anyMatch(Character::isWhitespace)
                    || (host.indexOf(':') >= 0 && !(host.startsWith("[") && host.endsWith("]")))) {
                throw new IllegalArgumentException("applicationEndpoint: \"" + v + "\"" + rule);
            }
            int port;
            try {
                port = Integer.parseInt(v.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("applicationEndpoint: \"" + v + "\"" + rule);
            }
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("applicationEndpoint: \"" + v + "\": port " + port + rule);
            }
            return v;
        }

        private static void positive(String name, Duration d) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + ": " + d + " (expected: > 0)");
            }
        }
    }
}
