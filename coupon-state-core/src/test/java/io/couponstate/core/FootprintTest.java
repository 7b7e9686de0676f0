package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.openjdk.jol.info.GraphLayout;

/**
 * Bytes retained per distinct code, measured with JOL over the whole object graph of a state (tables, registry,
 * counters), at 10M codes of the default format in 3 sources, pre-sized with {@code expectedCodes}.
 */
class FootprintTest {

    static final int CODES = Integer.getInteger("couponstate.footprint.codes", 10_000_000);

    @Test
    void presized_lockFree_retainsAtMost10BytesPerCode() {
        assertThat(bytesPerCode(LockFreeCouponState::new)).isLessThanOrEqualTo(10.0);
    }

    @Test
    void presized_stripedLock_retainsAtMost10BytesPerCode() {
        assertThat(bytesPerCode(StripedLockCouponState::new)).isLessThanOrEqualTo(10.0);
    }

    private static double bytesPerCode(Function<CouponStateConfig, AbstractCouponState> factory) {
        AbstractCouponState state = factory.apply(CouponStateConfig.builder().expectedCodes(CODES).build());
        int[] ids = {state.sourceId("couponbase1"), state.sourceId("couponbase2"), state.sourceId("couponbase3")};
        byte[] code = new byte[8];
        for (int i = 0; i < CODES; i++) {
            LockFreeGrowthStressTest.codeOf(i, code);
            state.addObservation(code, 0, 8, ids[i % 3]);
        }
        assertThat(state.size()).isEqualTo(CODES);
        long bytes = GraphLayout.parseInstance(state).totalSize();
        double perCode = (double) bytes / CODES;
        System.out.printf("%s pre-sized for %,d codes: %,d bytes retained, %.2f bytes per code%n",
                state.getClass().getSimpleName(), CODES, bytes, perCode);
        return perCode;
    }
}
