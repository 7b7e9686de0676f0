package io.couponstate.examples;

import io.couponstate.kafka.PublishProgress;
import java.io.PrintStream;
import java.util.Locale;
import java.util.function.Consumer;
import me.tongfei.progressbar.ProgressBar;

/**
 * Shows {@link PublishProgress} reports as one terminal progress bar per file (file bytes, rate and ETA, lines read).
 * Used on the publishing thread only; not thread-safe.
 */
final class PublishProgressBar implements Consumer<PublishProgress>, AutoCloseable {

    private final PrintStream out;
    private ProgressBar bar;
    private String barTopic;

    /** Draws on {@code out} (standard error, so standard output stays clean for results). */
    PublishProgressBar(PrintStream out) {
        this.out = out;
    }

    @Override
    public void accept(PublishProgress progress) {
        if (bar == null || !progress.topic().equals(barTopic)) {
            close();
            boolean small = progress.totalBytes() < 16L << 20;
            bar = ProgressBars.bar(out, progress.topic(), progress.totalBytes(), small ? " KiB" : " MiB",
                    small ? 1 << 10 : 1 << 20, null);
            barTopic = progress.topic();
        }
        bar.stepTo(progress.bytesRead());
        // the bar's own speed is "?" for the first whole second (it divides by whole seconds): the rate comes from
        // the publisher's nanosecond clock instead
        double rate = progress.bytesPerSecond();
        boolean small = progress.totalBytes() < 16L << 20;
        bar.setExtraMessage(String.format(Locale.ROOT, " %,d lines, %.1f %s/s", progress.lines(),
                rate / (small ? 1 << 10 : 1 << 20), small ? "KiB" : "MiB"));
        if (progress.done()) {
            close();
        }
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
            bar = null;
            barTopic = null;
        }
    }
}
