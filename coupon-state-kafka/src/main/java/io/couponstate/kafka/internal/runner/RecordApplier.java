package io.couponstate.kafka.internal.runner;

import io.couponstate.core.CodeFormat;
import io.couponstate.core.CouponState;
import io.couponstate.core.InvalidCouponCodeException;
import io.couponstate.core.ObservationBatch;
import io.couponstate.kafka.InvalidRecordHandler;
import io.couponstate.kafka.InvalidRecordReason;
import io.couponstate.kafka.SourceResolver;
import java.util.EnumMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;

/**
 * Applies polled records to the state (the runner's {@code GlobalStateMaintainer.update}): decodes each value (one
 * code, or one per line in bulk mode), classifies what cannot be applied, applies the rest in batches through
 * {@link CouponState#addObservations}, and counts.
 *
 * <p><b>Threads.</b> Each applying thread uses its own {@link Lane} (which owns a reusable {@link ObservationBatch}
 * and is not thread-safe); {@link #apply} uses a lane of its own and is for one thread. With more than one apply
 * thread, the user's {@link SourceResolver} and {@link InvalidRecordHandler} are called under one lock shared by the
 * lanes (one call at a time, each happening-before the next), except the default topic-name resolver, copied per
 * lane. The counters are atomic, added
 * to once per batch, so any thread may read them (each is current, they need not agree with each other).
 *
 * <p><b>Order.</b> Within one call of {@link Lane#apply}, records are applied in the order given, and the
 * {@link InvalidRecordHandler} sees the bad records in that order with the same reasons as one-at-a-time applying
 * would give: a record found bad before applying (null, empty, oversized, no source, malformed, wrong partition)
 * first flushes the codes batched before it; a code the state still rejects is handed over once its batch is
 * applied.
 *
 * <p><b>Failures.</b> A bad record is counted and handed to the {@link InvalidRecordHandler}. Anything thrown by a
 * user callback (the handler, the {@link SourceResolver}, the state's validity listener) propagates unchanged,
 * whatever its type, so the runner fails instead of skipping records; a record whose source would exceed the
 * state's {@code maxSources} throws {@link IllegalStateException} (a configuration error, never a bad record), after
 * the records before it are applied. A handler that throws for a record stops the call before any later record is
 * applied when the bad code was seen before applying (every check here, the state's code format included, as the
 * state tells it through {@code config()}); a code rejected only by the state is found once its batch is applied,
 * so a handler throwing for it leaves some later records of that batch applied: harmless, as observations are a
 * union and the caller never counts the failed call's records as applied.
 *
 * <p><b>Encoding once.</b> With the default handler ({@link SkipHandler}, which neither throws nor looks at the
 * state) the format is not checked before batching: the state encodes each code once, from the record's bytes, and
 * the batch's results ({@code -1 - reason.ordinal()}) name the malformed ones, with the same counts and reasons.
 */
public final class RecordApplier {

    /** Codes per {@link ObservationBatch}: enough to overlap the cache misses, small enough to stay in cache. */
    static final int BATCH_CODES = 256;

    private final CouponState state;
    private final SourceResolver resolver;
    private final InvalidRecordHandler handler;
    private final CodeFormat format;
    /** Whether each code is checked against the format before it is batched (see {@link SkipHandler}). */
    private final boolean checkFormatFirst;
    private final boolean bulkValues;
    private final int maxValueBytes;
    private final int maxSources;
    private final RateLimitedLog badRecordLog;
    private final String name;
    /** Serializes the user's callbacks across apply threads (null with one thread: nothing to serialize). */
    private final Object callbackLock;

    private final AtomicLongArray invalidCounts = new AtomicLongArray(InvalidRecordReason.values().length);
    private final AtomicLong recordsConsumed = new AtomicLong();
    private final AtomicLong codesApplied = new AtomicLong();
    private Lane own; // apply() only
    private final io.couponstate.kafka.PartitionedCouponState router; // a shard runner's: checks each code's partition

    /** An applier for one runner. */
    public RecordApplier(RunnerSettings settings, RateLimitedLog badRecordLog) {
        this.state = settings.state();
        this.resolver = settings.sourceResolver();
        this.handler = settings.invalidRecordHandler();
        this.format = settings.codeFormat();
        this.checkFormatFirst = !(handler instanceof SkipHandler);
        this.bulkValues = settings.bulkValues();
        this.maxValueBytes = settings.maxValueBytes();
        this.maxSources = settings.maxSources();
        this.badRecordLog = badRecordLog;
        this.name = settings.name();
        this.callbackLock = settings.applyThreads() > 1 ? new Object() : null;
        this.router = settings.router();
    }

    /** A new lane: what one applying thread uses (not thread-safe). */
    public Lane newLane() {
        return new Lane();
    }

    /**
     * Applies every record, partition by partition in offset order, on the calling thread. When it returns, every
     * record is applied or handed to the handler.
     */
    public void apply(ConsumerRecords<byte[], byte[]> records) {
        if (own == null) {
            own = new Lane();
        }
        own.apply(records, records.partitions());
    }

    /**
     * One applying thread's batch and bookkeeping. Not thread-safe; allocates nothing per record (the batch and the
     * entry-to-record table are made once).
     */
    public final class Lane {
        // the default resolver is cheap to copy: each lane has its own, so its calls need no lock
        private final SourceResolver laneResolver = resolver instanceof TopicSourceResolver
                ? new TopicSourceResolver() : resolver;
        private final Object resolverLock = resolver instanceof TopicSourceResolver ? null : callbackLock;
        private final ObservationBatch batch = new ObservationBatch(BATCH_CODES);
        @SuppressWarnings("unchecked")
        private final ConsumerRecord<byte[], byte[]>[] entryRecord = new ConsumerRecord[BATCH_CODES];
        private ConsumerRecord<byte[], byte[]> current; // the record whose entries are being dispatched
        private InvalidRecordReason currentFirstBad;
        private boolean badBeforeApplying; // the record being added has a code found bad before applying
        private long batchApplied;

        private Lane() {
        }

        /**
         * Applies the records of {@code partitions} in {@code records}, partition by partition in offset order.
         * When it returns, every one is applied or handed to the handler.
         */
        public void apply(ConsumerRecords<byte[], byte[]> records, Iterable<TopicPartition> partitions) {
            long consumed = 0;
            batchApplied = 0;
            try {
                for (TopicPartition tp : partitions) {
                    for (ConsumerRecord<byte[], byte[]> record : records.records(tp)) {
                        applyRecord(record);
                        consumed++;
                    }
                }
                flush(true);
            } finally {
                batch.clear();
                current = null;
                currentFirstBad = null;
                badBeforeApplying = false;
                // once per call: the counters are read by other threads
                recordsConsumed.addAndGet(consumed);
                codesApplied.addAndGet(batchApplied);
            }
        }

        private void applyRecord(ConsumerRecord<byte[], byte[]> record) {
            byte[] value = record.value();
            InvalidRecordReason bad;
            if (value == null) {
                bad = InvalidRecordReason.NULL_VALUE;
            } else if (value.length == 0) {
                bad = InvalidRecordReason.EMPTY_VALUE;
            } else if (value.length > maxValueBytes) {
                bad = InvalidRecordReason.OVERSIZED;
            } else {
                int sourceId = resolve(record);
                if (sourceId == SourceResolver.SOURCE_LIMIT) {
                    flush(true); // the records before it are applied; it and those after are not
                    throw new IllegalStateException("record " + record.topic() + "-" + record.partition() + "@"
                            + record.offset() + " needs one source more than the state's maxSources"
                            + (maxSources > 0 ? " (" + maxSources + ")" : "") + ": a source limit is a configuration "
                            + "error; raise maxSources (the record is not applied, and the runner stops rather than "
                            + "skip it)");
                } else if (sourceId < 0) {
                    bad = InvalidRecordReason.SOURCE_UNRESOLVED;
                } else if (bulkValues && !addLines(record, value, sourceId)) {
                    bad = InvalidRecordReason.EMPTY_VALUE; // no line at all
                } else {
                    if (!bulkValues) {
                        add(record, value, 0, value.length, sourceId);
                    }
                    if (badBeforeApplying) {
                        // its handler call now, before any later record is applied (as one at a time would)
                        badBeforeApplying = false;
                        flush(true);
                    }
                    return;
                }
            }
            flush(true); // the handler sees bad records in order
            count(record, bad);
            handle(record, bad);
        }

        private int resolve(ConsumerRecord<byte[], byte[]> record) {
            if (resolverLock == null) {
                return laneResolver.sourceId(record, state);
            }
            synchronized (resolverLock) { // a user's resolver: one call at a time, each seeing the one before
                return laneResolver.sourceId(record, state);
            }
        }

        private void handle(ConsumerRecord<byte[], byte[]> record, InvalidRecordReason reason) {
            if (callbackLock == null) {
                handler.handle(record, reason);
                return;
            }
            synchronized (callbackLock) { // one call at a time across apply threads, as the handler contract says
                handler.handle(record, reason);
            }
        }

        /** Adds every non-empty line; false if there is none. */
        private boolean addLines(ConsumerRecord<byte[], byte[]> record, byte[] value, int sourceId) {
            boolean any = false;
            int start = 0;
            for (int i = 0; i <= value.length; i++) {
                if (i == value.length || value[i] == '\n') {
                    int end = i;
                    if (end > start && value[end - 1] == '\r') {
                        end--;
                    }
                    if (end > start) {
                        any = true;
                        add(record, value, start, end - start, sourceId);
                    }
                    start = i + 1;
                }
            }
            return any;
        }

        private void add(ConsumerRecord<byte[], byte[]> record, byte[] value, int offset, int length, int sourceId) {
            if (checkFormatFirst) {
                InvalidCouponCodeException.Reason violation = format.violation(value, offset, length);
                if (violation != null) {
                    // seen before the state would: the same reason, and the batch keeps only good codes, so that a
                    // handler that throws for this record (or looks at the state) sees no later record applied
                    flush(false);
                    dispatch(record, reasonOf(violation));
                    badBeforeApplying = true;
                    return;
                }
            }
            if (router != null && router.partitionOf(value, offset, length) != record.partition()) {
                // a shard only holds its partition's codes: elsewhere no read would look for this one. A malformed
                // code keeps the format's reason, as when the format is checked first (a rare path)
                InvalidCouponCodeException.Reason violation = checkFormatFirst ? null
                        : format.violation(value, offset, length);
                flush(false);
                dispatch(record, violation != null ? reasonOf(violation) : InvalidRecordReason.WRONG_PARTITION);
                badBeforeApplying = true;
                return;
            }
            if (!batch.add(value, offset, length, sourceId)) {
                flush(false); // full: a bulk record may span batches; its handler call waits for its last line
                batch.add(value, offset, length, sourceId);
            }
            entryRecord[batch.size() - 1] = record;
        }

        /** Applies the batch and hands out its results; {@code recordDone}: the last record added is complete. */
        private void flush(boolean recordDone) {
            int n = batch.size();
            if (n > 0) {
                state.addObservations(batch);
                for (int i = 0; i < n; i++) {
                    int result = batch.result(i);
                    ConsumerRecord<byte[], byte[]> record = entryRecord[i];
                    entryRecord[i] = null;
                    if (result < 0) {
                        dispatch(record, reasonOf(ObservationBatch.reasonOf(result)));
                    } else {
                        startDispatch(record);
                        batchApplied++;
                    }
                }
                batch.clear();
            }
            if (recordDone) {
                startDispatch(null); // the record dispatched last is complete: its handler call is due
            }
        }

        /** Counts a bad code of {@code record}; the record goes to the handler once all its codes are seen. */
        private void dispatch(ConsumerRecord<byte[], byte[]> record, InvalidRecordReason reason) {
            startDispatch(record);
            count(record, reason);
            if (currentFirstBad == null) {
                currentFirstBad = reason;
            }
        }

        private void startDispatch(ConsumerRecord<byte[], byte[]> record) {
            if (record == current) {
                return;
            }
            ConsumerRecord<byte[], byte[]> done = current;
            InvalidRecordReason bad = currentFirstBad;
            current = record;
            currentFirstBad = null;
            if (done != null && bad != null) {
                handle(done, bad); // one call per record, with its first bad code's reason
            }
        }
    }

    private void count(ConsumerRecord<byte[], byte[]> record, InvalidRecordReason reason) {
        invalidCounts.incrementAndGet(reason.ordinal());
        badRecordLog.warn("{}: invalid record {}-{}@{}: {}", name, record.topic(), record.partition(),
                record.offset(), reason);
    }

    /** Records consumed and processed (applied or found invalid). */
    public long recordsConsumed() {
        return recordsConsumed.get();
    }

    /** Codes applied to the state. */
    public long codesApplied() {
        return codesApplied.get();
    }

    /** Invalid records (bulk mode: lines) by reason; every reason present. */
    public EnumMap<InvalidRecordReason, Long> invalidCounts() {
        EnumMap<InvalidRecordReason, Long> out = new EnumMap<>(InvalidRecordReason.class);
        for (InvalidRecordReason r : InvalidRecordReason.values()) {
            out.put(r, invalidCounts.get(r.ordinal()));
        }
        return out;
    }

    /** The runner's reason for a core format violation (the Kafka Streams processor's too). */
    public static InvalidRecordReason reasonOf(InvalidCouponCodeException.Reason reason) {
        switch (reason) {
            case TOO_SHORT:
                return InvalidRecordReason.TOO_SHORT;
            case TOO_LONG:
                return InvalidRecordReason.TOO_LONG;
            case NOT_ASCII:
                return InvalidRecordReason.NOT_ASCII;
            default:
                return InvalidRecordReason.ILLEGAL_CHARACTER;
        }
    }
}
