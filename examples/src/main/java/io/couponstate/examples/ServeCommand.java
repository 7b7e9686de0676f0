package io.couponstate.examples;

import io.couponstate.core.CouponState;
import io.couponstate.examples.CouponHttpService.Partitioning;
import io.couponstate.examples.CouponHttpService.Readiness;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.CouponConsumerRunner.Mode;
import io.couponstate.kafka.CouponRunnerMetrics;
import io.couponstate.kafka.PartitionedCouponState;
import io.couponstate.kafka.RunnerMetrics;
import io.couponstate.kafka.RunnerPhase;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
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
            "  /health/live            200 unless the runner failed (503): for a liveness probe",
            "  /health/ready           200 once caught up, else 503: for a readiness probe",
            "While restoring and catching up, progress on standard error (a bar on a terminal, else a line every "
                + "--progress-interval-ms).",
            "  /metrics                the runner's metrics in the Prometheus text format",
            "With --mode partitioned the instances sharing --group split the topics' partitions (the topics must "
                + "exist with one partition count, records keyed by the upper-cased code): /coupons/{code} answers "
                + "the codes of its own shards and forwards any other one hop to its owner (503 naming the "
                + "partition and the owner when it is unknown, moving or unreachable within 2 s); "
                + "/coupons?valid=true lists the valid codes of the shards here only; /health lists the "
                + "partitions here with their lag. --advertise is where the others reach this instance.",
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
            description = "Threads for forwarded lookups and /metrics, 1..256 (default: ${DEFAULT-VALUE}); lookups "
                + "and health checks are answered on the server's IO threads, listings on a pool of their own.",
            defaultValue = "4")
    int httpThreads;

    @Option(names = "--mode", paramLabel = "MODE", description = "replicated: this instance holds every code; "
            + "partitioned: the instances of --group share the partitions and forward queries to each other "
            + "(default: ${DEFAULT-VALUE}).", defaultValue = "REPLICATED")
    Mode mode;

    @Option(names = "--advertise", paramLabel = "HOST:PORT", description = "The host:port at which the other "
            + "instances reach this one's HTTP service (partitioned mode). Default: --host and the port listened on, "
            + "unless --host is a wildcard address (0.0.0.0, ::), which makes it required.")
    String advertise;

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65_535) {
            throw new CommandFailure("--port: " + port + " (expected: 0..65535)", ExitCodes.USAGE);
        }
        if (httpThreads < 1 || httpThreads > 256) {
            throw new CommandFailure("--http-threads: " + httpThreads + " (expected: 1..256)", ExitCodes.USAGE);
        }
        boolean partitioned = mode == Mode.PARTITIONED;
        if (advertise != null) {
            checkHostPort(advertise);
        } else if (partitioned && isWildcard(host)) {
            throw new CommandFailure("--advertise: required with --mode partitioned when --host is the wildcard "
                    + "address " + host + " (expected: the host:port at which the other instances reach this one)",
                    ExitCodes.USAGE);
        }
        PrintWriter err = spec.commandLine().getErr();
        int partitions = options.check("serve", err, partitioned);
        CouponState state = partitioned ? options.partitionedState(partitions)
                : options.stateKind.create(options.stateConfig());
        // UP and FAILED are latched by the watcher; before, the runner's phase says which step it is in
        AtomicReference<Readiness> readiness = new AtomicReference<>(Readiness.RESTORING);
        // the service is bound before the runner is built, so that with --port 0 the port is known to advertise
        AtomicReference<CouponConsumerRunner> running = new AtomicReference<>();
        AtomicReference<String> self = new AtomicReference<>();
        Partitioning partitioning = !partitioned ? null : new Partitioning(self::get,
                code -> Optional.ofNullable(running.get()).flatMap(r -> r.ownerOf(code)),
                () -> Optional.ofNullable(running.get()).map(CouponConsumerRunner::shards).orElse(Map.of()),
                CouponHttpService.DEFAULT_FORWARD_TIMEOUT);
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (StopSignal stop = new StopSignal("serve-shutdown");
             CouponHttpService http = new CouponHttpService(new InetSocketAddress(host, port), state,
                     () -> readiness(readiness.get(), running.get()), registry::scrape, () -> metricsOf(running.get()), httpThreads, partitioning)) {
            String endpoint = advertise != null ? advertise : !partitioned ? null : hostPort(host, http.port());
            self.set(endpoint);
            CouponConsumerRunner runner = options.build(state, mode, endpoint);
            try (runner) {
                running.set(runner);
                new CouponRunnerMetrics(runner).bindTo(registry);
                try {
                    runner.start();
                } catch (IllegalStateException e) {
                    throw new CommandFailure("the runner failed: " + Messages.describe(e));
                }
                Duration progressInterval = options.progressInterval();
                Thread watcher = new Thread(() -> watch(runner, readiness, err, progressInterval),
                        "serve-caught-up");
                watcher.setDaemon(true);
                watcher.start();
                PrintWriter out = spec.commandLine().getOut();
                out.println("listening on http://" + host + ":" + http.port());
                out.flush();
                if (partitioned) {
                    err.println("serve: partitioned mode, " + partitions + " partitions, group " + options.group
                            + ", advertising " + endpoint);
                    err.flush();
                }
                stop.await();
                watcher.interrupt();
            }
            RunnerOptions.requireStoppedCleanly(runner);
        } finally {
            registry.close();
        }
        return ExitCodes.OK;
    }

    private static RunnerMetrics metricsOf(CouponConsumerRunner runner) {
        return runner == null ? null : runner.metrics();
    }

    /** Usage error naming the value unless it is {@code host:port} with a host and a port in 1..65535. */
    static void checkHostPort(String value) {
        // the same rule the other instances apply to what this one advertises, before they forward to it
        if (!CouponHttpService.isHostPort(value)) {
            throw new CommandFailure("--advertise: " + Json.quote(Messages.cut(value)) + " (expected: host:port "
                    + "with a port in 1..65535, an IPv6 address in brackets)", ExitCodes.USAGE);
        }
    }

    private static boolean isWildcard(String host) {
        try {
            return InetAddress.getByName(host).isAnyLocalAddress();
        } catch (java.net.UnknownHostException e) {
            return false;   // binding fails on it anyway, naming it
        }
    }

    private static String hostPort(String host, int port) {
        return (host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port;
    }

    /**
     * What {@code /health} says: UP or FAILED once latched, else RESTORING or CATCHING_UP from the runner (RESTORING
     * before it is built).
     */
    static Readiness readiness(Readiness latched, CouponConsumerRunner runner) {
        if (latched == Readiness.UP || latched == Readiness.FAILED) {
            return latched;
        }
        if (runner == null) {
            return Readiness.RESTORING;
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
                // or phase UP: a partitioned instance the group gives no partition has caught up with its share
                while (!runner.awaitCaughtUp(Duration.ofSeconds(1)) && runner.metrics().phase() != RunnerPhase.UP) {
                    if (runner.runnerState().isTerminal()) {
                        break;
                    }
                }
            }
            if (!runner.runnerState().isTerminal()) {
                readiness.set(Readiness.UP);
                err.println("serve: caught up; " + runner.state().size() + " distinct codes"
                        + (runner.state() instanceof PartitionedCouponState p ? " in partitions "
                        + p.ownedPartitions() : ""));
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
