package io.couponstate.core;

import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * For every coupon code, the set of sources it has been seen in, and whether it is therefore valid (seen in at
 * least {@link #threshold()} distinct sources).
 *
 * <p><b>Concurrency.</b> Implementations are thread-safe. {@code addObservation} and the single-code reads
 * ({@code getObservations}, {@code observationCount}, {@code isValid}) are linearizable per code: an observation
 * whose {@code addObservation} call has returned is seen by every read of that code that starts afterwards, and
 * actions in a thread before {@code addObservation} happen-before a read that sees its effect. Bulk queries
 * ({@code getCouponCodesByObservationCount}, {@code forEachCouponCode}, {@code size}, {@code validCount}) are weakly
 * consistent, like {@code ConcurrentHashMap} iteration: they see every code added before they started, may or may
 * not see codes added while they run, never see a code twice, and never throw
 * {@code ConcurrentModificationException}.
 *
 * <p><b>Grow-only set semantics.</b> Adding an observation is a set union: idempotent, commutative and associative.
 * Duplicate and out-of-order delivery cannot change the final state.
 *
 * <p><b>The threshold crossing.</b> Exactly one {@code addObservation} call per code returns exactly
 * {@link #threshold()}: the one that raised the code's count to it. That call's thread runs the configured
 * {@link ValidityListener}, once per code per state instance. Merging a snapshot into a state crosses silently.
 *
 * <p>Codes are checked against the state's {@link CodeFormat}; a code outside it is rejected by
 * {@code addObservation} with {@link InvalidCouponCodeException} and is simply unknown to the read methods.
 */
public interface CouponState {

    /**
     * Records that code was seen in source. Returns the code's number of distinct sources right after
     *  this call if this call added a new source, or 0 if (code, source) was already recorded.
     *  Throws InvalidCouponCodeException (extends IllegalArgumentException) for a code outside the
     * format, NullPointerException for null.
     *
     * @param code the coupon code
     * @param source the source name
     * @return the code's number of distinct sources right after this call if it added a new source, else 0
     */
    int addObservation(CharSequence code, String source);

    /**
     * Same, zero-allocation: the code as ASCII bytes, the source as an id from sourceId().
     *
     * @param code the coupon code
     * @param offset the index of the code's first byte in {@code code}
     * @param length the number of bytes of the code
     * @param sourceId the source id, from {@link CouponState#sourceId(String)}
     * @return the code's number of distinct sources right after this call if it added a new source, else 0
     */
    int addObservation(byte[] code, int offset, int length, int sourceId);

    /**
     * Applies every entry of {@code batch} in order, as {@link #addObservation(byte[], int, int, int)} would one by
     * one, and returns how many entries added a new source. Afterwards {@code batch.result(i)} is what that call
     * would have returned for entry {@code i}, or {@code -1 - reason.ordinal()} for a code outside the format
     * ({@link InvalidCouponCodeException.Reason}): a malformed code throws nothing and changes nothing.
     *
     * <p>The same guarantees as single calls: each entry is a linearizable update of its code, exactly one call or
     * entry per code (over batches and single calls on any threads) returns {@link #threshold()}, and the listener
     * runs once per code, on the applying thread, after the entry's update. A batch is not atomic as a whole:
     * other threads may see some of its entries before others. The library's implementations allocate nothing and
     * overlap the cache misses of the entries (a batch of a few hundred entries is much faster than as many
     * single calls on a table larger than the cache).
     *
     * <p>The default applies the entries one by one (for other implementations of this interface).
     *
     * @param batch the batch
     * @return how many entries added a new source; each entry's own result is in {@link ObservationBatch#result(int)}
     * @throws IllegalArgumentException if an entry's source id was not returned by {@link #sourceId(String)}
     *         (the library's implementations check every entry before applying any)
     * @throws NullPointerException if {@code batch} is null
     */
    default int addObservations(ObservationBatch batch) {
        Objects.requireNonNull(batch, "batch");
        int added = 0;
        for (int i = 0; i < batch.size; i++) {
            int result;
            if (batch.lengths[i] > ObservationBatch.MAX_CODE_BYTES) {
                result = -1 - InvalidCouponCodeException.Reason.TOO_LONG.ordinal(); // too long for every format
            } else {
                try {
                    result = addObservation(batch.bytes, ObservationBatch.offsetOf(i), batch.lengths[i],
                            batch.sourceIds[i]);
                } catch (InvalidCouponCodeException e) {
                    result = -1 - e.reason().ordinal();
                }
            }
            batch.results[i] = result;
            added += result > 0 ? 1 : 0;
        }
        batch.applied = true;
        return added;
    }

    /**
     * Interns a source name to a small id; the same name always gets the same id.
     *  IllegalStateException naming the limit when more sources are registered than maxSources;
     *  IllegalArgumentException naming the length and the limit for a name longer than
     * {@link CouponSnapshots#MAX_NAME_BYTES} UTF-8 bytes (so a snapshot can always hold every name).
     *
     * @param source the source name
     * @return the source's id, the same for every call with this name
     */
    int sourceId(String source);

    /**
     * The names of the sources {@code code} was seen in, in source-id order; empty for unknown or malformed codes.
     *
     * @param code the coupon code
     * @return the names of the sources {@code code} was seen in, in source-id order; empty for unknown or malformed
     *         codes
     */
    Set<String> getObservations(CharSequence code);

    /**
     * The number of distinct sources {@code code} was seen in; 0 for unknown or malformed codes.
     *
     * @param code the coupon code
     * @return the number of distinct sources {@code code} was seen in; 0 for unknown or malformed codes
     */
    int observationCount(CharSequence code);

    /**
     * {@code observationCount(code) >= threshold()}; false, never a throw, for malformed input.
     *
     * @param code the coupon code
     * @return {@code true} if so
     */
    boolean isValid(CharSequence code);

    /**
     * The format check alone, without touching the state.
     *
     * @param code the coupon code
     * @return the format check alone, without touching the state
     */
    boolean isWellFormed(CharSequence code);

    /**
     * The codes seen in at least {@code minSources} distinct sources, in no particular order; weakly consistent.
     *
     * @param minSources the least number of distinct sources
     * @return the codes seen in at least {@code minSources} distinct sources, in no particular order; weakly consistent
     */
    List<String> getCouponCodesByObservationCount(int minSources);

    /**
     * The same as {@link #getCouponCodesByObservationCount(int)}, streaming: no list is built.
     *
     * @param minSources the least number of distinct sources
     * @param action what to call for each code
     */
    void forEachCouponCode(int minSources, Consumer<? super String> action);

    /**
     * The number of distinct codes; weakly consistent.
     *
     * @return the number of distinct codes; weakly consistent
     */
    long size();

    /**
     * The number of codes seen in at least {@link #threshold()} distinct sources; weakly consistent. Costs O(1):
     * valid codes are recorded where they cross the threshold, as are the listings for {@code minSources >=
     * threshold()}, which cost the number of valid codes rather than a table scan.
     *
     * @return the number of codes seen in at least {@link #threshold()} distinct sources; weakly consistent
     */
    long validCount();

    /**
     * The number of distinct sources a code needs to be valid.
     *
     * @return the number of distinct sources a code needs to be valid
     */
    int threshold();

    /**
     * The configuration this state was built with: its code format, threshold, source limit and journal. Callers
     * that must match a state (a snapshot reader, a runner checking its records' format) ask here.
     *
     * @return the configuration this state was built with: its code format, threshold, source limit and journal
     */
    CouponStateConfig config();
}
