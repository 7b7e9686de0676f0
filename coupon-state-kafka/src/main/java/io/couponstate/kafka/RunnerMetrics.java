package io.couponstate.kafka;

import io.couponstate.kafka.internal.runner.MetricsSnapshot;
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
    private final MetricsSnapshot m;

    /**
     * Counters without a watcher's view: the phase is derived from the state and the lag ({@code RUNNING} with lag 0
     * is UP, otherwise CATCHING_UP), no restore progress, the recent rate is {@code recordsPerSecond}.
     */
    RunnerMetrics(CouponConsumerRunner.State state, long recordsConsumed, long codesApplied, double recordsPerSecond,
            EnumMap<InvalidRecordReason, Long> invalid, long distinctCodes, long validCodes, long lag,
            long checkpointsWritten, long checkpointFailures, long restoredCheckpointSequence, boolean durable,
            OptionalLong lastDurableCheckpointAgeMillis, Optional<String> lastCheckpointFailure,
            Optional<String> problem) {
        this(MetricsSnapshot.summary(state.stage(), recordsConsumed, codesApplied, recordsPerSecond, invalid,
                distinctCodes, validCodes, lag, checkpointsWritten, checkpointFailures, restoredCheckpointSequence,
                durable, lastDurableCheckpointAgeMillis, lastCheckpointFailure, problem));
    }

    RunnerMetrics(CouponConsumerRunner.State state, long recordsConsumed, long codesApplied, double recordsPerSecond,
            EnumMap<InvalidRecordReason, Long> invalid, long distinctCodes, long validCodes, long lag,
            long checkpointsWritten, long checkpointFailures, long restoredCheckpointSequence, boolean durable,
            OptionalLong lastDurableCheckpointAgeMillis, Optional<String> lastCheckpointFailure,
            Optional<String> problem, RunnerPhase phase, long restoredBytes, long restoreTotalBytes,
            double restoreBytesPerSecond, double recentRecordsPerSecond) {
        this(new MetricsSnapshot(state.stage(), recordsConsumed, codesApplied, recordsPerSecond, invalid,
                distinctCodes, validCodes, lag, checkpointsWritten, checkpointFailures, restoredCheckpointSequence,
                durable, lastDurableCheckpointAgeMillis, lastCheckpointFailure, problem, phase, restoredBytes,
                restoreTotalBytes, restoreBytesPerSecond, recentRecordsPerSecond));
    }

    /** A view of an engine's snapshot. */
    RunnerMetrics(MetricsSnapshot snapshot) {
        this.m = snapshot;
        this.state = CouponConsumerRunner.State.of(snapshot.stage());
    }

    /**
     * The runner's state when the snapshot was taken.
     *
     * @return the runner's state when the snapshot was taken
     */
    public CouponConsumerRunner.State state() {
        return state;
    }

    /**
     * Records consumed and processed (applied or found invalid) since this runner started: the replay measure.
     *
     * @return records consumed and processed (applied or found invalid) since this runner started: the replay measure
     */
    public long recordsConsumed() {
        return m.recordsConsumed();
    }

    /**
     * Codes applied to the state since this runner started (in bulk mode, several per record).
     *
     * @return codes applied to the state since this runner started (in bulk mode, several per record)
     */
    public long codesApplied() {
        return m.codesApplied();
    }

    /**
     * Records consumed per second over the last progress interval (or since start, before the first one).
     *
     * @return records consumed per second over the last progress interval (or since start, before the first one)
     */
    public double recordsPerSecond() {
        return m.recordsPerSecond();
    }

    /**
     * Invalid records (bulk mode: lines) since start, by reason; every reason is present, most with 0.
     *
     * @return invalid records (bulk mode: lines) since start, by reason; every reason is present, most with 0
     */
    public Map<InvalidRecordReason, Long> invalidRecords() {
        return m.invalidRecords();
    }

    /**
     * Invalid records (bulk mode: lines) for one reason.
     *
     * @param reason why it was rejected
     * @return invalid records (bulk mode: lines) for one reason
     */
    public long invalidRecords(InvalidRecordReason reason) {
        return m.invalidRecords().get(reason);
    }

    /**
     * All invalid records (bulk mode: lines) since start.
     *
     * @return all invalid records (bulk mode: lines) since start
     */
    public long invalidRecordsTotal() {
        long n = 0;
        for (long v : m.invalidRecords().values()) {
            n += v;
        }
        return n;
    }

    /**
     * Distinct codes in the state ({@code CouponState.size()}).
     *
     * @return distinct codes in the state ({@code CouponState.size()})
     */
    public long distinctCodes() {
        return m.distinctCodes();
    }

    /**
     * Valid codes as this runner counts them: those valid after the checkpoint restore, plus the threshold crossings
     * its own {@code addObservation} calls caused. Crossings caused by other writers of the same state are not seen.
     *
     * @return valid codes as this runner counts them: those valid after the checkpoint restore, plus the threshold
     *         crossings its own {@code addObservation} calls caused
     */
    public long validCodes() {
        return m.validCodes();
    }

    /**
     * Records in the assigned partitions not yet applied, as of the last poll; -1 while unknown.
     *
     * @return records in the assigned partitions not yet applied, as of the last poll; -1 while unknown
     */
    public long lag() {
        return m.lag();
    }

    /**
     * Checkpoints made durable since start (including the one written on close).
     *
     * @return checkpoints made durable since start (including the one written on close)
     */
    public long checkpointsWritten() {
        return m.checkpointsWritten();
    }

    /**
     * False while the newest checkpoint attempt failed (nothing newer is durable: a crash now replays from the last
     * durable checkpoint); true otherwise, also before the first attempt and without a checkpoint directory.
     *
     * @return {@code true} if so
     */
    public boolean durable() {
        return m.durable();
    }

    /**
     * Milliseconds since this run's last durable checkpoint was written; empty if none was yet.
     *
     * @return milliseconds since this run's last durable checkpoint was written; empty if none was yet
     */
    public OptionalLong lastDurableCheckpointAgeMillis() {
        return m.lastDurableCheckpointAgeMillis();
    }

    /**
     * The newest checkpoint failure's cause while {@link #durable()} is false; empty otherwise.
     *
     * @return the newest checkpoint failure's cause while {@link #durable()} is false; empty otherwise
     */
    public Optional<String> lastCheckpointFailure() {
        return m.lastCheckpointFailure();
    }

    /**
     * Why the runner cannot make progress now though it keeps trying, if it cannot: for example
     * {@code cannot reach a Kafka broker at host:port: <cause>} after three API timeouts without metadata.
     *
     * @return why the runner cannot make progress now though it keeps trying, if it cannot: for example {@code cannot
     *         reach a Kafka broker at host:port: <cause>} after three API timeouts without metadata
     */
    public Optional<String> problem() {
        return m.problem();
    }

    /**
     * Checkpoint writes that failed since start (each is retried at the next interval).
     *
     * @return checkpoint writes that failed since start (each is retried at the next interval)
     */
    public long checkpointFailures() {
        return m.checkpointFailures();
    }

    /**
     * Where the runner is, for a watcher: RESTORING, CATCHING_UP, UP or a life-cycle state; see {@link RunnerPhase}.
     *
     * @return where the runner is, for a watcher: RESTORING, CATCHING_UP, UP or a life-cycle state; see {@link
     *         RunnerPhase}
     */
    public RunnerPhase phase() {
        return m.phase();
    }

    /**
     * Bytes of checkpoint files read so far by the restore at start (the base, then its deltas); after the restore,
     * all it read. 0 before the restore starts and without a checkpoint.
     *
     * @return bytes of checkpoint files read so far by the restore at start (the base, then its deltas); after the
     *         restore, all it read
     */
    public long restoredBytes() {
        return m.restoredBytes();
    }

    /**
     * The sizes of the checkpoint files the restore expects to read (known before it reads them: the newest base and
     * the files after it); once the restore is done, what it read (less, if a damaged delta ended the chain). 0
     * before the restore starts and without a checkpoint.
     *
     * @return the sizes of the checkpoint files the restore expects to read (known before it reads them: the newest
     *         base and the files after it); once the restore is done, what it read (less, if a damaged delta ended the
     *         chain)
     */
    public long restoreTotalBytes() {
        return m.restoreTotalBytes();
    }

    /**
     * Checkpoint bytes read per second by the restore, over its whole duration so far; 0 before it starts.
     *
     * @return checkpoint bytes read per second by the restore, over its whole duration so far; 0 before it starts
     */
    public double restoreBytesPerSecond() {
        return m.restoreBytesPerSecond();
    }

    /**
     * Records consumed per second over about the last second of running (sampled by the poll thread once a second;
     * 0 before the first sample): what {@link #etaSeconds()} divides the lag by. {@link #recordsPerSecond()} is the
     * steadier rate over the progress interval.
     *
     * @return records consumed per second over about the last second of running (sampled by the poll thread once a
     *         second; 0 before the first sample): what {@link #etaSeconds()} divides the lag by
     */
    public double recentRecordsPerSecond() {
        return m.recentRecordsPerSecond();
    }

    /**
     * Seconds until the lag is consumed at the recent rate: {@code ceil(lag / recentRecordsPerSecond)}; 0 when the lag
     * is 0; empty while the lag is unknown, or the rate is 0 with records still to consume.
     *
     * @return seconds until the lag is consumed at the recent rate: {@code ceil(lag / recentRecordsPerSecond)}; 0 when
     *         the lag is 0; empty while the lag is unknown, or the rate is 0 with records still to consume
     */
    public OptionalLong etaSeconds() {
        return m.etaSeconds();
    }

    /**
     * The sequence number of the checkpoint restored at start, or 0 if none was.
     *
     * @return the sequence number of the checkpoint restored at start, or 0 if none was
     */
    public long restoredCheckpointSequence() {
        return m.restoredCheckpointSequence();
    }

    /** The progress line's text: the state, the rates and counters, the phase and, when known, the ETA. */
    @Override
    public String toString() {
        return m.toString();
    }
}
