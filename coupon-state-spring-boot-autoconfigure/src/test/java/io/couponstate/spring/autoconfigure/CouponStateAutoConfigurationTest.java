package io.couponstate.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.core.ValidityListener;
import io.couponstate.kafka.CouponCheckpoints;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.CouponRunnerMetrics;
import io.couponstate.kafka.InvalidRecordHandler;
import io.couponstate.kafka.InvalidRecordReason;
import io.couponstate.kafka.PartitionedCouponState;
import io.couponstate.kafka.testing.KafkaBrokerExtension;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.kafka.autoconfigure.KafkaAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.kafka.core.KafkaTemplate;

/**
 * The auto-configuration in real application contexts (Spring Boot's {@link ApplicationContextRunner}), on one
 * in-JVM broker shared by the class. Contexts that would only fail are never connected to Kafka.
 */
class CouponStateAutoConfigurationTest {

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    private static final AtomicInteger TOPIC_SET = new AtomicInteger();
    private static final Duration CATCH_UP = Duration.ofSeconds(90);

    @TempDir
    Path tmp;

    private final ApplicationContextRunner contexts = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(CouponStateAutoConfiguration.class))
            .withPropertyValues("couponstate.progress-log-interval=0s", "couponstate.poll-timeout=100ms");

    /** Two new topics, each with one partition, named for this test. */
    private static List<String> topics(String... names) throws Exception {
        int set = TOPIC_SET.incrementAndGet();
        List<String> topics = Stream.of(names).map(n -> "t" + set + "-" + n).toList();
        KafkaTopics.create(KAFKA.bootstrapServers(), topics);
        return topics;
    }

    @Test
    void propertiesAreBound_theApplicationsBeansAreUsed_andShutdownWritesTheFinalCheckpoint() throws Exception {
        List<String> topics = topics("a", "b");
        String bootstrap = KAFKA.bootstrapServers();
        KafkaTopics.send(bootstrap, topics.get(0), "BIRTHDAY1", "SINGLE001", "bad!");
        KafkaTopics.send(bootstrap, topics.get(1), "birthday1");
        Path checkpoints = tmp.resolve("checkpoints");
        List<String> valid = new CopyOnWriteArrayList<>();
        Map<String, InvalidRecordReason> invalid = new ConcurrentHashMap<>();
        AtomicReference<CouponConsumerRunner> runnerSeen = new AtomicReference<>();

        contexts.withConfiguration(AutoConfigurations.of(MetricsAutoConfiguration.class,
                        SimpleMetricsExportAutoConfiguration.class))
                .withBean(ValidityListener.class, () -> (code, sources) -> valid.add(code))
                .withBean(InvalidRecordHandler.class, () -> (InvalidRecordHandler) (ConsumerRecord<byte[], byte[]> r,
                        InvalidRecordReason reason) -> invalid.put(new String(r.value()), reason))
                .withPropertyValues(
                        "spring.kafka.bootstrap-servers=" + bootstrap,
                        "couponstate.topics=" + String.join(",", topics),
                        "couponstate.group-id=auto-config-test",
                        "couponstate.checkpoint-directory=" + checkpoints,
                        "couponstate.checkpoint-interval=10m",
                        "couponstate.threshold=2",
                        "couponstate.code-min-length=6",
                        "couponstate.code-max-length=9",
                        "couponstate.case-insensitive=true",
                        "couponstate.max-sources=4",
                        "couponstate.expected-codes=1000",
                        "couponstate.implementation=compact",
                        "couponstate.apply-threads=2")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    CouponState state = context.getBean(CouponState.class);
                    assertThat(state).isInstanceOf(io.couponstate.core.CompactCouponState.class);
                    CouponStateConfig config = state.config();
                    assertThat(config.threshold()).isEqualTo(2);
                    assertThat(config.maxSources()).isEqualTo(4);
                    assertThat(config.expectedCodes()).isEqualTo(1000);
                    assertThat(config.codeFormat().minLength()).isEqualTo(6);
                    assertThat(config.codeFormat().maxLength()).isEqualTo(9);
                    assertThat(config.codeFormat().caseInsensitive()).isTrue();

                    CouponConsumerRunner runner = context.getBean(CouponConsumerRunner.class);
                    runnerSeen.set(runner);
                    assertThat(runner.state()).isSameAs(state);
                    assertThat(runner.mode()).isEqualTo(CouponConsumerRunner.Mode.REPLICATED);
                    assertThat(context.getBean(CouponRunnerLifecycle.class).isRunning()).isTrue();
                    long t0 = System.nanoTime();
                    assertThat(runner.awaitCaughtUp(CATCH_UP)).isTrue();
                    System.out.println("caught up in ms " + (System.nanoTime() - t0) / 1_000_000);

                    assertThat(state.isValid("BIRTHDAY1")).isTrue();
                    assertThat(state.isValid("SINGLE001")).isFalse();
                    assertThat(valid).containsExactly("BIRTHDAY1");
                    assertThat(invalid).containsOnlyKeys("bad!");

                    // the binder, bound by Spring Boot to the context's registry
                    MeterRegistry registry = context.getBean(MeterRegistry.class);
                    assertThat(registry.get("couponstate.state.codes.valid").gauge().value()).isEqualTo(1.0);
                    assertThat(registry.get("couponstate.runner.records.consumed").functionCounter().count())
                            .isEqualTo(4.0);

                    HealthIndicator health = context.getBean("couponStateHealthIndicator", HealthIndicator.class);
                    await().atMost(CATCH_UP).untilAsserted(() ->
                            assertThat(health.health().getStatus()).isEqualTo(Status.UP));
                    assertThat(runner.metrics().checkpointsWritten()).isZero();
                });

        // the context closed: the lifecycle closed the runner once, which wrote its final checkpoint
        CouponConsumerRunner runner = runnerSeen.get();
        assertThat(runner.runnerState()).isEqualTo(CouponConsumerRunner.State.STOPPED);
        assertThat(runner.metrics().checkpointsWritten()).isEqualTo(1);
        // and that checkpoint holds the state: a new state restored from it knows the valid code
        StripedLockCouponState restored = new StripedLockCouponState(runner.state().config());
        try (CouponCheckpoints files = CouponCheckpoints.open(checkpoints)) {
            Map<TopicPartition, Long> offsets = files.restore(restored);
            assertThat(offsets).containsEntry(new TopicPartition(topics.get(0), 0), 3L)
                    .containsEntry(new TopicPartition(topics.get(1), 0), 1L);
        }
        assertThat(restored.isValid("BIRTHDAY1")).isTrue();
    }

    @Test
    void theApplicationsStateAndRunnerReplaceTheDefaults_besideSpringKafka() throws Exception {
        List<String> topics = topics("a");
        String bootstrap = KAFKA.bootstrapServers();
        KafkaTopics.send(bootstrap, topics.get(0), "ONESOURCE");
        LockFreeCouponState own = new LockFreeCouponState(CouponStateConfig.builder().threshold(1).build());

        // Spring Kafka's auto-configuration beside ours, pointed at a port nothing listens on: ours reads
        // couponstate.bootstrap-servers first, and needs nothing of Spring Kafka's
        contexts.withConfiguration(AutoConfigurations.of(KafkaAutoConfiguration.class))
                .withBean(CouponState.class, () -> own)
                .withPropertyValues(
                        "spring.kafka.bootstrap-servers=127.0.0.1:1",
                        "couponstate.bootstrap-servers=" + bootstrap,
                        "couponstate.topics=" + topics.get(0),
                        "couponstate.threshold=1")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context).hasSingleBean(KafkaTemplate.class);
                    CouponConsumerRunner runner = context.getBean(CouponConsumerRunner.class);
                    assertThat(runner.state()).isSameAs(own);
                    assertThat(runner.awaitCaughtUp(CATCH_UP)).isTrue();
                    assertThat(own.isValid("ONESOURCE")).isTrue();
                });

        CouponConsumerRunner mine = CouponConsumerRunner.builder().bootstrapServers(bootstrap)
                .topics(topics).state(own).build();
        contexts.withBean(CouponConsumerRunner.class, () -> mine)
                .withPropertyValues("couponstate.lifecycle.auto-startup=false")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context.getBean(CouponConsumerRunner.class)).isSameAs(mine);
                    assertThat(context.getBean(CouponRunnerLifecycle.class).runner()).isSameAs(mine);
                    // a state bean is still made from the properties, but the application's runner keeps its own
                    assertThat(mine.state()).isSameAs(own);
                });
        assertThat(mine.runnerState()).isEqualTo(CouponConsumerRunner.State.STOPPED);
    }

    @Test
    void withoutActuatorOrMicrometer_onlyTheStateAndTheRunner() {
        contexts.withClassLoader(new FilteredClassLoader(HealthIndicator.class, MeterBinder.class))
                .withPropertyValues("spring.kafka.bootstrap-servers=127.0.0.1:1", "couponstate.topics=x,y",
                        "couponstate.lifecycle.auto-startup=false")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context).hasSingleBean(CouponConsumerRunner.class);
                    assertThat(context).hasSingleBean(CouponState.class);
                    assertThat(context).doesNotHaveBean(CouponStateHealthIndicator.class);
                    assertThat(context).doesNotHaveBean(CouponRunnerMetrics.class);
                    assertThat(context.getBean(CouponRunnerLifecycle.class).isRunning()).isFalse();
                });
    }

    @Test
    void partitionedMode_aPartitionedStateOfTheChosenShards() {
        contexts.withPropertyValues("spring.kafka.bootstrap-servers=127.0.0.1:1", "couponstate.topics=x,y",
                        "couponstate.mode=partitioned", "couponstate.partitions=3", "couponstate.group-id=g",
                        "couponstate.lifecycle.auto-startup=false")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    PartitionedCouponState state = context.getBean(PartitionedCouponState.class);
                    assertThat(state.partitions()).isEqualTo(3);
                    assertThat(state.newShard(0)).isInstanceOf(LockFreeCouponState.class);
                    assertThat(context.getBean(CouponConsumerRunner.class).mode())
                            .isEqualTo(CouponConsumerRunner.Mode.PARTITIONED);
                });
    }

    @ParameterizedTest(name = "{0} fails naming {1}")
    @CsvSource(delimiter = '|', value = {
        "couponstate.threshold=9                  | couponstate.threshold",
        "couponstate.threshold=3                  | couponstate.threshold",
        "couponstate.threshold=many               | couponstate.threshold",
        "couponstate.max-sources=65               | couponstate.max-sources",
        "couponstate.max-sources=1;couponstate.threshold=1 | couponstate.topics",
        "couponstate.code-min-length=0            | couponstate.code-min-length",
        "couponstate.code-max-length=13           | couponstate.code-max-length",
        "couponstate.expected-codes=-1            | couponstate.expected-codes",
        "couponstate.apply-threads=0              | couponstate.apply-threads",
        "couponstate.poll-timeout=-1s             | couponstate.poll-timeout",
        "couponstate.topics=                      | couponstate.topics",
        "couponstate.implementation=quantum       | couponstate.implementation",
        "couponstate.mode=partitioned             | couponstate.partitions",
        "couponstate.consumer.enable.auto.commit=true | couponstate.consumer",
        "couponstate.application-endpoint=nohost  | couponstate.application-endpoint",
        "spring.kafka.bootstrap-servers=          | couponstate.bootstrap-servers",
    })
    void aBadPropertyFailsStartupNamingIt(String property, String named) {
        contexts.withPropertyValues("spring.kafka.bootstrap-servers=127.0.0.1:1", "couponstate.topics=x,y")
                .withPropertyValues(property.split(";"))
                .run(context -> {
                    assertThat(context).hasFailed();
                    StringBuilder messages = new StringBuilder();
                    for (Throwable t = context.getStartupFailure(); t != null; t = t.getCause()) {
                        messages.append(t.getMessage()).append('\n');
                    }
                    assertThat(messages.toString()).contains(named);
                });
    }
}
