package io.couponstate.examples.readme;

// README:embedding:begin
import io.couponstate.core.CouponState;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.CouponConsumerRunner;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Keeps a state current from Kafka, checkpointed, and asks it about the codes given on the command line. */
public class EmbeddingExample {

    /** {@code java EmbeddingExample [HOST:PORT [CODE...]]}: prints, for each code, whether it is valid. */
    public static void main(String[] args) throws InterruptedException {
        String bootstrap = args.length > 0 ? args[0] : "127.0.0.1:9092";
        try (CouponConsumerRunner runner = CouponConsumerRunner.builder()
                .bootstrapServers(bootstrap)
                .groupId("ordering-service")                      // offsets are committed here for lag monitoring
                .topics(List.of("couponbase1", "couponbase2", "couponbase3"))
                .state(new LockFreeCouponState())                 // threshold 2, codes of 8..10 of A-Z0-9
                .checkpointDirectory(Path.of("coupon-state"))     // optional: restart = restore + replay the tail
                .build()) {
            runner.start();                                       // returns at once; one thread polls and applies
            if (!runner.awaitCaughtUp(Duration.ofMinutes(5))) {
                throw new IllegalStateException("not caught up: " + runner.metrics());
            }
            CouponState coupons = runner.state();                 // thread-safe; keep it and ask it per order
            for (int i = 1; i < args.length; i++) {
                System.out.println(args[i] + " valid=" + coupons.isValid(args[i])
                        + " sources=" + coupons.getObservations(args[i]));
            }
        }                                                         // close(): final checkpoint, commit, stop
    }
}
// README:embedding:end
