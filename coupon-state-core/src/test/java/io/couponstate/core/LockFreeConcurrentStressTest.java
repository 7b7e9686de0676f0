package io.couponstate.core;

class LockFreeConcurrentStressTest extends ConcurrentStressTest {

    @Override
    AbstractCouponState create(CouponStateConfig config) {
        return new LockFreeCouponState(config, 2); // two slots: the table grows a dozen times per round
    }
}
