package io.couponstate.examples;

import io.couponstate.kafka.RunnerMetrics;
import io.couponstate.kafka.RunnerPhase;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Supplier;
import me.tongfei.progressbar.ProgressBar;

/**
 * Shows a runner's restore and catch-up on standard error while {@code consume} or {@code serve} waits for it: on a
 * terminal a progress bar redrawn in place (checkpoint bytes while RESTORING, records out of records + lag while
 * CATCHING_UP, with the rate and the ETA); otherwise a plain line every interval. Stops by itself once the runner is
 * UP or has stopped, or when closed. Standard output is never written (it carries the commands' results).
 *
 * <p>Threads: one daemon thread samples {@link RunnerMetrics} (which never blocks) and draws; {@link #close()} may be
 * called from any thread, once or more, and returns after the thread has drawn its last.
 */
final class CatchUpProgress implements AutoCloseable {

    /** What one line shows, from one {@link RunnerMetrics} (a record so the formatting is testable without one). */
    record Snapshot(RunnerPhase phase, long restoredBytes, long restoreTotalBytes, double restoreBytesPerSecond,
            long records, double recordsPerSecond, long lag, OptionalLong etaSeconds) {

        static Snapshot of(RunnerMetrics m) {
            return new Snapshot(m.phase(), m.restoredBytes(), m.restoreTotalBytes(), m.restoreBytesPerSecond(),
                    m.recordsConsumed(), m.recentRecordsPerSecond(), m.lag(), m.etaSeconds());
        }
    }

    private final Thread thread;
    private volatile boolean closed;

    private CatchUpProgress(String command, Supplier<RunnerMetrics> metrics, PrintWriter plain, PrintStream terminal,
            Duration interval) {
        this.thread = new Thread(() -> run(command, metrics, plain, terminal, interval), command + "-progress");
        thread.setDaemon(true); // only draws: never keeps the JVM up
    }

    /**
     * Starts showing progress: a bar on {@code terminal} if it is not null (a console is attached), else a line on
     * {@code plain} every {@code interval}; nothing at all for a zero interval.
     */
    static CatchUpProgress start(String command, Supplier<RunnerMetrics> metrics, PrintWriter plain,
            PrintStream terminal, Duration interval) {
        CatchUpProgress p = new CatchUpProgress(command, metrics, plain, terminal, interval);
        if (!interval.isZero()) {
            p.thread.start();
        }
        return p;
    }

    /** The terminal to draw on, if standard error is one (a console is attached), else null. */
    static PrintStream terminal() {
        return System.console() != null ? System.err : null;
    }

    private void run(String command, Supplier<RunnerMetrics> metrics, PrintWriter plain, PrintStream terminal,
            Duration interval) {
        ProgressBar bar = null;
        RunnerPhase barPhase = null;
        long step = terminal != null ? 250 : interval.toMillis();
        long nextLine = System.nanoTime() + interval.toNanos();
        try {
            while (!closed) {
                synchronized (this) {
                    wait(terminal != null ? step : Math.min(step, 250));
                }
                if (closed) {
                    break;
                }
                Snapshot s = Snapshot.of(metrics.get());
                if (s.phase() != RunnerPhase.RESTORING && s.phase() != RunnerPhase.CATCHING_UP) {
                    break; // UP, or stopping: the command says what follows
                }
                if (terminal == null) {
                    if (System.nanoTime() - nextLine >= 0) {
                        nextLine = System.nanoTime() + interval.toNanos();
                        plain.println(command + ": " + line(s));
                        plain.flush();
                    }
                    continue;
                }
                if (bar == null || barPhase != s.phase()) {
                    if (bar != null) {
                        bar.close();
                    }
                    barPhase = s.phase();
                    bar = barPhase == RunnerPhase.RESTORING
                            ? ProgressBars.bar(terminal, command + " restoring", s.restoreTotalBytes(), " MiB", 1 << 20,
                                    state -> Optional.empty())
                            : ProgressBars.bar(terminal, command + " catching up", s.records() + Math.max(0, s.lag()),
                                    " records", 1, state -> eta(metrics));
                }
                if (barPhase == RunnerPhase.RESTORING) {
                    bar.maxHint(Math.max(1, s.restoreTotalBytes()));
                    bar.stepTo(s.restoredBytes());
                    bar.setExtraMessage(String.format(Locale.ROOT, " %.1f MB/s", s.restoreBytesPerSecond() / 1e6));
                } else {
                    bar.maxHint(Math.max(1, s.records() + Math.max(0, s.lag())));
                    bar.stepTo(s.records());
                    bar.setExtraMessage(String.format(Locale.ROOT, " %,.0f records/s, lag %s", s.recordsPerSecond(),
                            s.lag() < 0 ? "unknown" : String.format(Locale.ROOT, "%,d", s.lag())));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (bar != null) {
                bar.close();
            }
        }
    }

    private static Optional<Duration> eta(Supplier<RunnerMetrics> metrics) {
        OptionalLong eta = metrics.get().etaSeconds();
        return eta.isPresent() ? Optional.of(Duration.ofSeconds(eta.getAsLong())) : Optional.empty();
    }

    /**
     * One progress line: {@code restoring the checkpoint: 12.3 of 45.6 MB (27%), 120.5 MB/s} or {@code catching up:
     * 1,234 records, 950 records/s, lag 3,456, ETA 4 s}, with {@code unknown} for what is not known yet.
     */
    static String line(Snapshot s) {
        if (s.phase() == RunnerPhase.RESTORING) {
            if (s.restoreTotalBytes() <= 0) {
                return "restoring the checkpoint (size not known yet)";
            }
            return String.format(Locale.ROOT, "restoring the checkpoint: %.1f of %.1f MB (%.0f%%), %.1f MB/s",
                    s.restoredBytes() / 1e6, s.restoreTotalBytes() / 1e6,
                    100.0 * s.restoredBytes() / s.restoreTotalBytes(), s.restoreBytesPerSecond() / 1e6);
        }
        return String.format(Locale.ROOT, "%s: %,d records, %,.0f records/s, lag %s, ETA %s",
                s.phase() == RunnerPhase.CATCHING_UP ? "catching up" : s.phase().name(), s.records(),
                s.recordsPerSecond(), s.lag() < 0 ? "unknown" : String.format(Locale.ROOT, "%,d", s.lag()),
                s.etaSeconds().isPresent() ? eta(s.etaSeconds().getAsLong()) : "unknown");
    }

    /** {@code 42 s}, {@code 3 min 05 s}, {@code 2 h 07 min}. */
    static String eta(long seconds) {
        if (seconds < 60) {
            return seconds + " s";
        }
        if (seconds < 3600) {
            return String.format(Locale.ROOT, "%d min %02d s", seconds / 60, seconds % 60);
        }
        return String.format(Locale.ROOT, "%d h %02d min", seconds / 3600, seconds % 3600 / 60);
    }

    /** Stops showing progress (the bar is finished on the terminal); waits up to a second for the last draw. */
    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            notifyAll();
        }
        if (thread.isAlive() && thread != Thread.currentThread()) {
            try {
                thread.join(1_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
