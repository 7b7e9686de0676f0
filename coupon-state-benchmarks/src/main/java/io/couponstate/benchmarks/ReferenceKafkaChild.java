package io.couponstate.benchmarks;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.CouponCheckpoints;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * The runner of {@link ReferenceKafkaRun} in a JVM of its own, so that the parent can kill it with
 * {@code destroyForcibly()} (SIGKILL, as {@code kill -9}) and start another on the same checkpoint directory. Not a
 * benchmark by itself: it measures inside this JVM (JVM start-up excluded) and prints what it measured as
 * machine-readable lines on stdout, {@code RESULT <what> key=value ...}, which the parent parses:
 * <ul>
 *   <li>{@code RESULT restored seconds=S sequence=N codes=C}: from {@code start()} to the runner's RUNNING state,
 *       i.e. the restore of the newest base and its deltas (0 and sequence 0 with an empty directory);</li>
 *   <li>{@code RESULT caught_up seconds=S records=R codes=C}: from RUNNING (or from a {@code catchup} command) to
 *       {@code awaitCaughtUp} returning true: the replay of the tail;</li>
 *   <li>{@code RESULT checkpoint file=F delta=true|false bytes=B write_seconds=S}: for every checkpoint, from the
 *       first sight of its temporary file to the first sight of its final name (the directory is listed every
 *       millisecond), the kind and size read by {@link CouponCheckpoints#list}; the directory fsync after the rename
 *       is not included;</li>
 *   <li>{@code RESULT heap used_after_gc=B codes=C valid=[...]}: the heap in use after full GCs (this JVM holds the
 *       runner and its state and little else) and the valid codes;</li>
 *   <li>{@code RESULT closed seconds=S}: {@code close()}, which writes the final checkpoint.</li>
 * </ul>
 * Commands, one a line on stdin: {@code catchup}, {@code heap}, {@code close} (then exits 0).
 *
 * <pre>
 * java -Xmx2g -cp benchmarks.jar io.couponstate.benchmarks.ReferenceKafkaChild SERVERS CHECKPOINT_DIR \
 *      APPLY_THREADS JOURNAL_ENTRIES CHECKPOINT_INTERVAL_SECONDS TOPIC[,TOPIC...]
 * </pre>
 */
public final class ReferenceKafkaChild {

    private static final Duration CATCH_UP = Duration.ofMinutes(20);

    private ReferenceKafkaChild() {
    }

    /** Runs the child; see the class comment for the arguments and the protocol. */
    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            throw new IllegalArgumentException("expected 6 arguments: SERVERS CHECKPOINT_DIR APPLY_THREADS "
                    + "JOURNAL_ENTRIES CHECKPOINT_INTERVAL_SECONDS TOPICS, got " + List.of(args));
        }
        String servers = args[0];
        Path dir = Path.of(args[1]);
        int applyThreads = Integer.parseInt(args[2]);
        int journal = Integer.parseInt(args[3]);
        Duration interval = Duration.ofSeconds(Long.parseLong(args[4]));
        List<String> topics = List.of(args[5].split(","));

        Files.createDirectories(dir);
        CheckpointWatch watch = CheckpointWatch.start(dir);
        LockFreeCouponState state = new LockFreeCouponState(CouponStateConfig.builder()
                .changeJournalCapacity(journal).build());
        AtomicLong runningAt = new AtomicLong();
        CouponConsumerRunner runner = CouponConsumerRunner.builder().bootstrapServers(servers)
                .groupId("reference-kafka").topics(topics).state(state).checkpointDirectory(dir)
                .checkpointInterval(interval).applyThreads(applyThreads)
                .stateListener((now, old) -> {
                    if (now == CouponConsumerRunner.State.RUNNING) {
                        runningAt.set(System.nanoTime());
                    }
                }).build();
        long s0 = System.nanoTime();
        runner.start();
        while (runningAt.get() == 0) {
            if (runner.runnerState().isTerminal()) {
                throw new IllegalStateException("runner stopped while restoring: " + runner.failureCause());
            }
            Thread.sleep(1);
        }
        result("restored seconds=%.3f sequence=%d codes=%d", (runningAt.get() - s0) / 1e9,
                runner.metrics().restoredCheckpointSequence(), state.size());
        catchUp(runner, state, runningAt.get());

        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            switch (line.trim()) {
                case "catchup" -> catchUp(runner, state, System.nanoTime());
                case "heap" -> result("heap used_after_gc=%d codes=%d valid=%s", Heap.usedAfterGc(), state.size(),
                        new TreeSet<>(state.getCouponCodesByObservationCount(2)).toString().replace(" ", ""));
                case "close" -> {
                    long c0 = System.nanoTime();
                    runner.close();
                    result("closed seconds=%.3f state=%s", (System.nanoTime() - c0) / 1e9, runner.runnerState());
                    watch.stop();
                    System.exit(0);
                }
                default -> throw new IllegalArgumentException("command: " + line
                        + " (expected: catchup, heap, close)");
            }
        }
    }

    private static void catchUp(CouponConsumerRunner runner, LockFreeCouponState state, long from)
            throws InterruptedException {
        if (!runner.awaitCaughtUp(CATCH_UP)) {
            throw new IllegalStateException("not caught up within " + CATCH_UP + ": " + runner.metrics());
        }
        result("caught_up seconds=%.3f records=%d codes=%d", (System.nanoTime() - from) / 1e9,
                runner.metrics().recordsConsumed(), state.size());
    }

    static synchronized void result(String format, Object... values) {
        System.out.println("RESULT " + String.format(Locale.ROOT, format, values));
        System.out.flush();
    }

    /**
     * Times the runner's checkpoint writes from outside, through public API only: a thread lists the directory every
     * millisecond and remembers when it first saw each file; when a complete checkpoint first appears under its name,
     * it prints the time since its temporary file first appeared (so the write up to the rename: the directory fsync
     * after it is not included) with the kind and size that {@link CouponCheckpoints#list} reads from its header. Also
     * used by the parent JVM.
     */
    static final class CheckpointWatch {
        private final Map<String, Long> firstSeen = new ConcurrentHashMap<>();
        private final Set<String> reported = ConcurrentHashMap.newKeySet();
        private final Path dir;
        private final Thread thread;
        private volatile boolean stop; // volatile: set by the main thread, read by the watcher

        private CheckpointWatch(Path dir) {
            this.dir = dir;
            thread = new Thread(() -> {
                while (!stop) {
                    try (Stream<Path> files = Files.list(dir)) {
                        long now = System.nanoTime();
                        List<String> names = files.map(f -> f.getFileName().toString()).toList();
                        boolean fresh = false;
                        for (String name : names) {
                            firstSeen.putIfAbsent(name, now);
                            fresh |= name.endsWith(".ckpt") && !reported.contains(name);
                        }
                        if (fresh) {
                            report(now);
                        }
                    } catch (IOException | RuntimeException e) {
                        // a file renamed or deleted while listing: list again
                    }
                    try {
                        Thread.sleep(1);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "checkpoint-watch");
            thread.setDaemon(true);
        }

        private void report(long now) throws IOException {
            for (CouponCheckpoints.Checkpoint c : CouponCheckpoints.list(dir)) {
                String name = c.file().getFileName().toString();
                if (!reported.add(name)) {
                    continue;
                }
                Long tmpSeen = null;
                for (Map.Entry<String, Long> e : firstSeen.entrySet()) {
                    if (e.getKey().startsWith(name + ".") && e.getKey().endsWith(".tmp")) {
                        tmpSeen = tmpSeen == null ? e.getValue() : Math.min(tmpSeen, e.getValue());
                    }
                }
                long done = firstSeen.getOrDefault(name, now);
                result("checkpoint file=%s delta=%s bytes=%d write_seconds=%.3f", name, c.delta(), c.bytes(),
                        tmpSeen == null ? -1.0 : (done - tmpSeen) / 1e9);
            }
        }

        static CheckpointWatch start(Path dir) {
            CheckpointWatch w = new CheckpointWatch(dir);
            w.thread.start();
            return w;
        }

        void stop() {
            stop = true;
        }
    }
}
