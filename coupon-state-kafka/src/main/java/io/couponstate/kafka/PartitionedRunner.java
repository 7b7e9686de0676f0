package io.couponstate.kafka;

import io.couponstate.kafka.internal.RunnerSettings;
import java.util.Map;
import java.util.Optional;

/** The partitioned mode of a {@link CouponConsumerRunner}; see its class javadoc. Skeleton. */
final class PartitionedRunner {

    private final CouponConsumerRunner outer;
    private final RunnerSettings settings;

    PartitionedRunner(CouponConsumerRunner outer, RunnerSettings settings) {
        this.outer = outer;
        this.settings = settings;
    }

    Optional<String> ownerOf(CharSequence code) {
        throw new UnsupportedOperationException("partitioned mode: not implemented yet");
    }

    Map<Integer, ShardStatus> shards() {
        throw new UnsupportedOperationException("partitioned mode: not implemented yet");
    }
}
