package io.couponstate.spring.autoconfigure;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.ValidityListener;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.CouponRunnerMetrics;
import io.couponstate.kafka.InvalidRecordHandler;
import io.couponstate.kafka.PartitionedCouponState;
import io.couponstate.kafka.SourceResolver;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.health.actuate.endpoint.HealthEndpointGroupsPostProcessor;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.annotation.Order;
import org.springframework.core.env.Environment;

/**
 * Makes a {@link CouponState} and a {@link CouponConsumerRunner} from the {@code couponstate.*} properties
 * ({@link CouponStateProperties}), starts the runner with the context and closes it at shutdown
 * ({@link CouponRunnerLifecycle}); with Spring Boot's health module, a {@code couponState} health contributor that is
 * also a member of the readiness group; with Micrometer, the runner's meters in the context's registry.
 *
 * <p>Every bean backs off when the application defines its own of the same type. The application's
 * {@link SourceResolver}, {@link InvalidRecordHandler} and {@link ValidityListener} beans are used when it has them
 * (several validity listeners are all told, in their order). Spring Kafka is neither needed nor used: the bootstrap
 * servers are {@code couponstate.bootstrap-servers}, else {@code spring.kafka.bootstrap-servers}.
 */
@AutoConfiguration(afterName = "org.springframework.boot.kafka.autoconfigure.KafkaAutoConfiguration")
@ConditionalOnClass(CouponConsumerRunner.class)
@EnableConfigurationProperties(CouponStateProperties.class)
public class CouponStateAutoConfiguration {

    /** The name of the health contributor (the indicator bean's name without {@code HealthIndicator}). */
    public static final String HEALTH_CONTRIBUTOR = "couponState";

    /** Creates the auto-configuration; Spring calls this. */
    public CouponStateAutoConfiguration() {
    }

    /**
     * The state, of {@code couponstate.implementation}; a {@link PartitionedCouponState} of such shards in
     * partitioned mode.
     *
     * @param properties the bound properties
     * @param validityListeners the application's validity listeners, if any
     * @return the state
     */
    @Bean
    @ConditionalOnMissingBean
    public CouponState couponState(CouponStateProperties properties,
            ObjectProvider<ValidityListener> validityListeners) {
        List<ValidityListener> listeners = validityListeners.orderedStream().toList();
        CouponStateConfig.Builder builder = CouponStateConfig.builder()
                .threshold(properties.getThreshold())
                .codeLength(properties.getCodeMinLength(), properties.getCodeMaxLength())
                .caseInsensitive(properties.isCaseInsensitive())
                .maxSources(properties.getMaxSources())
                .expectedCodes(properties.getExpectedCodes())
                .changeJournalCapacity(properties.getChangeJournalCapacity());
        if (listeners.size() == 1) {
            builder.validityListener(listeners.get(0));
        } else if (!listeners.isEmpty()) {
            builder.validityListener((code, sources) -> listeners.forEach(l -> l.onValid(code, sources)));
        }
        CouponStateConfig config = PropertyErrors.check(builder::build);
        StateImplementation implementation = properties.getImplementation();
        if (properties.getMode() != CouponConsumerRunner.Mode.PARTITIONED) {
            return implementation.create(config);
        }
        Integer partitions = properties.getPartitions();
        if (partitions == null || partitions < 1) {
            throw new InvalidConfigurationPropertyValueException(PREFIXED_PARTITIONS, partitions,
                    "partitioned mode needs the partition count of every topic (expected: >= 1)");
        }
        return new PartitionedCouponState(partitions, config, p -> implementation.create(config));
    }

    private static final String PREFIXED_PARTITIONS = CouponStateProperties.PREFIX + ".partitions";

    /**
     * The runner, not yet started: {@link CouponRunnerLifecycle} starts and closes it, so it has no destroy method of
     * its own and Spring never closes it twice.
     *
     * @param properties the bound properties
     * @param state the state to keep current
     * @param environment where {@code spring.kafka.bootstrap-servers} is read from
     * @param sourceResolver the application's source resolver, if any
     * @param invalidRecordHandler the application's invalid-record handler, if any (the runner closes it)
     * @return the runner
     */
    @Bean(destroyMethod = "")
    @ConditionalOnMissingBean
    public CouponConsumerRunner couponConsumerRunner(CouponStateProperties properties, CouponState state,
            Environment environment, ObjectProvider<SourceResolver> sourceResolver,
            ObjectProvider<InvalidRecordHandler> invalidRecordHandler) {
        if (properties.getTopics().isEmpty()) {
            throw new InvalidConfigurationPropertyValueException(CouponStateProperties.PREFIX + ".topics", "",
                    "at least one topic to read is required");
        }
        String servers = bootstrapServers(properties, environment);
        if (sourceResolver.getIfAvailable() == null) {
            checkTopicSources(properties, state);
        }
        return PropertyErrors.check(() -> {
            CouponConsumerRunner.Builder b = CouponConsumerRunner.builder()
                    .bootstrapServers(servers)
                    .topics(properties.getTopics())
                    .state(state)
                    .mode(properties.getMode())
                    .applyThreads(properties.getApplyThreads())
                    .bulkValues(properties.isBulkValues())
                    .allowMissingTopics(properties.isAllowMissingTopics())
                    .rebuildRecreatedTopics(properties.isRebuildRecreatedTopics())
                    .consumerProperties(properties.getConsumer());
            setIfPresent(properties.getGroupId(), b::groupId);
            setIfPresent(properties.getCheckpointDirectory(), b::checkpointDirectory);
            setIfPresent(properties.getCheckpointInterval(), b::checkpointInterval);
            setIfPresent(properties.getBaseRolloverFraction(), b::baseRolloverFraction);
            setIfPresent(properties.getMaxValueBytes(), b::maxValueBytes);
            setIfPresent(properties.getPollTimeout(), b::pollTimeout);
            setIfPresent(properties.getApiTimeout(), b::apiTimeout);
            setIfPresent(properties.getPartitionDiscoveryInterval(), b::partitionDiscoveryInterval);
            setIfPresent(properties.getProgressLogInterval(), b::progressLogInterval);
            setIfPresent(properties.getProgressValidCodes(), b::progressValidCodes);
            setIfPresent(properties.getMembershipTopic(), b::membershipTopic);
            setIfPresent(properties.getApplicationEndpoint(), b::applicationEndpoint);
            sourceResolver.ifAvailable(b::sourceResolver);
            invalidRecordHandler.ifAvailable(b::invalidRecordHandler);
            return b.build();
        });
    }

    /**
     * Starts the runner with the context and closes it at shutdown.
     *
     * @param runner the runner
     * @param properties the bound properties ({@code couponstate.lifecycle.*})
     * @return the lifecycle
     */
    @Bean
    @ConditionalOnMissingBean
    public CouponRunnerLifecycle couponRunnerLifecycle(CouponConsumerRunner runner, CouponStateProperties properties) {
        return new CouponRunnerLifecycle(runner, properties.getLifecycle().isAutoStartup(),
                properties.getLifecycle().getPhase());
    }

    /**
     * With the default resolver each topic is a source: more topics than the state's sources could never be read,
     * and a threshold above the topic count could never be reached (every code would stay invalid forever).
     */
    private static void checkTopicSources(CouponStateProperties properties, CouponState state) {
        int topics = properties.getTopics().size();
        int maxSources = state.config().maxSources();
        if (topics > maxSources) {
            throw new InvalidConfigurationPropertyValueException(CouponStateProperties.PREFIX + ".topics",
                    properties.getTopics(), topics + " topics, each a source, but the state accepts at most "
                    + maxSources + " sources (raise couponstate.max-sources)");
        }
        int threshold = state.config().threshold();
        if (threshold > topics) {
            throw new InvalidConfigurationPropertyValueException(CouponStateProperties.PREFIX + ".threshold",
                    threshold, "threshold " + threshold + " is above the " + topics + " topics (each topic is a "
                    + "source, so no code could ever become valid; expected: at most " + topics + ")");
        }
    }

    private static String bootstrapServers(CouponStateProperties properties, Environment environment) {
        List<String> servers = properties.getBootstrapServers();
        if (servers.isEmpty()) {
            servers = Binder.get(environment).bind("spring.kafka.bootstrap-servers", Bindable.listOf(String.class))
                    .orElse(List.of());
        }
        String joined = servers.stream().map(String::trim).filter(s -> !s.isEmpty())
                .collect(Collectors.joining(","));
        if (joined.isEmpty()) {
            throw new InvalidConfigurationPropertyValueException(CouponStateProperties.PREFIX + ".bootstrap-servers",
                    "", "no Kafka brokers: set couponstate.bootstrap-servers or spring.kafka.bootstrap-servers");
        }
        return joined;
    }

    private static <T> void setIfPresent(T value, Consumer<T> setter) {
        if (value != null) {
            setter.accept(value);
        }
    }

    /** The runner's meters, bound by Spring Boot to every registry of the context. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = "io.micrometer.core.instrument.binder.MeterBinder")
    static class MetricsConfiguration {

        @Bean
        @ConditionalOnMissingBean
        CouponRunnerMetrics couponRunnerMetrics(CouponConsumerRunner runner) {
            return new CouponRunnerMetrics(runner);
        }
    }

    /** The health contributor. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(HealthIndicator.class)
    static class HealthConfiguration {

        @Bean
        @ConditionalOnMissingBean(name = HEALTH_CONTRIBUTOR + "HealthIndicator")
        CouponStateHealthIndicator couponStateHealthIndicator(CouponConsumerRunner runner) {
            return new CouponStateHealthIndicator(runner);
        }
    }

    /** The contributor's membership of the readiness group, with the actuator's health endpoint. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.springframework.boot.health.contributor.HealthIndicator",
        "org.springframework.boot.actuate.endpoint.annotation.Endpoint"})
    @ConditionalOnBooleanProperty(name = {"management.endpoint.health.probes.enabled",
        "couponstate.health.readiness"}, matchIfMissing = true)
    static class ReadinessConfiguration {

        /**
         * Ordered before Spring Boot's own probes post-processor (lowest precedence), which then keeps the readiness
         * group made here and only adds its additional path, when configured.
         */
        @Bean
        @Order(0)
        HealthEndpointGroupsPostProcessor couponStateReadinessGroup() {
            return new ReadinessGroupPostProcessor(Set.of(HEALTH_CONTRIBUTOR));
        }
    }
}
