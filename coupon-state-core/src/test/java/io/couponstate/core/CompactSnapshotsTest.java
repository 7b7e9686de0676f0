package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Switching between {@link CompactCouponState} and the other implementations across a restart restores the same
 * state: snapshots and base/delta chains written by each are read by each, and the golden files of every earlier
 * version read into a compact state.
 */
class CompactSnapshotsTest {

    private static final List<Function<CouponStateConfig, AbstractCouponState>> IMPLEMENTATIONS = List.of(
            LockFreeCouponState::new, StripedLockCouponState::new, CompactCouponState::new);

    @Test
    void goldenFilesOfEveryVersion_readIntoACompactState() throws IOException {
        for (int version = 1; version <= CouponSnapshots.VERSION; version++) {
            CompactCouponState target = new CompactCouponState();
            CouponSnapshots.read(new ByteArrayInputStream(CouponSnapshotsTest.golden(version)), target);
            CouponSnapshotsTest.assertGolden(target);
        }
    }

    @Test
    void snapshotsWrittenByEachImplementation_readIntoEach_onEveryLayout() throws IOException {
        for (CouponStateConfig config : CouponStateContractTest.everyLayout()) {
            for (Function<CouponStateConfig, AbstractCouponState> from : IMPLEMENTATIONS) {
                AbstractCouponState written = filled(from.apply(config), 5_000);
                byte[] bytes = CouponSnapshotsTest.write(written);
                Map<Long, Long> expected = entries(written);
                for (Function<CouponStateConfig, AbstractCouponState> to : IMPLEMENTATIONS) {
                    AbstractCouponState read = to.apply(config);
                    CouponSnapshots.read(new ByteArrayInputStream(bytes), read);
                    assertThat(entries(read)).as("%s into %s, %s", written.getClass().getSimpleName(),
                            read.getClass().getSimpleName(), config).isEqualTo(expected);
                    assertThat(read.sourceNames()).isEqualTo(written.sourceNames());
                    assertThat(read.validCount()).isEqualTo(written.validCount());
                }
            }
        }
    }

    @Test
    void aBaseAndDeltasWrittenByEach_readIntoEach(@TempDir Path dir) throws IOException {
        CouponStateConfig config = CouponStateConfig.builder().changeJournalCapacity(100_000).build();
        int n = 0;
        for (Function<CouponStateConfig, AbstractCouponState> from : IMPLEMENTATIONS) {
            AbstractCouponState written = filled(from.apply(config), 10_000);
            Path base = dir.resolve("base-" + n);
            CouponSnapshots.writeBase(written, base);
            filled(written, 12_000); // more sources for the same codes, and new codes
            Path delta = dir.resolve("delta-" + n++);
            CouponSnapshots.writeDelta(written, delta);
            for (Function<CouponStateConfig, AbstractCouponState> to : IMPLEMENTATIONS) {
                AbstractCouponState read = to.apply(config);
                CouponSnapshots.readChain(base, List.of(delta), read);
                assertThat(entries(read)).isEqualTo(entries(written));
            }
        }
    }

    /** Adds {@code codes} seeded codes (the same ones for the same count) to four sources. */
    private static AbstractCouponState filled(AbstractCouponState state, int codes) {
        SplittableRandom random = new SplittableRandom(codes);
        int maxLength = state.config().codeFormat().maxLength();
        for (int i = 0; i < codes; i++) {
            String code = CouponStateContractTest.randomCode(random, 8 + random.nextInt(maxLength - 7));
            state.addObservation(code, "s" + random.nextInt(Math.min(4, state.config().maxSources())));
        }
        return state;
    }

    private static Map<Long, Long> entries(AbstractCouponState state) {
        Map<Long, Long> entries = new HashMap<>();
        state.forEachEntry(entries::put);
        return entries;
    }
}
