package io.couponstate.kafka;

/**
 * Where a {@link CouponConsumerRunner} is, for a person or a health check watching it: its
 * {@link CouponConsumerRunner.State life-cycle state}, with {@code STARTING} read as {@link #RESTORING} and
 * {@code RUNNING} split into {@link #CATCHING_UP} and {@link #UP}. Read it from {@link RunnerMetrics#phase()}.
 *
 * <p><b>UP is sticky.</b> A runner is UP once every assigned partition's applied position has reached the end offset
 * known for it when it was assigned (so everything that was in the topics then is in the state), and it stays UP
 * while it runs, however the lag grows later: a burst of new records does not make a serving instance unready (which
 * would take every replica out of service at once under a shared burst). Watch {@link RunnerMetrics#lag()} for that.
 * Never UP before a partition is assigned (for example while every topic is still missing).
 */
public enum RunnerPhase {
    /** Built, not started. */
    CREATED,
    /** Started, reading the checkpoint (a base and its deltas; see {@link RunnerMetrics#restoredBytes()}). */
    RESTORING,
    /** Running, not yet caught up with the end offsets known when its partitions were assigned. */
    CATCHING_UP,
    /** Running and caught up at least once (see the class javadoc). */
    UP,
    /** Closing: final checkpoint, commit, release. */
    PENDING_SHUTDOWN,
    /** Closed cleanly. */
    STOPPED,
    /** Stopped by a fatal error. */
    FAILED;

    /**
     * The phase of a runner in {@code state} that has ({@code caughtUp}) or has not yet caught up once.
     *
     * @param state the runner's life-cycle state
     * @param caughtUp whether it has caught up once (only read for RUNNING)
     * @return the phase
     */
    public static RunnerPhase of(CouponConsumerRunner.State state, boolean caughtUp) {
        return state.stage().phase(caughtUp);
    }
}
