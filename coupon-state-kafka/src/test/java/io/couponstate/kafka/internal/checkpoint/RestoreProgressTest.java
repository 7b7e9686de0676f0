package io.couponstate.kafka.internal.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.CouponCheckpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a watcher sees of a checkpoint restore: bytes read out of a total known before reading, and the rate. */
class RestoreProgressTest {

    @TempDir
    Path dir;

    @Test
    void counters_beforeDuringAndAfter_withTheRateOverTheWholeRestore() {
        RestoreProgress p = new RestoreProgress();
        assertThat(p.readBytes()).isZero();
        assertThat(p.totalBytes()).isZero();
        assertThat(p.bytesPerSecond(123)).as("not started").isZero();

        p.begin(3_000_000, 1_000_000_000L);
        p.add(1_000_000);
        assertThat(p.readBytes()).isEqualTo(1_000_000);
        assertThat(p.totalBytes()).isEqualTo(3_000_000);
        assertThat(p.bytesPerSecond(1_500_000_000L)).as("1 MB in 0.5 s").isEqualTo(2e6);

        p.add(1_000_000);
        p.finish(2_000_000, 2_000_000_000L);
        assertThat(p.totalBytes()).as("the chain ended early: the total is what was read").isEqualTo(2_000_000);
        assertThat(p.bytesPerSecond(9_000_000_000L)).as("over the restore, not until now").isEqualTo(2e6);
    }

    @Test
    void restore_ofABaseAndDeltas_readsExactlyTheFilesSizes() throws IOException {
        StripedLockCouponState state = new StripedLockCouponState(CouponStateConfig.builder()
                .changeJournalCapacity(1 << 12).build());
        TopicPartition tp = new TopicPartition("t", 0);
        try (CouponCheckpoints store = CouponCheckpoints.open(dir, CouponCheckpoints.Options.defaults().baseRolloverFraction(100))) {
            for (int i = 0; i < 3; i++) {
                for (int c = 0; c < 200; c++) {
                    state.addObservation(String.format("CODE%05d", i * 1000 + c), "s" + (c % 2));
                }
                store.write(state, Map.of(tp, (long) i + 1), Map.of());
            }
        }
        TreeMap<Long, Path> files = CheckpointDirectory.list(dir);
        assertThat(files).hasSize(3);
        assertThat(CheckpointFormat.decode(files.lastEntry().getValue()).isDelta()).isTrue();
        long total = 0;
        for (Path f : files.values()) {
            total += Files.size(f);
        }
        try (CouponCheckpoints store = CouponCheckpoints.open(dir, CouponCheckpoints.Options.defaults().baseRolloverFraction(100))) {
            assertThat(store.restoreBytesTotal()).as("before the restore").isZero();
            assertThat(store.restoreCheckpoint(new StripedLockCouponState(CouponStateConfig.builder()
                    .changeJournalCapacity(1 << 12).build()))).isPresent();
            assertThat(store.restoreBytesRead()).isEqualTo(total);
            assertThat(store.restoreBytesTotal()).isEqualTo(total);
            assertThat(store.restoreBytesPerSecond(System.nanoTime())).isGreaterThanOrEqualTo(0);
        }
    }

    @Test
    void restore_ofAnEmptyDirectory_isDoneAtZero() throws IOException {
        try (CouponCheckpoints store = CouponCheckpoints.open(dir)) {
            assertThat(store.restoreCheckpoint(new StripedLockCouponState())).isEmpty();
            assertThat(store.restoreBytesRead()).isZero();
            assertThat(store.restoreBytesTotal()).isZero();
        }
    }
}
