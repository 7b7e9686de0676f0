package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The second thread of a big snapshot read (two union threads asked for explicitly, so that it runs on a one-core
 * test machine too): the target ends equal to the source, through a source remap too, and a damaged block fails the
 * read loudly and leaves no helper thread behind; one thread asked for starts none. Timeouts are hang guards.
 */
class SnapshotUnionHelperTest {

    private static final int TWO = 2;

    @TempDir
    Path dir;

    private static LockFreeCouponState source(int codes, long seed, String... sources) {
        LockFreeCouponState state = new LockFreeCouponState(CouponStateConfig.builder().expectedCodes(codes).build());
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < codes; i++) {
            String code = String.format("H%08d", i);
            int mask = 1 + random.nextInt(7);
            for (int s = 0; s < 3; s++) {
                if ((mask & (1 << s)) != 0) {
                    state.addObservation(code, sources[s]);
                }
            }
        }
        return state;
    }

    private static Map<String, Set<String>> contents(CouponState state) {
        Map<String, Set<String>> m = new HashMap<>();
        state.forEachCouponCode(1, code -> m.put(code, state.getObservations(code)));
        return m;
    }

    private static boolean helperAlive() {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals("coupon-snapshot-union") && t.isAlive());
    }

    @Test
    @Timeout(value = 300, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aReadWithTheHelper_holdsEveryEntry_andTheValidCodes_intoBothKinds() throws IOException {
        long seed = Long.getLong("couponstate.seed", System.nanoTime());
        System.out.println("SnapshotUnionHelperTest seed " + seed + " (-Dcouponstate.seed=" + seed + ")");
        LockFreeCouponState source = source(2_000_000, seed, "s0", "s1", "s2");
        Path file = dir.resolve("big.cpst");
        CouponSnapshots.write(source, file);
        Map<String, Set<String>> expected = contents(source);

        for (AbstractCouponState target : new AbstractCouponState[] {
                new LockFreeCouponState(CouponStateConfig.defaults()),
                new StripedLockCouponState(CouponStateConfig.defaults())}) {
            target.sourceId("s2"); // other ids than the source's: the helper gets remapped masks
            target.sourceId("s0");
            assertThat(CouponSnapshots.read(file, target, TWO)).isEqualTo(2_000_000);
            assertThat(target.size()).isEqualTo(2_000_000);
            assertThat(target.validCount()).isEqualTo(source.validCount());
            assertThat(contents(target)).as(target.getClass().getSimpleName()).isEqualTo(expected);
        }
        assertThat(helperAlive()).isFalse();
    }

    @Test
    @Timeout(value = 300, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aDamagedBlockLate_failsTheRead_andNoHelperThreadIsLeft() throws IOException {
        LockFreeCouponState source = source(300_000, 7, "s0", "s1", "s2");
        Path file = dir.resolve("damaged.cpst");
        CouponSnapshots.write(source, file);
        long size = Files.size(file);
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer one = ByteBuffer.allocate(1);
            long at = size * 3 / 4; // inside a block's entries, blocks before it handed over already
            c.read(one, at);
            one.flip();
            byte b = one.get(0);
            one.put(0, (byte) (b ^ 0x40));
            c.write(one, at);
        }
        LockFreeCouponState target = new LockFreeCouponState(CouponStateConfig.defaults());
        assertThatThrownBy(() -> CouponSnapshots.read(file, target, TWO)).isInstanceOf(SnapshotFormatException.class)
                .hasMessageContaining("checksum mismatch");
        assertThat(helperAlive()).as("the helper is joined on failure").isFalse();
        assertThat(target.size()).as("the blocks before the damaged one were applied, whole")
                .isPositive().isLessThan(300_000);
        for (String code : new String[] {"H00000000", "H00299999"}) {
            // whatever is in the target came from the source: a code's sources are never more than the source's
            assertThat(source.getObservations(code)).containsAll(target.getObservations(code));
        }
    }

    @Test
    @Timeout(value = 300, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void theThreadCount_isTheCallersChoice_oneStartsNoHelper_twoDoes() throws IOException {
        LockFreeCouponState source = source(300_000, 3, "s0", "s1", "s2");
        Path file = dir.resolve("small.cpst");
        CouponSnapshots.write(source, file);
        Map<String, Set<String>> expected = contents(source);
        for (int threads : new int[] {1, 2}) {
            boolean[] helperSeen = new boolean[1];
            LockFreeCouponState target = new LockFreeCouponState();
            // the reading thread pulls every block through this stream, while a helper, if any, runs
            try (InputStream in = new FilterInputStream(Files.newInputStream(file)) {
                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    helperSeen[0] |= helperAlive();
                    return super.read(b, off, len);
                }
            }) {
                assertThat(CouponSnapshots.read(in, target, threads)).isEqualTo(300_000);
            }
            assertThat(helperSeen[0]).as(threads + " union threads: a helper ran").isEqualTo(threads == 2);
            assertThat(contents(target)).as(threads + " union threads").isEqualTo(expected);
        }
        assertThat(helperAlive()).isFalse();
    }

    @Test
    @Timeout(value = 300, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aChainRead_onOneThreadOrTwo_equalsTheSource_andContinuesTheChain() throws IOException {
        LockFreeCouponState state = new LockFreeCouponState(
                CouponStateConfig.builder().changeJournalCapacity(100_000).build());
        SplittableRandom random = new SplittableRandom(11);
        for (int i = 0; i < 200_000; i++) {
            state.addObservation(String.format("C%08d", i), "s" + random.nextInt(3));
        }
        Path base = dir.resolve("base");
        CouponSnapshots.writeBase(state, base);
        for (int i = 0; i < 50_000; i++) {
            state.addObservation(String.format("C%08d", 150_000 + i), "s" + random.nextInt(3));
        }
        Path delta = dir.resolve("delta-1");
        CouponSnapshots.writeDelta(state, delta);
        Map<String, Set<String>> expected = contents(state);
        for (int threads : new int[] {1, 2}) {
            LockFreeCouponState byPaths = new LockFreeCouponState(
                    CouponStateConfig.builder().changeJournalCapacity(100).build());
            CouponSnapshots.readChain(base, List.of(delta), byPaths, threads);
            assertThat(contents(byPaths)).as(threads + " union threads, readChain").isEqualTo(expected);
            assertThat(CouponSnapshots.baseNeeded(byPaths)).isFalse();

            StripedLockCouponState byChannels = new StripedLockCouponState(
                    CouponStateConfig.builder().changeJournalCapacity(100).build());
            CouponSnapshots.ChainReader reader = CouponSnapshots.chainReader(byChannels).unionThreads(threads);
            for (Path file : List.of(base, delta)) {
                try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
                    if (file == base) {
                        reader.base(in, in.size());
                    } else {
                        reader.delta(in, in.size());
                    }
                }
            }
            reader.complete();
            assertThat(contents(byChannels)).as(threads + " union threads, chainReader").isEqualTo(expected);
            assertThat(CouponSnapshots.baseNeeded(byChannels)).isFalse();
        }
        assertThat(helperAlive()).isFalse();
    }

    @Test
    void aThreadCountOtherThanOneOrTwo_isRefused_beforeAnythingIsRead() {
        LockFreeCouponState target = new LockFreeCouponState();
        Path missing = dir.resolve("missing");
        for (int bad : new int[] {0, 3, -1}) {
            String message = "unionThreads: " + bad + " (expected: 1 or 2)";
            assertThatThrownBy(() -> CouponSnapshots.read(missing, target, bad))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage(message);
            assertThatThrownBy(() -> CouponSnapshots.read(new ByteArrayInputStream(new byte[0]), target, bad))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage(message);
            assertThatThrownBy(() -> CouponSnapshots.readChain(missing, List.of(), target, bad))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage(message);
            assertThatThrownBy(() -> CouponSnapshots.chainReader(target).unionThreads(bad))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage(message);
        }
    }
}
