package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.internal.Codes;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The table image (snapshot version 3) of a {@link CompactCouponState}: adopted whole by an empty compact state,
 * decoded entry by entry by any other target, chained with version 2 deltas, consistent while writers run, strict
 * about damage. Seeded; {@code -Dcouponstate.seed} replays a run.
 */
class CompactImageTest {

    private static long seed;

    @BeforeAll
    static void seed() {
        seed = Long.getLong("couponstate.seed", System.nanoTime());
        System.out.println("CompactImageTest: seed " + seed + " (rerun with -Dcouponstate.seed=" + seed + ")");
    }

    private static CouponStateConfig sized(long codes) {
        return CouponStateConfig.builder().expectedCodes(codes).build();
    }

    @Test
    void compactToCompact_adoptsTheTables_andTheAdoptedStateGoesOn() throws IOException {
        CouponStateConfig config = sized(40_000);
        CompactCouponState written = fill(new CompactCouponState(config), 40_000, 4, seed);
        byte[] bytes = CouponSnapshotsTest.write(written);
        assertThat(version(bytes)).isEqualTo(SnapshotDescriptor.IMAGE_VERSION);

        CompactCouponState read = new CompactCouponState(config);
        assertThat(CouponSnapshots.read(new ByteArrayInputStream(bytes), read)).isEqualTo(written.size());
        assertThat(read.imagesAdopted()).isEqualTo(1);
        assertThat(read.resizes()).isZero(); // no table was rebuilt: nothing re-hashed
        assertSame(read, written);

        // the adopted tables, dictionary and valid list take further writes like the original's
        fill(written, 5_000, 6, seed + 1);
        fill(read, 5_000, 6, seed + 1);
        assertSame(read, written);
    }

    @Test
    void anEmptyCompactStateNumberingSourcesOtherwise_adoptsWithTheDictionaryRenumbered() throws IOException {
        CompactCouponState written = fill(new CompactCouponState(), 20_000, 4, seed);
        CompactCouponState read = new CompactCouponState();
        read.sourceId("s3");
        read.sourceId("s1");
        CouponSnapshots.read(new ByteArrayInputStream(CouponSnapshotsTest.write(written)), read);
        assertThat(read.imagesAdopted()).isEqualTo(1);
        assertThat(read.sourceNames()).startsWith("s3", "s1");
        assertThat(entriesByName(read)).isEqualTo(entriesByName(written));
        assertThat(read.validCount()).isEqualTo(written.validCount());
        assertThat(read.size()).isEqualTo(written.size());
    }

    @Test
    void eachImplementationReadsTheImage_andCompactReadsVersion2() throws IOException {
        CouponStateConfig config = sized(30_000);
        List<Function<CouponStateConfig, AbstractCouponState>> others = List.of(LockFreeCouponState::new,
                StripedLockCouponState::new);
        CompactCouponState compact = fill(new CompactCouponState(config), 30_000, 5, seed);
        byte[] image = CouponSnapshotsTest.write(compact);
        for (Function<CouponStateConfig, AbstractCouponState> to : others) {
            AbstractCouponState read = to.apply(config);
            assertThat(CouponSnapshots.read(new ByteArrayInputStream(image), read)).isEqualTo(compact.size());
            assertSame(read, compact);

            AbstractCouponState other = fill(to.apply(config), 30_000, 5, seed + 7);
            byte[] entries = CouponSnapshotsTest.write(other);
            assertThat(version(entries)).isEqualTo(SnapshotDescriptor.VERSION);
            CompactCouponState back = new CompactCouponState(config);
            CouponSnapshots.read(new ByteArrayInputStream(entries), back);
            assertThat(back.imagesAdopted()).isZero();
            assertSame(back, other);
        }
    }

    @Test
    void anImageBaseAndEntryListDeltas_readThroughTheChain(@TempDir Path dir) throws IOException {
        CouponStateConfig config = CouponStateConfig.builder().changeJournalCapacity(100_000).build();
        CompactCouponState written = fill(new CompactCouponState(config), 20_000, 4, seed);
        Path base = dir.resolve("base");
        CouponSnapshots.writeBase(written, base);
        fill(written, 8_000, 6, seed + 1);
        Path delta1 = dir.resolve("delta1");
        CouponSnapshots.writeDelta(written, delta1);
        fill(written, 8_000, 6, seed + 2);
        Path delta2 = dir.resolve("delta2");
        CouponSnapshots.writeDelta(written, delta2);
        assertThat(version(Files.readAllBytes(base))).isEqualTo(SnapshotDescriptor.IMAGE_VERSION);
        assertThat(version(Files.readAllBytes(delta1))).isEqualTo(SnapshotDescriptor.VERSION);

        CompactCouponState compact = new CompactCouponState(config);
        CouponSnapshots.readChain(base, List.of(delta1, delta2), compact);
        assertThat(compact.imagesAdopted()).isEqualTo(1);
        assertSame(compact, written);
        LockFreeCouponState lockFree = new LockFreeCouponState(config);
        CouponSnapshots.readChain(base, List.of(delta1, delta2), lockFree);
        assertSame(lockFree, written);

        // the restored compact state continues the chain: its next delta follows the image base
        fill(compact, 1_000, 6, seed + 3);
        fill(written, 1_000, 6, seed + 3);
        Path delta3 = dir.resolve("delta3");
        CouponSnapshots.writeDelta(compact, delta3);
        CompactCouponState again = new CompactCouponState(config);
        CouponSnapshots.readChain(base, List.of(delta1, delta2, delta3), again);
        assertSame(again, written);
    }

    @Test
    void anImageTakenWhileWritersRun_holdsEverythingBefore_andNothingWrong() throws Exception {
        CompactCouponState state = fill(new CompactCouponState(), 100_000, 4, seed); // grows while written to
        Map<Long, Long> before = entries(state);
        AtomicBoolean stop = new AtomicBoolean();
        Thread[] writers = new Thread[2];
        for (int w = 0; w < writers.length; w++) {
            SplittableRandom random = new SplittableRandom(seed + 100 + w);
            writers[w] = new Thread(() -> {
                while (!stop.get()) {
                    state.addObservation(CouponStateContractTest.randomCode(random, 8 + random.nextInt(3)),
                            "s" + random.nextInt(4));
                }
            });
            writers[w].start();
        }
        byte[] bytes;
        try {
            bytes = CouponSnapshotsTest.write(state);
        } finally {
            stop.set(true);
            for (Thread writer : writers) {
                writer.join();
            }
        }
        CompactCouponState read = new CompactCouponState();
        CouponSnapshots.read(new ByteArrayInputStream(bytes), read);
        Map<Long, Long> after = entries(state);
        Map<Long, Long> got = entries(read);
        before.forEach((key, mask) -> assertThat(got.get(key) & mask).as("code %d", key).isEqualTo(mask));
        got.forEach((key, mask) -> assertThat(after.get(key) & mask).as("code %d", key).isEqualTo(mask));
        assertThat(read.size()).isEqualTo(got.size());
        long valid = got.values().stream().filter(m -> Long.bitCount(m) >= read.threshold()).count();
        assertThat(read.validCount()).isEqualTo(valid);
    }

    @Test
    void aFlippedByte_failsNamingItsStripeAndBlock() throws IOException {
        CompactCouponState state = fill(new CompactCouponState(sized(50_000)), 50_000, 4, seed);
        byte[] bytes = CouponSnapshotsTest.write(state);
        byte[] slots = bytes.clone();
        slots[slots.length / 2] ^= 0x10;
        assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(slots), new CompactCouponState()))
                .isInstanceOf(SnapshotFormatException.class)
                .hasMessageMatching("stripe \\d+ slot block \\d+ at byte \\d+(: checksum mismatch| claims).*");
        byte[] dictionary = bytes.clone();
        dictionary[dictionary.length - SnapshotDescriptor.END_BYTES - 8] ^= 0x01; // the last tag's mask
        assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(dictionary),
                new LockFreeCouponState()))
                .isInstanceOf(SnapshotFormatException.class)
                .hasMessageContaining("dictionary at byte").hasMessageContaining("checksum mismatch");
        CompactCouponState untouched = new CompactCouponState();
        byte[] truncated = java.util.Arrays.copyOf(bytes, bytes.length - 30);
        assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(truncated), untouched))
                .isInstanceOf(SnapshotFormatException.class).hasMessageContaining("truncated");
        assertThat(untouched.size()).isZero(); // nothing reaches the target before the whole image passed
    }

    @Test
    void aSourceRegisteredWhileTheImageIsWritten_isLeftOut() throws IOException {
        CompactCouponState state = fill(new CompactCouponState(sized(200_000)), 200_000, 3, seed);
        Map<Long, Long> before = entries(state);
        Map<String, List<String>> beforeByName = entriesByName(state);
        List<String> names = state.sourceNames();
        SplittableRandom random = new SplittableRandom(seed + 5);
        AtomicBoolean registered = new AtomicBoolean();
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        OutputStream out = new OutputStream() {
            @Override
            public void write(int b) {
                sink.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                // the first drain comes after the header and some stripes: the later ones see the late source
                if (registered.compareAndSet(false, true)) {
                    before.keySet().stream().limit(20_000).forEach(key -> state.addObservation(Codes.decode(key),
                            "late"));
                    for (int i = 0; i < 20_000; i++) {
                        state.addObservation(CouponStateContractTest.randomCode(random, 10), "late");
                    }
                }
                sink.write(b, off, len);
            }
        };
        CouponSnapshots.write(state, out);
        assertThat(registered).isTrue();
        for (Function<CouponStateConfig, AbstractCouponState> to : List.<Function<CouponStateConfig,
                AbstractCouponState>>of(CompactCouponState::new, LockFreeCouponState::new)) {
            AbstractCouponState read = to.apply(CouponStateConfig.defaults());
            CouponSnapshots.read(new ByteArrayInputStream(sink.toByteArray()), read);
            assertThat(read.sourceNames()).isEqualTo(names);
            assertThat(entriesByName(read)).isEqualTo(beforeByName);
            assertThat(read.size()).isEqualTo(before.size());
        }
    }

    @Test
    void anImageUnionedIntoANonEmptyCompactState() throws IOException {
        CompactCouponState written = fill(new CompactCouponState(), 20_000, 4, seed);
        CompactCouponState target = new CompactCouponState();
        target.sourceId("s2"); // numbered otherwise: the union remaps
        fill(target, 20_000, 3, seed + 9);
        fill(target, 2_000, 2, seed); // some of the written codes, other sources
        Map<String, List<String>> expected = entriesByName(target);
        entriesByName(written).forEach((code, names) -> expected.merge(code, names, (a, b) -> {
            java.util.TreeSet<String> all = new java.util.TreeSet<>(a);
            all.addAll(b);
            return List.copyOf(all);
        }));
        CouponSnapshots.read(new ByteArrayInputStream(CouponSnapshotsTest.write(written)), target);
        assertThat(target.imagesAdopted()).isZero();
        assertThat(entriesByName(target)).isEqualTo(expected);
        assertThat(target.size()).isEqualTo(expected.size());
        assertThat(target.validCount()).isEqualTo(
                expected.values().stream().filter(names -> names.size() >= target.threshold()).count());
    }

    @Test
    void twelveCharacterCodesAndSixtyFourSources_roundTrip() throws IOException {
        CouponStateConfig config = CouponStateConfig.builder().codeLength(8, 12).maxSources(64).build();
        CompactCouponState written = new CompactCouponState(config);
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < 30_000; i++) {
            String code = CouponStateContractTest.randomCode(random, 8 + random.nextInt(5));
            for (int k = random.nextInt(4); k >= 0; k--) {
                written.addObservation(code, "source-" + random.nextInt(64));
            }
        }
        assertThat(written.sideEntries()).as("masks spilled to side tables").isPositive();
        byte[] bytes = CouponSnapshotsTest.write(written);
        CompactCouponState compact = new CompactCouponState(config);
        CouponSnapshots.read(new ByteArrayInputStream(bytes), compact);
        assertThat(compact.imagesAdopted()).isEqualTo(1);
        assertSame(compact, written);
        LockFreeCouponState lockFree = new LockFreeCouponState(config);
        CouponSnapshots.read(new ByteArrayInputStream(bytes), lockFree);
        assertSame(lockFree, written);
    }

    @Test
    void intSlots_roundTrip() throws IOException {
        // eight-character codes have 42-bit numbers: a pre-sized table's quotient leaves room for an int slot's tag
        CouponStateConfig config = CouponStateConfig.builder().codeLength(8, 8).expectedCodes(300_000).build();
        CompactCouponState written = new CompactCouponState(config);
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < 100_000; i++) {
            String code = CouponStateContractTest.randomCode(random, 8);
            written.addObservation(code, "s" + random.nextInt(3));
            written.addObservation(code, "s" + random.nextInt(3));
        }
        assertThat(written.wideStripes()).isZero();
        byte[] bytes = CouponSnapshotsTest.write(written);
        CompactCouponState compact = new CompactCouponState(config);
        CouponSnapshots.read(new ByteArrayInputStream(bytes), compact);
        assertThat(compact.imagesAdopted()).isEqualTo(1);
        assertThat(compact.wideStripes()).isZero();
        assertSame(compact, written);
        StripedLockCouponState striped = new StripedLockCouponState(config);
        CouponSnapshots.read(new ByteArrayInputStream(bytes), striped);
        assertSame(striped, written);
    }

    @Test
    void twoMillionCodes_roundTripThroughAFile(@TempDir Path dir) throws IOException {
        CouponStateConfig config = sized(2_000_000);
        CompactCouponState written = fill(new CompactCouponState(config), 2_000_000, 4, seed);
        Path file = dir.resolve("image");
        assertThat(CouponSnapshots.write(written, file)).isEqualTo(written.size());
        CompactCouponState read = new CompactCouponState(config);
        assertThat(CouponSnapshots.read(file, read)).isEqualTo(written.size());
        assertThat(read.imagesAdopted()).isEqualTo(1);
        assertThat(read.validCount()).isEqualTo(written.validCount());
        assertThat(entries(read)).isEqualTo(entries(written));
    }

    // ---------------------------------------------------------------------------------------------------------------

    /** Adds {@code codes} seeded observations of 8..10 character codes over {@code sources} sources. */
    static <S extends AbstractCouponState> S fill(S state, int codes, int sources, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < codes; i++) {
            String code = CouponStateContractTest.randomCode(random, 8 + random.nextInt(3));
            state.addObservation(code, "s" + random.nextInt(sources));
            if (random.nextInt(3) == 0) {
                state.addObservation(code, "s" + random.nextInt(sources));
            }
        }
        return state;
    }

    private static int version(byte[] bytes) {
        return (bytes[4] & 0xFF) << 8 | (bytes[5] & 0xFF);
    }

    private static Map<Long, Long> entries(AbstractCouponState state) {
        Map<Long, Long> entries = new HashMap<>();
        state.forEachEntry((key, mask) -> assertThat(entries.put(key, mask)).as("visited twice").isNull());
        return entries;
    }

    /** Every code with its source names, sorted: comparable across source numberings. */
    private static Map<String, List<String>> entriesByName(AbstractCouponState state) {
        Map<String, List<String>> entries = new HashMap<>();
        state.forEachEntry((key, mask) -> assertThat(entries.put(Codes.decode(key),
                state.registry.names(mask).stream().sorted().toList())).as("visited twice").isNull());
        return entries;
    }

    /** Same codes, sources, validity, size and valid list as {@code expected}, asked through the public reads. */
    private static void assertSame(AbstractCouponState actual, AbstractCouponState expected) {
        Map<String, List<String>> want = entriesByName(expected);
        assertThat(entriesByName(actual)).isEqualTo(want);
        assertThat(actual.size()).isEqualTo(expected.size());
        assertThat(actual.validCount()).isEqualTo(expected.validCount());
        want.forEach((code, names) -> {
            assertThat(actual.getObservations(code)).containsExactlyInAnyOrderElementsOf(names);
            assertThat(actual.isValid(code)).isEqualTo(names.size() >= actual.threshold());
        });
        // sorted, not containsExactlyInAnyOrder: that is quadratic in the list's length
        List<String> valid = new java.util.ArrayList<>(actual.getCouponCodesByObservationCount(actual.threshold()));
        List<String> wanted = new java.util.ArrayList<>(expected.getCouponCodesByObservationCount(actual.threshold()));
        java.util.Collections.sort(valid);
        java.util.Collections.sort(wanted);
        assertThat(valid).isEqualTo(wanted);
    }
}
