package io.couponstate.examples;

import io.couponstate.examples.CouponHttpService.Readiness;
import io.couponstate.kafka.CouponConsumerRunner;
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
        description = {"Keeps a coupon state current from the topics and answers over HTTP:",
            "  GET /coupons/{code}  200 {\"code\":...,\"valid\":...,\"sources\":[...]}, 400 malformed code,"
                + " 503 until caught up",
            "  GET /health          200 once caught up, 503 before or after a failure",
            "Prints 'listening on http://HOST:PORT' on one line; runs until stopped."})
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

    @Override
    public Integer call() throws Exception {
        AtomicReference<Readiness> readiness = new AtomicReference<>(Readiness.STARTING);
        try (StopSignal stop = new StopSignal("serve-shutdown");
             CouponConsumerRunner runner = options.build();
             CouponHttpService http = new CouponHttpService(new InetSocketAddress(host, port), runner.state(),
                     readiness::get)) {
            runner.start();
            Thread watcher = new Thread(() -> watch(runner, readiness), "serve-caught-up");
            watcher.setDaemon(true);
            watcher.start();
            PrintWriter out = spec.commandLine().getOut();
            out.println("listening on http://" + host + ":" + http.port());
            out.flush();
            stop.await();
            watcher.interrupt();
        }
        return 0;
    }

    /** Waits until the runner has caught up once, then reports UP; reports FAILED when the runner fails. */
    private static void watch(CouponConsumerRunner runner, AtomicReference<Readiness> readiness) {
        try {
            while (!runner.awaitCaughtUp(Duration.ofSeconds(1))) {
                if (runner.runnerState().isTerminal()) {
                    break;
                }
            }
            if (!runner.runnerState().isTerminal()) {
                readiness.set(Readiness.UP);
            }
            while (!runner.runnerState().isTerminal()) {
                Thread.sleep(500);
            }
            if (runner.runnerState() == CouponConsumerRunner.State.FAILED) {
                readiness.set(Readiness.FAILED);
            }
        } catch (IllegalStateException e) {
            readiness.set(Readiness.FAILED);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
