package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.CompactCouponState;
import io.couponstate.core.CouponSnapshots;
import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.InvalidCouponCodeException;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.ObservationBatch;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.internal.partition.CodePartitioner;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PartitionedCouponStateTest {

    static final String UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static final String MIXED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    @TempDir
    Path dir;

    static long seed(String test) {
        long seed = Long.getLong("couponstate.seed", System.nanoTime());
        System.out.println(test + ": seed " + seed + " (rerun with -Dcouponstate.seed=" + seed + ")");
        return seed;
    }

    static String code(SplittableRandom rnd, String alphabet) {
        int length = 8 + rnd.nextInt(3);
        StringBuilder sb = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            sb.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
        }
        return sb.toString();
    }

    static CouponStateConfig config(boolean caseInsensitive) {
        return CouponStateConfig.builder().caseInsensitive(caseInsensitive).build();
    }

    // ------------------------------------------------------------------------------------------------ the hash

    @Test
    void partitionOf_isTheDefaultPartitionersChoiceForTheUpperCasedKey() {
        SplittableRandom rnd = new SplittableRandom(seed("partitionOf_isTheDefaultPartitionersChoice"));
        for (int n : new int[] {1, 3, 6, 7, 64}) {
            PartitionedCouponState state = PartitionedCouponState.lockFree(n, CouponStateConfig.defaults());
            for (int i = 0; i < 20_000; i++) {
                // any bytes, any length (the tail cases 0..3), at an offset into a larger array
                int length = rnd.nextInt(20);
                byte[] buffer = new byte[length + 8];
                for (int j = 0; j < buffer.length; j++) {
                    buffer[j] = (byte) rnd.nextInt(256);
                }
                int offset = rnd.nextInt(8);
                byte[] key = new byte[length];
                for (int j = 0; j < length; j++) {
                    byte b = buffer[offset + j];
                    key[j] = b >= 'a' && b <= 'z' ? (byte) (b - 32) : b;
                }
                assertThat(CodePartitioner.hash(buffer, offset, length)).isEqualTo(Utils.murmur2(key));
                assertThat(state.partitionOf(buffer, offset, length))
                        .isEqualTo(BuiltInPartitioner.partitionForKey(key, n));
                String code = code(rnd, MIXED);
                byte[] upper = code.toUpperCase(Locale.ROOT).getBytes(StandardCharsets.US_ASCII);
                assertThat(state.partitionOf(code)).isEqualTo(BuiltInPartitioner.partitionForKey(upper, n))
                        .isEqualTo(state.partitionOf(code.getBytes(StandardCharsets.US_ASCII), 0, code.length()))
                        .isEqualTo(state.partitionOf(code.toLowerCase(Locale.ROOT)));
            }
            String nonAscii = "CAFÉ1234";
            assertThat(state.partitionOf(nonAscii)).isEqualTo(
                    BuiltInPartitioner.partitionForKey(nonAscii.getBytes(StandardCharsets.UTF_8), n));
        }
    }

    @Test
    void thePublishersPartition_andTheStates_areKafkasDefaultPartitioningOfTheKey_forManyRandomCodes() {
        SplittableRandom rnd = new SplittableRandom(seed("thePublishersPartition_andTheStates"));
        for (int n : new int[] {1, 2, 3, 6, 7, 12, 64, 1000}) {
            PartitionedCouponState state = PartitionedCouponState.lockFree(n, CouponStateConfig.defaults());
            for (int i = 0; i < 20_000; i++) {
                String code = code(rnd, MIXED);
                byte[] bytes = code.getBytes(StandardCharsets.US_ASCII);
                byte[] key = CouponFilePublisher.canonicalKey(bytes);
                // what the producer's default partitioner did with the publisher's keyed record
                int kafka = Utils.toPositive(Utils.murmur2(key)) % n;
                assertThat(CouponFilePublisher.partitionOf(bytes, n)).as("%s on %d partitions", code, n)
                        .isEqualTo(kafka).isEqualTo(BuiltInPartitioner.partitionForKey(key, n))
                        .isEqualTo(state.partitionOf(code)).isEqualTo(state.partitionOf(bytes, 0, bytes.length));
            }
        }
    }

    @Test
    void publisherKey_isTheUpperCasedCodeAndTheSameArrayWhenAlreadyCanonical() {
        byte[] upper = "BIRTHDAY1".getBytes(StandardCharsets.US_ASCII);
        assertThat(CouponFilePublisher.canonicalKey(upper)).isSameAs(upper);
        byte[] mixed = "Birthday1".getBytes(StandardCharsets.US_ASCII);
        assertThat(new String(CouponFilePublisher.canonicalKey(mixed), StandardCharsets.US_ASCII))
                .isEqualTo("BIRTHDAY1");
        assertThat(new String(mixed, StandardCharsets.US_ASCII)).isEqualTo("Birthday1"); // the value is untouched
    }

    // ------------------------------------------------------------------------------------------------ ownership

    @Test
    void ownership_readsAndWritesOfUnownedCodesThrowNotOwnedWithThePartition() {
        SplittableRandom rnd = new SplittableRandom(seed("ownership"));
        PartitionedCouponState state = PartitionedCouponState.lockFree(6, CouponStateConfig.defaults());
        assertThat(state.ownedPartitions()).isEmpty();
        CouponState zero = state.addShard(0);
        state.addShard(2);
        state.addShard(4);
        assertThat(state.ownedPartitions()).containsExactly(0, 2, 4);
        assertThat(state.shard(0)).containsSame(zero);
        assertThat(state.shard(1)).isEmpty();
        int source = state.sourceId("s1");
        Set<String> ownedCodes = new HashSet<>();
        int unowned = 0;
        for (int i = 0; i < 2_000; i++) {
            String code = code(rnd, UPPER);
            int p = state.partitionOf(code);
            if (p % 2 == 0) {
                ownedCodes.add(code);
                assertThat(state.isOwned(code)).isTrue();
                state.addObservation(code, "s1");
                assertThat(state.observationCount(code)).isEqualTo(1);
                assertThat(state.getObservations(code)).containsExactly("s1");
                assertThat(state.isValid(code)).isFalse();
                assertThat(state.shard(p).orElseThrow().observationCount(code)).isEqualTo(1);
            } else {
                unowned++;
                assertThat(state.isOwned(code)).isFalse();
                byte[] bytes = code.getBytes(StandardCharsets.US_ASCII);
                for (Runnable call : List.<Runnable>of(() -> state.observationCount(code),
                        () -> state.getObservations(code), () -> state.isValid(code),
                        () -> state.addObservation(code, "s1"),
                        () -> state.addObservation(bytes, 0, bytes.length, source))) {
                    assertThatThrownBy(call::run).isInstanceOf(NotOwnedException.class)
                            .hasMessageContaining("\"" + code + "\"").hasMessageContaining("partition " + p)
                            .satisfies(e -> assertThat(((NotOwnedException) e).partition()).isEqualTo(p))
                            .satisfies(e -> assertThat(((NotOwnedException) e).code()).isEqualTo(code));
                }
            }
        }
        assertThat(ownedCodes).isNotEmpty();
        assertThat(unowned).isPositive();
        assertThat(state.size()).isEqualTo(ownedCodes.size());
        assertThat(new HashSet<>(state.getCouponCodesByObservationCount(1))).isEqualTo(ownedCodes);
        CouponState dropped = state.dropShard(0);
        assertThat(state.size()).isEqualTo(ownedCodes.size() - dropped.size());
        assertThat(state.isOwned(0)).isFalse();
    }

    @Test
    void malformedCodes_areNotAQuestionOfOwnership() {
        PartitionedCouponState state = PartitionedCouponState.lockFree(6, CouponStateConfig.defaults());
        int source = state.sourceId("s1");
        for (String bad : new String[] {"SHORT", "WAYTOOLONGCODE", "BAD-CODE1", "lowercase1"}) {
            assertThat(state.isOwned(bad)).isFalse();
            assertThat(state.observationCount(bad)).isZero();
            assertThat(state.getObservations(bad)).isEmpty();
            assertThat(state.isValid(bad)).isFalse();
            assertThatThrownBy(() -> state.addObservation(bad, "s1")).isInstanceOf(InvalidCouponCodeException.class)
                    .hasMessageContaining(bad.length() > 10 ? bad.substring(0, 10) : bad);
            byte[] bytes = bad.getBytes(StandardCharsets.US_ASCII);
            assertThatThrownBy(() -> state.addObservation(bytes, 0, bytes.length, source))
                    .isInstanceOf(InvalidCouponCodeException.class);
        }
        assertThat(state.observationCount(null)).isZero();
        assertThat(state.isWellFormed("BIRTHDAY")).isTrue();
        assertThat(state.isWellFormed("birthday")).isFalse();
    }

    @Test
    void notOwnedException_messageEscapesAndCutsTheCode() {
        String code = "\u0001" + "X".repeat(60);
        NotOwnedException e = new NotOwnedException(code, 5);
        assertThat(e).isInstanceOf(IllegalStateException.class);
        assertThat(e.partition()).isEqualTo(5);
        assertThat(e.code()).hasSize(43).endsWith("...");
        assertThat(e.getMessage()).startsWith("coupon code \"\\u0001" + "X".repeat(39) + "...\": partition 5 ");
    }

    @Test
    void addAndDrop_refuseMisuseLoudly() {
        PartitionedCouponState state = PartitionedCouponState.lockFree(3, CouponStateConfig.defaults());
        CouponState one = state.addShard(1);
        assertThatThrownBy(() -> state.addShard(1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("partition 1: its shard is owned already");
        assertThatThrownBy(() -> state.addShard(2, one)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("owned already as partition 1");
        assertThatThrownBy(() -> state.addShard(3)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> state.dropShard(0)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("partition 0: not owned (expected: one of [1])");
        assertThat(state.dropShard(1)).isSameAs(one);
        assertThat(state.ownedPartitions()).isEmpty();
        assertThat(state.addShard(1, one)).isSameAs(one); // a dropped shard may come back
        assertThatThrownBy(() -> new PartitionedCouponState(0, CouponStateConfig.defaults(), p -> null))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("partitions: 0 (expected: >= 1)");
    }

    @Test
    void addShard_refusesAShardThatDisagreesNamingBothValues() {
        PartitionedCouponState state = PartitionedCouponState.lockFree(3, CouponStateConfig.defaults());
        assertThatThrownBy(() -> state.addShard(0, new LockFreeCouponState(
                CouponStateConfig.builder().threshold(3).build())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("partition 0: the shard's threshold 3 differs from this state's 2");
        assertThatThrownBy(() -> state.addShard(0, new StripedLockCouponState(
                CouponStateConfig.builder().codeLength(6, 12).build())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the shard's code format").hasMessageContaining("differs from this state's");
        assertThatThrownBy(() -> state.addShard(0, new LockFreeCouponState(
                CouponStateConfig.builder().maxSources(16).build())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("partition 0: the shard's maxSources 16 differs from this state's 8");
        assertThatThrownBy(() -> state.addShard(0, new PartitionedCouponState(1, CouponStateConfig.defaults(),
                p -> new LockFreeCouponState()))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected: LockFreeCouponState, StripedLockCouponState or CompactCouponState");
        PartitionedCouponState badFactory = new PartitionedCouponState(2, CouponStateConfig.defaults(),
                p -> new LockFreeCouponState(CouponStateConfig.builder().threshold(1).build()));
        assertThatThrownBy(() -> badFactory.addShard(1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("partition 1: the shard's threshold 1 differs from this state's 2");
        assertThat(state.ownedPartitions()).isEmpty();
    }

    // ------------------------------------------------------------------------------------------------ source ids

    @Test
    void sourceIds_meanTheSameInEveryShardWhenShardsComeLater() {
        PartitionedCouponState state = PartitionedCouponState.lockFree(4, CouponStateConfig.defaults());
        assertThat(state.sourceId("b")).isZero(); // before any shard
        state.addShard(2);
        assertThat(state.sourceId("a")).isEqualTo(1);
        CouponState late = state.addShard(0);
        assertThat(((LockFreeCouponState) late).sourceNames()).containsExactly("b", "a");
        assertThat(state.sourceId("c")).isEqualTo(2);
        assertThat(state.sourceId("a")).isEqualTo(1);
        for (int p : state.ownedPartitions()) {
            assertThat(((LockFreeCouponState) state.shard(p).orElseThrow()).sourceNames())
                    .containsExactly("b", "a", "c");
        }
        assertThat(state.sourceNames()).containsExactly("b", "a", "c");
        // ids given by the partitioned state are valid in whichever shard a code lands
        byte[] code = "BIRTHDAY".getBytes(StandardCharsets.US_ASCII);
        int p = state.partitionOf("BIRTHDAY");
        if (!state.isOwned(p)) {
            state.addShard(p);
        }
        assertThat(state.addObservation(code, 0, code.length, state.sourceId("c"))).isEqualTo(1);
        assertThat(state.getObservations("BIRTHDAY")).containsExactly("c");
    }

    @Test
    void sourceIds_overTheLimitChangeNothingAnywhere() {
        PartitionedCouponState state = PartitionedCouponState.lockFree(2,
                CouponStateConfig.builder().maxSources(2).threshold(2).build());
        state.addShard(0);
        state.sourceId("a");
        state.sourceId("b");
        assertThatThrownBy(() -> state.sourceId("c")).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> state.sourceId("x".repeat(CouponSnapshots.MAX_NAME_BYTES + 1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(state.sourceNames()).containsExactly("a", "b");
        CouponState late = state.addShard(1);
        assertThat(((LockFreeCouponState) late).sourceNames()).containsExactly("a", "b");
    }

    @Test
    void restoredShard_withOtherIdsIsRefusedButRemappedWhenRestoredIntoNewShard() throws Exception {
        CouponStateConfig config = CouponStateConfig.builder().changeJournalCapacity(1 << 10).build();
        PartitionedCouponState state = PartitionedCouponState.lockFree(3, config);
        state.sourceId("a");
        state.sourceId("b");
        state.addShard(1);
        // a checkpoint written by a state whose registry has another order and one name more
        LockFreeCouponState elsewhere = new LockFreeCouponState(config);
        elsewhere.addObservation("BIRTHDAY", "z");
        elsewhere.addObservation("BIRTHDAY", "b");
        elsewhere.addObservation("HAPPYHRS", "a");
        Path base = dir.resolve("base");
        CouponSnapshots.writeBase(elsewhere, base);

        assertThatThrownBy(() -> state.addShard(0, elsewhere)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("partition 0: the shard's source id 0 is \"z\" but this state's is \"a\"");
        assertThat(state.ownedPartitions()).containsExactly(1);

        CouponState restored = state.newShard(0);
        CouponSnapshots.readChain(base, List.of(), restored);
        state.addShard(0, restored);
        assertThat(state.sourceNames()).containsExactly("a", "b", "z");
        assertThat(((LockFreeCouponState) state.shard(1).orElseThrow()).sourceNames())
                .containsExactly("a", "b", "z");
        assertThat(restored.getObservations("BIRTHDAY")).containsExactly("b", "z");
        assertThat(restored.getObservations("HAPPYHRS")).containsExactly("a");
        assertThat(restored.validCount()).isEqualTo(1);

        // a shard that has the registered names as a prefix is taken, its extra names registered everywhere
        LockFreeCouponState extended = new LockFreeCouponState(config);
        for (String name : List.of("a", "b", "z", "w")) {
            extended.sourceId(name);
        }
        state.addShard(2, extended);
        assertThat(state.sourceNames()).containsExactly("a", "b", "z", "w");
        assertThat(state.sourceId("w")).isEqualTo(3);
        for (int p = 0; p < 3; p++) {
            assertThat(((LockFreeCouponState) state.shard(p).orElseThrow()).sourceNames())
                    .containsExactly("a", "b", "z", "w");
        }
    }

    // ------------------------------------------------------------------------------------------------ the model

    @ParameterizedTest(name = "{0}, caseInsensitive={1}")
    @CsvSource({"lockFree,false", "lockFree,true", "striped,false", "striped,true", "compact,false", "compact,true"})
    void union_ofShards_equalsASequentialModel(String kind, boolean caseInsensitive) {
        SplittableRandom rnd = new SplittableRandom(seed("union_ofShards_equalsASequentialModel " + kind));
        CouponStateConfig config = CouponStateConfig.builder().caseInsensitive(caseInsensitive).threshold(2)
                .maxSources(8).build();
        PartitionedCouponState state = new PartitionedCouponState(6, config,
                p -> kind.equals("striped") ? new StripedLockCouponState(config)
                        : kind.equals("compact") ? new CompactCouponState(config) : new LockFreeCouponState(config));
        for (int p = 0; p < 6; p++) {
            state.addShard(p);
        }
        String alphabet = caseInsensitive ? MIXED : UPPER;
        List<String> pool = new ArrayList<>();
        for (int i = 0; i < 3_000; i++) {
            pool.add(code(rnd, alphabet));
        }
        pool.add("BAD-CODE");
        pool.add("SHORT");
        List<String> sources = List.of("s0", "s1", "s2", "s3", "s4", "s5");
        Map<String, Long> model = new HashMap<>(); // canonical code -> mask over the partitioned state's ids
        Map<String, Integer> ids = new HashMap<>();
        ObservationBatch batch = new ObservationBatch(64);
        List<String> batchCodes = new ArrayList<>();
        List<Integer> batchIds = new ArrayList<>();
        for (int op = 0; op < 40_000; op++) {
            String code = pool.get(rnd.nextInt(pool.size()));
            String source = sources.get(rnd.nextInt(sources.size()));
            int id = ids.computeIfAbsent(source, state::sourceId);
            assertThat(id).isEqualTo(state.sourceNames().indexOf(source));
            boolean wellFormed = state.isWellFormed(code);
            String canonical = code.toUpperCase(Locale.ROOT);
            int kindOfCall = rnd.nextInt(3);
            if (kindOfCall == 2) {
                batch.add(code.getBytes(StandardCharsets.US_ASCII), 0, code.length(), id);
                batchCodes.add(code);
                batchIds.add(id);
                if (batch.size() == batch.capacity() || rnd.nextInt(20) == 0) {
                    int added = state.addObservations(batch);
                    int expectedAdded = 0;
                    for (int i = 0; i < batch.size(); i++) {
                        String c = batchCodes.get(i);
                        int expected = expect(model, state.isWellFormed(c) ? c.toUpperCase(Locale.ROOT) : null,
                                batchIds.get(i));
                        if (!state.isWellFormed(c)) {
                            assertThat(batch.result(i)).isNegative();
                        } else {
                            assertThat(batch.result(i)).as("entry %d %s", i, c).isEqualTo(expected);
                            expectedAdded += expected > 0 ? 1 : 0;
                        }
                    }
                    assertThat(added).isEqualTo(expectedAdded);
                    batch.clear();
                    batchCodes.clear();
                    batchIds.clear();
                }
                continue;
            }
            if (!wellFormed) {
                assertThatThrownBy(() -> state.addObservation(code, source))
                        .isInstanceOf(InvalidCouponCodeException.class);
                continue;
            }
            int result = kindOfCall == 0 ? state.addObservation(code, source)
                    : state.addObservation(code.getBytes(StandardCharsets.US_ASCII), 0, code.length(), id);
            assertThat(result).as("%s in %s", code, source).isEqualTo(expect(model, canonical, id));
        }
        if (batch.size() > 0) {
            state.addObservations(batch);
            for (int i = 0; i < batch.size(); i++) {
                String c = batchCodes.get(i);
                expect(model, state.isWellFormed(c) ? c.toUpperCase(Locale.ROOT) : null, batchIds.get(i));
            }
        }
        compare(state, model);
    }

    /** Applies (code, id) to the model; what addObservation must return. null code: malformed, nothing. */
    private static int expect(Map<String, Long> model, String canonical, int id) {
        if (canonical == null) {
            return 0;
        }
        long before = model.getOrDefault(canonical, 0L);
        long after = before | 1L << id;
        model.put(canonical, after);
        return after == before ? 0 : Long.bitCount(after);
    }

    static void compare(PartitionedCouponState state, Map<String, Long> model) {
        List<String> names = state.sourceNames();
        assertThat(state.size()).isEqualTo(model.size());
        long valid = model.values().stream().filter(m -> Long.bitCount(m) >= state.threshold()).count();
        assertThat(state.validCount()).isEqualTo(valid);
        for (Map.Entry<String, Long> e : model.entrySet()) {
            Set<String> expected = new LinkedHashSet<>();
            for (int id = 0; id < names.size(); id++) {
                if ((e.getValue() & 1L << id) != 0) {
                    expected.add(names.get(id));
                }
            }
            assertThat(state.getObservations(e.getKey())).as(e.getKey()).containsExactlyElementsOf(expected);
            String lower = e.getKey().toLowerCase(Locale.ROOT);
            if (!lower.equals(e.getKey())) { // an all-digit code has no lower-case spelling
                assertThat(state.getObservations(lower).isEmpty())
                        .isEqualTo(!state.config().codeFormat().caseInsensitive());
            }
            assertThat(state.isValid(e.getKey())).isEqualTo(expected.size() >= state.threshold());
            int p = state.partitionOf(e.getKey());
            assertThat(state.shard(p).orElseThrow().observationCount(e.getKey())).isEqualTo(expected.size());
        }
        for (int min = 1; min <= 4; min++) {
            int m = min;
            Set<String> expected = new HashSet<>();
            model.forEach((code, mask) -> {
                if (Long.bitCount(mask) >= m) {
                    expected.add(code);
                }
            });
            List<String> listed = state.getCouponCodesByObservationCount(min);
            assertThat(listed).hasSize(expected.size());
            assertThat(new HashSet<>(listed)).isEqualTo(expected);
        }
    }

    // ------------------------------------------------------------------------------------------------ checkpoints

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void checkpointChainPerShard_restoredIntoFreshShards_equalsTheOriginal() throws Exception {
        SplittableRandom rnd = new SplittableRandom(seed("checkpointChainPerShard"));
        int partitions = 6;
        int codes = Integer.getInteger("couponstate.restore.codes", 2_000_000);
        CouponStateConfig config = CouponStateConfig.builder().changeJournalCapacity(1 << 20)
                .expectedCodes(codes / partitions + codes / 20).build();
        PartitionedCouponState original = PartitionedCouponState.lockFree(partitions, config);
        for (int p = 0; p < partitions; p++) {
            original.addShard(p);
        }
        int[] sources = {original.sourceId("a"), original.sourceId("b"), original.sourceId("c")};
        ObservationBatch batch = new ObservationBatch(512);
        byte[] code = new byte[10];
        long start = System.nanoTime();
        for (int i = 0; i < codes; i++) {
            int length = 8 + rnd.nextInt(3);
            for (int j = 0; j < length; j++) {
                code[j] = (byte) UPPER.charAt(rnd.nextInt(UPPER.length()));
            }
            // about one code in 50 is seen twice, so some become valid
            int copies = rnd.nextInt(50) == 0 ? 2 : 1;
            for (int c = 0; c < copies; c++) {
                if (!batch.add(code, 0, length, sources[(c + i) % 3])) {
                    original.addObservations(batch);
                    batch.clear();
                    batch.add(code, 0, length, sources[(c + i) % 3]);
                }
            }
        }
        original.addObservations(batch);
        batch.clear();
        System.out.printf("checkpointChainPerShard: %,d codes through PartitionedCouponState.addObservations in "
                + "%.2f s%n", original.size(), (System.nanoTime() - start) / 1e9);
        assertThat(original.size()).isGreaterThanOrEqualTo(codes * 99L / 100);

        Map<Integer, Path> bases = new TreeMap<>();
        for (int p = 0; p < partitions; p++) {
            Path base = dir.resolve("p" + p + ".base");
            CouponSnapshots.writeBase(original.shard(p).orElseThrow(), base);
            bases.put(p, base);
        }
        // changes after the bases go into one delta per shard: new codes and new sources of known codes
        List<String> changed = new ArrayList<>();
        for (int i = 0; i < 5_000; i++) {
            String c = code(rnd, UPPER);
            original.addObservation(c, "d");
            changed.add(c);
        }
        Map<Integer, Path> deltas = new TreeMap<>();
        for (int p = 0; p < partitions; p++) {
            Path delta = dir.resolve("p" + p + ".delta1");
            CouponSnapshots.writeDelta(original.shard(p).orElseThrow(), delta);
            deltas.put(p, delta);
        }

        // the restoring instance registered its sources in another order: the reader remaps by name
        PartitionedCouponState restored = PartitionedCouponState.lockFree(partitions, config);
        restored.sourceId("d");
        restored.sourceId("c");
        start = System.nanoTime();
        for (int p = 0; p < partitions; p++) {
            CouponState shard = restored.newShard(p);
            CouponSnapshots.readChain(bases.get(p), List.of(deltas.get(p)), shard);
            restored.addShard(p, shard);
        }
        System.out.printf("checkpointChainPerShard: restored %,d codes into %d shards in %.2f s%n",
                restored.size(), partitions, (System.nanoTime() - start) / 1e9);

        assertThat(restored.size()).isEqualTo(original.size());
        assertThat(restored.validCount()).isEqualTo(original.validCount()).isPositive();
        assertThat(restored.sourceNames()).containsExactlyInAnyOrder("a", "b", "c", "d");
        for (int p = 0; p < partitions; p++) {
            assertThat(restored.shard(p).orElseThrow().size()).isEqualTo(original.shard(p).orElseThrow().size());
        }
        long[] compared = {0};
        original.forEachCouponCode(1, c -> {
            assertThat(restored.getObservations(c)).isEqualTo(original.getObservations(c));
            compared[0]++;
        });
        assertThat(compared[0]).isEqualTo(original.size());
        for (String c : changed) {
            assertThat(restored.getObservations(c)).contains("d");
        }
        assertThat(new HashSet<>(restored.getCouponCodesByObservationCount(2)))
                .isEqualTo(new HashSet<>(original.getCouponCodesByObservationCount(2)));
    }
}
