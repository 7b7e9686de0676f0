package io.couponstate.benchmarks;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.CouponCheckpoints;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/**
 * The runner's checkpoints at scale, without Kafka: a {@link LockFreeCouponState} with a change journal holding
 * {@code --codes} codes (three sources, two observations for a third of them), a base written by a
 * {@link CouponCheckpoints}, then {@code --new} records of new codes and the incremental checkpoint after them (a
 * delta), then a restore of base + delta into a default-sized state. Prints seconds and bytes of each step (the
 * write times include the fsync, rename and directory fsync). A measurement, not a test: nothing is asserted but
 * that the delta is a delta and the restore holds as many codes.
 *
 * <pre>
 * java -Xmx6g -cp coupon-state-benchmarks/target/benchmarks.jar io.couponstate.benchmarks.IncrementalCheckpointRun \
 *      [--codes 30000000] [--new 1000000] [--dir /tmp]
 * </pre>
 */
public final class IncrementalCheckpointRun {

    private static final byte[] ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".getBytes(StandardCharsets.US_ASCII);

    private IncrementalCheckpointRun() {
    }

    /** Runs it; see the class comment for the arguments. */
    public static void main(String[] args) throws IOException {
        long codes = 30_000_000L;
        int fresh = 1_000_000;
        Path parent = Path.of(System.getProperty("java.io.tmpdir"));
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--codes" -> codes = Long.parseLong(args[i + 1]);
                case "--new" -> fresh = Integer.parseInt(args[i + 1]);
                case "--dir" -> parent = Path.of(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (expected: --codes, --new, --dir)");
            }
        }
        Path dir = Files.createTempDirectory(parent, "incremental-checkpoint-run");
        CouponStateConfig sized = CouponStateConfig.builder().expectedCodes(codes + fresh)
                .changeJournalCapacity(2 * fresh).build();
        LockFreeCouponState state = new LockFreeCouponState(sized);
        int[] sources = {state.sourceId("source-1"), state.sourceId("source-2"), state.sourceId("source-3")};
        byte[] code = new byte[9];
        long t0 = System.nanoTime();
        for (long j = 0; j < codes; j++) {
            encode(j, code);
            state.addObservation(code, 0, code.length, sources[(int) (j % 3)]);
            if (j % 3 == 0) {
                state.addObservation(code, 0, code.length, sources[(int) ((j + 1) % 3)]);
            }
        }
        System.out.printf("filled %,d codes in %.1f s%n", state.size(), (System.nanoTime() - t0) / 1e9);
        Map<TopicPartition, Long> offsets = Map.of(new TopicPartition("source-1", 0), codes);
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            long t1 = System.nanoTime();
            CouponCheckpoints.Checkpoint base = checkpoints.write(state, offsets, Map.of());
            double baseSeconds = (System.nanoTime() - t1) / 1e9;
            long baseBytes = base.bytes();
            System.out.printf("base:  %.2f s, %,d bytes (%s)%n", baseSeconds, baseBytes, base.file().getFileName());

            for (long j = codes; j < codes + fresh; j++) {
                encode(j, code);
                state.addObservation(code, 0, code.length, sources[(int) (j % 3)]);
            }
            long t2 = System.nanoTime();
            CouponCheckpoints.Checkpoint delta = checkpoints.write(state,
                    Map.of(new TopicPartition("source-1", 0), codes + fresh), Map.of());
            double deltaSeconds = (System.nanoTime() - t2) / 1e9;
            long deltaBytes = delta.bytes();
            if (!delta.delta()) {
                throw new IllegalStateException(delta + " is not a delta");
            }
            System.out.printf("delta after %,d new records: %.3f s, %,d bytes (%s); %.1fx faster, %.1fx smaller than "
                    + "the base%n", fresh, deltaSeconds, deltaBytes, delta.file().getFileName(), baseSeconds / deltaSeconds,
                    (double) baseBytes / deltaBytes);
        }
        long expected = state.size();
        state = null; // let the restore have the heap
        LockFreeCouponState restored = new LockFreeCouponState(CouponStateConfig.builder()
                .changeJournalCapacity(2 * fresh).build());
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir)) {
            long t3 = System.nanoTime();
            CouponCheckpoints.Restored r = checkpoints.restoreCheckpoint(restored).orElseThrow();
            System.out.printf("restore base + %d delta(s) into a default-sized state: %.2f s, %,d codes%n",
                    r.files().size() - 1, (System.nanoTime() - t3) / 1e9, restored.size());
        }
        if (restored.size() != expected) {
            throw new IllegalStateException("restored " + restored.size() + " codes, expected " + expected);
        }
        for (Path p : Files.list(dir).toList()) {
            Files.deleteIfExists(p);
        }
        Files.deleteIfExists(dir);
    }

    /** Code {@code j} as 9 base-36 digits of a bijection of {@code j}. */
    private static void encode(long j, byte[] out) {
        long v = Math.floorMod(j * 2_654_435_761L + 1_234_567_891L, 101_559_956_668_416L); // 36^9
        for (int i = out.length - 1; i >= 0; i--) {
            out[i] = ALPHABET[(int) (v % 36)];
            v /= 36;
        }
    }
}
