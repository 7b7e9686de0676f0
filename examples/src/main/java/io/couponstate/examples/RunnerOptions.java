package io.couponstate.examples;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.CouponConsumerRunner;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Options of the commands that run a {@link CouponConsumerRunner}: {@code consume} and {@code serve}. */
final class RunnerOptions {

    @Mixin
    KafkaOptions kafka;

    @Option(names = "--topics", split = ",", paramLabel = "TOPIC",
            description = "The topics to read, one per source (default: ${DEFAULT-VALUE}).",
            defaultValue = "couponbase1,couponbase2,couponbase3")
    List<String> topics;

    @Option(names = "--group", paramLabel = "GROUP",
            description = "The group offsets are committed to, for lag monitoring only "
            + "(default: ${DEFAULT-VALUE}).", defaultValue = "coupon-state")
    String group;

    @Option(names = "--checkpoint-dir", paramLabel = "DIR",
            description = "Where checkpoints (state + offsets) are kept; a restart "
            + "resumes from the newest one. Default: none, the state is rebuilt from the topics' beginning.")
    Path checkpointDir;

    @Option(names = "--checkpoint-interval-ms", paramLabel = "MS",
            description = "How often a checkpoint is written "
            + "(default: ${DEFAULT-VALUE}); one is also written on a clean stop.", defaultValue = "60000")
    long checkpointIntervalMs;

    @Option(names = "--state", paramLabel = "KIND", description = "The state implementation: ${COMPLETION-CANDIDATES} "
            + "(default: ${DEFAULT-VALUE}).", defaultValue = "LOCKFREE")
    StateKind stateKind;

    @Option(names = "--expected-codes", paramLabel = "N",
            description = "Sizing hint for the state (default: ${DEFAULT-VALUE}).",
            defaultValue = "1000000")
    long expectedCodes;

    /** A runner over a new state, not started. */
    CouponConsumerRunner build() {
        CouponState state = stateKind.create(expectedCodes);
        CouponConsumerRunner.Builder builder = CouponConsumerRunner.builder()
                .bootstrapServers(kafka.bootstrapServers)
                .groupId(group)
                .topics(topics)
                .state(state)
                .checkpointInterval(Duration.ofMillis(checkpointIntervalMs));
        if (checkpointDir != null) {
            builder.checkpointDirectory(checkpointDir);
        }
        kafka.properties.forEach(builder::consumerProperty);
        return builder.build();
    }
}
