package io.couponstate.kafka.internal.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.SourceResolver;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class RunnerSettingsTest {

    private static RunnerSettings.Builder valid() {
        return RunnerSettings.builder().bootstrapServers("h:1").topics(List.of("a", "b"))
                .state(new StripedLockCouponState(CouponStateConfig.builder().maxSources(5).build()));
    }

    @Test
    void build_readsTheStatesFormatAndSourceLimit() {
        RunnerSettings s = valid().build();
        assertThat(s.maxSources()).isEqualTo(5);
        assertThat(s.codeFormat()).isNotNull();
        assertThat(valid().state(new LockFreeCouponState()).build().maxSources()).isEqualTo(8);
    }

    @Test
    void declaredSources_areTheTopicsForTheDefaultResolver_elseWhatTheResolverDeclares() {
        assertThat(valid().build().declaredSources()).contains(List.of("a", "b"));
        assertThat(valid().sourceResolver(SourceResolver.header("src", List.of("x", "y", "z"))).build()
                .declaredSources()).get().asList().containsExactly("x", "y", "z");
        assertThat(valid().sourceResolver((r, s) -> 0).build().declaredSources()).isEmpty();
    }

    @Test
    void build_rejectsBadValuesNamingTheRule() {
        assertThatThrownBy(() -> valid().apiTimeout(Duration.ofMillis(-5)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("apiTimeout: PT-0.005S (expected: > 0)");
        assertThatThrownBy(() -> valid().consumerProperty("group.id", "x").build())
                .hasMessageStartingWith("consumerProperty group.id: owned by the runner (");
    }

    @Test
    void defaults_areDocumented() {
        RunnerSettings s = valid().build();
        assertThat(s.pollTimeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(s.apiTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(s.allowMissingTopics()).isFalse();
        assertThat(s.rebuildRecreatedTopics()).isFalse();
        assertThat(s.consumerConfig()).containsEntry("auto.offset.reset", "none");
    }
}
