package io.couponstate.kafka.internal;

import io.couponstate.core.CodeFormat;
import io.couponstate.core.CouponState;
import io.couponstate.core.InvalidCouponCodeException;
import io.couponstate.kafka.InvalidRecordHandler;
import io.couponstate.kafka.InvalidRecordReason;
import io.couponstate.kafka.SourceResolver;
import java.util.EnumMap;
import java.util.concurrent.atomic.AtomicLongArray;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;

/**
 * Applies polled records to the state (the runner's {@code GlobalStateMaintainer.update}): decodes each value (one
 * code, or one per line in bulk mode), classifies what cannot be applied, applies the rest, and counts.
 *
 * <p><b>Threads.</b> {@link #apply} is called by one thread (the poll thread); the counters are volatile or atomic
 * with that single writer, so any thread may read them (each is current, they need not agree with each other).
 *
 * <p><b>Failures.</b> A bad record is counted and handed to the {@link InvalidRecordHandler}. Anything thrown by a
 * user callback (the handler, the {@link SourceResolver}, the state's validity listener) propagates unchanged,
 * whatever its type, so the runner fails instead of skipping records; a record whose source would exceed the
 * state's {@code maxSources} throws {@link IllegalStateException} (a configuration error, never a bad record).
 */
public final class RecordApplier {

    private final CouponState state;
    private final SourceResolver resolver;
    private final InvalidRecordHandler handler;
    private final CodeFormat format;
    private final boolean bulkValues;
    private final int maxValueBytes;
    private final int maxSources;
    private final int threshold;
    private final RateLimitedLog badRecordLog;
    private final String name;

    private final AtomicLongArray invalidCounts = new AtomicLongArray(InvalidRecordReason.values().length);
    private volatile long recordsConsumed;
    private volatile long codesApplied;
    private volatile long validCodes;
    private long batchApplied; // apply thread only
    private long batchValid;

    /** An applier for one runner. */
    public RecordApplier(RunnerSettings settings, RateLimitedLog badRecordLog) {
        this.state = settings.state();
        this.resolver = settings.sourceResolver();
        this.handler = settings.invalidRecordHandler();
        this.format = settings.codeFormat();
        this.bulkValues = settings.bulkValues();
        this.maxValueBytes = settings.maxValueBytes();
        this.maxSources = settings.maxSources();
        this.threshold = state.threshold();
        this.badRecordLog = badRecordLog;
        this.name = settings.name();
    }

    /**
     * Applies every record, partition by partition in offset order. When it returns, every record is applied or
     * handed to the handler; when it throws, the records from the failing one on are not applied.
     */
    public void apply(ConsumerRecords<byte[], byte[]> records) {
        long consumed = 0;
        batchApplied = 0;
        batchValid = 0;
        try {
            for (TopicPartition tp : records.partitions()) {
                for (ConsumerRecord<byte[], byte[]> record : records.records(tp)) {
                    applyRecord(record);
                    consumed++;
                }
            }
        } finally {
            // volatile stores with a single writer: each publishes the records applied so far
            recordsConsumed = recordsConsumed + consumed;
            codesApplied = codesApplied + batchApplied;
            validCodes = validCodes + batchValid;
        }
    }

    private void applyRecord(ConsumerRecord<byte[], byte[]> record) {
        byte[] value = record.value();
        InvalidRecordReason bad;
        boolean counted = false;
        if (value == null) {
            bad = InvalidRecordReason.NULL_VALUE;
        } else if (value.length == 0) {
            bad = InvalidRecordReason.EMPTY_VALUE;
        } else if (value.length > maxValueBytes) {
            bad = InvalidRecordReason.OVERSIZED;
        } else {
            int sourceId = resolver.sourceId(record, state);
            if (sourceId == SourceResolver.SOURCE_LIMIT) {
                throw new IllegalStateException("record " + record.topic() + "-" + record.partition() + "@"
                        + record.offset() + " needs one source more than the state's maxSources"
                        + (maxSources > 0 ? " (" + maxSources + ")" : "") + ": a source limit is a configuration "
                        + "error; raise maxSources (the record is not applied, and the runner stops rather than "
                        + "skip it)");
            } else if (sourceId < 0) {
                bad = InvalidRecordReason.SOURCE_UNRESOLVED;
            } else if (bulkValues) {
                bad = applyLines(record, value, sourceId);
                counted = true; // line by line
            } else {
                bad = applyCode(value, 0, value.length, sourceId);
            }
        }
        if (bad != null) {
            if (!counted) {
                count(record, bad);
            }
            handler.handle(record, bad);
        }
    }

    /** Applies one code; returns why it is bad, or null. Allocates nothing for a good code. */
    private InvalidRecordReason applyCode(byte[] value, int offset, int length, int sourceId) {
        if (format != null) {
            InvalidCouponCodeException.Reason violation = format.violation(value, offset, length);
            if (violation != null) {
                return reasonOf(violation);
            }
        }
        int count;
        try {
            count = state.addObservation(value, offset, length, sourceId);
        } catch (InvalidCouponCodeException e) {
            return reasonOf(e.reason()); // a state whose format we could not see up front
        }
        batchApplied++;
        if (count == threshold) {
            batchValid++;
        }
        return null;
    }

    /** Applies every non-empty line; counts each bad line; returns the first bad line's reason, or null. */
    private InvalidRecordReason applyLines(ConsumerRecord<byte[], byte[]> record, byte[] value, int sourceId) {
        InvalidRecordReason first = null;
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
                    InvalidRecordReason bad = applyCode(value, start, end - start, sourceId);
                    if (bad != null) {
                        count(record, bad);
                        if (first == null) {
                            first = bad;
                        }
                    }
                }
                start = i + 1;
            }
        }
        if (!any) {
            count(record, InvalidRecordReason.EMPTY_VALUE);
            return InvalidRecordReason.EMPTY_VALUE;
        }
        return first;
    }

    private void count(ConsumerRecord<byte[], byte[]> record, InvalidRecordReason reason) {
        invalidCounts.incrementAndGet(reason.ordinal());
        badRecordLog.warn("{}: invalid record {}-{}@{}: {}", name, record.topic(), record.partition(),
                record.offset(), reason);
    }

    /** Adds codes found valid outside {@link #apply} (those restored from a checkpoint). */
    public void addValidCodes(long n) {
        validCodes = validCodes + n; // single writer: the poll thread, before its first apply
    }

    /** Records consumed and processed (applied or found invalid). */
    public long recordsConsumed() {
        return recordsConsumed;
    }

    /** Codes applied to the state. */
    public long codesApplied() {
        return codesApplied;
    }

    /** Codes valid after restore plus the threshold crossings {@link #apply} caused. */
    public long validCodes() {
        return validCodes;
    }

    /** Invalid records (bulk mode: lines) by reason; every reason present. */
    public EnumMap<InvalidRecordReason, Long> invalidCounts() {
        EnumMap<InvalidRecordReason, Long> out = new EnumMap<>(InvalidRecordReason.class);
        for (InvalidRecordReason r : InvalidRecordReason.values()) {
            out.put(r, invalidCounts.get(r.ordinal()));
        }
        return out;
    }

    /** The runner's reason for a core format violation. */
    static InvalidRecordReason reasonOf(InvalidCouponCodeException.Reason reason) {
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
