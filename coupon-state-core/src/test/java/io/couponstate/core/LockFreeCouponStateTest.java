package io.couponstate.core;

class LockFreeCouponStateTest extends CouponStateContractTest {

    @Override
    AbstractCouponState create(CouponStateConfig config) {
        return new LockFreeCouponState(config);
    }

    @Override
    long capacity(AbstractCouponState state) {
        return ((LockFreeCouponState) state).capacity();
    }
}
