package io.couponstate.core;

import io.couponstate.core.internal.Codes;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link CouponState} that stores each code in about 4.3 bytes at the reference scale (a pre-sized table of
 * hundreds of millions of codes), against 9.4 for {@link LockFreeCouponState}: a slot keeps only the part of the
 * code's hash that its position does not imply, and an index into a small dictionary of source sets.
 *
 * <p>Thread-safe; writers block, readers mostly do not. The table is split into 64 stripes, each guarded by its own
 * lock: {@code addObservation} (and each entry of {@code addObservations}, one lock at a time) locks the stripe its
 * code hashes to, never the whole table, so a stripe's growth stalls only that stripe's writers; an observation the
 * state already holds (a replay, a duplicate) is answered like a read, without the lock. A read of a code
 * that is present takes no lock and never waits. A read that does not find its code checks a per-stripe version
 * and retries if an insert was relocating entries in that stripe meanwhile; after a few such retries it takes the
 * stripe's lock, so a read may wait for one writer. {@code addObservation}, each entry of a batch and single-code
 * reads are linearizable per code; {@code size} and the listings are weakly consistent. Use
 * {@link LockFreeCouponState} where no thread may ever wait for another, at twice the memory.
 */
public final class CompactCouponState extends AbstractCouponState {

    /*
     * Layout (the bit budget)
     *   A code is a K-bit number (K = 52 for formats of at most 10 characters, 63 for 12, 42 for 8). A bijective mix of
     *   K bits (xorshifts and odd multiplications mod 2^K, inverted by unmix) turns it into a hash h. The top 6 bits
     *   of h pick the stripe; the other W = K - 6 bits, hp, are split by the stripe's bucket count nb (any number,
     *   not a power of two): the home bucket is hp mod nb and the quotient q = hp / nb is all a slot keeps of the
     *   code, so hp = q * nb + home is recovered exactly: no false positive is possible. q needs
     *   Q = bits((2^W - 1) / nb) bits. A bucket is 8 slots (32 bytes for int slots). A code may also live in a
     *   second bucket, home + 1 + f(q) mod nb (f a multiply-shift of q onto 0..nb-2), which is reversible for any nb
     *   given q, so a slot says which of its two buckets it is in with one bit. The rest, T bits, is a tag: 0 means
     *   an empty slot (so an occupied slot is never 0), 1..2^T-2 index the dictionary of source sets, and 2^T-1
     *   (spill) means the code's mask is in the stripe's side table.
     *     slot = tag << (Q + 1) | alt << Q | q
     *   A stripe's slots are ints when Q + 1 + 3 <= 32 (a tag of at least 3 bits), else longs (tag capped at 10
     *   bits), kept in pages of 2^15 slots (see PAGE_BITS: no humongous arrays, whose region rounding G1 charges).
     *   At the reference scale (312.5M codes of 8..10 characters, pre-sized): nb is about 656K per stripe,
     *   Q = 27, alt 1, tag 4 bits (14 source sets before a spill; three sources make 7): 4 bytes per slot at load
     *   0.93 = 4.3 bytes per code. Smaller tables (below about 120M codes) have longer quotients and use long slots,
     *   still under LockFreeCouponState's 9.4 bytes at the same load. Twelve-character codes and 64 sources take
     *   the same path: a longer quotient, and more source sets spill to the side table when the dictionary (1022
     *   sets) or the tag width runs out. Nothing is refused for size but the 2^31 slots one array holds per stripe.
     *
     * Side table
     *   Per table, an open-addressing long[] of (code, mask) pairs, allocated at the first use: the masks of spilled
     *   codes (their slot keeps the spill tag) and the rare code an insert could not place after MAX_KICKS
     *   relocations (no slot at all). Grown by copying under the stripe's lock; the mask is written before the key.
     *
     * Concurrency
     *   Every write to a stripe (a slot, its side table, its count, a relocation, a resize) happens under its lock.
     *   A code's entry is in at most one slot at any moment: an insert into two full buckets evicts a random
     *   entry of one of them into its other bucket (cuckoo hashing, random walk), writing each moved entry over its
     *   victim, so an entry being moved is in no slot for a moment. The stripe's version is odd while such a walk
     *   runs. A reader reads the version, the table (volatile), the code's two buckets and, on a miss, the side
     *   table, all with volatile reads: a slot it finds holds the code's current sources (writers of the code wait
     *   for the lock the walk holds), so a hit is returned at once; a miss counts only if the version is even and
     *   unchanged, else the read retries, and after READ_RETRIES it reads under the lock. Resizing builds a new
     *   table under the lock and publishes it with a volatile store; a reader holding the old one sees a complete
     *   older version (nothing writes to it any more). Slots are written with release stores (the version's
     *   volatile write before a walk orders them after it) and read with volatile loads, so a reader that sees a
     *   slot value sees everything written before it, the odd version of its walk included. Because masks only
     *   grow, a hit that already holds an observation's source is the answer to that observation: add and
     *   addBatch look first without the lock and lock only to change something.
     *
     * Dictionary
     *   Source sets are numbered in the order they first appear, per state: masks below 2^12 through an int array
     *   (acquire/release), larger ones through a map under a monitor. A dictionary entry is written before its
     *   number is published, and a number is written into a slot only after it was read, so a reader that sees a
     *   tag sees its mask.
     *
     * Resize
     *   A stripe past 0.93 of its slots (a pre-sized one: past its share of expectedCodes and the spread between
     *   stripes), or whose side table holds more than 1/8 of its codes, is rebuilt 1.5 times larger under its lock
     *   (re-hashing needs no unmix: the stripe stays, hp = q * nb + home); a stripe whose
     *   spills are many turns to long slots with 10-bit tags at that point. Peak memory during growth is the table
     *   plus one stripe's new table.
     *
     * Snapshot
     *   forEachEntry copies each stripe's slots and side table under its lock (one stripe at a time, so writers of
     *   other stripes go on) and walks the copy, decoding each code with unmix: every code present when the walk
     *   started is visited exactly once (a stale side pair, left when a spilled mask later got a dictionary number
     *   within the tag bits, is skipped: its code is visited in its slot). Snapshots and bases are the table image
     *   (snapshot version 3, see SnapshotDescriptor): each stripe copied under its lock (copyStripe) and written
     *   (int slots as they are, long slots in the bytes they need), then the dictionary. An empty state adopts an
     *   image's tables as they are (adoptImage: no code is re-hashed; the dictionary, the counts and the valid list
     *   are rebuilt); any other target decodes the image through forEachEntry of a scratch state that adopted it.
     *   Version 2 entry lists read into it like into any implementation.
     */

    private static final VarHandle INTS = MethodHandles.arrayElementVarHandle(int[].class);
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle COUNT;

    static {
        try {
            COUNT = MethodHandles.lookup().findVarHandle(Stripe.class, "count", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final int STRIPE_BITS = 6;
    private static final int STRIPES = 1 << STRIPE_BITS;
    private static final int BUCKET = 8;
    private static final int MIN_KEY_BITS = 16;
    private static final int MIN_BUCKETS = 2;
    /** The largest bucket count of one stripe: its slots fill one array. */
    private static final int MAX_BUCKETS = (Integer.MAX_VALUE - 16) / BUCKET;
    /** Load at which a stripe grows, and for which pre-sized stripes are sized (with room for the spread). */
    static final double MAX_LOAD = 0.93;
    private static final double GROWTH = 1.5;
    /**
     * Slots per page: a stripe's slots are pages of 2^15 (128 or 256 KB), never one array of half a G1 region or
     * more, which G1 would place in whole regions of its own (a 21 MB array in 4 MB regions holds 3 MB nothing can
     * use; a 4.3 MB one, 3.7 MB). A bucket never straddles two pages.
     */
    static final int PAGE_BITS = 15;
    private static final int PAGE = 1 << PAGE_BITS;
    private static final int PAGE_MASK = PAGE - 1;
    private static final int MAX_KICKS = 500;
    /** What {@link Table#scan} returns for a full bucket without the code: never a slot value. */
    private static final long FULL = -1L;
    private static final int READ_RETRIES = 8;
    /** Dictionary numbers 1..DICT_CAPACITY - 1 (a 10-bit tag's spill value is 1023). */
    private static final int DICT_CAPACITY = 1023;
    private static final int SMALL_MASKS = 1 << 12;
    private static final int MIN_INT_TAG_BITS = 3;
    private static final int MAX_TAG_BITS = 10;
    private static final long C1 = 0xbf58476d1ce4e5b9L;
    private static final long C2 = 0x94d049bb133111ebL;
    private static final long C1_INVERSE = inverse(C1);
    private static final long C2_INVERSE = inverse(C2);

    /** Bits of the format's largest code number (52 for 10 characters, 63 for 12), at least MIN_KEY_BITS. */
    private final int keyBits;
    private final long keyMask;
    /** Bits of a hash below the stripe bits. */
    private final int wBits;
    private final long wMask;
    private final int shift1;
    private final int shift2;
    private final int shift3;
    private final Stripe[] stripes = new Stripe[STRIPES];

    private final long[] dictMasks = new long[DICT_CAPACITY];
    private final int[] smallTags = new int[SMALL_MASKS];
    private final Map<Long, Integer> largeTags = new HashMap<>(); // guarded by dictMasks
    private int dictSize = 1; // guarded by dictMasks

    /** A state with the default configuration (threshold 2, 8..10 characters, 8 sources). */
    public CompactCouponState() {
        this(CouponStateConfig.defaults());
    }

    /**
     * A state with {@code config}.
     *
     * @param config the configuration; {@code expectedCodes} pre-sizes every stripe at load 0.93
     */
    public CompactCouponState(CouponStateConfig config) {
        super(config);
        // the bits of the format's largest code number: 52 for 10 characters, 63 for 12, 42 for 8
        this.keyBits = Math.max(MIN_KEY_BITS, 64 - Long.numberOfLeadingZeros(Codes.lastOfLength(format.maxLength())));
        this.keyMask = (1L << keyBits) - 1;
        this.wBits = keyBits - STRIPE_BITS;
        this.wMask = (1L << wBits) - 1;
        this.shift1 = keyBits / 2;
        this.shift2 = keyBits * 27 / 64;
        this.shift3 = keyBits / 2 - 1;
        long perStripe = config.expectedCodes() / STRIPES;
        int buckets = bucketsFor(perStripe);
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new Stripe(newTable(buckets, false, withSpread(perStripe)), i);
        }
    }

    /** {@code codes} per stripe and room for the spread between stripes (four standard deviations); 0 for 0. */
    private static long withSpread(long codes) {
        return codes <= 0 ? 0 : (long) Math.ceil(codes + 4 * Math.sqrt(codes) + 8);
    }

    /** Buckets for {@code codes} codes in one stripe, with room for the spread between stripes. */
    private static int bucketsFor(long codes) {
        if (codes <= 0) {
            return MIN_BUCKETS;
        }
        long buckets = (long) Math.ceil(withSpread(codes) / MAX_LOAD / BUCKET) + 1;
        if (buckets > MAX_BUCKETS) {
            throw new IllegalArgumentException("expectedCodes: " + codes * STRIPES + " (expected: at most "
                    + (long) (MAX_BUCKETS * (double) BUCKET * MAX_LOAD) * STRIPES + " for this layout)");
        }
        return (int) Math.max(MIN_BUCKETS, buckets);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // the bijective hash

    /** A bijection of {@code [0, 2^keyBits)}: xorshifts and odd multiplications mod 2^keyBits. */
    long mix(long key) {
        long x = key;
        x ^= x >>> shift1;
        x = (x * C1) & keyMask;
        x ^= x >>> shift2;
        x = (x * C2) & keyMask;
        return x ^ (x >>> shift3);
    }

    /** The inverse of {@link #mix}. */
    long unmix(long hash) {
        long x = unshift(hash, shift3);
        x = (x * C2_INVERSE) & keyMask;
        x = unshift(x, shift2);
        x = (x * C1_INVERSE) & keyMask;
        return unshift(x, shift1);
    }

    /** The x with {@code x ^ (x >>> shift) == y} (x below 2^keyBits): each round fixes {@code shift} more bits. */
    private long unshift(long y, int shift) {
        long x = y;
        for (int fixed = shift; fixed < keyBits; fixed += shift) {
            x = y ^ (x >>> shift);
        }
        return x;
    }

    /** The inverse of an odd number mod 2^64 (Newton's iteration doubles the correct low bits each round). */
    private static long inverse(long odd) {
        long x = odd;
        for (int i = 0; i < 5; i++) {
            x *= 2 - odd * x;
        }
        return x;
    }

    /** The second bucket's distance from the home bucket: 1..nb-1, a function of q alone (reversible). */
    static int offset(long q, int buckets) {
        return 1 + (int) ((((q * 0x9E3779B97F4A7C15L) >>> 32) * (buckets - 1)) >>> 32);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // the dictionary of source sets

    /** The dictionary number of {@code mask}, assigning the next one if new; 0 when the dictionary is full. */
    private int tagOf(long mask) {
        if (mask >>> 12 == 0) { // SMALL_MASKS = 2^12; a negative mask (source 63) is large
            int tag = (int) INTS.getAcquire(smallTags, (int) mask); // acquire: the entry's mask is visible
            if (tag != 0) {
                return tag;
            }
        }
        synchronized (dictMasks) {
            Integer known = mask >>> 12 == 0 ? (Integer) smallTags[(int) mask] : largeTags.get(mask);
            if (known != null && known != 0) {
                return known;
            }
            if (dictSize == DICT_CAPACITY) {
                return 0;
            }
            int tag = dictSize++;
            dictMasks[tag] = mask; // published by the release below (or the monitor) before anyone reads the tag
            if (mask >>> 12 == 0) { // SMALL_MASKS = 2^12; a negative mask (source 63) is large
                INTS.setRelease(smallTags, (int) mask, tag); // release: the mask before the number
            } else {
                largeTags.put(mask, tag);
            }
            return tag;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // tables

    /** A table of {@code buckets} buckets that holds {@code needed} codes before it grows (0: grows at MAX_LOAD). */
    private Table newTable(int buckets, boolean forceWide, long needed) {
        return new Table(buckets, wMask, forceWide, needed);
    }

    /** One generation of a stripe's table: geometry, slots, side table. Slots change only under the stripe lock. */
    static final class Table {
        final int buckets;
        final int qBits;
        final long qMask;
        final long idMask;
        final long altBit;
        final int tagShift;
        final long spill;
        final boolean wide;
        final int[][] ints;
        final long[][] longs;
        final int resizeAt;
        /** (code, mask) pairs: spilled masks and unplaced codes; null until needed. */
        volatile long[] side;
        int sideCount; // under the lock

        Table(int buckets, long wMask, boolean forceWide, long needed) {
            this.buckets = buckets;
            long maxQ = Long.divideUnsigned(wMask, buckets);
            this.qBits = Math.max(1, 64 - Long.numberOfLeadingZeros(maxQ));
            this.qMask = (1L << qBits) - 1;
            this.altBit = 1L << qBits;
            this.idMask = qMask | altBit;
            this.tagShift = qBits + 1;
            int intTagBits = 32 - tagShift;
            this.wide = forceWide || intTagBits < MIN_INT_TAG_BITS;
            int tagBits = Math.min(MAX_TAG_BITS, wide ? 63 - tagShift : intTagBits);
            this.spill = (1L << tagBits) - 1;
            int slots = buckets * BUCKET;
            int pages = (slots + PAGE - 1) >>> PAGE_BITS;
            this.ints = wide ? null : new int[pages][];
            this.longs = wide ? new long[pages][] : null;
            for (int p = 0; p < pages; p++) {
                int length = Math.min(PAGE, slots - (p << PAGE_BITS));
                if (wide) {
                    longs[p] = new long[length];
                } else {
                    ints[p] = new int[length];
                }
            }
            this.resizeAt = (int) Math.min(slots - 1L, Math.max(needed, (long) (slots * MAX_LOAD)));
        }

        long get(int i) {
            // volatile read: the newest slot value, at least as new as the version read before it
            return wide ? (long) LONGS.getVolatile(longs[i >>> PAGE_BITS], i & PAGE_MASK)
                    : Integer.toUnsignedLong((int) INTS.getVolatile(ints[i >>> PAGE_BITS], i & PAGE_MASK));
        }

        /** Under the lock. */
        void set(int i, long value) {
            if (wide) {
                LONGS.setRelease(longs[i >>> PAGE_BITS], i & PAGE_MASK, value); // release: publishes to readers
            } else {
                INTS.setRelease(ints[i >>> PAGE_BITS], i & PAGE_MASK, (int) value);
            }
        }

        /**
         * Under the lock: the slot of id ({@code q | alt}) in {@code bucket}, or {@code -1 - free} (free: first
         * empty, or BUCKET). Plain reads: only the lock's holder writes slots. The bucket's page is read once (a
         * bucket never straddles two pages), so the loop is over one array.
         */
        int find(int bucket, long id) {
            int base = bucket * BUCKET;
            int off = base & PAGE_MASK;
            if (wide) {
                long[] page = longs[base >>> PAGE_BITS];
                for (int j = 0; j < BUCKET; j++) {
                    long v = page[off + j];
                    if (v == 0) {
                        return -1 - j; // slots never empty again: nothing further in this bucket
                    }
                    if ((v & idMask) == id) {
                        return base + j;
                    }
                }
            } else {
                int[] page = ints[base >>> PAGE_BITS];
                for (int j = 0; j < BUCKET; j++) {
                    long v = Integer.toUnsignedLong(page[off + j]);
                    if (v == 0) {
                        return -1 - j;
                    }
                    if ((v & idMask) == id) {
                        return base + j;
                    }
                }
            }
            return -1 - BUCKET;
        }

        /**
         * The value of the slot holding id ({@code q | alt}) in {@code bucket}, read once; 0 if not there and the
         * bucket has an empty slot, {@link #FULL} if not there and the bucket is full. Lock-free: volatile reads, of
         * one page read once.
         */
        long scan(int bucket, long id) {
            int base = bucket * BUCKET;
            int off = base & PAGE_MASK;
            if (wide) {
                long[] page = longs[base >>> PAGE_BITS];
                for (int j = 0; j < BUCKET; j++) {
                    long v = (long) LONGS.getVolatile(page, off + j);
                    if (v == 0 || (v & idMask) == id) {
                        return v;
                    }
                }
            } else {
                int[] page = ints[base >>> PAGE_BITS];
                for (int j = 0; j < BUCKET; j++) {
                    long v = Integer.toUnsignedLong((int) INTS.getVolatile(page, off + j));
                    if (v == 0 || (v & idMask) == id) {
                        return v;
                    }
                }
            }
            return FULL;
        }

        /** The mask of {@code key} in the side table, 0 if absent. Lock-free. */
        long sideMask(long key) {
            final long[] s = side; // volatile read: the newest published side array
            if (s == null) {
                return 0;
            }
            int capacity = s.length >> 1;
            for (int i = (int) (Codes.mix(key) & (capacity - 1)); ; i = (i + 1) & (capacity - 1)) {
                long k = (long) LONGS.getVolatile(s, 2 * i); // volatile read of the key word
                if (k == 0) {
                    return 0;
                }
                if (k == key) {
                    return (long) LONGS.getVolatile(s, 2 * i + 1); // written before the key: never older
                }
            }
        }

        /** Under the lock: sets {@code key}'s side mask, adding the pair if new. */
        void putSide(long key, long mask) {
            long[] s = side;
            if (s == null || (sideCount + 1) * 4L > (s.length >> 1) * 3L) {
                s = growSide(s);
            }
            int capacity = s.length >> 1;
            for (int i = (int) (Codes.mix(key) & (capacity - 1)); ; i = (i + 1) & (capacity - 1)) {
                long k = s[2 * i];
                if (k == key) {
                    LONGS.setVolatile(s, 2 * i + 1, mask);
                    return;
                }
                if (k == 0) {
                    LONGS.setVolatile(s, 2 * i + 1, mask); // mask first: a reader that finds the key sees it
                    LONGS.setVolatile(s, 2 * i, key);
                    sideCount++;
                    return;
                }
            }
        }

        private long[] growSide(long[] old) {
            int capacity = old == null ? 16 : old.length; // pairs: twice the old pair count
            long[] fresh = new long[2 * capacity];
            if (old != null) {
                for (int j = 0; j < old.length; j += 2) {
                    long k = old[j];
                    if (k != 0) {
                        int i = (int) (Codes.mix(k) & (capacity - 1));
                        while (fresh[2 * i] != 0) {
                            i = (i + 1) & (capacity - 1);
                        }
                        fresh[2 * i] = k;
                        fresh[2 * i + 1] = old[j + 1];
                    }
                }
            }
            side = fresh; // volatile store: readers switch to the complete copy
            return fresh;
        }

        int slots() {
            return buckets * BUCKET;
        }

        /** Plain loads of the first and last slot of {@code bucket}, whose values are only a cache hint. */
        long hint(int bucket) {
            int first = bucket * BUCKET;
            int last = first + BUCKET - 1; // a bucket never straddles two pages
            int page = first >>> PAGE_BITS;
            return wide ? longs[page][first & PAGE_MASK] + longs[page][last & PAGE_MASK]
                    : ints[page][first & PAGE_MASK] + ints[page][last & PAGE_MASK];
        }
    }

    /** One lock, one table, a version that is odd while an insert relocates entries. */
    @SuppressWarnings("serial")
    private static final class Stripe extends ReentrantLock {
        volatile Table table;
        volatile int version;
        volatile int count;
        final int index;
        int before; // under the lock: the count before the last add that changed an entry
        boolean preferWide; // under the lock: spills were many, rebuild with long slots
        long random; // under the lock: the relocation walk's choices
        long relocations;
        long resizes;

        Stripe(Table table, int index) {
            this.table = table;
            this.index = index;
            this.random = 0x9E3779B97F4A7C15L * (index + 1);
        }

        int nextRandom(int bound) {
            long x = random;
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            random = x;
            return (int) (((x >>> 33) * bound) >>> 31);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // writes

    @Override
    int add(long key, int sourceId) {
        long h = mix(key);
        Stripe stripe = stripes[(int) (h >>> wBits)];
        long bits = 1L << sourceId;
        if ((lookup(stripe.table, h & wMask, key) & bits) != 0) {
            return 0; // already there: a hit is never stale (masks only grow), so no lock is needed to say so
        }
        stripe.lock();
        try {
            return update(stripe, h & wMask, key, bits);
        } finally {
            stripe.unlock();
        }
    }

    @Override
    boolean merge(long key, long mask) {
        if (mask == 0) {
            return false;
        }
        long h = mix(key);
        Stripe stripe = stripes[(int) (h >>> wBits)];
        stripe.lock();
        try {
            int after = update(stripe, h & wMask, key, mask);
            return after >= threshold && stripe.before < threshold; // after is 0 when nothing changed
        } finally {
            stripe.unlock();
        }
    }

    /**
     * First a plain load of every entry's home slot (a cache hint whose value is unused), so that their misses are in
     * flight together instead of one per lock acquisition; then each entry under its stripe's lock, as {@link #add}
     * does it. The batch's hash column is overwritten with this table's hash.
     */
    @Override
    void addBatch(ObservationBatch batch) {
        final int n = batch.size;
        final long[] keys = batch.keys;
        final long[] hashes = batch.hashes;
        final int[] results = batch.results;
        final int[] sourceIds = batch.sourceIds;
        long sink = 0;
        for (int i = 0; i < n; i++) {
            if (keys[i] > 0) {
                long h = mix(keys[i]);
                hashes[i] = h;
                Table t = stripes[(int) (h >>> wBits)].table; // volatile read; a stale table only wastes the hint
                long hp = h & wMask;
                int buckets = t.buckets;
                long q = hp / buckets;
                int home = (int) (hp - q * buckets);
                int second = home + offset(q, buckets);
                if (second >= buckets) {
                    second -= buckets;
                }
                // plain loads on purpose, cache hints only: the first and last slot of both buckets, because a
                // bucket may straddle two cache lines and the code may live in either bucket
                sink += t.hint(home) + t.hint(second);
            }
        }
        batch.sink = sink;
        for (int i = 0; i < n; i++) {
            if (keys[i] > 0) {
                long h = hashes[i];
                Stripe stripe = stripes[(int) (h >>> wBits)];
                long bits = 1L << sourceIds[i];
                if ((lookup(stripe.table, h & wMask, keys[i]) & bits) != 0) {
                    results[i] = 0; // already there, as in add
                    continue;
                }
                stripe.lock();
                try {
                    results[i] = update(stripe, h & wMask, keys[i], bits);
                } finally {
                    stripe.unlock();
                }
            }
        }
    }

    /** Under the lock: ORs {@code bits} into the code's sources; the new count if it grew, else 0. */
    private int update(Stripe stripe, long hp, long key, long bits) {
        while (true) {
            Table t = stripe.table;
            int buckets = t.buckets;
            long q = hp / buckets;
            int home = (int) (hp - q * buckets);
            int second = home + offset(q, buckets);
            if (second >= buckets) {
                second -= buckets;
            }
            int at = t.find(home, q);
            int free = -1 - at;
            // a code lives in its second bucket (or the side table) only if its home was full: slots never empty
            if (at < 0 && free == BUCKET) {
                at = t.find(second, q | t.altBit);
                free = at < 0 && -1 - at < BUCKET ? BUCKET + (-1 - at) : -1;
                if (at < 0) {
                    long old = t.sideMask(key); // an unplaced code lives in the side table alone
                    if (old != 0) {
                        long updated = old | bits;
                        if (updated == old) {
                            return 0;
                        }
                        t.putSide(key, updated);
                        stripe.before = Long.bitCount(old);
                        return Long.bitCount(updated);
                    }
                }
            }
            if (at < 0) {
                boolean full = stripe.count >= t.resizeAt;
                if (full || (!t.wide && t.sideCount * 8L > Math.max(64, stripe.count))) {
                    resize(stripe, t, full);
                    continue;
                }
                insertNew(stripe, t, key, q, home, second, free, bits, true);
                COUNT.setRelease(stripe, stripe.count + 1); // release, not a fence: size() reads it racily anyway
                stripe.before = 0;
                return Long.bitCount(bits);
            }
            long v = t.get(at);
            long tag = v >>> t.tagShift;
            long old = tag == t.spill ? t.sideMask(key) : dictMasks[(int) tag];
            long updated = old | bits;
            if (updated == old) {
                return 0;
            }
            long newTag = tagFor(t, updated);
            if (newTag == t.spill) {
                t.putSide(key, updated); // before the slot says spill: a reader that sees it finds the mask
            }
            if (newTag != tag) {
                t.set(at, (v & t.idMask) | (newTag << t.tagShift));
            }
            stripe.before = Long.bitCount(old);
            return Long.bitCount(updated);
        }
    }

    /** The tag of {@code mask} in table {@code t}: its dictionary number if it fits the tag bits, else spill. */
    private long tagFor(Table t, long mask) {
        int tag = tagOf(mask);
        return tag == 0 || tag >= t.spill ? t.spill : tag;
    }

    /**
     * Under the lock: places a code absent from {@code t}. {@code free} is the slot index within the pair of buckets
     * (0..7 home, 8..15 second) of the first empty one, or -1 when both are full: then a random walk of evictions
     * makes room (the version is odd meanwhile), and an entry still unplaced after MAX_KICKS goes to the side table.
     */
    private void insertNew(Stripe stripe, Table t, long key, long q, int home, int second, int free, long mask,
            boolean published) {
        long tag = tagFor(t, mask);
        if (tag == t.spill) {
            t.putSide(key, mask); // before the slot says spill
        }
        if (free >= 0) {
            long alt = free < BUCKET ? 0 : t.altBit;
            t.set((free < BUCKET ? home : second) * BUCKET + (free & (BUCKET - 1)), tag << t.tagShift | alt | q);
            return;
        }
        if (published) {
            stripe.version = stripe.version + 1; // volatile write: odd, a relocation runs; readers' misses retry
        }
        try {
            long entry = tag << t.tagShift | q; // the entry in hand, alt bit clear; its buckets follow
            int entryHome = home;
            int target = stripe.nextRandom(2) == 0 ? home : second;
            for (int kick = 0; kick < MAX_KICKS; kick++) {
                int slot = target * BUCKET + stripe.nextRandom(BUCKET);
                long victim = t.get(slot);
                t.set(slot, entry | (target == entryHome ? 0 : t.altBit));
                stripe.relocations++;
                // the victim's buckets: where it was, and the other one
                long vq = victim & t.qMask;
                int off = offset(vq, t.buckets);
                boolean wasSecond = (victim & t.altBit) != 0;
                int vHome = wasSecond ? (target - off < 0 ? target - off + t.buckets : target - off) : target;
                int vSecond = wasSecond ? target
                        : (target + off >= t.buckets ? target + off - t.buckets : target + off);
                int other = wasSecond ? vHome : vSecond;
                int freeSlot = firstFree(t, other);
                entry = victim & ~t.altBit;
                entryHome = vHome;
                if (freeSlot < BUCKET) {
                    t.set(other * BUCKET + freeSlot, entry | (other == entryHome ? 0 : t.altBit));
                    return;
                }
                target = other;
            }
            // unplaced: the entry in hand moves to the side table with its mask
            long entryQ = entry & t.qMask;
            long hp = entryQ * t.buckets + entryHome;
            long lostKey = unmix(((long) stripe.index << wBits) | hp);
            long entryTag = entry >>> t.tagShift;
            if (entryTag != t.spill) {
                t.putSide(lostKey, dictMasks[(int) entryTag]);
            } // a spilled entry's mask is in the side table already
        } finally {
            if (published) {
                stripe.version = stripe.version + 1; // volatile write: even again, the walk is over
            }
        }
    }

    /** Under the lock (or on an unpublished table): the first empty slot of {@code bucket} (0..7), or BUCKET. */
    private static int firstFree(Table t, int bucket) {
        return -1 - t.find(bucket, -1L); // -1 matches no id: the scan runs to the first empty slot
    }

    /**
     * Under the lock: rebuilds the stripe's table, 1.5 times larger when it is {@code full}, else (spills were many)
     * at the same size with long slots, and publishes it. Readers holding the old table still see a complete older
     * version.
     */
    private void resize(Stripe stripe, Table old, boolean full) {
        int buckets = old.buckets;
        if (full) {
            buckets = (int) Math.min(MAX_BUCKETS, (long) Math.ceil(old.buckets * GROWTH));
            if (buckets <= old.buckets) {
                throw new IllegalStateException("stripe full: " + old.slots() + " slots (the most one array holds)");
            }
        } else {
            stripe.preferWide = true;
        }
        Table fresh = newTable(buckets, stripe.preferWide, 0);
        copyInto(stripe, old, fresh);
        stripe.table = fresh; // volatile store: readers switch to the complete copy
        stripe.resizes++;
    }

    /** Under the lock: copies every code of {@code old} into the unpublished {@code fresh}. */
    private void copyInto(Stripe stripe, Table old, Table fresh) {
        final int oldBuckets = old.buckets;
        for (int b = 0; b < oldBuckets; b++) {
            for (int j = 0; j < BUCKET; j++) {
                long v = old.get(b * BUCKET + j);
                if (v == 0) {
                    break;
                }
                long q = v & old.qMask;
                int home = homeOf(old, b, v, q);
                long hp = q * oldBuckets + home;
                long tag = v >>> old.tagShift;
                if (tag == old.spill) {
                    continue; // its mask is in the side table, copied below
                }
                place(stripe, fresh, hp, 0, dictMasks[(int) tag]);
            }
        }
        long[] side = old.side;
        if (side != null) {
            for (int i = 0; i < side.length; i += 2) {
                long key = side[i];
                if (key != 0 && !inSlot(old, key)) { // a stale pair's code was copied with its slot
                    place(stripe, fresh, mix(key) & wMask, key, side[i + 1]);
                }
            }
        }
    }

    /** Under the lock: puts a code known absent into the unpublished {@code fresh} (key 0: decoded when needed). */
    private void place(Stripe stripe, Table fresh, long hp, long key, long mask) {
        int buckets = fresh.buckets;
        long q = hp / buckets;
        int home = (int) (hp - q * buckets);
        int second = home + offset(q, buckets);
        if (second >= buckets) {
            second -= buckets;
        }
        int free = firstFree(fresh, home);
        if (free == BUCKET) {
            int other = firstFree(fresh, second);
            free = other == BUCKET ? -1 : BUCKET + other;
        }
        long tag = tagFor(fresh, mask);
        long code = key != 0 || tag != fresh.spill ? key
                : unmix(((long) stripe.index << wBits) | hp); // a spilled entry's side pair needs the code
        insertNew(stripe, fresh, code, q, home, second, free, mask, false);
    }

    /** The home bucket of slot value {@code v} (quotient {@code q}) found in {@code bucket}. */
    private static int homeOf(Table t, int bucket, long v, long q) {
        return homeOf(t.buckets, t.altBit, bucket, v, q);
    }

    /** The home bucket of slot value {@code v} (quotient {@code q}) found in {@code bucket} of a table's geometry. */
    private static int homeOf(int buckets, long altBit, int bucket, long v, long q) {
        if ((v & altBit) == 0) {
            return bucket;
        }
        int home = bucket - offset(q, buckets);
        return home < 0 ? home + buckets : home;
    }

    /**
     * Grows every stripe once, before a bulk load, so that {@code codes} codes fit without a further resize; a no-op
     * for stripes big enough. Safe under concurrent writers: each stripe grows under its own lock.
     */
    @Override
    void ensureCapacity(long codes) {
        long perStripe = Math.max(0, codes) / STRIPES;
        int buckets = bucketsFor(perStripe);
        for (Stripe stripe : stripes) {
            stripe.lock();
            try {
                Table t = stripe.table;
                if (t.buckets < buckets) {
                    Table fresh = newTable(buckets, stripe.preferWide, withSpread(perStripe));
                    copyInto(stripe, t, fresh);
                    stripe.table = fresh; // volatile store: readers switch to the complete copy
                    stripe.resizes++;
                }
            } finally {
                stripe.unlock();
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // reads

    @Override
    long mask(long key) {
        long h = mix(key);
        Stripe stripe = stripes[(int) (h >>> wBits)];
        long hp = h & wMask;
        for (int attempt = 0; attempt < READ_RETRIES; attempt++) {
            int version = stripe.version; // volatile read: a miss counts only if this stays even and unchanged
            if ((version & 1) == 0) {
                long mask = lookup(stripe.table, hp, key); // volatile read of the table
                if (mask != 0 || stripe.version == version) { // volatile re-read: no relocation overlapped the miss
                    return mask;
                }
            }
            Thread.onSpinWait();
        }
        stripe.lock(); // relocations kept overlapping: read under the lock, where none can run
        try {
            return lookup(stripe.table, hp, key);
        } finally {
            stripe.unlock();
        }
    }

    /** The code's mask in {@code t}, or 0 if no slot and no side entry holds it at the moments they are read. */
    private long lookup(Table t, long hp, long key) {
        final int buckets = t.buckets;
        long q = hp / buckets;
        int home = (int) (hp - q * buckets);
        long v = t.scan(home, q);
        if (v == FULL) {
            int second = home + offset(q, buckets);
            if (second >= buckets) {
                second -= buckets;
            }
            v = t.scan(second, q | t.altBit);
            if (v == FULL || v == 0) {
                return t.sideMask(key);
            }
        }
        if (v == 0) {
            return 0; // an empty slot in the home bucket: the code is nowhere else either
        }
        long tag = v >>> t.tagShift; // the value that matched: a slot is read once, a relocation may overwrite it
        return tag == t.spill ? t.sideMask(key) : dictMasks[(int) tag];
    }

    @Override
    void forEachEntry(EntryVisitor visitor) {
        for (int index = 0; index < STRIPES; index++) {
            StripeCopy copy = copyStripe(index); // a copy: relocations would move entries under a live walk
            final long stripeBits = (long) index << wBits;
            final int buckets = copy.buckets;
            final int tagShift = copy.tagShift();
            final long spill = copy.spill();
            final long qMask = (1L << copy.qBits) - 1;
            final long altBit = 1L << copy.qBits;
            for (int b = 0; b < buckets; b++) {
                for (int j = 0; j < BUCKET; j++) {
                    int i = b * BUCKET + j;
                    long v = copy.ints == null ? copy.longs[i >>> PAGE_BITS][i & PAGE_MASK]
                            : Integer.toUnsignedLong(copy.ints[i >>> PAGE_BITS][i & PAGE_MASK]);
                    if (v == 0) {
                        break;
                    }
                    long tag = v >>> tagShift;
                    if (tag == spill) {
                        continue; // visited with the side table
                    }
                    long q = v & qMask;
                    long hp = q * buckets + homeOf(buckets, altBit, b, v, q);
                    visitor.visit(unmix(stripeBits | hp), dictMasks[(int) tag]);
                }
            }
            for (int i = 0; i < copy.side.length; i += 2) { // packed, stale pairs left out
                visitor.visit(copy.side[i], copy.side[i + 1]);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // the table image (snapshot version 3): written from stripe copies, adopted by an empty state without re-hashing

    /** The stripes of every compact state. */
    static int stripeCount() {
        return STRIPES;
    }

    /** Bits of a code number in this state's format (the width mix and unmix work on). */
    int keyBits() {
        return keyBits;
    }

    /** The key bits {@link #keyBits} a state of {@code format} uses. */
    static int keyBitsOf(CodeFormat format) {
        return Math.max(MIN_KEY_BITS, 64 - Long.numberOfLeadingZeros(Codes.lastOfLength(format.maxLength())));
    }

    /** The mask of dictionary number {@code tag} (1..dictionary size - 1), as any reader of a slot holding it sees. */
    long tagMask(int tag) {
        return dictMasks[tag];
    }

    /** The dictionary: index 0 unused, then the mask of each number assigned so far. */
    long[] dictionary() {
        synchronized (dictMasks) {
            return java.util.Arrays.copyOf(dictMasks, dictSize);
        }
    }

    /** A copy of one stripe's table, taken under its lock: geometry, slot pages, side table pairs. */
    static final class StripeCopy {
        final int buckets;
        final boolean wide;
        final int qBits;
        final int tagBits;
        final int resizeAt;
        final int[][] ints;
        final long[][] longs;
        /** (code, mask) pairs, packed: the side table without its empty positions. */
        final long[] side;

        private StripeCopy(Table t, int[][] ints, long[][] longs, long[] side) {
            this.buckets = t.buckets;
            this.wide = t.wide;
            this.qBits = t.qBits;
            this.tagBits = Long.bitCount(t.spill);
            this.resizeAt = t.resizeAt;
            this.ints = ints;
            this.longs = longs;
            this.side = side;
        }

        int tagShift() {
            return qBits + 1;
        }

        long spill() {
            return (1L << tagBits) - 1;
        }
    }

    /**
     * Copies stripe {@code index}'s slots and side table under its lock (relocations would move entries under a
     * live walk), for {@link #forEachEntry} and the table image: every code present when the copy starts is in it
     * exactly once.
     */
    StripeCopy copyStripe(int index) {
        Stripe stripe = stripes[index];
        stripe.lock();
        try {
            Table t = stripe.table;
            int[][] ints = null;
            long[][] longs = null;
            if (t.wide) {
                longs = new long[t.longs.length][];
                for (int p = 0; p < longs.length; p++) {
                    longs[p] = t.longs[p].clone();
                }
            } else {
                ints = new int[t.ints.length][];
                for (int p = 0; p < ints.length; p++) {
                    ints[p] = t.ints[p].clone();
                }
            }
            long[] s = t.side;
            long[] side = new long[2 * t.sideCount];
            int n = 0;
            if (s != null) {
                for (int i = 0; i < s.length; i += 2) {
                    if (s[i] != 0 && !inSlot(t, s[i])) {
                        side[n++] = s[i];
                        side[n++] = s[i + 1];
                    }
                }
            }
            return new StripeCopy(t, ints, longs, n == side.length ? side : java.util.Arrays.copyOf(side, n));
        } finally {
            stripe.unlock();
        }
    }

    /**
     * Under the lock: whether a slot of {@code t} holds {@code key} with its mask (not the spill tag). A side pair of
     * such a code is stale (its mask spilled once, then grew into a mask the dictionary numbers within the tag bits)
     * and left out of an image, so that the image holds each code once.
     */
    private boolean inSlot(Table t, long key) {
        long hp = mix(key) & wMask;
        final int buckets = t.buckets;
        long q = hp / buckets;
        int home = (int) (hp - q * buckets);
        long v = t.scan(home, q);
        if (v == FULL) {
            int second = home + offset(q, buckets);
            v = t.scan(second >= buckets ? second - buckets : second, q | t.altBit);
        }
        return v != 0 && v != FULL && v >>> t.tagShift != t.spill;
    }

    /**
     * An empty, unpublished table of the given geometry for an image of a state of {@code keyBits}, or null when no
     * compact state makes that geometry (the image then cannot be interpreted).
     */
    static Table imageTable(int keyBits, int buckets, boolean wide, int qBits, int tagBits, int resizeAt) {
        if (keyBits < MIN_KEY_BITS || keyBits > 63 || buckets < MIN_BUCKETS || buckets > MAX_BUCKETS
                || resizeAt < 0) {
            return null;
        }
        Table t = new Table(buckets, (1L << (keyBits - STRIPE_BITS)) - 1, wide, resizeAt);
        return t.wide == wide && t.qBits == qBits && Long.bitCount(t.spill) == tagBits ? t : null;
    }

    /** The int pages of table {@code t}, null if its slots are longs. */
    static int[][] intPages(Table t) {
        return t.ints;
    }

    /** The long pages of table {@code t}, null if its slots are ints. */
    static long[][] longPages(Table t) {
        return t.longs;
    }

    /** Under no lock (the table is unpublished): adds a side pair read from an image. */
    static void putImageSide(Table t, long code, long mask) {
        t.putSide(code, mask);
    }

    /** How many images this state adopted whole (for tests: the restore took no entry-wise path). */
    long imagesAdopted() {
        return imagesAdopted;
    }

    private volatile long imagesAdopted;

    /**
     * Checks the tables read from an image against its dictionary ({@code dict[t]}: the mask of number t; index 0
     * unused, length at most the dictionary's capacity) and returns the number of codes they hold: every occupied
     * slot's tag is a number of the dictionary or the spill tag. Throws IllegalArgumentException naming the stripe
     * and slot of a tag the dictionary does not have.
     */
    static long checkImage(Table[] tables, long[] dict) {
        long codes = 0;
        for (int i = 0; i < tables.length; i++) {
            Table t = tables[i];
            int slots = t.slots();
            boolean emptySeen = false;
            for (int s = 0; s < slots; s++) {
                if ((s & (BUCKET - 1)) == 0) {
                    emptySeen = false;
                }
                long v = t.wide ? t.longs[s >>> PAGE_BITS][s & PAGE_MASK]
                        : Integer.toUnsignedLong(t.ints[s >>> PAGE_BITS][s & PAGE_MASK]);
                if (v == 0) {
                    emptySeen = true;
                    continue;
                }
                long tag = v >>> t.tagShift;
                if (emptySeen || (tag != t.spill && (tag == 0 || tag >= dict.length))) {
                    throw new IllegalArgumentException("stripe " + i + ", slot " + s + ": "
                            + (emptySeen ? "an entry after an empty slot of its bucket" : "tag " + tag
                            + " (expected: 1.." + (dict.length - 1) + " or the spill tag " + t.spill + ")"));
                }
                if (tag != t.spill) {
                    codes++; // a spilled code is counted with the side table
                }
            }
            codes += t.sideCount;
        }
        return codes;
    }

    /**
     * Adopts the tables of an image (one per stripe, as {@link #imageTable} made them and the image filled them) as
     * this state's, with {@code dict} (masks in this state's source numbering, every one non-zero; index 0 unused)
     * as its dictionary and the side tables' masks renumbered by {@code remap} (null: the same numbering); lists the
     * valid codes if {@code listValid} (a scratch state that only decodes the image needs no list). Holds
     * every stripe's lock meanwhile; adopts only if the state is empty and its dictionary too, else returns false
     * and changes nothing. Rebuilds what the tables do not hold: the dictionary's reverse index, each stripe's
     * count and the valid-code index. No listener is told and the journal records nothing, as for any restore.
     */
    boolean adoptImage(Table[] tables, long[] dict, int[] remap, boolean listValid) {
        if (tables.length != STRIPES) {
            return false;
        }
        int locked = 0;
        try {
            for (; locked < STRIPES; locked++) {
                stripes[locked].lock();
            }
            synchronized (dictMasks) {
                if (size() != 0 || dictSize != 1 || dict.length > DICT_CAPACITY) {
                    return false;
                }
                for (int tag = 1; tag < dict.length; tag++) {
                    long mask = dict[tag];
                    dictMasks[tag] = mask;
                    if (mask >>> 12 == 0) { // SMALL_MASKS = 2^12; a negative mask (source 63) is large
                        if (smallTags[(int) mask] == 0) { // a mask twice (the writer's limit): the first number
                            INTS.setRelease(smallTags, (int) mask, tag);
                        }
                    } else {
                        largeTags.putIfAbsent(mask, tag);
                    }
                }
                dictSize = Math.max(1, dict.length);
            }
            boolean[] validTag = new boolean[dict.length];
            for (int tag = 1; tag < dict.length; tag++) {
                validTag[tag] = listValid && Long.bitCount(dict[tag]) >= threshold;
            }
            for (Table t : tables) {
                if (remap != null && t.side != null) {
                    long[] side = t.side;
                    for (int j = 0; j < side.length; j += 2) {
                        if (side[j] != 0) {
                            side[j + 1] = remapMask(side[j + 1], remap);
                        }
                    }
                }
            }
            long[] counts = new long[STRIPES];
            long slots = 0;
            for (Table t : tables) {
                slots += t.slots();
            }
            // the scan (decoding each valid code) on two threads when the image is big: half the stripes each
            Thread helper = null;
            int split = STRIPES;
            if (slots >= PARALLEL_ADOPT_SLOTS && Runtime.getRuntime().availableProcessors() > 1) {
                split = STRIPES / 2;
                RuntimeException[] failure = new RuntimeException[1];
                helper = new Thread(() -> {
                    try {
                        for (int i = STRIPES / 2; i < STRIPES; i++) {
                            counts[i] = adoptStripe(stripes[i], tables[i], validTag, listValid);
                        }
                    } catch (RuntimeException | Error e) {
                        failure[0] = e instanceof RuntimeException ? (RuntimeException) e : new RuntimeException(e);
                    }
                }, "couponstate-adopt");
                helper.start();
                for (int i = 0; i < split; i++) {
                    counts[i] = adoptStripe(stripes[i], tables[i], validTag, listValid);
                }
                joinUninterruptibly(helper);
                if (failure[0] != null) {
                    throw failure[0];
                }
            } else {
                for (int i = 0; i < STRIPES; i++) {
                    counts[i] = adoptStripe(stripes[i], tables[i], validTag, listValid);
                }
            }
            for (int i = 0; i < STRIPES; i++) {
                Table t = tables[i];
                Stripe stripe = stripes[i];
                stripe.count = (int) counts[i];
                // a wide table whose quotient would fit an int slot was made wide by its spills: keep growing so
                stripe.preferWide = t.wide && 32 - t.tagShift >= MIN_INT_TAG_BITS;
                stripe.table = t; // volatile store: readers switch to the complete table
            }
            imagesAdopted = imagesAdopted + 1; // under every lock: one adopter at a time
            return true;
        } finally {
            for (int i = locked - 1; i >= 0; i--) {
                stripes[i].unlock();
            }
        }
    }

    /** Slots of an image from which its adoption scans on two threads. */
    private static final long PARALLEL_ADOPT_SLOTS = 1 << 20;

    private static void joinUninterruptibly(Thread thread) {
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true; // the helper must end before the tables are published: wait on, then restore
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Under every lock (held by the adopting thread, this one or its helper): lists the valid codes of adopted table
     * {@code t} of {@code stripe}; returns its codes.
     */
    private long adoptStripe(Stripe stripe, Table t, boolean[] validTag, boolean listValid) {
        final long stripeBits = (long) stripe.index << wBits;
        final int buckets = t.buckets;
        long codes = 0;
        long[] keys = new long[4096];
        int n = 0;
        for (int b = 0; b < buckets; b++) {
            for (int j = 0; j < BUCKET; j++) {
                int s = b * BUCKET + j;
                long v = t.wide ? t.longs[s >>> PAGE_BITS][s & PAGE_MASK]
                        : Integer.toUnsignedLong(t.ints[s >>> PAGE_BITS][s & PAGE_MASK]);
                if (v == 0) {
                    continue;
                }
                long tag = v >>> t.tagShift;
                if (tag == t.spill) {
                    continue; // counted with the side table
                }
                codes++;
                if (validTag[(int) tag]) {
                    long q = v & t.qMask;
                    keys[n++] = unmix(stripeBits | (q * buckets + homeOf(t, b, v, q)));
                    if (n == keys.length) {
                        restoredValid(keys, n);
                        n = 0;
                    }
                }
            }
        }
        long[] side = t.side;
        if (side != null) {
            for (int j = 0; j < side.length; j += 2) {
                if (side[j] != 0) {
                    codes++;
                    if (listValid && Long.bitCount(side[j + 1]) >= threshold) {
                        keys[n++] = side[j];
                        if (n == keys.length) {
                            restoredValid(keys, n);
                            n = 0;
                        }
                    }
                }
            }
        }
        restoredValid(keys, n);
        return codes;
    }

    private static long remapMask(long mask, int[] remap) {
        long out = 0;
        for (long m = mask; m != 0; m &= m - 1) {
            out |= 1L << remap[Long.numberOfTrailingZeros(m)];
        }
        return out;
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
            n += stripe.table.slots();
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

    /** Codes kept in side tables (spilled masks and unplaced codes), for tests and footprint reports. */
    long sideEntries() {
        long n = 0;
        for (Stripe stripe : stripes) {
            n += stripe.table.sideCount; // racy read: a statistic
        }
        return n;
    }

    /** Bits of a hash below the stripe index (for tests that build colliding codes). */
    int hashBitsBelowStripe() {
        return wBits;
    }

    /** The bucket count of stripe {@code index}'s current table (for tests that build colliding codes). */
    int buckets(int index) {
        return stripes[index].table.buckets;
    }

    /** How many entries inserts have relocated (for tests that check reads during relocations). */
    long relocations() {
        long n = 0;
        for (Stripe stripe : stripes) {
            n += stripe.relocations; // racy read: a statistic
        }
        return n;
    }

    /** Stripes whose slots are longs (for tests and footprint reports). */
    int wideStripes() {
        int n = 0;
        for (Stripe stripe : stripes) {
            n += stripe.table.wide ? 1 : 0;
        }
        return n;
    }
}
