package io.couponstate.kafka;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A point-in-time view of a {@link CouponConsumerRunner}'s counters. Immutable and thread-safe. The counters are read
 * one by one while the runner runs, so they need not agree with each other exactly (weakly consistent).
 */
public final class RunnerMetrics {

    private final CouponConsumerRunner.State state;
    private final long recordsConsumed;
    private final long codesApplied;
    private final double recordsPerSecond;
    private final Map<InvalidRecordReason, Long> invalid;
    private final long distinctCodes;
    private final long validCodes;
    private final long lag;
    private final long checkpointsWritten;
    private final long checkpointFailures;
    private final long restoredCheckpointSequence;
    private final boolean durable;
    private final OptionalLong lastDurableCheckpointAgeMillis;
    private final Optional<String> lastCheckpointFailure;
    private final Optional<String> problem;

    RunnerMetrics(CouponConsumerRunner.State state, long recordsConsumed, long codesApplied, double recordsPerSecond,
            EnumMap<InvalidRecordReason, Long> invalid, long distinctCodes, long validCodes, long lag,
            long checkpointsWritten, long checkpointFailures, long restoredCheckpointSequence, boolean durable,
            OptionalLong lastDurableCheckpointAgeMillis, Optional<String> lastCheckpointFailure,
            Optional<String> problem) {
        this.durable = durable;
        this.lastDurableCheckpointAgeMillis = lastDurableCheckpointAgeMillis;
        this.lastCheckpointFailure = lastCheckpointFailure;
        this.problem = problem;
        this.state = state;
        this.recordsConsumed = recordsConsumed;
        this.codesApplied = codesApplied;
        this.recordsPerSecond = recordsPerSecond;
        this.invalid = Collections.unmodifiableMap(invalid);
        this.distinctCodes = distinctCodes;
        this.validCodes = validCodes;
        this.lag = lag;
        this.checkpointsWritten = checkpointsWritten;
        this.checkpointFailures = checkpointFailures;
        this.restoredCheckpointSequence = restoredCheckpointSequence;
    }

    /** The runner's state when the snapshot was taken. */
    public CouponConsumerRunner.State state() {
        return state;
    }

    /** Records consumed and processed (applied or found invalid) since this runner started: the replay measure. */
    public long recordsConsumed() {
        return recordsConsumed;
    }

    /** Codes applied to the state since this runner started (in bulk mode, several per record). */
    public long codesApplied() {
        return codesApplied;
    }

    /** Records consumed per second over the last progress interval (or since start, before the first one). */
    public double recordsPerSecond() {
        return recordsPerSecond;
    }

    /** Invalid records (bulk mode: lines) since start, by reason; every reason is present, most with 0. */
    public Map<InvalidRecordReason, Long> invalidRecords() {
        return invalid;
    }

    /** Invalid records (bulk mode: lines) for one reason. */
    public long invalidRecords(InvalidRecordReason reason) {
        return invalid.get(reason);
    }

    /** All invalid records (bulk mode: lines) since start. */
    public long invalidRecordsTotal() {
        long n = 0;
        for (long v : invalid.values()) {
            n += v;
        }
        return n;
    }

    /** Distinct codes in the state ({@code CouponState.size()}). */
    public long distinctCodes() {
        return distinctCodes;
    }

    /**
     * Valid codes as this runner counts them: those valid after the checkpoint restore, plus the threshold crossings
     * its own {@code addObservation} calls caused. Crossings caused by other writers of the same state are not seen.
     */
    public long validCodes() {
        return validCodes;
    }

    /** Records in the assigned partitions not yet applied, as of the last poll; -1 while unknown. */
    public long lag() {
        return lag;
    }

    /** Checkpoints made durable since start (including the one written on close). */
    public long checkpointsWritten() {
        return checkpointsWritten;
    }

    /**
     * False while the newest checkpoint attempt failed (nothing newer is durable: a crash now replays from the last
     * durable checkpoint); true otherwise, also before the first attempt and without a checkpoint directory.
     */
    public boolean durable() {
        return durable;
    }

    /** Milliseconds since this run's last durable checkpoint was written; empty if none was yet. */
    public OptionalLong lastDurableCheckpointAgeMillis() {
        return lastDurableCheckpointAgeMillis;
    }

    /** The newest checkpoint failure's cause while {@link #durable()} is false; empty otherwise. */
    public Optional<String> lastCheckpointFailure() {
        return lastCheckpointFailure;
    }

    /**
     * Why the runner cannot make progress now though it keeps trying, if it cannot: for example
     * {@code cannot reach a Kafka broker at host:port: <cause>} after three API timeouts without metadata.
     */
    public Optional<String> problem() {
        return problem;
    }

    /** Checkpoint writes that failed since start (each is retried at the next interval). */
    public long checkpointFailures() {
        return checkpointFailures;
    }

    /** The sequence number of the checkpoint restored at start, or 0 if none was. */
    public long restoredCheckpointSequence() {
        return restoredCheckpointSequence;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(String.format("state %s, %.0f records/s over the last interval, "
                + "consumed %d, applied %d, invalid %s, distinct codes %d, valid codes %d, lag %s, checkpoints %d",
                state, recordsPerSecond, recordsConsumed, codesApplied, nonZero(), distinctCodes, validCodes,
                lag < 0 ? "unknown" : Long.toString(lag), checkpointsWritten));
        if (checkpointFailures > 0) {
            sb.append(", checkpoint failures ").append(checkpointFailures);
        }
        sb.append(", durable ").append(durable);
        if (lastDurableCheckpointAgeMillis.isPresent()) {
            sb.append(", last durable checkpoint ").append(lastDurableCheckpointAgeMillis.getAsLong()).append(" ms ago");
        }
        lastCheckpointFailure.ifPresent(f -> sb.append(", last checkpoint failure: ").append(f));
        problem.ifPresent(p -> sb.append(", problem: ").append(p));
        return sb.toString();
    }

    private Map<InvalidRecordReason, Long> nonZero() {
        EnumMap<InvalidRecordReason, Long> out = new EnumMap<>(InvalidRecordReason.class);
        invalid.forEach((k, v) -> {
            if (v != 0) {
                out.put(k, v);
            }
        });
        return out;
    }
}
