package io.couponstate.kafka.streams;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.CompactCouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.CouponCheckpoints;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.processor.TaskId;
import org.apache.kafka.streams.processor.internals.InternalProcessorContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The builder's checks, the store builder's refusals, a store's failed opening, and the partitioner's agreement with
 * Kafka's. No broker.
 */
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
    void aStoreWhoseRegistrationFails_releasesItsImageDirectory_soTheTaskOpensAgainInThisJvm(@TempDir Path dir)
            throws Exception {
        Path taskDir = Files.createDirectories(dir.resolve("app").resolve("0_0"));
        AtomicBoolean refuse = new AtomicBoolean(true);
        List<String> registered = new ArrayList<>();
        InternalProcessorContext<?, ?> context = (InternalProcessorContext<?, ?>) Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {InternalProcessorContext.class}, (proxy, m, args) ->
                        switch (m.getName()) {
                            case "stateDir" -> taskDir.toFile();
                            case "taskId" -> new TaskId(0, 0);
                            case "register" -> {
                                if (refuse.get()) {
                                    throw new IllegalArgumentException("simulated: store already registered");
                                }
                                registered.add(((StateStore) args[0]).name());
                                yield null;
                            }
                            case "toString" -> "a stub context";
                            default -> throw new UnsupportedOperationException(m.getName());
                        });
        CouponStores stores = CouponStores.builder("coupons", List.of("a")).build();
        CouponStore failed = stores.storeBuilder().build();
        assertThatThrownBy(() -> failed.init(context, failed)).hasMessage("simulated: store already registered");
        assertThat(failed.isOpen()).isFalse();

        // Kafka Streams never closes a store it did not register: the next attempt must find the directory free
        refuse.set(false);
        CouponStore store = stores.storeBuilder().build();
        store.init(context, store);
        assertThat(store.isOpen()).isTrue();
        assertThat(registered).containsExactly("coupons");
        store.close();
        try (CouponCheckpoints free = CouponCheckpoints.open(CouponStore.imageDirectory(taskDir, "coupons",
                "0_0"))) {
            assertThat(free.directory()).isDirectory();
        }
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
