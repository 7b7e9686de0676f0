package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.internal.Codes;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Four writers on the byte path while a lock-free table grows from 16 slots to 10M codes
 * ({@code -Dcouponstate.growth.codes}), then a comparison with the model: code {@code i} is a fixed 8-character
 * code (a bijection of {@code i}) seen in a fixed non-empty subset of three sources. Each source bit of a code is
 * written by a different writer, and a sixteenth of the bits twice, so writers meet on the same codes. Writers 1
 * and 3 apply batches of 256, writers 0 and 2 single calls.
 */
class LockFreeGrowthStressTest {

    static final int CODES = Integer.getInteger("couponstate.growth.codes", 10_000_000);
    static final int WRITERS = 4;
    static final long SPACE = 2_821_109_907_456L; // 36^8 codes of 8 characters

    /** The model: code i's sources, a non-empty subset of {0, 1, 2}. */
    static int sourcesOf(int i) {
        return 1 + (int) Long.remainderUnsigned(Codes.mix(i * 31L + 7), 7);
    }

    /** Code i as 8 ASCII characters: (i * A + B) mod 36^8 is a bijection because A shares no factor with 36. */
    static void codeOf(int i, byte[] out) {
        long x = Math.floorMod(i * 1_000_000_007L + 12_345L, SPACE);
        for (int p = 7; p >= 0; p--) {
            int d = (int) (x % 36);
            out[p] = (byte) (d < 10 ? '0' + d : 'A' + d - 10);
            x /= 36;
        }
    }

    @Test
    void fourWriters_whileTheTableGrowsFrom16SlotsTo10MCodes() throws Exception {
        LockFreeCouponState state = new LockFreeCouponState(CouponStateConfig.defaults(), 16);
        assertThat(state.capacity()).isEqualTo(16);
        int[] ids = {state.sourceId("s0"), state.sourceId("s1"), state.sourceId("s2")};
        long[] crossings = new long[WRITERS];
        long[] added = new long[WRITERS];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < WRITERS; w++) {
            int writer = w;
            threads.add(new Thread(() -> {
                byte[] code = new byte[8];
                ObservationBatch batch = new ObservationBatch(256);
                boolean batched = writer % 2 == 1; // writers 1 and 3 apply batches, 0 and 2 single calls
                try {
                    start.await();
                    for (int i = 0; i < CODES; i++) {
                        int sources = sourcesOf(i);
                        boolean duplicate = (Codes.mix(i) & 15) == writer;
                        for (int s = 0; s < 3; s++) {
                            if ((sources & (1 << s)) != 0 && ((i + s) % WRITERS == writer || duplicate)) {
                                codeOf(i, code);
                                if (batched) {
                                    if (!batch.add(code, 0, 8, ids[s])) {
                                        apply(state, batch, added, crossings, writer);
                                        batch.add(code, 0, 8, ids[s]);
                                    }
                                    continue;
                                }
                                int result = state.addObservation(code, 0, 8, ids[s]);
                                if (result > 0) {
                                    added[writer]++;
                                }
                                if (result == 2) {
                                    crossings[writer]++;
                                }
                            }
                        }
                    }
                    apply(state, batch, added, crossings, writer);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            }, "writer-" + w));
        }
        threads.forEach(Thread::start);
        start.countDown();
        for (Thread t : threads) {
            t.join();
        }
        assertThat(failure.get()).isNull();

        long expectedBits = 0;
        long expectedValid = 0;
        for (int i = 0; i < CODES; i++) {
            int n = Integer.bitCount(sourcesOf(i));
            expectedBits += n;
            expectedValid += n >= 2 ? 1 : 0;
        }
        assertThat(state.size()).isEqualTo(CODES);
        assertThat(state.capacity()).isGreaterThan(CODES);
        assertThat(sum(added)).as("calls that added a source").isEqualTo(expectedBits);
        assertThat(sum(crossings)).as("calls that returned the threshold").isEqualTo(expectedValid);
        byte[] code = new byte[8];
        for (int i = 0; i < CODES; i++) {
            codeOf(i, code);
            long key = Codes.encode(code, 0, 8, 8, 10, false);
            long expectedMask = 0;
            for (int s = 0; s < 3; s++) {
                if ((sourcesOf(i) & (1 << s)) != 0) {
                    expectedMask |= 1L << ids[s];
                }
            }
            long mask = state.mask(key);
            if (mask != expectedMask) {
                throw new AssertionError("code " + new String(code) + " (index " + i + "): mask " + mask
                        + ", model " + expectedMask);
            }
        }
        long[] listed = new long[1];
        state.forEachCouponCode(2, c -> listed[0]++);
        assertThat(listed[0]).isEqualTo(expectedValid);
    }

    private static void apply(LockFreeCouponState state, ObservationBatch batch, long[] added, long[] crossings,
            int writer) {
        long n = state.addObservations(batch);
        for (int e = 0; e < batch.size(); e++) {
            int result = batch.result(e);
            added[writer] += result > 0 ? 1 : 0;
            crossings[writer] += result == 2 ? 1 : 0;
        }
        if (n != batch.size() - countZeros(batch)) {
            throw new AssertionError("addObservations returned " + n);
        }
        batch.clear();
    }

    private static int countZeros(ObservationBatch batch) {
        int zeros = 0;
        for (int e = 0; e < batch.size(); e++) {
            zeros += batch.result(e) == 0 ? 1 : 0;
        }
        return zeros;
    }

    private static long sum(long[] values) {
        long s = 0;
        for (long v : values) {
            s += v;
        }
        return s;
    }
}
