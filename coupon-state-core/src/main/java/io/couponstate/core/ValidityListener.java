package io.couponstate.core;

import java.util.Set;

/**
 * Told when a code becomes valid: called once per code per state instance, by the thread whose
 * {@code addObservation} raised the code's source count to the threshold, after the state was updated and outside
 * any lock the state holds. Never called for codes that arrive by merging a snapshot.
 *
 * <p>An exception thrown here propagates to that {@code addObservation} caller; the observation is recorded
 * regardless and the listener is not called again for that code.
 */
@FunctionalInterface
public interface ValidityListener {

    /** A listener that does nothing. */
    ValidityListener NONE = (code, sources) -> { };

    /**
     * Called when {@code code} is seen in its {@code threshold}-th distinct source.
     *
     * @param code the canonical (upper-case) code
     * @param sources the code's sources when the listener runs (a concurrent writer may already have added more)
     */
    void onValid(String code, Set<String> sources);
}
