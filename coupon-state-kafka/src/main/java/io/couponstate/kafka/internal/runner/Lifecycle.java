package io.couponstate.kafka.internal.runner;

import io.couponstate.kafka.RunnerPhase;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The life cycle of one runner, replicated or partitioned alike: the state machine (each move checked against
 * {@link Stage#canMoveTo} where it happens, and told to a listener), the failure cause, the closing flag, the wait
 * of {@code awaitCaughtUp} and the join of {@code close()}. Thread-safe: moves happen under one lock; the stage is
 * volatile for lock-free readers, and a failure cause is written before the FAILED stage that publishes it.
 */
public final class Lifecycle {

    private static final Logger LOG = LoggerFactory.getLogger("io.couponstate.kafka.CouponConsumerRunner");
    private static final long WAIT_STEP_NANOS = Duration.ofMillis(5).toNanos();

    /** Where a runner is; the public {@code CouponConsumerRunner.State} names the same stages in the same order. */
    public enum Stage {
        /** Built, not started. */
        CREATED,
        /** Restoring the checkpoint. */
        STARTING,
        /** Polling and applying. */
        RUNNING,
        /** Closing: final checkpoint, commit, release. */
        PENDING_SHUTDOWN,
        /** Closed cleanly; terminal. */
        STOPPED,
        /** Stopped by a fatal error; terminal. */
        FAILED;

        /** Whether a runner in this stage may move to {@code next}. */
        public boolean canMoveTo(Stage next) {
            switch (this) {
                case CREATED:
                    return next == STARTING || next == PENDING_SHUTDOWN;
                case STARTING:
                    return next == RUNNING || next == PENDING_SHUTDOWN || next == FAILED;
                case RUNNING:
                    return next == PENDING_SHUTDOWN || next == FAILED;
                case PENDING_SHUTDOWN:
                    return next == STOPPED || next == FAILED;
                default:
                    return false;
            }
        }

        /** True for STOPPED and FAILED. */
        public boolean isTerminal() {
            return this == STOPPED || this == FAILED;
        }

        /** The phase a watcher sees in this stage, having ({@code caughtUp}) or not yet caught up once. */
        public RunnerPhase phase(boolean caughtUp) {
            switch (this) {
                case CREATED:
                    return RunnerPhase.CREATED;
                case STARTING:
                    return RunnerPhase.RESTORING;
                case RUNNING:
                    return caughtUp ? RunnerPhase.UP : RunnerPhase.CATCHING_UP;
                case PENDING_SHUTDOWN:
                    return RunnerPhase.PENDING_SHUTDOWN;
                case STOPPED:
                    return RunnerPhase.STOPPED;
                default:
                    return RunnerPhase.FAILED;
            }
        }
    }

    /** One step of a wait for catching up: true once caught up; {@code ask} bounds a request it may make. */
    @FunctionalInterface
    public interface CatchUpProbe {
        /**
         * Whether the runner has caught up; may ask the cluster for end offsets, for at most {@code ask} (zero once
         * the wait's deadline has passed: then it must not ask).
         */
        boolean caughtUp(Duration ask) throws InterruptedException;
    }

    private final String name;
    private final BiConsumer<Stage, Stage> listener; // (new, old); null for none
    private final Object startStop = new Object(); // start() and close() one at a time
    private final Object lock = new Object();
    private volatile Stage stage = Stage.CREATED; // written under lock
    private volatile Throwable failure; // written before the FAILED stage is published
    private volatile boolean closing;

    /** A life cycle in CREATED; {@code listener} (nullable) is told of every move, (new, old), under the lock. */
    public Lifecycle(String name, BiConsumer<Stage, Stage> listener) {
        this.name = Objects.requireNonNull(name, "name");
        this.listener = listener;
    }

    /** The runner's name, for messages. */
    public String name() {
        return name;
    }

    /** The stage now; never blocks. */
    public Stage stage() {
        return stage;
    }

    /** Why the runner FAILED; null unless it did. */
    public Throwable failure() {
        return stage == Stage.FAILED ? failure : null;
    }

    /** Whether close() was called. */
    public boolean closing() {
        return closing;
    }

    /**
     * Moves to {@code next}: throws {@link IllegalStateException} if the move is illegal, else publishes it and tells
     * the listener (whose exceptions are logged and ignored: a listener only observes).
     */
    public void moveTo(Stage next) {
        synchronized (lock) {
            Stage old = stage;
            if (!old.canMoveTo(next)) {
                throw new IllegalStateException("runner " + name + ": illegal state move " + old + " -> " + next);
            }
            stage = next; // volatile: publishes the move (and, for FAILED, the cause written before it)
            if (listener != null) {
                try {
                    listener.accept(next, old);
                } catch (Throwable t) {
                    LOG.error("{}: state listener threw on {} -> {}; ignored (a listener only observes)", name,
                            old, next, t);
                }
            }
        }
    }

    /** Moves from {@code expected} to {@code next} if the runner is still in {@code expected}; whether it moved. */
    public boolean moveIf(Stage expected, Stage next) {
        synchronized (lock) {
            if (stage != expected) {
                return false;
            }
            moveTo(next);
            return true;
        }
    }

    /** CREATED -> STARTING, the first step of every start; runs {@code start} under the start/stop lock. */
    public void start(Runnable start) {
        synchronized (startStop) {
            synchronized (lock) {
                if (stage != Stage.CREATED) {
                    throw new IllegalStateException("start: runner is " + stage + " (expected: CREATED)");
                }
                moveTo(Stage.STARTING);
            }
            start.run();
        }
    }

    /** Moves to FAILED with {@code t} as the cause, unless the runner already ended. */
    public void fail(Throwable t) {
        synchronized (lock) {
            if (stage.isTerminal()) {
                return;
            }
            failure = t; // published by the volatile stage write in moveTo
            Stage old = stage;
            moveTo(Stage.FAILED);
            LOG.error("{}: FAILED in state {}", name, old, t);
        }
    }

    /** PENDING_SHUTDOWN -> STOPPED at the end of a clean shutdown (unless FAILED meanwhile); whether it moved. */
    public boolean stopped() {
        return moveIf(Stage.PENDING_SHUTDOWN, Stage.STOPPED);
    }

    /**
     * The shared {@code close()}: marks closing; a never-started runner moves through PENDING_SHUTDOWN to STOPPED
     * and runs {@code releaseUnstarted}; a starting or running one moves to PENDING_SHUTDOWN, {@code wake} wakes its
     * thread, and the thread {@code worker} names is joined without a timeout (an interrupt of the closing thread
     * ends the wait, with the flag set again). Idempotent.
     */
    public void close(Runnable releaseUnstarted, Runnable wake, java.util.function.Supplier<Thread> worker) {
        Thread t;
        synchronized (startStop) {
            closing = true;
            synchronized (lock) {
                if (stage == Stage.CREATED) {
                    moveTo(Stage.PENDING_SHUTDOWN);
                    moveTo(Stage.STOPPED); // never started: nothing to release but what the caller says
                    releaseUnstarted.run();
                    return;
                }
                if (stage == Stage.STARTING || stage == Stage.RUNNING) {
                    moveTo(Stage.PENDING_SHUTDOWN);
                }
            }
            wake.run();
            t = worker.get();
        }
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                LOG.warn("{}: close() interrupted before the runner's thread finished its final checkpoint", name);
            }
        }
    }

    /** False when stopping or stopped; throws, with the cause, when FAILED. */
    public boolean usable() {
        Stage s = stage;
        if (s == Stage.FAILED) {
            Throwable cause = failure;
            throw new IllegalStateException("runner " + name + " FAILED: " + cause, cause);
        }
        return s != Stage.PENDING_SHUTDOWN && s != Stage.STOPPED;
    }

    /**
     * The shared wait of {@code awaitCaughtUp}: asks {@code probe} every few milliseconds until it says caught up
     * (true), the timeout passes or the runner stops (false), or the runner FAILS (an {@link IllegalStateException}
     * with the cause). A runner never started (CREATED) is an {@link IllegalStateException} at once. The probe may ask the cluster for at most {@code apiTimeout} or the time left, whichever is
     * less, on the waiting thread.
     */
    public boolean awaitCaughtUp(Duration timeout, Duration apiTimeout, CatchUpProbe probe)
            throws InterruptedException {
        if (stage == Stage.CREATED) {
            // a wait that could only time out: nothing reads the topics until start()
            throw new IllegalStateException("awaitCaughtUp: runner " + name + " is CREATED (expected: started; call "
                    + "start() first)");
        }
        long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
        while (true) {
            if (!usable()) {
                return false;
            }
            long left = deadline - System.nanoTime();
            if (probe.caughtUp(Duration.ofNanos(Math.max(0, Math.min(left, apiTimeout.toNanos()))))) {
                return true;
            }
            left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.sleep(Math.min(left, WAIT_STEP_NANOS));
        }
    }
}
