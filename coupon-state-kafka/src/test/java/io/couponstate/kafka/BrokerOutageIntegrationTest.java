package io.couponstate.kafka;

import static io.couponstate.kafka.KafkaTestSupport.assertMatches;
import static io.couponstate.kafka.KafkaTestSupport.createTopics;
import static io.couponstate.kafka.KafkaTestSupport.produce;
import static io.couponstate.kafka.KafkaTestSupport.randomRecords;
import static io.couponstate.kafka.KafkaTestSupport.runner;
import static io.couponstate.kafka.KafkaTestSupport.topicNames;
import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.CouponConsumerRunner.State;
import io.couponstate.kafka.KafkaTestSupport.Model;
import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The broker goes away mid-stream and comes back with its data; the runner rides it out. Its own broker. */
@Tag("integration")
class BrokerOutageIntegrationTest {

    private static final long SEED = Long.getLong("couponstate.seed", System.nanoTime());
    private static final Duration WAIT = Duration.ofSeconds(90);

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = KafkaBrokerExtension.embedded(); // stopped and restarted below

    @TempDir
    Path checkpoints;

    @BeforeAll
    static void printSeed() {
        System.out.println("BrokerOutageIntegrationTest seed: " + SEED + " (-Dcouponstate.seed=" + SEED + ")");
    }

    @Test
    void brokerStoppedAndRestartedMidStream_resultIsExact_andTheRunnerKeepsRunning() throws Exception {
        String bootstrap = KAFKA.bootstrapServers();
        List<String> topics = topicNames("outage", 3);
        createTopics(bootstrap, topics, 2);
        Random random = new Random(SEED);
        Model model = new Model();
        produce(bootstrap, randomRecords(random, topics, 2000, model));

        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponConsumerRunner runner = runner(bootstrap, topics, state)
                .groupId("g-" + topics.get(0))
                .checkpointDirectory(checkpoints)
                .apiTimeout(Duration.ofSeconds(2))
                .consumerProperty("max.poll.records", 25)
                .consumerProperty("reconnect.backoff.max.ms", 500)
                .build()) {
            runner.start();
            while (runner.metrics().recordsConsumed() == 0 && !runner.runnerState().isTerminal()) {
                Thread.sleep(5);
            }
            KAFKA.broker().stop();
            long atStop = runner.metrics().recordsConsumed();
            Thread.sleep(3000); // the runner polls an absent broker for a while
            assertThat(runner.runnerState()).isEqualTo(State.RUNNING);
            KAFKA.broker().restart();
            produce(bootstrap, randomRecords(random, topics, 500, model));

            assertThat(runner.awaitCaughtUp(WAIT)).isTrue();
            assertMatches(state, model);
            assertThat(runner.runnerState()).isEqualTo(State.RUNNING);
            assertThat(runner.metrics().recordsConsumed()).isGreaterThanOrEqualTo(model.records);
            System.out.println("outage: " + atStop + " of " + model.records + " records consumed when the broker "
                    + "stopped; after: " + runner.metrics());
        }
    }
}
