package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Bases, deltas and chains: round trips, refusals of every broken chain, the journal's overflow, concurrency. */
class CheckpointChainTest {

    static final List<Function<CouponStateConfig, AbstractCouponState>> IMPLEMENTATIONS =
            List.of(LockFreeCouponState::new, StripedLockCouponState::new);

    @TempDir
    Path dir;

    static CouponStateConfig journaled(int capacity) {
        return CouponStateConfig.builder().changeJournalCapacity(capacity).build();
    }

    @Test
    void baseAndDeltas_readBackInOrder_equalTheState_onEveryLayout() throws IOException {
        long seed = Long.getLong("couponstate.seed", System.nanoTime());
        System.out.println("chain round trip: seed " + seed + " (rerun with -Dcouponstate.seed=" + seed + ")");
        SplittableRandom random = new SplittableRandom(seed);
        for (Function<CouponStateConfig, AbstractCouponState> impl : IMPLEMENTATIONS) {
            for (CouponStateConfig layout : CouponStateContractTest.everyLayout()) {
                CouponStateConfig config = CouponStateConfig.builder().codeLength(8, layout.codeFormat().maxLength())
                        .maxSources(layout.maxSources()).threshold(layout.threshold())
                        .changeJournalCapacity(10_000).build();
                AbstractCouponState state = impl.apply(config);
                addRandom(state, random, 3_000, config);
                Path base = dir.resolve("base");
                CouponSnapshots.writeBase(state, base);
                List<Path> deltas = new ArrayList<>();
                for (int d = 1; d <= 3; d++) {
                    addRandom(state, random, 2_000, config);
                    Path delta = dir.resolve("delta-" + d);
                    CouponSnapshots.writeDelta(state, delta);
                    deltas.add(delta);
                }
                for (Function<CouponStateConfig, AbstractCouponState> to : IMPLEMENTATIONS) {
                    AbstractCouponState restored = to.apply(config);
                    CouponSnapshots.readChain(base, deltas, restored);
                    RestoreAtAnySizeTest.assertSameContent(state, restored);
                    assertThat(restored.validCount()).as(config.toString()).isEqualTo(state.validCount());
                }
            }
        }
    }

    static void addRandom(CouponState state, SplittableRandom random, int n, CouponStateConfig config) {
        int sources = Math.min(config.maxSources(), 6);
        for (int i = 0; i < n; i++) {
            String code = CouponStateContractTest.randomCode(random, 8 + random.nextInt(config.codeFormat().maxLength() - 7));
            state.addObservation(code, "s" + random.nextInt(sources));
        }
    }

    /** A small chain: base of the golden content, one delta of three changes. */
    private List<Path> smallChain(AbstractCouponState state) throws IOException {
        CouponSnapshotsTest.GOLDEN.forEach((code, sources) -> sources.forEach(s -> state.addObservation(code, s)));
        Path base = dir.resolve("base");
        CouponSnapshots.writeBase(state, base);
        state.addObservation("SUPER100", "couponbase2");
        state.addObservation("NEWCODE1", "couponbase3");
        state.addObservation("NEWCODE1", "couponbase1");
        Path delta = dir.resolve("delta-1");
        assertThat(CouponSnapshots.writeDelta(state, delta)).isEqualTo(3);
        return List.of(base, delta);
    }

    @Test
    void aDelta_withoutItsBase_isRefused_withAClearMessage() throws IOException {
        AbstractCouponState state = new LockFreeCouponState(journaled(100));
        List<Path> chain = smallChain(state);
        assertThatThrownBy(() -> CouponSnapshots.read(chain.get(1), new LockFreeCouponState()))
                .isInstanceOf(SnapshotFormatException.class)
                .hasMessageContaining("cannot be read without its base");
        // another chain's base (same content, new chain id)
        Path otherBase = dir.resolve("other-base");
        CouponSnapshots.writeBase(state, otherBase);
        AbstractCouponState target = new LockFreeCouponState();
        assertThatThrownBy(() -> CouponSnapshots.readChain(otherBase, List.of(chain.get(1)), target))
                .isInstanceOf(SnapshotFormatException.class)
                .hasMessageContaining("a delta of another base");
        assertThatThrownBy(() -> CouponSnapshots.readChain(chain.get(1), List.of(), new LockFreeCouponState()))
                .isInstanceOf(SnapshotFormatException.class)
                .hasMessageContaining("a delta where the chain's base was expected");
        Path plain = dir.resolve("plain");
        CouponSnapshots.write(state, plain);
        assertThatThrownBy(() -> CouponSnapshots.readChain(plain, List.of(chain.get(1)), new LockFreeCouponState()))
                .hasMessageContaining("a snapshot where the chain's base was expected");
    }

    @Test
    void aTornDelta_isRefused_atEveryTruncationPoint() throws IOException {
        AbstractCouponState state = new LockFreeCouponState(journaled(100));
        List<Path> chain = smallChain(state);
        byte[] delta = Files.readAllBytes(chain.get(1));
        Path torn = dir.resolve("torn");
        for (int length = 0; length < delta.length; length++) {
            Files.write(torn, Arrays.copyOf(delta, length));
            AbstractCouponState target = new StripedLockCouponState();
            assertThatThrownBy(() -> CouponSnapshots.readChain(chain.get(0), List.of(torn), target))
                    .as("cut at %d", length).isInstanceOf(SnapshotFormatException.class)
                    .hasMessageContaining(torn.toString());
            assertOnlyGenuine(target, state);
        }
    }

    @Test
    void aBitFlippedDelta_isRefused_atEveryBit() throws IOException {
        AbstractCouponState state = new LockFreeCouponState(journaled(100));
        List<Path> chain = smallChain(state);
        byte[] delta = Files.readAllBytes(chain.get(1));
        Path flippedFile = dir.resolve("flipped");
        for (int bit = 0; bit < delta.length * 8; bit++) {
            byte[] flipped = delta.clone();
            flipped[bit / 8] ^= (byte) (1 << (bit % 8));
            Files.write(flippedFile, flipped);
            AbstractCouponState target = new StripedLockCouponState();
            assertThatThrownBy(() -> CouponSnapshots.readChain(chain.get(0), List.of(flippedFile), target))
                    .as("bit %d", bit).isInstanceOf(SnapshotFormatException.class);
            assertOnlyGenuine(target, state);
        }
    }

    /** What a failed read left in {@code target} is a part of {@code truth}: never a corrupt observation. */
    private static void assertOnlyGenuine(AbstractCouponState target, AbstractCouponState truth) {
        target.forEachEntry((key, mask) -> assertThat(truth.mask(key) & mask).isEqualTo(mask));
    }

    @Test
    void deltasOutOfOrder_orWithOneMissing_areRefused() throws IOException {
        AbstractCouponState state = new LockFreeCouponState(journaled(100));
        List<Path> chain = smallChain(state);
        state.addObservation("SECOND22", "couponbase1");
        Path second = dir.resolve("delta-2");
        CouponSnapshots.writeDelta(state, second);
        Path base = chain.get(0);
        Path first = chain.get(1);
        assertThatThrownBy(() -> CouponSnapshots.readChain(base, List.of(second, first), new LockFreeCouponState()))
                .isInstanceOf(SnapshotFormatException.class)
                .hasMessageContaining("delta sequence 2 where 1 was expected");
        assertThatThrownBy(() -> CouponSnapshots.readChain(base, List.of(first, first), new LockFreeCouponState()))
                .hasMessageContaining("delta sequence 1 where 2 was expected");
        AbstractCouponState ok = new LockFreeCouponState();
        CouponSnapshots.readChain(base, List.of(first, second), ok);
        RestoreAtAnySizeTest.assertSameContent(state, ok);
    }

    @Test
    void anOverflowedJournal_forcesABase() throws IOException {
        AbstractCouponState state = new LockFreeCouponState(journaled(10));
        assertThat(CouponSnapshots.baseNeeded(state)).isTrue();
        assertThatThrownBy(() -> CouponSnapshots.writeDelta(state, dir.resolve("d0")))
                .isInstanceOf(BaseNeededException.class).hasMessageContaining("no base has been written");
        Path base = dir.resolve("base");
        CouponSnapshots.writeBase(state, base);
        assertThat(CouponSnapshots.baseNeeded(state)).isFalse();
        for (int i = 0; i < 11; i++) {
            state.addObservation(String.format("OVER%04d", i), "a");
        }
        assertThat(CouponSnapshots.baseNeeded(state)).isTrue();
        assertThatThrownBy(() -> CouponSnapshots.writeDelta(state, dir.resolve("d1")))
                .isInstanceOf(BaseNeededException.class)
                .hasMessageContaining("the change journal overflowed (more than 10 changes");
        assertThat(Files.exists(dir.resolve("d1"))).isFalse();
        assertThatThrownBy(() -> CouponSnapshots.writeDelta(state, dir.resolve("d1")))
                .isInstanceOf(BaseNeededException.class); // still: the lost changes are only in a new base
        CouponSnapshots.writeBase(state, base);
        state.addObservation("AFTER001", "b");
        Path delta = dir.resolve("d1");
        assertThat(CouponSnapshots.writeDelta(state, delta)).isEqualTo(1);
        AbstractCouponState restored = new LockFreeCouponState();
        CouponSnapshots.readChain(base, List.of(delta), restored);
        RestoreAtAnySizeTest.assertSameContent(state, restored);
    }

    @Test
    void withoutAJournal_orAfterAForeignUnion_orAFailedWrite_aDeltaIsRefused() throws IOException {
        AbstractCouponState plain = new LockFreeCouponState();
        CouponSnapshots.writeBase(plain, dir.resolve("b0"));
        assertThatThrownBy(() -> CouponSnapshots.writeDelta(plain, dir.resolve("d0")))
                .isInstanceOf(BaseNeededException.class).hasMessageContaining("changeJournalCapacity is 0");

        AbstractCouponState state = new StripedLockCouponState(journaled(100));
        CouponSnapshots.writeBase(state, dir.resolve("b1"));
        CouponSnapshots.read(dir.resolve("b0"), state); // foreign data: not in the journal
        assertThatThrownBy(() -> CouponSnapshots.writeDelta(state, dir.resolve("d1")))
                .isInstanceOf(BaseNeededException.class).hasMessageContaining("from outside the chain");

        CouponSnapshots.writeBase(state, dir.resolve("b1"));
        state.addObservation("LOSTMAYB", "a");
        assertThatThrownBy(() -> CouponSnapshots.writeDelta(state, dir.resolve("no-such-dir").resolve("d1")))
                .isInstanceOf(IOException.class);
        assertThatThrownBy(() -> CouponSnapshots.writeDelta(state, dir.resolve("d1")))
                .isInstanceOf(BaseNeededException.class).hasMessageContaining("failed");
    }

    @Test
    void aChainReadIntoAnEmptyState_continuesTheChain_withoutJournalingTheRestoredEntries() throws IOException {
        AbstractCouponState first = new LockFreeCouponState(journaled(100));
        List<Path> chain = new ArrayList<>(smallChain(first));
        AbstractCouponState second = new StripedLockCouponState(journaled(100));
        CouponSnapshots.readChain(chain.get(0), chain.subList(1, 2), second);
        assertThat(CouponSnapshots.baseNeeded(second)).isFalse();
        second.addObservation("SECOND22", "couponbase2");
        Path delta2 = dir.resolve("delta-2");
        assertThat(CouponSnapshots.writeDelta(second, delta2)).as("only the change made after the restore").isOne();
        chain.add(delta2);
        AbstractCouponState third = new LockFreeCouponState();
        CouponSnapshots.readChain(chain.get(0), chain.subList(1, 3), third);
        RestoreAtAnySizeTest.assertSameContent(second, third);
        // into a state that already held something: the chain does not continue there
        AbstractCouponState busy = new LockFreeCouponState(journaled(100));
        busy.addObservation("BUSYBUSY", "x");
        CouponSnapshots.readChain(chain.get(0), chain.subList(1, 3), busy);
        assertThatThrownBy(() -> CouponSnapshots.writeDelta(busy, dir.resolve("d")))
                .isInstanceOf(BaseNeededException.class).hasMessageContaining("not empty");
    }

    @Test
    @Timeout(value = 300, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void concurrentWriters_duringMarksAndDeltas_baseUnionDeltasEqualsTheFinalState() throws Exception {
        long baseSeed = Long.getLong("couponstate.stress.seed", System.nanoTime());
        System.out.println("chain stress: seed " + baseSeed + " (rerun with -Dcouponstate.stress.seed=" + baseSeed + ")");
        for (int round = 0; round < 4; round++) {
            long seed = baseSeed + round;
            boolean wide = round % 2 == 1;
            CouponStateConfig config = CouponStateConfig.builder().codeLength(8, wide ? 12 : 10).maxSources(4)
                    .changeJournalCapacity(1 << 20).build();
            AbstractCouponState state = IMPLEMENTATIONS.get(round / 2 % 2).apply(config);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicBoolean writing = new AtomicBoolean(true);
            List<Thread> writers = new ArrayList<>();
            for (int w = 0; w < 2; w++) {
                SplittableRandom random = new SplittableRandom(seed * 31 + w);
                writers.add(new Thread(() -> {
                    try {
                        for (int i = 0; i < 150_000; i++) {
                            state.addObservation(CouponStateContractTest.randomCode(random, 8 + random.nextInt(3)),
                                    "s" + random.nextInt(4));
                        }
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    }
                }));
            }
            writers.forEach(Thread::start);
            Path base = dir.resolve("stress-base");
            CouponSnapshots.writeBase(state, base);
            List<Path> deltas = new ArrayList<>();
            Thread watcher = new Thread(() -> {
                for (Thread t : writers) {
                    try {
                        t.join();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                writing.set(false);
            });
            watcher.start();
            while (writing.get()) {
                Path delta = dir.resolve("stress-delta-" + (deltas.size() + 1));
                CouponSnapshots.writeDelta(state, delta);
                deltas.add(delta);
            }
            watcher.join();
            Path last = dir.resolve("stress-delta-" + (deltas.size() + 1));
            CouponSnapshots.writeDelta(state, last); // after the writers: holds the rest
            deltas.add(last);
            assertThat(failure.get()).as("seed %d", seed).isNull();
            AbstractCouponState restored = new LockFreeCouponState(config);
            CouponSnapshots.readChain(base, deltas, restored);
            System.out.println("chain stress round " + round + ": " + deltas.size() + " deltas, " + state.size()
                    + " codes");
            RestoreAtAnySizeTest.assertSameContent(state, restored);
            assertThat(restored.validCount()).isEqualTo(state.validCount());
            for (Path delta : deltas) {
                Files.delete(delta);
            }
        }
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aBaseOf2MCodes_andADeltaOnTop_restoreIntoADefaultSizedState() throws IOException {
        AbstractCouponState state = new LockFreeCouponState(journaled(1 << 20));
        byte[] code = new byte[8];
        int a = state.sourceId("a");
        int b = state.sourceId("b");
        for (int i = 0; i < 2_000_000; i++) {
            LockFreeGrowthStressTest.codeOf(i, code);
            state.addObservation(code, 0, 8, a);
        }
        Path base = dir.resolve("base");
        CouponSnapshots.writeBase(state, base);
        for (int i = 0; i < 2_100_000; i += 21) { // 100,000 changes, some on new codes
            LockFreeGrowthStressTest.codeOf(i, code);
            state.addObservation(code, 0, 8, b);
        }
        Path delta = dir.resolve("delta");
        assertThat(CouponSnapshots.writeDelta(state, delta)).isEqualTo(100_000);
        AbstractCouponState restored = new StripedLockCouponState();
        assertThat(CouponSnapshots.readChain(base, List.of(delta), restored)).isEqualTo(2_100_000);
        RestoreAtAnySizeTest.assertSameContent(state, restored);
    }
}
