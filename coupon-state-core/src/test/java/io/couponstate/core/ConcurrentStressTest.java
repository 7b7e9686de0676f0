package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Writers on overlapping random codes while a tiny table grows many times, then a comparison with a sequential
 * model: same sources per code, same size, and the threshold crossed by exactly one call (and one listener call) per
 * valid code. Runs rounds for {@code -Dcouponstate.stress.seconds} (3 by default; a soak is one flag away).
 */
abstract class ConcurrentStressTest {

    static final long SECONDS = Long.getLong("couponstate.stress.seconds", 3);
    static final int SOURCES = 4;

    abstract AbstractCouponState create(CouponStateConfig config);

    @Test
    void writersWithOverlap_matchTheSequentialModel() throws Exception {
        long deadline = System.nanoTime() + SECONDS * 1_000_000_000L;
        long baseSeed = Long.getLong("couponstate.stress.seed", System.nanoTime());
        int rounds = 0;
        do {
            long seed = baseSeed + rounds;
            int writers = 2 + rounds % 3;
            int threshold = 1 + rounds % 3;
            runRound(seed, writers, threshold, rounds % 3);
            rounds++;
        } while (System.nanoTime() < deadline);
        System.out.println(getClass().getSimpleName() + ": " + rounds + " rounds from seed " + baseSeed);
    }

    /**
     * One round. Layout 0: packed slots; 1: wide (12-character format); 2: 64 sources (wide masks). Even writers
     * make single calls, odd writers apply the same kind of operations in batches of 1 to 64 entries.
     */
    private void runRound(long seed, int writers, int threshold, int layout) throws Exception {
        boolean wide = layout == 1;
        String context = "seed " + seed + ", writers " + writers + ", threshold " + threshold + ", layout " + layout;
        ConcurrentLinkedQueue<String> listened = new ConcurrentLinkedQueue<>();
        AbstractCouponState state = create(CouponStateConfig.builder()
                .codeLength(8, wide ? 12 : 10) // 11+ characters do not fit a packed slot: two words per slot
                .threshold(threshold).maxSources(layout == 2 ? 64 : SOURCES).validityListener((code, sources) -> listened.add(code)).build());
        SplittableRandom random = new SplittableRandom(seed);
        String[] pool = new String[5_000 + random.nextInt(20_000)];
        for (int i = 0; i < pool.length; i++) {
            pool[i] = CouponStateContractTest.randomCode(random, 8 + random.nextInt(3));
        }
        int opsPerWriter = 20_000 + random.nextInt(30_000);
        int[][] codes = new int[writers][opsPerWriter];
        int[][] sources = new int[writers][opsPerWriter];
        for (int w = 0; w < writers; w++) {
            for (int i = 0; i < opsPerWriter; i++) {
                codes[w][i] = random.nextInt(pool.length);
                sources[w][i] = random.nextInt(SOURCES);
            }
        }
        int[] ids = new int[SOURCES];
        for (int s = 0; s < SOURCES; s++) {
            ids[s] = state.sourceId("source-" + s);
        }
        List<Map<String, Integer>> gainedPerWriter = new ArrayList<>();
        List<List<String>> crossedPerWriter = new ArrayList<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean writing = new AtomicBoolean(true);
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            Map<String, Integer> gained = new HashMap<>();
            List<String> crossed = new ArrayList<>();
            gainedPerWriter.add(gained);
            crossedPerWriter.add(crossed);
            int writer = w;
            threads.add(new Thread(() -> {
                try {
                    start.await();
                    if (writer % 2 == 1) {
                        applyInBatches(state, pool, codes[writer], sources[writer], ids, threshold, gained, crossed,
                                new SplittableRandom(seed + writer));
                        return;
                    }
                    for (int i = 0; i < opsPerWriter; i++) {
                        String code = pool[codes[writer][i]];
                        int result = state.addObservation(code, "source-" + sources[writer][i]);
                        if (result > 0) {
                            gained.merge(code, 1, Integer::sum);
                        }
                        if (result == threshold) {
                            crossed.add(code);
                        }
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            }));
        }
        // a reader: a code's count never goes down, and never exceeds the sources
        threads.add(new Thread(() -> {
            try {
                start.await();
                int[] last = new int[pool.length];
                SplittableRandom r = new SplittableRandom(seed ^ 0x5DEECE66DL);
                while (writing.get()) {
                    int i = r.nextInt(pool.length);
                    int count = state.observationCount(pool[i]);
                    if (count < last[i] || count > SOURCES) {
                        throw new AssertionError(pool[i] + ": count " + count + " after " + last[i] + " (" + context + ")");
                    }
                    last[i] = count;
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        }));
        // a lister: a valid listing never holds a code twice, nor one that is not valid, nor shrinks
        threads.add(new Thread(() -> {
            try {
                start.await();
                long lastCount = 0;
                while (writing.get()) {
                    List<String> listed = state.getCouponCodesByObservationCount(threshold);
                    Set<String> distinct = new HashSet<>(listed);
                    if (distinct.size() != listed.size()) {
                        throw new AssertionError("a code listed twice among " + listed.size() + " (" + context + ")");
                    }
                    for (String code : listed) {
                        if (!state.isValid(code)) {
                            throw new AssertionError(code + " listed as valid but is not (" + context + ")");
                        }
                    }
                    long count = state.validCount();
                    if (count < lastCount || count < listed.size()) { // read after the listing: never fewer
                        throw new AssertionError("validCount " + count + " after " + lastCount + ", listed "
                                + listed.size() + " (" + context + ")");
                    }
                    lastCount = count;
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        }));
        threads.forEach(Thread::start);
        start.countDown();
        for (int i = 0; i < writers; i++) {
            threads.get(i).join();
        }
        writing.set(false);
        threads.get(writers).join();
        threads.get(writers + 1).join();
        assertThat(failure.get()).as(context).isNull();

        Map<String, Set<Integer>> model = new HashMap<>();
        for (int w = 0; w < writers; w++) {
            for (int i = 0; i < opsPerWriter; i++) {
                model.computeIfAbsent(pool[codes[w][i]], c -> new HashSet<>()).add(sources[w][i]);
            }
        }
        assertThat(state.size()).as(context).isEqualTo(model.size());
        Set<String> validInModel = new HashSet<>();
        for (Map.Entry<String, Set<Integer>> e : model.entrySet()) {
            Set<String> expected = new HashSet<>();
            e.getValue().forEach(s -> expected.add("source-" + s));
            assertThat(state.getObservations(e.getKey())).as(context + " " + e.getKey()).isEqualTo(expected);
            int gained = 0;
            for (Map<String, Integer> g : gainedPerWriter) {
                gained += g.getOrDefault(e.getKey(), 0);
            }
            assertThat(gained).as(context + ": calls that added a source to " + e.getKey()).isEqualTo(expected.size());
            if (expected.size() >= threshold) {
                validInModel.add(e.getKey());
            }
        }
        List<String> crossed = new ArrayList<>();
        crossedPerWriter.forEach(crossed::addAll);
        assertThat(crossed).as(context + ": calls returning the threshold").hasSize(validInModel.size());
        assertThat(new HashSet<>(crossed)).as(context).isEqualTo(validInModel);
        assertThat(new ArrayList<>(listened)).as(context + ": listener calls").hasSize(validInModel.size());
        assertThat(new HashSet<>(listened)).as(context).isEqualTo(validInModel);
        assertThat(new HashSet<>(state.getCouponCodesByObservationCount(threshold))).as(context).isEqualTo(validInModel);
        assertThat(state.getCouponCodesByObservationCount(threshold)).as(context).doesNotHaveDuplicates();
        assertThat(state.validCount()).as(context + ": validCount").isEqualTo(validInModel.size());
    }

    /** A writer's operations as batches of random sizes (results checked like single calls by the caller). */
    private static void applyInBatches(AbstractCouponState state, String[] pool, int[] codes, int[] sources, int[] ids,
            int threshold, Map<String, Integer> gained, List<String> crossed, SplittableRandom random) {
        ObservationBatch batch = new ObservationBatch(64);
        byte[][] bytes = new byte[pool.length][];
        int i = 0;
        while (i < codes.length) {
            batch.clear();
            int size = 1 + random.nextInt(64);
            int first = i;
            while (i < codes.length && batch.size() < size) {
                int c = codes[i];
                if (bytes[c] == null) {
                    bytes[c] = pool[c].getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                }
                batch.add(bytes[c], 0, bytes[c].length, ids[sources[i]]);
                i++;
            }
            int added = state.addObservations(batch);
            int counted = 0;
            for (int e = 0; e < batch.size(); e++) {
                int result = batch.result(e);
                String code = pool[codes[first + e]];
                if (result > 0) {
                    gained.merge(code, 1, Integer::sum);
                    counted++;
                }
                if (result == threshold) {
                    crossed.add(code);
                }
            }
            if (added != counted) {
                throw new AssertionError("addObservations returned " + added + ", entries that added: " + counted);
            }
        }
    }
}
