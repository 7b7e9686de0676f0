package io.couponstate.examples;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.examples.CouponHttpService.Partitioning;
import io.couponstate.examples.CouponHttpService.Readiness;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.PartitionedCouponState;
import io.couponstate.kafka.ShardStatus;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code demo --instances N} for N > 1: N partitioned runners in this JVM, one consumer group over the demo's topics,
 * each behind its own {@link CouponHttpService} on a free port. Once every partition is queryable on exactly one
 * instance and every instance knows every owner, it prints who owns what and asks every instance over HTTP about
 * every planted valid code and a sample of invalid ones (forwarding does the rest); it succeeds only if every answer
 * is the expected one and the instances' listings together are exactly the planted codes. Not thread-safe: one run.
 */
final class PartitionedDemo {

    private static final Pattern CODE = Pattern.compile("\"code\":\"([^\"]*)\"");
    private static final Pattern WELL_FORMED = Pattern.compile("[A-Z0-9]{8,10}");
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);

    /** One instance: its state, its HTTP service, its runner. */
    private static final class Instance implements AutoCloseable {
        final PartitionedCouponState state;
        final AtomicReference<Readiness> readiness = new AtomicReference<>(Readiness.RESTORING);
        final AtomicReference<CouponConsumerRunner> runner = new AtomicReference<>();
        final CouponHttpService http;
        final String endpoint;

        Instance(PartitionedCouponState state) throws IOException {
            this.state = state;
            this.http = new CouponHttpService(new InetSocketAddress("127.0.0.1", 0), state,
                    () -> ServeCommand.readiness(readiness.get(), runner.get()), null,
                    () -> Optional.ofNullable(runner.get()).map(CouponConsumerRunner::metrics).orElse(null), 4,
                    new Partitioning(this::endpoint,
                            code -> Optional.ofNullable(runner.get()).flatMap(r -> r.ownerOf(code)),
                            () -> Optional.ofNullable(runner.get()).map(CouponConsumerRunner::shards)
                                    .orElse(Map.of()),
                            CouponHttpService.DEFAULT_FORWARD_TIMEOUT));
            this.endpoint = "127.0.0.1:" + http.port();
        }

        String endpoint() {
            return endpoint;
        }

        @Override
        public void close() {
            http.close();
        }
    }

    private final String bootstrap;
    private final Map<String, String> properties;
    private final List<String> topics;
    private final int partitions;
    private final int instances;
    private final StateKind stateKind;
    private final long expectedCodes;
    private final PrintWriter out;
    private final PrintWriter err;

    PartitionedDemo(String bootstrap, Map<String, String> properties, List<String> topics, int partitions,
                    int instances, StateKind stateKind, long expectedCodes, PrintWriter out, PrintWriter err) {
        this.bootstrap = bootstrap;
        this.properties = properties;
        this.topics = topics;
        this.partitions = partitions;
        this.instances = instances;
        this.stateKind = stateKind;
        this.expectedCodes = expectedCodes;
        this.out = out;
        this.err = err;
    }

    /**
     * Runs the instances until every answer is in; returns the exit code. {@code report} gets the lines the
     * single-instance demo prints after its own (per source, time per phase), printed before the verdict.
     */
    int run(Path sampleFile, Duration timeout, List<String> report) throws IOException, InterruptedException {
        err.printf("demo: %d partitioned instances over %d partitions, consuming until every partition is "
                + "queryable...%n", instances, partitions);
        err.flush();
        CouponStateConfig config = CouponStateConfig.defaults();
        CouponStateConfig shard = CouponStateConfig.builder().expectedCodes(Math.max(1_024,
                expectedCodes / partitions)).build();
        List<Instance> all = new ArrayList<>();
        List<CouponConsumerRunner> runners = new ArrayList<>();
        try {
            for (int i = 0; i < instances; i++) {
                Instance instance = new Instance(new PartitionedCouponState(partitions, config,
                        p -> stateKind.create(shard)));
                all.add(instance);
                CouponConsumerRunner.Builder builder = CouponConsumerRunner.builder()
                        .mode(CouponConsumerRunner.Mode.PARTITIONED)
                        .bootstrapServers(bootstrap)
                        .groupId("coupon-state-demo-partitioned")
                        .applicationEndpoint(instance.endpoint)
                        .topics(topics)
                        .state(instance.state);
                properties.forEach(builder::consumerProperty);
                CouponConsumerRunner runner = builder.build();
                runners.add(runner);
                instance.runner.set(runner);
            }
            for (CouponConsumerRunner runner : runners) {
                runner.start();
            }
            Map<Integer, Instance> owners = awaitStable(all, timeout);
            if (owners == null) {
                err.printf("demo: the partitions were not all queryable, each on one instance, within %s (%s)%n",
                        DurationConverter.describe(timeout), describeShards(all));
                return ExitCodes.NOT_CAUGHT_UP;
            }
            all.forEach(i -> i.readiness.set(Readiness.UP));
            return report(all, owners, sample(sampleFile), report);
        } finally {
            for (Instance instance : all) {
                instance.close();
            }
            closeAll(runners);
            err.flush();
        }
    }

    /**
     * Polls (every 100 ms, bounded by {@code timeout}) until each partition is queryable on exactly one instance and
     * every instance names that instance as its owner; the owner of each partition, or null on timeout.
     */
    private Map<Integer, Instance> awaitStable(List<Instance> all, Duration timeout) throws InterruptedException {
        List<String> probes = probes(all.get(0).state);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (Instance instance : all) {
                CouponConsumerRunner r = instance.runner.get();
                if (r.runnerState() == CouponConsumerRunner.State.FAILED) {
                    throw new CommandFailure("instance " + instance.endpoint + ": the runner failed: "
                            + r.failureCause().map(Messages::describe).orElse("no cause recorded"));
                }
            }
            Map<Integer, Instance> owners = stableOwners(all, probes);
            if (owners != null) {
                return owners;
            }
            if (System.nanoTime() - deadline > 0) {
                return null;
            }
            Thread.sleep(100);
        }
    }

    private Map<Integer, Instance> stableOwners(List<Instance> all, List<String> probes) {
        Map<Integer, Instance> owners = new TreeMap<>();
        for (Instance instance : all) {
            for (ShardStatus s : instance.runner.get().shards().values()) {
                if (!s.queryable() || !instance.state.isOwned(s.partition())
                        || owners.put(s.partition(), instance) != null) {
                    return null;   // still restoring, or two claim it during a rebalance
                }
            }
        }
        if (owners.size() != partitions) {
            return null;
        }
        for (Instance instance : all) {
            for (int p = 0; p < partitions; p++) {
                if (!instance.runner.get().ownerOf(probes.get(p)).equals(Optional.of(owners.get(p).endpoint))) {
                    return null;   // the membership topic has not carried this claim here yet
                }
            }
        }
        return owners;
    }

    /** One well-formed code per partition, to ask each runner's ownerOf with. */
    private List<String> probes(PartitionedCouponState state) {
        String[] probes = new String[partitions];
        int found = 0;
        for (int i = 0; found < partitions; i++) {
            String code = String.format("PROBE%05d", i);
            int p = state.partitionOf(code);
            if (probes[p] == null) {
                probes[p] = code;
                found++;
            }
        }
        return List.of(probes);
    }

    /** The codes to ask about: the planted valid ones, the two decoys, a never-seen code and random ones. */
    private static List<String> sample(Path file) throws IOException {
        List<String> codes = new ArrayList<>(CouponFileGenerator.PLANTED_VALID);
        codes.add(CouponFileGenerator.DECOY_FILE_1);
        codes.add(CouponFileGenerator.DECOY_FILE_2);
        codes.add("NEVERSEEN");
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.US_ASCII)) {
            String line;
            int random = 0;
            while (random < 5 && (line = in.readLine()) != null) {
                String code = line.strip();
                if (WELL_FORMED.matcher(code).matches() && !codes.contains(code)) {
                    codes.add(code);
                    random++;
                }
            }
        }
        return codes;
    }

    private int report(List<Instance> all, Map<Integer, Instance> owners, List<String> sample, List<String> report)
            throws IOException, InterruptedException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(REQUEST_TIMEOUT).build();
        out.printf("couponstate demo, %d partitioned instances%n", instances);
        for (int i = 0; i < all.size(); i++) {
            Instance instance = all.get(i);
            List<Integer> owned = new ArrayList<>();
            owners.forEach((p, o) -> {
                if (o == instance) {
                    owned.add(p);
                }
            });
            out.printf("  instance %-8d: http://%s owns partitions %s (%,d codes)%n", i + 1, instance.endpoint,
                    owned, instance.state.size());
        }
        List<String> wrong = new ArrayList<>();
        int answers = 0;
        for (String code : sample) {
            boolean expected = CouponFileGenerator.PLANTED_VALID.contains(code);
            String owner = owners.get(all.get(0).state.partitionOf(code)).endpoint;
            for (Instance instance : all) {
                HttpResponse<String> r = get(http, instance.endpoint, "/coupons/" + code);
                answers++;
                if (r.statusCode() != 200 || !r.body().contains("\"valid\":" + expected)) {
                    wrong.add(code + " via " + instance.endpoint + " (owner " + owner + "): " + r.statusCode() + " "
                            + r.body());
                }
            }
        }
        TreeSet<String> listed = new TreeSet<>();
        int listedTotal = 0;
        for (Instance instance : all) {
            HttpResponse<String> r = get(http, instance.endpoint, "/coupons?valid=true");
            if (r.statusCode() != 200) {
                wrong.add("/coupons?valid=true via " + instance.endpoint + ": " + r.statusCode() + " " + r.body());
            }
            Matcher m = CODE.matcher(r.body());
            while (m.find()) {
                listed.add(m.group(1));
                listedTotal++;
            }
        }
        boolean listingOk = listed.equals(new TreeSet<>(CouponFileGenerator.PLANTED_VALID))
                && listedTotal == listed.size();
        out.printf("  valid codes      : %s (the instances' listings together)%n", String.join(" ", listed));
        out.printf("  expected         : %s -> %s%n", String.join(" ", CouponFileGenerator.PLANTED_VALID),
                listingOk ? "OK, exactly the planted codes" : "MISMATCH");
        out.printf("  queries          : %d codes x %d instances = %d answers over HTTP -> %s%n", sample.size(),
                all.size(), answers, wrong.isEmpty() ? "OK, every instance answered every code right"
                : wrong.size() + " WRONG");
        report.forEach(out::println);
        out.flush();
        for (String w : wrong) {
            err.println("demo: wrong answer: " + Messages.cut(w));
        }
        if (!listingOk) {
            err.println("demo: expected the listings to hold exactly " + CouponFileGenerator.PLANTED_VALID
                    + " once each, found " + listedTotal + " entries: " + listed);
        }
        return wrong.isEmpty() && listingOk ? ExitCodes.OK : ExitCodes.FAILED;
    }

    private static HttpResponse<String> get(HttpClient http, String endpoint, String path)
            throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + endpoint + path)).timeout(REQUEST_TIMEOUT)
                .GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String describeShards(List<Instance> all) {
        Map<String, Object> shown = new LinkedHashMap<>();
        for (Instance instance : all) {
            shown.put(instance.endpoint, instance.runner.get().shards().values());
        }
        return shown.toString();
    }

    /** Closes the runners in parallel: each close is a group leave, and one after another would rebalance twice. */
    private static void closeAll(List<CouponConsumerRunner> runners) throws InterruptedException {
        List<Thread> closers = new ArrayList<>();
        for (CouponConsumerRunner runner : runners) {
            Thread t = new Thread(runner::close, "demo-close");
            t.start();
            closers.add(t);
        }
        for (Thread t : closers) {
            t.join();
        }
    }
}
