package io.couponstate.core;

class CompactConcurrentStressTest extends ConcurrentStressTest {

    @Override
    AbstractCouponState create(CouponStateConfig config) {
        return new CompactCouponState(config);
    }
}
