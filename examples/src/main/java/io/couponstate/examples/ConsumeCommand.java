package io.couponstate.examples;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.RunnerMetrics;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Runs the consumer runner and prints the valid codes. The output is fixed, scripts read it: a line
 * {@code valid codes:}, every valid code sorted one per line, a blank line, then the totals.
 */
@Command(name = "consume", mixinStandardHelpOptions = true,
        header = "Runs the consumer runner and prints the valid codes once caught up.",
        description = {"Output (fixed, scripts read it): a line 'valid codes:', the valid codes sorted one per line, "
            + "a blank line, then the totals. Without --until-caught-up it keeps consuming until stopped (Ctrl-C), "
            + "checkpointing as it goes.",
            "Exit code 2 when not caught up within --timeout-seconds, 1 when the runner fails, 3 when stopped "
            + "before catching up."})
final class ConsumeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    RunnerOptions options;

    @Option(names = "--until-caught-up", description = "Exit once every record that was in the topics at start "
            + "is in the state (after a final checkpoint).")
    boolean untilCaughtUp;

    @Option(names = "--timeout-seconds", paramLabel = "S",
            description = "How long to wait to catch up (default: ${DEFAULT-VALUE}).",
            defaultValue = "600")
    long timeoutSeconds;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (StopSignal stop = new StopSignal("consume-shutdown");
             CouponConsumerRunner runner = options.build()) {
            stop.onStop(runner::close);   // idempotent and thread-safe; wakes awaitCaughtUp with false
            runner.start();
            boolean caughtUp;
            try {
                caughtUp = runner.awaitCaughtUp(Duration.ofSeconds(timeoutSeconds));
            } catch (IllegalStateException e) {
                err.println("consume failed: " + e.getMessage() + (e.getCause() == null ? "" : ": " + e.getCause()));
                return 1;
            }
            if (!caughtUp && stop.stopRequested()) {
                err.println("consume: stopped before catching up (" + runner.metrics() + ")");
                return 3;
            }
            if (!caughtUp) {
                err.printf("consume: not caught up within %d s (state %s, %s)%n", timeoutSeconds,
                        runner.runnerState(), runner.metrics());
                return 2;
            }
            printReport(out, runner.state(), runner.metrics());
            if (!untilCaughtUp) {
                stop.await();   // keep the state current until stopped; close() writes a final checkpoint
            }
            return 0;
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** The fixed output: {@code valid codes:}, the codes sorted, a blank line, the totals. */
    static void printReport(PrintWriter out, CouponState state, RunnerMetrics metrics) {
        List<String> valid = state.getCouponCodesByObservationCount(state.threshold());
        valid.sort(null);
        out.println("valid codes:");
        valid.forEach(out::println);
        out.println();
        out.printf("totals: valid=%d distinct=%d records=%d invalid=%d%n", valid.size(), state.size(),
                metrics.recordsConsumed(), metrics.invalidRecordsTotal());
        long restored = metrics.restoredCheckpointSequence();
        out.println("checkpoint: restored=" + (restored <= 0 ? "none" : Long.toString(restored)));
        out.flush();
    }
}
