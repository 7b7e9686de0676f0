package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A 2M-code snapshot restored into states of every initial size: a default-sized lock-free state (whose first
 * table is 16 slots), one sized far below the snapshot, and a default striped state. The timeouts are hang guards
 * (a restore that stops helping its own resize degrades to linear probes and never ends), not speed assertions.
 */
class RestoreAtAnySizeTest {

    static final int CODES = Integer.getInteger("couponstate.restore.codes", 2_000_000);

    static Path dir;
    static Path file;
    static AbstractCouponState source;

    @BeforeAll
    static void writeSnapshot() throws IOException {
        dir = Files.createTempDirectory("restore-any-size");
        file = dir.resolve("state.cpst");
        source = new LockFreeCouponState(CouponStateConfig.builder().expectedCodes(CODES).build());
        int[] ids = {source.sourceId("s0"), source.sourceId("s1"), source.sourceId("s2")};
        byte[] code = new byte[8];
        for (int i = 0; i < CODES; i++) {
            int sources = LockFreeGrowthStressTest.sourcesOf(i);
            LockFreeGrowthStressTest.codeOf(i, code);
            for (int s = 0; s < 3; s++) {
                if ((sources & (1 << s)) != 0) {
                    source.addObservation(code, 0, 8, ids[s]);
                }
            }
        }
        assertThat(source.size()).isEqualTo(CODES);
        CouponSnapshots.write(source, file);
    }

    @AfterAll
    static void cleanUp() throws IOException {
        Files.deleteIfExists(file);
        Files.deleteIfExists(dir);
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void restore_intoADefaultSizedLockFreeState() throws IOException {
        restoreAndCompare("default-sized LockFree", LockFreeCouponState::new);
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void restore_intoALockFreeStateSizedFarBelowTheSnapshot() throws IOException {
        restoreAndCompare("LockFree expectedCodes(100_000)",
                () -> new LockFreeCouponState(CouponStateConfig.builder().expectedCodes(100_000).build()));
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void restore_intoADefaultSizedStripedState() throws IOException {
        restoreAndCompare("default-sized Striped", StripedLockCouponState::new);
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void ensureCapacity_whileTwoWritersAdd_losesNothing_onBothImplementations() throws Exception {
        for (Supplier<AbstractCouponState> factory : List.<Supplier<AbstractCouponState>>of(
                () -> new LockFreeCouponState(CouponStateConfig.defaults(), 16), StripedLockCouponState::new)) {
            AbstractCouponState state = factory.get();
            int ids0 = state.sourceId("s0");
            int ids1 = state.sourceId("s1");
            int codes = 300_000;
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> writers = new ArrayList<>();
            for (int w = 0; w < 2; w++) {
                int id = w == 0 ? ids0 : ids1;
                writers.add(new Thread(() -> {
                    byte[] code = new byte[8];
                    try {
                        for (int i = 0; i < codes; i++) {
                            LockFreeGrowthStressTest.codeOf(i, code);
                            state.addObservation(code, 0, 8, id);
                        }
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    }
                }));
            }
            writers.forEach(Thread::start);
            for (long n = 1_000; n <= 4 * codes; n *= 4) {
                state.ensureCapacity(n); // grows past what the writers have reached, while they write
            }
            for (Thread t : writers) {
                t.join();
            }
            assertThat(failure.get()).isNull();
            assertThat(state.size()).as(state.getClass().getSimpleName()).isEqualTo(codes);
            byte[] code = new byte[8];
            for (int i = 0; i < codes; i++) {
                LockFreeGrowthStressTest.codeOf(i, code);
                assertThat(state.observationCount(new String(code, StandardCharsets.US_ASCII))).isEqualTo(2);
            }
        }
    }

    @Test
    void ensureCapacity_growsOnce_toFitTheCodes() {
        LockFreeCouponState lockFree = new LockFreeCouponState();
        lockFree.ensureCapacity(1_000_000);
        long lockFreeCapacity = lockFree.capacity();
        assertThat(lockFreeCapacity).isGreaterThan(1_000_000L);
        assertThat(lockFree.resizing()).isFalse();
        StripedLockCouponState striped = new StripedLockCouponState();
        striped.ensureCapacity(1_000_000);
        long stripedCapacity = striped.capacity();
        assertThat(stripedCapacity).isGreaterThan(1_000_000L);
        long resizes = striped.resizes();
        striped.ensureCapacity(10); // already big enough: nothing happens
        assertThat(striped.resizes()).isEqualTo(resizes);
        byte[] code = new byte[8];
        for (int i = 0; i < 1_000_000; i++) { // the codes it was grown for fit without another resize
            LockFreeGrowthStressTest.codeOf(i, code);
            lockFree.addObservation(code, 0, 8, lockFree.sourceId("a"));
            striped.addObservation(code, 0, 8, striped.sourceId("a"));
        }
        assertThat(lockFree.capacity()).isEqualTo(lockFreeCapacity);
        assertThat(striped.capacity()).isEqualTo(stripedCapacity);
    }

    private static void restoreAndCompare(String what, Supplier<AbstractCouponState> factory) throws IOException {
        AbstractCouponState target = factory.get();
        long start = System.nanoTime();
        long read = CouponSnapshots.read(file, target);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("restore of %,d codes into a %s state: %.2f s%n", read, what, seconds);
        assertThat(read).isEqualTo(CODES);
        assertThat(target.size()).isEqualTo(CODES);
        assertSameContent(source, target);
    }

    /** Every entry of {@code expected} has the same source names in {@code actual}, and the sizes agree. */
    static void assertSameContent(AbstractCouponState expected, AbstractCouponState actual) {
        assertThat(actual.size()).isEqualTo(expected.size());
        assertThat(actual.sourceNames()).isEqualTo(expected.sourceNames());
        long[] mismatches = {0};
        long[] firstBad = {0};
        expected.forEachEntry((key, mask) -> {
            if (actual.mask(key) != mask && mismatches[0]++ == 0) {
                firstBad[0] = key;
            }
        });
        assertThat(mismatches[0]).as("entries that differ, first code number %d", firstBad[0]).isZero();
    }
}
