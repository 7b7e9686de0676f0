package io.couponstate.examples;

import io.couponstate.core.CompactCouponState;
import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.StripedLockCouponState;

/** The state implementation a command uses ({@code --state}). */
enum StateKind {
    /** {@link LockFreeCouponState}: CAS on packed slots, no lock on any path. */
    LOCKFREE,
    /** {@link StripedLockCouponState}: a lock per stripe. */
    STRIPED,
    /** {@link CompactCouponState}: about half the memory per code, a lock per stripe for writers. */
    COMPACT;

    /** A state of this kind with the defaults and room for {@code expectedCodes}. */
    CouponState create(long expectedCodes) {
        return create(CouponStateConfig.builder().expectedCodes(Math.max(1_024, expectedCodes)).build());
    }

    /** A state of this kind with {@code config}. */
    CouponState create(CouponStateConfig config) {
        switch (this) {
            case STRIPED:
                return new StripedLockCouponState(config);
            case COMPACT:
                return new CompactCouponState(config);
            default:
                return new LockFreeCouponState(config);
        }
    }
}
