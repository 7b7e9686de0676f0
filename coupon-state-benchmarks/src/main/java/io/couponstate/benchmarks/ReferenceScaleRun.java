package io.couponstate.benchmarks;

import io.couponstate.core.CompactCouponState;
import io.couponstate.core.CouponSnapshots;
import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.ObservationBatch;
import io.couponstate.core.StripedLockCouponState;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * Ingest of a data set shaped like the reference promo-code files, generated on the fly, into a pre-sized state.
 *
 * <p>Source {@code i} (1..3) holds only codes of {@code 7 + i} characters: 107M of 8, 107M of 9 and 98.5M of 10
 * at scale 1, distinct within a source and, by their lengths, across sources; plus BIRTHDAY BUYGETON FIFTYOFF
 * FREEZAAA GNULINUX OVER9000 SIXTYOFF in all three, HAPPYHRS in sources 1 and 3, SUPER100 in 1 only, MOODYHRS in 2
 * only, and a few duplicates inside each source (every 2^20-th code is sent twice). So exactly eight codes are
 * valid at threshold 2. Code {@code j} of source {@code i} is the {@code 7 + i} base-36 digits of
 * {@code (j * A + B_i) mod 36^(7 + i)}, a bijection of {@code j}: generation needs no files, no arrays and no
 * memory, is cheap, and splits by ranges: each of the threads takes a contiguous slice of every source.
 *
 * <p>Generation alone is timed first in a pass that only checksums the bytes, so the cost of ingest proper can be
 * told apart. Ingest applies {@link ObservationBatch}es of {@code --batch} entries ({@code --batch 0}: one
 * {@code addObservation} call per observation). Exits with status 1 unless the valid codes are exactly the eight.
 *
 * <p>Then the rest of the life cycle, each step beside the physical limit it is measured against: a base snapshot
 * written to {@code --dir} (against a {@code dd}-like sequential write of as many bytes, fsynced, done in Java in
 * this run), restores into a pre-sized and a default-sized state (against a sequential read of that file; the page
 * cache is not dropped, so both read from memory as far as it holds them), a delta after 1M new observations on top
 * of the full state, and the valid listing ({@code validCount} plus the eight codes). {@code --lifecycle false}
 * skips it.
 *
 * <pre>
 * java -Xmx6g -cp coupon-state-benchmarks/target/benchmarks.jar io.couponstate.benchmarks.ReferenceScaleRun \
 *      [--scale 0.1] [--threads 2] [--impl LOCK_FREE|STRIPED_LOCK|COMPACT] [--batch 256] [--dir /tmp] \
 *      [--lifecycle true] [--rounds 1]
 * </pre>
 *
 * <p>{@code --impl COMPACT,LOCK_FREE --rounds 3} runs the implementations alternately in one JVM (each round one run
 * of each, the previous state dropped before the next is built), every one with the same configuration (default
 * {@code maxSources} 8, three sources registered), and ends with a table of the per-round ratios of the first
 * implementation to the second and their medians: ratios side by side, which a shared machine's noise affects alike.
 */
public final class ReferenceScaleRun {

    private static final byte[] ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".getBytes(StandardCharsets.US_ASCII);
    private static final long[] FULL_COUNTS = {107_000_000L, 107_000_000L, 98_500_000L};
    private static final String[] SOURCES = {"source-1", "source-2", "source-3"};
    private static final long A = 2_654_435_761L; // prime, coprime with 36: j -> j * A + B mod 36^L is 1:1
    static final long[] B = {1_234_567_891L, 98_765_432_123L, 5_555_555_555_555L};
    private static final int DUP_MASK = (1 << 20) - 1;

    /** The codes that must come out valid, and nothing else. */
    static final Set<String> EXPECTED_VALID = Set.of("BIRTHDAY", "BUYGETON", "FIFTYOFF", "FREEZAAA", "GNULINUX",
            "OVER9000", "SIXTYOFF", "HAPPYHRS");

    private ReferenceScaleRun() {
    }

    /** What one run measured, for the alternating summary. */
    static final class Row {
        String impl;
        double ingestSeconds;
        double bytesPerCode;
        double writeSeconds;
        double restorePresizedSeconds;
        double restoreDefaultSeconds;
        double grownBytesPerCode;
        double growthPeakMb;
        long imageBytes;
    }

    /** Runs the ingest; see the class comment for the arguments. */
    public static void main(String[] args) throws InterruptedException, IOException {
        double scale = 1.0;
        int threads = 2;
        String impl = "LOCK_FREE";
        Path dir = Path.of(System.getProperty("java.io.tmpdir"));
        boolean lifecycle = true;
        int rounds = 1;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--scale" -> scale = Double.parseDouble(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--impl" -> impl = args[++i];
                case "--batch" -> batchSize = Integer.parseInt(args[++i]);
                case "--dir" -> dir = Path.of(args[++i]);
                case "--lifecycle" -> lifecycle = Boolean.parseBoolean(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("argument: " + args[i] + " (expected: --scale X, "
                        + "--threads N, --impl LOCK_FREE|STRIPED_LOCK|COMPACT[,...], --batch N, --dir PATH, "
                        + "--lifecycle BOOL, --rounds N)");
            }
        }
        String[] impls = impl.split(",");
        for (String name : impls) {
            create(name, CouponStateConfig.defaults()); // an unknown name fails here, before any round
        }
        List<Row> rows = new java.util.ArrayList<>();
        for (int round = 1; round <= rounds; round++) {
            for (String name : impls) {
                System.out.printf("%n=== round %d of %d: %s ===%n", round, rounds, name);
                rows.add(run(name, scale, threads, dir, lifecycle));
                System.gc();
            }
            if (impls.length == 2) {
                summary(rows, impls, lifecycle); // after every round: a run stopped early still has its table
            }
        }
    }

    /** The per-round ratios of the first implementation to the second, and their medians. */
    private static void summary(List<Row> rows, String[] impls, boolean lifecycle) {
        System.out.printf("%nsummary: %s against %s, per round (ratio = %s / %s)%n", impls[0], impls[1], impls[0],
                impls[1]);
        System.out.println("round | ingest s (a, b, ratio) | B/code (a, b) | base write s (a, b, ratio) | restore "
                + "pre-sized s (a, b, ratio) | restore default-sized s (a, b) | grown B/code (a, b) | growth peak MB "
                + "(a, b) | image MB (a, b)");
        List<Double> ingest = new java.util.ArrayList<>();
        List<Double> write = new java.util.ArrayList<>();
        List<Double> restore = new java.util.ArrayList<>();
        for (int i = 0; i + 1 < rows.size(); i += 2) {
            Row a = rows.get(i);
            Row b = rows.get(i + 1);
            ingest.add(a.ingestSeconds / b.ingestSeconds);
            write.add(a.writeSeconds / b.writeSeconds);
            restore.add(a.restorePresizedSeconds / b.restorePresizedSeconds);
            System.out.printf(java.util.Locale.ROOT, "%d | %.2f, %.2f, %.3f | %.2f, %.2f | %.2f, %.2f, %.3f | %.2f, "
                    + "%.2f, %.3f | %.2f, %.2f | %.2f, %.2f | %.0f, %.0f | %.0f, %.0f%n", i / 2 + 1, a.ingestSeconds,
                    b.ingestSeconds, a.ingestSeconds / b.ingestSeconds, a.bytesPerCode, b.bytesPerCode,
                    a.writeSeconds, b.writeSeconds, a.writeSeconds / b.writeSeconds, a.restorePresizedSeconds,
                    b.restorePresizedSeconds, a.restorePresizedSeconds / b.restorePresizedSeconds,
                    a.restoreDefaultSeconds, b.restoreDefaultSeconds, a.grownBytesPerCode, b.grownBytesPerCode,
                    a.growthPeakMb, b.growthPeakMb, a.imageBytes / 1e6, b.imageBytes / 1e6);
        }
        System.out.printf(java.util.Locale.ROOT, "median ratios %s / %s: ingest time %.3f (throughput %.3f)%s%n",
                impls[0], impls[1], median(ingest), 1 / median(ingest), lifecycle ? String.format(java.util.Locale.ROOT,
                        ", base write %.3f, restore pre-sized %.3f", median(write), median(restore)) : "");
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new java.util.ArrayList<>(values);
        java.util.Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /** One ingest (and, with {@code lifecycle}, the life cycle after it) of {@code impl}. */
    private static Row run(String impl, double scale, int threads, Path dir, boolean lifecycle)
            throws InterruptedException, IOException {
        Row row = new Row();
        row.impl = impl;
        long[] counts = new long[3];
        long generated = 0;
        for (int s = 0; s < 3; s++) {
            counts[s] = Math.round(FULL_COUNTS[s] * scale);
            generated += counts[s];
        }
        // the ten hand-placed codes, and the new codes of the delta step (a state pre-sized for N grows at N + 1,
        // and at full scale a doubled table does not fit beside the state in 9 GB)
        long expectedCodes = generated + 10 + DELTA_OBSERVATIONS;
        System.out.printf("reference-scale run: impl %s, scale %s, threads %d, %s, %,d generated codes, max heap "
                + "%s, %d cores%n", impl, scale, threads, batchSize > 0 ? "batches of " + batchSize : "single calls",
                generated, Heap.mb(Runtime.getRuntime().maxMemory()), Runtime.getRuntime().availableProcessors());

        // generation alone (checksum only), same threads and slices
        long g0 = System.nanoTime();
        long checksum = runThreads(threads, counts, null, null);
        double genSeconds = (System.nanoTime() - g0) / 1e9;
        System.out.printf("generation only: %.2f s (%.1f M codes/s, checksum %d)%n", genSeconds,
                generated / genSeconds / 1e6, checksum);

        long heapBefore = Heap.usedAfterGc();
        long a0 = System.nanoTime();
        // a journal of 1.5M changes: it overflows during the ingest (and then costs nothing) and holds the 1M
        // observations of the delta step after the base
        CouponStateConfig config = CouponStateConfig.builder().expectedCodes(expectedCodes)
                .changeJournalCapacity(DELTA_OBSERVATIONS * 3 / 2).build();
        CouponState state = create(impl, config);
        double allocSeconds = (System.nanoTime() - a0) / 1e9;
        int[] ids = new int[3];
        for (int s = 0; s < 3; s++) {
            ids[s] = state.sourceId(SOURCES[s]);
        }
        long specials = addSpecials(state);

        long i0 = System.nanoTime();
        runThreads(threads, counts, state, ids);
        double ingestSeconds = (System.nanoTime() - i0) / 1e9;
        long observations = generated + duplicates(counts) + specials;
        long heapAfter = Heap.usedAfterGc();

        long q0 = System.nanoTime();
        List<String> valid = state.getCouponCodesByObservationCount(2); // from the valid codes: no table scan
        double querySeconds = (System.nanoTime() - q0) / 1e9;

        long size = state.size();
        long retained = heapAfter - heapBefore;
        System.out.printf("state allocation (pre-sized for %,d): %.2f s%n", expectedCodes, allocSeconds);
        System.out.printf("ingest: %,d observations, %,d distinct codes in %.2f s = %.1f M obs/s "
                        + "(generation inside it: ~%.2f s, so ~%.2f s net)%n", observations, size, ingestSeconds,
                observations / ingestSeconds / 1e6, genSeconds, Math.max(0, ingestSeconds - genSeconds));
        System.out.printf("heap used after GC: %s (state: %s, %.2f bytes/code)%n", Heap.mb(heapAfter),
                Heap.mb(retained), (double) retained / size);
        row.ingestSeconds = ingestSeconds;
        row.bytesPerCode = (double) retained / size;
        System.out.printf("valid codes (%.2f s to list): %s%n", querySeconds, new TreeSet<>(valid));
        boolean ok = valid.size() == EXPECTED_VALID.size() && EXPECTED_VALID.containsAll(valid);
        System.out.println(ok ? "RESULT OK: exactly the eight expected valid codes"
                : "RESULT FAIL: expected exactly " + new TreeSet<>(EXPECTED_VALID));
        if (!ok) {
            System.exit(1);
        }
        if (lifecycle) {
            ok = lifecycle(state, impl, dir, ids, counts, row);
            System.out.println(ok ? "LIFECYCLE OK: every restore equals the state" : "LIFECYCLE FAIL");
            if (!ok) {
                System.exit(1);
            }
        }
        return row;
    }

    /** New observations on top of the full state before the delta is written. */
    static final int DELTA_OBSERVATIONS = 1_000_000;
    private static int batchSize = 256;

    static CouponState create(String impl, CouponStateConfig config) {
        return switch (impl) {
            case "LOCK_FREE" -> new LockFreeCouponState(config);
            case "STRIPED_LOCK" -> new StripedLockCouponState(config);
            case "COMPACT" -> new CompactCouponState(config);
            default -> throw new IllegalArgumentException("impl: " + impl
                    + " (expected: LOCK_FREE|STRIPED_LOCK|COMPACT)");
        };
    }

    /** Base write, restores, delta and valid listing, each against its physical limit; true if every check held. */
    private static boolean lifecycle(CouponState state, String impl, Path dir, int[] ids, long[] counts, Row row)
            throws IOException {
        Files.createDirectories(dir);
        Path base = dir.resolve("reference-base.cpst");
        Path delta = dir.resolve("reference-delta-1.cpst");
        Path raw = dir.resolve("reference-dd.bin");
        boolean ok = true;
        try {
            long size = state.size();
            long w0 = System.nanoTime();
            long wc = cpu();
            long written = CouponSnapshots.writeBase(state, base);
            double writeSeconds = seconds(w0);
            double writeCpu = (cpu() - wc) / 1e9;
            long bytes = Files.size(base);
            double ddWrite = ddWrite(raw, bytes);
            double ddRead = ddRead(raw);
            System.out.printf("physical limits here: sequential write + fsync of %s: %.2f s (%.0f MB/s); sequential "
                    + "read of it: %.2f s (%.0f MB/s, page cache not dropped)%n", Heap.mb(bytes), ddWrite,
                    bytes / 1e6 / ddWrite, ddRead, bytes / 1e6 / ddRead);
            System.out.printf("base snapshot write: %,d entries, %s in %.2f s (%.0f MB/s, thread CPU %.2f s) = %.2fx "
                    + "the dd write%n", written, Heap.mb(bytes), writeSeconds, bytes / 1e6 / writeSeconds, writeCpu,
                    writeSeconds / ddWrite);
            ok &= written == size;
            row.writeSeconds = writeSeconds;
            row.imageBytes = bytes;

            for (boolean presized : new boolean[] {true, false}) {
                Supplier<CouponState> factory = () -> create(impl, presized
                        ? CouponStateConfig.builder().expectedCodes(size).build() : CouponStateConfig.defaults());
                long before = Heap.usedAfterGc();
                resetPeaks();
                CouponState restored = factory.get();
                long r0 = System.nanoTime();
                long rc = cpu();
                long read = CouponSnapshots.read(base, restored);
                double readSeconds = seconds(r0);
                double readCpu = (cpu() - rc) / 1e9;
                long peak = peakUsed();
                long held = Heap.usedAfterGc() - before;
                System.out.printf("restored state: %s retained, %.2f bytes/code; heap peak during the restore %s "
                        + "(garbage included, the original state %s of it)%n", Heap.mb(held), (double) held / size,
                        Heap.mb(peak), Heap.mb(before));
                if (presized) {
                    row.restorePresizedSeconds = readSeconds;
                } else {
                    row.restoreDefaultSeconds = readSeconds;
                    row.grownBytesPerCode = (double) held / size;
                    row.growthPeakMb = (peak - before) / 1e6;
                }
                boolean same = read == size && restored.size() == size && restored.validCount() == 8
                        && restored.getObservations("HAPPYHRS").size() == 2;
                System.out.printf("restore into a %s state: %,d entries in %.2f s (%.0f MB/s, thread CPU %.2f s = %.0f ns"
                        + " per entry) = %.2fx the dd read%s%n", presized ? "pre-sized" : "default-sized", read,
                        readSeconds, bytes / 1e6 / readSeconds, readCpu, readCpu * 1e9 / read, readSeconds / ddRead,
                        same ? "" : " MISMATCH");
                ok &= same;
                restored = null; // dropped before the next one is built
                System.gc();
            }

            // 1M new observations: new codes of source 3 past its range, then a delta
            byte[] buf = new byte[16];
            long space = space(10);
            long from = counts[2];
            ObservationBatch batch = new ObservationBatch(Math.max(1, batchSize));
            for (long j = from; j < from + DELTA_OBSERVATIONS; j++) {
                code(buf, 10, space, B[2], j);
                if (!batch.add(buf, 0, 10, ids[2])) {
                    state.addObservations(batch);
                    batch.clear();
                    batch.add(buf, 0, 10, ids[2]);
                }
            }
            state.addObservations(batch);
            long d0 = System.nanoTime();
            long changes = CouponSnapshots.writeDelta(state, delta);
            double deltaSeconds = seconds(d0);
            long deltaBytes = Files.size(delta);
            System.out.printf("delta after %,d new observations on %,d codes: %,d entries, %s in %.3f s "
                    + "(a dd write of that size at the rate above: %.3f s)%n", DELTA_OBSERVATIONS, size, changes,
                    Heap.mb(deltaBytes), deltaSeconds, ddWrite * deltaBytes / bytes);
            ok &= changes == DELTA_OBSERVATIONS;

            long validCount = 0;
            List<String> valid = List.of();
            double[] validMillis = new double[5];
            for (int round = 0; round < validMillis.length; round++) { // a pause of the machine shows as one outlier
                long v0 = System.nanoTime();
                validCount = state.validCount();
                valid = state.getCouponCodesByObservationCount(state.threshold());
                validMillis[round] = (System.nanoTime() - v0) / 1e6;
            }
            System.out.printf("valid listing: validCount %d + listing %s: %s ms in 5 rounds (a table scan of the "
                    + "state before)%n", validCount, new TreeSet<>(valid), java.util.Arrays.toString(validMillis));
            ok &= validCount == 8 && valid.size() == 8;
        } finally {
            Files.deleteIfExists(base);
            Files.deleteIfExists(delta);
            Files.deleteIfExists(raw);
        }
        return ok;
    }

    private static void resetPeaks() {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                pool.resetPeakUsage();
            }
        }
    }

    /** The sum of the heap pools' peaks since {@link #resetPeaks}: an upper bound of the heap in use at once. */
    private static long peakUsed() {
        long peak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        return peak;
    }

    /** CPU time of this thread: what a step costs whatever the machine's load (wall time shows the load too). */
    private static long cpu() {
        return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    /** Seconds to write {@code bytes} bytes sequentially in 4 MB direct buffers and fsync them: a dd in Java. */
    static double ddWrite(Path file, long bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocateDirect(4 << 20);
        while (buffer.hasRemaining()) {
            buffer.putLong(System.nanoTime()); // not zeros: nothing may compress or skip them
        }
        long t0 = System.nanoTime();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (long left = bytes; left > 0; ) {
                buffer.clear().limit((int) Math.min(buffer.capacity(), left));
                while (buffer.hasRemaining()) {
                    left -= channel.write(buffer);
                }
            }
            channel.force(true);
        }
        return seconds(t0);
    }

    /** Seconds to read {@code file} sequentially in 4 MB direct buffers. */
    static double ddRead(Path file) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocateDirect(4 << 20);
        long t0 = System.nanoTime();
        long sum = 0;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            while (channel.read(buffer.clear()) > 0) {
                sum += buffer.get(0);
            }
        }
        double s = seconds(t0);
        if (sum == 42) {
            System.out.print(""); // keeps the reads
        }
        return s;
    }

    /** The hand-placed codes; returns how many observations they are. */
    private static long addSpecials(CouponState state) {
        long n = 0;
        for (String code : List.of("BIRTHDAY", "BUYGETON", "FIFTYOFF", "FREEZAAA", "GNULINUX", "OVER9000", "SIXTYOFF")) {
            for (String source : SOURCES) {
                state.addObservation(code, source);
                n++;
            }
        }
        state.addObservation("HAPPYHRS", SOURCES[0]);
        state.addObservation("HAPPYHRS", SOURCES[2]);
        state.addObservation("SUPER100", SOURCES[0]);
        state.addObservation("MOODYHRS", SOURCES[1]);
        return n + 4;
    }

    /** Duplicates sent inside the sources (every 2^20-th code twice). */
    private static long duplicates(long[] counts) {
        long n = 0;
        for (long c : counts) {
            n += (c + DUP_MASK) >>> 20;
        }
        return n;
    }

    /**
     * Splits each source's range across {@code threads} threads and generates (and, with a state, ingests) it.
     * Returns a checksum of the generated bytes when {@code state} is null.
     */
    private static long runThreads(int threads, long[] counts, CouponState state, int[] ids)
            throws InterruptedException {
        Thread[] workers = new Thread[threads];
        long[] sums = new long[threads];
        for (int t = 0; t < threads; t++) {
            final int me = t;
            workers[t] = new Thread(() -> {
                byte[] buf = new byte[16]; // reused: the only buffer this thread writes codes into
                long sum = 0;
                for (int s = 0; s < 3; s++) {
                    long from = counts[s] * me / threads;
                    long to = counts[s] * (me + 1) / threads;
                    if (state == null) {
                        sum += generate(buf, 8 + s, B[s], from, to);
                    } else {
                        ingest(state, ids[s], buf, 8 + s, B[s], from, to);
                    }
                }
                sums[me] = sum;
            }, "ingest-" + t);
            workers[t].start();
        }
        long total = 0;
        for (int t = 0; t < threads; t++) {
            workers[t].join();
            total += sums[t];
        }
        return total;
    }

    /** Writes code {@code j} of a source with codes of {@code length} characters into {@code buf[0, length)}. */
    static void code(byte[] buf, int length, long space, long b, long j) {
        long x = Math.floorMod(j * A + b, space); // j * A < 2^63 for j < 3.4e9
        for (int d = length - 1; d >= 0; d--) {
            buf[d] = ALPHABET[(int) (x % 36)];
            x /= 36;
        }
    }

    static long space(int length) {
        long m = 1;
        for (int i = 0; i < length; i++) {
            m *= 36;
        }
        return m;
    }

    private static long generate(byte[] buf, int length, long b, long from, long to) {
        final long space = space(length);
        long sum = 0;
        for (long j = from; j < to; j++) {
            code(buf, length, space, b, j);
            sum += buf[0] + buf[length - 1];
            if ((j & DUP_MASK) == 0) {
                sum += buf[1];
            }
        }
        return sum;
    }

    private static void ingest(CouponState state, int sourceId, byte[] buf, int length, long b, long from, long to) {
        final long space = space(length);
        if (batchSize > 0) {
            ObservationBatch batch = new ObservationBatch(batchSize); // one per thread and source, reused
            for (long j = from; j < to; j++) {
                code(buf, length, space, b, j);
                int copies = (j & DUP_MASK) == 0 ? 2 : 1; // a duplicate inside the source
                for (int c = 0; c < copies; c++) {
                    if (!batch.add(buf, 0, length, sourceId)) {
                        state.addObservations(batch);
                        batch.clear();
                        batch.add(buf, 0, length, sourceId);
                    }
                }
            }
            state.addObservations(batch);
            return;
        }
        for (long j = from; j < to; j++) {
            code(buf, length, space, b, j);
            state.addObservation(buf, 0, length, sourceId);
            if ((j & DUP_MASK) == 0) {
                state.addObservation(buf, 0, length, sourceId); // a duplicate inside the source
            }
        }
    }
}
