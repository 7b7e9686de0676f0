package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class CouponStateConfigTest {

    @Test
    void defaults() {
        CouponStateConfig config = CouponStateConfig.defaults();
        assertThat(config.threshold()).isEqualTo(2);
        assertThat(config.maxSources()).isEqualTo(8);
        assertThat(config.codeFormat()).isEqualTo(CodeFormat.DEFAULT);
        assertThat(config.codeFormat().minLength()).isEqualTo(8);
        assertThat(config.codeFormat().maxLength()).isEqualTo(10);
        assertThat(config.codeFormat().caseInsensitive()).isFalse();
        assertThat(config.packed()).isTrue();
    }

    @Test
    void badValues_failAtBuild_namingTheValueAndTheRule() {
        assertThatThrownBy(() -> CouponStateConfig.builder().threshold(0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("threshold: 0 (expected: 1..maxSources");
        assertThatThrownBy(() -> CouponStateConfig.builder().threshold(9).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("threshold: 9");
        assertThatThrownBy(() -> CouponStateConfig.builder().maxSources(0).build())
                .hasMessageContaining("maxSources: 0 (expected: 1..64)");
        assertThatThrownBy(() -> CouponStateConfig.builder().maxSources(65).build())
                .hasMessageContaining("maxSources: 65 (expected: 1..64)");
        assertThatThrownBy(() -> CouponStateConfig.builder().expectedCodes(-1).build())
                .hasMessageContaining("expectedCodes: -1");
        assertThatThrownBy(() -> CouponStateConfig.builder().codeLength(0, 10).build())
                .hasMessageContaining("codeLength min: 0 (expected: 1..12)");
        assertThatThrownBy(() -> CouponStateConfig.builder().codeLength(8, 13).build())
                .hasMessageContaining("codeLength max: 13");
        assertThatThrownBy(() -> CouponStateConfig.builder().codeLength(9, 8).build())
                .hasMessageContaining("codeLength max: 8");
        assertThatThrownBy(() -> CouponStateConfig.builder().validityListener(null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("validityListener");
    }

    @Test
    void layout_isPackedOnlyWhereCodeAndSourcesFitOneWord() {
        assertThat(CouponStateConfig.builder().maxSources(12).build().packed()).isTrue();
        assertThat(CouponStateConfig.builder().maxSources(13).build().packed()).isFalse();
        assertThat(CouponStateConfig.builder().codeLength(8, 11).build().packed()).isFalse();
    }
}
