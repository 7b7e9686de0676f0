package io.couponstate.kafka.internal.runner;

import java.time.Clock;
import org.slf4j.Logger;

/**
 * Lets at most {@code permits} warnings through per window and then says how many it held back. Not thread-safe: one
 * thread logs through it.
 */
public final class RateLimitedLog {

    private final Logger log;
    private final Clock clock;
    private final int permits;
    private final long windowMillis;
    private long windowStart = Long.MIN_VALUE;
    private int used;
    private long suppressed;

    /** At most {@code permits} lines per {@code windowMillis}. */
    public RateLimitedLog(Logger log, Clock clock, int permits, long windowMillis) {
        this.log = log;
        this.clock = clock;
        this.permits = permits;
        this.windowMillis = windowMillis;
    }

    /** Logs a warning unless this window's permits are used up. */
    public void warn(String format, Object... args) {
        long now = clock.millis();
        if (windowStart == Long.MIN_VALUE || now - windowStart >= windowMillis) {
            if (suppressed > 0) {
                log.warn("{} similar warnings suppressed in the last {} ms", suppressed, now - windowStart);
            }
            windowStart = now;
            used = 0;
            suppressed = 0;
        }
        if (used < permits) {
            used++;
            log.warn(format, args);
        } else {
            suppressed++;
        }
    }
}
