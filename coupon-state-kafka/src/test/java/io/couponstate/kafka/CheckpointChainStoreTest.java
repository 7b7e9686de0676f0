package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.core.internal.DurableFiles;
import io.couponstate.kafka.internal.checkpoint.ChainRestore;
import io.couponstate.kafka.internal.checkpoint.CheckpointDirectory;
import io.couponstate.kafka.internal.checkpoint.CheckpointFormat;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoint chains in a {@link CouponCheckpoints}: deltas restore exactly, a damaged delta ends the chain at the last
 * good file, bases roll over at the fraction and on a journal overflow, and retention keeps exactly the files a
 * restore needs. Random codes from a seeded {@link SplittableRandom}: {@code -Dcouponstate.seed}.
 */
class CheckpointChainStoreTest {

    private static final long SEED = Long.getLong("couponstate.seed", System.nanoTime());
    private static final List<String> SOURCES = List.of("couponbase1", "couponbase2", "couponbase3");

    @TempDir
    Path dir;

    /** Where every store of this test stops between a file's fsync and its rename; a test sets it. */
    private final AtomicReference<DurableFiles.BeforeRename> hook =
            new AtomicReference<>(DurableFiles.BeforeRename.NONE);
    /** The time each checkpoint records, for the golden files. */
    private final AtomicLong wallClock = new AtomicLong(1);

    private CouponCheckpoints open(Path directory) throws IOException {
        return open(directory, CouponCheckpoints.Options.defaults());
    }

    private CouponCheckpoints open(Path directory, CouponCheckpoints.Options options) throws IOException {
        return CouponCheckpoints.open(directory, options, (tmp, target) -> hook.get().fsyncedBeforeRename(tmp, target),
                wallClock::get);
    }

    private final SplittableRandom random = new SplittableRandom(SEED);

    @BeforeAll
    static void printSeed() {
        System.out.println("CheckpointChainStoreTest seed: " + SEED + " (-Dcouponstate.seed=" + SEED + ")");
    }

    private static CouponStateConfig journal(int capacity) {
        return CouponStateConfig.builder().changeJournalCapacity(capacity).build();
    }

    private static Map<TopicPartition, Long> offsets(long at) {
        Map<TopicPartition, Long> m = new LinkedHashMap<>();
        m.put(new TopicPartition("couponbase1", 0), at);
        m.put(new TopicPartition("couponbase2", 0), at * 2);
        return m;
    }

    private static Map<String, Uuid> ids() {
        return Map.of("couponbase1", new Uuid(1, 2), "couponbase2", new Uuid(3, 4));
    }

    /** Adds {@code n} random observations of codes {@code C0000000..} below {@code range}. */
    private void observe(CouponState state, int n, int range) {
        for (int i = 0; i < n; i++) {
            state.addObservation(code(random.nextInt(range)), SOURCES.get(random.nextInt(SOURCES.size())));
        }
    }

    private static String code(int i) {
        return String.format("C%07d", i);
    }

    private static Map<String, Set<String>> contents(CouponState state) {
        Map<String, Set<String>> m = new HashMap<>();
        state.forEachCouponCode(1, code -> m.put(code, state.getObservations(code)));
        return m;
    }

    private List<String> names(String suffix) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(suffix))
                    .collect(Collectors.toCollection(TreeSet::new)).stream().collect(Collectors.toList());
        }
    }

    private static String name(long sequence) {
        return String.format("checkpoint-%020d.ckpt", sequence);
    }

    @Test
    void deltas_restoreExactly_theRestoredStateContinuesTheChain_andOnlyTheChainIsKept() throws IOException {
        StripedLockCouponState state = new StripedLockCouponState(journal(1 << 16));
        try (CouponCheckpoints store = open(dir)) {
            observe(state, 5_000, 20_000);
            assertThat(CheckpointFormat.decode(store.write(state, offsets(1), ids()).file()).isDelta()).isFalse();
            for (int i = 2; i <= 4; i++) {
                observe(state, 300, 20_000);
                assertThat(CheckpointFormat.decode(store.write(state, offsets(i), ids()).file()).isDelta()).as("checkpoint " + i)
                        .isTrue();
            }
        }
        assertThat(names(".ckpt")).containsExactly(name(1), name(2), name(3), name(4));

        StripedLockCouponState restored = new StripedLockCouponState(journal(1 << 16));
        try (CouponCheckpoints store = open(dir)) {
            CouponCheckpoints.Restored r = store.restoreCheckpoint(restored).orElseThrow();
            assertThat(r.sequence()).isEqualTo(4);
            assertThat(r.offsets()).isEqualTo(offsets(4));
            assertThat(r.files()).extracting(p -> p.getFileName().toString())
                    .containsExactly(name(1), name(2), name(3), name(4));
            assertThat(store.fellBack()).isFalse();
            assertThat(contents(restored)).isEqualTo(contents(state));

            observe(restored, 300, 20_000);
            Path next = store.write(restored, offsets(5), ids()).file();
            assertThat(CheckpointFormat.decode(next).isDelta()).as("the restored state continues the chain").isTrue();
        }
        StripedLockCouponState again = new StripedLockCouponState(journal(1 << 16));
        try (CouponCheckpoints store = open(dir)) {
            assertThat(store.restoreCheckpoint(again).orElseThrow().sequence()).isEqualTo(5);
        }
        assertThat(contents(again)).isEqualTo(contents(restored));
    }

    @Test
    void aDamagedDelta_endsTheChainAtTheLastGoodOne_andNoLaterDeltaIsApplied() throws IOException {
        StripedLockCouponState state = new StripedLockCouponState(journal(1 << 16));
        Map<String, Set<String>> atTwo;
        try (CouponCheckpoints store = open(dir)) {
            observe(state, 2_000, 10_000);
            store.write(state, offsets(1), ids());
            observe(state, 200, 10_000);
            store.write(state, offsets(2), ids());
            atTwo = contents(state);
            state.addObservation("ONLYIN3X", "couponbase1");
            store.write(state, offsets(3), ids());
            state.addObservation("ONLYIN4X", "couponbase2");
            store.write(state, offsets(4), ids());
        }
        Path third = dir.resolve(name(3));
        byte[] bytes = Files.readAllBytes(third);
        bytes[bytes.length - 6] ^= 0x55; // inside the delta's trailer
        Files.write(third, bytes);

        StripedLockCouponState restored = new StripedLockCouponState(journal(1 << 16));
        try (CouponCheckpoints store = open(dir)) {
            CouponCheckpoints.Restored r = store.restoreCheckpoint(restored).orElseThrow();
            assertThat(r.sequence()).isEqualTo(2);
            assertThat(r.offsets()).as("the last good file positions the replay").isEqualTo(offsets(2));
            assertThat(store.fellBack()).isTrue();
            assertThat(restored.getObservations("ONLYIN4X")).as("a delta after a damaged one").isEmpty();
            Map<String, Set<String>> got = contents(restored);
            got.remove("ONLYIN3X"); // its block may have passed its checksum before the trailer failed: genuine
            assertThat(got).isEqualTo(atTwo);
            assertThat(names(".ckpt")).containsExactly(name(1), name(2));
            assertThat(names(".corrupt")).containsExactly(name(3) + ".corrupt", name(4) + ".corrupt");

            Path next = store.write(restored, offsets(5), ids()).file();
            assertThat(CheckpointFormat.decode(next).isDelta()).as("after a broken chain the next checkpoint is a base")
                    .isFalse();
            assertThat(names(".ckpt")).containsExactly(name(5));
        }
    }

    @Test
    void aNewBase_isWrittenWhenTheDeltasExceedTheFraction() throws IOException {
        StripedLockCouponState state = new StripedLockCouponState(journal(1 << 16));
        try (CouponCheckpoints store = open(dir, CouponCheckpoints.Options.defaults().baseRolloverFraction(0.1))) {
            observe(state, 10_000, 1_000_000);
            store.write(state, offsets(1), ids());
            long base = Files.size(dir.resolve(name(1)));
            observe(state, 400, 1_000_000); // about 4 % of the base
            assertThat(CheckpointFormat.decode(store.write(state, offsets(2), ids()).file()).isDelta()).isTrue();
            observe(state, 800, 1_000_000); // 12 % in all, but the decision looks at the deltas written so far
            assertThat(CheckpointFormat.decode(store.write(state, offsets(3), ids()).file()).isDelta()).isTrue();
            long deltas = Files.size(dir.resolve(name(2))) + Files.size(dir.resolve(name(3)));
            assertThat(deltas).as("deltas past a tenth of the base").isGreaterThan(base / 10);
            observe(state, 10, 1_000_000);
            assertThat(CheckpointFormat.decode(store.write(state, offsets(4), ids()).file()).isDelta()).as("rolled over").isFalse();
            assertThat(names(".ckpt")).as("the old chain is deleted once the new base is durable")
                    .containsExactly(name(4));
            observe(state, 10, 1_000_000);
            assertThat(CheckpointFormat.decode(store.write(state, offsets(5), ids()).file()).isDelta()).isTrue();
            assertThat(names(".ckpt")).containsExactly(name(4), name(5));
        }
        StripedLockCouponState restored = new StripedLockCouponState(journal(1 << 16));
        try (CouponCheckpoints store = open(dir)) {
            assertThat(store.restoreCheckpoint(restored).orElseThrow().sequence()).isEqualTo(5);
        }
        assertThat(contents(restored)).isEqualTo(contents(state));
    }

    @Test
    void aNewBase_isWrittenWhenTheJournalOverflowed() throws IOException {
        StripedLockCouponState state = new StripedLockCouponState(journal(64));
        try (CouponCheckpoints store = open(dir)) {
            observe(state, 1_000, 100_000);
            store.write(state, offsets(1), ids());
            observe(state, 10, 100_000);
            assertThat(CheckpointFormat.decode(store.write(state, offsets(2), ids()).file()).isDelta()).isTrue();
            observe(state, 1_000, 100_000); // far past 64 changes
            assertThat(CheckpointFormat.decode(store.write(state, offsets(3), ids()).file()).isDelta()).as("overflowed").isFalse();
            assertThat(names(".ckpt")).containsExactly(name(3));
        }
        StripedLockCouponState restored = new StripedLockCouponState(journal(64));
        try (CouponCheckpoints store = open(dir)) {
            assertThat(store.restoreCheckpoint(restored).orElseThrow().sequence()).isEqualTo(3);
        }
        assertThat(contents(restored)).isEqualTo(contents(state));
    }

    @Test
    void withoutAJournal_everyCheckpointIsABase_andTheNewestTwoAreKept() throws IOException {
        StripedLockCouponState state = new StripedLockCouponState();
        try (CouponCheckpoints store = open(dir)) {
            for (int i = 1; i <= 4; i++) {
                observe(state, 100, 10_000);
                assertThat(CheckpointFormat.decode(store.write(state, offsets(i), ids()).file()).isDelta()).isFalse();
            }
        }
        assertThat(names(".ckpt")).containsExactly(name(3), name(4));
    }

    @Test
    void aDeltaCrashedBetweenFsyncAndRename_isIgnored_andTheChainBeforeItRestores() throws IOException {
        StripedLockCouponState state = new StripedLockCouponState(journal(1 << 16));
        Map<String, Set<String>> atTwo;
        try (CouponCheckpoints store = open(dir)) {
            observe(state, 1_000, 10_000);
            store.write(state, offsets(1), ids());
            observe(state, 100, 10_000);
            store.write(state, offsets(2), ids());
            atTwo = contents(state);
            state.addObservation("NEVERREN", "couponbase3");
            // a crash right after the fsync: the .tmp stays (copied here, as the write's own cleanup would delete it)
            hook.set((tmp, target) -> {
                try {
                    Files.copy(tmp, dir.resolve(name(3) + ".99999-1.tmp"));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                throw new IllegalStateException("crash");
            });
            try {
                assertThatThrownBy(() -> store.write(state, offsets(3), ids()).file()).hasMessage("crash");
            } finally {
                hook.set(DurableFiles.BeforeRename.NONE);
            }
        }
        assertThat(names(".tmp")).containsExactly(name(3) + ".99999-1.tmp");
        StripedLockCouponState restored = new StripedLockCouponState(journal(1 << 16));
        try (CouponCheckpoints store = open(dir)) {
            CouponCheckpoints.Restored r = store.restoreCheckpoint(restored).orElseThrow();
            assertThat(r.sequence()).isEqualTo(2);
            assertThat(store.fellBack()).isFalse();
            assertThat(names(".tmp")).isEmpty();
            assertThat(contents(restored)).isEqualTo(atTwo);
        }
    }

    @Test
    @Timeout(300) // a hang guard only
    void baseAndDeltas_atTwoMillionCodes_restoreIntoADefaultSizedState() throws IOException {
        int codes = 2_000_000;
        CouponStateConfig config = journal(1 << 20);
        LockFreeCouponState state = new LockFreeCouponState(config);
        for (int i = 0; i < codes; i++) {
            state.addObservation(code(i), SOURCES.get(i % 3));
        }
        try (CouponCheckpoints store = open(dir)) {
            store.write(state, offsets(1), ids());
            for (int i = 0; i < 300_000; i++) {
                state.addObservation(code(codes + i), "couponbase1"); // new codes
                state.addObservation(code(i), SOURCES.get((i + 1) % 3)); // a second source for old ones
            }
            assertThat(CheckpointFormat.decode(store.write(state, offsets(2), ids()).file()).isDelta()).isTrue();
            for (int i = 0; i < 200_000; i++) {
                state.addObservation(code(codes + 300_000 + i), "couponbase2");
            }
            assertThat(CheckpointFormat.decode(store.write(state, offsets(3), ids()).file()).isDelta()).isTrue();
        }
        LockFreeCouponState restored = new LockFreeCouponState(config);
        try (CouponCheckpoints store = open(dir)) {
            CouponCheckpoints.Restored r = store.restoreCheckpoint(restored).orElseThrow();
            assertThat(r.sequence()).isEqualTo(3);
            assertThat(r.files()).hasSize(3);
        }
        assertThat(restored.size()).isEqualTo(state.size()).isEqualTo(codes + 500_000);
        for (int i = 0; i < codes + 500_000; i++) {
            String c = code(i);
            if (restored.observationCount(c) != state.observationCount(c)) {
                throw new AssertionError(c + ": restored " + restored.getObservations(c) + ", state "
                        + state.getObservations(c));
            }
        }
    }

    @Test
    void baseRolloverFraction_isValidated_atTheBuilder() {
        for (double bad : Arrays.asList(0.0, -0.5, Double.NaN, Double.POSITIVE_INFINITY)) {
            assertThatThrownBy(() -> CouponConsumerRunner.builder().baseRolloverFraction(bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("baseRolloverFraction: " + bad + " (expected: finite and > 0)");
        }
        assertThatThrownBy(() -> open(dir, CouponCheckpoints.Options.defaults().baseRolloverFraction(0.0))).isInstanceOf(IllegalArgumentException.class);
    }
}
