package io.couponstate.kafka.internal.runner;

import io.couponstate.core.CouponState;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Which runner keeps which state current: a state has at most one started, unclosed runner. Two runners on one state
 * would each count only their own threshold crossings and checkpoint a state the other also moves (one then reports
 * "valid codes 0" while the state holds many), so the second {@code start()} is refused. Claims are by identity and
 * held from {@code start()} until {@code close()}. Thread-safe (one lock; held only to read or change the map).
 */
public final class StateClaims {

    private static final Map<CouponState, Object> OWNERS = new IdentityHashMap<>();

    private StateClaims() {
    }

    /**
     * Claims {@code state} for {@code runner}.
     *
     * @return true if claimed now, false if {@code runner} held it already
     * @throws IllegalStateException naming the state and its runner if another runner holds it
     */
    public static boolean claim(CouponState state, Object runner) {
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(runner, "runner");
        synchronized (OWNERS) {
            Object owner = OWNERS.putIfAbsent(state, runner);
            if (owner == null) {
                return true;
            }
            if (owner == runner) {
                return false;
            }
            throw new IllegalStateException("state: " + state.getClass().getSimpleName() + "@"
                    + Integer.toHexString(System.identityHashCode(state)) + " is already kept current by " + owner
                    + " (expected: one runner per state; close that runner first, or give this one its own state)");
        }
    }

    /** Releases {@code state} if {@code runner} holds it; otherwise does nothing. */
    public static void release(CouponState state, Object runner) {
        synchronized (OWNERS) {
            OWNERS.remove(state, runner);
        }
    }
}
