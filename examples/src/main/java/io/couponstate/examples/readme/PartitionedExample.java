package io.couponstate.examples.readme;

// README:partitioned:begin
import io.couponstate.core.CouponStateConfig;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.NotOwnedException;
import io.couponstate.kafka.PartitionedCouponState;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** One instance of a partitioned service: it holds the shards the group gives it and names the owner of the rest. */
public class PartitionedExample {

    /** A runner in partitioned mode over three topics of 6 partitions each; built, not started. */
    static CouponConsumerRunner runner(String bootstrap, String myEndpoint, Path checkpoints) {
        PartitionedCouponState state =                          // one shard per partition number: the topics'
                PartitionedCouponState.lockFree(6, CouponStateConfig.defaults()); // partition count, all equal
        return CouponConsumerRunner.builder()
                .mode(CouponConsumerRunner.Mode.PARTITIONED)
                .bootstrapServers(bootstrap)
                .groupId("ordering-service")                    // every instance of the service: one group
                .topics(List.of("couponbase1", "couponbase2", "couponbase3"))
                .state(state)
                .applicationEndpoint(myEndpoint)                // where the other instances reach this one
                .checkpointDirectory(checkpoints)               // per shard: a shard that comes back restores
                .build();
    }

    /** The answer for a code: here when this instance owns the code's shard, else whom to ask. */
    static String ask(CouponConsumerRunner runner, String code) {
        PartitionedCouponState state = (PartitionedCouponState) runner.state();
        try {
            return code + " valid=" + state.isValid(code);
        } catch (NotOwnedException e) {                         // owned elsewhere, or moving right now
            return code + ": partition " + e.partition() + " is at "
                    + runner.ownerOf(code).orElse("no known owner yet (retry)");
        }
    }

    /** {@code java PartitionedExample [HOST:PORT [MY_HOST:MY_PORT]]}: runs one instance, asks about BIRTHDAY. */
    public static void main(String[] args) throws InterruptedException {
        String bootstrap = args.length > 0 ? args[0] : "127.0.0.1:9092";
        String me = args.length > 1 ? args[1] : "127.0.0.1:8080";
        try (CouponConsumerRunner runner = runner(bootstrap, me, Path.of("coupon-state-" + me.replace(':', '-')))) {
            runner.start();
            if (!runner.awaitCaughtUp(Duration.ofMinutes(5))) {   // the shards owned here
                throw new IllegalStateException("not caught up: " + runner.shards());
            }
            System.out.println("owned here: " + runner.shards());  // partition -> queryable, lag
            System.out.println(ask(runner, "BIRTHDAY"));
        }
    }
}
// README:partitioned:end
