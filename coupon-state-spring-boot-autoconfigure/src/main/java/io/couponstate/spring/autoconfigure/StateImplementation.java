package io.couponstate.spring.autoconfigure;

import io.couponstate.core.CompactCouponState;
import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.StripedLockCouponState;

/**
 * The {@link CouponState} implementation {@code couponstate.implementation} names. The one place a name becomes a
 * class: a new implementation is a new constant here.
 */
public enum StateImplementation {
    /** {@link LockFreeCouponState}: CAS on packed slots, no lock on any path (the default). */
    LOCK_FREE {
        @Override
        public CouponState create(CouponStateConfig config) {
            return new LockFreeCouponState(config);
        }
    },
    /** {@link StripedLockCouponState}: a lock per stripe over a primitive table. */
    STRIPED {
        @Override
        public CouponState create(CouponStateConfig config) {
            return new StripedLockCouponState(config);
        }
    },
    /** {@link CompactCouponState}: the fewest heap bytes per code (a quotient table), slower writes. */
    COMPACT {
        @Override
        public CouponState create(CouponStateConfig config) {
            return new CompactCouponState(config);
        }
    };

    /**
     * A new, empty state of this implementation.
     *
     * @param config the state's configuration
     * @return the state
     */
    public abstract CouponState create(CouponStateConfig config);
}
