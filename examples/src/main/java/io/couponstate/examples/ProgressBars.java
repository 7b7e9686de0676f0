package io.couponstate.examples;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Function;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressState;
import me.tongfei.progressbar.ProgressBarStyle;

/** The CLI's one look for terminal progress bars (publish, consume, serve): ASCII, 110 columns, redrawn in place. */
final class ProgressBars {

    private ProgressBars() {
    }

    /**
     * A bar on {@code out} (standard error, so standard output stays clean for results).
     *
     * @param unit shown after the numbers, e.g. {@code " MiB"}; {@code unitSize} values make one unit
     * @param eta the ETA to show; null: the bar's own estimate
     */
    static ProgressBar bar(PrintStream out, String task, long max, String unit, long unitSize,
            Function<ProgressState, Optional<Duration>> eta) {
        ProgressBarBuilder b = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(Math.max(1, max))
                .setUnit(unit, unitSize)
                .setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(250)
                .setConsumer(new ConsoleProgressBarConsumer(out, 110));
        if (eta != null) {
            b.setEtaFunction(eta);
        }
        return b.build();
    }
}
