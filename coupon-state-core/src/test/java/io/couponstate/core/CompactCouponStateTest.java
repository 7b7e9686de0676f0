package io.couponstate.core;

class CompactCouponStateTest extends CouponStateContractTest {

    @Override
    AbstractCouponState create(CouponStateConfig config) {
        return new CompactCouponState(config);
    }

    @Override
    long capacity(AbstractCouponState state) {
        return ((CompactCouponState) state).capacity();
    }
}
