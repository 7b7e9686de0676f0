package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.testing.KafkaBrokerExtension;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@Tag("integration")
class CouponRunnerMetricsTest {

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @Test
    void bindTo_beforeStart_registersEveryMeterWithTheCreatedState() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (CouponConsumerRunner runner = KafkaTestSupport.runner(KAFKA.bootstrapServers(), List.of("t1"),
                new LockFreeCouponState()).build()) {
            new CouponRunnerMetrics(runner, Tags.of("service", "test")).bindTo(registry);

            assertThat(registry.getMeters()).allSatisfy(m -> assertThat(m.getId().getTag("service"))
                    .isEqualTo("test"));
            assertThat(registry.getMeters()).hasSize(8 + InvalidRecordReason.values().length
                    + CouponConsumerRunner.State.values().length + 3);
            assertThat(gauge(registry, "couponstate.runner.state", "state", "created")).isEqualTo(1.0);
            assertThat(gauge(registry, "couponstate.runner.state", "state", "running")).isEqualTo(0.0);
            assertThat(counter(registry, "couponstate.runner.records.consumed")).isZero();
            assertThat(gauge(registry, "couponstate.runner.lag")).as("unknown lag is NaN, not -1").isNaN();
            assertThat(counter(registry, "couponstate.runner.checkpoints.failed")).isZero();
            assertThat(gauge(registry, "couponstate.runner.checkpoint.durable")).as("no attempt failed").isEqualTo(1.0);
            assertThat(gauge(registry, "couponstate.runner.checkpoint.age.seconds")).as("no checkpoint yet").isNaN();
        }
    }

    @Test
    void meters_followTheRunningRunner() throws Exception {
        List<String> topics = KafkaTestSupport.topicNames("metrics", 2);
        KafkaTestSupport.createTopics(KAFKA.bootstrapServers(), topics, 1);
        KafkaTestSupport.produce(KAFKA.bootstrapServers(), List.of(
                record(topics.get(0), "BIRTHDAY"), record(topics.get(0), "OVER9000"), record(topics.get(0), "X"),
                record(topics.get(1), "BIRTHDAY")));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (CouponConsumerRunner runner = KafkaTestSupport.runner(KAFKA.bootstrapServers(), topics,
                new LockFreeCouponState()).build()) {
            CouponRunnerMetrics.bindTo(runner, registry);
            runner.start();
            assertThat(runner.awaitCaughtUp(Duration.ofMinutes(2))).isTrue();

            assertThat(counter(registry, "couponstate.runner.records.consumed")).isEqualTo(4.0);
            assertThat(counter(registry, "couponstate.runner.codes.applied")).isEqualTo(3.0);
            assertThat(counter(registry, "couponstate.runner.records.invalid", "reason", "too_short")).isEqualTo(1.0);
            assertThat(counter(registry, "couponstate.runner.records.invalid", "reason", "too_long")).isZero();
            assertThat(gauge(registry, "couponstate.state.codes.distinct")).isEqualTo(2.0);
            assertThat(gauge(registry, "couponstate.state.codes.valid")).isEqualTo(1.0);
            assertThat(gauge(registry, "couponstate.runner.state", "state", "running")).isEqualTo(1.0);
            assertThat(gauge(registry, "couponstate.runner.state", "state", "created")).isEqualTo(0.0);
            assertThat(gauge(registry, "couponstate.runner.records.per.second")).isNotNegative();
        }
    }

    @Test
    void bindingTwice_registersNothingNew() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (CouponConsumerRunner runner = KafkaTestSupport.runner(KAFKA.bootstrapServers(), List.of("t1"),
                new LockFreeCouponState()).build()) {
            CouponRunnerMetrics.bindTo(runner, registry);
            List<Meter> first = List.copyOf(registry.getMeters());
            CouponRunnerMetrics.bindTo(runner, registry);
            assertThat(registry.getMeters()).hasSameSizeAs(first);
        }
    }

    private static ProducerRecord<byte[], byte[]> record(String topic, String code) {
        return new ProducerRecord<>(topic, KafkaTestSupport.ascii(code), KafkaTestSupport.ascii(code));
    }

    private static double counter(SimpleMeterRegistry registry, String name, String... tags) {
        FunctionCounter c = registry.get(name).tags(tags).functionCounter();
        return c.count();
    }

    private static double gauge(SimpleMeterRegistry registry, String name, String... tags) {
        Gauge g = registry.get(name).tags(tags).gauge();
        return g.value();
    }
}
