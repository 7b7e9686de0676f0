package io.couponstate.benchmarks;

import io.couponstate.core.CouponSnapshots;
import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.ObservationBatch;
import io.couponstate.kafka.CouponCheckpoints;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.kafka.common.TopicPartition;

/**
 * The runner's checkpoint restore against the bare snapshot read, without Kafka: builds the
 * reference-shaped state of {@link ReferenceScaleRun} ({@code --scale}, its 3 sources and code generation, by
 * {@code --threads} threads in batches of 256), writes it (a) as a base with {@link CouponSnapshots#writeBase} and
 * (b) as a checkpoint with {@link CouponCheckpoints#write} (then {@code --delta} new codes and the delta checkpoint
 * after them, as a warm restart of the runner finds), drops it, and then restores each into a fresh state,
 * alternating a and b for {@code --rounds} rounds with {@code System.gc()} between two restores, printing the
 * seconds of each, the restoring thread's CPU seconds (which the load of a shared machine moves far less than the
 * wall time) and the ratios b / a.
 *
 * <p>The state restored into is built as {@code --target} says: {@code runner} (the default) exactly as
 * {@link ReferenceKafkaChild} builds the runner's state, default-sized with a change journal of {@code --journal}
 * (2M: {@link ReferenceKafkaRun}'s twice the tail) entries; {@code default} without the journal; {@code presized}
 * with {@code expectedCodes} of the codes written. Both reads come from the page cache (the files were just written
 * and are read again every round), unless {@code --cold true}: then the file's pages are dropped from the page cache
 * before each restore (needs {@code python3}), as a restart finds them long after the write.
 *
 * <p>{@code --touch true} first allocates and drops an array as big as the restore's table, timed, so that the
 * restores reuse heap the process has touched already (see {@code touchHeap}).
 *
 * <p>{@code --keep DIR} keeps the files in {@code DIR}; a later run with the same {@code --keep} reuses them and only
 * restores, in a JVM that did nothing else before (as the runner's child JVM), {@code --only bare} or
 * {@code --only checkpoint} if asked.
 *
 * <pre>
 * java -Xmx6g -cp coupon-state-benchmarks/target/benchmarks.jar io.couponstate.benchmarks.RestoreRun \
 *      [--scale 0.1] [--rounds 3] [--threads 2] [--delta 0] [--target runner|default|presized] [--journal 2000000]
 *      [--cold false] [--only both|bare|checkpoint] [--keep DIR] [--touch false]
 *      [--dir /tmp]
 * </pre>
 */
public final class RestoreRun {

    private static final long[] FULL_COUNTS = {107_000_000L, 107_000_000L, 98_500_000L};
    private static final String[] SOURCES = {"source-1", "source-2", "source-3"};
    private static final int BATCH = 256;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final double[] NONE = {Double.NaN, Double.NaN};

    private RestoreRun() {
    }

    /** Runs it; see the class comment for the arguments. */
    public static void main(String[] args) throws Exception {
        double scale = 0.1;
        int rounds = 3;
        int threads = 2;
        int delta = 0;
        String target = "runner";
        boolean cold = false;
        String only = "both";
        Path keep = null;
        boolean touch = false;
        int journal = 2_000_000;
        Path parent = Path.of(System.getProperty("java.io.tmpdir"));
        for (int i = 0; i + 1 < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--scale" -> scale = Double.parseDouble(v);
                case "--rounds" -> rounds = Integer.parseInt(v);
                case "--threads" -> threads = Integer.parseInt(v);
                case "--delta" -> delta = Integer.parseInt(v);
                case "--target" -> target = v;
                case "--journal" -> journal = Integer.parseInt(v);
                case "--cold" -> cold = Boolean.parseBoolean(v);
                case "--only" -> only = v;
                case "--keep" -> keep = Path.of(v);
                case "--touch" -> touch = Boolean.parseBoolean(v);
                case "--dir" -> parent = Path.of(v);
                default -> throw new IllegalArgumentException("argument: " + args[i] + " (expected: --scale X, "
                        + "--rounds N, --threads N, --delta N, --target runner|default|presized, --journal N, "
                        + "--cold BOOL, --only both|bare|checkpoint, --keep PATH, --touch BOOL, --dir PATH)");
            }
        }
        long[] counts = new long[3];
        long generated = 0;
        for (int s = 0; s < 3; s++) {
            counts[s] = Math.round(FULL_COUNTS[s] * scale);
            generated += counts[s];
        }
        System.out.printf(Locale.ROOT, "restore run: scale %s, %,d codes, delta %,d, target %s, max heap %s, "
                + "%d cores%n",
                scale, generated, delta, target, Heap.mb(Runtime.getRuntime().maxMemory()),
                Runtime.getRuntime().availableProcessors());
        Path dir = keep != null ? Files.createDirectories(keep) : Files.createTempDirectory(parent, "restore-run");
        Path bare = dir.resolve("bare-base.cpst");
        Path checkpoints = dir.resolve("checkpoints");
        Path codesFile = dir.resolve("codes");
        long codes;
        try {
            if (Files.exists(codesFile)) { // kept by an earlier run: a restore in a fresh JVM, as the runner's child
                codes = Long.parseLong(Files.readString(codesFile).trim());
                System.out.printf(Locale.ROOT, "reusing the files in %s: %,d codes%n", dir, codes);
            } else {
                Files.createDirectories(checkpoints);
                codes = build(counts, generated, threads, delta, journal, bare, checkpoints);
                Files.writeString(codesFile, Long.toString(codes));
                System.gc();
            }
            if (touch) {
                touchHeap(codes);
            }
            double[][] a = new double[rounds][];
            double[][] b = new double[rounds][];
            double[] sum = new double[4];
            for (int r = 0; r < rounds; r++) {
                a[r] = only.equals("checkpoint") ? NONE
                        : restore(false, target, journal, codes, bare, checkpoints, cold);
                b[r] = only.equals("bare") ? NONE
                        : restore(true, target, journal, codes, bare, checkpoints, cold);
                System.out.printf(Locale.ROOT, "round %d: bare read %.2f s (CPU %.2f s), checkpoint restore %.2f s "
                        + "(CPU %.2f s), ratio %.2f (CPU %.2f)%n", r + 1, a[r][0], a[r][1], b[r][0], b[r][1],
                        b[r][0] / a[r][0], b[r][1] / a[r][1]);
                for (int k = 0; k < 2; k++) {
                    sum[k] += a[r][k];
                    sum[2 + k] += b[r][k];
                }
            }
            System.out.printf(Locale.ROOT, "sum over %d rounds: bare read %.2f s (CPU %.2f s), checkpoint restore "
                    + "%.2f s (CPU %.2f s), ratio %.2f (CPU %.2f)%n", rounds, sum[0], sum[1], sum[2], sum[3],
                    sum[2] / sum[0], sum[3] / sum[1]);
        } finally {
            try (Stream<Path> files = keep != null ? Stream.empty() : Files.walk(dir)) {
                List<Path> all = new ArrayList<>(files.toList());
                java.util.Collections.reverse(all);
                for (Path p : all) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** Builds the state, writes both files, and returns the codes written (the state is dropped on return). */
    private static long build(long[] counts, long generated, int threads, int delta, int journal, Path bare,
            Path checkpoints) throws Exception {
        CouponStateConfig config = CouponStateConfig.builder().expectedCodes(generated + 10 + delta)
                .changeJournalCapacity(Math.max(journal, delta)).build();
        LockFreeCouponState state = new LockFreeCouponState(config);
        int[] ids = new int[3];
        for (int s = 0; s < 3; s++) {
            ids[s] = state.sourceId(SOURCES[s]);
        }
        long t0 = System.nanoTime();
        for (String code : List.of("BIRTHDAY", "BUYGETON", "FIFTYOFF", "FREEZAAA", "GNULINUX", "OVER9000")) {
            for (String source : SOURCES) {
                state.addObservation(code, source);
            }
        }
        ingest(state, ids, counts, threads);
        System.out.printf(Locale.ROOT, "ingest: %,d codes in %.2f s%n", state.size(), seconds(t0));

        long w0 = System.nanoTime();
        long written = CouponSnapshots.writeBase(state, bare);
        System.out.printf(Locale.ROOT, "(a) bare base: %,d entries, %s in %.2f s%n", written, Heap.mb(Files.size(bare)),
                seconds(w0));
        Map<TopicPartition, Long> offsets = Map.of(new TopicPartition("reference", 0), generated);
        try (CouponCheckpoints store = CouponCheckpoints.open(checkpoints)) {
            long w1 = System.nanoTime();
            CouponCheckpoints.Checkpoint base = store.write(state, offsets, Map.of());
            System.out.printf(Locale.ROOT, "(b) checkpoint base: %s, %s in %.2f s%n", base.file().getFileName(),
                    Heap.mb(base.bytes()), seconds(w1));
            if (delta > 0) {
                byte[] buf = new byte[16];
                long space = ReferenceScaleRun.space(10);
                ObservationBatch batch = new ObservationBatch(BATCH);
                for (long j = counts[2]; j < counts[2] + delta; j++) { // new codes of source 3 past its range
                    ReferenceScaleRun.code(buf, 10, space, ReferenceScaleRun.B[2], j);
                    add(state, batch, buf, 10, ids[2]);
                }
                state.addObservations(batch);
                long w2 = System.nanoTime();
                CouponCheckpoints.Checkpoint d = store.write(state,
                        Map.of(new TopicPartition("reference", 0), generated + delta), Map.of());
                System.out.printf(Locale.ROOT, "(b) checkpoint delta: %s (delta: %s), %s in %.2f s%n",
                        d.file().getFileName(), d.delta(), Heap.mb(d.bytes()), seconds(w2));
            }
        }
        return state.size();
    }

    /**
     * One restore into a fresh target; returns its seconds and the restoring thread's CPU seconds. Exits with
     * status 1 unless the target then holds {@code codes} codes and the valid ones.
     */
    private static double[] restore(boolean checkpoint, String target, int journal, long codes, Path bare,
            Path checkpoints, boolean cold) throws IOException, InterruptedException {
        if (cold) {
            evict(checkpoint ? checkpoints : bare);
        }
        CouponStateConfig config = switch (target) {
            case "runner" -> CouponStateConfig.builder().changeJournalCapacity(journal).build();
            case "default" -> CouponStateConfig.defaults();
            case "presized" -> CouponStateConfig.builder().expectedCodes(codes).build();
            default -> throw new IllegalArgumentException("target: " + target
                    + " (expected: runner|default|presized)");
        };
        LockFreeCouponState state = new LockFreeCouponState(config);
        long c0 = THREADS.getCurrentThreadCpuTime();
        long t0 = System.nanoTime();
        long entries;
        if (checkpoint) {
            try (CouponCheckpoints store = CouponCheckpoints.open(checkpoints)) {
                entries = store.restoreCheckpoint(state).orElseThrow().entries();
            }
        } else {
            entries = CouponSnapshots.read(bare, state);
        }
        double s = seconds(t0);
        double cpu = (THREADS.getCurrentThreadCpuTime() - c0) / 1e9;
        boolean ok = state.size() == codes && state.validCount() == 6;
        System.out.printf(Locale.ROOT, "  %s: %,d entries, %,d codes in %.2f s (thread CPU %.2f s)%s%n",
                checkpoint ? "checkpoint restore" : "bare read", entries, state.size(), s, cpu, ok ? "" : " MISMATCH");
        if (!ok) {
            System.exit(1);
        }
        state = null; // dropped before the next one is built
        System.gc();
        return new double[] {s, cpu};
    }

    /**
     * Allocates and drops an array as big as the table a restore of {@code codes} codes allocates, timed: in a fresh
     * JVM this is the first touch of that much heap (the page faults of memory the process never used), which the
     * restore then no longer pays, as the heap's regions are reused.
     */
    private static void touchHeap(long codes) {
        long slots = (long) Math.ceil((codes + codes / 64) / 0.85); // the reader's presize: entries + reserve
        long c0 = THREADS.getCurrentThreadCpuTime();
        long t0 = System.nanoTime();
        long[] table = new long[(int) Math.min(Integer.MAX_VALUE - 16, slots)];
        System.out.printf(Locale.ROOT, "first touch of a table-sized array (%s): %.2f s (thread CPU %.2f s)%n",
                Heap.mb(8L * table.length), seconds(t0), (THREADS.getCurrentThreadCpuTime() - c0) / 1e9);
        table = null; // garbage whose regions the restore's table reuses
    }

    /**
     * Drops {@code path}'s pages (a file, or every file of a directory) from the page cache, as a restart long after
     * the write finds them: {@code posix_fadvise(DONTNEED)} through python3, as Java has no call for it.
     */
    private static void evict(Path path) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("python3", "-c", "import os,sys\n"
                + "for p in sys.argv[1:]:\n"
                + "    fd = os.open(p, os.O_RDONLY)\n"
                + "    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)\n"
                + "    os.close(fd)"));
        try (Stream<Path> files = Files.isDirectory(path) ? Files.list(path) : Stream.of(path)) {
            files.forEach(f -> cmd.add(f.toString()));
        }
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IOException("evicting " + path + " from the page cache failed: " + cmd);
        }
    }

    private static void ingest(CouponState state, int[] ids, long[] counts, int threads) throws InterruptedException {
        Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            final int me = t;
            workers[t] = new Thread(() -> {
                byte[] buf = new byte[16];
                ObservationBatch batch = new ObservationBatch(BATCH);
                for (int s = 0; s < 3; s++) {
                    int length = 8 + s;
                    long space = ReferenceScaleRun.space(length);
                    for (long j = counts[s] * me / threads, to = counts[s] * (me + 1) / threads; j < to; j++) {
                        ReferenceScaleRun.code(buf, length, space, ReferenceScaleRun.B[s], j);
                        add(state, batch, buf, length, ids[s]);
                    }
                }
                state.addObservations(batch);
            }, "ingest-" + t);
            workers[t].start();
        }
        for (Thread w : workers) {
            w.join();
        }
    }

    private static void add(CouponState state, ObservationBatch batch, byte[] buf, int length, int sourceId) {
        if (!batch.add(buf, 0, length, sourceId)) {
            state.addObservations(batch);
            batch.clear();
            batch.add(buf, 0, length, sourceId);
        }
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }
}
