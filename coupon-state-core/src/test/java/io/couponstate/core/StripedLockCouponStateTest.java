package io.couponstate.core;

class StripedLockCouponStateTest extends CouponStateContractTest {

    @Override
    AbstractCouponState create(CouponStateConfig config) {
        return new StripedLockCouponState(config);
    }

    @Override
    long capacity(AbstractCouponState state) {
        return ((StripedLockCouponState) state).capacity();
    }
}
