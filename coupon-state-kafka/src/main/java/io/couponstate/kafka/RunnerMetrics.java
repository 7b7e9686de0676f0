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
    private final RunnerPhase phase;
    private final long restoredBytes;
    private final long restoreTotalBytes;
    private final double restoreBytesPerSecond;
    private final double recentRecordsPerSecond;

    /**
     * Counters without a watcher's view: the phase is derived from the state and the lag ({@code RUNNING} with lag 0
     * is UP, otherwise CATCHING_UP), no restore progress, the recent rate is {@code recordsPerSecond}.
     */
    RunnerMetrics(CouponConsumerRunner.State state, long recordsConsumed, long codesApplied, double recordsPerSecond,
            EnumMap<InvalidRecordReason, Long> invalid, long distinctCodes, long validCodes, long lag,
            long checkpointsWritten, long checkpointFailures, long restoredCheckpointSequence, boolean durable,
            OptionalLong lastDurableCheckpointAgeMillis, Optional<String> lastCheckpointFailure,
            Optional<String> problem) {
        this(state, recordsConsumed, codesApplied, recordsPerSecond, invalid, distinctCodes, validCodes, lag,
                checkpointsWritten, checkpointFailures, restoredCheckpointSequence, durable,
                lastDurableCheckpointAgeMillis, lastCheckpointFailure, problem, RunnerPhase.of(state, lag == 0), 0, 0,
                0, recordsPerSecond);
    }

    RunnerMetrics(CouponConsumerRunner.State state, long recordsConsumed, long codesApplied, double recordsPerSecond,
            EnumMap<InvalidRecordReason, Long> invalid, long distinctCodes, long validCodes, long lag,
            long checkpointsWritten, long checkpointFailures, long restoredCheckpointSequence, boolean durable,
            OptionalLong lastDurableCheckpointAgeMillis, Optional<String> lastCheckpointFailure,
            Optional<String> problem, RunnerPhase phase, long restoredBytes, long restoreTotalBytes,
            double restoreBytesPerSecond, double recentRecordsPerSecond) {
        this.phase = phase;
        this.restoredBytes = restoredBytes;
        this.restoreTotalBytes = restoreTotalBytes;
        this.restoreBytesPerSecond = restoreBytesPerSecond;
        this.recentRecordsPerSecond = recentRecordsPerSecond;
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

    /** Where the runner is, for a watcher: RESTORING, CATCHING_UP, UP or a life-cycle state; see {@link RunnerPhase}. */
    public RunnerPhase phase() {
        return phase;
    }

    /**
     * Bytes of checkpoint files read so far by the restore at start (the base, then its deltas); after the restore,
     * all it read. 0 before the restore starts and without a checkpoint.
     */
    public long restoredBytes() {
        return restoredBytes;
    }

    /**
     * The sizes of the checkpoint files the restore expects to read (known before it reads them: the newest base and
     * the files after it); once the restore is done, what it read (less, if a damaged delta ended the chain). 0
     * before the restore starts and without a checkpoint.
     */
    public long restoreTotalBytes() {
        return restoreTotalBytes;
    }

    /** Checkpoint bytes read per second by the restore, over its whole duration so far; 0 before it starts. */
    public double restoreBytesPerSecond() {
        return restoreBytesPerSecond;
    }

    /**
     * Records consumed per second over about the last second of running (sampled by the poll thread once a second;
     * 0 before the first sample): what {@link #etaSeconds()} divides the lag by. {@link #recordsPerSecond()} is the
     * steadier rate over the progress interval.
     */
    public double recentRecordsPerSecond() {
        return recentRecordsPerSecond;
    }

    /**
     * Seconds until the lag is consumed at the recent rate: {@code ceil(lag / recentRecordsPerSecond)}; 0 when the lag
     * is 0; empty while the lag is unknown, or the rate is 0 with records still to consume.
     */
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
        invalid.forEach((k, v) -> {
            if (v != 0) {
                out.put(k, v);
            }
        });
        return out;
    }
}
