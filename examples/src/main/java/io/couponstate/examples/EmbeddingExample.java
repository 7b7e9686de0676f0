package io.couponstate.examples;

import io.couponstate.core.CouponState;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.CouponConsumerRunner;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * How a service embeds the library: keep a state current from Kafka, checkpointed, and ask it per order.
 * Run with {@code java -cp coupon-state-examples.jar io.couponstate.examples.EmbeddingExample HOST:PORT CODE...}.
 */
public final class EmbeddingExample {

    private EmbeddingExample() {
    }

    /** Prints, for each code given after the bootstrap servers, whether it is valid. */
    public static void main(String[] args) throws Exception {
        try (CouponConsumerRunner runner = CouponConsumerRunner.builder()
                .bootstrapServers(args.length > 0 ? args[0] : "127.0.0.1:9092")
                .groupId("ordering-service")
                .topics(List.of("couponbase1", "couponbase2", "couponbase3"))
                .state(new LockFreeCouponState())
                .checkpointDirectory(Path.of("coupon-state"))        // restart = restore + replay the tail
                .build()) {
            runner.start();                                          // polls on its own thread
            if (!runner.awaitCaughtUp(Duration.ofMinutes(5))) {
                throw new IllegalStateException("not caught up after 5 minutes: " + runner.metrics());
            }
            CouponState coupons = runner.state();                    // thread-safe, readable from any thread
            for (int i = 1; i < args.length; i++) {
                System.out.println(args[i] + " valid=" + coupons.isValid(args[i])
                        + " sources=" + coupons.getObservations(args[i]));
            }
        }                                                            // final checkpoint on close
    }
}
