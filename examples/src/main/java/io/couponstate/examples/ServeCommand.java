package io.couponstate.examples;

import io.couponstate.examples.CouponHttpService.Readiness;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.CouponRunnerMetrics;
import io.couponstate.kafka.RunnerPhase;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Embeds the runner in a small HTTP service: how an ordering API would use the library. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        header = "Runs the consumer runner behind a small HTTP service.",
        description = {"Checks first that a broker answers (--wait) and that every topic exists "
            + "(--allow-missing-topics to wait for it), then keeps a coupon state current from the topics and "
            + "answers over HTTP (GET and HEAD; other methods 405, other paths 404):",
            "  /coupons/{code}         200 {\"code\":...,\"valid\":...,\"sources\":[...]}, 400 malformed code,"
                + " 503 until caught up",
            "  /coupons?valid=true     200, the valid codes as JSON lines (&limit=N for at most N), 503 until "
                + "caught up",
            "  /health                 200 {\"status\":\"UP\",...} once caught up; 503 before (status RESTORING "
                + "with restoredBytes/restoreTotalBytes, or CATCHING_UP with lag and etaSeconds) or after a "
                + "failure (FAILED)",
            "While restoring and catching up, progress on standard error (a bar on a terminal, else a line every "
                + "--progress-interval-ms).",
            "  /metrics                the runner's metrics in the Prometheus text format",
            "Prints 'listening on http://HOST:PORT' on one line; runs until stopped (Ctrl-C, SIGTERM: exit 0)."})
final class ServeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    RunnerOptions options;

    @Option(names = "--host", paramLabel = "HOST",
            description = "The address to listen on (default: ${DEFAULT-VALUE}).",
            defaultValue = "127.0.0.1")
    String host;

    @Option(names = "--port", paramLabel = "PORT",
            description = "The HTTP port; 0 for a free one (default: ${DEFAULT-VALUE}).",
            defaultValue = "8080")
    int port;

    @Option(names = "--http-threads", paramLabel = "N",
            description = "Threads answering requests, 1..256 (default: ${DEFAULT-VALUE}).", defaultValue = "4")
    int httpThreads;

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65_535) {
            throw new CommandFailure("--port: " + port + " (expected: 0..65535)", ExitCodes.USAGE);
        }
        if (httpThreads < 1 || httpThreads > 256) {
            throw new CommandFailure("--http-threads: " + httpThreads + " (expected: 1..256)", ExitCodes.USAGE);
        }
        PrintWriter err = spec.commandLine().getErr();
        options.check("serve", err);
        // UP and FAILED are latched by the watcher; before, the runner's phase says which step it is in
        AtomicReference<Readiness> readiness = new AtomicReference<>(Readiness.RESTORING);
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        CouponConsumerRunner runner = options.build();
        try (StopSignal stop = new StopSignal("serve-shutdown");
             runner;
             CouponHttpService http = new CouponHttpService(new InetSocketAddress(host, port), runner.state(),
                     () -> readiness(readiness.get(), runner), registry::scrape, runner::metrics, httpThreads)) {
            new CouponRunnerMetrics(runner).bindTo(registry);
            try {
                runner.start();
            } catch (IllegalStateException e) {
                throw new CommandFailure("the runner failed: " + Messages.describe(e));
            }
            Duration progressInterval = options.progressInterval();
            Thread watcher = new Thread(() -> watch(runner, readiness, err, progressInterval), "serve-caught-up");
            watcher.setDaemon(true);
            watcher.start();
            PrintWriter out = spec.commandLine().getOut();
            out.println("listening on http://" + host + ":" + http.port());
            out.flush();
            stop.await();
            watcher.interrupt();
        } finally {
            registry.close();
        }
        RunnerOptions.requireStoppedCleanly(runner);
        return ExitCodes.OK;
    }

    /** What {@code /health} says: UP or FAILED once latched, else RESTORING or CATCHING_UP from the runner. */
    static Readiness readiness(Readiness latched, CouponConsumerRunner runner) {
        if (latched == Readiness.UP || latched == Readiness.FAILED) {
            return latched;
        }
        RunnerPhase phase = runner.metrics().phase();
        return phase == RunnerPhase.CREATED || phase == RunnerPhase.RESTORING ? Readiness.RESTORING
                : Readiness.CATCHING_UP;
    }

    /** Waits until the runner has caught up once, then reports UP; reports FAILED when the runner fails. */
    private static void watch(CouponConsumerRunner runner, AtomicReference<Readiness> readiness, PrintWriter err,
            Duration progressInterval) {
        try {
            try (CatchUpProgress progress = CatchUpProgress.start("serve", runner::metrics, err,
                    CatchUpProgress.terminal(), progressInterval)) {
                while (!runner.awaitCaughtUp(Duration.ofSeconds(1))) {
                    if (runner.runnerState().isTerminal()) {
                        break;
                    }
                }
            }
            if (!runner.runnerState().isTerminal()) {
                readiness.set(Readiness.UP);
                err.println("serve: caught up; " + runner.state().size() + " distinct codes");
                err.flush();
            }
            while (!runner.runnerState().isTerminal()) {
                Thread.sleep(500);
            }
            if (runner.runnerState() == CouponConsumerRunner.State.FAILED) {
                readiness.set(Readiness.FAILED);
            }
        } catch (IllegalStateException e) {
            readiness.set(Readiness.FAILED);
            err.println("serve: the runner failed: " + Messages.describe(e.getCause() == null ? e : e.getCause()));
            err.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
