package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The behaviour every {@link CouponState} implementation must have; one small subclass per implementation. */
abstract class CouponStateContractTest {

    abstract AbstractCouponState create(CouponStateConfig config);

    AbstractCouponState create() {
        return create(CouponStateConfig.defaults());
    }

    @Test
    void addObservation_returnsCountAfterANewSourceAndZeroForARepeat() {
        CouponState state = create();
        assertThat(state.addObservation("BIRTHDAY", "couponbase1")).isEqualTo(1);
        assertThat(state.addObservation("BIRTHDAY", "couponbase1")).isZero();
        assertThat(state.addObservation("BIRTHDAY", "couponbase2")).isEqualTo(2);
        assertThat(state.addObservation("BIRTHDAY", "couponbase3")).isEqualTo(3);
        assertThat(state.addObservation("BIRTHDAY", "couponbase2")).isZero();
        assertThat(state.observationCount("BIRTHDAY")).isEqualTo(3);
        assertThat(state.getObservations("BIRTHDAY")).containsExactly("couponbase1", "couponbase2", "couponbase3");
        assertThat(state.size()).isEqualTo(1);
    }

    @Test
    void isValid_atTheDefaultThresholdOfTwo() {
        CouponState state = create();
        assertThat(state.threshold()).isEqualTo(2);
        state.addObservation("HAPPYHRS", "couponbase1");
        assertThat(state.isValid("HAPPYHRS")).isFalse();
        state.addObservation("HAPPYHRS", "couponbase3");
        assertThat(state.isValid("HAPPYHRS")).isTrue();
        assertThat(state.isValid("SUPER100")).isFalse();
    }

    @Test
    void bytePath_andStringPath_agree() {
        CouponState state = create();
        int id = state.sourceId("couponbase2");
        byte[] buffer = "xxOVER9000yy".getBytes(StandardCharsets.US_ASCII);
        assertThat(state.addObservation(buffer, 2, 8, id)).isEqualTo(1);
        assertThat(state.addObservation("OVER9000", "couponbase2")).isZero();
        assertThat(state.getObservations("OVER9000")).containsExactly("couponbase2");
    }

    @Test
    void sourceId_isStableAndDense() {
        CouponState state = create();
        assertThat(state.sourceId("a")).isEqualTo(0);
        assertThat(state.sourceId("b")).isEqualTo(1);
        assertThat(state.sourceId("a")).isEqualTo(0);
    }

    @Test
    void sourceId_pastMaxSources_namesTheLimit() {
        CouponState state = create(CouponStateConfig.builder().maxSources(3).build());
        state.sourceId("s1");
        state.sourceId("s2");
        state.sourceId("s3");
        assertThatThrownBy(() -> state.sourceId("s4"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("maxSources = 3");
        assertThatThrownBy(() -> state.addObservation("BIRTHDAY", "s4")).isInstanceOf(IllegalStateException.class);
        assertThat(state.size()).isZero();
    }

    @Test
    void sourceId_ofANameLongerThanASnapshotHolds_isRefusedWithTheLengthAndTheLimit() throws Exception {
        CouponState state = create();
        String longest = "x".repeat(CouponSnapshots.MAX_NAME_BYTES);
        String accented = "\u00e9".repeat(CouponSnapshots.MAX_NAME_BYTES / 2); // 2 UTF-8 bytes each: exactly 1024
        assertThat(state.sourceId(longest)).isZero();
        assertThat(state.sourceId(accented)).isEqualTo(1);
        assertThatThrownBy(() -> state.sourceId(longest + "x"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1025 UTF-8 bytes (expected: at most 1024");
        assertThatThrownBy(() -> state.sourceId(accented + "\u00e9"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1026 UTF-8 bytes (expected: at most 1024");
        assertThatThrownBy(() -> state.addObservation("BIRTHDAY", "y".repeat(2000)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2000 UTF-8 bytes");
        assertThat(state.size()).isZero();
        state.addObservation("BIRTHDAY", longest);
        state.addObservation("BIRTHDAY", accented);
        // every name a state accepts, a snapshot holds
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        CouponSnapshots.write(state, out);
        CouponState copy = create();
        CouponSnapshots.read(new java.io.ByteArrayInputStream(out.toByteArray()), copy);
        assertThat(copy.getObservations("BIRTHDAY")).containsExactly(longest, accented);
    }

    @Test
    void bytePath_rejectsAnUnregisteredSourceId() {
        CouponState state = create();
        byte[] code = "BIRTHDAY".getBytes(StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> state.addObservation(code, 0, code.length, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sourceId: 0");
    }

    @Test
    void malformedCodes_areRejectedWithTheCodeAndTheRule() {
        CouponState state = create();
        assertThatThrownBy(() -> state.addObservation("happyhrs", "s"))
                .isInstanceOf(InvalidCouponCodeException.class)
                .hasMessageContaining("happyhrs")
                .hasMessageContaining("A-Z or 0-9")
                .extracting(e -> ((InvalidCouponCodeException) e).reason())
                .isEqualTo(InvalidCouponCodeException.Reason.ILLEGAL_CHARACTER);
        assertThatThrownBy(() -> state.addObservation("SHORT", "s"))
                .hasMessageContaining("length 5 (expected: 8..10)")
                .extracting(e -> ((InvalidCouponCodeException) e).reason())
                .isEqualTo(InvalidCouponCodeException.Reason.TOO_SHORT);
        assertThatThrownBy(() -> state.addObservation("ABCDEFGHIJK", "s"))
                .extracting(e -> ((InvalidCouponCodeException) e).reason())
                .isEqualTo(InvalidCouponCodeException.Reason.TOO_LONG);
        assertThatThrownBy(() -> state.addObservation("BIRTHDAé", "s"))
                .extracting(e -> ((InvalidCouponCodeException) e).reason())
                .isEqualTo(InvalidCouponCodeException.Reason.NOT_ASCII);
        String huge = "X".repeat(10_000);
        assertThatThrownBy(() -> state.addObservation(huge, "s"))
                .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(200));
        byte[] bad = {'B', 'I', 'R', (byte) 0xC3, 'H', 'D', 'A', 'Y'};
        int id = state.sourceId("s");
        assertThatThrownBy(() -> state.addObservation(bad, 0, bad.length, id))
                .isInstanceOf(InvalidCouponCodeException.class);
        assertThat(state.size()).isZero();
        assertThat(state.sourceId("s")).isZero();
    }

    @Test
    void nulls_areRejected() {
        CouponState state = create();
        assertThatThrownBy(() -> state.addObservation(null, "s")).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> state.addObservation("BIRTHDAY", null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> state.addObservation(null, 0, 0, 0)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> state.sourceId(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void reads_ofMalformedOrUnknownCodes_neverThrow() {
        CouponState state = create();
        state.addObservation("BIRTHDAY", "s");
        for (CharSequence code : new CharSequence[] {"happyhrs", "", "X", "ÄÖÜ12345", "UNKNOWN1", null}) {
            assertThat(state.isValid(code)).isFalse();
            assertThat(state.observationCount(code)).isZero();
            assertThat(state.getObservations(code)).isEmpty();
        }
        assertThat(state.isWellFormed("happyhrs")).isFalse();
        assertThat(state.isWellFormed("HAPPYHRS")).isTrue();
        assertThat(state.isWellFormed(null)).isFalse();
    }

    @Test
    void caseInsensitive_foldsBeforeAnythingElse() {
        CouponState state = create(CouponStateConfig.builder().caseInsensitive(true).build());
        assertThat(state.addObservation("happyhrs", "a")).isEqualTo(1);
        assertThat(state.addObservation("HAPPYHRS", "a")).isZero();
        assertThat(state.addObservation("HappyHrs", "b")).isEqualTo(2);
        assertThat(state.isValid("happyHRS")).isTrue();
        assertThat(state.getCouponCodesByObservationCount(2)).containsExactly("HAPPYHRS");
    }

    @Test
    void codesDifferingOnlyInLength_areDistinct() {
        CouponState state = create(CouponStateConfig.builder().codeLength(1, 12).build());
        for (String code : List.of("A", "0A", "A0", "AA", "00A", "0", "00")) {
            assertThat(state.addObservation(code, "s")).as(code).isEqualTo(1);
        }
        assertThat(state.size()).isEqualTo(7);
        assertThat(state.getCouponCodesByObservationCount(1)).containsExactlyInAnyOrder(
                "A", "0A", "A0", "AA", "00A", "0", "00");
    }

    @Test
    void twelveCharacterCodes_andSixtyFourSources_useTheWideLayout() {
        CouponState state = create(CouponStateConfig.builder().codeLength(1, 12).maxSources(64).threshold(64).build());
        for (int s = 0; s < 64; s++) {
            assertThat(state.addObservation("ZZZZZZZZZZZZ", "source" + s)).isEqualTo(s + 1);
            assertThat(state.addObservation("000000000000", "source" + s)).isEqualTo(s + 1);
        }
        assertThat(state.addObservation("ZZZZZZZZZZZZ", "source17")).isZero();
        assertThat(state.observationCount("ZZZZZZZZZZZZ")).isEqualTo(64);
        assertThat(state.isValid("ZZZZZZZZZZZZ")).isTrue();
        assertThat(state.getObservations("000000000000")).hasSize(64);
        assertThat(state.getCouponCodesByObservationCount(64)).containsExactlyInAnyOrder("ZZZZZZZZZZZZ", "000000000000");
    }

    @Test
    void twelveSources_fillAPackedMaskCompletely() {
        CouponState state = create(CouponStateConfig.builder().maxSources(12).threshold(12).build());
        for (int s = 0; s < 12; s++) {
            assertThat(state.addObservation("FULLMASK", "s" + s)).isEqualTo(s + 1);
        }
        assertThat(state.addObservation("FULLMASK", "s3")).isZero();
        assertThat(state.observationCount("FULLMASK")).isEqualTo(12);
        assertThat(state.getCouponCodesByObservationCount(12)).containsExactly("FULLMASK");
        // growth must keep a full mask intact
        for (int i = 0; i < 5_000; i++) {
            state.addObservation(String.format("C%07d", i), "s0");
        }
        assertThat(state.observationCount("FULLMASK")).isEqualTo(12);
        assertThat(state.addObservation("FULLMASK", "s11")).isZero();
    }

    @Test
    void listing_filtersByMinSources_andRejectsBelowOne() {
        CouponState state = create();
        state.addObservation("ONESRC01", "a");
        state.addObservation("TWOSRC02", "a");
        state.addObservation("TWOSRC02", "b");
        assertThat(state.getCouponCodesByObservationCount(1)).containsExactlyInAnyOrder("ONESRC01", "TWOSRC02");
        assertThat(state.getCouponCodesByObservationCount(2)).containsExactly("TWOSRC02");
        assertThat(state.getCouponCodesByObservationCount(3)).isEmpty();
        List<String> streamed = new ArrayList<>();
        state.forEachCouponCode(2, streamed::add);
        assertThat(streamed).containsExactly("TWOSRC02");
        assertThatThrownBy(() -> state.getCouponCodesByObservationCount(0))
                .hasMessageContaining("minSources: 0 (expected: >= 1)");
    }

    @Test
    void listener_firesOncePerCode_onTheCrossingCall() {
        List<String> fired = new ArrayList<>();
        Map<String, Set<String>> sources = new HashMap<>();
        CouponState state = create(CouponStateConfig.builder().threshold(2)
                .validityListener((code, s) -> {
                    fired.add(code);
                    sources.put(code, s);
                }).build());
        state.addObservation("GNULINUX", "a");
        assertThat(fired).isEmpty();
        assertThat(state.addObservation("GNULINUX", "b")).isEqualTo(2);
        state.addObservation("GNULINUX", "c");
        state.addObservation("GNULINUX", "b");
        assertThat(fired).containsExactly("GNULINUX");
        assertThat(sources.get("GNULINUX")).contains("a", "b");
    }

    @Test
    void growth_fromEmpty_losesNothing() {
        AbstractCouponState state = create();
        SplittableRandom random = new SplittableRandom(42);
        Map<String, Set<String>> model = new HashMap<>();
        for (int i = 0; i < 200_000; i++) {
            String code = randomCode(random, 8 + random.nextInt(3));
            String source = "s" + random.nextInt(3);
            boolean added = model.computeIfAbsent(code, c -> new HashSet<>()).add(source);
            int result = state.addObservation(code, source);
            assertThat(result).isEqualTo(added ? model.get(code).size() : 0);
        }
        assertThat(state.size()).isEqualTo(model.size());
        for (Map.Entry<String, Set<String>> e : model.entrySet()) {
            assertThat(state.getObservations(e.getKey())).containsExactlyInAnyOrderElementsOf(e.getValue());
        }
        assertThat(new HashSet<>(state.getCouponCodesByObservationCount(1))).isEqualTo(model.keySet());
    }

    @Test
    void expectedCodes_presizesSoThatNoGrowthHappens() {
        AbstractCouponState state = create(CouponStateConfig.builder().expectedCodes(100_000).build());
        long before = capacity(state);
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 100_000; i++) {
            state.addObservation(String.format("%08d", i), "s" + random.nextInt(3));
        }
        assertThat(state.size()).isEqualTo(100_000);
        assertThat(capacity(state)).isEqualTo(before);
        assertThat(before).isLessThan(100_000 * 3 / 2); // at most 12 bytes of table per code
    }

    /** Packed, wide (12 characters) and 64 sources: every layout, each at two thresholds. */
    static List<CouponStateConfig> everyLayout() {
        List<CouponStateConfig> configs = new ArrayList<>();
        for (int threshold : new int[] {1, 2, 3}) {
            configs.add(CouponStateConfig.builder().threshold(threshold).maxSources(4).build());
            configs.add(CouponStateConfig.builder().codeLength(8, 12).threshold(threshold).maxSources(4).build());
            configs.add(CouponStateConfig.builder().codeLength(8, 12).threshold(threshold).maxSources(64).build());
        }
        return configs;
    }

    @Test
    void validCount_andValidListings_equalTheModel_onEveryLayout_alsoAfterRestoreAndUnion() throws Exception {
        long seed = Long.getLong("couponstate.seed", System.nanoTime());
        System.out.println("validCount test: seed " + seed + " (rerun with -Dcouponstate.seed=" + seed + ")");
        SplittableRandom random = new SplittableRandom(seed);
        for (CouponStateConfig config : everyLayout()) {
            String context = "seed " + seed + ", " + config;
            AbstractCouponState state = create(config);
            AbstractCouponState other = create(config);
            Map<String, Set<String>> model = new HashMap<>();
            Map<String, Set<String>> otherModel = new HashMap<>();
            int sources = Math.min(config.maxSources(), 6);
            for (int i = 0; i < 20_000; i++) {
                String code = randomCode(random, 8 + random.nextInt(config.codeFormat().maxLength() - 7));
                String source = "s" + random.nextInt(sources);
                boolean first = random.nextInt(4) != 0;
                (first ? state : other).addObservation(code, source);
                (first ? model : otherModel).computeIfAbsent(code, c -> new HashSet<>()).add(source);
            }
            assertValidEqualsModel(state, model, context);
            // a restore rebuilds the valid codes; a union of another snapshot crosses codes silently
            AbstractCouponState restored = create(config);
            CouponSnapshots.read(new java.io.ByteArrayInputStream(CouponSnapshotsTest.write(state)), restored);
            assertValidEqualsModel(restored, model, context + ", restored");
            CouponSnapshots.read(new java.io.ByteArrayInputStream(CouponSnapshotsTest.write(other)), restored);
            otherModel.forEach((code, s) -> model.computeIfAbsent(code, c -> new HashSet<>()).addAll(s));
            assertValidEqualsModel(restored, model, context + ", after a union");
        }
    }

    static void assertValidEqualsModel(CouponState state, Map<String, Set<String>> model, String context) {
        int threshold = state.threshold();
        for (int min = threshold; min <= threshold + 1; min++) {
            int minSources = min;
            Set<String> expected = new HashSet<>();
            model.forEach((code, sources) -> {
                if (sources.size() >= minSources) {
                    expected.add(code);
                }
            });
            List<String> listed = state.getCouponCodesByObservationCount(minSources);
            assertThat(listed).as(context + ": listed at " + minSources).doesNotHaveDuplicates();
            assertThat(new HashSet<>(listed)).as(context + ": listed at " + minSources).isEqualTo(expected);
            List<String> streamed = new ArrayList<>();
            state.forEachCouponCode(minSources, streamed::add);
            assertThat(streamed).as(context + ": streamed at " + minSources).hasSameSizeAs(listed);
            assertThat(new HashSet<>(streamed)).isEqualTo(expected);
            if (minSources == threshold) {
                assertThat(state.validCount()).as(context + ": validCount").isEqualTo(expected.size());
            }
        }
        if (threshold > 1) { // below the threshold the listing still scans the table
            long below = model.values().stream().filter(s -> s.size() >= threshold - 1).count();
            assertThat(state.getCouponCodesByObservationCount(threshold - 1)).as(context).hasSize((int) below);
        }
    }

    // ---- addObservations (batches) ----

    static ObservationBatch batchOf(int capacity, int sourceId, String... codes) {
        ObservationBatch batch = new ObservationBatch(capacity);
        for (String code : codes) {
            byte[] b = code.getBytes(StandardCharsets.ISO_8859_1);
            assertThat(batch.add(b, 0, b.length, sourceId)).isTrue();
        }
        return batch;
    }

    static int[] results(ObservationBatch batch) {
        int[] out = new int[batch.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = batch.result(i);
        }
        return out;
    }

    @Test
    void addObservations_givesEachEntryWhatASingleCallWouldReturn() {
        CouponState state = create();
        int a = state.sourceId("a");
        int b = state.sourceId("b");
        ObservationBatch batch = new ObservationBatch(8);
        byte[] buffer = "xxBIRTHDAYyyHAPPYHRS".getBytes(StandardCharsets.US_ASCII);
        batch.add(buffer, 2, 8, a);
        batch.add(buffer, 12, 8, a);
        batch.add(buffer, 2, 8, b);
        batch.add(buffer, 2, 8, a);
        assertThat(state.addObservations(batch)).isEqualTo(3);
        assertThat(results(batch)).containsExactly(1, 1, 2, 0);
        assertThat(state.getObservations("BIRTHDAY")).containsExactly("a", "b");
        assertThat(state.getObservations("HAPPYHRS")).containsExactly("a");
        assertThat(state.addObservation("HAPPYHRS", "b")).isEqualTo(2);
        assertThat(state.size()).isEqualTo(2);
    }

    @Test
    void addObservations_copiesTheCodeBytes_soTheCallerMayReuseItsBuffer() {
        CouponState state = create();
        int a = state.sourceId("a");
        ObservationBatch batch = new ObservationBatch(2);
        byte[] buffer = "FIRSTONE".getBytes(StandardCharsets.US_ASCII);
        batch.add(buffer, 0, 8, a);
        System.arraycopy("SECONDTW".getBytes(StandardCharsets.US_ASCII), 0, buffer, 0, 8);
        batch.add(buffer, 0, 8, a);
        assertThat(state.addObservations(batch)).isEqualTo(2);
        assertThat(state.getCouponCodesByObservationCount(1)).containsExactlyInAnyOrder("FIRSTONE", "SECONDTW");
    }

    @Test
    void addObservations_malformedEntries_getTheirReason_andLeaveNeighboursAlone() {
        List<String> fired = new ArrayList<>();
        CouponState state = create(CouponStateConfig.builder().threshold(1)
                .validityListener((code, s) -> fired.add(code)).build());
        int a = state.sourceId("a");
        ObservationBatch batch = new ObservationBatch(16);
        String[] codes = {"GOODONE1", "SHORT", "GOODONE2", "ABCDEFGHIJK", "lowercas", "X".repeat(10_000), "GOODONE1",
            ""};
        for (String code : codes) {
            byte[] bytes = code.getBytes(StandardCharsets.US_ASCII);
            batch.add(bytes, 0, bytes.length, a);
        }
        byte[] notAscii = {'B', 'I', 'R', (byte) 0xC3, 'H', 'D', 'A', 'Y'};
        batch.add(notAscii, 0, notAscii.length, a);
        batch.add("GOODONE3".getBytes(StandardCharsets.US_ASCII), 0, 8, a);
        assertThat(state.addObservations(batch)).isEqualTo(3);
        int tooShort = -1 - InvalidCouponCodeException.Reason.TOO_SHORT.ordinal();
        int tooLong = -1 - InvalidCouponCodeException.Reason.TOO_LONG.ordinal();
        int illegal = -1 - InvalidCouponCodeException.Reason.ILLEGAL_CHARACTER.ordinal();
        int notAsciiResult = -1 - InvalidCouponCodeException.Reason.NOT_ASCII.ordinal();
        assertThat(results(batch)).containsExactly(1, tooShort, 1, tooLong, illegal, tooLong, 0, tooShort,
                notAsciiResult, 1);
        assertThat(ObservationBatch.reasonOf(batch.result(4))).isEqualTo(InvalidCouponCodeException.Reason.ILLEGAL_CHARACTER);
        assertThat(ObservationBatch.reasonOf(batch.result(0))).isNull();
        assertThat(state.size()).isEqualTo(3);
        assertThat(state.getCouponCodesByObservationCount(1)).containsExactlyInAnyOrder("GOODONE1", "GOODONE2",
                "GOODONE3");
        assertThat(fired).containsExactly("GOODONE1", "GOODONE2", "GOODONE3");
    }

    @Test
    void addObservations_badSourceId_isAMisuse_andAppliesNothing() {
        CouponState state = create();
        int a = state.sourceId("a");
        ObservationBatch batch = batchOf(4, a, "BIRTHDAY", "HAPPYHRS");
        batch.add("OVER9000".getBytes(StandardCharsets.US_ASCII), 0, 8, 5);
        assertThatThrownBy(() -> state.addObservations(batch))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sourceId: 5");
        assertThat(state.size()).isZero();
        assertThatThrownBy(() -> state.addObservations(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void addObservations_emptyFullClearedAndReused() {
        CouponState state = create();
        int a = state.sourceId("a");
        int b = state.sourceId("b");
        ObservationBatch batch = new ObservationBatch(3);
        assertThat(state.addObservations(batch)).isZero();
        assertThat(batch.size()).isZero();
        assertThatThrownBy(() -> batch.result(0)).isInstanceOf(IndexOutOfBoundsException.class);
        byte[] code = "FULLBTCH".getBytes(StandardCharsets.US_ASCII);
        assertThat(batch.add(code, 0, 8, a)).isTrue();
        assertThatThrownBy(() -> batch.result(0)).isInstanceOf(IllegalStateException.class);
        assertThat(batch.add(code, 0, 8, b)).isTrue();
        assertThat(batch.add(code, 0, 8, a)).isTrue();
        assertThat(batch.add(code, 0, 8, b)).as("full").isFalse();
        assertThat(batch.size()).isEqualTo(3);
        assertThat(batch.capacity()).isEqualTo(3);
        assertThat(state.addObservations(batch)).isEqualTo(2);
        assertThat(results(batch)).containsExactly(1, 2, 0);
        batch.clear();
        assertThat(batch.size()).isZero();
        assertThatThrownBy(() -> batch.result(0)).isInstanceOf(IndexOutOfBoundsException.class);
        batch.add("SECONDRN".getBytes(StandardCharsets.US_ASCII), 0, 8, b);
        assertThat(state.addObservations(batch)).isEqualTo(1);
        assertThat(results(batch)).containsExactly(1);
        assertThat(state.addObservations(batch)).as("the same batch again").isZero();
        assertThat(results(batch)).containsExactly(0);
        assertThatThrownBy(() -> new ObservationBatch(0)).hasMessageContaining("capacity: 0");
        assertThatThrownBy(() -> batch.add(null, 0, 0, a)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> batch.add(code, 4, 8, a)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void addObservations_duplicatesInOneBatch_addOnce_andCrossOnce() {
        List<String> fired = new ArrayList<>();
        CouponState state = create(CouponStateConfig.builder().threshold(2)
                .validityListener((code, s) -> fired.add(code)).build());
        int a = state.sourceId("a");
        int b = state.sourceId("b");
        ObservationBatch batch = new ObservationBatch(8);
        byte[] x = "DUPLICAT".getBytes(StandardCharsets.US_ASCII);
        byte[] y = "CROSSING".getBytes(StandardCharsets.US_ASCII);
        batch.add(x, 0, 8, a);
        batch.add(x, 0, 8, a);
        batch.add(y, 0, 8, a);
        batch.add(y, 0, 8, b);
        batch.add(y, 0, 8, b);
        batch.add(y, 0, 8, a);
        assertThat(state.addObservations(batch)).isEqualTo(3);
        assertThat(results(batch)).containsExactly(1, 0, 1, 2, 0, 0);
        assertThat(fired).containsExactly("CROSSING");
        assertThat(state.isValid("CROSSING")).isTrue();
        assertThat(state.addObservation("DUPLICAT", "b")).isEqualTo(2);
        assertThat(fired).containsExactly("CROSSING", "DUPLICAT");
    }

    @Test
    void addObservations_mixedWithSingleCalls_matchTheModel_onEveryLayout_withGrowth() {
        long seed = Long.getLong("couponstate.batch.seed", System.nanoTime());
        SplittableRandom random = new SplittableRandom(seed);
        // packed (default), wide (12 characters), 64 sources (wide mask), 12 sources (full packed mask)
        int[][] layouts = {{10, 3, 2}, {12, 5, 3}, {10, 64, 3}, {10, 12, 2}};
        for (int[] layout : layouts) {
            int maxLength = layout[0];
            int sources = Math.min(layout[1], 6);
            String context = "seed " + seed + ", maxLength " + maxLength + ", maxSources " + layout[1];
            List<String> fired = new ArrayList<>();
            AbstractCouponState state = create(CouponStateConfig.builder().codeLength(8, maxLength)
                    .maxSources(layout[1]).threshold(layout[2]).validityListener((c, s) -> fired.add(c)).build());
            int[] ids = new int[sources];
            for (int s = 0; s < sources; s++) {
                ids[s] = state.sourceId("src" + s);
            }
            String[] pool = new String[20_000];
            for (int i = 0; i < pool.length; i++) {
                pool[i] = randomCode(random, 8 + random.nextInt(maxLength - 7));
            }
            Map<String, Set<Integer>> model = new HashMap<>();
            ObservationBatch batch = new ObservationBatch(1 + random.nextInt(300));
            int crossings = 0;
            for (int round = 0; round < 400; round++) {
                if (random.nextInt(4) == 0) {
                    String code = pool[random.nextInt(pool.length)];
                    int s = random.nextInt(sources);
                    boolean added = model.computeIfAbsent(code, c -> new HashSet<>()).add(s);
                    int result = state.addObservation(code, "src" + s);
                    assertThat(result).as(context).isEqualTo(added ? model.get(code).size() : 0);
                    crossings += result == layout[2] ? 1 : 0;
                    continue;
                }
                batch.clear();
                String[] entries = new String[batch.capacity()];
                int[] entrySources = new int[entries.length];
                while (batch.size() < batch.capacity()) {
                    int i = batch.size();
                    entries[i] = random.nextInt(50) == 0 ? "bad" + i : pool[random.nextInt(pool.length)];
                    entrySources[i] = random.nextInt(sources);
                    byte[] bytes = entries[i].getBytes(StandardCharsets.US_ASCII);
                    batch.add(bytes, 0, bytes.length, ids[entrySources[i]]);
                }
                int added = state.addObservations(batch);
                int expectedAdded = 0;
                for (int i = 0; i < entries.length; i++) {
                    if (entries[i].startsWith("bad")) {
                        assertThat(batch.result(i)).as(context).isNegative();
                        continue;
                    }
                    boolean isNew = model.computeIfAbsent(entries[i], c -> new HashSet<>()).add(entrySources[i]);
                    int expected = isNew ? model.get(entries[i]).size() : 0;
                    assertThat(batch.result(i)).as(context + " entry " + i + " " + entries[i]).isEqualTo(expected);
                    expectedAdded += isNew ? 1 : 0;
                    crossings += expected == layout[2] ? 1 : 0;
                }
                assertThat(added).as(context).isEqualTo(expectedAdded);
            }
            long valid = model.values().stream().filter(v -> v.size() >= layout[2]).count();
            assertThat(crossings).as(context + ": results equal to the threshold").isEqualTo(valid);
            assertThat(fired).as(context + ": listener calls").hasSize((int) valid);
            assertThat(state.size()).as(context).isEqualTo(model.size());
            for (Map.Entry<String, Set<Integer>> e : model.entrySet()) {
                assertThat(state.observationCount(e.getKey())).as(context).isEqualTo(e.getValue().size());
            }
        }
    }

    /** Slots allocated now. */
    abstract long capacity(AbstractCouponState state);

    static String randomCode(SplittableRandom random, int length) {
        char[] c = new char[length];
        for (int i = 0; i < length; i++) {
            int d = random.nextInt(36);
            c[i] = (char) (d < 10 ? '0' + d : 'A' + d - 10);
        }
        return new String(c);
    }
}
