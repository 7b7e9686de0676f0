package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.StripedLockCouponState;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Misuse the runner can know about fails loudly, naming what is wrong. None of these needs a broker: an address
 * nothing listens on is enough.
 */
class RunnerMisuseTest {

    private static final String NOWHERE = "127.0.0.1:1";

    private static CouponConsumerRunner.Builder runner(List<String> topics, io.couponstate.core.CouponState state) {
        return CouponConsumerRunner.builder().bootstrapServers(NOWHERE).topics(topics).state(state)
                .apiTimeout(Duration.ofMillis(300)).pollTimeout(Duration.ofMillis(100))
                .progressLogInterval(Duration.ZERO);
    }

    @Test
    void start_withAThresholdAboveTheTopicCount_failsNamingBothNumbers() {
        StripedLockCouponState state = new StripedLockCouponState(CouponStateConfig.builder().threshold(4).build());
        try (CouponConsumerRunner runner = runner(List.of("a", "b", "c"), state).build()) {
            assertThatThrownBy(runner::start).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("threshold: 4 but the runner reads only 3 sources [a, b, c]")
                    .hasMessageContaining("expected: a threshold of at most 3");
            assertThat(runner.runnerState()).isEqualTo(CouponConsumerRunner.State.FAILED);
        }
    }

    @Test
    void start_withAThresholdAboveTheDeclaredHeaderSources_failsNamingBothNumbers() {
        LockFreeCouponState state = new LockFreeCouponState(CouponStateConfig.builder().threshold(3).build());
        try (CouponConsumerRunner runner = runner(List.of("all"), state)
                .sourceResolver(SourceResolver.header("source", List.of("left", "right"))).build()) {
            assertThatThrownBy(runner::start).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("threshold: 3 but the runner reads only 2 sources [left, right]");
        }
    }

    @Test
    void start_ofOneSource_acceptsAnyThreshold_itKeepsObservationCounts() {
        try (CouponConsumerRunner runner = runner(List.of("only"), new LockFreeCouponState()).build()) {
            runner.start();
            assertThat(runner.runnerState()).isIn(CouponConsumerRunner.State.STARTING,
                    CouponConsumerRunner.State.RUNNING);
        }
    }

    @Test
    void oneStateInTwoRunners_theSecondStartIsRefusedNamingTheFirst_untilTheFirstIsClosed() {
        LockFreeCouponState shared = new LockFreeCouponState();
        CouponConsumerRunner first = runner(List.of("a", "b"), shared).build();
        CouponConsumerRunner second = runner(List.of("a", "b"), shared).build();
        try {
            first.start();
            assertThatThrownBy(second::start).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("state: LockFreeCouponState@")
                    .hasMessageContaining("is already kept current by " + first)
                    .hasMessageContaining("expected: one runner per state");
            assertThat(second.runnerState()).as("refused before it started").isEqualTo(
                    CouponConsumerRunner.State.CREATED);
            first.close();
            second.start(); // the state is free again
            assertThat(second.runnerState()).isIn(CouponConsumerRunner.State.STARTING,
                    CouponConsumerRunner.State.RUNNING);
        } finally {
            first.close();
            second.close();
        }
        // a closed runner's state can be used again; a refused start leaves no claim behind
        try (CouponConsumerRunner third = runner(List.of("a", "b"), shared).build()) {
            third.start();
        }
    }

    @Test
    void anUnreachableBroker_withTheDefaultTimeouts_isNamedInProblemAndTheLog_withinAMinute() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort(); // free once closed: nothing listens there
        }
        String address = "127.0.0.1:" + port;
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try (CouponConsumerRunner runner = CouponConsumerRunner.builder().bootstrapServers(address)
                .topics(List.of("a", "b")).state(new LockFreeCouponState()).build()) {
            runner.start();
            // three default API timeouts (5 s each) without metadata; the bound is generous for a busy machine
            await().atMost(Duration.ofSeconds(90)).until(() -> runner.metrics().problem().isPresent());
            assertThat(runner.metrics().problem()).get().asString()
                    .startsWith("cannot reach a Kafka broker at " + address + ": ");
            assertThat(runner.runnerState()).isEqualTo(CouponConsumerRunner.State.RUNNING);
            await().atMost(Duration.ofSeconds(30)).until(() -> captured.toString(StandardCharsets.UTF_8)
                    .contains("cannot reach a Kafka broker at " + address));
        } finally {
            System.setErr(err);
        }
        assertThat(captured.toString(StandardCharsets.UTF_8)).contains("WARN");
    }
}
