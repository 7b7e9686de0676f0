package io.couponstate.spring.autoconfigure;

import io.couponstate.kafka.CouponConsumerRunner;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The {@code couponstate.*} properties: what the {@link io.couponstate.core.CouponState} and the
 * {@link CouponConsumerRunner} take. A property left unset keeps the library's default; the defaults written here
 * are the library's. Checked when the beans are made: a bad value or combination fails the context at startup with
 * a message naming the property.
 */
@ConfigurationProperties(prefix = CouponStateProperties.PREFIX)
public class CouponStateProperties {

    /** The prefix of every property here. */
    public static final String PREFIX = "couponstate";

    /**
     * Kafka brokers to bootstrap from, host:port[,host:port...]. Default: spring.kafka.bootstrap-servers.
     */
    private List<String> bootstrapServers = new ArrayList<>();

    /** Topics to read, every partition of each; with the default source resolver each topic is a source. */
    private List<String> topics = new ArrayList<>();

    /**
     * Consumer group the offsets of each durable checkpoint are committed to, for lag monitoring only (required in
     * partitioned mode, where the instances share its partitions).
     */
    private String groupId;

    /** Where checkpoints live; unset: nothing is checkpointed and the state is rebuilt by replay at each start. */
    private Path checkpointDirectory;

    /** How often a checkpoint is written (library default 1m); one is also written at shutdown. */
    private Duration checkpointInterval;

    /** When a checkpoint is a new base rather than a delta: a fraction of the base's size (library default 0.5). */
    private Double baseRolloverFraction;

    /** Distinct sources a code needs to be valid (1..max-sources). */
    private int threshold = 2;

    /** Shortest code accepted (1..12). */
    private int codeMinLength = 8;

    /** Longest code accepted (code-min-length..12). */
    private int codeMaxLength = 10;

    /** Whether lower case is folded to upper case before anything else. */
    private boolean caseInsensitive = false;

    /** The most distinct sources the state accepts (1..64). */
    private int maxSources = 8;

    /** Distinct codes the state is sized for up front (0: start small and grow). */
    private long expectedCodes = 0;

    /** Entries of the change journal delta checkpoints are written from (0: every checkpoint is a full base). */
    private int changeJournalCapacity = 0;

    /** The CouponState implementation. */
    private StateImplementation implementation = StateImplementation.LOCK_FREE;

    /** How the instances share the work: replicated (each holds the whole state) or partitioned. */
    private CouponConsumerRunner.Mode mode = CouponConsumerRunner.Mode.REPLICATED;

    /** Partitioned mode: the partition count of every topic (required there). */
    private Integer partitions;

    /** Threads applying polled records to the state (1..4 x available processors). */
    private int applyThreads = 1;

    /** Whether a record's value holds many codes, one per line. */
    private boolean bulkValues = false;

    /** The largest record value looked at (library default 1 MiB); a longer one is invalid. */
    private Integer maxValueBytes;

    /** Whether a topic missing at start is waited for rather than failing the runner. */
    private boolean allowMissingTopics = false;

    /** Whether a topic deleted and created again since the checkpoint is read again from its beginning. */
    private boolean rebuildRecreatedTopics = false;

    /** The longest one poll blocks (library default 500ms). */
    private Duration pollTimeout;

    /** The longest a metadata, offsets or commit request blocks (library default 5s). */
    private Duration apiTimeout;

    /** How often new partitions of the topics are looked for (library default 30s). */
    private Duration partitionDiscoveryInterval;

    /** How often the progress line is logged (library default 30s; 0 turns it off). */
    private Duration progressLogInterval;

    /** The progress line names the valid codes while there are at most this many (library default 20). */
    private Integer progressValidCodes;

    /** The host:port this instance advertises to the others (partitioned mode: where its HTTP server listens). */
    private String applicationEndpoint;

    /** Partitioned mode: the compacted topic the instances advertise their partitions in. */
    private String membershipTopic;

    /** Extra Kafka consumer properties (security, client.id...); the ones the runner owns are refused. */
    private Map<String, String> consumer = new LinkedHashMap<>();

    /** Health and readiness. */
    private final Health health = new Health();

    /** The context's lifecycle. */
    private final Lifecycle lifecycle = new Lifecycle();

    /** Creates the properties with the library's defaults. */
    public CouponStateProperties() {
    }

    /**
     * Returns the brokers to bootstrap from; empty: spring.kafka.bootstrap-servers.
     *
     * @return the brokers to bootstrap from; empty: spring.kafka.bootstrap-servers
     */
    public List<String> getBootstrapServers() {
        return bootstrapServers;
    }

    /**
     * Sets the brokers to bootstrap from.
     *
     * @param bootstrapServers the brokers to bootstrap from
     */
    public void setBootstrapServers(List<String> bootstrapServers) {
        this.bootstrapServers = bootstrapServers;
    }

    /**
     * Returns the topics to read.
     *
     * @return the topics to read
     */
    public List<String> getTopics() {
        return topics;
    }

    /**
     * Sets the topics to read.
     *
     * @param topics the topics to read
     */
    public void setTopics(List<String> topics) {
        this.topics = topics;
    }

    /**
     * Returns the consumer group, or null.
     *
     * @return the consumer group, or null
     */
    public String getGroupId() {
        return groupId;
    }

    /**
     * Sets the consumer group.
     *
     * @param groupId the consumer group
     */
    public void setGroupId(String groupId) {
        this.groupId = groupId;
    }

    /**
     * Returns the checkpoint directory, or null.
     *
     * @return the checkpoint directory, or null
     */
    public Path getCheckpointDirectory() {
        return checkpointDirectory;
    }

    /**
     * Sets the checkpoint directory.
     *
     * @param checkpointDirectory the checkpoint directory
     */
    public void setCheckpointDirectory(Path checkpointDirectory) {
        this.checkpointDirectory = checkpointDirectory;
    }

    /**
     * Returns the checkpoint interval, or null for the library's default.
     *
     * @return the checkpoint interval, or null for the library's default
     */
    public Duration getCheckpointInterval() {
        return checkpointInterval;
    }

    /**
     * Sets the checkpoint interval.
     *
     * @param checkpointInterval the checkpoint interval
     */
    public void setCheckpointInterval(Duration checkpointInterval) {
        this.checkpointInterval = checkpointInterval;
    }

    /**
     * Returns the base rollover fraction, or null for the library's default.
     *
     * @return the base rollover fraction, or null for the library's default
     */
    public Double getBaseRolloverFraction() {
        return baseRolloverFraction;
    }

    /**
     * Sets the base rollover fraction.
     *
     * @param baseRolloverFraction the base rollover fraction
     */
    public void setBaseRolloverFraction(Double baseRolloverFraction) {
        this.baseRolloverFraction = baseRolloverFraction;
    }

    /**
     * Returns the threshold.
     *
     * @return the threshold
     */
    public int getThreshold() {
        return threshold;
    }

    /**
     * Sets the threshold.
     *
     * @param threshold the threshold
     */
    public void setThreshold(int threshold) {
        this.threshold = threshold;
    }

    /**
     * Returns the shortest code accepted.
     *
     * @return the shortest code accepted
     */
    public int getCodeMinLength() {
        return codeMinLength;
    }

    /**
     * Sets the shortest code accepted.
     *
     * @param codeMinLength the shortest code accepted
     */
    public void setCodeMinLength(int codeMinLength) {
        this.codeMinLength = codeMinLength;
    }

    /**
     * Returns the longest code accepted.
     *
     * @return the longest code accepted
     */
    public int getCodeMaxLength() {
        return codeMaxLength;
    }

    /**
     * Sets the longest code accepted.
     *
     * @param codeMaxLength the longest code accepted
     */
    public void setCodeMaxLength(int codeMaxLength) {
        this.codeMaxLength = codeMaxLength;
    }

    /**
     * Returns whether lower case is folded to upper case.
     *
     * @return whether lower case is folded to upper case
     */
    public boolean isCaseInsensitive() {
        return caseInsensitive;
    }

    /**
     * Sets whether lower case is folded to upper case.
     *
     * @param caseInsensitive whether lower case is folded to upper case
     */
    public void setCaseInsensitive(boolean caseInsensitive) {
        this.caseInsensitive = caseInsensitive;
    }

    /**
     * Returns the most distinct sources.
     *
     * @return the most distinct sources
     */
    public int getMaxSources() {
        return maxSources;
    }

    /**
     * Sets the most distinct sources.
     *
     * @param maxSources the most distinct sources
     */
    public void setMaxSources(int maxSources) {
        this.maxSources = maxSources;
    }

    /**
     * Returns the expected number of distinct codes.
     *
     * @return the expected number of distinct codes
     */
    public long getExpectedCodes() {
        return expectedCodes;
    }

    /**
     * Sets the expected number of distinct codes.
     *
     * @param expectedCodes the expected number of distinct codes
     */
    public void setExpectedCodes(long expectedCodes) {
        this.expectedCodes = expectedCodes;
    }

    /**
     * Returns the change journal's capacity.
     *
     * @return the change journal's capacity
     */
    public int getChangeJournalCapacity() {
        return changeJournalCapacity;
    }

    /**
     * Sets the change journal's capacity.
     *
     * @param changeJournalCapacity the change journal's capacity
     */
    public void setChangeJournalCapacity(int changeJournalCapacity) {
        this.changeJournalCapacity = changeJournalCapacity;
    }

    /**
     * Returns the implementation.
     *
     * @return the implementation
     */
    public StateImplementation getImplementation() {
        return implementation;
    }

    /**
     * Sets the implementation.
     *
     * @param implementation the implementation
     */
    public void setImplementation(StateImplementation implementation) {
        this.implementation = implementation;
    }

    /**
     * Returns the mode.
     *
     * @return the mode
     */
    public CouponConsumerRunner.Mode getMode() {
        return mode;
    }

    /**
     * Sets the mode.
     *
     * @param mode the mode
     */
    public void setMode(CouponConsumerRunner.Mode mode) {
        this.mode = mode;
    }

    /**
     * Returns the partition count (partitioned mode), or null.
     *
     * @return the partition count (partitioned mode), or null
     */
    public Integer getPartitions() {
        return partitions;
    }

    /**
     * Sets the partition count (partitioned mode).
     *
     * @param partitions the partition count (partitioned mode)
     */
    public void setPartitions(Integer partitions) {
        this.partitions = partitions;
    }

    /**
     * Returns the number of apply threads.
     *
     * @return the number of apply threads
     */
    public int getApplyThreads() {
        return applyThreads;
    }

    /**
     * Sets the number of apply threads.
     *
     * @param applyThreads the number of apply threads
     */
    public void setApplyThreads(int applyThreads) {
        this.applyThreads = applyThreads;
    }

    /**
     * Returns whether a record's value holds many codes.
     *
     * @return whether a record's value holds many codes
     */
    public boolean isBulkValues() {
        return bulkValues;
    }

    /**
     * Sets whether a record's value holds many codes.
     *
     * @param bulkValues whether a record's value holds many codes
     */
    public void setBulkValues(boolean bulkValues) {
        this.bulkValues = bulkValues;
    }

    /**
     * Returns the largest value looked at, or null for the library's default.
     *
     * @return the largest value looked at, or null for the library's default
     */
    public Integer getMaxValueBytes() {
        return maxValueBytes;
    }

    /**
     * Sets the largest value looked at.
     *
     * @param maxValueBytes the largest value looked at
     */
    public void setMaxValueBytes(Integer maxValueBytes) {
        this.maxValueBytes = maxValueBytes;
    }

    /**
     * Returns whether a missing topic is waited for.
     *
     * @return whether a missing topic is waited for
     */
    public boolean isAllowMissingTopics() {
        return allowMissingTopics;
    }

    /**
     * Sets whether a missing topic is waited for.
     *
     * @param allowMissingTopics whether a missing topic is waited for
     */
    public void setAllowMissingTopics(boolean allowMissingTopics) {
        this.allowMissingTopics = allowMissingTopics;
    }

    /**
     * Returns whether a recreated topic is read again.
     *
     * @return whether a recreated topic is read again
     */
    public boolean isRebuildRecreatedTopics() {
        return rebuildRecreatedTopics;
    }

    /**
     * Sets whether a recreated topic is read again.
     *
     * @param rebuildRecreatedTopics whether a recreated topic is read again
     */
    public void setRebuildRecreatedTopics(boolean rebuildRecreatedTopics) {
        this.rebuildRecreatedTopics = rebuildRecreatedTopics;
    }

    /**
     * Returns the poll timeout, or null for the library's default.
     *
     * @return the poll timeout, or null for the library's default
     */
    public Duration getPollTimeout() {
        return pollTimeout;
    }

    /**
     * Sets the poll timeout.
     *
     * @param pollTimeout the poll timeout
     */
    public void setPollTimeout(Duration pollTimeout) {
        this.pollTimeout = pollTimeout;
    }

    /**
     * Returns the API timeout, or null for the library's default.
     *
     * @return the API timeout, or null for the library's default
     */
    public Duration getApiTimeout() {
        return apiTimeout;
    }

    /**
     * Sets the API timeout.
     *
     * @param apiTimeout the API timeout
     */
    public void setApiTimeout(Duration apiTimeout) {
        this.apiTimeout = apiTimeout;
    }

    /**
     * Returns the partition discovery interval, or null for the library's default.
     *
     * @return the partition discovery interval, or null for the library's default
     */
    public Duration getPartitionDiscoveryInterval() {
        return partitionDiscoveryInterval;
    }

    /**
     * Sets the partition discovery interval.
     *
     * @param partitionDiscoveryInterval the partition discovery interval
     */
    public void setPartitionDiscoveryInterval(Duration partitionDiscoveryInterval) {
        this.partitionDiscoveryInterval = partitionDiscoveryInterval;
    }

    /**
     * Returns the progress log interval, or null for the library's default.
     *
     * @return the progress log interval, or null for the library's default
     */
    public Duration getProgressLogInterval() {
        return progressLogInterval;
    }

    /**
     * Sets the progress log interval.
     *
     * @param progressLogInterval the progress log interval
     */
    public void setProgressLogInterval(Duration progressLogInterval) {
        this.progressLogInterval = progressLogInterval;
    }

    /**
     * Returns how many valid codes the progress line names at most, or null for the library's default.
     *
     * @return how many valid codes the progress line names at most, or null for the library's default
     */
    public Integer getProgressValidCodes() {
        return progressValidCodes;
    }

    /**
     * Sets how many valid codes the progress line names at most.
     *
     * @param progressValidCodes how many valid codes the progress line names at most
     */
    public void setProgressValidCodes(Integer progressValidCodes) {
        this.progressValidCodes = progressValidCodes;
    }

    /**
     * Returns the advertised host:port, or null.
     *
     * @return the advertised host:port, or null
     */
    public String getApplicationEndpoint() {
        return applicationEndpoint;
    }

    /**
     * Sets the advertised host:port.
     *
     * @param applicationEndpoint the advertised host:port
     */
    public void setApplicationEndpoint(String applicationEndpoint) {
        this.applicationEndpoint = applicationEndpoint;
    }

    /**
     * Returns the membership topic, or null for the library's default.
     *
     * @return the membership topic, or null for the library's default
     */
    public String getMembershipTopic() {
        return membershipTopic;
    }

    /**
     * Sets the membership topic.
     *
     * @param membershipTopic the membership topic
     */
    public void setMembershipTopic(String membershipTopic) {
        this.membershipTopic = membershipTopic;
    }

    /**
     * Returns the extra consumer properties.
     *
     * @return the extra consumer properties
     */
    public Map<String, String> getConsumer() {
        return consumer;
    }

    /**
     * Sets the extra consumer properties.
     *
     * @param consumer the extra consumer properties
     */
    public void setConsumer(Map<String, String> consumer) {
        this.consumer = consumer;
    }

    /**
     * Returns the health settings.
     *
     * @return the health settings
     */
    public Health getHealth() {
        return health;
    }

    /**
     * Returns the lifecycle settings.
     *
     * @return the lifecycle settings
     */
    public Lifecycle getLifecycle() {
        return lifecycle;
    }

    /** The {@code couponstate.health.*} properties. */
    public static class Health {

        /**
         * Whether the couponState health contributor is a member of the readiness group, so that
         * /actuator/health/readiness is OUT_OF_SERVICE until the state has caught up.
         */
        private boolean readiness = true;

        /** Creates the defaults. */
        public Health() {
        }

        /**
         * Returns whether the contributor is in the readiness group.
         *
         * @return whether the contributor is in the readiness group
         */
        public boolean isReadiness() {
            return readiness;
        }

        /**
         * Sets whether the contributor is in the readiness group.
         *
         * @param readiness whether the contributor is in the readiness group
         */
        public void setReadiness(boolean readiness) {
            this.readiness = readiness;
        }
    }

    /** The {@code couponstate.lifecycle.*} properties. */
    public static class Lifecycle {

        /** Whether the runner starts with the context (false: the application calls start() itself). */
        private boolean autoStartup = true;

        /**
         * The SmartLifecycle phase of the runner: it starts before and stops after the beans of higher phases (the
         * default starts it before the web server and stops it after the web server has stopped serving).
         */
        private int phase = CouponRunnerLifecycle.DEFAULT_PHASE;

        /** Creates the defaults. */
        public Lifecycle() {
        }

        /**
         * Returns whether the runner starts with the context.
         *
         * @return whether the runner starts with the context
         */
        public boolean isAutoStartup() {
            return autoStartup;
        }

        /**
         * Sets whether the runner starts with the context.
         *
         * @param autoStartup whether the runner starts with the context
         */
        public void setAutoStartup(boolean autoStartup) {
            this.autoStartup = autoStartup;
        }

        /**
         * Returns the SmartLifecycle phase.
         *
         * @return the SmartLifecycle phase
         */
        public int getPhase() {
            return phase;
        }

        /**
         * Sets the SmartLifecycle phase.
         *
         * @param phase the SmartLifecycle phase
         */
        public void setPhase(int phase) {
            this.phase = phase;
        }
    }
}
