package io.couponstate.core.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.LongConsumer;

/**
 * A grow-only list of non-zero longs: {@link #add} from any thread, {@link #forEach} and {@link #count} from any
 * thread while adds run.
 *
 * <p>Thread-safe and lock-free: an add claims an index with one atomic getAndAdd (so each index has exactly one
 * writer), finds or installs its segment by compare-and-set, and publishes the value with a release store; nothing
 * waits. Segments double in size (1024, 2048, ...), so nothing is ever copied and a value stays where it was put.
 * {@link #forEach} is weakly consistent: it sees every value whose add returned before it started, may see values
 * added while it runs, and skips indexes claimed but not yet written; it never sees a value twice unless it was
 * added twice.
 */
public final class AppendOnlyLongs {

    private static final int FIRST_BITS = 10;
    private static final int SEGMENTS = 31 - FIRST_BITS; // the last holds 2^30 values: 2^31 - 1024 in all
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle CLAIMED;

    static {
        try {
            CLAIMED = MethodHandles.lookup().findVarHandle(AppendOnlyLongs.class, "claimed", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final AtomicReferenceArray<long[]> segments = new AtomicReferenceArray<>(SEGMENTS);
    private volatile long claimed;

    /** Appends {@code value} (non-zero). */
    public void add(long value) {
        if (value == 0) {
            throw new IllegalArgumentException("value: 0 (expected: non-zero, 0 marks an unwritten slot)");
        }
        long index = (long) CLAIMED.getAndAdd(this, 1L); // atomic claim: this index is ours alone
        int segment = segmentOf(index);
        if (segment >= SEGMENTS) {
            throw new IllegalStateException("more than " + startOf(SEGMENTS) + " values (the most this list holds)");
        }
        long[] slots = segments.get(segment); // volatile read: a segment installed by any thread
        if (slots == null) {
            long[] fresh = new long[1 << (FIRST_BITS + segment)];
            // CAS: one array per segment; a thread that loses uses the winner's
            slots = segments.compareAndSet(segment, null, fresh) ? fresh : segments.get(segment);
        }
        SLOT.setRelease(slots, (int) (index - startOf(segment)), value); // release: publishes the value
    }

    /**
     * Appends {@code values[0..n)} (each non-zero) with one claim of {@code n} indexes: a bulk load's many adds
     * without an atomic operation each. Concurrent adds and listings behave as for {@link #add}.
     */
    public void addAll(long[] values, int n) {
        for (int i = 0; i < n; i++) {
            if (values[i] == 0) {
                throw new IllegalArgumentException("values[" + i + "]: 0 (expected: non-zero, 0 marks an unwritten "
                        + "slot)");
            }
        }
        long first = (long) CLAIMED.getAndAdd(this, (long) n); // atomic claim: these n indexes are ours alone
        if (n > 0 && segmentOf(first + n - 1) >= SEGMENTS) {
            throw new IllegalStateException("more than " + startOf(SEGMENTS) + " values (the most this list holds)");
        }
        for (int i = 0; i < n; ) {
            long index = first + i;
            int segment = segmentOf(index);
            long[] slots = segments.get(segment); // volatile read: a segment installed by any thread
            if (slots == null) {
                long[] fresh = new long[1 << (FIRST_BITS + segment)];
                // CAS: one array per segment; a thread that loses uses the winner's
                slots = segments.compareAndSet(segment, null, fresh) ? fresh : segments.get(segment);
            }
            int at = (int) (index - startOf(segment));
            int run = Math.min(n - i, slots.length - at);
            for (int k = 0; k < run; k++) {
                SLOT.setRelease(slots, at + k, values[i + k]); // release: publishes each value
            }
            i += run;
        }
    }

    /** How many adds have claimed an index (weakly consistent: includes adds still writing). */
    public long count() {
        return claimed; // volatile read
    }

    /** Visits every value written so far, in the order the indexes were claimed; weakly consistent. */
    public void forEach(LongConsumer action) {
        final long end = claimed; // volatile read: adds claimed later may or may not be seen
        for (int segment = 0; segment < SEGMENTS && startOf(segment) < end; segment++) {
            long[] slots = segments.get(segment); // volatile read
            if (slots == null) {
                continue; // claimed, but the claimer has not installed the segment yet: nothing written here
            }
            int n = (int) Math.min(slots.length, end - startOf(segment));
            for (int i = 0; i < n; i++) {
                long value = (long) SLOT.getAcquire(slots, i); // acquire: pairs with the release in add
                if (value != 0) {
                    action.accept(value);
                }
            }
        }
    }

    /** Segment s holds indexes [1024 (2^s - 1), 1024 (2^(s+1) - 1)). */
    private static int segmentOf(long index) {
        return 63 - Long.numberOfLeadingZeros((index >>> FIRST_BITS) + 1);
    }

    private static long startOf(int segment) {
        return ((1L << segment) - 1) << FIRST_BITS;
    }
}
