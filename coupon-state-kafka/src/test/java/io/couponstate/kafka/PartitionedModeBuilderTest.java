package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The builder's checks for partitioned mode and the mode-independent answers; no broker. */
class PartitionedModeBuilderTest {

    private static CouponConsumerRunner.Builder partitioned() {
        return CouponConsumerRunner.builder()
                .bootstrapServers("127.0.0.1:9")
                .topics(List.of("a", "b"))
                .state(PartitionedCouponState.lockFree(6, CouponStateConfig.defaults()))
                .mode(CouponConsumerRunner.Mode.PARTITIONED)
                .groupId("g");
    }

    @Test
    void replicatedIsTheDefault_andAnswersWithItsOwnEndpoint_andNoShards() {
        try (CouponConsumerRunner r = CouponConsumerRunner.builder().bootstrapServers("127.0.0.1:9")
                .topics(List.of("a")).state(new LockFreeCouponState()).applicationEndpoint("host-1:8080").build()) {
            assertThat(r.mode()).isEqualTo(CouponConsumerRunner.Mode.REPLICATED);
            assertThat(r.applicationEndpoint()).contains("host-1:8080");
            assertThat(r.ownerOf("ANYCODE1")).contains("host-1:8080");
            assertThat(r.shards()).isEmpty();
        }
        try (CouponConsumerRunner r = CouponConsumerRunner.builder().bootstrapServers("127.0.0.1:9")
                .topics(List.of("a")).state(new LockFreeCouponState()).build()) {
            assertThat(r.applicationEndpoint()).isEmpty();
            assertThat(r.ownerOf("ANYCODE1")).isEqualTo(Optional.empty());
        }
    }

    @Test
    void partitionedBuildsWithoutConnecting_andKnowsNoOwnerYet() {
        try (CouponConsumerRunner r = partitioned().applicationEndpoint("[::1]:9000").build()) {
            assertThat(r.mode()).isEqualTo(CouponConsumerRunner.Mode.PARTITIONED);
            assertThat(r.state()).isInstanceOf(PartitionedCouponState.class);
            assertThat(r.shards()).isEmpty();
            assertThat(r.ownerOf("ANYCODE1")).isEmpty();
            assertThat(r.metrics().lag()).isEqualTo(-1);
        }
    }

    @Test
    void partitionedNeedsAPartitionedState() {
        assertThatThrownBy(() -> partitioned().state(new LockFreeCouponState()).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("state:")
                .hasMessageContaining("LockFreeCouponState").hasMessageContaining("PartitionedCouponState");
    }

    @Test
    void partitionedNeedsAGroup() {
        assertThatThrownBy(() -> CouponConsumerRunner.builder().bootstrapServers("127.0.0.1:9")
                .topics(List.of("a")).state(PartitionedCouponState.lockFree(6, CouponStateConfig.defaults()))
                .mode(CouponConsumerRunner.Mode.PARTITIONED).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("groupId")
                .hasMessageContaining("PARTITIONED");
    }

    @Test
    void partitionedNeedsDeclaredSources() {
        assertThatThrownBy(() -> partitioned().sourceResolver((record, state) -> 0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("declares no sources");
        try (CouponConsumerRunner r = partitioned()
                .sourceResolver(SourceResolver.header("source", List.of("s1", "s2"))).build()) {
            assertThat(r.mode()).isEqualTo(CouponConsumerRunner.Mode.PARTITIONED);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"classic", "consumer", "CONSUMER"})
    void partitionedAcceptsBothGroupProtocols(String protocol) {
        try (CouponConsumerRunner r = partitioned().consumerProperty("group.protocol", protocol).build()) {
            assertThat(r.consumerConfig()).containsEntry("group.protocol", protocol);
        }
    }

    @Test
    void partitionedRefusesAnUnknownGroupProtocol_andTheAssignors() {
        assertThatThrownBy(() -> partitioned().consumerProperty("group.protocol", "streams").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("streams")
                .hasMessageContaining("classic or consumer");
        assertThatThrownBy(() -> partitioned().consumerProperty("partition.assignment.strategy", "x").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("range assignor");
        assertThatThrownBy(() -> partitioned().consumerProperty("group.remote.assignor", "uniform").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("range assignor");
    }

    @Test
    void replicatedStillRefusesGroupProtocol() {
        assertThatThrownBy(() -> CouponConsumerRunner.builder().bootstrapServers("127.0.0.1:9")
                .topics(List.of("a")).state(new LockFreeCouponState()).consumerProperty("group.protocol", "consumer")
                .build()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("owned by the runner");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "host", "host:", ":80", "host:0", "host:65536", "host:http", "ho st:80", "::1:80",
        "host:-1"})
    void badEndpoints_areRefusedAtOnce_namingTheValueAndTheRule(String endpoint) {
        assertThatThrownBy(() -> CouponConsumerRunner.builder().applicationEndpoint(endpoint))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("applicationEndpoint: \"" + endpoint + "\"")
                .hasMessageContaining("1..65535");
    }

    @ParameterizedTest
    @ValueSource(strings = {"localhost:1", "10.0.0.7:65535", "[::1]:8080", "coupons-2.svc.cluster.local:8080"})
    void goodEndpoints_areKept(String endpoint) {
        try (CouponConsumerRunner r = partitioned().applicationEndpoint(endpoint).build()) {
            assertThat(r.applicationEndpoint()).contains(endpoint);
        }
    }

    @Test
    void shardStatus_isAValue() {
        ShardStatus s = new ShardStatus(3, true, 0);
        assertThat(s).isEqualTo(new ShardStatus(3, true, 0)).hasSameHashCodeAs(new ShardStatus(3, true, 0));
        assertThat(s.toString()).contains("partition=3", "queryable", "lag=0");
        assertThat(new ShardStatus(1, false, -1).toString()).contains("not queryable", "lag=unknown");
        assertThatThrownBy(() -> new ShardStatus(-1, true, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ShardStatus(0, true, -2)).isInstanceOf(IllegalArgumentException.class);
    }
}
