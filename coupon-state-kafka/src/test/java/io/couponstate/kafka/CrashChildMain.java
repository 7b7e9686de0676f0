package io.couponstate.kafka;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.internal.checkpoint.ChainRestore;
import io.couponstate.kafka.internal.checkpoint.CheckpointDirectory;
import io.couponstate.kafka.internal.checkpoint.CheckpointFormat;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A runner in a JVM of its own, for {@link CrashRecoveryIntegrationTest} to kill with SIGKILL. Arguments: bootstrap
 * servers, checkpoint directory, comma-separated topics, expected partition count, and the number of the checkpoint
 * write at which to announce {@code FSYNCED <tmp file>} on stdout and then hang between the fsync and the rename
 * (0: never), and optionally {@code true} for a state with a change journal (then only delta writes are counted for
 * the pause). Prints {@code RUNNING} once every partition is assigned. Exits when its stdin closes, so it never
 * outlives the test JVM.
 */
public final class CrashChildMain {

    private CrashChildMain() {
    }

    /** Halts this child JVM (status 3) once its stdin ends: the parent test died or closed it; no child outlives it. */
    static void haltWhenParentGoes() {
        Thread watchdog = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                    // nothing: only the end of the stream matters
                }
            } catch (Exception e) {
                // fall through
            }
            Runtime.getRuntime().halt(3);
        }, "stdin-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    /** A state with a change journal, so that checkpoints are deltas. */
    static StripedLockCouponState journaledState() {
        return new StripedLockCouponState(CouponStateConfig.builder().changeJournalCapacity(1 << 16).build());
    }

    private static boolean isDelta(Path tmp) {
        try {
            return CheckpointFormat.decode(tmp).isDelta();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Runs until killed. */
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        Path dir = Path.of(args[1]);
        List<String> topics = Arrays.asList(args[2].split(","));
        int partitions = Integer.parseInt(args[3]);
        int pauseAt = Integer.parseInt(args[4]);
        boolean journal = args.length > 5 && Boolean.parseBoolean(args[5]);
        haltWhenParentGoes();

        AtomicInteger writes = new AtomicInteger();
        CouponConsumerRunner runner = CouponConsumerRunner.builder()
                .bootstrapServers(bootstrap)
                .topics(topics)
                .state(journal ? journaledState() : new StripedLockCouponState())
                .baseRolloverFraction(journal ? 100 : CouponCheckpoints.DEFAULT_BASE_ROLLOVER_FRACTION)
                .checkpointDirectory(dir)
                .checkpointInterval(Duration.ofMillis(40))
                .pollTimeout(Duration.ofMillis(100))
                .progressLogInterval(Duration.ZERO)
                .consumerProperty("max.poll.records", 40)
                .consumerProperty("fetch.max.wait.ms", 50)
                .checkpointHook((tmp, target) -> {
                    if (journal && !isDelta(tmp)) {
                        return; // with a journal, only deltas count: the kill lands between a delta's fsync and rename
                    }
                    if (writes.incrementAndGet() == pauseAt) {
                        System.out.println("FSYNCED " + tmp.getFileName());
                        System.out.flush();
                        try {
                            Thread.sleep(Duration.ofMinutes(2).toMillis()); // the parent kills us here
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                })
                .build();
        runner.start();
        while (runner.assignedPartitions().size() < partitions) {
            if (runner.runnerState().isTerminal()) {
                System.out.println("ENDED " + runner.runnerState() + " " + runner.failureCause().orElse(null));
                System.exit(2);
            }
            Thread.sleep(10);
        }
        System.out.println("RUNNING restored=" + runner.metrics().restoredCheckpointSequence());
        System.out.flush();
        Thread.sleep(Duration.ofMinutes(3).toMillis());
        System.exit(4); // never reached in a passing test: the parent kills us first
    }
}
