package io.couponstate.kafka.internal.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.couponstate.core.StripedLockCouponState;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * The apply stage against its sequential model: while three apply threads apply random batches over many
 * partitions, a checker keeps reading the published positions and asserts that every record below each one is in
 * the state (a position never passes an unapplied record); at the end every position is the model's end and the
 * state holds exactly the model's codes.
 */
class ApplyStageStressTest {

    private static final long SEED = Long.getLong("couponstate.seed", System.nanoTime());

    private static String code(int partition, long offset) {
        return String.format("C%02d%06d", partition, offset); // 9 characters: inside the default format
    }

    @Test
    @Timeout(120)
    void positionsNeverPassUnappliedRecords_andTheEndMatchesTheModel() throws Exception {
        System.out.println("ApplyStageStressTest seed: " + SEED + " (-Dcouponstate.seed=" + SEED + ")");
        SplittableRandom random = new SplittableRandom(SEED);
        int partitions = 12;
        int threads = 3;
        StripedLockCouponState state = new StripedLockCouponState();
        RunnerSettings settings = RunnerSettings.builder().bootstrapServers("h:1").topics(List.of("t"))
                .state(state).applyThreads(threads).build();
        RecordApplier applier = new RecordApplier(settings,
                new RateLimitedLog(LoggerFactory.getLogger(ApplyStageStressTest.class), Clock.systemUTC(), 1, 10_000));
        PartitionTracker tracker = new PartitionTracker();
        TopicPartition[] tps = new TopicPartition[partitions];
        Map<TopicPartition, Long> start = new LinkedHashMap<>();
        for (int p = 0; p < partitions; p++) {
            tps[p] = new TopicPartition("t", p);
            start.put(tps[p], 0L);
        }
        tracker.assign(start, Map.of());
        ApplyStage stage = new ApplyStage(applier, tracker, threads, "stress");

        AtomicBoolean done = new AtomicBoolean();
        AtomicReference<String> violation = new AtomicReference<>();
        AtomicLong checks = new AtomicLong();
        Thread checker = new Thread(() -> {
            SplittableRandom r = new SplittableRandom(SEED + 1);
            while (!done.get() && violation.get() == null) {
                Map<TopicPartition, Long> positions = tracker.appliedPositions();
                for (int p = 0; p < partitions; p++) {
                    long pos = positions.get(tps[p]);
                    if (pos == 0) {
                        continue;
                    }
                    // the last record below the position, and one chosen at random below it
                    for (long offset : new long[] {pos - 1, r.nextLong(pos)}) {
                        if (state.observationCount(code(p, offset)) != 1) {
                            violation.set("partition " + p + " at position " + pos + " but offset " + offset
                                    + " is not applied");
                        }
                    }
                    checks.incrementAndGet();
                }
            }
        }, "stress-checker");
        checker.start();

        long[] next = new long[partitions];
        long total = 0;
        for (int batch = 0; batch < 3000; batch++) {
            Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> records = new HashMap<>();
            int touched = 1 + random.nextInt(partitions);
            for (int i = 0; i < touched; i++) {
                int p = random.nextInt(partitions);
                List<ConsumerRecord<byte[], byte[]>> list = records.computeIfAbsent(tps[p], k -> new ArrayList<>());
                int n = 1 + random.nextInt(40);
                for (int j = 0; j < n; j++) {
                    long offset = next[p]++;
                    list.add(new ConsumerRecord<>("t", p, offset, null,
                            code(p, offset).getBytes(StandardCharsets.US_ASCII)));
                    total++;
                }
            }
            long[] positions = next.clone();
            while (stage.isFull()) {
                stage.awaitRoom(1000);
                stage.throwIfFailed();
            }
            stage.handOff(new ConsumerRecords<>(records, Map.of()), tps.clone(), positions);
            if (random.nextInt(10) == 0) {
                stage.handOff(ConsumerRecords.empty(), tps.clone(), positions.clone()); // an empty poll behind it
            }
        }
        await().atMost(Duration.ofMinutes(2)).until(() -> {
            stage.throwIfFailed();
            return stage.isIdle();
        });
        done.set(true);
        checker.join();
        stage.stop(10_000);
        stage.throwIfFailed();

        assertThat(violation.get()).isNull();
        assertThat(checks.get()).isPositive();
        for (int p = 0; p < partitions; p++) {
            assertThat(tracker.appliedPositions().get(tps[p])).as("partition " + p).isEqualTo(next[p]);
        }
        assertThat((long) state.size()).isEqualTo(total);
        assertThat(applier.recordsConsumed()).isEqualTo(total);
        assertThat(stage.inFlightRecords()).isZero();
    }
}
