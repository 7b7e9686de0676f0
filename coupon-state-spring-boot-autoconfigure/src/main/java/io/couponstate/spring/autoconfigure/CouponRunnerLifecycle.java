package io.couponstate.spring.autoconfigure;

import io.couponstate.kafka.CouponConsumerRunner;
import java.util.Objects;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.context.SmartLifecycle;

/**
 * Starts a {@link CouponConsumerRunner} with the application context and closes it when the context stops, so that
 * the runner writes its final checkpoint at a graceful shutdown. The only bean that closes the runner: the runner
 * bean the auto-configuration makes has no destroy method, and a runner closed here is never closed again
 * ({@link CouponConsumerRunner#close()} is idempotent anyway, so a user's own runner bean that Spring also closes is
 * harmless).
 *
 * <p><b>Phase.</b> {@link #DEFAULT_PHASE} is below the web server's phases (Spring Boot starts its server at
 * {@code DEFAULT_PHASE - 2048} and drains requests at {@code DEFAULT_PHASE - 1024}), so the runner starts restoring
 * before the server takes requests, and closes only after the server has stopped serving them. A failure to start
 * (for example more topics than the state's sources) fails the context's refresh.
 *
 * <p>Thread-safe: Spring calls it from one thread at a time; {@link #isRunning()} may be called from any thread.
 */
public final class CouponRunnerLifecycle implements SmartLifecycle, DisposableBean {

    /** The default phase: started before, stopped after the web server (see the class javadoc). */
    public static final int DEFAULT_PHASE = SmartLifecycle.DEFAULT_PHASE - 4096;

    private final CouponConsumerRunner runner;
    private final boolean autoStartup;
    private final int phase;
    private volatile boolean started;
    private volatile boolean closed;

    /**
     * A lifecycle for {@code runner}.
     *
     * @param runner the runner to start and close
     * @param autoStartup whether Spring starts it with the context
     * @param phase the SmartLifecycle phase
     */
    public CouponRunnerLifecycle(CouponConsumerRunner runner, boolean autoStartup, int phase) {
        this.runner = Objects.requireNonNull(runner, "runner");
        this.autoStartup = autoStartup;
        this.phase = phase;
    }

    /** Starts the runner (it returns at once; restoring and catching up go on in its own thread). */
    @Override
    public synchronized void start() {
        if (started || closed) {
            return;
        }
        runner.start();
        started = true;
    }

    /** Closes the runner: final checkpoint, offsets committed, consumer closed. Blocks until done. */
    @Override
    public synchronized void stop() {
        close();
    }

    /** True between {@link #start()} and {@link #stop()} while the runner has not failed. */
    @Override
    public boolean isRunning() {
        return started && !closed && !runner.runnerState().isTerminal();
    }

    @Override
    public boolean isAutoStartup() {
        return autoStartup;
    }

    @Override
    public int getPhase() {
        return phase;
    }

    /** Closes the runner if {@link #stop()} did not (a context that failed before it started its lifecycles). */
    @Override
    public synchronized void destroy() {
        close();
    }

    private void close() {
        if (!closed) {
            closed = true;
            runner.close();
        }
    }

    /**
     * Returns the runner this lifecycle starts and closes.
     *
     * @return the runner this lifecycle starts and closes
     */
    public CouponConsumerRunner runner() {
        return runner;
    }
}
