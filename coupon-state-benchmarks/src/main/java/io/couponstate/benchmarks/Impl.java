package io.couponstate.benchmarks;

import io.couponstate.core.CompactCouponState;
import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.StripedLockCouponState;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The implementations a benchmark can run, as a JMH {@code @Param}: the library's three and two baselines. */
public enum Impl {
    /** {@link LockFreeCouponState}: CAS on packed slots, cooperative resize. */
    LOCK_FREE {
        @Override
        public StateFacade create(long expectedCodes) {
            return new Ours(new LockFreeCouponState(config(expectedCodes)));
        }
    },
    /** {@link StripedLockCouponState}: a lock per stripe over a primitive table. */
    STRIPED_LOCK {
        @Override
        public StateFacade create(long expectedCodes) {
            return new Ours(new StripedLockCouponState(config(expectedCodes)));
        }
    },
    /** {@link CompactCouponState}: quotient slots of 32 bits at scale, a lock per stripe for writers. */
    COMPACT {
        @Override
        public StateFacade create(long expectedCodes) {
            return new Ours(new CompactCouponState(config(expectedCodes)));
        }
    },
    /** The direct port of the original Go consumer: {@code HashMap<String, HashSet<String>>} behind one lock. */
    GO_PORT {
        @Override
        public StateFacade create(long expectedCodes) {
            return new GoPort(expectedCodes);
        }
    },
    /** What a Java developer writes first: {@code ConcurrentHashMap<String, Integer>} merging a source bit. */
    CHM_MASK {
        @Override
        public StateFacade create(long expectedCodes) {
            return new ChmMask(expectedCodes);
        }
    };

    /** A fresh, empty state; {@code expectedCodes} 0 means default capacity (growth included). */
    public abstract StateFacade create(long expectedCodes);

    static CouponStateConfig config(long expectedCodes) {
        return expectedCodes == 0 ? CouponStateConfig.defaults()
                : CouponStateConfig.builder().expectedCodes(expectedCodes).build();
    }

    /** Capacity that holds {@code expected} entries of a {@code HashMap} without a resize. */
    static int mapCapacity(long expected) {
        return expected == 0 ? 16 : (int) Math.min(1 << 30, expected * 4 / 3 + 1);
    }

    /** The library: source names interned once, the byte path allocates nothing. */
    static final class Ours implements StateFacade {
        private final CouponState state;
        private final int[] ids = new int[SOURCE_NAMES.length];

        Ours(CouponState state) {
            this.state = state;
            for (int i = 0; i < ids.length; i++) {
                ids[i] = state.sourceId(SOURCE_NAMES[i]);
            }
        }

        @Override
        public int add(String code, int source) {
            return state.addObservation(code, SOURCE_NAMES[source]);
        }

        @Override
        public int add(byte[] bytes, int offset, int length, int source) {
            return state.addObservation(bytes, offset, length, ids[source]);
        }

        @Override
        public long size() {
            return state.size();
        }

        @Override
        public Set<String> codesWithAtLeast(int minSources) {
            return new HashSet<>(state.getCouponCodesByObservationCount(minSources));
        }

        @Override
        public Object unwrap() {
            return state;
        }
    }

    /** {@code map[code][source] = true} behind one mutex, as the Go consumer did. */
    static final class GoPort implements StateFacade {
        private final Map<String, Set<String>> seen;

        GoPort(long expectedCodes) {
            this.seen = new HashMap<>(mapCapacity(expectedCodes));
        }

        @Override
        public synchronized int add(String code, int source) {
            Set<String> sources = seen.computeIfAbsent(code, k -> new HashSet<>());
            return sources.add(SOURCE_NAMES[source]) ? sources.size() : 0;
        }

        @Override
        public int add(byte[] bytes, int offset, int length, int source) {
            return add(new String(bytes, offset, length, StandardCharsets.UTF_8), source); // as StringDeserializer
        }

        @Override
        public synchronized long size() {
            return seen.size();
        }

        @Override
        public synchronized Set<String> codesWithAtLeast(int minSources) {
            Set<String> out = new HashSet<>();
            seen.forEach((code, sources) -> {
                if (sources.size() >= minSources) {
                    out.add(code);
                }
            });
            return out;
        }

        @Override
        public Object unwrap() {
            return seen;
        }
    }

    /** A concurrent map from code to a bitmask of sources, updated with {@code merge}. */
    static final class ChmMask implements StateFacade {
        private final ConcurrentHashMap<String, Integer> masks;

        ChmMask(long expectedCodes) {
            this.masks = new ConcurrentHashMap<>(expectedCodes == 0 ? 16 : (int) Math.min(1 << 30, expectedCodes));
        }

        @Override
        public int add(String code, int source) {
            return masks.merge(code, 1 << source, (a, b) -> a | b);
        }

        @Override
        public int add(byte[] bytes, int offset, int length, int source) {
            return add(new String(bytes, offset, length, StandardCharsets.UTF_8), source); // as StringDeserializer
        }

        @Override
        public long size() {
            return masks.mappingCount();
        }

        @Override
        public Set<String> codesWithAtLeast(int minSources) {
            Set<String> out = new HashSet<>();
            masks.forEach((code, mask) -> {
                if (Integer.bitCount(mask) >= minSources) {
                    out.add(code);
                }
            });
            return out;
        }

        @Override
        public Object unwrap() {
            return masks;
        }
    }
}
