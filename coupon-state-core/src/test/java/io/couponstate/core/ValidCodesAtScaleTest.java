package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * 2M codes of which 8 are valid: the valid listing and {@code validCount} answer from the codes recorded at their
 * crossing, on both implementations and after a restore. The timeout is a hang guard, not a speed assertion.
 */
class ValidCodesAtScaleTest {

    static final int CODES = 2_000_000;
    static final List<String> VALID = List.of("VALID000", "VALID001", "VALID002", "VALID003", "VALID004",
            "VALID005", "VALID006", "VALID007");

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void eightValidAmong2MCodes_areListed_alsoAfterARestore(@TempDir Path dir) throws IOException {
        for (Supplier<AbstractCouponState> factory : List.<Supplier<AbstractCouponState>>of(
                LockFreeCouponState::new, StripedLockCouponState::new)) {
            AbstractCouponState state = factory.get();
            int a = state.sourceId("a");
            byte[] code = new byte[8];
            for (int i = 0; i < CODES; i++) {
                LockFreeGrowthStressTest.codeOf(i, code);
                state.addObservation(code, 0, 8, a);
            }
            for (String valid : VALID) {
                state.addObservation(valid, "a");
                state.addObservation(valid, "b");
            }
            assertValid(state, "written");
            Path file = dir.resolve("state.cpst");
            CouponSnapshots.write(state, file);
            AbstractCouponState restored = factory.get();
            CouponSnapshots.read(file, restored);
            assertValid(restored, "restored");
        }
    }

    private static void assertValid(AbstractCouponState state, String what) {
        long start = System.nanoTime();
        long count = state.validCount();
        List<String> listed = state.getCouponCodesByObservationCount(state.threshold());
        System.out.printf("%s %s: validCount + listing of %d codes among %,d: %.3f ms%n",
                state.getClass().getSimpleName(), what, listed.size(), state.size(), (System.nanoTime() - start) / 1e6);
        assertThat(count).isEqualTo(VALID.size());
        assertThat(listed).containsExactlyInAnyOrderElementsOf(VALID);
        assertThat(state.size()).isEqualTo(CODES + VALID.size());
    }
}
