package io.couponstate.core;

import io.couponstate.core.internal.Codes;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link CouponState} whose table is split into stripes, each an open-addressing table of {@code long} slots
 * guarded by its own lock.
 *
 * <p>Thread-safe. Writers are blocking: {@code addObservation} locks the one stripe its code hashes to, never the
 * whole table, so writers to different stripes run in parallel and a stripe's growth stalls only that stripe's
 * writers; {@code addObservations} locks one stripe at a time, once per entry (never two locks at once). Reads take
 * no lock and never block or write. {@code addObservation}, each entry of a batch and single-code reads are
 * linearizable per code; {@code size} and the listing methods are weakly consistent. Use
 * {@link LockFreeCouponState} where no thread may ever wait for another.
 */
public final class StripedLockCouponState extends AbstractCouponState {

    /*
     * Concurrency
     *   Every write to a stripe happens under its lock. Readers read the stripe's table reference (volatile) and
     *   then slots with volatile reads, so a read that starts after a write returned sees it (the write's volatile
     *   store precedes the unlock) and per-code reads are linearizable. Listener calls happen after the unlock.
     *
     * Layout
     *   Packed (format of at most 10 characters, at most 12 sources): one long per slot, the code number in bits
     *   0..51, the source mask in bits 52..63, 0 = empty. Wide: two longs per slot, key then mask. A wide insert
     *   stores the mask before the key, so a reader that finds the key also finds a mask at least that new.
     *
     * Probing
     *   Linear probing from Lemire's multiply-shift reduction of the low 32 hash bits onto any capacity (not only
     *   powers of two); the top bits of the same hash pick the stripe. Codes are never removed, so a probe ends at
     *   the key or at the first empty slot.
     *
     * Resize
     *   Under the stripe's lock, a table past 3/4 full is copied into one twice the size, which is then published
     *   with a volatile store. Readers still holding the old array see a consistent, complete older version: no
     *   write can land in it after the copy, because writes hold the lock that the copy holds.
     *
     * Batches
     *   addBatch first reads every entry's home slot with a plain load (a cache hint; a stale array only wastes it),
     *   then locks each entry's stripe in turn, as add does. Grouping the entries by stripe (one lock per stripe
     *   per batch) is not reliably faster on a loaded 2-core machine, so the simpler, allocation-free order is
     *   used. Pre-sized stripes run at load 0.85 (9.5 bytes per code).
     *
     * Snapshot
     *   forEachEntry walks each stripe's current array once with volatile reads: weakly consistent, never a code
     *   twice, every code added before the walk started.
     */

    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);
    private static final int STRIPE_BITS = 6;
    private static final int MIN_CAPACITY = 8;
    /** Load of stripes pre-sized for {@code expectedCodes} (9.4 bytes per packed code); grown stripes keep 3/4. */
    private static final double PRESIZED_LOAD = 0.85;
    private static final long KEY_BITS = (1L << Codes.PACKED_KEY_BITS) - 1;

    private final Stripe[] stripes;
    private final boolean packed;

    /** A state with the default configuration (threshold 2, 8..10 characters, 8 sources). */
    public StripedLockCouponState() {
        this(CouponStateConfig.defaults());
    }

    /**
     * A state with {@code config}.
     *
     * @param config the configuration
     */
    public StripedLockCouponState(CouponStateConfig config) {
        super(config);
        this.packed = config.packed();
        int count = 1 << STRIPE_BITS;
        long perStripe = config.expectedCodes() / count;
        int capacity = capacityFor(perStripe);
        // pre-sized stripes grow only past their share with the spread (the load capacityFor sized them for)
        int resizeAt = perStripe == 0 ? capacity / 4 * 3 + (capacity % 4) * 3 / 4
                : (int) Math.max(capacity * 3L / 4, Math.min(capacity - 1, (long) (capacity * PRESIZED_LOAD)));
        this.stripes = new Stripe[count];
        for (int i = 0; i < count; i++) {
            stripes[i] = new Stripe(capacity, packed ? 1 : 2, resizeAt);
        }
    }

    /** Slots for {@code codes} codes with room for the spread between stripes, so none of them grows. */
    static int capacityFor(long codes) {
        if (codes == 0) {
            return MIN_CAPACITY;
        }
        double withSpread = codes + 4 * Math.sqrt(codes) + 8;
        return (int) Math.min(1 << 30, Math.max(MIN_CAPACITY, (long) Math.ceil(withSpread / PRESIZED_LOAD) + 1));
    }

    private Stripe stripeOf(long hash) {
        return stripes[(int) (hash >>> (64 - STRIPE_BITS))];
    }

    @Override
    int add(long key, int sourceId) {
        long hash = Codes.mix(key);
        Stripe stripe = stripeOf(hash);
        long bit = 1L << sourceId;
        stripe.lock();
        try {
            return packed ? stripe.addPacked(key, bit, hash) : stripe.addWide(key, bit, hash);
        } finally {
            stripe.unlock();
        }
    }

    /**
     * First a plain load of every entry's home slot (a cache hint whose value is unused), so that their misses are in
     * flight together instead of one per lock acquisition (a locked CAS is a full fence on x86); then each entry
     * under its stripe's lock, as {@link #add} does it.
     */
    @Override
    void addBatch(ObservationBatch batch) {
        final int n = batch.size;
        final long[] keys = batch.keys;
        final long[] hashes = batch.hashes;
        final int[] results = batch.results;
        final int[] sourceIds = batch.sourceIds;
        final int shift = packed ? 0 : 1;
        long sink = 0;
        for (int i = 0; i < n; i++) {
            if (keys[i] > 0) {
                long hash = hashes[i];
                final long[] table = stripeOf(hash).table; // volatile read; a stale array only wastes the hint
                sink += table[Codes.index(hash, table.length >> shift) << shift]; // plain load on purpose: a hint
            }
        }
        batch.sink = sink;
        for (int i = 0; i < n; i++) {
            long key = keys[i];
            if (key > 0) {
                long hash = hashes[i];
                Stripe stripe = stripeOf(hash);
                long bit = 1L << sourceIds[i];
                stripe.lock();
                try {
                    results[i] = packed ? stripe.addPacked(key, bit, hash) : stripe.addWide(key, bit, hash);
                } finally {
                    stripe.unlock();
                }
            }
        }
    }

    @Override
    boolean merge(long key, long mask) {
        long hash = Codes.mix(key);
        Stripe stripe = stripeOf(hash);
        stripe.lock();
        try {
            int after = packed ? stripe.addPacked(key, mask, hash) : stripe.addWide(key, mask, hash);
            return after >= threshold && stripe.before < threshold; // after is 0 when nothing changed
        } finally {
            stripe.unlock();
        }
    }

    /**
     * Grows every stripe once, before a bulk load, so that {@code codes} codes fit without a further resize; a no-op
     * for stripes big enough. Safe under concurrent writers: each stripe grows under its own lock.
     */
    @Override
    void ensureCapacity(long codes) {
        int capacity = capacityFor(Math.max(0, codes) / stripes.length);
        for (Stripe stripe : stripes) {
            stripe.lock();
            try {
                stripe.growTo(capacity);
            } finally {
                stripe.unlock();
            }
        }
    }

    @Override
    long mask(long key) {
        long hash = Codes.mix(key);
        Stripe stripe = stripeOf(hash);
        final long[] table = stripe.table; // volatile read: the newest published array
        if (packed) {
            int capacity = table.length;
            for (int i = Codes.index(hash, capacity), probes = 0; probes < capacity; probes++) {
                long word = (long) SLOT.getVolatile(table, i);
                if (word == 0) {
                    return 0;
                }
                if ((word & KEY_BITS) == key) {
                    return word >>> Codes.PACKED_KEY_BITS;
                }
                if (++i == capacity) {
                    i = 0;
                }
            }
        } else {
            int capacity = table.length >> 1;
            for (int i = Codes.index(hash, capacity), probes = 0; probes < capacity; probes++) {
                long k = (long) SLOT.getVolatile(table, 2 * i);
                if (k == 0) {
                    return 0;
                }
                if (k == key) {
                    return (long) SLOT.getVolatile(table, 2 * i + 1); // stored before the key: never older
                }
                if (++i == capacity) {
                    i = 0;
                }
            }
        }
        return 0;
    }

    @Override
    void forEachEntry(EntryVisitor visitor) {
        for (Stripe stripe : stripes) {
            final long[] table = stripe.table;
            if (packed) {
                for (int i = 0; i < table.length; i++) {
                    long word = (long) SLOT.getVolatile(table, i);
                    if (word != 0) {
                        visitor.visit(word & KEY_BITS, word >>> Codes.PACKED_KEY_BITS);
                    }
                }
            } else {
                for (int i = 0; i < table.length; i += 2) {
                    long k = (long) SLOT.getVolatile(table, i);
                    if (k != 0) {
                        visitor.visit(k, (long) SLOT.getVolatile(table, i + 1));
                    }
                }
            }
        }
    }

    @Override
    public long size() {
        long n = 0;
        for (Stripe stripe : stripes) {
            n += stripe.count; // volatile read, racy across stripes: weakly consistent by contract
        }
        return n;
    }

    /** Slots allocated over all stripes (for sizing tests and footprint reports). */
    long capacity() {
        long n = 0;
        for (Stripe stripe : stripes) {
            n += stripe.table.length / (packed ? 1 : 2);
        }
        return n;
    }

    /** How many stripe resizes have happened. */
    long resizes() {
        long n = 0;
        for (Stripe stripe : stripes) {
            n += stripe.resizes;
        }
        return n;
    }

    /** One lock and one table; every field is written only under the lock. */
    @SuppressWarnings("serial")
    private static final class Stripe extends ReentrantLock {
        volatile long[] table;
        volatile int count;
        int resizeAt;
        int resizes;
        int before; // the count before the last add that changed a slot
        final int stride;

        Stripe(int capacity, int stride, int resizeAt) {
            this.stride = stride;
            this.table = new long[capacity * stride];
            this.resizeAt = resizeAt;
        }

        /** Under the lock: ORs {@code bits} into {@code key}'s packed slot; the new count if it grew, else 0. */
        int addPacked(long key, long bits, long hash) {
            long[] t = table;
            int capacity = t.length;
            int i = Codes.index(hash, capacity);
            while (true) {
                long word = t[i]; // plain read: only lock holders write
                if (word == 0) {
                    if (count >= resizeAt) {
                        resize();
                        return addPacked(key, bits, hash);
                    }
                    SLOT.setVolatile(t, i, key | (bits << Codes.PACKED_KEY_BITS)); // publishes to lock-free readers
                    count = count + 1;
                    before = 0;
                    return Long.bitCount(bits);
                }
                if ((word & KEY_BITS) == key) {
                    long updated = word | (bits << Codes.PACKED_KEY_BITS);
                    if (updated == word) {
                        return 0;
                    }
                    SLOT.setVolatile(t, i, updated);
                    before = Long.bitCount(word >>> Codes.PACKED_KEY_BITS);
                    return Long.bitCount(updated >>> Codes.PACKED_KEY_BITS);
                }
                if (++i == capacity) {
                    i = 0;
                }
            }
        }

        /** Under the lock: the same for the two-word layout. */
        int addWide(long key, long bits, long hash) {
            long[] t = table;
            int capacity = t.length >> 1;
            int i = Codes.index(hash, capacity);
            while (true) {
                long k = t[2 * i];
                if (k == 0) {
                    if (count >= resizeAt) {
                        resize();
                        return addWide(key, bits, hash);
                    }
                    SLOT.setVolatile(t, 2 * i + 1, bits); // mask first: a reader that finds the key sees it
                    SLOT.setVolatile(t, 2 * i, key);
                    count = count + 1;
                    before = 0;
                    return Long.bitCount(bits);
                }
                if (k == key) {
                    long mask = t[2 * i + 1];
                    long updated = mask | bits;
                    if (updated == mask) {
                        return 0;
                    }
                    SLOT.setVolatile(t, 2 * i + 1, updated);
                    before = Long.bitCount(mask);
                    return Long.bitCount(updated);
                }
                if (++i == capacity) {
                    i = 0;
                }
            }
        }

        /** Under the lock: copies into a table twice the size and publishes it. */
        private void resize() {
            int oldCapacity = table.length / stride;
            if (oldCapacity >= 1 << 30) {
                throw new IllegalStateException("stripe full: " + oldCapacity + " slots (expected: < 2^30 per stripe)");
            }
            copyInto(oldCapacity * 2);
        }

        /** Under the lock: grows to at least {@code capacity} slots in one copy, if smaller. */
        void growTo(int capacity) {
            if (table.length / stride < capacity) {
                copyInto(capacity);
                // sized by capacityFor, as a pre-sized stripe is: grow only past that load
                resizeAt = (int) Math.max(capacity * 3L / 4, Math.min(capacity - 1, (long) (capacity * PRESIZED_LOAD)));
            }
        }

        private void copyInto(int capacity) {
            long[] old = table;
            int oldCapacity = old.length / stride;
            long[] fresh = new long[capacity * stride];
            for (int j = 0; j < oldCapacity; j++) {
                long k = stride == 1 ? old[j] & KEY_BITS : old[2 * j];
                if (k == 0) {
                    continue;
                }
                int i = Codes.index(Codes.mix(k), capacity);
                while (fresh[i * stride] != 0) {
                    if (++i == capacity) {
                        i = 0;
                    }
                }
                if (stride == 1) {
                    fresh[i] = old[j];
                } else {
                    fresh[2 * i] = k;
                    fresh[2 * i + 1] = old[2 * j + 1];
                }
            }
            table = fresh; // volatile store: readers switch to the complete copy
            resizeAt = (int) (capacity * 3L / 4);
            resizes++;
        }
    }
}
