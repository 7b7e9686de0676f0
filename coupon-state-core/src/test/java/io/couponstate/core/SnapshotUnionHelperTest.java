package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The second thread of a big snapshot read ({@code couponstate.snapshot.unionHelper=always} forces it, so that it
 * runs on a one-core test machine too): the target ends equal to the source, through a source remap too, and a
 * damaged block fails the read loudly and leaves no helper thread behind. Timeouts are hang guards.
 */
class SnapshotUnionHelperTest {

    private static final String PROPERTY = "couponstate.snapshot.unionHelper";

    @TempDir
    Path dir;

    @BeforeEach
    void forceHelper() {
        System.setProperty(PROPERTY, "always");
    }

    @AfterEach
    void auto() {
        System.clearProperty(PROPERTY);
    }

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
            assertThat(CouponSnapshots.read(file, target)).isEqualTo(2_000_000);
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
        assertThatThrownBy(() -> CouponSnapshots.read(file, target)).isInstanceOf(SnapshotFormatException.class)
                .hasMessageContaining("checksum mismatch");
        assertThat(helperAlive()).as("the helper is joined on failure").isFalse();
        assertThat(target.size()).as("the blocks before the damaged one were applied, whole")
                .isPositive().isLessThan(300_000);
        for (String code : new String[] {"H00000000", "H00299999"}) {
            // whatever is in the target came from the source: a code's sources are never more than the source's
            assertThat(source.getObservations(code)).containsAll(target.getObservations(code));
        }
    }
}
