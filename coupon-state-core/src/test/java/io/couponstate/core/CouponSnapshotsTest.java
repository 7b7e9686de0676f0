package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CouponSnapshotsTest {

    static final Map<String, List<String>> GOLDEN = Map.of(
            "BIRTHDAY", List.of("couponbase1", "couponbase2", "couponbase3"),
            "HAPPYHRS", List.of("couponbase1", "couponbase3"),
            "SUPER100", List.of("couponbase1"),
            "MOODYHRS", List.of("couponbase2"),
            "ABCDEFGHIJ", List.of("couponbase2"));

    static AbstractCouponState golden(Supplier<AbstractCouponState> factory) {
        AbstractCouponState state = factory.get();
        for (String source : List.of("couponbase1", "couponbase2", "couponbase3")) {
            state.sourceId(source);
        }
        GOLDEN.forEach((code, sources) -> sources.forEach(s -> state.addObservation(code, s)));
        return state;
    }

    static byte[] write(CouponState state) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CouponSnapshots.write(state, out);
        return out.toByteArray();
    }

    static void assertGolden(CouponState state) {
        assertThat(state.size()).isEqualTo(GOLDEN.size());
        GOLDEN.forEach((code, sources) -> assertThat(state.getObservations(code)).containsExactlyInAnyOrderElementsOf(sources));
    }

    @Test
    void roundTrip_betweenEitherImplementation() throws IOException {
        List<Supplier<AbstractCouponState>> factories = List.of(StripedLockCouponState::new, LockFreeCouponState::new);
        for (Supplier<AbstractCouponState> from : factories) {
            byte[] bytes = write(golden(from));
            for (Supplier<AbstractCouponState> to : factories) {
                AbstractCouponState target = to.get();
                assertThat(CouponSnapshots.read(new ByteArrayInputStream(bytes), target)).isEqualTo(GOLDEN.size());
                assertGolden(target);
            }
        }
    }

    @Test
    void roundTrip_ofAManyBlockSnapshot_ofTheWideLayout() throws IOException {
        CouponStateConfig config = CouponStateConfig.builder().codeLength(1, 12).maxSources(40).build();
        AbstractCouponState state = new LockFreeCouponState(config);
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < 150_000; i++) {
            state.addObservation(CouponStateContractTest.randomCode(random, 1 + random.nextInt(12)), "s" + random.nextInt(40));
        }
        AbstractCouponState copy = new StripedLockCouponState(config);
        long read = CouponSnapshots.read(new ByteArrayInputStream(write(state)), copy);
        assertThat(read).isEqualTo(state.size()).isGreaterThan(CouponSnapshots.MAX_BLOCK_ENTRIES);
        state.forEachEntry((key, mask) -> assertThat(Long.bitCount(copy.mask(key))).isEqualTo(Long.bitCount(mask)));
    }

    @Test
    void read_isAUnion_withSourcesRemappedByName() throws IOException {
        byte[] bytes = write(golden(StripedLockCouponState::new));
        AbstractCouponState target = new LockFreeCouponState();
        target.addObservation("BIRTHDAY", "other");       // id 0 here, not in the snapshot
        target.addObservation("FREEZAAA", "couponbase3"); // id 1 here, id 2 there
        target.addObservation("SUPER100", "couponbase2");
        List<String> fired = new java.util.ArrayList<>();
        CouponSnapshots.read(new ByteArrayInputStream(bytes), target);
        assertThat(target.getObservations("BIRTHDAY"))
                .containsExactlyInAnyOrder("other", "couponbase1", "couponbase2", "couponbase3");
        assertThat(target.getObservations("FREEZAAA")).containsExactly("couponbase3");
        assertThat(target.getObservations("SUPER100")).containsExactlyInAnyOrder("couponbase1", "couponbase2");
        assertThat(target.getObservations("HAPPYHRS")).containsExactlyInAnyOrder("couponbase1", "couponbase3");
        assertThat(target.size()).isEqualTo(GOLDEN.size() + 1);
        assertThat(fired).isEmpty();
    }

    @Test
    void restore_callsTheListenerForNothing() throws IOException {
        byte[] bytes = write(golden(StripedLockCouponState::new));
        List<String> fired = new java.util.ArrayList<>();
        CouponState target = new LockFreeCouponState(
                CouponStateConfig.builder().validityListener((c, s) -> fired.add(c)).build());
        CouponSnapshots.read(new ByteArrayInputStream(bytes), target);
        assertThat(target.isValid("BIRTHDAY")).isTrue();
        assertThat(fired).isEmpty();
    }

    @Test
    void truncation_atEveryByte_isRefused_andLeavesOnlyGenuineObservations() throws IOException {
        byte[] bytes = write(golden(LockFreeCouponState::new));
        for (int length = 0; length < bytes.length; length++) {
            AbstractCouponState target = new StripedLockCouponState();
            InputStream in = new ByteArrayInputStream(Arrays.copyOf(bytes, length));
            int cut = length;
            assertThatThrownBy(() -> CouponSnapshots.read(in, target)).as("cut at %d", cut)
                    .isInstanceOf(SnapshotFormatException.class);
            target.forEachCouponCode(1, code -> assertThat(GOLDEN.get(code))
                    .containsAll(target.getObservations(code)));
        }
    }

    @Test
    void everySingleBitFlip_isRefused() throws IOException {
        byte[] bytes = write(golden(LockFreeCouponState::new));
        for (int bit = 0; bit < bytes.length * 8; bit++) {
            byte[] flipped = bytes.clone();
            flipped[bit / 8] ^= (byte) (1 << (bit % 8));
            AbstractCouponState target = new StripedLockCouponState();
            int at = bit;
            assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(flipped), target))
                    .as("bit %d", at).isInstanceOf(SnapshotFormatException.class);
            target.forEachCouponCode(1, code -> assertThat(GOLDEN.get(code))
                    .containsAll(target.getObservations(code)));
        }
    }

    @Test
    void refusals_sayWhatFailed() throws IOException {
        byte[] bytes = write(golden(LockFreeCouponState::new));
        byte[] magic = bytes.clone();
        magic[0] = 'X';
        assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(magic), new LockFreeCouponState()))
                .hasMessageContaining("magic");
        byte[] version = withHeaderCrc(bytes, 5, (byte) 9);
        assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(version), new LockFreeCouponState()))
                .hasMessageContaining("unsupported snapshot version 9");
        CouponState otherFormat = new LockFreeCouponState(CouponStateConfig.builder().codeLength(1, 12).build());
        assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(bytes), otherFormat))
                .hasMessageContaining("code format 8..10 characters")
                .hasMessageContaining("differs from the target's 1..12");
        assertThat(otherFormat.size()).isZero();
        assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(bytes), new ForeignState()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("target");
    }

    @Test
    void aBlockClaimingTwoToTheFortyEntries_failsAtOnce_evenInA64MegabyteHeap(@TempDir Path dir) throws Exception {
        byte[] forged = forgedHugeCount();
        assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(forged), new LockFreeCouponState()))
                .isInstanceOf(SnapshotFormatException.class)
                .hasMessageContaining("claims 1099511627776 entries (expected: 1..65536)");
        Path file = dir.resolve("forged.cpst");
        Files.write(file, forged);
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-cp", System.getProperty("java.class.path"), SnapshotReadMain.class.getName(), file.toString())
                .redirectErrorStream(true).start();
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String output = new String(child.getInputStream().readAllBytes());
        assertThat(output).contains("claims 1099511627776 entries");
        assertThat(child.exitValue()).as(output).isEqualTo(SnapshotReadMain.REFUSED);
    }

    /** The golden snapshot with its first block's count replaced by 2^40 and the block checksum left alone. */
    static byte[] forgedHugeCount() throws IOException {
        byte[] bytes = write(golden(LockFreeCouponState::new));
        int headerEnd = headerLength(bytes);
        ByteBuffer.wrap(bytes).putLong(headerEnd, 1L << 40);
        return bytes;
    }

    static byte[] golden(int version) throws IOException {
        try (InputStream in = CouponSnapshotsTest.class.getResourceAsStream("/snapshots/golden-v" + version + ".cpst")) {
            assertThat(in).as("golden file of version %d", version).isNotNull();
            return in.readAllBytes();
        }
    }

    @Test
    void goldenVersion2_isRead() throws IOException {
        for (Supplier<AbstractCouponState> to : List.<Supplier<AbstractCouponState>>of(
                StripedLockCouponState::new, LockFreeCouponState::new)) {
            AbstractCouponState target = to.get();
            assertThat(CouponSnapshots.read(new ByteArrayInputStream(golden(2)), target)).isEqualTo(GOLDEN.size());
            assertGolden(target);
            assertThat(target.sourceNames()).containsExactly("couponbase1", "couponbase2", "couponbase3");
        }
    }

    @Test
    void theWriter_stillProducesTheGoldenVersion2Bytes() throws IOException {
        // a lock-free state of the default size walks its slots in an order fixed by the hash: deterministic bytes
        assertThat(write(golden(LockFreeCouponState::new))).isEqualTo(golden(2));
    }

    @Test
    void goldenVersion1_truncatedAtEveryByte_orWithAnyBitFlipped_isRefused() throws IOException {
        byte[] bytes = golden(1);
        for (int length = 0; length < bytes.length; length++) {
            AbstractCouponState target = new LockFreeCouponState();
            InputStream in = new ByteArrayInputStream(Arrays.copyOf(bytes, length));
            assertThatThrownBy(() -> CouponSnapshots.read(in, target)).as("cut at %d", length)
                    .isInstanceOf(SnapshotFormatException.class);
            target.forEachCouponCode(1, code -> assertThat(GOLDEN.get(code)).containsAll(target.getObservations(code)));
        }
        for (int bit = 0; bit < bytes.length * 8; bit++) {
            byte[] flipped = bytes.clone();
            flipped[bit / 8] ^= (byte) (1 << (bit % 8));
            AbstractCouponState target = new LockFreeCouponState();
            assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(flipped), target))
                    .as("bit %d", bit).isInstanceOf(SnapshotFormatException.class);
            target.forEachCouponCode(1, code -> assertThat(GOLDEN.get(code)).containsAll(target.getObservations(code)));
        }
    }

    @Test
    void aForgedEntryCountHint_growsTheTargetOnlyAsFarAsTheFileCanHold(@TempDir Path dir) throws IOException {
        byte[] bytes = write(golden(LockFreeCouponState::new));
        ByteBuffer.wrap(bytes).putLong(4 + 2 + 1 + 3 + 2 + 8 + 4 + 4, 1L << 40); // the hint, header CRC fixed below
        byte[] forged = withHeaderCrc(bytes, 0, bytes[0]);
        CRC32C whole = new CRC32C();
        whole.update(forged, 0, forged.length - 4);
        ByteBuffer.wrap(forged).putInt(forged.length - 4, (int) whole.getValue()); // and the stream checksum
        Path file = dir.resolve("forged-hint.cpst");
        Files.write(file, forged);
        LockFreeCouponState target = new LockFreeCouponState();
        assertThat(CouponSnapshots.read(file, target)).isEqualTo(GOLDEN.size());
        assertGolden(target);
        assertThat(target.capacity()).isLessThan(1_000); // not 2^40 / 0.85 slots
        // a stream that cannot tell its length trusts the hint only up to a sixty-fourth of the heap in entries
        LockFreeCouponState fromStream = new LockFreeCouponState();
        InputStream socketLike = new java.io.FilterInputStream(new ByteArrayInputStream(forged)) {
            @Override
            public int available() {
                return 0;
            }
        };
        assertThat(CouponSnapshots.read(socketLike, fromStream)).isEqualTo(GOLDEN.size());
        assertGolden(fromStream);
        assertThat(fromStream.capacity()).isLessThanOrEqualTo(Runtime.getRuntime().maxMemory() / 64 / 4 * 5);
    }

    @Test
    void goldenVersion1_isStillRead() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/snapshots/golden-v1.cpst")) {
            assertThat(in).as("golden file").isNotNull();
            AbstractCouponState target = new StripedLockCouponState();
            assertThat(CouponSnapshots.read(in, target)).isEqualTo(GOLDEN.size());
            assertGolden(target);
            assertThat(target.sourceNames()).containsExactly("couponbase1", "couponbase2", "couponbase3");
        }
    }

    @Test
    void writeToFile_isAtomicAndReadable(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("state.cpst");
        Files.writeString(file, "an older, broken snapshot");
        assertThat(CouponSnapshots.write(golden(LockFreeCouponState::new), file)).isEqualTo(GOLDEN.size());
        AbstractCouponState target = new LockFreeCouponState();
        CouponSnapshots.read(file, target);
        assertGolden(target);
        try (var files = Files.list(dir)) {
            assertThat(files).containsExactly(file); // no temporary file left behind
        }
        if (Boolean.getBoolean("couponstate.writeGolden")) { // writes the golden file of the current version
            Files.copy(file, Path.of("src/test/resources/snapshots/golden-v" + CouponSnapshots.VERSION + ".cpst"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }

    @Test
    void everyDamage_isKindDamaged_andEveryMismatch_isKindIncompatible() throws IOException {
        byte[] bytes = write(golden(LockFreeCouponState::new));
        for (int bit = 0; bit < bytes.length * 8; bit++) {
            if (bit / 8 == 4 || bit / 8 == 5) {
                continue; // the version field, read before any checksum can vouch for it: see below
            }
            byte[] flipped = bytes.clone();
            flipped[bit / 8] ^= (byte) (1 << (bit % 8));
            int at = bit;
            assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(flipped),
                    new StripedLockCouponState()))
                    .as("bit %d", at).isInstanceOfSatisfying(SnapshotFormatException.class,
                            e -> assertThat(e.kind()).as("bit %d: %s", at, e.getMessage())
                                    .isEqualTo(SnapshotFormatException.Kind.DAMAGED));
        }
        for (int length = 0; length < bytes.length; length++) {
            InputStream in = new ByteArrayInputStream(Arrays.copyOf(bytes, length));
            assertThatThrownBy(() -> CouponSnapshots.read(in, new StripedLockCouponState()))
                    .isInstanceOfSatisfying(SnapshotFormatException.class,
                            e -> assertThat(e.kind()).isEqualTo(SnapshotFormatException.Kind.DAMAGED));
        }
        byte[] newer = withHeaderCrc(bytes, 5, (byte) 9);
        assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(newer), new LockFreeCouponState()))
                .isInstanceOfSatisfying(SnapshotFormatException.class,
                        e -> assertThat(e.kind()).isEqualTo(SnapshotFormatException.Kind.INCOMPATIBLE));
        CouponState folded = new LockFreeCouponState(CouponStateConfig.builder().caseInsensitive(true).build());
        assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(bytes), folded))
                .isInstanceOfSatisfying(SnapshotFormatException.class,
                        e -> assertThat(e.kind()).isEqualTo(SnapshotFormatException.Kind.INCOMPATIBLE))
                .hasMessageContaining("case-sensitive").hasMessageContaining("case-insensitive");
        CouponState twoSources = new StripedLockCouponState(CouponStateConfig.builder().maxSources(2).build());
        assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(bytes), twoSources))
                .isInstanceOfSatisfying(SnapshotFormatException.class,
                        e -> assertThat(e.kind()).isEqualTo(SnapshotFormatException.Kind.INCOMPATIBLE))
                .hasMessageContaining("the snapshot has 3 sources")
                .hasMessageContaining("maxSources = 2");
        assertThat(twoSources.size()).isZero();
    }

    /** Byte length of the header including its checksum (version 1 or 2). */
    static int headerLength(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        int p = b.getShort(4) == 1 ? 4 + 2 + 3 + 2 : 4 + 2 + 1 + 3 + 2 + 8 + 4 + 4 + 8;
        int sources = b.getShort(p) & 0xFFFF;
        p += 2;
        for (int i = 0; i < sources; i++) {
            p += 2 + (b.getShort(p) & 0xFFFF);
        }
        return p + 2 + 4;
    }

    /** A copy with byte {@code at} set to {@code value} and the header checksum recomputed. */
    static byte[] withHeaderCrc(byte[] bytes, int at, byte value) {
        byte[] copy = bytes.clone();
        copy[at] = value;
        int end = headerLength(copy) - 4;
        CRC32C crc = new CRC32C();
        crc.update(copy, 0, end);
        ByteBuffer.wrap(copy).putInt(end, (int) crc.getValue());
        return copy;
    }

    /** A CouponState that is not one of ours. */
    static final class ForeignState implements CouponState {
        @Override public int addObservation(CharSequence code, String source) { return 0; }
        @Override public int addObservation(byte[] code, int offset, int length, int sourceId) { return 0; }
        @Override public int sourceId(String source) { return 0; }
        @Override public Set<String> getObservations(CharSequence code) { return new HashSet<>(); }
        @Override public int observationCount(CharSequence code) { return 0; }
        @Override public boolean isValid(CharSequence code) { return false; }
        @Override public boolean isWellFormed(CharSequence code) { return false; }
        @Override public List<String> getCouponCodesByObservationCount(int minSources) { return List.of(); }
        @Override public void forEachCouponCode(int minSources, java.util.function.Consumer<? super String> a) { }
        @Override public long size() { return 0; }
        @Override public long validCount() { return 0; }
        @Override public int threshold() { return 2; }
        @Override public CouponStateConfig config() { return CouponStateConfig.defaults(); }
    }
}
