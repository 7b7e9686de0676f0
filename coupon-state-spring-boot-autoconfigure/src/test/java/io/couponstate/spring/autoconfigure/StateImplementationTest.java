package io.couponstate.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.CompactCouponState;
import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.StripedLockCouponState;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Each {@code couponstate.implementation} value makes its class, with the configuration it was given. */
class StateImplementationTest {

    @Test
    void eachValue_makesItsImplementation_ofTheGivenConfiguration() {
        CouponStateConfig config = CouponStateConfig.builder().threshold(3).maxSources(4).build();
        Map<StateImplementation, Class<?>> expected = Map.of(
                StateImplementation.LOCK_FREE, LockFreeCouponState.class,
                StateImplementation.STRIPED, StripedLockCouponState.class,
                StateImplementation.COMPACT, CompactCouponState.class);
        assertThat(expected.keySet()).containsExactlyInAnyOrder(StateImplementation.values());
        expected.forEach((value, type) -> {
            CouponState state = value.create(config);
            assertThat(state).as(value.name()).isInstanceOf(type);
            assertThat(state.threshold()).isEqualTo(3);
            assertThat(state.config().maxSources()).isEqualTo(4);
        });
    }
}
