package io.couponstate.benchmarks;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.testing.EmbeddedKafkaBroker;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The reference data set through Kafka: three topics shaped like the reference promo-code files (topic {@code i}
 * holds codes of {@code 7 + i} characters of A-Z0-9, {@code ReferenceScaleRun}'s generator: 107M, 107M and 98.5M
 * at {@code --scale 1}, about 31M records at 0.1, a few duplicates inside each topic, and the hand-placed codes so
 * that exactly eight are in two topics or more) on the in-JVM broker of coupon-state-kafka-testkit, its log
 * directory under {@code --dir} (deleted at the end). Measures, in this order:
 * <ol>
 *   <li><b>cold catch-up</b>: a bare {@code KafkaConsumer} poll loop over all the records (the ceiling), then the
 *       runner in this JVM (empty checkpoint directory, a default-sized {@code LockFreeCouponState} with a change
 *       journal, default checkpoint interval), then the bare loop again (to bracket the machine's load); for each,
 *       seconds from the first record to the last and from start to caught up; the runner's valid codes are
 *       checked to be exactly the eight. <b>Heap per code</b>: the heap in use after full GCs with the caught-up
 *       runner, minus the heap before it was built, divided by its codes. Its {@code close()} writes a checkpoint
 *       (seconds and bytes printed);</li>
 *   <li>{@code --tail} (1M) records of new codes are produced; a <b>child JVM</b> ({@link ReferenceKafkaChild})
 *       restores that checkpoint, replays them, and closes: its final checkpoint is <b>the delta with 1M new records
 *       on top of the full state</b> (seconds from the temporary file's first sight to its fsync, and bytes);</li>
 *   <li><b>warm restart after kill -9</b>: a second child restores, catches up, then {@code --tail} more records
 *       are produced and applied (not checkpointed: the children's checkpoint interval is 10 minutes), and the
 *       parent kills it with {@code destroyForcibly()}; a third child on the same directory reports <b>restore
 *       seconds</b> (from {@code start()} to RUNNING: the base and its deltas) and <b>tail seconds</b> (RUNNING to
 *       caught up: the replay of the records the killed one had applied but not checkpointed), and its heap.</li>
 * </ol>
 * Then a table of all of it. Measured inside the JVMs (the children's JVM start-up excluded, printed apart). A
 * measurement, not a test: it exits with status 1 only if a state does not hold exactly the expected codes.
 *
 * <p>Heap: this JVM holds the broker (its log is in the page cache, not the heap), a producer and the runner's state
 * (about 14-19 bytes per code while it grows, twice that during a resize); a child holds one state. At 0.1:
 * {@code -Xmx3g} here, {@code --child-xmx 2g}; at 0.3: {@code -Xmx6g}, {@code --child-xmx 4g}. Disk: the log
 * (about 12 bytes a record after lz4 plus batch overhead) and the checkpoints (8-9 bytes a code).
 *
 * <pre>
 * java -Xmx3g -cp coupon-state-benchmarks/target/benchmarks.jar io.couponstate.benchmarks.ReferenceKafkaRun \
 *      [--scale 0.1] [--partitions 3] [--apply-threads 1] [--tail 1000000] [--child-xmx 2g] [--dir /tmp]
 * </pre>
 */
public final class ReferenceKafkaRun {

    static final String[] TOPICS = {"reference-1", "reference-2", "reference-3"};
    private static final long[] FULL_COUNTS = {107_000_000L, 107_000_000L, 98_500_000L};
    private static final int DUP_MASK = (1 << 20) - 1;
    private static final long CHILD_CHECKPOINT_INTERVAL_SECONDS = TimeUnit.MINUTES.toSeconds(10);
    private static final Duration CATCH_UP = Duration.ofMinutes(30);

    private ReferenceKafkaRun() {
    }

    /** Runs it; see the class comment for the arguments. */
    public static void main(String[] args) throws Exception {
        double scale = 0.1;
        int partitions = 3;
        int applyThreads = 1;
        int tail = 1_000_000;
        String childXmx = "2g";
        Path parent = Path.of(System.getProperty("java.io.tmpdir"));
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--scale" -> scale = Double.parseDouble(args[++i]);
                case "--partitions" -> partitions = Integer.parseInt(args[++i]);
                case "--apply-threads" -> applyThreads = Integer.parseInt(args[++i]);
                case "--tail" -> tail = Integer.parseInt(args[++i]);
                case "--child-xmx" -> childXmx = args[++i];
                case "--dir" -> parent = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("argument: " + args[i] + " (expected: --scale X, "
                        + "--partitions N, --apply-threads N, --tail N, --child-xmx SIZE, --dir PATH)");
            }
        }
        long[] counts = new long[3];
        for (int s = 0; s < 3; s++) {
            counts[s] = Math.round(FULL_COUNTS[s] * scale);
        }
        int journal = 2 * tail; // holds one tail's changes between two checkpoints; overflows during a catch-up
        Path work = Files.createTempDirectory(parent, "reference-kafka-");
        Path logDir = work.resolve("broker");
        Path checkpoints = work.resolve("checkpoints");
        Map<String, String> table = new LinkedHashMap<>();
        boolean ok = true;
        System.out.printf(Locale.ROOT, "reference-through-Kafka run: scale %s (%,d + %,d + %,d codes), %d partitions "
                        + "a topic, applyThreads %d, tail %,d, max heap %s, child -Xmx%s, work dir %s, %d cores%n",
                scale, counts[0], counts[1], counts[2], partitions, applyThreads, tail,
                Heap.mb(Runtime.getRuntime().maxMemory()), childXmx, work,
                Runtime.getRuntime().availableProcessors());
        Files.createDirectories(logDir);
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(0, logDir, Map.of())) {
            String servers = broker.bootstrapServers();
            KafkaCeilingRun.createTopics(servers, partitions, TOPICS);

            long l0 = System.nanoTime();
            long records = produce(servers, null, counts, true);
            long codes = counts[0] + counts[1] + counts[2] + 10;
            double loadSeconds = (System.nanoTime() - l0) / 1e9;
            System.out.printf(Locale.ROOT, "loaded %,d records (%,d distinct codes) in %.1f s (%.0f records/s); "
                    + "broker log %s%n", records, codes, loadSeconds, records / loadSeconds, Heap.mb(sizeOf(logDir)));
            table.put("records / distinct codes", String.format(Locale.ROOT, "%,d / %,d", records, codes));
            table.put("load (producer, lz4, acks=all)", String.format(Locale.ROOT, "%.1f s, broker log %s",
                    loadSeconds, Heap.mb(sizeOf(logDir))));

            // 1. cold catch-up: bare, runner, bare
            KafkaCeilingRun.Result bare1 = KafkaCeilingRun.bare(servers, records, TOPICS);
            printRun("bare loop (1)", bare1);
            KafkaCeilingRun.Result runner = coldRunner(servers, records, codes, checkpoints, applyThreads, journal,
                    table);
            printRun("runner cold", runner);
            KafkaCeilingRun.Result bare2 = KafkaCeilingRun.bare(servers, records, TOPICS);
            printRun("bare loop (2)", bare2);
            ok &= runner.codes() == codes;
            table.put("bare loop catch-up (1) / (2)", String.format(Locale.ROOT,
                    "%.1f s / %.1f s first→last (%.1f / %.1f s wall); %,.0f / %,.0f records/s", bare1.seconds(),
                    bare2.seconds(), bare1.wallSeconds(), bare2.wallSeconds(), bare1.recordsPerSecond(),
                    bare2.recordsPerSecond()));
            table.put("runner cold catch-up", String.format(Locale.ROOT,
                    "%.1f s first→last (%.1f s wall); %,.0f records/s; ÷ bare (1) %.3f, ÷ bare (2) %.3f",
                    runner.seconds(), runner.wallSeconds(), runner.recordsPerSecond(),
                    runner.recordsPerSecond() / bare1.recordsPerSecond(),
                    runner.recordsPerSecond() / bare2.recordsPerSecond()));
            table.put("heap per code, runner in this JVM (heap after GC delta ÷ codes)", String.format(Locale.ROOT,
                    "%.2f B (%s for %,d codes)", (double) runner.retainedBytes() / runner.codes(),
                    Heap.mb(runner.retainedBytes()), runner.codes()));

            // 2. the delta: 1M new records on top of the full state, checkpointed by a child's close
            long[] tail1From = counts.clone();
            long[] tail1To = plus(counts, tail);
            produce(servers, tail1From, tail1To, false);
            codes += tail;
            Child c1 = Child.start(servers, checkpoints, applyThreads, journal, childXmx, "child 1");
            Map<String, String> r1 = c1.expect("restored");
            Map<String, String> u1 = c1.expect("caught_up");
            c1.send("close");
            Map<String, String> ck1 = c1.expect("checkpoint");
            Map<String, String> cl1 = c1.expect("closed");
            c1.awaitExit();
            table.put("restore after a clean close (child 1), then the first tail", String.format(Locale.ROOT,
                    "%s s restore (%s codes), %s s tail", r1.get("seconds"), r1.get("codes"), u1.get("seconds")));
            table.put("checkpoint with " + String.format(Locale.ROOT, "%,d", tail) + " new records on the full "
                    + "state (child 1's close)", String.format(Locale.ROOT, "%s: %s s write+fsync, %s bytes "
                    + "(%s); close() %s s", "true".equals(ck1.get("delta")) ? "delta" : "BASE",
                    ck1.get("write_seconds"), group(ck1.get("bytes")), Heap.mb(Long.parseLong(ck1.get("bytes"))),
                    cl1.get("seconds")));
            ok &= Long.parseLong(u1.get("codes")) == codes;

            // 3. warm restart after kill -9
            Child c2 = Child.start(servers, checkpoints, applyThreads, journal, childXmx, "child 2");
            c2.expect("restored");
            c2.expect("caught_up");
            produce(servers, tail1To, plus(tail1To, tail), false);
            codes += tail;
            c2.send("catchup");
            Map<String, String> u2 = c2.expect("caught_up");
            ok &= Long.parseLong(u2.get("codes")) == codes;
            long k0 = System.nanoTime();
            c2.process.destroyForcibly();
            c2.process.waitFor();
            System.out.printf(Locale.ROOT, "child 2 killed (destroyForcibly) after applying the second tail, in "
                    + "%.3f s, exit %d%n", (System.nanoTime() - k0) / 1e9, c2.process.exitValue());
            Child c3 = Child.start(servers, checkpoints, applyThreads, journal, childXmx, "child 3");
            Map<String, String> r3 = c3.expect("restored");
            Map<String, String> u3 = c3.expect("caught_up");
            c3.send("heap");
            Map<String, String> h3 = c3.expect("heap");
            c3.send("close");
            c3.expect("closed");
            c3.awaitExit();
            long childCodes = Long.parseLong(h3.get("codes"));
            ok &= childCodes == codes && validIsTheEight(h3.get("valid"));
            table.put("warm restart after kill -9 (child 3): restore to RUNNING", String.format(Locale.ROOT,
                    "%s s (checkpoint %s, %s codes)", r3.get("seconds"), r3.get("sequence"), r3.get("codes")));
            table.put("warm restart after kill -9 (child 3): tail to caught up", String.format(Locale.ROOT,
                    "%s s (%s records replayed)", u3.get("seconds"), u3.get("records")));
            table.put("heap per code, child 3 (used after GC ÷ codes, whole JVM)", String.format(Locale.ROOT,
                    "%.2f B (%s for %,d codes)", Long.parseLong(h3.get("used_after_gc")) / (double) childCodes,
                    Heap.mb(Long.parseLong(h3.get("used_after_gc"))), childCodes));
            table.put("checkpoint directory at the end", Heap.mb(sizeOf(checkpoints)));
            table.put("valid codes (child 3)", h3.get("valid"));
        } finally {
            KafkaCeilingRun.deleteRecursively(work);
        }
        System.out.println();
        System.out.println("| measure (scale " + scale + ", applyThreads " + applyThreads + ") | result |");
        System.out.println("|---|---|");
        table.forEach((k, v) -> System.out.println("| " + k + " | " + v + " |"));
        System.out.println(ok ? "RESULT OK: every state held exactly the expected codes, exactly the eight valid"
                : "RESULT FAIL: a state did not hold the expected codes (see above)");
        if (!ok) {
            System.exit(1);
        }
    }

    /** The runner in this JVM into a default-sized state, from an empty checkpoint directory; closed at the end. */
    private static KafkaCeilingRun.Result coldRunner(String servers, long records, long codes, Path checkpoints,
            int applyThreads, int journal, Map<String, String> table) throws Exception {
        Files.createDirectories(checkpoints);
        long before = Heap.usedAfterGc();
        ReferenceKafkaChild.CheckpointWatch watch = ReferenceKafkaChild.CheckpointWatch.start(checkpoints);
        long w0 = System.nanoTime();
        LockFreeCouponState state = new LockFreeCouponState(CouponStateConfig.builder()
                .changeJournalCapacity(journal).build());
        CouponConsumerRunner runner = CouponConsumerRunner.builder().bootstrapServers(servers)
                .groupId("reference-kafka").topics(List.of(TOPICS)).state(state).checkpointDirectory(checkpoints)
                .applyThreads(applyThreads).build();
        try {
            runner.start();
            while (state.size() == 0) {
                if (runner.runnerState().isTerminal() || System.nanoTime() - w0 > CATCH_UP.toNanos()) {
                    throw new IllegalStateException("runner: nothing applied, " + runner.metrics());
                }
                Thread.sleep(1);
            }
            long first = System.nanoTime();
            if (!runner.awaitCaughtUp(CATCH_UP)) {
                throw new IllegalStateException("runner: not caught up, " + runner.metrics());
            }
            long end = System.nanoTime();
            long retained = Heap.usedAfterGc() - before;
            TreeSet<String> valid = new TreeSet<>(state.getCouponCodesByObservationCount(2));
            System.out.printf(Locale.ROOT, "runner: %,d codes, valid %s, %d checkpoints during the catch-up%n",
                    state.size(), valid, runner.metrics().checkpointsWritten());
            if (!validIsTheEight(valid.toString().replace(" ", ""))) {
                throw new IllegalStateException("runner: valid codes " + valid + ", expected "
                        + new TreeSet<>(ReferenceScaleRun.EXPECTED_VALID));
            }
            long c0 = System.nanoTime();
            runner.close();
            table.put("runner cold: close() incl. its checkpoint", String.format(Locale.ROOT, "%.2f s, checkpoint "
                    + "directory %s", (System.nanoTime() - c0) / 1e9, Heap.mb(sizeOf(checkpoints))));
            return new KafkaCeilingRun.Result("runner-" + applyThreads + "t", records, (end - first) / 1e9,
                    (end - w0) / 1e9, retained, state.size() == codes ? codes : state.size());
        } finally {
            runner.close();
            watch.stop();
        }
    }

    private static boolean validIsTheEight(String valid) {
        return valid.equals(new TreeSet<>(ReferenceScaleRun.EXPECTED_VALID).toString().replace(" ", ""));
    }

    private static void printRun(String what, KafkaCeilingRun.Result r) {
        System.out.printf(Locale.ROOT, "%-14s %,12.0f records/s  (%,d records, %.2f s first→last, %.2f s wall)%n",
                what, r.recordsPerSecond(), r.records(), r.seconds(), r.wallSeconds());
    }

    private static long[] plus(long[] from, long total) {
        long[] to = from.clone();
        for (int s = 0; s < 3; s++) {
            to[s] += total * (s + 1) / 3 - total * s / 3;
        }
        return to;
    }

    private static String group(String number) {
        return String.format(Locale.ROOT, "%,d", Long.parseLong(number));
    }

    /**
     * Produces codes {@code [from[s], to[s])} of topic {@code s} ({@code from == null}: from 0); with
     * {@code reference}, also the in-topic duplicates (every 2^20-th code twice) and the hand-placed codes.
     * Key null, value the code's bytes. Returns the records sent; fails if any send failed.
     */
    static long produce(String servers, long[] from, long[] to, boolean reference) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, servers);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 512 * 1024);
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, 128L << 20);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        // not idempotent: a second idempotent producer in this JVM hit OutOfOrderSequenceException on the in-JVM
        // broker under load (2026-12-02) and retried for ever; a retried batch may duplicate records, which adds no
        // code, and the consumers here wait for codes or count records at least up to the expected number
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false);
        AtomicReference<Exception> failed = new AtomicReference<>();
        long sent = 0;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            for (int s = 0; s < 3; s++) {
                int length = 8 + s;
                long space = ReferenceScaleRun.space(length);
                long start = from == null ? 0 : from[s];
                for (long j = start; j < to[s]; j++) {
                    byte[] code = new byte[length];
                    ReferenceScaleRun.code(code, length, space, ReferenceScaleRun.B[s], j);
                    int copies = reference && (j & DUP_MASK) == 0 ? 2 : 1;
                    for (int c = 0; c < copies; c++) {
                        producer.send(new ProducerRecord<>(TOPICS[s], null, code), (m, e) -> {
                            if (e != null) {
                                failed.compareAndSet(null, e);
                            }
                        });
                        sent++;
                    }
                }
            }
            if (reference) {
                for (String code : List.of("BIRTHDAY", "BUYGETON", "FIFTYOFF", "FREEZAAA", "GNULINUX", "OVER9000",
                        "SIXTYOFF")) {
                    for (String topic : TOPICS) {
                        sent += send(producer, topic, code, failed);
                    }
                }
                sent += send(producer, TOPICS[0], "HAPPYHRS", failed);
                sent += send(producer, TOPICS[2], "HAPPYHRS", failed);
                sent += send(producer, TOPICS[0], "SUPER100", failed);
                sent += send(producer, TOPICS[1], "MOODYHRS", failed);
            }
            producer.flush();
        }
        if (failed.get() != null) {
            throw new IllegalStateException("a send failed", failed.get());
        }
        return sent;
    }

    private static int send(KafkaProducer<byte[], byte[]> producer, String topic, String code,
            AtomicReference<Exception> failed) {
        producer.send(new ProducerRecord<>(topic, null, code.getBytes(StandardCharsets.US_ASCII)), (m, e) -> {
            if (e != null) {
                failed.compareAndSet(null, e);
            }
        });
        return 1;
    }

    private static long sizeOf(Path dir) {
        try (var walk = Files.walk(dir)) {
            return walk.filter(Files::isRegularFile).mapToLong(f -> {
                try {
                    return Files.size(f);
                } catch (IOException e) {
                    return 0; // deleted while walking
                }
            }).sum();
        } catch (IOException e) {
            return -1;
        }
    }

    /** A {@link ReferenceKafkaChild} process: its stdout echoed with a prefix, its RESULT lines queued. */
    private static final class Child {
        final Process process;
        final String name;
        final Writer commands;
        final BlockingQueue<String> results = new LinkedBlockingQueue<>();

        private Child(Process process, String name) {
            this.process = process;
            this.name = name;
            this.commands = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            Thread reader = new Thread(() -> {
                try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = out.readLine()) != null; ) {
                        if (line.contains(" WARN ")) {
                            continue;
                        }
                        System.out.println("  [" + name + "] " + line);
                        if (line.startsWith("RESULT ")) {
                            results.add(line.substring("RESULT ".length()));
                        }
                    }
                } catch (IOException e) {
                    // the process was killed
                }
                results.add("exited");
            }, name + "-out");
            reader.setDaemon(true);
            reader.start();
        }

        static Child start(String servers, Path dir, int applyThreads, int journal, String xmx, String name)
                throws IOException {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> cmd = List.of(java, "-Xmx" + xmx, "-cp", System.getProperty("java.class.path"),
                    ReferenceKafkaChild.class.getName(), servers, dir.toString(), String.valueOf(applyThreads),
                    String.valueOf(journal), String.valueOf(CHILD_CHECKPOINT_INTERVAL_SECONDS), String.join(",", TOPICS));
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            System.out.printf(Locale.ROOT, "%s: started pid %d (%.3f s to fork)%n", name, p.pid(),
                    (System.nanoTime() - t0) / 1e9);
            return new Child(p, name);
        }

        /** The next RESULT line, which must be {@code what}; its key=value pairs. */
        Map<String, String> expect(String what) throws InterruptedException {
            String line = results.poll(CATCH_UP.toMinutes(), TimeUnit.MINUTES);
            while (line != null && line.startsWith("checkpoint ") && !what.equals("checkpoint")) {
                line = results.poll(CATCH_UP.toMinutes(), TimeUnit.MINUTES); // echoed already; asked for only by 2.
            }
            if (line == null || !line.startsWith(what + " ")) {
                process.destroyForcibly();
                throw new IllegalStateException(name + ": expected a RESULT " + what + " line, got " + line);
            }
            Map<String, String> kv = new LinkedHashMap<>();
            for (String part : line.substring(what.length() + 1).split(" ")) {
                int eq = part.indexOf('=');
                if (eq > 0) {
                    kv.put(part.substring(0, eq), part.substring(eq + 1));
                }
            }
            return kv;
        }

        void send(String command) throws IOException {
            commands.write(command + "\n");
            commands.flush();
        }

        void awaitExit() throws InterruptedException {
            if (!process.waitFor(5, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new IllegalStateException(name + " did not exit");
            }
            if (process.exitValue() != 0) {
                throw new IllegalStateException(name + " exited with " + process.exitValue());
            }
        }
    }
}
