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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The channel forms of the chain API (for files that hold more than the chain file, as the runner's checkpoints do):
 * {@link CouponSnapshots#writeBase(CouponState, FileChannel)}, {@link CouponSnapshots#writeDelta(CouponState,
 * FileChannel)} and {@link CouponSnapshots.ChainReader}, each file behind a prefix of its own.
 */
class ChainChannelTest {

    private static final byte[] PREFIX = {9, 8, 7, 6, 5};

    @TempDir
    Path dir;

    private Path write(String name, CouponState state, boolean base) throws IOException {
        Path file = dir.resolve(name);
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            c.write(ByteBuffer.wrap(PREFIX));
            if (base) {
                CouponSnapshots.writeBase(state, c);
            } else {
                CouponSnapshots.writeDelta(state, c);
            }
        }
        return file;
    }

    private static long read(Path file, CouponSnapshots.ChainReader reader, boolean base) throws IOException {
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.READ)) {
            c.position(PREFIX.length);
            long bytes = c.size() - PREFIX.length;
            return base ? reader.base(c, bytes) : reader.delta(c, bytes);
        }
    }

    private static Map<String, Set<String>> contents(CouponState state) {
        Map<String, Set<String>> m = new HashMap<>();
        state.forEachCouponCode(1, code -> m.put(code, state.getObservations(code)));
        return m;
    }

    private static void observe(CouponState state, SplittableRandom random, int n) {
        for (int i = 0; i < n; i++) {
            state.addObservation(String.format("K%07d", random.nextInt(50_000)), "s" + random.nextInt(3));
        }
    }

    @Test
    void baseAndDeltasBehindAPrefix_readBack_andTheTargetContinuesTheChain() throws IOException {
        long seed = Long.getLong("couponstate.seed", System.nanoTime());
        System.out.println("ChainChannelTest seed " + seed + " (-Dcouponstate.seed=" + seed + ")");
        SplittableRandom random = new SplittableRandom(seed);
        CouponStateConfig config = CouponStateConfig.builder().changeJournalCapacity(1 << 14).build();
        LockFreeCouponState state = new LockFreeCouponState(config);
        observe(state, random, 3_000);
        Path base = write("base", state, true);
        observe(state, random, 500);
        Path d1 = write("d1", state, false);
        observe(state, random, 500);
        Path d2 = write("d2", state, false);

        LockFreeCouponState target = new LockFreeCouponState(config);
        CouponSnapshots.ChainReader reader = CouponSnapshots.chainReader(target);
        assertThat(CouponSnapshots.baseNeeded(target)).isTrue();
        read(base, reader, true);
        read(d1, reader, false);
        read(d2, reader, false);
        reader.complete();
        assertThat(contents(target)).isEqualTo(contents(state));
        assertThat(CouponSnapshots.baseNeeded(target)).as("a completed chain continues").isFalse();
        target.addObservation("NEWCODE1", "s1");
        Path d3 = write("d3", target, false);

        LockFreeCouponState again = new LockFreeCouponState(config);
        CouponSnapshots.ChainReader second = CouponSnapshots.chainReader(again);
        read(base, second, true);
        read(d1, second, false);
        read(d2, second, false);
        read(d3, second, false);
        second.complete();
        assertThat(contents(again)).isEqualTo(contents(target));
    }

    @Test
    void aDeltaOutOfOrder_isRefused_andTheTargetThenNeedsABase() throws IOException {
        CouponStateConfig config = CouponStateConfig.builder().changeJournalCapacity(1 << 10).build();
        StripedLockCouponState state = new StripedLockCouponState(config);
        state.addObservation("AAAAAAAA", "s1");
        Path base = write("base", state, true);
        state.addObservation("BBBBBBBB", "s1");
        write("d1", state, false);
        state.addObservation("CCCCCCCC", "s2");
        Path d2 = write("d2", state, false);

        StripedLockCouponState target = new StripedLockCouponState(config);
        CouponSnapshots.ChainReader reader = CouponSnapshots.chainReader(target);
        assertThatThrownBy(() -> read(d2, reader, false)).isInstanceOf(IllegalStateException.class)
                .hasMessage("no base read yet");
        read(base, reader, true);
        assertThatThrownBy(() -> read(d2, reader, false)).isInstanceOf(SnapshotFormatException.class)
                .hasMessageContaining("delta sequence 2 where 1 was expected");
        assertThatThrownBy(reader::complete).isInstanceOf(IllegalStateException.class);
        assertThat(target.getObservations("CCCCCCCC")).isEmpty();
        assertThat(CouponSnapshots.baseNeeded(target)).isTrue();
        assertThatThrownBy(() -> write("d9", target, false)).isInstanceOf(BaseNeededException.class);
    }

    @Test
    void withoutAJournal_theChannelDeltaIsRefused() throws IOException {
        StripedLockCouponState state = new StripedLockCouponState();
        state.addObservation("AAAAAAAA", "s1");
        write("base", state, true);
        assertThat(CouponSnapshots.keepsJournal(state)).isFalse();
        assertThatThrownBy(() -> write("d1", state, false)).isInstanceOf(BaseNeededException.class)
                .hasMessageContaining("changeJournalCapacity is 0");
        assertThat(Files.exists(dir.resolve("base"))).isTrue();
    }
    @Test
    void reserve_makesRoomBeyondTheBase_soDeltasAndNewCodesDoNotGrowTheTableAtOnce() throws IOException {
        for (boolean lockFree : new boolean[] {true, false}) {
            CouponStateConfig config = CouponStateConfig.builder().changeJournalCapacity(1 << 16).build();
            AbstractCouponState state = lockFree ? new LockFreeCouponState(config) : new StripedLockCouponState(config);
            for (int i = 0; i < 20_000; i++) {
                state.addObservation(String.format("B%07d", i), "s1");
            }
            Path base = write("base-" + lockFree, state, true);
            for (int i = 0; i < 5_000; i++) {
                state.addObservation(String.format("D%07d", i), "s2");
            }
            Path delta = write("delta-" + lockFree, state, false);

            AbstractCouponState plain = lockFree ? new LockFreeCouponState(config)
                    : new StripedLockCouponState(config);
            read(base, CouponSnapshots.chainReader(plain), true);
            long filled = capacity(plain);

            AbstractCouponState roomy = lockFree ? new LockFreeCouponState(config)
                    : new StripedLockCouponState(config);
            CouponSnapshots.ChainReader reader = CouponSnapshots.chainReader(roomy).reserve(10_000);
            read(base, reader, true);
            long reserved = capacity(roomy);
            assertThat(reserved).as("lockFree=%s: the base read grew the table for the reserve too", lockFree)
                    .isGreaterThan(filled);
            read(delta, reader, false);
            reader.complete();
            for (int i = 0; i < 5_000; i++) {
                roomy.addObservation(String.format("T%07d", i), "s3");
            }
            assertThat(capacity(roomy)).as("lockFree=%s: 10,000 reserved codes came without a grow", lockFree)
                    .isEqualTo(reserved);
            assertThat(roomy.size()).isEqualTo(30_000);
            assertThatThrownBy(() -> reader.reserve(1)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("before base()");
            assertThatThrownBy(() -> CouponSnapshots.chainReader(plain).reserve(-1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1 (expected: >= 0)");
        }
    }

    private static long capacity(AbstractCouponState state) {
        return state instanceof LockFreeCouponState ? ((LockFreeCouponState) state).capacity()
                : ((StripedLockCouponState) state).capacity();
    }
}
