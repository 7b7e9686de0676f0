package io.couponstate.benchmarks;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.StripedLockCouponState;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

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
 * told apart. Exits with status 1 unless the valid codes are exactly the eight.
 *
 * <pre>
 * java -Xmx6g -cp coupon-state-benchmarks/target/benchmarks.jar io.couponstate.benchmarks.ReferenceScaleRun \
 *      [--scale 0.1] [--threads 2] [--impl LOCK_FREE|STRIPED_LOCK]
 * </pre>
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

    /** Runs the ingest; see the class comment for the arguments. */
    public static void main(String[] args) throws InterruptedException {
        double scale = 1.0;
        int threads = 2;
        String impl = "LOCK_FREE";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--scale" -> scale = Double.parseDouble(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--impl" -> impl = args[++i];
                default -> throw new IllegalArgumentException("argument: " + args[i]
                        + " (expected: --scale X, --threads N, --impl LOCK_FREE|STRIPED_LOCK)");
            }
        }
        long[] counts = new long[3];
        long generated = 0;
        for (int s = 0; s < 3; s++) {
            counts[s] = Math.round(FULL_COUNTS[s] * scale);
            generated += counts[s];
        }
        long expectedCodes = generated + 3; // SUPER100, MOODYHRS are one-source codes; +1 spare
        System.out.printf("reference-scale run: impl %s, scale %s, threads %d, %,d generated codes, max heap %s, "
                + "%d cores%n", impl, scale, threads, generated, Heap.mb(Runtime.getRuntime().maxMemory()),
                Runtime.getRuntime().availableProcessors());

        // generation alone (checksum only), same threads and slices
        long g0 = System.nanoTime();
        long checksum = runThreads(threads, counts, null, null);
        double genSeconds = (System.nanoTime() - g0) / 1e9;
        System.out.printf("generation only: %.2f s (%.1f M codes/s, checksum %d)%n", genSeconds,
                generated / genSeconds / 1e6, checksum);

        long heapBefore = Heap.usedAfterGc();
        long a0 = System.nanoTime();
        CouponStateConfig config = CouponStateConfig.builder().expectedCodes(expectedCodes).build();
        CouponState state = switch (impl) {
            case "LOCK_FREE" -> new LockFreeCouponState(config);
            case "STRIPED_LOCK" -> new StripedLockCouponState(config);
            default -> throw new IllegalArgumentException("impl: " + impl + " (expected: LOCK_FREE|STRIPED_LOCK)");
        };
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
        List<String> valid = state.getCouponCodesByObservationCount(2);
        double querySeconds = (System.nanoTime() - q0) / 1e9;

        long size = state.size();
        long retained = heapAfter - heapBefore;
        System.out.printf("state allocation (pre-sized for %,d): %.2f s%n", expectedCodes, allocSeconds);
        System.out.printf("ingest: %,d observations, %,d distinct codes in %.2f s = %.1f M obs/s "
                        + "(generation inside it: ~%.2f s, so ~%.2f s net)%n", observations, size, ingestSeconds,
                observations / ingestSeconds / 1e6, genSeconds, Math.max(0, ingestSeconds - genSeconds));
        System.out.printf("heap used after GC: %s (state: %s, %.2f bytes/code)%n", Heap.mb(heapAfter),
                Heap.mb(retained), (double) retained / size);
        System.out.printf("valid codes (%.2f s to list): %s%n", querySeconds, new TreeSet<>(valid));
        boolean ok = valid.size() == EXPECTED_VALID.size() && EXPECTED_VALID.containsAll(valid);
        System.out.println(ok ? "RESULT OK: exactly the eight expected valid codes"
                : "RESULT FAIL: expected exactly " + new TreeSet<>(EXPECTED_VALID));
        if (!ok) {
            System.exit(1);
        }
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
        for (long j = from; j < to; j++) {
            code(buf, length, space, b, j);
            state.addObservation(buf, 0, length, sourceId);
            if ((j & DUP_MASK) == 0) {
                state.addObservation(buf, 0, length, sourceId); // a duplicate inside the source
            }
        }
    }
}
