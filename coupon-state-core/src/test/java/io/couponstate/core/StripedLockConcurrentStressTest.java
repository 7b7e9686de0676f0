package io.couponstate.core;

class StripedLockConcurrentStressTest extends ConcurrentStressTest {

    @Override
    AbstractCouponState create(CouponStateConfig config) {
        return new StripedLockCouponState(config);
    }
}
