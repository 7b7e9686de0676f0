package io.couponstate.kafka;

import io.couponstate.core.CouponStateConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * A partitioned runner in a JVM of its own, for {@link PartitionedModeIntegrationTest} to kill with SIGKILL.
 * Arguments: bootstrap servers, checkpoint directory, comma-separated topics, partitions, group id, endpoint, and
 * optionally the group settings of {@link PartitionedModeIntegrationTest#builder} (default classic). Prints
 * {@code READY <partitions>} each time the set of its queryable shards changes. Exits when its stdin closes, so it
 * never outlives the test JVM.
 */
public final class PartitionedChildMain {

    private PartitionedChildMain() {
    }

    /** Runs until killed. */
    public static void main(String[] args) throws Exception {
        CrashChildMain.haltWhenParentGoes();
        List<String> topics = Arrays.asList(args[2].split(","));
        CouponConsumerRunner runner = PartitionedModeIntegrationTest.builder(args[0], topics,
                PartitionedCouponState.lockFree(Integer.parseInt(args[3]), CouponStateConfig.defaults()),
                args.length > 6 ? args[6] : "classic",
                args[4], args[5], Path.of(args[1])).build();
        runner.start();
        String last = "";
        while (true) {
            if (runner.runnerState().isTerminal()) {
                System.out.println("ENDED " + runner.runnerState() + " " + runner.failureCause().orElse(null));
                System.exit(2);
            }
            var shards = runner.shards();
            boolean allQueryable = !shards.isEmpty() && shards.values().stream().allMatch(ShardStatus::queryable);
            String now = allQueryable ? shards.keySet().toString() : "";
            if (!now.equals(last) && !now.isEmpty()) {
                System.out.println("READY " + now);
                System.out.flush();
            }
            last = now;
            Thread.sleep(Duration.ofMillis(20).toMillis());
        }
    }
}
