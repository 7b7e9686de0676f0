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
 * {@code valid codes:}, every valid code sorted one per line, a blank line, then the totals; or one JSON object with
 * {@code --output json}.
 */
@Command(name = "consume", mixinStandardHelpOptions = true,
        header = "Runs the consumer runner and prints the valid codes once caught up.",
        description = {"Checks first that a broker answers (--wait) and that every topic exists "
            + "(--allow-missing-topics to wait for it).",
            "Output (fixed, scripts read it): a line 'valid codes:', the valid codes sorted one per line, "
            + "a blank line, then the totals; with --output json one line {\"valid\":[...],\"totals\":{...},"
            + "\"checkpoint\":{\"restored\":N or null}}. Without --until-caught-up it keeps consuming until stopped "
            + "(Ctrl-C), checkpointing as it goes.",
            "Where it starts: every partition from the newest checkpoint in --checkpoint-dir that covers it, else "
            + "from the partition's beginning; never from the end, never from the group's committed offsets. "
            + "Without --checkpoint-dir every start rebuilds the state from the beginning.",
            "While restoring and catching up: progress on standard error (a bar on a terminal, else a line every "
            + "--progress-interval-ms: checkpoint MB, or records, rate, lag and ETA)."})
final class ConsumeCommand implements Callable<Integer> {

    /** The output formats. */
    enum Output {
        /** The fixed text format. */
        TEXT,
        /** One JSON object on one line. */
        JSON
    }

    @Spec
    CommandSpec spec;

    @Mixin
    RunnerOptions options;

    @Option(names = "--until-caught-up", description = "Exit once every record that was in the topics at start "
            + "is in the state (after a final checkpoint).")
    boolean untilCaughtUp;

    @Option(names = "--timeout-seconds", paramLabel = "S",
            description = "How long to wait to catch up before exiting with code 4 (default: ${DEFAULT-VALUE}).",
            defaultValue = "600")
    long timeoutSeconds;

    @Option(names = "--output", paramLabel = "FORMAT", description = "text or json (default: ${DEFAULT-VALUE}).",
            defaultValue = "TEXT")
    Output output;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        long started = System.nanoTime();
        try (StopSignal stop = new StopSignal("consume-shutdown")) {
            options.check("consume", err);   // a stop signal during the check: the runner below stops at once
            return consume(stop, started, out, err);
        } finally {
            out.flush();
            err.flush();
        }
    }

    private int consume(StopSignal stop, long started, PrintWriter out, PrintWriter err) throws InterruptedException {
        CouponConsumerRunner runner = options.build();
        int code;
        try (runner) {
            code = consume(runner, stop, started, out, err);
        }
        RunnerOptions.requireStoppedCleanly(runner);
        return code;
    }

    private int consume(CouponConsumerRunner runner, StopSignal stop, long started, PrintWriter out, PrintWriter err)
            throws InterruptedException {
        stop.onStop(runner::close);   // idempotent and thread-safe; wakes awaitCaughtUp with false
        try {
            runner.start();
        } catch (IllegalStateException e) {
            if (!stop.stopRequested()) { // else closed by the stop signal before it started: nothing failed
                throw new CommandFailure("the runner failed: " + Messages.describe(e));
            }
        }
        err.println("consume: reading " + options.topics.size() + " topic" + (options.topics.size() == 1 ? ""
                : "s") + " from " + options.kafka.bootstrapServers + (options.checkpointDir == null
                ? ", no checkpoints" : ", checkpoints in " + options.checkpointDir) + "; Ctrl-C stops");
        err.flush();
        boolean caughtUp;
        try (CatchUpProgress progress = CatchUpProgress.start("consume", runner::metrics, err,
                CatchUpProgress.terminal(), options.progressInterval())) {
            caughtUp = runner.awaitCaughtUp(Duration.ofSeconds(timeoutSeconds));
        } catch (IllegalStateException e) {
            throw new CommandFailure("the runner failed: " + Messages.describe(
                    e.getCause() == null ? e : e.getCause()));
        }
        if (!caughtUp && stop.stopRequested()) {
            err.println("consume: stopped before catching up (" + describe(runner.metrics(), started) + ")");
            return ExitCodes.STOPPED;
        }
        if (!caughtUp) {
            err.printf("consume: not caught up within %d s (%s)%n", timeoutSeconds,
                    describe(runner.metrics(), started));
            return ExitCodes.NOT_CAUGHT_UP;
        }
        RunnerMetrics metrics = runner.metrics();
        err.println("consume: caught up (" + describe(metrics, started) + ")");
        err.flush();
        if (output == Output.JSON) {
            printJson(out, runner.state(), metrics);
        } else {
            printReport(out, runner.state(), metrics);
        }
        if (!untilCaughtUp) {
            stop.await();   // keep the state current until stopped; close() writes a final checkpoint
        }
        return ExitCodes.OK;
    }

    /**
     * The counters for a person: the rate over the whole run (not the last interval's, which is 0 once idle),
     * "lag unknown" rather than -1.
     */
    static String describe(RunnerMetrics m, long startedNanos) {
        Duration run = Duration.ofNanos(System.nanoTime() - startedNanos);
        return String.format("%,d records in %s, %s records/s; %,d distinct codes, %,d valid, %,d invalid records; "
                + "lag %s; %s", m.recordsConsumed(), Durations.seconds(run), Durations.rate(m.recordsConsumed(), run),
                m.distinctCodes(), m.validCodes(), m.invalidRecordsTotal(),
                m.lag() < 0 ? "unknown" : String.format("%,d", m.lag()), restored(m));
    }

    private static String restored(RunnerMetrics m) {
        long restored = m.restoredCheckpointSequence();
        return restored <= 0 ? "no checkpoint restored" : "restored checkpoint " + restored;
    }

    /** The fixed output: {@code valid codes:}, the codes sorted, a blank line, the totals. */
    static void printReport(PrintWriter out, CouponState state, RunnerMetrics metrics) {
        List<String> valid = sortedValid(state);
        out.println("valid codes:");
        valid.forEach(out::println);
        out.println();
        out.printf("totals: valid=%d distinct=%d records=%d invalid=%d%n", valid.size(), state.size(),
                metrics.recordsConsumed(), metrics.invalidRecordsTotal());
        long restored = metrics.restoredCheckpointSequence();
        out.println("checkpoint: restored=" + (restored <= 0 ? "none" : Long.toString(restored)));
        out.flush();
    }

    /** {@code --output json}: the same facts as one JSON object on one line. */
    static void printJson(PrintWriter out, CouponState state, RunnerMetrics metrics) {
        List<String> valid = sortedValid(state);
        StringBuilder json = new StringBuilder("{\"valid\":[");
        for (int i = 0; i < valid.size(); i++) {
            json.append(i == 0 ? "" : ",").append(Json.quote(valid.get(i)));
        }
        long restored = metrics.restoredCheckpointSequence();
        json.append("],\"totals\":{\"valid\":").append(valid.size())
                .append(",\"distinct\":").append(state.size())
                .append(",\"records\":").append(metrics.recordsConsumed())
                .append(",\"invalid\":").append(metrics.invalidRecordsTotal())
                .append("},\"checkpoint\":{\"restored\":").append(restored <= 0 ? "null" : Long.toString(restored))
                .append("}}");
        out.println(json);
        out.flush();
    }

    private static List<String> sortedValid(CouponState state) {
        List<String> valid = state.getCouponCodesByObservationCount(state.threshold());
        valid.sort(null);
        return valid;
    }
}
