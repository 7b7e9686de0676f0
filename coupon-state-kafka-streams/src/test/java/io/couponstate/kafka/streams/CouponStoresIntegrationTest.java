package io.couponstate.kafka.streams;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.couponstate.core.CodeFormat;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.CouponCheckpoints;
import io.couponstate.kafka.InvalidRecordHandler;
import io.couponstate.kafka.InvalidRecordReason;
import io.couponstate.kafka.internal.partition.CodePartitioner;
import io.couponstate.kafka.testing.EmbeddedKafkaBroker;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.ThreadMetadata;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.processor.StandbyUpdateListener;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.processor.TaskId;
import org.apache.kafka.streams.query.FailureReason;
import org.apache.kafka.streams.query.QueryResult;
import org.apache.kafka.streams.query.StateQueryRequest;
import org.apache.kafka.streams.state.HostInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Real {@link KafkaStreams} instances on the in-JVM broker (one broker for the class): answers through IQv2 and the
 * example HTTP service, standbys, a closed instance's tasks moving, a restart that reads only the changelog's tail,
 * a crash under exactly_once_v2, bad records and misconfiguration.
 */
@Tag("integration")
class CouponStoresIntegrationTest {

    /** One broker for the class; one transaction-log partition, as the exactly-once test needs no more. */
    private static EmbeddedKafkaBroker kafka;

    private static final Duration WAIT = Duration.ofSeconds(120);
    static final String STORE = "coupons";
    /** A closed instance leaves the group, so the others (or its restart) need not wait for its session to expire. */
    private static final CloseOptions LEAVE = CloseOptions.groupMembershipOperation(
            CloseOptions.GroupMembershipOperation.LEAVE_GROUP);

    /**
     * The session of the instances a test kills: a SIGKILLed member is noticed when it expires. The broker's minimum
     * (6 s), not lower: the suite runs pinned to one core, where a survivor's heartbeat may wait its turn, and a
     * survivor evicted by a late heartbeat would rebalance under the test's feet.
     */
    private static final int SHORT_SESSION_MS = 6000;
    /** The session of instances that only leave cleanly (close with LEAVE_GROUP): long, so none is ever evicted. */
    private static final int LONG_SESSION_MS = 45_000;

    private final List<AutoCloseable> toClose = new ArrayList<>();
    private final List<Path> toDelete = new ArrayList<>();

    @BeforeAll
    static void startBroker() {
        kafka = EmbeddedKafkaBroker.start(0, null, Map.of("transaction.state.log.num.partitions", "1"));
    }

    @AfterAll
    static void stopBroker() {
        kafka.close();
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        for (Path dir : toDelete) {
            try (Stream<Path> walk = Files.walk(dir)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void twoInstances_answerExactly_standbysAnswerOnlyWhenStaleIsAllowed_andTheSurvivorTakesOver() throws Exception {
        List<String> topics = List.of("two-a", "two-b");
        createTopics(2, topics);
        Map<String, Set<String>> expected = new TreeMap<>();
        publish(topics.get(0), codes("TWO", 0, 120), expected);
        publish(topics.get(1), codes("TWO", 60, 180), expected); // 60 codes in both: valid

        CouponStores coupons = CouponStores.builder(STORE, topics).imageInterval(Duration.ZERO).build();
        String app = "two-" + System.nanoTime();
        Map<String, KafkaStreams> byEndpoint = new HashMap<>();
        Map<String, CouponStreamsHttpExample> http = new HashMap<>();
        for (int i = 0; i < 2; i++) {
            CouponStreamsHttpExample service = new CouponStreamsHttpExample(STORE, CodeFormat.DEFAULT);
            toClose.add(service);
            Properties p = props(app, tempDir());
            p.put(StreamsConfig.APPLICATION_SERVER_CONFIG, service.endpoint());
            p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, 1);
            KafkaStreams ks = start(coupons.addTo(new Topology()), p, null);
            service.serve(ks);
            byEndpoint.put(service.endpoint(), ks);
            http.put(service.endpoint(), service);
        }
        awaitExact(byEndpoint, expected);

        // the example service: every instance answers every code alike, owner or not
        HttpClient client = HttpClient.newHttpClient();
        String valid = expected.keySet().stream().filter(c -> expected.get(c).size() == 2).findFirst().orElseThrow();
        String single = expected.keySet().iterator().next();
        for (String endpoint : http.keySet()) {
            assertThat(get(client, endpoint, "/coupons/" + valid))
                    .isEqualTo("200 {\"code\":\"" + valid + "\",\"valid\":true,\"sources\":[\"two-a\",\"two-b\"]}");
            assertThat(get(client, endpoint, "/coupons/" + single))
                    .isEqualTo("200 {\"code\":\"" + single + "\",\"valid\":false,\"sources\":[\"two-a\"]}");
            assertThat(get(client, endpoint, "/coupons/NOSUCH99"))
                    .isEqualTo("200 {\"code\":\"NOSUCH99\",\"valid\":false,\"sources\":[]}");
            assertThat(get(client, endpoint, "/coupons/x!")).startsWith("400 {\"error\":\"malformed coupon code");
            assertThat(get(client, endpoint, "/other")).startsWith("404 ");
        }

        // a standby refuses unless stale answers are allowed, and then says it is a standby
        KafkaStreams any = byEndpoint.values().iterator().next();
        await().atMost(WAIT).until(() -> !CouponStores.queryMetadata(any, STORE, valid).standbyHosts().isEmpty());
        KeyQueryMetadata where = CouponStores.queryMetadata(any, STORE, valid);
        String standbyEndpoint = byEndpoint.keySet().stream().filter(e -> !e.equals(hostPort(where.activeHost())))
                .findFirst().orElseThrow();
        assertThat(where.standbyHosts()).extracting(CouponStoresIntegrationTest::hostPort).contains(standbyEndpoint);
        KafkaStreams standby = byEndpoint.get(standbyEndpoint);
        QueryResult<CouponQueries.CodeAnswer> refused = codeQuery(standby, CouponQueries.code(valid), where.partition());
        assertThat(refused.isFailure()).isTrue();
        assertThat(refused.getFailureReason()).isEqualTo(FailureReason.NOT_ACTIVE);
        await().atMost(WAIT).untilAsserted(() -> {
            QueryResult<CouponQueries.CodeAnswer> stale = codeQuery(standby, CouponQueries.code(valid).allowStale(),
                    where.partition());
            assertThat(stale.isSuccess()).as("%s", stale).isTrue();
            assertThat(stale.getResult()).isEqualTo(new CouponQueries.CodeAnswer(valid, true,
                    List.of("two-a", "two-b"), true));
        });

        // the valid codes, paged, from the active tasks
        assertThat(validCodes(byEndpoint.values(), 7)).containsExactlyElementsOf(expected.keySet().stream()
                .filter(c -> expected.get(c).size() >= 2).toList());

        // close the owner of the valid code's partition: the other instance's standby is promoted, answers stay exact
        String ownerEndpoint = hostPort(where.activeHost());
        byEndpoint.remove(ownerEndpoint).close(LEAVE);
        publish(topics.get(0), codes("TWO", 500, 520), expected); // and it keeps applying
        awaitExact(byEndpoint, expected);
        assertThat(get(client, standbyEndpoint, "/coupons/" + valid))
                .isEqualTo("200 {\"code\":\"" + valid + "\",\"valid\":true,\"sources\":[\"two-a\",\"two-b\"]}");
    }

    @Test
    void aChildJvmKilledWithSigkill_theSurvivorsAnswerTheUnionOfAllInputsExactly() throws Exception {
        List<String> topics = List.of("kill-a", "kill-b");
        createTopics(3, topics);
        Map<String, Set<String>> expected = new TreeMap<>();
        publish(topics.get(0), codes("KIL", 0, 90), expected);
        publish(topics.get(1), codes("KIL", 45, 135), expected);
        String app = "kill-" + System.nanoTime();
        Map<String, KafkaStreams> survivors = new HashMap<>();
        List<Throwable> deaths = new CopyOnWriteArrayList<>();
        for (int i = 0; i < 2; i++) {
            String endpoint = "127.0.0.1:" + (11 + i); // never served: names the instance in the metadata
            Properties p = streamsProps(kafka.bootstrapServers(), app, tempDir(), endpoint, SHORT_SESSION_MS);
            p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, 1);
            CouponStores coupons = CouponStores.builder(STORE, topics).imageInterval(Duration.ZERO).build();
            survivors.put(endpoint, start(coupons.addTo(new Topology()), p, deaths::add));
        }
        Path log = tempDir().resolve("child.log");
        Process child = startChild(app, tempDir(), topics, "127.0.0.1:13", log);
        try {
            BlockingQueue<String> lines = readLines(child);
            expectStatus(lines, child, log, s -> s.startsWith("STATUS RUNNING") && !s.contains("active=[]"));
            // the child owns active tasks: codes on every partition, its share applied by it alone
            publish(topics.get(0), codes("KIL", 200, 260), expected);
            publish(topics.get(1), codes("KIL", 230, 290), expected);
            String status = expectStatus(lines, child, log, s -> s.startsWith("STATUS RUNNING")
                    && !s.contains("active=[]") && !s.endsWith("processed=0"));
            awaitCommittedToTheEnd(app, topics); // its share is now in its changelog partitions, not to be redone
            for (String line; (line = lines.poll()) != null; ) {
                status = line; // the latest: printed at each change
            }
            assertThat(status).as("the child still owns active tasks").startsWith("STATUS RUNNING")
                    .doesNotContain("active=[]");
            System.out.println("child before the kill: " + status);
            publish(topics.get(0), codes("KIL", 400, 430), expected); // perhaps in flight when it dies
            child.destroyForcibly(); // SIGKILL
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
        } finally {
            child.destroyForcibly();
        }
        publish(topics.get(1), codes("KIL", 415, 445), expected);

        awaitExact(survivors, expected);
        List<String> valid = expected.keySet().stream().filter(c -> expected.get(c).size() >= 2).toList();
        await().atMost(WAIT).untilAsserted(() -> assertThat(validCodes(survivors.values(), 16))
                .containsExactlyElementsOf(valid));
        assertThat(deaths).isEmpty();
        await().atMost(WAIT).untilAsserted(() -> assertThat(survivors.values()).extracting(KafkaStreams::state)
                .containsOnly(KafkaStreams.State.RUNNING));
    }

    @Test
    void tasksRecycledStandbyToActiveAndBack_inOneJvm_reopenCleanly_andReleaseTheImageLocks() throws Exception {
        List<String> topics = List.of("rec-a", "rec-b");
        createTopics(2, topics);
        Map<String, Set<String>> expected = new TreeMap<>();
        publish(topics.get(0), codes("REC", 0, 60), expected);
        publish(topics.get(1), codes("REC", 30, 90), expected);
        String app = "rec-" + System.nanoTime();
        Path dirA = tempDir();
        Path dirB = tempDir();
        Set<String> allTasks = Set.of("0_0", "0_1");
        List<Throwable> deaths = new CopyOnWriteArrayList<>();
        List<KafkaStreams.State> states = new CopyOnWriteArrayList<>();
        AtomicInteger opensA = new AtomicInteger();
        List<String> promotedA = new CopyOnWriteArrayList<>();
        KafkaStreams a = startRecycling(app, dirA, "127.0.0.1:21", topics, opensA, promotedA, states, deaths);
        KafkaStreams b = startRecycling(app, dirB, "127.0.0.1:22", topics, new AtomicInteger(),
                new CopyOnWriteArrayList<>(), states, deaths);
        Map<String, KafkaStreams> both = Map.of("127.0.0.1:21", a, "127.0.0.1:22", b);

        // 1. one active and one standby each
        await().atMost(WAIT).until(() -> isOneActiveOneStandby(a) && isOneActiveOneStandby(b)
                && opensA.get() >= 2);
        awaitExact(both, expected);
        Tasks before = tasks(a);
        int opens = opensA.get();

        // 2. B leaves: A's standby is promoted, which must reuse its store (no store opened) and answer exactly
        b.close(LEAVE);
        await().atMost(WAIT).until(() -> a.state() == KafkaStreams.State.RUNNING
                && tasks(a).equals(new Tasks(allTasks, Set.of())));
        publish(topics.get(0), codes("REC", 200, 230), expected);
        awaitExact(Map.of("local", a), expected);
        assertThat(opensA.get()).as("stores opened on A: its standby %s became active in place", before.standby())
                .isEqualTo(opens);
        assertThat(promotedA).as("Kafka Streams' own word: standbys suspended as PROMOTED")
                .containsExactly(before.standby().iterator().next());

        // 3. B comes back (same state directory, reopened in this JVM): one of A's actives becomes a standby again
        AtomicInteger opensB = new AtomicInteger();
        KafkaStreams b2 = startRecycling(app, dirB, "127.0.0.1:22", topics, opensB, new CopyOnWriteArrayList<>(),
                states, deaths);
        Map<String, KafkaStreams> again = Map.of("127.0.0.1:21", a, "127.0.0.1:22", b2);
        await().atMost(WAIT).until(() -> isOneActiveOneStandby(a) && isOneActiveOneStandby(b2));
        Tasks after = tasks(a);
        publish(topics.get(1), codes("REC", 215, 245), expected);
        awaitExact(again, expected);
        List<String> valid = expected.keySet().stream().filter(c -> expected.get(c).size() >= 2).toList();
        await().atMost(WAIT).untilAsserted(() -> assertThat(validCodes(again.values(), 16))
                .containsExactlyElementsOf(valid));
        // Active to standby, Kafka Streams either recycles the store in place or (when the cooperative protocol
        // revokes the task in one rebalance and assigns it back as a standby in the next) closes it and opens it
        // again in this JVM: then the image directory it had locked must have been released. Both happen; either
        // way no thread died (checked below) and the answers above are exact.
        int reopenedOnA = opensA.get() - opens;
        assertThat(reopenedOnA).as("stores A opened again for its active %s turned standby", after.standby())
                .isBetween(0, allTasks.size());
        assertThat(opensB.get()).as("B's stores reopened in this JVM").isPositive();
        System.out.println("on A: standby " + before.standby() + " -> active in place, then active "
                + after.standby() + " -> standby " + (reopenedOnA == 0 ? "in place" : "through a close and "
                + reopenedOnA + " reopening(s)") + "; opens on B's restart " + opensB.get());

        // 4. nothing failed, and every image directory is free once the instances are closed
        assertThat(deaths).isEmpty();
        assertThat(states).doesNotContain(KafkaStreams.State.ERROR, KafkaStreams.State.PENDING_ERROR);
        assertThat(a.close(LEAVE.withTimeout(WAIT))).isTrue();
        assertThat(b2.close(LEAVE.withTimeout(WAIT))).isTrue();
        for (Path dir : List.of(dirA, dirB)) {
            Path images = dir.resolve(app).resolve(CouponStore.IMAGES_DIRECTORY).resolve(STORE);
            for (String task : allTasks) {
                try (CouponCheckpoints checkpoints = CouponCheckpoints.open(images.resolve(task))) {
                    checkpoints.restore(new LockFreeCouponState());
                }
            }
        }
    }

    @Test
    void exactlyOnce_crash_restoresTheImageAndOnlyTheChangelogTail_andAnswersTheCommittedUnion() throws Exception {
        List<String> topics = List.of("eos-a", "eos-b");
        createTopics(1, topics); // one task: which records a crash aborts is then known exactly
        Map<String, Set<String>> expected = new TreeMap<>();
        publish(topics.get(0), codes("EOS", 0, 200), expected);
        publish(topics.get(1), codes("EOS", 150, 250), expected);
        Path stateDir = tempDir();
        String app = "eos-" + System.nanoTime();

        // 1. image of everything so far, written by the clean close
        CouponStores imaged = CouponStores.builder(STORE, topics).imageInterval(Duration.ZERO).build();
        KafkaStreams first = start(imaged.addTo(new Topology()), eos(props(app, stateDir)), null);
        awaitExact(Map.of("local", first), expected);
        first.close(LEAVE);
        Path imageDir = CouponStore.imageDirectory(stateDir.resolve(app).resolve("0_0"), STORE, "0_0");
        List<CouponCheckpoints.Checkpoint> imageBefore = CouponCheckpoints.list(imageDir);
        assertThat(imageBefore).isNotEmpty();

        // 2. no image at commits: 40 codes reach the changelog (committed), then a crash mid-transaction
        AtomicBoolean crash = new AtomicBoolean(true);
        InvalidRecordHandler crashOnce = (record, reason) -> {
            if (crash.getAndSet(false)) {
                throw new IllegalStateException("simulated crash at " + record.topic() + "@" + record.offset());
            }
        };
        CouponStores noImages = CouponStores.builder(STORE, topics).imageInterval(Duration.ofHours(1))
                .invalidRecordHandler(crashOnce).build();
        AtomicReference<Throwable> died = new AtomicReference<>();
        KafkaStreams second = start(noImages.addTo(new Topology()), eos(props(app, stateDir)), died::set);
        publish(topics.get(0), codes("EOS", 1000, 1040), expected);
        awaitExact(Map.of("local", second), expected);
        awaitCommitted(app, new TopicPartition(topics.get(0), 0), 240);
        Map<String, Set<String>> aborted = new TreeMap<>();
        publish(topics.get(0), codes("EOS", 2000, 2010), aborted); // applied, then aborted with the bad record
        publishRaw(topics.get(0), 0, "BAD!".getBytes(StandardCharsets.US_ASCII));
        await().atMost(WAIT).until(() -> died.get() != null);
        assertThat(died.get()).hasStackTraceContaining("simulated crash");
        second.close(LEAVE);

        // 3. restart: the image is still there; only the committed tail (the 40 codes' records) is restored
        AtomicLong restored = new AtomicLong();
        KafkaStreams third = new KafkaStreams(noImages.addTo(new Topology()), eos(props(app, stateDir)));
        third.setGlobalStateRestoreListener(countingListener(restored));
        toClose.add(third);
        third.start();
        expected.putAll(aborted); // reprocessed from the committed input offsets
        awaitExact(Map.of("local", third), expected);
        // the 40 committed records; the restore counts offsets, so the aborted transaction's records and markers,
        // if they reached the log, add at most 10 + 2: far from the 340 records a restore from scratch reads
        assertThat(restored.get()).as("changelog offsets restored after the image").isBetween(40L, 52L);
        assertThat(CouponCheckpoints.list(imageDir)).extracting(CouponCheckpoints.Checkpoint::file)
                .contains(imageBefore.get(imageBefore.size() - 1).file());
    }

    @Test
    void badRecords_areCountedHandedOverAndNotStored() throws Exception {
        List<String> topics = List.of("bad-a", "bad-b");
        createTopics(2, topics);
        Map<String, Set<String>> expected = new TreeMap<>();
        publish(topics.get(0), codes("BAD", 0, 30), expected);
        String misplaced = "MISPLACED1";
        int right = CodePartitioner.partition(misplaced, 2);
        publishRaw(topics.get(1), 1 - right, misplaced.getBytes(StandardCharsets.US_ASCII));
        publishRaw(topics.get(1), 0, "x!".getBytes(StandardCharsets.US_ASCII));
        publishRaw(topics.get(1), 0, null);
        publishRaw(topics.get(1), 1, new byte[0]);
        List<String> handled = new CopyOnWriteArrayList<>();
        CouponStores coupons = CouponStores.builder(STORE, topics)
                .invalidRecordHandler((record, reason) -> handled.add(record.topic() + ":" + reason)).build();
        KafkaStreams ks = start(coupons.addTo(new Topology()), props("bad-" + System.nanoTime(), tempDir()), null);
        awaitExact(Map.of("local", ks), expected);
        await().atMost(WAIT).untilAsserted(() -> assertThat(handled).containsExactlyInAnyOrder(
                "bad-b:WRONG_PARTITION", "bad-b:TOO_SHORT", "bad-b:NULL_VALUE", "bad-b:EMPTY_VALUE"));
        assertThat(coupons.invalidCounts()).containsEntry(InvalidRecordReason.WRONG_PARTITION, 1L)
                .containsEntry(InvalidRecordReason.TOO_SHORT, 1L).containsEntry(InvalidRecordReason.NULL_VALUE, 1L)
                .containsEntry(InvalidRecordReason.EMPTY_VALUE, 1L).containsEntry(InvalidRecordReason.OVERSIZED, 0L);
        assertThat(codeQuery(ks, CouponQueries.code(misplaced), right).getResult().sources()).isEmpty();
        assertThat(codeQuery(ks, CouponQueries.code(misplaced), 1 - right).getResult().sources()).isEmpty();
    }

    @Test
    void topicsNotCoPartitioned_failAtStart_namingThem() throws Exception {
        createTopics(2, List.of("copart-a"));
        createTopics(3, List.of("copart-b"));
        publish("copart-b", codes("COP", 0, 5), new TreeMap<>());
        CouponStores coupons = CouponStores.builder(STORE, List.of("copart-a", "copart-b")).build();
        AtomicReference<Throwable> died = new AtomicReference<>();
        start(coupons.addTo(new Topology()), props("copart-" + System.nanoTime(), tempDir()), died::set);
        await().atMost(WAIT).until(() -> died.get() != null);
        assertThat(died.get()).hasStackTraceContaining("not co-partitioned: partition counts {copart-a=2, copart-b=3}");
    }

    @Test
    void theDefaultResolver_refusesARepartitionTopic_namingIt() throws Exception {
        createTopics(2, List.of("rep-a"));
        publish("rep-a", codes("REP", 0, 5), new TreeMap<>());
        CouponStores coupons = CouponStores.builder(STORE, List.of("rep-a")).build();
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream("rep-a", Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .repartition(Repartitioned.with(Serdes.ByteArray(), Serdes.ByteArray()).withName("rekeyed")
                        .withNumberOfPartitions(2))
                .process(coupons.processor());
        AtomicReference<Throwable> died = new AtomicReference<>();
        String app = "rep-" + System.nanoTime();
        start(builder.build(), props(app, tempDir()), died::set);
        await().atMost(WAIT).until(() -> died.get() != null);
        assertThat(died.get()).hasStackTraceContaining("record from " + app + "-rekeyed-repartition, an internal "
                + "topic of Kafka Streams");
    }

    // ---- helpers

    /** One instance's tasks, by id. */
    private record Tasks(Set<String> active, Set<String> standby) {
    }

    private static Tasks tasks(KafkaStreams ks) {
        Set<String> active = new TreeSet<>();
        Set<String> standby = new TreeSet<>();
        for (ThreadMetadata t : ks.metadataForLocalThreads()) {
            t.activeTasks().forEach(task -> active.add(task.taskId().toString()));
            t.standbyTasks().forEach(task -> standby.add(task.taskId().toString()));
        }
        return new Tasks(active, standby);
    }

    private static boolean isOneActiveOneStandby(KafkaStreams ks) {
        if (ks.state() != KafkaStreams.State.RUNNING) {
            return false;
        }
        Tasks t = tasks(ks);
        return t.active().size() == 1 && t.standby().size() == 1 && !t.active().equals(t.standby());
    }

    /**
     * An instance with one standby replica whose stores count their opening in {@code opens}, and whose standbys
     * suspended as promoted are listed (by task) in {@code promoted}.
     */
    private KafkaStreams startRecycling(String app, Path stateDir, String endpoint, List<String> topics,
            AtomicInteger opens, List<String> promoted, List<KafkaStreams.State> states, List<Throwable> deaths) {
        CouponStores coupons = CouponStores.builder(STORE, topics).imageInterval(Duration.ZERO)
                .stateFactory(config -> {
                    opens.incrementAndGet();
                    return new LockFreeCouponState(config);
                }).build();
        // a long session: members here only leave cleanly, and an eviction would move tasks the test counts
        Properties p = streamsProps(kafka.bootstrapServers(), app, stateDir, endpoint, LONG_SESSION_MS);
        p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, 1);
        KafkaStreams ks = new KafkaStreams(coupons.addTo(new Topology()), p);
        ks.setStateListener((now, was) -> states.add(now));
        ks.setStandbyUpdateListener(new StandbyUpdateListener() {
            @Override
            public void onUpdateStart(TopicPartition tp, String store, long startingOffset) {
            }

            @Override
            public void onBatchLoaded(TopicPartition tp, String store, TaskId task, long batchEnd, long size,
                    long endOffset) {
            }

            @Override
            public void onUpdateSuspended(TopicPartition tp, String store, long storeOffset, long endOffset,
                    SuspendReason reason) {
                if (reason == SuspendReason.PROMOTED) {
                    promoted.add("0_" + tp.partition());
                }
            }
        });
        ks.setUncaughtExceptionHandler(e -> {
            deaths.add(e);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        toClose.add(() -> ks.close(LEAVE.withTimeout(Duration.ofSeconds(30))));
        ks.start();
        return ks;
    }

    private Process startChild(String app, Path stateDir, List<String> topics, String endpoint, Path log)
            throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp",
                System.getProperty("java.class.path"), CouponStreamsChildMain.class.getName(),
                kafka.bootstrapServers(), app, stateDir.toString(), String.join(",", topics), endpoint, "1",
                Integer.toString(SHORT_SESSION_MS)).redirectError(log.toFile()).start();
        toClose.add(() -> child.destroyForcibly().waitFor(30, TimeUnit.SECONDS));
        return child;
    }

    private static BlockingQueue<String> readLines(Process child) {
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    lines.add(line);
                }
            } catch (IOException e) {
                // the child was killed
            }
        }, "streams-child-stdout");
        reader.setDaemon(true);
        reader.start();
        return lines;
    }

    /** The child's first status line that {@code matches}; fails with its log if it dies or never prints one. */
    private static String expectStatus(BlockingQueue<String> lines, Process child, Path log,
            java.util.function.Predicate<String> matches) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos(); // a hang guard only
        String last = null;
        while (System.nanoTime() < deadline && child.isAlive()) {
            String line = lines.poll(100, TimeUnit.MILLISECONDS);
            if (line != null) {
                last = line;
                if (matches.test(line)) {
                    return line;
                }
            }
        }
        throw new AssertionError("child never printed the status expected (alive: " + child.isAlive() + ", last: "
                + last + "); its log:\n" + (Files.exists(log) ? Files.readString(log) : "(none)"));
    }

    /** Waits until the group has committed every input partition up to its end. */
    private static void awaitCommittedToTheEnd(String app, List<String> topics) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers()))) {
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            admin.describeTopics(topics).allTopicNames().get().values().forEach(d -> d.partitions().forEach(
                    p -> latest.put(new TopicPartition(d.name(), p.partition()), OffsetSpec.latest())));
            Map<TopicPartition, Long> end = new HashMap<>();
            admin.listOffsets(latest).all().get().forEach((tp, info) -> end.put(tp, info.offset()));
            await().atMost(WAIT).until(() -> {
                Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(app)
                        .partitionsToOffsetAndMetadata().get();
                return end.entrySet().stream().allMatch(e -> committed.get(e.getKey()) != null
                        && committed.get(e.getKey()).offset() >= e.getValue());
            });
        } catch (InterruptedException | ExecutionException e) {
            throw new AssertionError(e);
        }
    }

    private static Properties eos(Properties p) {
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        return p;
    }

    private Properties props(String app, Path stateDir) {
        // never served in the single-instance tests, but queryMetadataForKey needs one to name the partition
        return streamsProps(kafka.bootstrapServers(), app, stateDir, "127.0.0.1:1", 6000);
    }

    /** Every instance's configuration, the child JVM's ({@link CouponStreamsChildMain}) too. */
    static Properties streamsProps(String bootstrap, String app, Path stateDir, String endpoint,
            int sessionTimeoutMs) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, app);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.APPLICATION_SERVER_CONFIG, endpoint);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), sessionTimeoutMs);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG),
                Math.min(500, sessionTimeoutMs / 5));
        return p;
    }

    private KafkaStreams start(Topology topology, Properties p, java.util.function.Consumer<Throwable> onDeath) {
        KafkaStreams ks = new KafkaStreams(topology, p);
        ks.setUncaughtExceptionHandler(e -> {
            if (onDeath != null) {
                onDeath.accept(e);
            }
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        toClose.add(() -> ks.close(LEAVE.withTimeout(Duration.ofSeconds(30))));
        ks.start();
        return ks;
    }

    private Path tempDir() throws IOException {
        Path dir = Files.createTempDirectory("couponstate-streams-");
        toDelete.add(dir);
        return dir;
    }

    private static List<String> codes(String prefix, int from, int to) {
        List<String> out = new ArrayList<>();
        for (int i = from; i < to; i++) {
            out.add(prefix + String.format("%05d", i));
        }
        return out;
    }

    /** Publishes each code as the publisher does (key = the upper-cased code, default partitioner). */
    private static void publish(String topic, List<String> codes, Map<String, Set<String>> expected) {
        try (KafkaProducer<byte[], byte[]> producer = producer()) {
            for (String code : codes) {
                byte[] bytes = code.getBytes(StandardCharsets.US_ASCII);
                producer.send(new ProducerRecord<>(topic, CodePartitioner.key(bytes), bytes));
                expected.computeIfAbsent(code, c -> new TreeSet<>()).add(topic);
            }
            producer.flush();
        }
    }

    private static void publishRaw(String topic, int partition, byte[] value) {
        try (KafkaProducer<byte[], byte[]> producer = producer()) {
            producer.send(new ProducerRecord<>(topic, partition, value, value));
            producer.flush();
        }
    }

    private static KafkaProducer<byte[], byte[]> producer() {
        return new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName()));
    }

    private static void createTopics(int partitions, List<String> names)
            throws ExecutionException, InterruptedException {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers()))) {
            admin.createTopics(names.stream().map(n -> new NewTopic(n, partitions, (short) 1)).toList()).all().get();
        }
    }

    private static void awaitCommitted(String app, TopicPartition tp, long offset) {
        await().atMost(WAIT).until(() -> {
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                    kafka.bootstrapServers()))) {
                OffsetAndMetadata committed = admin.listConsumerGroupOffsets(app).partitionsToOffsetAndMetadata()
                        .get().get(tp);
                return committed != null && committed.offset() >= offset;
            }
        });
    }

    /** Waits until every code's active owner answers exactly its expected sources. */
    private static void awaitExact(Map<String, KafkaStreams> byEndpoint, Map<String, Set<String>> expected) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            for (Map.Entry<String, Set<String>> e : expected.entrySet()) {
                String code = e.getKey();
                KafkaStreams owner = owner(byEndpoint, code);
                assertThat(owner).as("owner of %s", code).isNotNull();
                KeyQueryMetadata where = CouponStores.queryMetadata(owner, STORE, code);
                QueryResult<CouponQueries.CodeAnswer> r = codeQuery(owner, CouponQueries.code(code),
                        where.partition());
                assertThat(r.isSuccess()).as("%s: %s", code, r).isTrue();
                assertThat(r.getResult()).isEqualTo(new CouponQueries.CodeAnswer(code, e.getValue().size() >= 2,
                        List.copyOf(e.getValue()), false));
            }
        });
    }

    private static KafkaStreams owner(Map<String, KafkaStreams> byEndpoint, String code) {
        if (byEndpoint.size() == 1) {
            return byEndpoint.values().iterator().next();
        }
        for (KafkaStreams ks : byEndpoint.values()) {
            KeyQueryMetadata where = CouponStores.queryMetadata(ks, STORE, code);
            KafkaStreams owner = where.activeHost() == null ? null : byEndpoint.get(hostPort(where.activeHost()));
            if (owner != null) {
                return owner;
            }
        }
        return null;
    }

    private static QueryResult<CouponQueries.CodeAnswer> codeQuery(KafkaStreams ks, CouponQueries.CodeQuery query,
            int partition) {
        QueryResult<CouponQueries.CodeAnswer> r = ks.query(StateQueryRequest.inStore(STORE).withQuery(query)
                .withPartitions(Set.of(partition))).getPartitionResults().get(partition);
        assertThat(r).as("result for partition %d", partition).isNotNull();
        return r;
    }

    /** Every active task's valid codes, gathered a page of {@code limit} at a time. */
    private static List<String> validCodes(Collection<KafkaStreams> instances, int limit) {
        TreeSet<String> all = new TreeSet<>();
        for (KafkaStreams ks : instances) {
            Map<Integer, String> after = new HashMap<>();
            Set<Integer> open = null;
            while (open == null || !open.isEmpty()) {
                StateQueryRequest<CouponQueries.ValidCodesPage> request = StateQueryRequest.inStore(STORE)
                        .withQuery(CouponQueries.validCodes(null, limit)).withAllPartitions().requireActive();
                Map<Integer, QueryResult<CouponQueries.ValidCodesPage>> results;
                if (open == null) {
                    results = ks.query(request).getPartitionResults();
                    open = new TreeSet<>();
                } else {
                    results = new HashMap<>();
                    for (int p : Set.copyOf(open)) {
                        results.putAll(ks.query(StateQueryRequest.inStore(STORE)
                                .withQuery(CouponQueries.validCodes(after.get(p), limit))
                                .withPartitions(Set.of(p)).requireActive()).getPartitionResults());
                    }
                    open.clear();
                }
                for (Map.Entry<Integer, QueryResult<CouponQueries.ValidCodesPage>> e : results.entrySet()) {
                    if (e.getValue().isFailure()) {
                        continue; // not active here
                    }
                    CouponQueries.ValidCodesPage page = e.getValue().getResult();
                    assertThat(page.codes().size()).isLessThanOrEqualTo(limit);
                    all.addAll(page.codes());
                    if (page.more()) {
                        after.put(e.getKey(), page.codes().get(page.codes().size() - 1));
                        open.add(e.getKey());
                    }
                }
            }
        }
        return new ArrayList<>(all);
    }

    private static StateRestoreListener countingListener(AtomicLong restored) {
        return new StateRestoreListener() {
            @Override
            public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
            }

            @Override
            public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long numRestored) {
                restored.addAndGet(numRestored);
            }

            @Override
            public void onRestoreEnd(TopicPartition tp, String store, long totalRestored) {
            }
        };
    }

    private static String hostPort(HostInfo host) {
        return host.host() + ":" + host.port();
    }

    private static String get(HttpClient client, String endpoint, String path) throws Exception {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://" + endpoint + path)).build(),
                HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.body();
    }
}
