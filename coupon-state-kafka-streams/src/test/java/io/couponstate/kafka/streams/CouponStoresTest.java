package io.couponstate.kafka.streams;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.CompactCouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.junit.jupiter.api.Test;

/** The builder's checks, the store builder's refusals, and the partitioner's agreement with Kafka's. No broker. */
class CouponStoresTest {

    private static final String ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz";

    @Test
    void builder_refusesBadArguments_namingTheValueAndTheRule() {
        assertThatThrownBy(() -> CouponStores.builder("s", List.of())).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("topics: [] (expected: at least one, none empty)");
        assertThatThrownBy(() -> CouponStores.builder("s", List.of("a", "a")))
                .hasMessage("topics: [a, a] (expected: no topic twice)");
        assertThatThrownBy(() -> CouponStores.builder("", List.of("a")))
                .hasMessage("storeName: empty (expected: a store name)");
        assertThatThrownBy(() -> CouponStores.builder("s", List.of("a")).imageInterval(Duration.ofSeconds(-1)))
                .hasMessage("imageInterval: PT-1S (expected: >= 0)");
        assertThatThrownBy(() -> CouponStores.builder("s", List.of("a")).maxValueBytes(0))
                .hasMessage("maxValueBytes: 0 (expected: >= 1)");
        assertThatThrownBy(() -> CouponQueries.validCodes(null, 0)).hasMessage("limit: 0 (expected: >= 1)");
    }

    @Test
    void stateFactory_choosesEachTasksImplementation_andAStateOfAnotherConfigurationIsRefused() {
        CouponStores compact = CouponStores.builder("coupons", List.of("a", "b"))
                .stateFactory(CompactCouponState::new).build();
        assertThat(compact.settings().newState()).isInstanceOf(CompactCouponState.class);
        assertThat(CouponStores.builder("coupons", List.of("a")).build().settings().newState())
                .isInstanceOf(LockFreeCouponState.class);
        CouponStores wrong = CouponStores.builder("coupons", List.of("a"))
                .stateFactory(c -> new CompactCouponState(CouponStateConfig.builder().threshold(3).build())).build();
        assertThatThrownBy(() -> wrong.settings().newState()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("store coupons: stateFactory returned " + CompactCouponState.class.getName());
    }

    @Test
    void storeBuilder_isAlwaysLogged_andNeverCached() {
        CouponStores stores = CouponStores.builder("coupons", List.of("a", "b")).build();
        var builder = stores.storeBuilder();
        assertThat(builder.loggingEnabled()).isTrue();
        assertThat(builder.name()).isEqualTo("coupons");
        assertThat(builder.withLoggingEnabled(Map.of("min.compaction.lag.ms", "0")).logConfig())
                .containsEntry("min.compaction.lag.ms", "0");
        assertThatThrownBy(builder::withLoggingDisabled).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("the changelog is what a moved task and a standby are rebuilt from");
        assertThatThrownBy(builder::withCachingEnabled).isInstanceOf(UnsupportedOperationException.class);
        assertThat(builder.build().persistent()).isTrue();
        assertThat(stores.processor().stores()).hasSize(1);
    }

    @Test
    void codePartitioner_agreesWithKafkasDefaultPartitionerOverTheUpperCasedCode() {
        long seed = System.nanoTime();
        System.out.println("CouponStoresTest seed " + seed);
        SplittableRandom random = new SplittableRandom(seed);
        var partitioner = CouponStores.codePartitioner();
        for (int i = 0; i < 10_000; i++) {
            StringBuilder code = new StringBuilder();
            int length = 8 + random.nextInt(3);
            for (int j = 0; j < length; j++) {
                code.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
            }
            int partitions = 1 + random.nextInt(64);
            byte[] key = code.toString().toUpperCase(Locale.ROOT).getBytes(StandardCharsets.US_ASCII);
            assertThat(partitioner.partitions("t", code.toString(), null, partitions))
                    .as("seed %d, code %s", seed, code)
                    .isEqualTo(Optional.of(Set.of(BuiltInPartitioner.partitionForKey(key, partitions))));
        }
    }
}
