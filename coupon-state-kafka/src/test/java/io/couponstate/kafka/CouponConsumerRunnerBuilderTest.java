package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.StripedLockCouponState;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CouponConsumerRunnerBuilderTest {

    private static CouponConsumerRunner.Builder valid() {
        return CouponConsumerRunner.builder()
                .bootstrapServers("127.0.0.1:1")
                .topics(List.of("a", "b"))
                .state(new StripedLockCouponState());
    }

    @Test
    void build_withTheRequiredSettings_isCreatedAndClosesWithoutStarting() {
        CouponConsumerRunner runner = valid().build();
        assertThat(runner.runnerState()).isEqualTo(CouponConsumerRunner.State.CREATED);
        runner.close();
        assertThat(runner.runnerState()).isEqualTo(CouponConsumerRunner.State.STOPPED);
        assertThatThrownBy(runner::start).isInstanceOf(IllegalStateException.class)
                .hasMessage("start: runner is STOPPED (expected: CREATED)");
    }

    @Test
    void progressLine_namesTheValidCodesWhileThereAreAtMostTheConfiguredFew() {
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = valid().state(state).progressValidCodes(3).build()) {
            assertThat(runner.validCodesNote()).as("nothing valid yet").isEmpty();
            for (String code : List.of("OVER9000", "BIRTHDAY", "FIFTYOFF")) {
                state.addObservation(code, "a");
                state.addObservation(code, "b");
            }
            state.addObservation("ONLYONCE", "a");
            assertThat(runner.validCodesNote()).isEqualTo("; valid now: BIRTHDAY FIFTYOFF OVER9000");
            state.addObservation("GNULINUX", "a");
            state.addObservation("GNULINUX", "b");
            assertThat(runner.validCodesNote()).as("past the few, the count in the metrics says it").isEmpty();
        }
        try (CouponConsumerRunner never = valid().state(state).progressValidCodes(0).build()) {
            assertThat(never.validCodesNote()).isEmpty();
        }
        assertThatThrownBy(() -> valid().progressValidCodes(-1).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("progressValidCodes: -1 (expected: >= 0, 0 never names them)");
    }

    @Test
    void build_setsTheOwnedPropertiesItself() {
        CouponConsumerRunner runner = valid().groupId("g").build();
        assertThat(runner.consumerConfig())
                .containsEntry("enable.auto.commit", false)
                .containsEntry("auto.offset.reset", "none")
                .containsEntry("group.id", "g")
                .containsEntry("bootstrap.servers", "127.0.0.1:1")
                .containsEntry("allow.auto.create.topics", false);
    }

    @ParameterizedTest
    @ValueSource(strings = {"enable.auto.commit", "key.deserializer", "value.deserializer", "auto.offset.reset",
        "group.protocol", "partition.assignment.strategy", "group.remote.assignor", "bootstrap.servers", "group.id"})
    void build_rejectsAnOwnedConsumerPropertySayingWhy(String key) {
        CouponConsumerRunner.Builder builder = valid().consumerProperty(key, "x");
        assertThatThrownBy(builder::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("consumerProperty " + key + ": owned by the runner (")
                .hasMessageContaining(CouponConsumerRunner.Builder.OWNED.get(key));
    }

    @Test
    void build_rejectsEnableAutoCommitWithTheReason() {
        assertThatThrownBy(() -> valid().consumerProperty("enable.auto.commit", true).build())
                .hasMessage("consumerProperty enable.auto.commit: owned by the runner (offsets are committed only "
                        + "after the checkpoint that covers them is durable)");
    }

    @Test
    void build_acceptsAPropertyTheRunnerDoesNotOwn() {
        CouponConsumerRunner runner = valid().consumerProperty("security.protocol", "SSL").build();
        assertThat(runner.consumerConfig()).containsEntry("security.protocol", "SSL");
    }

    @Test
    void build_requiresBootstrapServers() {
        assertThatThrownBy(() -> CouponConsumerRunner.builder().topics(List.of("a"))
                .state(new StripedLockCouponState()).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("bootstrapServers: null (expected: host:port[,host:port...])");
    }

    @Test
    void build_requiresTopics() {
        assertThatThrownBy(() -> valid().topics(List.of()).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("topics: [] (expected: at least one topic)");
        assertThatThrownBy(() -> valid().topics(List.of("a", "a")).build())
                .hasMessage("topics: [a, a] (expected: no duplicates)");
        assertThatThrownBy(() -> valid().topics(List.of("a", " ")).build())
                .hasMessage("topics: [a,  ] (expected: no null or blank name)");
    }

    @Test
    void build_requiresState() {
        assertThatThrownBy(() -> CouponConsumerRunner.builder().bootstrapServers("h:1").topics(List.of("a")).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("state: null (expected: the CouponState to keep current)");
    }

    @Test
    void build_rejectsNonPositiveDurations() {
        assertThatThrownBy(() -> valid().pollTimeout(Duration.ZERO).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("pollTimeout: PT0S (expected: > 0)");
        assertThatThrownBy(() -> valid().checkpointInterval(Duration.ofMillis(-1)).build())
                .hasMessage("checkpointInterval: PT-0.001S (expected: > 0)");
        assertThatThrownBy(() -> valid().apiTimeout(Duration.ZERO).build())
                .hasMessage("apiTimeout: PT0S (expected: > 0)");
        assertThatThrownBy(() -> valid().partitionDiscoveryInterval(Duration.ZERO).build())
                .hasMessage("partitionDiscoveryInterval: PT0S (expected: > 0)");
        assertThatThrownBy(() -> valid().progressLogInterval(Duration.ofSeconds(-1)).build())
                .hasMessage("progressLogInterval: PT-1S (expected: >= 0, 0 turns it off)");
        assertThat(valid().progressLogInterval(Duration.ZERO).build()).isNotNull();
    }

    @Test
    void build_rejectsMaxValueBytesBelowOne() {
        assertThatThrownBy(() -> valid().maxValueBytes(0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxValueBytes: 0 (expected: >= 1)");
    }

    @Test
    void setters_rejectNullWithTheParameterName() {
        assertThatThrownBy(() -> valid().state(null)).isInstanceOf(NullPointerException.class).hasMessage("state");
        assertThatThrownBy(() -> valid().clock(null)).hasMessage("clock");
        assertThatThrownBy(() -> valid().consumerProperty("a", null)).hasMessage("value");
        assertThatThrownBy(() -> valid().topics(null)).hasMessage("topics");
    }

    @Test
    void awaitCaughtUp_beforeStart_throwsIllegalState() {
        try (CouponConsumerRunner runner = valid().build()) {
            assertThatThrownBy(() -> runner.awaitCaughtUp(Duration.ofMinutes(1)))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("is CREATED (expected: started; call start() first)");
            assertThat(runner.runnerState()).isEqualTo(CouponConsumerRunner.State.CREATED);
        }
    }

    @Test
    void stateTransitions_followTheLifeCycle() {
        CouponConsumerRunner.State created = CouponConsumerRunner.State.CREATED;
        assertThat(created.canTransitionTo(CouponConsumerRunner.State.STARTING)).isTrue();
        assertThat(created.canTransitionTo(CouponConsumerRunner.State.RUNNING)).isFalse();
        assertThat(CouponConsumerRunner.State.RUNNING.canTransitionTo(CouponConsumerRunner.State.FAILED)).isTrue();
        assertThat(CouponConsumerRunner.State.STOPPED.canTransitionTo(CouponConsumerRunner.State.RUNNING)).isFalse();
        assertThat(CouponConsumerRunner.State.FAILED.isTerminal()).isTrue();
    }
}
