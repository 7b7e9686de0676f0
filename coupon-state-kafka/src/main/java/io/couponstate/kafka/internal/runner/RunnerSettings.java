package io.couponstate.kafka.internal.runner;

import io.couponstate.core.CodeFormat;
import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.kafka.InvalidRecordHandler;
import io.couponstate.kafka.PartitionedCouponState;
import io.couponstate.kafka.SourceResolver;
import io.couponstate.kafka.StateListener;
import io.couponstate.kafka.CouponCheckpoints;
import io.couponstate.kafka.internal.checkpoint.CheckpointWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
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
 * A runner's settings: one immutable value, validated once by {@link Builder#build()}, thread-safe afterwards. A
 * shard's settings are a copy with changes ({@link #forShard}). Holds what is derived from them too: the consumer
 * configuration (with the properties the runner owns), the client name and the state's configuration.
 */
public final class RunnerSettings implements Cloneable {

    /*
     * design notes
     *
     * Each setting is one field below, with its default, one accessor and one builder setter: the builder fills a
     * private draft, and build() validates the draft and hands out a clone of it, so no list of every setting is
     * spelt a second time (no constructor, no copy method). The fields are not final, but no one writes them once a
     * value has left build() or forShard(); every value reaches another thread through Thread.start() or a volatile
     * write, which publishes it.
     */

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

    /** Group settings a shard runner (which never joins a group) leaves out. */
    private static final List<String> SHARD_DROPPED = List.of(ConsumerConfig.GROUP_PROTOCOL_CONFIG,
            ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG,
            ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, ConsumerConfig.CLIENT_ID_CONFIG);

    private static final AtomicInteger INSTANCES = new AtomicInteger();

    // ---------------------------------------------------------------------------------- the settings, with defaults
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
    private Map<String, Object> consumerProperties = new LinkedHashMap<>();
    private SourceResolver sourceResolver = SourceResolver.topicName();
    private InvalidRecordHandler invalidRecordHandler = InvalidRecordHandler.skip();
    private StateListener stateListener;
    private boolean bulkValues;
    private int applyThreads = 1;
    private int maxValueBytes = 1 << 20;
    private boolean allowMissingTopics;
    private boolean rebuildRecreatedTopics;
    private Clock clock = Clock.systemUTC();
    private Function<Map<String, Object>, Consumer<byte[], byte[]>> consumerFactory =
            config -> new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    private CheckpointsOpener checkpointsOpener = CouponCheckpoints::open;
    private Function<Map<String, Object>, ClusterClient> clusterClientFactory =
            config -> ClusterClient.admin(config, config.get(ConsumerConfig.CLIENT_ID_CONFIG) + "-admin");
    private boolean partitioned;
    private String applicationEndpoint;
    private String membershipTopic;
    private int onlyPartition = -1;
    private PartitionedCouponState router;

    // ------------------------------------------------------------------------------- derived by build(), never set
    private Map<String, Object> consumerConfig;
    private String name;
    private CouponStateConfig stateConfig;

    private RunnerSettings() {
    }

    /** A new, empty builder. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The settings of the shard runner of {@code partition} in partitioned mode: a copy of these with partition
     * {@code partition} of every topic, {@code shard} as the state, {@code directory} (null: none) for checkpoints,
     * no group (a shard never joins one or commits), {@code handler} for bad records, {@code resolver} for sources,
     * no state listener, and a client id of its own.
     */
    public RunnerSettings forShard(int partition, CouponState shard, Path directory, InvalidRecordHandler handler,
            SourceResolver resolver) {
        RunnerSettings s = copy();
        s.partitioned = false;
        s.onlyPartition = partition;
        s.router = (PartitionedCouponState) state; // build() let only a PartitionedCouponState into partitioned mode
        s.state = Objects.requireNonNull(shard, "shard");
        s.checkpointDirectory = directory;
        s.groupId = null;
        s.invalidRecordHandler = Objects.requireNonNull(handler, "handler");
        s.sourceResolver = Objects.requireNonNull(resolver, "resolver");
        s.stateListener = null;
        SHARD_DROPPED.forEach(s.consumerProperties::remove);
        s.consumerProperties.put(ConsumerConfig.CLIENT_ID_CONFIG, name + "-p" + partition);
        return s.derive();
    }

    private RunnerSettings copy() {
        try {
            RunnerSettings s = (RunnerSettings) super.clone();
            s.consumerProperties = new LinkedHashMap<>(consumerProperties); // the one mutable field
            return s;
        } catch (CloneNotSupportedException e) {
            throw new AssertionError(e);
        }
    }

    /** Fills in what follows from the settings; the last step of every value handed out. */
    private RunnerSettings derive() {
        Map<String, Object> config = new HashMap<>(consumerProperties);
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        if (groupId != null) {
            config.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        }
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        config.putIfAbsent(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
        config.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "coupon-state-runner-" + INSTANCES.incrementAndGet());
        consumerConfig = Collections.unmodifiableMap(config);
        name = String.valueOf(config.get(ConsumerConfig.CLIENT_ID_CONFIG));
        stateConfig = state.config();
        if (sourceResolver instanceof TopicSourceResolver) {
            sourceResolver = new TopicSourceResolver(); // it caches one state's source ids: one per value
        }
        if (membershipTopic == null && groupId != null) {
            membershipTopic = groupId + "-couponstate-owners";
        }
        return this;
    }

    // ------------------------------------------------------------------------------------------------- accessors

    /** Whether the instances of a group share the partition numbers (mode PARTITIONED); false: every partition. */
    public boolean partitioned() {
        return partitioned;
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
    /** Opens the checkpoint directory (a test injects a crash hook here). */
    public CheckpointsOpener checkpointsOpener() {
        return checkpointsOpener;
    }

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

    /** The state's code format: records are checked against it as the state would. */
    public CodeFormat codeFormat() {
        return stateConfig.codeFormat();
    }

    /** The state's {@code maxSources}. */
    public int maxSources() {
        return stateConfig.maxSources();
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

    // --------------------------------------------------------------------------------------------------- builder

    /** Collects settings, checking each argument's presence at once and the whole in {@link #build()}. */
    public static final class Builder {
        private final RunnerSettings draft = new RunnerSettings();

        private Builder() {
        }

        /** See {@link RunnerSettings#partitioned()}. */
        public Builder partitioned(boolean v) {
            draft.partitioned = v;
            return this;
        }

        /**
         * See {@link RunnerSettings#applicationEndpoint()}; checked at once: {@code host:port} with a non-blank host
         * and a port in 1..65535 (an IPv6 host in brackets).
         */
        public Builder applicationEndpoint(String v) {
            draft.applicationEndpoint = checkedEndpoint(v);
            return this;
        }

        /** See {@link RunnerSettings#membershipTopic()}. */
        public Builder membershipTopic(String v) {
            Objects.requireNonNull(v, "membershipTopic");
            if (v.isBlank()) {
                throw new IllegalArgumentException("membershipTopic: \"" + v + "\" (expected: a topic name)");
            }
            draft.membershipTopic = v;
            return this;
        }

        /** See {@link RunnerSettings#bootstrapServers()}. */
        public Builder bootstrapServers(String v) {
            draft.bootstrapServers = Objects.requireNonNull(v, "bootstrapServers");
            return this;
        }

        /** See {@link RunnerSettings#groupId()}. */
        public Builder groupId(String v) {
            draft.groupId = Objects.requireNonNull(v, "groupId");
            return this;
        }

        /** See {@link RunnerSettings#topics()}. */
        public Builder topics(Collection<String> v) {
            draft.topics = new java.util.ArrayList<>(Objects.requireNonNull(v, "topics"));
            return this;
        }

        /** See {@link RunnerSettings#state()}. */
        public Builder state(CouponState v) {
            draft.state = Objects.requireNonNull(v, "state");
            return this;
        }

        /** See {@link RunnerSettings#checkpointDirectory()}. */
        public Builder checkpointDirectory(Path v) {
            draft.checkpointDirectory = Objects.requireNonNull(v, "checkpointDirectory");
            return this;
        }

        /** See {@link RunnerSettings#checkpointInterval()}. */
        public Builder checkpointInterval(Duration v) {
            draft.checkpointInterval = Objects.requireNonNull(v, "checkpointInterval");
            return this;
        }

        /** See {@link RunnerSettings#baseRolloverFraction()}; checked at once (finite, > 0). */
        public Builder baseRolloverFraction(double v) {
            draft.baseRolloverFraction = CheckpointWriter.checkedFraction(v);
            return this;
        }

        /** See {@link RunnerSettings#pollTimeout()}. */
        public Builder pollTimeout(Duration v) {
            draft.pollTimeout = Objects.requireNonNull(v, "pollTimeout");
            return this;
        }

        /** See {@link RunnerSettings#apiTimeout()}. */
        public Builder apiTimeout(Duration v) {
            draft.apiTimeout = Objects.requireNonNull(v, "apiTimeout");
            return this;
        }

        /** See {@link RunnerSettings#partitionDiscoveryInterval()}. */
        public Builder partitionDiscoveryInterval(Duration v) {
            draft.partitionDiscoveryInterval = Objects.requireNonNull(v, "partitionDiscoveryInterval");
            return this;
        }

        /** See {@link RunnerSettings#progressSink()}. */
        public Builder progressSink(java.util.function.Consumer<String> v) {
            draft.progressSink = Objects.requireNonNull(v, "progressSink");
            return this;
        }

        /** See {@link RunnerSettings#progressValidCodes()}. */
        public Builder progressValidCodes(int v) {
            draft.progressValidCodes = v;
            return this;
        }

        /** See {@link RunnerSettings#progressLogInterval()}. */
        public Builder progressLogInterval(Duration v) {
            draft.progressLogInterval = Objects.requireNonNull(v, "progressLogInterval");
            return this;
        }

        /** A consumer property; later calls win. */
        public Builder consumerProperty(String key, Object value) {
            draft.consumerProperties.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** See {@link RunnerSettings#sourceResolver()}. */
        public Builder sourceResolver(SourceResolver v) {
            draft.sourceResolver = Objects.requireNonNull(v, "sourceResolver");
            return this;
        }

        /** See {@link RunnerSettings#invalidRecordHandler()}. */
        public Builder invalidRecordHandler(InvalidRecordHandler v) {
            draft.invalidRecordHandler = Objects.requireNonNull(v, "invalidRecordHandler");
            return this;
        }

        /** See {@link RunnerSettings#stateListener()}. */
        public Builder stateListener(StateListener v) {
            draft.stateListener = Objects.requireNonNull(v, "stateListener");
            return this;
        }

        /** See {@link RunnerSettings#applyThreads()}. */
        public Builder applyThreads(int v) {
            int most = Runtime.getRuntime().availableProcessors() * 4;
            if (v < 1 || v > most) {
                throw new IllegalArgumentException("applyThreads: " + v + " (expected: 1.." + most
                        + ", at most 4 per available processor)");
            }
            draft.applyThreads = v;
            return this;
        }

        /** See {@link RunnerSettings#bulkValues()}. */
        public Builder bulkValues(boolean v) {
            draft.bulkValues = v;
            return this;
        }

        /** See {@link RunnerSettings#maxValueBytes()}. */
        public Builder maxValueBytes(int v) {
            draft.maxValueBytes = v;
            return this;
        }

        /** See {@link RunnerSettings#allowMissingTopics()}. */
        public Builder allowMissingTopics(boolean v) {
            draft.allowMissingTopics = v;
            return this;
        }

        /** See {@link RunnerSettings#rebuildRecreatedTopics()}. */
        public Builder rebuildRecreatedTopics(boolean v) {
            draft.rebuildRecreatedTopics = v;
            return this;
        }

        /** See {@link RunnerSettings#clock()}. */
        public Builder clock(Clock v) {
            draft.clock = Objects.requireNonNull(v, "clock");
            return this;
        }

        /** See {@link RunnerSettings#consumerFactory()}. */
        public Builder consumerFactory(Function<Map<String, Object>, Consumer<byte[], byte[]>> v) {
            draft.consumerFactory = Objects.requireNonNull(v, "consumerFactory");
            return this;
        }

        /** See {@link RunnerSettings#checkpointsOpener()}. */
        public Builder checkpointsOpener(CheckpointsOpener v) {
            draft.checkpointsOpener = Objects.requireNonNull(v, "checkpointsOpener");
            return this;
        }

        /** See {@link RunnerSettings#clusterClientFactory()}. */
        public Builder clusterClientFactory(Function<Map<String, Object>, ClusterClient> v) {
            draft.clusterClientFactory = Objects.requireNonNull(v, "clusterClientFactory");
            return this;
        }

        /**
         * The settings: a copy of what was set, so that later calls on this builder change nothing built.
         *
         * @throws IllegalArgumentException naming the first bad or missing value and its rule, or a consumer
         *     property the runner owns and why it does
         */
        public RunnerSettings build() {
            check(draft);
            RunnerSettings s = draft.copy();
            s.topics = List.copyOf(s.topics);
            return s.derive();
        }

        private static void check(RunnerSettings d) {
            if (d.bootstrapServers == null || d.bootstrapServers.isBlank()) {
                throw new IllegalArgumentException(
                        "bootstrapServers: " + d.bootstrapServers + " (expected: host:port[,host:port...])");
            }
            List<String> topics = d.topics;
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
            if (d.state == null) {
                throw new IllegalArgumentException("state: null (expected: the CouponState to keep current)");
            }
            positive("checkpointInterval", d.checkpointInterval);
            positive("pollTimeout", d.pollTimeout);
            positive("apiTimeout", d.apiTimeout);
            positive("partitionDiscoveryInterval", d.partitionDiscoveryInterval);
            if (d.progressLogInterval.isNegative()) {
                throw new IllegalArgumentException("progressLogInterval: " + d.progressLogInterval
                        + " (expected: >= 0, 0 turns it off)");
            }
            if (d.progressValidCodes < 0) {
                throw new IllegalArgumentException("progressValidCodes: " + d.progressValidCodes
                        + " (expected: >= 0, 0 never names them)");
            }
            if (d.maxValueBytes < 1) {
                throw new IllegalArgumentException("maxValueBytes: " + d.maxValueBytes + " (expected: >= 1)");
            }
            for (Map.Entry<String, Object> e : d.consumerProperties.entrySet()) {
                String key = e.getKey();
                if (key.equals(ConsumerConfig.GROUP_PROTOCOL_CONFIG) && d.partitioned) {
                    String protocol = String.valueOf(e.getValue()).trim();
                    if (!protocol.equalsIgnoreCase("classic") && !protocol.equalsIgnoreCase("consumer")) {
                        throw new IllegalArgumentException("consumerProperty " + key + ": \"" + protocol
                                + "\" (expected: classic or consumer)");
                    }
                    continue;
                }
                String why = OWNED.get(key);
                if (why != null) {
                    throw new IllegalArgumentException("consumerProperty " + key + ": owned by the runner (" + why
                            + ")");
                }
            }
            if (d.partitioned) {
                if (!(d.state instanceof PartitionedCouponState)) {
                    throw new IllegalArgumentException("state: a " + d.state.getClass().getName() + " (expected: a "
                            + "PartitionedCouponState in mode PARTITIONED, one shard per partition number)");
                }
                if (d.groupId == null || d.groupId.isBlank()) {
                    throw new IllegalArgumentException("groupId: " + d.groupId + " (expected: the consumer group the "
                            + "instances share, required in mode PARTITIONED)");
                }
                if (!(d.sourceResolver instanceof TopicSourceResolver)
                        && d.sourceResolver.declaredSources().isEmpty()) {
                    throw new IllegalArgumentException("sourceResolver: declares no sources (expected in mode "
                            + "PARTITIONED: the topic resolver, or SourceResolver.header(key, allowedSources), so that "
                            + "every shard numbers the sources alike)");
                }
            }
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
