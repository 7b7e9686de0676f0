package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.internal.Codes;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The race of a mask becoming full (every source bit set, threshold == maxSources) while the resize mover copies
 * its slot: the crossing must be returned (and the listener called) exactly once per code, and no reader may see a
 * code's count go down. Codes arrive while older ones complete, in a table that starts with two slots, so masks
 * fill up during every one of a dozen resizes per round; half of the writers use batches. Rounds run for
 * {@code -Dcouponstate.stress.seconds} (3 by default) per layout, seeded ({@code -Dcouponstate.stress.seed}).
 */
class LockFreeFullMaskRaceTest {

    @Test
    void packedTwelveSources_crossingOncePerCode_whileResizing() throws Exception {
        runRounds(12);
    }

    /**
     * The race made deterministic: while the mover is between copying the slot of a code that lacks one source and
     * sealing it, the missing source is observed twice and the code read. Were a full slot all ones like a seal,
     * the second observation would take it for a seal and cross again in the next table, whose copy lacks the
     * source, and the read would return that stale copy.
     */
    @Test
    void packedTwelveSources_writerCompletingTheMaskBetweenCopyAndSeal_crossesOnce() {
        completeTheMaskBetweenCopyAndSeal(12, 10);
    }

    @Test
    void wideSixtyFourSources_writerCompletingTheMaskBetweenCopyAndSeal_crossesOnce() {
        completeTheMaskBetweenCopyAndSeal(64, 12);
    }

    @Test
    void wideSixtyFourSources_crossingOncePerCode_whileResizing() throws Exception {
        runRounds(64);
    }

    private static void completeTheMaskBetweenCopyAndSeal(int sources, int maxLength) {
        List<String> fired = new ArrayList<>();
        LockFreeCouponState state = new LockFreeCouponState(CouponStateConfig.builder().maxSources(sources)
                .threshold(sources).codeLength(8, maxLength).validityListener((code, s) -> fired.add(code)).build(), 2);
        int last = sources - 1;
        for (int s = 0; s < last; s++) {
            assertThat(state.addObservation("RACECODE", "s" + s)).isEqualTo(s + 1);
        }
        long target = Codes.encode("RACECODE", 8, maxLength, false);
        int[] inHook = new int[5];
        state.moveHook = k -> {
            if (k == target && inHook[0] == 0) {
                inHook[0] = 1;
                inHook[1] = state.addObservation("RACECODE", "s" + last);
                inHook[2] = state.addObservation("RACECODE", "s" + last);
                inHook[3] = state.observationCount("RACECODE");
                inHook[4] = state.addObservation("RACECODE", "s0");
            }
        };
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < 200 && inHook[0] == 0; i++) {
            state.addObservation(CouponStateContractTest.randomCode(random, 8), "s0"); // grows the table
        }
        state.moveHook = null;
        assertThat(inHook[0]).as("the mover met the code").isEqualTo(1);
        assertThat(inHook[1]).as("the observation completing the mask").isEqualTo(sources);
        assertThat(inHook[2]).as("the same observation again").isZero();
        assertThat(inHook[3]).as("a read right after the crossing").isEqualTo(sources);
        assertThat(inHook[4]).as("an observation of a source already there").isZero();
        assertThat(fired).containsExactly("RACECODE");
        for (int i = 0; i < 2_000; i++) {
            state.addObservation(CouponStateContractTest.randomCode(random, 9), "s1"); // more moves of the full mask
        }
        assertThat(state.observationCount("RACECODE")).isEqualTo(sources);
        assertThat(state.addObservation("RACECODE", "s5")).isZero();
        assertThat(state.getCouponCodesByObservationCount(sources)).containsExactly("RACECODE");
        assertThat(state.size()).isEqualTo(state.getCouponCodesByObservationCount(1).size());
    }

    private static void runRounds(int sources) throws Exception {
        long deadline = System.nanoTime() + ConcurrentStressTest.SECONDS * 1_000_000_000L;
        long baseSeed = Long.getLong("couponstate.stress.seed", System.nanoTime());
        int rounds = 0;
        do {
            runRound(baseSeed + rounds, sources, 2 + rounds % 2);
            rounds++;
        } while (System.nanoTime() < deadline);
        System.out.println("LockFreeFullMaskRaceTest(" + sources + " sources): " + rounds + " rounds from seed "
                + baseSeed);
    }

    private static void runRound(long seed, int sources, int writers) throws Exception {
        String context = "seed " + seed + ", sources " + sources + ", writers " + writers;
        SplittableRandom random = new SplittableRandom(seed);
        int codes = (1_000 + random.nextInt(2_000)) * 12 / Math.max(12, sources); // fewer codes of 64 sources
        AtomicIntegerArray listened = new AtomicIntegerArray(codes);
        byte[][] bytes = new byte[codes][];
        java.util.Map<String, Integer> index = new java.util.HashMap<>();
        for (int i = 0; i < codes; i++) {
            String code;
            do {
                code = CouponStateContractTest.randomCode(random, 8 + random.nextInt(3));
            } while (index.containsKey(code));
            index.put(code, i);
            bytes[i] = code.getBytes(StandardCharsets.US_ASCII);
        }
        LockFreeCouponState state = new LockFreeCouponState(CouponStateConfig.builder().maxSources(sources)
                .threshold(sources).codeLength(8, sources > 12 ? 12 : 10)
                .validityListener((code, s) -> listened.incrementAndGet(index.get(code)))
                .build(), 2);
        int[] ids = new int[sources];
        for (int s = 0; s < sources; s++) {
            ids[s] = state.sourceId("s" + s);
        }
        // every (code, source) once, ordered by the code's index plus a jitter of a few hundred codes, so that new
        // codes keep arriving (and the table keeps growing) while older codes get their last sources
        int ops = codes * sources;
        long[] order = new long[ops];
        for (int i = 0; i < codes; i++) {
            for (int s = 0; s < sources; s++) {
                long position = (long) i * sources + random.nextInt(300 * sources);
                order[i * sources + s] = position << 32 | (long) i * sources + s;
            }
        }
        java.util.Arrays.sort(order);
        int[][] mine = new int[writers][];
        int[] counts = new int[writers];
        for (int w = 0; w < writers; w++) {
            mine[w] = new int[ops];
        }
        for (int k = 0; k < ops; k++) {
            int op = (int) order[k];
            int w = random.nextInt(writers);
            mine[w][counts[w]++] = op;
            if (random.nextInt(2) == 0) { // half of the observations twice, by two writers: they race on one slot
                int other = (w + 1) % writers;
                mine[other][counts[other]++] = op;
            }
        }
        AtomicIntegerArray crossed = new AtomicIntegerArray(codes);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            int writer = w;
            threads.add(new Thread(() -> {
                try {
                    start.await();
                    ObservationBatch batch = new ObservationBatch(16);
                    int[] pending = new int[16];
                    for (int k = 0; k < counts[writer]; k++) {
                        int op = mine[writer][k];
                        int code = op / sources;
                        int source = op % sources;
                        if (writer % 2 == 0) {
                            if (state.addObservation(bytes[code], 0, bytes[code].length, ids[source]) == sources) {
                                crossed.incrementAndGet(code);
                            }
                            continue;
                        }
                        pending[batch.size()] = code;
                        batch.add(bytes[code], 0, bytes[code].length, ids[source]);
                        if (batch.size() == batch.capacity() || k == counts[writer] - 1) {
                            state.addObservations(batch);
                            for (int e = 0; e < batch.size(); e++) {
                                if (batch.result(e) == sources) {
                                    crossed.incrementAndGet(pending[e]);
                                }
                            }
                            batch.clear();
                        }
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            }));
        }
        // a reader: a code's count never goes down (a stale read after a crossing would)
        AtomicReference<Boolean> writing = new AtomicReference<>(true);
        threads.add(new Thread(() -> {
            try {
                start.await();
                int[] last = new int[codes];
                SplittableRandom r = new SplittableRandom(seed ^ 0x5DEECE66DL);
                while (writing.get()) {
                    int i = r.nextInt(codes);
                    long mask = state.mask(Codes.encode(bytes[i], 0, bytes[i].length, 8, 12, false));
                    int count = Long.bitCount(mask);
                    if (count < last[i]) {
                        throw new AssertionError(new String(bytes[i], StandardCharsets.US_ASCII) + ": count " + count
                                + " after " + last[i] + " (" + context + ")");
                    }
                    last[i] = count;
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        }));
        threads.forEach(Thread::start);
        start.countDown();
        for (int w = 0; w < writers; w++) {
            threads.get(w).join();
        }
        writing.set(false);
        threads.get(writers).join();
        assertThat(failure.get()).as(context).isNull();
        assertThat(state.size()).as(context).isEqualTo(codes);
        long full = sources == 64 ? -1L : (1L << sources) - 1;
        for (int i = 0; i < codes; i++) {
            String code = new String(bytes[i], StandardCharsets.US_ASCII);
            assertThat(crossed.get(i)).as(context + ": calls returning the threshold for " + code).isEqualTo(1);
            assertThat(listened.get(i)).as(context + ": listener calls for " + code).isEqualTo(1);
            assertThat(state.mask(Codes.encode(bytes[i], 0, bytes[i].length, 8, 12, false))).as(context + " " + code)
                    .isEqualTo(full);
        }
        assertThat(state.getCouponCodesByObservationCount(sources)).as(context).hasSize(codes);
    }
}
