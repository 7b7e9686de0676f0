package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.ObservationBatch;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Concurrency of {@link PartitionedCouponState} against a sequential model: shards moving while readers run, and
 * writers on several shards. Duration per test: {@code -Dcouponstate.stress.seconds} (default 3).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class PartitionedCouponStateStressTest {

    static final long SECONDS = Long.getLong("couponstate.stress.seconds", 3);
    static final int PARTITIONS = 6;

    @Test
    void shardsAddedAndDroppedWhileReadersRun_readersSeeWholeShardsOrNotOwned() throws Exception {
        long seed = PartitionedCouponStateTest.seed("shardsAddedAndDropped");
        SplittableRandom rnd = new SplittableRandom(seed);
        CouponStateConfig config = CouponStateConfig.builder().maxSources(8).build();
        PartitionedCouponState state = PartitionedCouponState.lockFree(PARTITIONS, config);
        for (int p = 0; p < PARTITIONS; p++) {
            state.addShard(p);
        }
        List<String> sources = List.of("a", "b", "c");
        sources.forEach(state::sourceId);
        // prefill: known codes with known source sets, some valid, in every shard
        List<String> codes = new ArrayList<>();
        Map<String, Set<String>> expected = new HashMap<>();
        for (int i = 0; i < 6_000; i++) {
            String code = PartitionedCouponStateTest.code(rnd, PartitionedCouponStateTest.UPPER);
            Set<String> seen = expected.computeIfAbsent(code, c -> new HashSet<>());
            int n = 1 + rnd.nextInt(3);
            for (int s = 0; s < n; s++) {
                String source = sources.get(rnd.nextInt(3));
                state.addObservation(code, source);
                seen.add(source);
            }
            codes.add(code);
        }
        long[] validPerShard = new long[PARTITIONS];
        List<Set<String>> validCodesPerShard = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) {
            validPerShard[p] = state.shard(p).orElseThrow().validCount();
            validCodesPerShard.add(new HashSet<>(state.shard(p).orElseThrow().getCouponCodesByObservationCount(2)));
        }
        Set<Long> validSums = new HashSet<>(); // shard 0 never moves: always counted
        for (int subset = 0; subset < 1 << (PARTITIONS - 1); subset++) {
            long sum = validPerShard[0];
            for (int p = 1; p < PARTITIONS; p++) {
                sum += (subset & 1 << (p - 1)) != 0 ? validPerShard[p] : 0;
            }
            validSums.add(sum);
        }

        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
        LongAdder reads = new LongAdder();
        LongAdder refusals = new LongAdder();
        AtomicLong moves = new AtomicLong();
        List<String> written = new ArrayList<>(); // the partition-0 writer's codes (one source each: never valid)
        List<Thread> threads = new ArrayList<>();
        threads.add(new Thread(guard(failures, () -> {
            SplittableRandom r = new SplittableRandom(seed + 1);
            CouponState[] held = new CouponState[PARTITIONS];
            int registered = 0;
            do {
                int p = 1 + r.nextInt(PARTITIONS - 1);
                if (held[p] == null) {
                    held[p] = state.dropShard(p);
                } else {
                    state.addShard(p, held[p]);
                    held[p] = null;
                }
                if (registered < 5 && r.nextInt(200) == 0) {
                    state.sourceId("late" + registered++); // registrations interleave with the moves
                }
                moves.incrementAndGet();
            } while (System.nanoTime() < deadline);
            for (int p = 1; p < PARTITIONS; p++) {
                if (held[p] != null) {
                    state.addShard(p, held[p]);
                }
            }
        }), "mover"));
        threads.add(new Thread(guard(failures, () -> {
            SplittableRandom r = new SplittableRandom(seed + 2);
            do {
                String code = PartitionedCouponStateTest.code(r, PartitionedCouponStateTest.UPPER);
                if (state.partitionOf(code) == 0 && !expected.containsKey(code)) {
                    assertThat(state.addObservation(code, "a")).isIn(0, 1);
                    written.add(code);
                }
            } while (System.nanoTime() < deadline);
        }), "writer-p0"));
        for (int t = 0; t < 2; t++) {
            long readerSeed = seed + 10 + t;
            threads.add(new Thread(guard(failures, () -> {
                SplittableRandom r = new SplittableRandom(readerSeed);
                do {
                    String code = codes.get(r.nextInt(codes.size()));
                    int p = state.partitionOf(code);
                    try {
                        if (r.nextBoolean()) {
                            assertThat(state.getObservations(code)).as(code).isEqualTo(expected.get(code));
                        } else {
                            assertThat(state.observationCount(code)).as(code).isEqualTo(expected.get(code).size());
                        }
                        reads.increment();
                    } catch (NotOwnedException e) {
                        assertThat(e.partition()).isEqualTo(p).isNotZero();
                        refusals.increment();
                    }
                    if (r.nextInt(50) == 0) {
                        assertThat(state.validCount()).isIn(validSums);
                        Set<String> listed = new HashSet<>(state.getCouponCodesByObservationCount(2));
                        for (int q = 0; q < PARTITIONS; q++) {
                            Set<String> shardValid = validCodesPerShard.get(q);
                            // whole shards only: all of a shard's valid codes are listed, or none
                            long in = shardValid.stream().filter(listed::contains).count();
                            assertThat(in).as("shard %d", q).isIn(0L, (long) shardValid.size());
                            assertThat(in).isEqualTo(q == 0 ? shardValid.size() : in);
                        }
                    }
                } while (System.nanoTime() < deadline);
            }), "reader-" + t));
        }
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }
        assertThat(failures).isEmpty();
        System.out.printf("shardsAddedAndDropped: %,d moves, %,d reads answered, %,d NotOwned%n", moves.get(),
                reads.sum(), refusals.sum());
        assertThat(reads.sum() + refusals.sum()).isPositive();
        assertThat(state.ownedPartitions()).hasSize(PARTITIONS);
        for (String code : codes) {
            assertThat(state.getObservations(code)).isEqualTo(expected.get(code));
        }
        for (String code : written) {
            assertThat(state.getObservations(code)).containsExactly("a");
        }
        List<String> names = state.sourceNames();
        for (int p = 0; p < PARTITIONS; p++) {
            assertThat(((LockFreeCouponState) state.shard(p).orElseThrow()).sourceNames()).isEqualTo(names);
        }
    }

    @Test
    void writersOnSeveralShards_matchTheModelAndCrossTheThresholdOncePerCode() throws Exception {
        long seed = PartitionedCouponStateTest.seed("writersOnSeveralShards");
        SplittableRandom rnd = new SplittableRandom(seed);
        LongAdder listenerCalls = new LongAdder();
        CouponStateConfig config = CouponStateConfig.builder().threshold(2).maxSources(8)
                .validityListener((code, sources) -> listenerCalls.increment()).build();
        PartitionedCouponState state = PartitionedCouponState.lockFree(PARTITIONS, config);
        for (int p = 0; p < PARTITIONS; p++) {
            state.addShard(p);
        }
        String[] sources = {"a", "b", "c", "d"};
        int[] ids = new int[sources.length];
        for (int s = 0; s < sources.length; s++) {
            ids[s] = state.sourceId(sources[s]);
        }
        List<String> pool = new ArrayList<>();
        Set<String> distinct = new HashSet<>();
        while (pool.size() < 100_000) {
            String code = PartitionedCouponStateTest.code(rnd, PartitionedCouponStateTest.UPPER);
            if (distinct.add(code)) {
                pool.add(code);
            }
        }
        int writers = 3;
        long[][] applied = new long[writers][pool.size()];
        AtomicIntegerArray crossings = new AtomicIntegerArray(pool.size());
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
        LongAdder ops = new LongAdder();
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            int writer = w;
            threads.add(new Thread(guard(failures, () -> {
                SplittableRandom r = new SplittableRandom(seed + 100 + writer);
                ObservationBatch batch = new ObservationBatch(32);
                int[] batchCodes = new int[32];
                long[] mine = applied[writer];
                do {
                    // skewed: low indices are hot (writers race on them), high ones rare (still crossing late)
                    int i = r.nextInt(r.nextInt(pool.size()) + 1);
                    int s = r.nextInt(sources.length);
                    byte[] bytes = pool.get(i).getBytes(StandardCharsets.US_ASCII);
                    int how = r.nextInt(3);
                    if (how == 0) {
                        count(crossings, i, state.addObservation(pool.get(i), sources[s]));
                    } else if (how == 1) {
                        count(crossings, i, state.addObservation(bytes, 0, bytes.length, ids[s]));
                    } else {
                        batchCodes[batch.size()] = i;
                        batch.add(bytes, 0, bytes.length, ids[s]);
                        if (batch.size() == batch.capacity()) {
                            state.addObservations(batch);
                            for (int e = 0; e < batch.size(); e++) {
                                count(crossings, batchCodes[e], batch.result(e));
                            }
                            batch.clear();
                        }
                    }
                    mine[i] |= 1L << ids[s];
                    ops.increment();
                } while (System.nanoTime() < deadline);
                state.addObservations(batch);
                for (int e = 0; e < batch.size(); e++) {
                    count(crossings, batchCodes[e], batch.result(e));
                }
            }), "writer-" + w));
        }
        threads.add(new Thread(guard(failures, () -> {
            SplittableRandom r = new SplittableRandom(seed + 200);
            int[] lastSeen = new int[pool.size()];
            do {
                int i = r.nextInt(pool.size());
                int count = state.observationCount(pool.get(i));
                assertThat(count).as("counts never go down").isGreaterThanOrEqualTo(lastSeen[i]);
                lastSeen[i] = count;
                assertThat(state.validCount()).isLessThanOrEqualTo(state.size());
            } while (System.nanoTime() < deadline);
        }), "reader"));
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join();
        }
        assertThat(failures).isEmpty();
        System.out.printf("writersOnSeveralShards: %,d observations by %d writers%n", ops.sum(), writers);

        Map<String, Long> model = new HashMap<>();
        long validCodes = 0;
        for (int i = 0; i < pool.size(); i++) {
            long mask = 0;
            for (int w = 0; w < writers; w++) {
                mask |= applied[w][i];
            }
            if (mask != 0) {
                model.put(pool.get(i), mask);
            }
            boolean valid = Long.bitCount(mask) >= 2;
            validCodes += valid ? 1 : 0;
            assertThat(crossings.get(i)).as("crossings of %s", pool.get(i)).isEqualTo(valid ? 1 : 0);
        }
        PartitionedCouponStateTest.compare(state, model);
        assertThat(listenerCalls.sum()).isEqualTo(validCodes);
        assertThat(model).isNotEmpty();
        Set<Integer> used = new HashSet<>();
        for (String code : model.keySet()) {
            used.add(state.partitionOf(code));
        }
        System.out.printf("writersOnSeveralShards: codes written in %d of %d shards, %,d valid%n", used.size(),
                PARTITIONS, validCodes);
    }

    private static void count(AtomicIntegerArray crossings, int i, int result) {
        if (result == 2) {
            crossings.incrementAndGet(i);
        }
    }

    private static Runnable guard(ConcurrentLinkedQueue<Throwable> failures, Runnable body) {
        return () -> {
            try {
                body.run();
            } catch (Throwable t) {
                failures.add(t);
            }
        };
    }
}
