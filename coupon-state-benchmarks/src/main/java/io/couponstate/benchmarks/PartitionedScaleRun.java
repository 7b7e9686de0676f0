package io.couponstate.benchmarks;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.PartitionedCouponState;
import io.couponstate.kafka.ShardStatus;
import io.couponstate.kafka.testing.EmbeddedKafkaBroker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;

/**
 * Issue 12's benchmark of the runner's partitioned mode, with a real broker in this JVM.
 *
 * <p><b>1. Scale-out ratio.</b> Three topics of {@code --partitions} partitions hold {@code --records} records, every
 * code distinct (a retried batch may repeat records), keyed as {@code CouponFilePublisher} keys them (the upper-cased
 * code as key bytes, default partitioner). Each round, in alternating order: a fresh group with one partitioned runner
 * catches up from empty; a fresh group (new group id, fresh checkpoint directories) with two runners in this JVM
 * catches up over the same records. "Caught up" = every partition number assigned to exactly one runner, every shard
 * queryable, and the shards together holding every code. Records/s count from the first record consumed in the group to
 * caught up (group formation excluded; the broker's {@code group.initial.rebalance.delay.ms} is 3 s so that both
 * runners of a group join its first generation and no shard is built twice); the wall time from {@code start()} is
 * printed too. A 1-instance warm-up catch-up, not counted, comes first. Both runners share this JVM's cores with each
 * other and with the broker serving their fetches, so on a 2-core machine the ratio is bounded by the cores, not by the
 * design.
 *
 * <p><b>2. Moving a shard.</b> Three topics of 2 partitions hold {@code 2 * --codes} distinct codes, so each
 * partition number's shard holds about {@code --codes}. Runner A alone owns both and catches up. (a) Runner B joins
 * with an empty checkpoint directory: the group gives it one partition number; seconds from B's {@code start()} to
 * its shard queryable (rebuilt from the start of that partition of every topic). (b) B closes (final checkpoint; A
 * takes the partition back), then B starts again on the same directory: seconds to its shard queryable (restored
 * from its checkpoint plus the tail). The range assignor orders members by their random member ids, so the second
 * time B may be given the other partition number, for which it has no checkpoint: that start is printed as another
 * rebuild, and B is closed and started again (it then has a checkpoint of both).
 *
 * <pre>
 * java -Xmx6g -cp coupon-state-benchmarks/target/benchmarks.jar io.couponstate.benchmarks.PartitionedScaleRun \
 *      [--records 6000000] [--partitions 6] [--rounds 3] [--codes 10000000] [--no-scale] [--no-move]
 * </pre>
 */
public final class PartitionedScaleRun {

    private static final String[] SCALE_TOPICS = {"scale-1", "scale-2", "scale-3"};
    private static final String[] MOVE_TOPICS = {"move-1", "move-2", "move-3"};
    private static final long WAIT_MS = TimeUnit.MINUTES.toMillis(15); // hang guard
    private static final int MOVE_ATTEMPTS = 4;

    private PartitionedScaleRun() {
    }

    /** Runs both parts; see the class comment for the arguments. */
    public static void main(String[] args) throws Exception {
        long records = 6_000_000;
        int partitions = 6;
        int rounds = 3;
        long codes = 10_000_000;
        boolean scale = true;
        boolean move = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--records" -> records = Long.parseLong(args[++i]);
                case "--partitions" -> partitions = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--codes" -> codes = Long.parseLong(args[++i]);
                case "--no-scale" -> scale = false;
                case "--no-move" -> move = false;
                default -> throw new IllegalArgumentException("argument: " + args[i] + " (expected: --records N, "
                        + "--partitions N, --rounds N, --codes N, --no-scale, --no-move)");
            }
        }
        if (records < 3 || partitions < 2 || rounds < 1 || codes < 2) {
            throw new IllegalArgumentException("expected --records >= 3, --partitions >= 2, --rounds >= 1, "
                    + "--codes >= 2; got " + records + ", " + partitions + ", " + rounds + ", " + codes);
        }
        System.out.printf(Locale.ROOT, "JVM %s, %d cores, heap max %s, args %s, load %s%n",
                System.getProperty("java.version"), Runtime.getRuntime().availableProcessors(),
                Heap.mb(Runtime.getRuntime().maxMemory()), ManagementFactory.getRuntimeMXBean().getInputArguments(),
                loadAverage());
        List<String> table = new ArrayList<>();
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(0, null,
                Map.of("group.initial.rebalance.delay.ms", "3000"))) {
            String servers = broker.bootstrapServers();
            if (scale) {
                scaleOut(servers, records, partitions, rounds, table);
            }
            if (move) {
                moveShard(servers, codes, table);
            }
        }
        System.out.println();
        System.out.println("| measurement | value |");
        System.out.println("|---|---|");
        table.forEach(System.out::println);
        System.out.println("load at end: " + loadAverage());
    }

    // ------------------------------------------------------------------------------------------------ scale out

    /** One group's catch-up: records, seconds first record → caught up, wall seconds from start(). */
    record CatchUp(int instances, long records, double seconds, double wallSeconds, String split) {
        double recordsPerSecond() {
            return records / seconds;
        }
    }

    private static void scaleOut(String servers, long records, int partitions, int rounds, List<String> table)
            throws Exception {
        createTopics(servers, SCALE_TOPICS, partitions);
        long l0 = System.nanoTime();
        long loaded = KafkaCeilingRun.load(servers, records, SCALE_TOPICS);
        System.out.printf(Locale.ROOT, "loaded %,d records into %s (%d partitions each) in %.1f s%n", loaded,
                Arrays.toString(SCALE_TOPICS), partitions, (System.nanoTime() - l0) / 1e9);
        // warm-up, not counted: the first catch-up in a fresh JVM also pays JIT compilation and the broker's page
        // cache filling, which would always fall on round 1's first group
        CatchUp warm = catchUp(servers, 1, partitions, loaded, 0);
        System.out.printf(Locale.ROOT, "warm-up (not counted), 1 instance: %,.0f records/s (%.2f s)%n",
                warm.recordsPerSecond(), warm.seconds());
        double[] ratios = new double[rounds];
        List<CatchUp> ones = new ArrayList<>();
        List<CatchUp> twos = new ArrayList<>();
        for (int round = 1; round <= rounds; round++) {
            CatchUp one;
            CatchUp two;
            if (round % 2 == 1) {
                one = catchUp(servers, 1, partitions, loaded, round);
                two = catchUp(servers, 2, partitions, loaded, round);
            } else {
                two = catchUp(servers, 2, partitions, loaded, round);
                one = catchUp(servers, 1, partitions, loaded, round);
            }
            ones.add(one);
            twos.add(two);
            ratios[round - 1] = two.recordsPerSecond() / one.recordsPerSecond();
            for (CatchUp c : round % 2 == 1 ? List.of(one, two) : List.of(two, one)) {
                System.out.printf(Locale.ROOT, "round %d, %d instance(s): %,12.0f records/s (%.2f s first record → "
                        + "caught up, %.2f s wall from start), shards %s%n", round, c.instances(),
                        c.recordsPerSecond(), c.seconds(), c.wallSeconds(), c.split());
            }
            System.out.printf(Locale.ROOT, "round %d: 2 ÷ 1 = %.3f (load %s)%n", round, ratios[round - 1],
                    loadAverage());
        }
        double[] sorted = ratios.clone();
        Arrays.sort(sorted);
        double m1 = median(ones.stream().mapToDouble(CatchUp::recordsPerSecond).toArray());
        double m2 = median(twos.stream().mapToDouble(CatchUp::recordsPerSecond).toArray());
        System.out.printf(Locale.ROOT, "2 ÷ 1 instances: per round %s, median %.3f, min %.3f, max %.3f%n",
                Arrays.toString(round3(ratios)), median(sorted), sorted[0], sorted[sorted.length - 1]);
        table.add(String.format(Locale.ROOT, "| ingest, 1 instance (%,d records, 3 topics × %d partitions), median "
                + "of %d | %,.0f records/s (%.2f s) |", loaded, partitions, rounds, m1, loaded / m1));
        table.add(String.format(Locale.ROOT, "| ingest, 2 instances in one JVM, aggregate, median of %d | %,.0f "
                + "records/s (%.2f s) |", rounds, m2, loaded / m2));
        table.add(String.format(Locale.ROOT, "| 2 ÷ 1 per round | %s; median %.3f, spread %.3f–%.3f |",
                Arrays.toString(round3(ratios)), median(sorted), sorted[0], sorted[sorted.length - 1]));
    }

    /** A fresh group of {@code instances} runners, fresh checkpoint directories, caught up over every record. */
    private static CatchUp catchUp(String servers, int instances, int partitions, long expected, int round)
            throws Exception {
        String group = "scale-" + instances + "-" + round + "-" + System.nanoTime();
        List<Path> dirs = new ArrayList<>();
        List<CouponConsumerRunner> runners = new ArrayList<>();
        try {
            for (int i = 0; i < instances; i++) {
                Path d = Files.createTempDirectory("pscale-" + instances + "-" + i + "-");
                dirs.add(d);
                runners.add(runner(servers, SCALE_TOPICS, partitions, group, d));
            }
            long w0 = System.nanoTime();
            for (CouponConsumerRunner r : runners) {
                r.start();
            }
            waitFor("first record in group " + group, () -> consumed(runners) > 0, runners);
            long first = System.nanoTime();
            waitFor("group " + group + " caught up", () -> caughtUp(runners, partitions, expected), runners);
            long end = System.nanoTime();
            List<Set<Integer>> split = new ArrayList<>();
            for (CouponConsumerRunner r : runners) {
                split.add(r.shards().keySet());
            }
            return new CatchUp(instances, expected, (end - first) / 1e9, (end - w0) / 1e9, split.toString());
        } finally {
            closeAll(runners);
            dirs.forEach(PartitionedScaleRun::deleteRecursively);
        }
    }

    /** Every partition number on exactly one runner, every shard queryable, and the shards hold every code. */
    private static boolean caughtUp(List<CouponConsumerRunner> runners, int partitions, long expected) {
        Set<Integer> union = new TreeSet<>();
        int total = 0;
        long size = 0;
        for (CouponConsumerRunner r : runners) {
            Map<Integer, ShardStatus> shards = r.shards();
            for (ShardStatus s : shards.values()) {
                if (!s.queryable()) {
                    return false;
                }
            }
            union.addAll(shards.keySet());
            total += shards.size();
            size += r.state().size();
        }
        if (size > expected) {
            throw new IllegalStateException("the shards hold " + size + " codes, more than the " + expected
                    + " distinct codes in the topics");
        }
        return union.size() == partitions && total == partitions && size == expected;
    }

    private static long consumed(List<CouponConsumerRunner> runners) {
        long n = 0;
        for (CouponConsumerRunner r : runners) {
            n += r.metrics().recordsConsumed();
        }
        return n;
    }

    // ------------------------------------------------------------------------------------------------ move

    private static void moveShard(String servers, long codes, List<String> table) throws Exception {
        createTopics(servers, MOVE_TOPICS, 2);
        long l0 = System.nanoTime();
        long loaded = KafkaCeilingRun.load(servers, 2 * codes, MOVE_TOPICS);
        System.out.printf(Locale.ROOT, "loaded %,d records into %s (2 partitions each) in %.1f s%n", loaded,
                Arrays.toString(MOVE_TOPICS), (System.nanoTime() - l0) / 1e9);
        String group = "move-" + System.nanoTime();
        Path dirA = Files.createTempDirectory("pmove-a-");
        Path dirB = Files.createTempDirectory("pmove-b-");
        CouponConsumerRunner a = runner(servers, MOVE_TOPICS, 2, group, dirA);
        List<CouponConsumerRunner> open = new ArrayList<>(List.of(a));
        try {
            long a0 = System.nanoTime();
            a.start();
            waitFor("A caught up", () -> caughtUp(List.of(a), 2, loaded), open);
            double aSeconds = (System.nanoTime() - a0) / 1e9;
            PartitionedCouponState aState = (PartitionedCouponState) a.state();
            long[] shardSize = {aState.shard(0).orElseThrow().size(), aState.shard(1).orElseThrow().size()};
            System.out.printf(Locale.ROOT, "A alone: caught up on %,d records in %.2f s; shard sizes %,d and %,d "
                    + "codes; heap after GC %s%n", loaded, aSeconds, shardSize[0], shardSize[1],
                    Heap.mb(Heap.usedAfterGc()));
            table.add(String.format(Locale.ROOT, "| move setup: A alone catches up (%,d records, 3 topics × 2 "
                    + "partitions) | %.2f s (%,.0f records/s, from start) |", loaded, aSeconds, loaded / aSeconds));

            // (a) B joins with an empty checkpoint directory: its shard is rebuilt from the topics
            Move rebuild = startB(servers, group, dirB, a, open, shardSize);
            System.out.println("(a) " + rebuild);
            table.add(String.format(Locale.ROOT, "| (a) move, no local checkpoint: B start → shard %d (%,d codes) "
                    + "queryable (rebuild) | %.2f s (assigned at %.2f s, so %.2f s after it) |", rebuild.partition,
                    rebuild.codes, rebuild.seconds, rebuild.assignedSeconds,
                    rebuild.seconds - rebuild.assignedSeconds));

            // (b) B closes (A takes the partition back), then starts again on the same directory
            for (int attempt = 1; attempt <= MOVE_ATTEMPTS; attempt++) {
                long c0 = System.nanoTime();
                CouponConsumerRunner b = rebuild.runner;
                b.close();
                open.remove(b);
                double closeSeconds = (System.nanoTime() - c0) / 1e9;
                long t0 = System.nanoTime();
                waitFor("A took every partition back", () -> caughtUp(List.of(a), 2, loaded), open);
                System.out.printf(Locale.ROOT, "B closed in %.2f s (final checkpoint of shard %d: %s on disk); A "
                        + "owns both again, queryable, %.2f s later%n", closeSeconds, rebuild.partition,
                        Heap.mb(du(dirB.resolve("partition-" + rebuild.partition))),
                        (System.nanoTime() - t0) / 1e9);
                Move again = startB(servers, group, dirB, a, open, shardSize);
                System.out.println("(b) attempt " + attempt + ": " + again);
                rebuild = again;
                if (again.hadCheckpoint) {
                    table.add(String.format(Locale.ROOT, "| (b) move, local checkpoint (%s): B start → shard %d "
                            + "(%,d codes) queryable (restore + tail) | %.2f s (assigned at %.2f s, so %.2f s after "
                            + "it) |", Heap.mb(again.checkpointBytes), again.partition, again.codes, again.seconds,
                            again.assignedSeconds, again.seconds - again.assignedSeconds));
                    break;
                }
                table.add(String.format(Locale.ROOT, "| (b) attempt %d got partition %d, no checkpoint there: "
                        + "rebuild | %.2f s |", attempt, again.partition, again.seconds));
            }
        } finally {
            closeAll(open);
            deleteRecursively(dirA);
            deleteRecursively(dirB);
        }
    }

    /** One start of B: its partition, whether it had a checkpoint of it, its size, seconds to queryable. */
    record Move(CouponConsumerRunner runner, int partition, boolean hadCheckpoint, long checkpointBytes, long codes,
            double assignedSeconds, double seconds, double settledSeconds) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "B got partition %d (%s local checkpoint%s) %.2f s after its start "
                    + "(group rebalance), shard of %,d codes queryable at %.2f s (%.2f s after the assignment); A "
                    + "settled on the other partition at %.2f s", partition, hadCheckpoint ? "with a" : "no",
                    hadCheckpoint ? ", " + Heap.mb(checkpointBytes) : "", assignedSeconds, codes, seconds,
                    seconds - assignedSeconds, settledSeconds);
        }
    }

    private static Move startB(String servers, String group, Path dirB, CouponConsumerRunner a,
            List<CouponConsumerRunner> open, long[] shardSize) throws Exception {
        long[] before = {du(dirB.resolve("partition-0")), du(dirB.resolve("partition-1"))};
        boolean[] had = {hasCheckpoint(dirB.resolve("partition-0")), hasCheckpoint(dirB.resolve("partition-1"))};
        CouponConsumerRunner b = runner(servers, MOVE_TOPICS, 2, group, dirB);
        open.add(b);
        long t0 = System.nanoTime();
        b.start();
        waitFor("B assigned a partition", () -> !b.shards().isEmpty(), open);
        double assigned = (System.nanoTime() - t0) / 1e9;
        waitFor("B's shard queryable", () -> {
            Map<Integer, ShardStatus> s = b.shards();
            return s.size() == 1 && s.values().iterator().next().queryable();
        }, open);
        double seconds = (System.nanoTime() - t0) / 1e9;
        int p = b.shards().keySet().iterator().next();
        waitFor("A settled on the other partition", () -> {
            Map<Integer, ShardStatus> s = a.shards();
            return s.size() == 1 && !s.containsKey(p) && s.values().iterator().next().queryable();
        }, open);
        double settled = (System.nanoTime() - t0) / 1e9;
        long size = b.state().size();
        if (size != shardSize[p]) {
            throw new IllegalStateException("B's shard " + p + " holds " + size + " codes, A's held " + shardSize[p]);
        }
        return new Move(b, p, had[p], before[p], size, assigned, seconds, settled);
    }

    private static boolean hasCheckpoint(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.anyMatch(f -> f.getFileName().toString().startsWith("checkpoint-"));
        }
    }

    private static long du(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        }
    }

    // ------------------------------------------------------------------------------------------------ common

    private static CouponConsumerRunner runner(String servers, String[] topics, int partitions, String group,
            Path dir) {
        return CouponConsumerRunner.builder()
                .bootstrapServers(servers)
                .topics(List.of(topics))
                .state(PartitionedCouponState.lockFree(partitions, CouponStateConfig.defaults()))
                .mode(CouponConsumerRunner.Mode.PARTITIONED)
                .groupId(group)
                .checkpointDirectory(dir)
                .pollTimeout(Duration.ofMillis(100))
                .progressLogInterval(Duration.ZERO)
                .build();
    }

    /** Polls {@code condition} every 5 ms; fails if a runner fails or after {@link #WAIT_MS}. */
    private static void waitFor(String what, BooleanSupplier condition, List<CouponConsumerRunner> runners)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (!condition.getAsBoolean()) {
            for (CouponConsumerRunner r : runners) {
                if (r.runnerState() == CouponConsumerRunner.State.FAILED) {
                    throw new IllegalStateException(what + ": runner " + r + " failed", r.failureCause().orElse(null));
                }
            }
            if (System.currentTimeMillis() > deadline) {
                throw new IllegalStateException(what + ": not reached in " + WAIT_MS + " ms");
            }
            Thread.sleep(5);
        }
    }

    /** Closes the runners in parallel, so that none takes over the partitions of another that is closing. */
    private static void closeAll(List<CouponConsumerRunner> runners) throws InterruptedException {
        List<Thread> threads = new ArrayList<>();
        for (CouponConsumerRunner r : runners) {
            Thread t = new Thread(r::close, "close-" + r);
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
    }

    private static void createTopics(String servers, String[] names, int partitions)
            throws ExecutionException, InterruptedException {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, servers))) {
            List<NewTopic> topics = new ArrayList<>();
            for (String t : names) {
                topics.add(new NewTopic(t, partitions, (short) 1).configs(Map.of("retention.ms", "-1")));
            }
            admin.createTopics(topics).all().get();
            // a producer that starts before every partition has a leader can wedge in OUT_OF_ORDER_SEQUENCE retries
            long deadline = System.currentTimeMillis() + WAIT_MS;
            while (true) {
                boolean ready = admin.describeTopics(List.of(names)).allTopicNames().get().values().stream()
                        .allMatch(d -> d.partitions().size() == partitions
                                && d.partitions().stream()
                                        .allMatch(pi -> pi.leader() != null && !pi.leader().isEmpty()));
                if (ready) {
                    return;
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("topics " + Arrays.toString(names)
                            + ": no leader for every partition");
                }
                Thread.sleep(50);
            }
        }
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    private static double[] round3(double[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Math.round(v[i] * 1000) / 1000.0;
        }
        return out;
    }

    private static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Collections.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
