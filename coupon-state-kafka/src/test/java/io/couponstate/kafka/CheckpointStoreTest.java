package io.couponstate.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.CheckpointDirectoryLockedException;
import io.couponstate.kafka.IncompatibleCheckpointException;
import java.io.BufferedReader;
import io.couponstate.core.internal.DurableFiles;
import io.couponstate.kafka.internal.checkpoint.ChainRestore;
import io.couponstate.kafka.internal.checkpoint.CheckpointDirectory;
import io.couponstate.kafka.internal.checkpoint.CheckpointFormat;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class CheckpointStoreTest {

    private static final Uuid ID1 = new Uuid(0x0123456789abcdefL, 0x0fedcba987654321L);
    private static final Uuid ID2 = new Uuid(42L, 4242L);

    @TempDir
    Path dir;

    /** Where every store of this test stops between a file's fsync and its rename; a test sets it. */
    private final AtomicReference<DurableFiles.BeforeRename> hook =
            new AtomicReference<>(DurableFiles.BeforeRename.NONE);
    /** The time each checkpoint records, for the golden files. */
    private final AtomicLong wallClock = new AtomicLong(1);

    private CouponCheckpoints open(Path directory) throws IOException {
        return open(directory, CouponCheckpoints.Options.defaults());
    }

    private CouponCheckpoints open(Path directory, CouponCheckpoints.Options options) throws IOException {
        return CouponCheckpoints.open(directory, options, (tmp, target) -> hook.get().fsyncedBeforeRename(tmp, target),
                wallClock::get);
    }

    private static Map<TopicPartition, Long> offsets(long base) {
        Map<TopicPartition, Long> m = new LinkedHashMap<>();
        m.put(new TopicPartition("couponbase1", 0), base);
        m.put(new TopicPartition("couponbase2", 3), base + 7);
        return m;
    }

    private static Map<String, Uuid> ids() {
        Map<String, Uuid> m = new LinkedHashMap<>();
        m.put("couponbase1", ID1);
        m.put("couponbase2", ID2);
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

    /** Every file of the directory with its bytes, to show that nothing was renamed, deleted or changed. */
    private Map<String, List<Byte>> contents() throws IOException {
        Map<String, List<Byte>> m = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.collect(Collectors.toList())) {
                // never open .lock: closing a descriptor of it would drop this process's lock on it
                boolean skip = Files.isDirectory(p) || p.getFileName().toString().equals(".lock");
                byte[] b = skip ? new byte[0] : Files.readAllBytes(p);
                List<Byte> bytes = new ArrayList<>(b.length);
                for (byte x : b) {
                    bytes.add(x);
                }
                m.put(p.getFileName().toString(), bytes);
            }
        }
        return m;
    }

    private Set<String> names(String suffix) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(suffix))
                    .collect(Collectors.toCollection(java.util.TreeSet::new));
        }
    }

    private static void damage(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 10] ^= 0x55; // inside the snapshot's end block
        Files.write(file, bytes);
    }

    // ------------------------------------------------------------------------------------------- basic behaviour

    @Test
    void restore_returnsTheOffsetsTopicIdsAndStateWritten() throws IOException {
        try (CouponCheckpoints store = open(dir)) {
            store.write(stateWith("ABCDEFGH", "BIRTHDAY1"), offsets(5), ids());
        }
        StripedLockCouponState target = new StripedLockCouponState();
        try (CouponCheckpoints again = open(dir)) {
            Optional<CouponCheckpoints.Restored> r = again.restoreCheckpoint(target);
            assertThat(r).isPresent();
            assertThat(r.get().offsets()).isEqualTo(offsets(5));
            assertThat(r.get().topicIds()).isEqualTo(ids());
            assertThat(r.get().sequence()).isEqualTo(1);
            assertThat(r.get().entries()).isEqualTo(2);
            assertThat(again.fellBack()).isFalse();
        }
        assertThat(target.isValid("BIRTHDAY1")).isTrue();
        assertThat(target.size()).isEqualTo(2);
    }

    @Test
    void write_keepsTheNewestTwo() throws IOException {
        try (CouponCheckpoints store = open(dir)) {
            for (int i = 0; i < 5; i++) {
                store.write(stateWith("ABCDEFGH"), offsets(i), ids());
            }
            assertThat(CheckpointDirectory.list(store.directory()).keySet()).containsExactly(4L, 5L);
            assertThat(CheckpointDirectory.list(dir).keySet()).containsExactly(4L, 5L);
        }
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder(".lock", "checkpoint-00000000000000000004.ckpt",
                            "checkpoint-00000000000000000005.ckpt");
        }
    }

    @Test
    void restore_skipsADamagedNewest_usesTheOlder_andSaysItFellBack() throws IOException {
        Path newest;
        try (CouponCheckpoints store = open(dir)) {
            store.write(stateWith("AAAAAAAA"), offsets(1), ids());
            newest = store.write(stateWith("AAAAAAAA", "BBBBBBBB"), offsets(2), ids()).file();
        }
        damage(newest);

        StripedLockCouponState target = new StripedLockCouponState();
        try (CouponCheckpoints again = open(dir)) {
            Optional<CouponCheckpoints.Restored> r = again.restoreCheckpoint(target);
            assertThat(r.get().sequence()).isEqualTo(1);
            assertThat(r.get().offsets()).isEqualTo(offsets(1));
            assertThat(again.fellBack()).isTrue();
            assertThat(target.isValid("AAAAAAAA")).isTrue();
            assertThat(Files.exists(newest.resolveSibling(newest.getFileName() + ".corrupt"))).isTrue();
            assertThat(again.write(target, offsets(3), ids()).file().getFileName().toString())
                    .isEqualTo("checkpoint-00000000000000000003.ckpt"); // a sequence past the corrupt one
        }
    }

    @Test
    void restore_skipsATruncatedNewest() throws IOException {
        Path newest;
        try (CouponCheckpoints store = open(dir)) {
            store.write(stateWith("AAAAAAAA"), offsets(1), ids());
            newest = store.write(stateWith("BBBBBBBB"), offsets(2), ids()).file();
        }
        byte[] bytes = Files.readAllBytes(newest);
        Files.write(newest, Arrays.copyOf(bytes, bytes.length / 2));
        try (CouponCheckpoints again = open(dir)) {
            Optional<CouponCheckpoints.Restored> r = again.restoreCheckpoint(new StripedLockCouponState());
            assertThat(r.get().sequence()).isEqualTo(1);
            assertThat(again.fellBack()).isTrue();
        }
    }

    @Test
    void restore_whenEveryCheckpointIsDamaged_isEmpty_andFellBack() throws IOException {
        try (CouponCheckpoints store = open(dir)) {
            damage(store.write(stateWith("AAAAAAAA"), offsets(1), ids()).file());
        }
        try (CouponCheckpoints again = open(dir)) {
            assertThat(again.restoreCheckpoint(new StripedLockCouponState())).isEmpty();
            assertThat(again.fellBack()).isTrue();
        }
    }

    @Test
    void read_refusesSayingWhichCheckFailed() throws IOException {
        Path file;
        try (CouponCheckpoints store = open(dir)) {
            file = store.write(stateWith("AAAAAAAA"), offsets(1), ids()).file();
        }
        byte[] good = Files.readAllBytes(file);

        byte[] badMagic = good.clone();
        badMagic[0] = 'X';
        Files.write(file, badMagic);
        assertThatThrownBy(() -> ChainRestore.readOne(file, new StripedLockCouponState()))
                .hasMessageStartingWith("no checkpoint magic");

        byte[] badOffset = good.clone();
        badOffset[30] ^= 1; // inside the first partition entry
        Files.write(file, badOffset);
        assertThatThrownBy(() -> ChainRestore.readOne(file, new StripedLockCouponState()))
                .hasMessageStartingWith("checkpoint header CRC32C mismatch");

        Files.write(file, Arrays.copyOf(good, 12));
        assertThatThrownBy(() -> ChainRestore.readOne(file, new StripedLockCouponState()))
                .hasMessage("checkpoint header truncated");
    }

    @Test
    void restore_deletesAnUnfinishedTemporaryFile() throws IOException {
        Path tmp = dir.resolve("checkpoint-00000000000000000009.ckpt.tmp");
        Path unique = dir.resolve("checkpoint-00000000000000000009.ckpt.8125370.tmp");
        Files.write(tmp, new byte[] {1, 2, 3});
        Files.write(unique, new byte[] {1, 2, 3});
        try (CouponCheckpoints store = open(dir)) {
            assertThat(store.restoreCheckpoint(new StripedLockCouponState())).isEmpty();
            assertThat(store.fellBack()).isFalse();
        }
        assertThat(Files.exists(tmp)).isFalse();
        assertThat(Files.exists(unique)).isFalse();
    }

    @Test
    void write_callsTheHookAfterFsyncBeforeRename() throws IOException {
        Path[] seen = new Path[2];
        hook.set((tmp, target) -> {
            seen[0] = tmp;
            seen[1] = target;
            assertThat(Files.exists(tmp)).isTrue();
            assertThat(Files.exists(target)).isFalse();
        });
        try (CouponCheckpoints store = open(dir)) {
            Path file = store.write(stateWith("AAAAAAAA"), offsets(1), ids()).file();
            assertThat(seen[1]).isEqualTo(file);
            assertThat(seen[0].getParent()).isEqualTo(file.getParent());
        } finally {
            hook.set(DurableFiles.BeforeRename.NONE);
        }
    }

    // ------------------------------------------------------------------------------------------- the directory lock

    @Test
    void aSecondStoreOnTheSameDirectory_isRefused_namingTheDirectory() throws IOException {
        try (CouponCheckpoints first = open(dir)) {
            assertThatThrownBy(() -> open(dir))
                    .isInstanceOf(CheckpointDirectoryLockedException.class)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(dir.toAbsolutePath().toString())
                    .hasMessageContaining("another runner uses it");
            assertThat(first.directory()).isEqualTo(dir.toAbsolutePath());
        }
    }

    @Test
    @Timeout(120) // hang guard only
    void aRefusedSecondStoreInThisJvm_doesNotWeakenTheLockAgainstOtherProcesses() throws Exception {
        try (CouponCheckpoints first = open(dir)) {
            for (int i = 0; i < 3; i++) {
                assertThatThrownBy(() -> open(dir))
                        .isInstanceOf(CheckpointDirectoryLockedException.class);
            }
            // POSIX drops a process's lock when it closes ANY descriptor of the file: a refusal must not open one
            Process child = startLockHolderThatExits();
            try {
                String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
                assertThat(out).doesNotContain("LOCKED");
                assertThat(child.exitValue()).isNotZero();
            } finally {
                child.destroyForcibly();
            }
            assertThat(CheckpointDirectory.list(first.directory())).isEmpty();
        }
    }

    private Process startLockHolder() throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-Xmx64m", "-XX:TieredStopAtLevel=1", "-cp",
                System.getProperty("java.class.path"), CheckpointLockHolderMain.class.getName(), dir.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    /** A lock holder that exits on its own: LOCKED (and status 3) if it got the lock, status 1 if refused. */
    private Process startLockHolderThatExits() throws IOException {
        Process child = startLockHolder();
        child.getOutputStream().close(); // stdin at its end: a holder halts at once, so nothing blocks on it
        return child;
    }

    @Test
    void close_releasesTheLock_andIsIdempotent() throws IOException {
        CouponCheckpoints first = open(dir);
        first.close();
        first.close();
        try (CouponCheckpoints second = open(dir)) {
            assertThat(second.restoreCheckpoint(new StripedLockCouponState())).isEmpty();
        }
        assertThatThrownBy(() -> first.write(stateWith("AAAAAAAA"), offsets(1), ids()).file())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    @Timeout(120) // hang guard only: a child JVM start is slow on a busy machine
    void aLockHeldByAnotherProcess_isRefused_untilThatProcessDies() throws Exception {
        Process child = startLockHolder();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8));
            String line = out.readLine(); // blocks until the child holds the lock (or dies: null)
            assertThat(line).startsWith("LOCKED");
            assertThatThrownBy(() -> open(dir))
                    .isInstanceOf(CheckpointDirectoryLockedException.class)
                    .hasMessageContaining(dir.toAbsolutePath().toString());
        } finally {
            child.destroyForcibly(); // SIGKILL: no close(), no shutdown hook
            assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        }
        await().atMost(Duration.ofMinutes(1)).ignoreExceptionsInstanceOf(CheckpointDirectoryLockedException.class)
                .until(() -> {
                    try (CouponCheckpoints store = open(dir)) {
                        return store.directory() != null;
                    }
                });
    }

    @Test
    void aDirectoryThatCannotBeCreated_failsAtConstruction_namingThePathAndTheReason() throws IOException {
        Path file = dir.resolve("a-regular-file");
        Files.writeString(file, "not a directory");
        Path impossible = file.resolve("checkpoints");
        assertThatThrownBy(() -> open(impossible))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(impossible.toString())
                .hasMessageContaining("cannot be used");
        assertThatThrownBy(() -> open(file))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(file.toString());
    }

    // ------------------------------------------------------------------------------------ incompatible checkpoints

    @Test
    void restore_ofAnotherCodeFormat_throwsNamingTheFileAndBothFormats_andTouchesNoFile() throws IOException {
        Path newest;
        try (CouponCheckpoints store = open(dir)) {
            store.write(stateWith("AAAAAAAA"), offsets(1), ids());
            newest = store.write(stateWith("AAAAAAAA", "BBBBBBBB"), offsets(2), ids()).file();
        }
        Map<String, List<Byte>> before = contents();
        List<CouponState> others = List.of(
                new StripedLockCouponState(CouponStateConfig.builder().caseInsensitive(true).build()),
                new StripedLockCouponState(CouponStateConfig.builder().codeLength(6, 12).build()));
        for (CouponState other : others) {
            try (CouponCheckpoints again = open(dir)) {
                String theirs = new StripedLockCouponState().config().codeFormat().toString();
                String ours = ((StripedLockCouponState) other).config().codeFormat().toString();
                assertThatThrownBy(() -> again.restoreCheckpoint(other))
                        .isInstanceOf(IncompatibleCheckpointException.class)
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining(newest.toString())
                        .hasMessageContaining(theirs)
                        .hasMessageContaining(ours);
                assertThat(again.fellBack()).isFalse();
            }
            assertThat(contents()).isEqualTo(before);
            assertThat(names(".corrupt")).isEmpty();
        }
    }

    @Test
    void restore_ofMoreSourcesThanMaxSources_throwsNamingBothNumbers_andTouchesNoFile() throws IOException {
        StripedLockCouponState three = stateWith("AAAAAAAA");
        three.addObservation("AAAAAAAA", "couponbase3");
        Path file;
        try (CouponCheckpoints store = open(dir)) {
            file = store.write(three, offsets(1), ids()).file();
        }
        Map<String, List<Byte>> before = contents();
        CouponState two = new StripedLockCouponState(CouponStateConfig.builder().maxSources(2).build());
        try (CouponCheckpoints again = open(dir)) {
            assertThatThrownBy(() -> again.restoreCheckpoint(two))
                    .isInstanceOf(IncompatibleCheckpointException.class)
                    .hasMessageContaining(file.toString())
                    .hasMessageContaining("3 sources")
                    .hasMessageContaining("maxSources = 2");
        }
        assertThat(contents()).isEqualTo(before);
    }

    @Test
    void restore_ofANewerCheckpointVersion_throws_andTouchesNoFile() throws IOException {
        Path file;
        try (CouponCheckpoints store = open(dir)) {
            file = store.write(stateWith("AAAAAAAA"), offsets(1), ids()).file();
        }
        byte[] bytes = Files.readAllBytes(file);
        bytes[5] = 99; // version u16 at bytes 4..5
        Files.write(file, bytes);
        Map<String, List<Byte>> before = contents();
        try (CouponCheckpoints again = open(dir)) {
            assertThatThrownBy(() -> again.restoreCheckpoint(new StripedLockCouponState()))
                    .isInstanceOf(IncompatibleCheckpointException.class)
                    .hasMessageContaining(file.toString())
                    .hasMessageContaining("version 99");
        }
        assertThat(contents()).isEqualTo(before);
    }

    @Test
    void restore_ofAFileThatCannotBeRead_throws_andTouchesNoFile() throws IOException {
        try (CouponCheckpoints store = open(dir)) {
            store.write(stateWith("AAAAAAAA"), offsets(1), ids());
        }
        // an I/O error on read, as a permission or disk error would give (tests run as root: no chmod)
        Path unreadable = Files.createDirectory(dir.resolve("checkpoint-00000000000000000002.ckpt"));
        Map<String, List<Byte>> before = contents();
        try (CouponCheckpoints again = open(dir)) {
            assertThatThrownBy(() -> again.restoreCheckpoint(new StripedLockCouponState()))
                    .isInstanceOf(IncompatibleCheckpointException.class)
                    .hasMessageContaining(unreadable.toString())
                    .hasMessageContaining("reading it failed");
            assertThat(again.fellBack()).isFalse();
        }
        assertThat(contents()).isEqualTo(before);
        assertThat(Files.isDirectory(unreadable)).isTrue();
    }

    // ---------------------------------------------------------------------------------------------- quarantine

    @Test
    void quarantinedFiles_areBounded_theNewestKept() throws IOException {
        for (int round = 0; round < 5; round++) {
            try (CouponCheckpoints store = open(dir)) {
                store.restoreCheckpoint(new StripedLockCouponState());
                damage(store.write(stateWith("AAAAAAAA"), offsets(round), ids()).file());
            }
            try (CouponCheckpoints store = open(dir)) {
                assertThat(store.restoreCheckpoint(new StripedLockCouponState())).isEmpty();
                assertThat(store.fellBack()).isTrue();
            }
            assertThat(names(".corrupt")).hasSizeLessThanOrEqualTo(CheckpointDirectory.KEPT_CORRUPT);
        }
        assertThat(names(".corrupt")).containsExactly("checkpoint-00000000000000000004.ckpt.corrupt",
                "checkpoint-00000000000000000005.ckpt.corrupt");
    }

    // -------------------------------------------------------------------------------------------- file versions

    @Test
    void goldenVersion1_isStillRead_withNoTopicIds() throws IOException {
        copyGolden("/checkpoints/golden-v1.ckpt");
        StripedLockCouponState target = new StripedLockCouponState();
        try (CouponCheckpoints store = open(dir)) {
            CouponCheckpoints.Restored r = store.restoreCheckpoint(target).orElseThrow();
            assertThat(r.sequence()).isEqualTo(1);
            assertThat(r.topicIds()).isEmpty();
            assertThat(r.offsets()).isEqualTo(goldenOffsets());
            assertThat(r.entries()).isEqualTo(3);
        }
        assertGoldenState(target);
    }

    @Test
    void goldenVersion2_isRead_withItsTopicIds() throws IOException {
        copyGolden("/checkpoints/golden-v2.ckpt");
        StripedLockCouponState target = new StripedLockCouponState();
        try (CouponCheckpoints store = open(dir)) {
            CouponCheckpoints.Restored r = store.restoreCheckpoint(target).orElseThrow();
            assertThat(r.sequence()).isEqualTo(1);
            assertThat(r.offsets()).isEqualTo(goldenOffsets());
            assertThat(r.topicIds()).isEqualTo(goldenIds());
        }
        assertGoldenState(target);
    }

    @Test
    void goldenVersion3_baseAndDelta_areReadAsAChain() throws IOException {
        copyGolden("/checkpoints/golden-v3-base.ckpt");
        copyGolden("/checkpoints/golden-v3-delta.ckpt", "checkpoint-00000000000000000002.ckpt");
        StripedLockCouponState target = journaled();
        try (CouponCheckpoints store = open(dir)) {
            CouponCheckpoints.Restored r = store.restoreCheckpoint(target).orElseThrow();
            assertThat(r.sequence()).isEqualTo(2);
            assertThat(r.files()).extracting(p -> p.getFileName().toString()).containsExactly(
                    "checkpoint-00000000000000000001.ckpt", "checkpoint-00000000000000000002.ckpt");
            assertThat(r.offsets()).isEqualTo(goldenDeltaOffsets());
            assertThat(r.topicIds()).isEqualTo(goldenIds());
        }
        assertThat(target.size()).isEqualTo(4);
        assertThat(target.getObservations("FIFTYOFF")).containsExactlyInAnyOrder("couponbase1", "couponbase2",
                "couponbase3");
        assertThat(target.getObservations("WINTER2025")).containsExactly("couponbase2");
    }

    @Test
    void write_producesTheGoldenVersion3Bytes() throws IOException {
        Path base;
        Path delta;
        try (CouponCheckpoints store = open(dir)) {
            StripedLockCouponState state = journaled();
            goldenState().forEachCouponCode(1, code -> goldenState().getObservations(code)
                    .forEach(source -> state.addObservation(code, source)));
            wallClock.set(1764633600000L);
            base = store.write(state, goldenOffsets(), goldenIds()).file();
            state.addObservation("FIFTYOFF", "couponbase3");
            state.addObservation("WINTER2025", "couponbase2");
            wallClock.set(1764633660000L);
            delta = store.write(state, goldenDeltaOffsets(), goldenIds()).file();
            assertThat(CheckpointFormat.decode(base).isDelta()).isFalse();
            assertThat(CheckpointFormat.decode(delta).isDelta()).isTrue();
        }
        if (Boolean.getBoolean("couponstate.writeGolden")) {
            Files.copy(base, Path.of("src/test/resources/checkpoints/golden-v3-base.ckpt"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.copy(delta, Path.of("src/test/resources/checkpoints/golden-v3-delta.ckpt"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        for (String[] pair : new String[][] {{"/checkpoints/golden-v3-base.ckpt", base.toString()},
                {"/checkpoints/golden-v3-delta.ckpt", delta.toString()}}) {
            try (InputStream in = getClass().getResourceAsStream(pair[0])) {
                assertThat(in).as("golden file " + pair[0]).isNotNull();
                byte[] golden = in.readAllBytes();
                // the checkpoint header is this class's format; the base or delta after it is core's (with a random
                // chain id, and versions and golden files of its own), so only the header is compared byte for byte
                int header = indexOf(golden, "CPST".getBytes(StandardCharsets.US_ASCII));
                assertThat(header).isPositive();
                assertThat(Arrays.copyOf(Files.readAllBytes(Path.of(pair[1])), header))
                        .as(pair[0]).isEqualTo(Arrays.copyOf(golden, header));
            }
        }
    }

    private static StripedLockCouponState journaled() {
        return new StripedLockCouponState(CouponStateConfig.builder().changeJournalCapacity(1 << 12).build());
    }

    private static Map<TopicPartition, Long> goldenDeltaOffsets() {
        Map<TopicPartition, Long> o = new LinkedHashMap<>(goldenOffsets());
        o.put(new TopicPartition("couponbase1", 0), 43L);
        o.put(new TopicPartition("couponbase2", 3), 8L);
        return o;
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private void copyGolden(String resource) throws IOException {
        copyGolden(resource, "checkpoint-00000000000000000001.ckpt");
    }

    private void copyGolden(String resource, String name) throws IOException {
        try (InputStream in = getClass().getResourceAsStream(resource)) {
            assertThat(in).as("golden file " + resource).isNotNull();
            Files.copy(in, dir.resolve(name));
        }
    }

    private static Map<TopicPartition, Long> goldenOffsets() {
        Map<TopicPartition, Long> o = new LinkedHashMap<>();
        o.put(new TopicPartition("couponbase1", 0), 42L);
        o.put(new TopicPartition("couponbase2", 3), 7L);
        o.put(new TopicPartition("couponbase3", 1), 0L);
        return o;
    }

    private static Map<String, Uuid> goldenIds() {
        Map<String, Uuid> m = new LinkedHashMap<>();
        m.put("couponbase1", ID1);
        m.put("couponbase2", ID2);
        m.put("couponbase3", new Uuid(-1L, 1L));
        return m;
    }

    private static StripedLockCouponState goldenState() {
        StripedLockCouponState s = new StripedLockCouponState();
        s.addObservation("FIFTYOFF", "couponbase1");
        s.addObservation("FIFTYOFF", "couponbase2");
        s.addObservation("BIRTHDAY1", "couponbase1");
        s.addObservation("SUMMER2024", "couponbase3");
        return s;
    }

    private static void assertGoldenState(CouponState target) {
        assertThat(target.size()).isEqualTo(3);
        assertThat(target.getObservations("FIFTYOFF")).containsExactlyInAnyOrder("couponbase1", "couponbase2");
        assertThat(target.getObservations("BIRTHDAY1")).containsExactly("couponbase1");
        assertThat(target.getObservations("SUMMER2024")).containsExactly("couponbase3");
    }

    // --------------------------------------------------------------------------------------- concurrent writers

    @Test
    @Timeout(120)
    void concurrentWriters_neverShareATemporaryFile() throws Exception {
        Set<Path> temporaries = ConcurrentHashMap.newKeySet();
        List<Path> duplicates = new java.util.concurrent.CopyOnWriteArrayList<>();
        hook.set((tmp, target) -> {
            if (!temporaries.add(tmp)) {
                duplicates.add(tmp);
            }
        });
        int threads = 4;
        int writes = 10;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try (CouponCheckpoints store = open(dir)) {
            StripedLockCouponState state = stateWith("AAAAAAAA", "BBBBBBBB");
            List<Future<Set<Path>>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                futures.add(pool.submit(() -> {
                    Set<Path> written = new HashSet<>();
                    for (int i = 0; i < writes; i++) {
                        written.add(store.write(state, offsets(i), ids()).file());
                    }
                    return written;
                }));
            }
            Set<Path> all = new HashSet<>();
            for (Future<Set<Path>> f : futures) {
                all.addAll(f.get()); // every write succeeded: no rename lost its file to another writer
            }
            assertThat(all).hasSize(threads * writes); // a sequence (and a file name) of its own each
            assertThat(duplicates).isEmpty();
            assertThat(temporaries).hasSize(threads * writes);
            assertThat(CheckpointDirectory.list(store.directory())).hasSizeLessThanOrEqualTo(CheckpointDirectory.KEPT);
            assertThat(names(".tmp")).isEmpty();
        } finally {
            hook.set(DurableFiles.BeforeRename.NONE);
            pool.shutdownNow();
        }
        try (CouponCheckpoints again = open(dir)) {
            StripedLockCouponState target = new StripedLockCouponState();
            assertThat(again.restoreCheckpoint(target)).isPresent();
            assertThat(target.size()).isEqualTo(2);
        }
    }

    // ----------------------------------------------------------------------------------------- scale and progress

    @Test
    @Timeout(300) // hang guard only
    void writeAndRestore_ofTwoMillionCodes_reportsProgressAndTheEnd() throws IOException {
        int codes = 2_000_000;
        StripedLockCouponState big = new StripedLockCouponState(CouponStateConfig.builder()
                .expectedCodes(codes).build());
        int s1 = big.sourceId("couponbase1");
        int s2 = big.sourceId("couponbase2");
        byte[] code = new byte[10];
        for (int i = 0; i < codes; i++) {
            int n = i;
            for (int k = 9; k >= 0; k--) {
                code[k] = (byte) ('A' + n % 26);
                n /= 26;
            }
            big.addObservation(code, 0, 10, (i & 1) == 0 ? s1 : s2);
        }
        List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
        StripedLockCouponState target = new StripedLockCouponState(CouponStateConfig.builder()
                .expectedCodes(codes).build());
        try (CouponCheckpoints store = open(dir)) {
            store.write(big, offsets(9), ids());
        }
        try (CouponCheckpoints again = open(dir, CouponCheckpoints.Options.defaults().restoreLog(lines::add))) {
            CouponCheckpoints.Restored r = again.restoreCheckpoint(target).orElseThrow();
            assertThat(r.entries()).isEqualTo(codes);
        }
        assertThat(target.size()).isEqualTo(codes);
        assertThat(lines).last().asString().contains("restored").contains(codes + " entries").contains(" s");
    }
}
