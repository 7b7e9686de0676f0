package io.couponstate.kafka;

import io.couponstate.core.CouponState;
import io.couponstate.core.StripedLockCouponState;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The library with whatever kafka-clients its class path holds, for {@link KafkaClientsRangeIntegrationTest}: uses
 * the library and the client only (no test kit, no broker classes), so it runs on a class path of the kafka module,
 * core, one kafka-clients and slf4j. Arguments: a mode, bootstrap servers, checkpoint directory, comma-separated
 * topics. Prints {@code CLIENT <kafka-clients version>} first, then per mode:
 * <ul>
 *   <li>{@code runner-kill}: the runner until caught up and a checkpoint covers every record, then {@code STATE ...}
 *       and {@code DURABLE}, and waits to be killed with SIGKILL;</li>
 *   <li>{@code runner-close}: the runner until caught up, {@code RESTORED <sequence>} and {@code STATE ...}, then
 *       {@code close()} (the final checkpoint) and {@code CLOSED};</li>
 *   <li>{@code loop}: a plain {@code KafkaConsumer} over {@link CouponCheckpoints}: restore ({@code RESTORED_OFFSETS
 *       <sum>}), assign, seek, poll to the end offsets, write a checkpoint, {@code STATE ...}.</li>
 * </ul>
 * {@code STATE codes=N valid=V sha256=H} describes the whole state: H is over every code with its sorted sources.
 * Halts when its stdin closes, so it never outlives the test JVM.
 */
public final class ClientsRangeChildMain {

    private static final Duration WAIT = Duration.ofMinutes(2); // a hang guard only

    private ClientsRangeChildMain() {
    }

    /** Runs one mode, see the class comment; exits 0 when done, 2 on a failure it can name. */
    public static void main(String[] args) throws Exception {
        String mode = args[0];
        String bootstrap = args[1];
        Path dir = Path.of(args[2]);
        List<String> topics = Arrays.asList(args[3].split(","));
        CrashChildMain.haltWhenParentGoes();
        System.out.println("CLIENT " + clientVersion());
        switch (mode) {
            case "runner-kill", "runner-close" -> runner(mode.equals("runner-kill"), bootstrap, dir, topics);
            case "loop" -> loop(bootstrap, dir, topics);
            default -> throw new IllegalArgumentException("mode: " + mode);
        }
        System.out.flush();
        System.exit(0);
    }

    /**
     * The version of the kafka-clients jar on the class path, from the properties file every client jar carries (the
     * class that reads it moved to an internal package between 4.1 and 4.4).
     */
    static String clientVersion() throws java.io.IOException {
        Properties properties = new Properties();
        try (var in = KafkaConsumer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            if (in == null) {
                return "(no kafka/kafka-version.properties in " + KafkaConsumer.class.getProtectionDomain()
                        .getCodeSource().getLocation() + ")";
            }
            properties.load(in);
        }
        return properties.getProperty("version");
    }

    private static void runner(boolean kill, String bootstrap, Path dir, List<String> topics) throws Exception {
        CouponState state = new StripedLockCouponState();
        CouponConsumerRunner runner = CouponConsumerRunner.builder()
                .bootstrapServers(bootstrap)
                .topics(topics)
                .state(state)
                .checkpointDirectory(dir)
                .checkpointInterval(Duration.ofMillis(100))
                .pollTimeout(Duration.ofMillis(100))
                .progressLogInterval(Duration.ZERO)
                .consumerProperty("fetch.max.wait.ms", 50)
                .build();
        runner.start();
        if (!runner.awaitCaughtUp(WAIT)) {
            fail("not caught up within " + WAIT + ": " + runner.metrics());
        }
        System.out.println("RESTORED " + runner.metrics().restoredCheckpointSequence());
        System.out.println(describe(state));
        if (kill) {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!newestCovers(dir, runner.appliedPositions())) {
                if (System.nanoTime() > deadline) {
                    fail("no checkpoint covers " + runner.appliedPositions() + " within " + WAIT);
                }
                Thread.sleep(20);
            }
            System.out.println("DURABLE");
            System.out.flush();
            Thread.sleep(WAIT.toMillis()); // the parent kills us here
            fail("not killed");
        }
        runner.close();
        if (runner.failureCause().isPresent()) {
            fail("runner failed: " + runner.failureCause().get());
        }
        System.out.println("CLOSED");
    }

    private static boolean newestCovers(Path dir, Map<TopicPartition, Long> applied) throws Exception {
        List<CouponCheckpoints.Checkpoint> all = CouponCheckpoints.list(dir);
        return !all.isEmpty() && all.get(all.size() - 1).offsets().equals(applied);
    }

    private static void loop(String bootstrap, Path dir, List<String> topics) throws Exception {
        CouponState state = new StripedLockCouponState();
        Map<String, Object> config = new HashMap<>();
        config.put("bootstrap.servers", bootstrap);
        config.put("enable.auto.commit", false);
        config.put("fetch.max.wait.ms", 50);
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(dir);
                KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(config, new ByteArrayDeserializer(),
                        new ByteArrayDeserializer())) {
            Map<TopicPartition, Long> restored = checkpoints.restore(state);
            System.out.println("RESTORED_OFFSETS " + restored.values().stream().mapToLong(Long::longValue).sum());
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : topics) {
                for (PartitionInfo info : consumer.partitionsFor(topic, WAIT)) {
                    partitions.add(new TopicPartition(topic, info.partition()));
                }
            }
            consumer.assign(partitions);
            for (TopicPartition partition : partitions) {
                Long offset = restored.get(partition);
                if (offset != null) {
                    consumer.seek(partition, offset);
                } else {
                    consumer.seekToBeginning(List.of(partition)); // never the group's committed offset
                }
            }
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, WAIT);
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                if (System.nanoTime() > deadline) {
                    fail("not at the end offsets " + end + " within " + WAIT);
                }
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(100))) {
                    state.addObservation(new String(record.value(), StandardCharsets.US_ASCII), record.topic());
                }
            }
            Map<TopicPartition, Long> positions = new HashMap<>();
            for (TopicPartition partition : partitions) {
                positions.put(partition, consumer.position(partition));
            }
            checkpoints.write(state, positions);
        }
        System.out.println(describe(state));
    }

    /** {@code STATE codes=N valid=V sha256=H}, H over every code's line {@code CODE=SOURCE,SOURCE} in code order. */
    static String describe(CouponState state) throws Exception {
        TreeSet<String> codes = new TreeSet<>(state.getCouponCodesByObservationCount(1));
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (String code : codes) {
            sha.update(line(code, new TreeSet<>(state.getObservations(code))).getBytes(StandardCharsets.UTF_8));
        }
        return "STATE codes=" + codes.size() + " valid=" + state.getCouponCodesByObservationCount(state.threshold())
                .size() + " sha256=" + HexFormat.of().formatHex(sha.digest());
    }

    /** One code's line in the digest. */
    static String line(String code, Iterable<String> sortedSources) {
        return code + "=" + String.join(",", sortedSources) + "\n";
    }

    private static void fail(String why) {
        System.out.println("FAILED " + why);
        System.out.flush();
        System.exit(2);
    }
}
