package io.couponstate.examples;

import java.time.Duration;
import java.util.Locale;

/** Formatting helpers for the CLI's reports. */
final class Durations {

    private Durations() {
    }

    /** {@code 1.234 s}. */
    static String seconds(Duration d) {
        return String.format(Locale.ROOT, "%.3f s", d.toNanos() / 1e9);
    }

    /** {@code 1,234,567} records per second for {@code count} over {@code d}; 0 for no time. */
    static String rate(long count, Duration d) {
        double s = d.toNanos() / 1e9;
        return String.format(Locale.ROOT, "%,.0f", s <= 0 ? 0 : count / s);
    }
}
