package io.couponstate.kafka.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.StripedLockCouponState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointStoreTest {

    @TempDir
    Path dir;

    private static Map<TopicPartition, Long> offsets(long base) {
        Map<TopicPartition, Long> m = new LinkedHashMap<>();
        m.put(new TopicPartition("couponbase1", 0), base);
        m.put(new TopicPartition("couponbase2", 3), base + 7);
        return m;
    }

    private static StripedLockCouponState stateWith(String... codes) {
        StripedLockCouponState s = new StripedLockCouponState();
        for (String c : codes) {
            s.addObservation(c, "couponbase1");
            s.addObservation(c, "couponbase2");
        }
        return s;
    }

    @Test
    void restore_returnsTheOffsetsAndStateWritten() throws IOException {
        CheckpointStore store = new CheckpointStore(dir);
        store.write(offsets(5), stateWith("ABCDEFGH", "BIRTHDAY1"), 1L);
        StripedLockCouponState target = new StripedLockCouponState();
        Optional<CheckpointStore.Restored> r = new CheckpointStore(dir).restore(target);
        assertThat(r).isPresent();
        assertThat(r.get().offsets()).isEqualTo(offsets(5));
        assertThat(r.get().sequence()).isEqualTo(1);
        assertThat(target.isValid("BIRTHDAY1")).isTrue();
        assertThat(target.size()).isEqualTo(2);
    }

    @Test
    void write_keepsTheNewestTwo() throws IOException {
        CheckpointStore store = new CheckpointStore(dir);
        for (int i = 0; i < 5; i++) {
            store.write(offsets(i), stateWith("ABCDEFGH"), i);
        }
        assertThat(store.list().keySet()).containsExactly(4L, 5L);
        try (var files = Files.list(dir)) {
            assertThat(files.count()).isEqualTo(2);
        }
    }

    @Test
    void restore_skipsACorruptNewestAndUsesTheOlder() throws IOException {
        CheckpointStore store = new CheckpointStore(dir);
        store.write(offsets(1), stateWith("AAAAAAAA"), 1L);
        Path newest = store.write(offsets(2), stateWith("AAAAAAAA", "BBBBBBBB"), 2L);
        byte[] bytes = Files.readAllBytes(newest);
        bytes[bytes.length - 10] ^= 0x55; // inside the snapshot's end block
        Files.write(newest, bytes);

        StripedLockCouponState target = new StripedLockCouponState();
        CheckpointStore again = new CheckpointStore(dir);
        Optional<CheckpointStore.Restored> r = again.restore(target);
        assertThat(r.get().sequence()).isEqualTo(1);
        assertThat(r.get().offsets()).isEqualTo(offsets(1));
        assertThat(target.isValid("AAAAAAAA")).isTrue();
        assertThat(Files.exists(newest.resolveSibling(newest.getFileName() + ".corrupt"))).isTrue();
        assertThat(again.write(offsets(3), target, 3L).getFileName().toString())
                .isEqualTo("checkpoint-00000000000000000003.ckpt"); // a sequence past the corrupt one
    }

    @Test
    void restore_skipsATruncatedNewest() throws IOException {
        CheckpointStore store = new CheckpointStore(dir);
        store.write(offsets(1), stateWith("AAAAAAAA"), 1L);
        Path newest = store.write(offsets(2), stateWith("BBBBBBBB"), 2L);
        byte[] bytes = Files.readAllBytes(newest);
        Files.write(newest, Arrays.copyOf(bytes, bytes.length / 2));
        Optional<CheckpointStore.Restored> r = new CheckpointStore(dir).restore(new StripedLockCouponState());
        assertThat(r.get().sequence()).isEqualTo(1);
    }

    @Test
    void read_refusesSayingWhichCheckFailed() throws IOException {
        CheckpointStore store = new CheckpointStore(dir);
        Path file = store.write(offsets(1), stateWith("AAAAAAAA"), 1L);
        byte[] good = Files.readAllBytes(file);

        byte[] badMagic = good.clone();
        badMagic[0] = 'X';
        Files.write(file, badMagic);
        assertThatThrownBy(() -> CheckpointStore.read(file, new StripedLockCouponState()))
                .hasMessageStartingWith("no checkpoint magic");

        byte[] badOffset = good.clone();
        badOffset[30] ^= 1; // inside the first partition entry
        Files.write(file, badOffset);
        assertThatThrownBy(() -> CheckpointStore.read(file, new StripedLockCouponState()))
                .hasMessageStartingWith("checkpoint header CRC32C mismatch");

        Files.write(file, Arrays.copyOf(good, 12));
        assertThatThrownBy(() -> CheckpointStore.read(file, new StripedLockCouponState()))
                .hasMessage("checkpoint header truncated");
    }

    @Test
    void restore_deletesAnUnfinishedTemporaryFile() throws IOException {
        Path tmp = dir.resolve("checkpoint-00000000000000000009.ckpt.tmp");
        Files.write(tmp, new byte[] {1, 2, 3});
        assertThat(new CheckpointStore(dir).restore(new StripedLockCouponState())).isEmpty();
        assertThat(Files.exists(tmp)).isFalse();
    }

    @Test
    void write_callsTheHookAfterFsyncBeforeRename() throws IOException {
        Path[] seen = new Path[2];
        CheckpointStore.setHook((tmp, target) -> {
            seen[0] = tmp;
            seen[1] = target;
            assertThat(Files.exists(tmp)).isTrue();
            assertThat(Files.exists(target)).isFalse();
        });
        try {
            Path file = new CheckpointStore(dir).write(offsets(1), stateWith("AAAAAAAA"), 1L);
            assertThat(seen[1]).isEqualTo(file);
        } finally {
            CheckpointStore.setHook(null);
        }
    }
}
