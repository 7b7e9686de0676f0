package io.couponstate.core;

import io.couponstate.core.internal.Codes;
import java.util.Objects;

/**
 * A reusable batch of observations for {@link CouponState#addObservations(ObservationBatch)}: fill it with
 * {@link #add}, apply it, read each entry's {@link #result(int)}, {@link #clear()} it and fill it again.
 *
 * <p>Not thread-safe: one thread fills, applies and reads a batch at a time. {@link #add} copies the code bytes into
 * the batch (at most 12 bytes per entry: a longer code is too long for every format, which only its length shows),
 * so the caller may reuse its buffer at once. Nothing in {@code add}, {@code clear}, {@code result} or in applying
 * a batch allocates; all arrays are made by the constructor.
 */
public final class ObservationBatch {

    /** Bytes kept per entry: the longest code any format accepts. */
    static final int MAX_CODE_BYTES = Codes.MAX_LENGTH;

    private static final InvalidCouponCodeException.Reason[] REASONS = InvalidCouponCodeException.Reason.values();

    final int capacity;
    /** Entry i's code bytes (up to {@link #MAX_CODE_BYTES} of them) at {@code i * MAX_CODE_BYTES}. */
    final byte[] bytes;
    /** Entry i's code length as given to {@link #add} (may exceed what is kept). */
    final int[] lengths;
    final int[] sourceIds;
    /** Filled while a batch is applied: entry i's code number (or a value <= 0 for a malformed code) and hash. */
    final long[] keys;
    final long[] hashes;
    final int[] results;
    int size;
    /** Whether {@link #results} belong to the current entries (set when applied, cleared by add and clear). */
    boolean applied;
    /** Where the cache-warming loads of the table go, so that the JIT cannot drop them. */
    long sink;

    /**
     * An empty batch of room for {@code capacity} entries.
     *
     * @param capacity the capacity
     * @throws IllegalArgumentException unless {@code capacity >= 1}
     */
    public ObservationBatch(int capacity) {
        if (capacity < 1 || capacity > Integer.MAX_VALUE / MAX_CODE_BYTES) {
            throw new IllegalArgumentException("capacity: " + capacity + " (expected: 1.."
                    + Integer.MAX_VALUE / MAX_CODE_BYTES + ")");
        }
        this.capacity = capacity;
        this.bytes = new byte[capacity * MAX_CODE_BYTES];
        this.lengths = new int[capacity];
        this.sourceIds = new int[capacity];
        this.keys = new long[capacity];
        this.hashes = new long[capacity];
        this.results = new int[capacity];
    }

    /**
     * Appends the observation of the ASCII code {@code code[offset, offset + length)} in source {@code sourceId} (an
     * id from {@link CouponState#sourceId(String)}; checked when the batch is applied). Returns false, adding
     * nothing, when the batch is full. The code is checked against the state's format only when applied: a
     * malformed code is an entry like any other and gets a negative {@link #result(int)}.
     *
     * @param code the coupon code
     * @param offset the index of the code's first byte in {@code code}
     * @param length the number of bytes of the code
     * @param sourceId the source id, from {@link CouponState#sourceId(String)}
     * @return {@code true} if so
     * @throws NullPointerException if {@code code} is null
     * @throws IndexOutOfBoundsException if {@code offset} and {@code length} are outside {@code code}
     */
    public boolean add(byte[] code, int offset, int length, int sourceId) {
        Objects.requireNonNull(code, "code");
        Objects.checkFromIndexSize(offset, length, code.length);
        if (size == capacity) {
            return false;
        }
        int i = size;
        System.arraycopy(code, offset, bytes, i * MAX_CODE_BYTES, Math.min(length, MAX_CODE_BYTES));
        lengths[i] = length;
        sourceIds[i] = sourceId;
        size = i + 1;
        applied = false;
        return true;
    }

    /**
     * The number of entries added since the last {@link #clear()}.
     *
     * @return the number of entries added since the last {@link #clear()}
     */
    public int size() {
        return size;
    }

    /**
     * The most entries this batch holds.
     *
     * @return the most entries this batch holds
     */
    public int capacity() {
        return capacity;
    }

    /** Removes every entry (and every result); the arrays are kept for the next use. */
    public void clear() {
        size = 0;
        applied = false;
    }

    /**
     * What {@code addObservations} gave entry {@code i} of the batch it last applied: what
     * {@link CouponState#addObservation(byte[], int, int, int)} would have returned for it (the code's number of
     * sources if this entry added one, else 0), or {@code -1 - reason.ordinal()} for a code outside the state's
     * format ({@link InvalidCouponCodeException.Reason}; see {@link #reasonOf(int)}).
     *
     * @param i the index in the batch
     * @return what {@code addObservations} gave entry {@code i} of the batch it last applied: what {@link
     *         CouponState#addObservation(byte[], int, int, int)} would have returned for it (the code's number of
     *         sources if this entry added one, else 0), or {@code -1 - reason.ordinal()} for a code outside the state's
     *         format ({@link InvalidCouponCodeException.Reason}; see {@link #reasonOf(int)})
     * @throws IndexOutOfBoundsException unless {@code 0 <= i < size()}
     * @throws IllegalStateException if the batch was not applied since its last change
     */
    public int result(int i) {
        Objects.checkIndex(i, size);
        if (!applied) {
            throw new IllegalStateException("result(" + i + "): the batch was not applied since it last changed"
                    + " (expected: addObservations(batch) first)");
        }
        return results[i];
    }

    /**
     * The rule a negative {@link #result(int)} stands for, or null for a result >= 0.
     *
     * @param result the result
     * @return the rule a negative {@link #result(int)} stands for, or null for a result >= 0
     */
    public static InvalidCouponCodeException.Reason reasonOf(int result) {
        return result >= 0 ? null : REASONS[-1 - result];
    }

    /** Entry i's offset into {@link #bytes}. */
    static int offsetOf(int i) {
        return i * MAX_CODE_BYTES;
    }
}
