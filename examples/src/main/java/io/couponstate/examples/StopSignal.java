package io.couponstate.examples;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Turns Ctrl-C / SIGTERM into a clean stop of a long-running command: the shutdown hook wakes {@link #await()}, runs
 * the stop action (closing the runner wakes a thread in {@code awaitCaughtUp}), then waits for the command to finish
 * closing its resources (a final checkpoint, however long it takes) before the JVM goes on shutting down. Nothing is interrupted: an
 * interrupt would cut short the runner's own close. Used with try-with-resources, opened before what it protects.
 *
 * <p>Exit code: a JVM stopped by a signal exits 128 + the signal (143 for SIGTERM) whatever {@code System.exit} is
 * asked afterwards (it blocks while hooks run). So that the documented codes hold after a signal too, the hook
 * waits for the command's code ({@link #exitAfterStop(int)}, called by {@code main}) and halts the JVM with it.
 */
final class StopSignal implements AutoCloseable {

    /** How often the hook says it is still waiting for the command to close (it waits as long as that takes). */
    private static final long CLOSE_NOTE_SECONDS = 30;
    private static final long EXIT_CODE_WAIT_SECONDS = 10;

    /** Set by {@link #exitAfterStop(int)}; read by a hook that ran. */
    private static volatile int exitCode = -1;
    private static final CountDownLatch EXIT_CODE_KNOWN = new CountDownLatch(1);
    /** Whether any StopSignal hook has started, i.e. the JVM is shutting down under a command. */
    private static volatile boolean hookRan;

    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private final CountDownLatch closed = new CountDownLatch(1);
    private final Thread hook;
    private volatile Runnable stopAction;

    /** Registers the shutdown hook. */
    StopSignal(String name) {
        hook = new Thread(() -> {
            hookRan = true;
            stopRequested.countDown();
            Runnable action = stopAction;
            if (action != null) {
                try {
                    action.run();
                } catch (RuntimeException e) {
                    System.err.println(name + ": stopping failed: " + Messages.describe(e));
                }
            }
            try {
                // however long the final checkpoint takes: cut short, the restart would replay from an older one
                // (a supervisor that will not wait sends SIGKILL, which no hook sees)
                while (!closed.await(CLOSE_NOTE_SECONDS, TimeUnit.SECONDS)) {
                    System.err.println(name + ": still closing (writing the final checkpoint); kill -9 stops at "
                            + "once, and the next start replays from the last checkpoint written");
                    System.err.flush();
                }
                // main() hands over the command's exit code; halt with it (System.exit would block here)
                if (EXIT_CODE_KNOWN.await(EXIT_CODE_WAIT_SECONDS, TimeUnit.SECONDS)) {
                    System.out.flush();
                    System.err.flush();
                    Runtime.getRuntime().halt(exitCode);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, name);
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /**
     * Called by {@code main} with the command's exit code before {@code System.exit}: when a stop signal is being
     * handled, the hook halts the JVM with this code and this call never returns; otherwise it returns at once.
     */
    static void exitAfterStop(int code) {
        exitCode = code;
        EXIT_CODE_KNOWN.countDown();
        if (hookRan) {
            try {
                Thread.sleep(TimeUnit.SECONDS.toMillis(EXIT_CODE_WAIT_SECONDS + 5));   // the hook halts the JVM
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * What the hook runs after waking {@link #await()}, on the hook's thread; must be thread-safe and idempotent.
     * When the stop was requested already, it also runs at once on the calling thread.
     */
    void onStop(Runnable action) {
        this.stopAction = action;
        if (stopRequested()) {
            action.run();
        }
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
