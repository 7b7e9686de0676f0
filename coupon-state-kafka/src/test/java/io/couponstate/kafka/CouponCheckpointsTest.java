package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.internal.checkpoint.PartitionedMarker;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The rules {@link CouponCheckpoints} states in its javadoc, each on real files. */
class CouponCheckpointsTest {

    private static final TopicPartition A0 = new TopicPartition("fixtopica", 0);
    private static final TopicPartition A1 = new TopicPartition("fixtopica", 1);
    private static final TopicPartition B0 = new TopicPartition("fixtopicb", 0);

    @TempDir
    Path dir;

    private static StripedLockCouponState stateWith(String source, String... codes) {
        StripedLockCouponState s = new StripedLockCouponState();
        for (String c : codes) {
            s.addObservation(c, source);
        }
        return s;
    }

    private static StripedLockCouponState journaled() {
        return new StripedLockCouponState(CouponStateConfig.builder().changeJournalCapacity(1 << 12).build());
    }

    // ------------------------------------------------------------------------------------------ restore and write

    @Test
    void restore_ofAnEmptyDirectory_isEmpty_andWriteThenRestore_givesTheOffsetsAndCodes() throws IOException {
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            assertThat(checkpoints.restore(new StripedLockCouponState())).isEmpty();
            assertThat(checkpoints.fellBack()).isFalse();
            checkpoints.write(stateWith("fixtopica", "BIRTHDAY1", "SUMMER2024"), Map.of(A0, 7L, A1, 0L));
        }
        StripedLockCouponState target = new StripedLockCouponState();
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            assertThat(checkpoints.restore(target)).isEqualTo(Map.of(A0, 7L, A1, 0L));
        }
        assertThat(target.getObservations("BIRTHDAY1")).containsExactly("fixtopica");
        assertThat(target.size()).isEqualTo(2);
    }

    @Test
    void write_beforeRestore_onADirectoryWithCheckpoints_isRefused_untilRestoreRan() throws IOException {
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            checkpoints.write(stateWith("fixtopica", "BIRTHDAY1"), Map.of(A0, 1L)); // an empty directory: allowed
            checkpoints.write(stateWith("fixtopica", "BIRTHDAY1"), Map.of(A0, 2L)); // and again
        }
        List<CouponCheckpoints.Checkpoint> before = CouponCheckpoints.list(dir);
        StripedLockCouponState empty = new StripedLockCouponState();
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            assertThatThrownBy(() -> checkpoints.write(empty, Map.of(A0, 3L)))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(dir.toAbsolutePath().toString())
                    .hasMessageContaining("restore(state) before the first write");
            assertThat(CouponCheckpoints.list(dir)).extracting(CouponCheckpoints.Checkpoint::file)
                    .isEqualTo(before.stream().map(CouponCheckpoints.Checkpoint::file).toList());
            assertThat(checkpoints.restore(empty)).isEqualTo(Map.of(A0, 2L));
            checkpoints.write(empty, Map.of(A0, 3L));
        }
        StripedLockCouponState target = new StripedLockCouponState();
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            assertThat(checkpoints.restore(target)).isEqualTo(Map.of(A0, 3L));
        }
        assertThat(target.getObservations("BIRTHDAY1")).as("the good chain was never replaced by less")
                .containsExactly("fixtopica");
    }

    @Test
    void restore_intoANonEmptyState_isAUnion() throws IOException {
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            StripedLockCouponState s = stateWith("fixtopica", "BIRTHDAY1", "SUMMER2024");
            checkpoints.write(s, Map.of(A0, 2L));
        }
        StripedLockCouponState target = stateWith("fixtopicb", "BIRTHDAY1", "WINTER2025");
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            checkpoints.restore(target);
        }
        assertThat(target.size()).isEqualTo(3);
        assertThat(target.getObservations("BIRTHDAY1")).containsExactlyInAnyOrder("fixtopica", "fixtopicb");
        assertThat(target.getObservations("WINTER2025")).containsExactly("fixtopicb");
        assertThat(target.getObservations("SUMMER2024")).containsExactly("fixtopica");
        assertThat(target.isValid("BIRTHDAY1")).isTrue();
    }

    @Test
    void aPartitionAbsentFromAWrite_keepsThePreviousOffset_alsoAcrossARestore() throws IOException {
        StripedLockCouponState state = journaled();
        state.addObservation("BIRTHDAY1", "fixtopica");
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            checkpoints.write(state, Map.of(A0, 5L, A1, 9L));
            state.addObservation("SUMMER2024", "fixtopica");
            CouponCheckpoints.Checkpoint second = checkpoints.write(state, Map.of(A0, 6L), Map.of());
            assertThat(second.offsets()).isEqualTo(Map.of(A0, 6L, A1, 9L));
        }
        StripedLockCouponState restored = journaled();
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            assertThat(checkpoints.restore(restored)).isEqualTo(Map.of(A0, 6L, A1, 9L));
            checkpoints.write(restored, Map.of(B0, 1L));
        }
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            assertThat(checkpoints.restore(new StripedLockCouponState()))
                    .isEqualTo(Map.of(A0, 6L, A1, 9L, B0, 1L));
        }
    }

    @Test
    void baseOrDelta_asTheRunnerChooses_andTheChainRestores() throws IOException {
        StripedLockCouponState state = journaled();
        state.addObservation("BIRTHDAY1", "fixtopica");
        Map<String, Uuid> ids = Map.of("fixtopica", new Uuid(1, 2));
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            assertThat(checkpoints.write(state, Map.of(A0, 1L), ids).delta()).isFalse();
            state.addObservation("BIRTHDAY1", "fixtopicb");
            CouponCheckpoints.Checkpoint delta = checkpoints.write(state, Map.of(A0, 2L), ids);
            assertThat(delta.delta()).isTrue();
            assertThat(delta.bytes()).isEqualTo(Files.size(delta.file()));
        }
        assertThat(CouponCheckpoints.list(dir)).extracting(CouponCheckpoints.Checkpoint::delta)
                .containsExactly(false, true);
        StripedLockCouponState without = new StripedLockCouponState(); // no journal: every write a base
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            CouponCheckpoints.Restored r = checkpoints.restoreCheckpoint(without).orElseThrow();
            assertThat(r.files()).hasSize(2);
            assertThat(r.topicIds()).isEqualTo(ids);
            assertThat(checkpoints.write(without, Map.of(A0, 3L), Map.of()).delta()).isFalse();
        }
        assertThat(without.getObservations("BIRTHDAY1")).containsExactlyInAnyOrder("fixtopica", "fixtopicb");
    }

    @Test
    void aDamagedNewest_fallsBackToTheOlder() throws IOException {
        Path newest;
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            checkpoints.write(stateWith("fixtopica", "AAAAAAAA"), Map.of(A0, 1L));
            newest = checkpoints.write(stateWith("fixtopica", "AAAAAAAA", "BBBBBBBB"), Map.of(A0, 2L), Map.of())
                    .file();
        }
        byte[] bytes = Files.readAllBytes(newest);
        bytes[bytes.length - 10] ^= 0x55;
        Files.write(newest, bytes);
        StripedLockCouponState target = new StripedLockCouponState();
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            assertThat(checkpoints.restore(target)).isEqualTo(Map.of(A0, 1L));
            assertThat(checkpoints.fellBack()).isTrue();
        }
        // the damaged file's blocks that passed their checksum may be in the state too: genuine observations
        assertThat(target.getObservations("AAAAAAAA")).containsExactly("fixtopica");
        assertThat(Files.exists(newest.resolveSibling(newest.getFileName() + ".corrupt"))).isTrue();
    }

    @Test
    void aWriteCutOffBeforeItsRename_leavesATemporaryFile_thatTheNextRestoreDeletes() throws IOException {
        Path[] stray = new Path[1];
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir, CouponCheckpoints.Options.defaults(),
                (tmp, target) -> {
                    // a crash here leaves the temporary file under the name DurableFiles gave it
                    stray[0] = Files.copy(tmp, tmp.resolveSibling(tmp.getFileName() + ".copy.tmp"));
                    throw new IOException("crash");
                })) {
            assertThatThrownBy(() -> checkpoints.write(stateWith("fixtopica", "AAAAAAAA"), Map.of(A0, 1L)))
                    .hasMessage("crash");
        }
        assertThat(stray[0].getFileName().toString()).startsWith("checkpoint-00000000000000000001.ckpt.")
                .endsWith(".tmp");
        assertThat(names()).containsExactly(".lock", stray[0].getFileName().toString());
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            assertThat(checkpoints.restore(new StripedLockCouponState())).isEmpty();
        }
        assertThat(names()).containsExactly(".lock");
    }

    @Test
    void anIncompatibleCheckpoint_isRefused_andNoFileIsTouched() throws IOException {
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            checkpoints.write(stateWith("fixtopica", "AAAAAAAA"), Map.of(A0, 1L));
        }
        Set<String> before = names();
        CouponState other = new StripedLockCouponState(CouponStateConfig.builder().codeLength(6, 12).build());
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            assertThatThrownBy(() -> checkpoints.restore(other)).isInstanceOf(IncompatibleCheckpointException.class);
            assertThatThrownBy(() -> checkpoints.write(other, Map.of(A0, 2L)))
                    .as("still not restored").isInstanceOf(IllegalStateException.class);
        }
        assertThat(names()).isEqualTo(before);
    }

    @Test
    void aPartitionedRunnersDirectory_isIncompatible_andGetsNoLockFile() throws IOException {
        PartitionedMarker.claimForPartitions(dir, 6);
        assertThatThrownBy(() -> CouponCheckpoints.open(dir))
                .isInstanceOf(IncompatibleCheckpointException.class)
                .hasMessageContaining(dir.toAbsolutePath().toString())
                .hasMessageContaining("6 partitions")
                .hasMessageContaining("mode REPLICATED");
        assertThat(names()).containsExactly(PartitionedMarker.NAME);
    }

    @Test
    void aSecondOpen_isRefused_untilTheFirstCloses_andAClosedOneRefusesWork() throws IOException {
        CouponCheckpoints first = CouponCheckpoints.open(dir);
        assertThatThrownBy(() -> CouponCheckpoints.open(dir))
                .isInstanceOf(CheckpointDirectoryLockedException.class)
                .hasMessageContaining(dir.toAbsolutePath().toString());
        first.close();
        first.close();
        assertThatThrownBy(() -> first.restore(new StripedLockCouponState()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> first.write(new StripedLockCouponState(), Map.of()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        try (CouponCheckpoints second = CouponCheckpoints.open(dir)) {
            assertThat(second.directory()).isEqualTo(dir.toAbsolutePath());
        }
    }

    @Test
    @Timeout(120) // hang guard only
    void writesFromSeveralThreads_whileTheStateChanges_allBecomeDurable_inSequence() throws Exception {
        StripedLockCouponState state = journaled();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            List<Future<List<Long>>> futures = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    List<Long> sequences = new ArrayList<>();
                    for (int i = 0; i < 10; i++) {
                        state.addObservation(String.format("CODE%d%04d", thread, i), "fixtopica");
                        sequences.add(checkpoints.write(state, Map.of(new TopicPartition("fixtopica", thread),
                                (long) i + 1), Map.of()).sequence());
                    }
                    return sequences;
                }));
            }
            Set<Long> all = new TreeSet<>();
            for (Future<List<Long>> f : futures) {
                List<Long> own = f.get();
                assertThat(own).isSorted();
                all.addAll(own);
            }
            assertThat(all).hasSize(30);
        }
        StripedLockCouponState restored = new StripedLockCouponState();
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            assertThat(checkpoints.restore(restored)).isEqualTo(Map.of(new TopicPartition("fixtopica", 0), 10L,
                    new TopicPartition("fixtopica", 1), 10L, new TopicPartition("fixtopica", 2), 10L));
        } finally {
            pool.shutdownNow();
        }
        assertThat(restored.size()).isEqualTo(30);
    }

    @Test
    void restoreProgress_andTheRestoreLog_tellWhatWasRead() throws IOException {
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            checkpoints.write(stateWith("fixtopica", "AAAAAAAA"), Map.of(A0, 1L));
        }
        List<String> lines = new ArrayList<>();
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir,
                CouponCheckpoints.Options.defaults().baseRolloverFraction(0.25).restoreLog(lines::add))) {
            assertThat(checkpoints.options().baseRolloverFraction()).isEqualTo(0.25);
            assertThat(checkpoints.restoreBytesTotal()).isZero();
            checkpoints.restore(new StripedLockCouponState());
            long size = Files.size(CouponCheckpoints.list(dir).get(0).file());
            assertThat(checkpoints.restoreBytesRead()).isEqualTo(size);
            assertThat(checkpoints.restoreBytesTotal()).isEqualTo(size);
            assertThat(checkpoints.restoreBytesPerSecond(System.nanoTime())).isGreaterThanOrEqualTo(0);
        }
        assertThat(lines).singleElement().asString().startsWith("restored checkpoint");
        assertThatThrownBy(() -> CouponCheckpoints.Options.defaults().baseRolloverFraction(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("baseRolloverFraction: 0.0");
    }

    // ------------------------------------------------------------------------------------ files of earlier builds

    @Test
    void aBaseAndDeltaWrittenByTheStoreBeforeTheSplit_restoreExactly() throws IOException {
        for (String name : List.of("checkpoint-00000000000000000001.ckpt", "checkpoint-00000000000000000002.ckpt")) {
            try (InputStream in = getClass().getResourceAsStream("/checkpoints/v3-base-delta/" + name)) {
                assertThat(in).as(name).isNotNull();
                Files.copy(in, dir.resolve(name));
            }
        }
        StripedLockCouponState target = journaled();
        Map<TopicPartition, Long> expectedOffsets = new HashMap<>();
        expectedOffsets.put(A0, 200L);
        expectedOffsets.put(A1, 151L);
        expectedOffsets.put(B0, 250L);
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            CouponCheckpoints.Restored r = checkpoints.restoreCheckpoint(target).orElseThrow();
            assertThat(r.offsets()).isEqualTo(expectedOffsets);
            assertThat(r.sequence()).isEqualTo(2);
            assertThat(r.files()).hasSize(2);
            assertThat(r.topicIds()).isEqualTo(Map.of("fixtopica", new Uuid(0x1111222233334444L,
                    0x5555666677778888L), "fixtopicb", new Uuid(7L, 77L)));
            assertThat(checkpoints.fellBack()).isFalse();
        }
        Map<String, Set<String>> expected = new LinkedHashMap<>();
        for (int i = 0; i < 400; i++) {
            Set<String> sources = new TreeSet<>();
            if (i < 300) {
                sources.add("fixtopica");
            }
            if (i % 3 == 0 && i < 300 || i >= 300 || i < 50) {
                sources.add("fixtopicb");
            }
            expected.put(String.format("FIX%06dQ", i), sources);
        }
        assertThat(target.size()).isEqualTo(expected.size());
        expected.forEach((code, sources) -> assertThat(new TreeSet<>(target.getObservations(code))).as(code)
                .isEqualTo(sources));
    }

    private Set<String> names() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).collect(java.util.stream.Collectors.toCollection(
                    TreeSet::new));
        }
    }
}
