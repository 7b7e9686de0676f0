package io.couponstate.examples;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Turns Ctrl-C / SIGTERM into a clean stop of a long-running command: the shutdown hook wakes {@link #await()}, runs
 * the stop action (closing the runner wakes a thread in {@code awaitCaughtUp}), then waits for the command to finish
 * closing its resources (a final checkpoint) before the JVM goes on shutting down. Nothing is interrupted: an
 * interrupt would cut short the runner's own close. Used with try-with-resources, opened before what it protects.
 */
final class StopSignal implements AutoCloseable {

    private static final long CLOSE_WAIT_SECONDS = 60;

    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private final CountDownLatch closed = new CountDownLatch(1);
    private final Thread hook;
    private volatile Runnable stopAction;

    /** Registers the shutdown hook. */
    StopSignal(String name) {
        hook = new Thread(() -> {
            stopRequested.countDown();
            Runnable action = stopAction;
            if (action != null) {
                try {
                    action.run();
                } catch (RuntimeException e) {
                    System.err.println(name + ": stopping failed: " + e);
                }
            }
            try {
                closed.await(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, name);
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** What the hook runs after waking {@link #await()}, on the hook's thread; must be thread-safe. */
    void onStop(Runnable action) {
        this.stopAction = action;
    }

    /** Whether the JVM has been asked to stop. */
    boolean stopRequested() {
        return stopRequested.getCount() == 0;
    }

    /**
     * Blocks until the JVM is asked to stop or the calling thread is interrupted. An interrupt is a stop request
     * (how an embedding thread or a test stops the command) and is consumed here: left set, it would cut short the
     * closing that follows (a broker's controlled shutdown, a runner's final checkpoint).
     */
    void await() {
        try {
            stopRequested.await();
        } catch (InterruptedException e) {
            // consumed: see above
        }
    }

    /** Says the command has closed its resources; removes the hook unless the JVM is already shutting down. */
    @Override
    public void close() {
        closed.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running and now returns
        }
    }
}
