package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.couponstate.core.internal.Codes;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * {@link CompactCouponState} against a model at millions of codes: exactness (no false positive, no lost source)
 * with quotient collisions forced, reads while inserts relocate entries, and growth from the default size. Seeds are
 * printed; {@code -Dcouponstate.seed} replays one, {@code -Dcouponstate.compact.codes} scales the runs.
 */
class CompactCouponStatePropertyTest {

    static final int CODES = Integer.getInteger("couponstate.compact.codes", 2_000_000);
    /** Codes of the test format (1..8 characters) are the numbers 1..36^8 + ... + 36; the model uses 1..2^41. */
    private static final long SPACE = 1L << 41;
    private static final long MULT = 0x9E3779B97F4A7C15L;
    private static final long MULT_INVERSE = inverse(MULT);
    private static final String[] SOURCES = {"s0", "s1", "s2", "s3", "s4"};

    /** Model code i: a bijection of [0, 2^41) shifted to start at 1, so distinct i give distinct codes. */
    static long keyOf(long i) {
        return 1 + ((i * MULT) & (SPACE - 1));
    }

    /** The i of {@link #keyOf}, or a value >= CODES for a code outside the model's first CODES codes. */
    static long indexOf(long key) {
        return key < 1 || key > SPACE ? Long.MAX_VALUE : ((key - 1) * MULT_INVERSE) & (SPACE - 1);
    }

    private static long inverse(long odd) {
        long x = odd;
        for (int i = 0; i < 5; i++) {
            x *= 2 - odd * x;
        }
        return x;
    }

    private static long seed() {
        long seed = Long.getLong("couponstate.seed", System.nanoTime());
        System.out.println("CompactCouponStatePropertyTest: seed " + seed + " (rerun with -Dcouponstate.seed=" + seed
                + ")");
        return seed;
    }

    private static byte[] bytes(long key) {
        return Codes.decode(key).getBytes(StandardCharsets.US_ASCII);
    }

    private static int add(CompactCouponState state, long key, int source) {
        byte[] code = bytes(key);
        return state.addObservation(code, 0, code.length, source);
    }

    /** Each code's sources: mostly one or two of three, one in eight also some of five (more sets than tags). */
    private static long randomMask(SplittableRandom random) {
        long mask = 1L << random.nextInt(3);
        if (random.nextInt(4) == 0) {
            mask |= 1L << random.nextInt(3);
        }
        if (random.nextInt(8) == 0) {
            mask |= 1L << (3 + random.nextInt(2));
        }
        return mask;
    }

    @Test
    void exact_atMillionsOfCodes_withQuotientCollisionsForced() {
        long seed = seed();
        SplittableRandom random = new SplittableRandom(seed);
        CompactCouponState state = new CompactCouponState(CouponStateConfig.builder().codeLength(1, 8)
                .maxSources(8).expectedCodes(CODES).build());
        for (String source : SOURCES) {
            state.sourceId(source);
        }
        assertThat(state.wideStripes()).as("8-character codes at this size fit int slots").isZero();
        long[] model = new long[CODES];
        for (int i = 0; i < CODES; i++) {
            model[i] = randomMask(random);
        }
        // every (code, source) pair of the model in an order unrelated to the codes, a sixteenth of them twice
        long stepped = 0;
        long step = CODES / 2 + 1 + 2L * random.nextInt(CODES / 4); // odd steps through 5 * CODES are not enough:
        while (gcd(step, 5L * CODES) != 1) { // any step coprime to the count visits every pair once
            step++;
        }
        long[] seen = new long[CODES];
        for (long n = 0; n < 5L * CODES; n++) {
            stepped = (stepped + step) % (5L * CODES);
            int i = (int) (stepped / 5);
            int source = (int) (stepped % 5);
            if ((model[i] & (1L << source)) == 0) {
                continue;
            }
            int repeats = random.nextInt(16) == 0 ? 2 : 1;
            for (int r = 0; r < repeats; r++) {
                boolean fresh = (seen[i] & (1L << source)) == 0;
                seen[i] |= 1L << source;
                int result = add(state, keyOf(i), source);
                if (result != (fresh ? Long.bitCount(seen[i]) : 0)) { // plain checks: millions of them
                    throw new AssertionError("code " + Codes.decode(keyOf(i)) + " source " + source + " returned "
                            + result + " (seed " + seed + ")");
                }
            }
        }
        assertThat(seen).isEqualTo(model);

        // codes whose hash shares a stored quotient with a present code: same q in another bucket, and same q in
        // the bucket of which the present code's home is the second bucket (only the alt bit tells them apart)
        Map<Long, Long> colliders = new HashMap<>();
        int bits = state.hashBitsBelowStripe();
        int checked = 0;
        for (int j = 0; j < CODES / 4; j++) {
            long h = state.mix(keyOf(random.nextInt(CODES)));
            long stripe = h >>> bits;
            long hp = h & ((1L << bits) - 1);
            int buckets = state.buckets((int) stripe);
            long q = hp / buckets;
            int home = (int) (hp - q * buckets);
            int other = random.nextBoolean() ? random.nextInt(buckets)
                    : Math.floorMod(home - CompactCouponState.offset(q, buckets), buckets);
            long colliding = q * buckets + other;
            if (colliding >= 1L << bits) {
                continue;
            }
            long key = state.unmix(stripe << bits | colliding);
            if (key < 1 || Codes.length(key) > 8 || indexOf(key) < CODES || colliders.containsKey(key)) {
                continue; // not a code of the format, or one of the model's
            }
            String code = Codes.decode(key);
            assertThat(state.observationCount(code)).as("absent %s beside a code with its quotient (seed %d)", code,
                    seed).isZero();
            assertThat(state.isValid(code)).isFalse();
            checked++;
            if (random.nextBoolean()) {
                long mask = randomMask(random);
                for (int s = 0; s < SOURCES.length; s++) {
                    if ((mask & (1L << s)) != 0) {
                        add(state, key, s);
                    }
                }
                colliders.put(key, mask);
            }
        }
        assertThat(checked).isGreaterThan(CODES / 8);

        for (int i = 0; i < CODES; i++) {
            if (state.mask(keyOf(i)) != model[i]) {
                throw new AssertionError("code " + Codes.decode(keyOf(i)) + " has mask " + state.mask(keyOf(i))
                        + " (expected " + model[i] + ", seed " + seed + ")");
            }
        }
        for (Map.Entry<Long, Long> e : colliders.entrySet()) {
            assertThat(state.mask(e.getKey())).as("collider %s (seed %d)", Codes.decode(e.getKey()), seed)
                    .isEqualTo(e.getValue());
        }
        assertThat(state.size()).isEqualTo(CODES + colliders.size());
        long[] visited = new long[1];
        state.forEachEntry((key, mask) -> {
            long i = indexOf(key);
            long expected = i < CODES ? model[(int) i] : colliders.getOrDefault(key, -1L);
            if (expected != mask) {
                throw new AssertionError("walk: " + Codes.decode(key) + " mask " + mask + " (expected " + expected
                        + ", seed " + seed + ")");
            }
            visited[0]++;
        });
        assertThat(visited[0]).isEqualTo(state.size());
        System.out.printf("compact exactness: %,d codes, %,d colliders, %,d side entries, %,d relocations%n",
                CODES, colliders.size(), state.sideEntries(), state.relocations());
    }

    /**
     * Twelve sources make up to 4095 source sets, more than the dictionary's 1022 numbers: the rest spill to the side
     * tables, and every code still reads back exactly, also through a walk and a copy into another implementation.
     */
    @Test
    void manySourceSets_spillToTheSideTables_exactly() {
        long seed = seed();
        SplittableRandom random = new SplittableRandom(seed);
        int codes = 200_000;
        CompactCouponState state = new CompactCouponState(CouponStateConfig.builder().codeLength(1, 8)
                .maxSources(12).build());
        for (int s = 0; s < 12; s++) {
            state.sourceId("source-" + s);
        }
        long[] model = new long[codes];
        for (int i = 0; i < codes; i++) {
            model[i] = 1 + random.nextInt(4095);
            for (int s = 0; s < 12; s++) {
                if ((model[i] & (1L << s)) != 0) {
                    add(state, keyOf(i), s);
                }
            }
        }
        StripedLockCouponState copy = new StripedLockCouponState(state.config());
        for (int s = 0; s < 12; s++) {
            copy.sourceId("source-" + s);
        }
        state.forEachEntry(copy::union);
        for (int i = 0; i < codes; i++) {
            if (state.mask(keyOf(i)) != model[i] || copy.mask(keyOf(i)) != model[i]) {
                throw new AssertionError("code " + Codes.decode(keyOf(i)) + ": " + state.mask(keyOf(i)) + ", copied "
                        + copy.mask(keyOf(i)) + " (expected " + model[i] + ", seed " + seed + ")");
            }
        }
        assertThat(copy.size()).isEqualTo(codes);
        assertThat(state.sideEntries()).as("sets beyond the dictionary spill").isPositive();
    }

    private static long gcd(long a, long b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    /**
     * A reader re-reads codes already written while one writer fills a pre-sized table to its limit, where most
     * inserts relocate entries: a code once seen must never read as absent or with fewer sources.
     */
    @Test
    void reads_duringRelocations_neverMissACode() throws Exception {
        long seed = seed();
        int codes = CODES / 4;
        CompactCouponState state = new CompactCouponState(CouponStateConfig.builder().codeLength(1, 8)
                .expectedCodes(codes).build());
        int source = state.sourceId("s0");
        int first = codes / 2;
        for (int i = 0; i < first; i++) {
            add(state, keyOf(i), source);
        }
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long relocationsBefore = state.relocations();
        Thread reader = new Thread(() -> {
            SplittableRandom random = new SplittableRandom(seed);
            try {
                while (writing.get()) {
                    long key = keyOf(random.nextInt(first));
                    if (state.mask(key) != 1L) {
                        throw new AssertionError("code " + Codes.decode(key) + " read as " + state.mask(key)
                                + " during relocations (seed " + seed + ")");
                    }
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        reader.start();
        try {
            for (int i = first; i < codes; i++) { // up to the size it was made for: the fullest stripes relocate
                add(state, keyOf(i), source);
            }
        } finally {
            writing.set(false);
            reader.join();
        }
        assertThat(failure.get()).isNull();
        assertThat(state.relocations() - relocationsBefore).as("inserts relocated entries").isPositive();
        assertThat(state.resizes()).isZero();
    }

    /** Two writers (one single calls, one batches) grow a default-sized state to millions of codes; readers check. */
    @Test
    void growth_fromTheDefaultSize_toMillionsOfCodes_losesNothing() {
        assertTimeoutPreemptively(Duration.ofSeconds(300), () -> { // a hang guard, not a speed assertion
            CompactCouponState state = new CompactCouponState();
            int[] ids = {state.sourceId("a"), state.sourceId("b"), state.sourceId("c")};
            AtomicInteger[] progress = {new AtomicInteger(), new AtomicInteger()};
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread[] writers = new Thread[2];
            for (int w = 0; w < 2; w++) {
                int writer = w;
                writers[w] = new Thread(() -> {
                    try {
                        ObservationBatch batch = new ObservationBatch(256);
                        byte[] code = new byte[8];
                        for (int i = 0; i < CODES; i++) {
                            int sources = LockFreeGrowthStressTest.sourcesOf(i);
                            LockFreeGrowthStressTest.codeOf(i, code);
                            for (int s = 0; s < 3; s++) {
                                // writer 0 writes source 0 and 2, writer 1 source 1 and 2: both meet on source 2
                                if ((sources & (1 << s)) == 0 || (s == 0 && writer == 1) || (s == 1 && writer == 0)) {
                                    continue;
                                }
                                if (writer == 0) {
                                    state.addObservation(code, 0, 8, ids[s]);
                                } else {
                                    batch.add(code, 0, 8, ids[s]);
                                    if (batch.size() == batch.capacity()) {
                                        state.addObservations(batch);
                                        batch.clear();
                                    }
                                }
                            }
                            if (writer == 0 || batch.size() == 0) {
                                progress[writer].set(i);
                            }
                        }
                        state.addObservations(batch);
                        progress[writer].set(CODES);
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    }
                });
                writers[w].start();
            }
            SplittableRandom random = new SplittableRandom(seed());
            byte[] code = new byte[8];
            // at most 100K checks, so that on one core the reader does not take a third of the writers' time
            for (int checks = 0; checks < 100_000 && (writers[0].isAlive() || writers[1].isAlive()); ) {
                int done = Math.min(progress[0].get(), progress[1].get());
                if (done > 0) {
                    checks++;
                    int i = random.nextInt(done);
                    LockFreeGrowthStressTest.codeOf(i, code);
                    String text = new String(code, StandardCharsets.US_ASCII);
                    if (state.observationCount(text) != Integer.bitCount(LockFreeGrowthStressTest.sourcesOf(i))) {
                        throw new AssertionError("code " + text + " read as " + state.observationCount(text)
                                + " while growing");
                    }
                }
            }
            for (Thread writer : writers) {
                writer.join();
            }
            assertThat(failure.get()).isNull();
            assertThat(state.size()).isEqualTo(CODES);
            for (int i = 0; i < CODES; i++) {
                LockFreeGrowthStressTest.codeOf(i, code);
                String text = new String(code, StandardCharsets.US_ASCII);
                if (state.observationCount(text) != Integer.bitCount(LockFreeGrowthStressTest.sourcesOf(i))) {
                    throw new AssertionError("code " + text + " read as " + state.observationCount(text));
                }
            }
            assertThat(state.resizes()).isPositive();
            System.out.printf("compact growth: %,d codes, %,d slots, %,d resizes%n", state.size(), state.capacity(),
                    state.resizes());
        });
    }
}
