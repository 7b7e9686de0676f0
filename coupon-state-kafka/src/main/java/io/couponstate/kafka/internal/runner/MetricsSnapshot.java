package io.couponstate.kafka.internal.runner;

import io.couponstate.kafka.InvalidRecordReason;
import io.couponstate.kafka.RunnerPhase;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A runner's counters at one moment, as an engine reads them; the public {@code RunnerMetrics} is a view of one.
 * Immutable. See {@code RunnerMetrics} for what each counter means.
 */
public record MetricsSnapshot(Lifecycle.Stage stage, long recordsConsumed, long codesApplied,
        double recordsPerSecond, Map<InvalidRecordReason, Long> invalidRecords, long distinctCodes, long validCodes,
        long lag, long checkpointsWritten, long checkpointFailures, long restoredCheckpointSequence, boolean durable,
        OptionalLong lastDurableCheckpointAgeMillis, Optional<String> lastCheckpointFailure, Optional<String> problem,
        RunnerPhase phase, long restoredBytes, long restoreTotalBytes, double restoreBytesPerSecond,
        double recentRecordsPerSecond) {

    /** Keeps an unmodifiable copy of the invalid counts. */
    public MetricsSnapshot {
        invalidRecords = Collections.unmodifiableMap(invalidRecords);
    }

    /**
     * Counters without a watcher's view: the phase follows from the stage and the lag (RUNNING with lag 0 is UP),
     * no restore progress, the recent rate is {@code recordsPerSecond}.
     */
    public static MetricsSnapshot summary(Lifecycle.Stage stage, long recordsConsumed, long codesApplied,
            double recordsPerSecond, Map<InvalidRecordReason, Long> invalid, long distinctCodes, long validCodes,
            long lag, long checkpointsWritten, long checkpointFailures, long restoredCheckpointSequence,
            boolean durable, OptionalLong lastDurableCheckpointAgeMillis, Optional<String> lastCheckpointFailure,
            Optional<String> problem) {
        return new MetricsSnapshot(stage, recordsConsumed, codesApplied, recordsPerSecond, invalid, distinctCodes,
                validCodes, lag, checkpointsWritten, checkpointFailures, restoredCheckpointSequence, durable,
                lastDurableCheckpointAgeMillis, lastCheckpointFailure, problem, stage.phase(lag == 0), 0, 0, 0,
                recordsPerSecond);
    }

    /**
     * Sums counters over {@code parts} (a partitioned runner's shards); distinct codes, valid codes and lag as given
     * (they describe the shards here now, not those gone).
     */
    public static MetricsSnapshot sum(List<MetricsSnapshot> parts, Lifecycle.Stage runnerState,
            long distinctCodes, long lag, long validCodes) {
        long records = 0;
        long codes = 0;
        double rate = 0;
        EnumMap<InvalidRecordReason, Long> invalid = new EnumMap<>(InvalidRecordReason.class);
        long written = 0;
        long failures = 0;
        long restored = 0;
        boolean durable = true;
        OptionalLong age = OptionalLong.empty();
        Optional<String> lastFailure = Optional.empty();
        Optional<String> problem = Optional.empty();
        for (MetricsSnapshot m : parts) {
            records += m.recordsConsumed();
            codes += m.codesApplied();
            rate += m.recordsPerSecond();
            m.invalidRecords().forEach((k, v) -> invalid.merge(k, v, Long::sum));
            written += m.checkpointsWritten();
            failures += m.checkpointFailures();
            restored = Math.max(restored, m.restoredCheckpointSequence());
            durable &= m.durable();
            if (m.lastDurableCheckpointAgeMillis().isPresent()) {
                long a = m.lastDurableCheckpointAgeMillis().getAsLong();
                age = OptionalLong.of(age.isPresent() ? Math.max(age.getAsLong(), a) : a);
            }
            if (lastFailure.isEmpty()) {
                lastFailure = m.lastCheckpointFailure();
            }
            if (problem.isEmpty()) {
                problem = m.problem();
            }
        }
        return summary(runnerState, records, codes, rate, invalid, distinctCodes, validCodes, lag, written, failures,
                restored, durable, age, lastFailure, problem);
    }

    /** Seconds until the lag is consumed at the recent rate, rounded up; 0 at lag 0; empty while unknown. */
    public OptionalLong etaSeconds() {
        if (lag < 0) {
            return OptionalLong.empty();
        }
        if (lag == 0) {
            return OptionalLong.of(0);
        }
        if (!(recentRecordsPerSecond > 0)) {
            return OptionalLong.empty();
        }
        return OptionalLong.of((long) Math.ceil(lag / recentRecordsPerSecond));
    }

    /** The progress line's text. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(String.format("state %s, %.0f records/s over the last interval, "
                + "consumed %d, applied %d, invalid %s, distinct codes %d, valid codes %d, lag %s, checkpoints %d",
                stage, recordsPerSecond, recordsConsumed, codesApplied, nonZero(), distinctCodes, validCodes,
                lag < 0 ? "unknown" : Long.toString(lag), checkpointsWritten));
        if (checkpointFailures > 0) {
            sb.append(", checkpoint failures ").append(checkpointFailures);
        }
        sb.append(", durable ").append(durable);
        if (lastDurableCheckpointAgeMillis.isPresent()) {
            sb.append(", last durable checkpoint ").append(lastDurableCheckpointAgeMillis.getAsLong())
                    .append(" ms ago");
        }
        lastCheckpointFailure.ifPresent(f -> sb.append(", last checkpoint failure: ").append(f));
        problem.ifPresent(p -> sb.append(", problem: ").append(p));
        sb.append(", phase ").append(phase);
        if (phase == RunnerPhase.RESTORING && restoreTotalBytes > 0) {
            sb.append(String.format(", restored %d of %d bytes", restoredBytes, restoreTotalBytes));
        }
        OptionalLong eta = etaSeconds();
        if (phase == RunnerPhase.CATCHING_UP && eta.isPresent()) {
            sb.append(", ETA ").append(eta.getAsLong()).append(" s");
        }
        return sb.toString();
    }

    private Map<InvalidRecordReason, Long> nonZero() {
        EnumMap<InvalidRecordReason, Long> out = new EnumMap<>(InvalidRecordReason.class);
        invalidRecords.forEach((k, v) -> {
            if (v != 0) {
                out.put(k, v);
            }
        });
        return out;
    }
}
