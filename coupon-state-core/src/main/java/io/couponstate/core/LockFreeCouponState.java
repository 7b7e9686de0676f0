package io.couponstate.core;

import io.couponstate.core.internal.Codes;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.LongAdder;

/**
 * A {@link CouponState} on one open-addressing table of {@code long} slots updated only by compare-and-set, with
 * cooperative resizing.
 *
 * <p>Thread-safe and lock-free on every path: no lock, no {@code synchronized}, and no thread ever waits for
 * another to finish; a thread whose compare-and-set fails retries only because another thread made progress.
 * {@code addObservation}, each entry of {@code addObservations} and single-code reads are linearizable per code;
 * reads never write and never block.
 * {@code size} and the listing methods are weakly consistent. Growth never loses an update: a writer that meets a
 * migrating table helps move a chunk of it and carries on in the new table. Use {@link StripedLockCouponState} where
 * simpler blocking code is preferred; both pass the same contract tests.
 */
public final class LockFreeCouponState extends AbstractCouponState {

    /*
     * Concurrency
     *   A slot is one long (packed: key in bits 0..51, source mask in 52..63) or two (wide: key word, mask word).
     *   Every change of a slot is a CAS; every read a volatile read. An update's linearization point is its
     *   successful CAS on the slot that is authoritative for the code at that moment; a read's is its volatile
     *   read of that slot. A code has exactly one authoritative slot at any time: in the newest table whose slot
     *   for it is not sealed.
     *
     * Layout
     *   Packed: key in bits 0..51, source field in 52..63. A field of all ones marks a slot as sealed (moved to the
     *   next table); a field of 0 with a key is a full mask (all twelve sources: with maxSources 12 a code can
     *   reach it), so a seal never looks like a mask. (Were all ones "sealed or full", resolved by looking for the
     *   code in next, a writer completing the mask between the mover's copy and its seal would make the slot full,
     *   and a second writer of the same source would take that for a seal, find the stale copy in next and cross
     *   the threshold a second time; a reader would see the stale copy. LockFreeFullMaskRaceTest drives that
     *   interleaving through a test-only hook between the mover's copy and its seal.)
     *   Wide: key word, mask word. An all-ones mask word is only ever a seal; a full mask (all 64 sources) is
     *   recorded in the key word instead, as key + FULL_KEY, and a moved slot ends with key + SEALED_KEY there
     *   (disjoint unsigned ranges above every code number). The key word is the arbiter: the mover copies, seals
     *   the mask word, then CASes the key word plain -> sealed; a writer completing the mask CASes it plain ->
     *   full; exactly one wins, and a mover that loses copies the full mask. Anyone meeting a sealed mask word
     *   with a plain key word settles it (CAS to sealed) before going on in next, so no writer can still make the
     *   slot full after someone has used the copy; a reader in that window reads the copy in next, then re-reads
     *   the key word (full wins). Same history, same test as the packed case. Sealing keeps the key, so a probe
     *   can still tell its own code from another's. An empty slot is sealed as key 0 with the all-ones field
     *   (packed) or key word -1 (wide).
     *
     * Batches
     *   addBatch first reads every entry's home slot with a plain load (a cache hint, value unused: no ordering is
     *   needed from it), then updates the entries one by one exactly as single calls do, so every guarantee of a
     *   single call holds per entry. A pre-sized table runs at load 0.85 (9.4 bytes per code); grown ones at 3/4.
     *
     * Probing
     *   Linear probing from Lemire's multiply-shift reduction of the low 32 hash bits onto any capacity. Codes are
     *   never removed, so on a code's probe path every slot before its own was occupied when it was inserted and
     *   stays occupied: a probe that meets an empty (or sealed-empty) slot proves the code absent from that table.
     *
     * Resize
     *   When the code count passes 3/4 of the capacity, one thread wins a flag and links a table twice the size as
     *   next. Threads that lose carry on in the old table (it still has room); if a table is ever completely full,
     *   any thread may link a next table by CAS, so nobody waits. The old table is then moved in chunks claimed by
     *   getAndAdd: for each slot, copy (key, mask) into next by the same OR-insert writers use, then CAS the slot
     *   to sealed; if the CAS fails the slot changed, so copy again (OR is idempotent). Writers that find next set
     *   help with one chunk per operation. A writer that meets a sealed slot of its code, or a sealed empty slot,
     *   continues in next, where the copy already is. Copies never count as new codes and never report a
     *   threshold crossing, so exactly one writer CAS per code raises its count to the threshold. The thread that
     *   finishes the last chunk publishes next as the table.
     *
     * Snapshot
     *   forEachEntry walks the table chain from the current table: a code is visited in the first table of the
     *   chain that holds it, with its mask read through the chain, so every code present when the walk starts is
     *   visited exactly once and codes added during it may or may not be.
     */

    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle TABLE;
    private static final VarHandle NEXT;
    private static final VarHandle CLAIMED;
    private static final VarHandle DONE;
    private static final VarHandle RESIZING;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            TABLE = lookup.findVarHandle(LockFreeCouponState.class, "table", Table.class);
            NEXT = lookup.findVarHandle(Table.class, "next", Table.class);
            CLAIMED = lookup.findVarHandle(Table.class, "claimed", int.class);
            DONE = lookup.findVarHandle(Table.class, "done", int.class);
            RESIZING = lookup.findVarHandle(Table.class, "resizing", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final int SHIFT = Codes.PACKED_KEY_BITS;
    private static final long KEY_BITS = (1L << SHIFT) - 1;
    private static final long PACKED_ALL = 0xFFFL;
    private static final long SEALED_EMPTY_PACKED = PACKED_ALL << SHIFT;
    private static final long SEALED_EMPTY_KEY = -1L;
    /**
     * Wide key words: a code number {@code k} (below 4.88e18 for 12 characters) is stored as {@code k}, as
     * {@code k + SEALED_KEY} once its slot is moved, or as {@code k + FULL_KEY} once it has all 64 sources. The three
     * ranges and -1 (sealed empty) are disjoint as unsigned 64-bit numbers.
     */
    private static final long SEALED_KEY = 0x4400_0000_0000_0000L;
    private static final long FULL_KEY = 2 * SEALED_KEY;
    private static final int MIN_CAPACITY = 16;
    /**
     * Load of a table pre-sized for {@code expectedCodes}: 0.85 keeps a packed slot at 8 / 0.85 = 9.4 bytes per code
     * (at most 10 was the goal; 0.7 gave 11.4). Linear probing at 0.85 walks about 3.8 slots per hit on average,
     * mostly within the home slot's cache line; grown tables keep 3/4.
     */
    private static final double PRESIZED_LOAD = 0.85;
    private static final int CHUNK = 4096;
    private static final int MAX_CAPACITY = Integer.MAX_VALUE - 16;
    private static final int SAMPLED_CHECK_CAPACITY = 1 << 16;

    /** What an update is: an observation, a snapshot merge (a new code counts) or a resize copy (nothing counts). */
    private static final int OBSERVE = 0;
    private static final int MERGE = 1;
    private static final int COPY = 2;

    private final boolean packed;
    /** Tests only: called by the mover between copying a slot and sealing it (plain field, set before use). */
    java.util.function.LongConsumer moveHook;
    private final LongAdder size = new LongAdder();
    private volatile Table table;

    /** A state with the default configuration (threshold 2, 8..10 characters, 8 sources). */
    public LockFreeCouponState() {
        this(CouponStateConfig.defaults());
    }

    /**
     * A state with {@code config}.
     *
     * @param config the configuration
     */
    public LockFreeCouponState(CouponStateConfig config) {
        this(config, MIN_CAPACITY);
    }

    /** For tests: a first table of {@code minCapacity} slots unless {@code expectedCodes} asks for more. */
    LockFreeCouponState(CouponStateConfig config, int minCapacity) {
        super(config);
        this.packed = config.packed();
        long expected = config.expectedCodes();
        long capacity = Math.max(minCapacity, expected == 0 ? 0 : (long) Math.ceil(expected / PRESIZED_LOAD));
        int limit = packed ? MAX_CAPACITY : MAX_CAPACITY / 2;
        if (capacity > limit) {
            throw new IllegalArgumentException("expectedCodes: " + expected + " (expected: at most "
                    + (long) (limit * PRESIZED_LOAD) + " for this layout)");
        }
        // a pre-sized table grows only past the expected count, not at 3/4
        this.table = new Table((int) capacity, packed, Math.max(capacity * 3L / 4, expected));
    }

    /** One generation of the table. */
    static final class Table {
        final long[] slots;
        final int capacity;
        final long resizeAt;
        final int chunk;
        final int chunks;
        volatile Table next;
        volatile int claimed; // first slot index not yet claimed for moving
        volatile int done;    // chunks moved
        volatile int resizing;

        Table(int capacity, boolean packed, long resizeAt) {
            this.capacity = capacity;
            this.slots = new long[packed ? capacity : 2 * capacity];
            this.resizeAt = Math.max(1, resizeAt);
            this.chunk = Math.max(1, Math.min(CHUNK, capacity / 8)); // small tables: many chunks, many helpers
            this.chunks = (capacity + chunk - 1) / chunk;
        }
    }

    @Override
    int add(long key, int sourceId) {
        return update(table, key, 1L << sourceId, OBSERVE);
    }

    @Override
    boolean merge(long key, long mask) {
        return update(table, key, mask, MERGE) > 0;
    }

    /**
     * What a successful update returns: the new count (an observation or a copy), or for a merge 1 if it raised
     * the count from below the threshold to at least it, else 0.
     */
    private int changed(int mode, long before, long after) {
        int count = Long.bitCount(after);
        if (mode != MERGE) {
            return count;
        }
        return Long.bitCount(before) < threshold && count >= threshold ? 1 : 0;
    }

    /**
     * Two passes over the batch: first a plain load of every entry's home slot in the current table, whose results
     * are not used (they go to a sink), then the updates. The loads have no fence between them, so the CPU keeps
     * many of their cache (and TLB) misses in flight at once; each update's CAS is a full fence on x86 and would
     * otherwise wait for its miss alone. By the time the updates run, most home slots are in the cache. The loads
     * are only hints: a resize that starts in between makes some of them useless, never wrong.
     */
    @Override
    void addBatch(ObservationBatch batch) {
        final int n = batch.size;
        final long[] keys = batch.keys;
        final long[] hashes = batch.hashes;
        final int[] results = batch.results;
        final int[] sourceIds = batch.sourceIds;
        final Table t = table;  // volatile read: the table whose slots to warm
        final long[] slots = t.slots;
        final int capacity = t.capacity;
        final int stride = packed ? 1 : 2;
        long sink = 0;
        for (int i = 0; i < n; i++) {
            if (keys[i] > 0) {
                sink += slots[stride * Codes.index(hashes[i], capacity)]; // plain load on purpose: a cache hint only
            }
        }
        batch.sink = sink;
        for (int i = 0; i < n; i++) {
            if (keys[i] > 0) {
                results[i] = update(table, keys[i], 1L << sourceIds[i], hashes[i], OBSERVE);
            }
        }
    }

    private int update(Table t, long key, long bits, int mode) {
        return update(t, key, bits, Codes.mix(key), mode);
    }

    /** ORs {@code bits} into {@code key}'s slot starting at table {@code t}; the new count if it changed, else 0. */
    private int update(Table t, long key, long bits, long hash, int mode) {
        while (true) {
            // volatile read: a linked next means a move is under way, so help first. Merges help too: a restore
            // triggers the resizes it needs, and an old table nobody moves fills up until every probe is linear
            if (mode != COPY && t.next != null) {
                helpMove(t);
            }
            int result = packed ? updatePacked(t, key, bits, hash, mode) : updateWide(t, key, bits, hash, mode);
            if (result >= 0) {
                return result;
            }
            Table next = t.next; // -1: the code's slot here is sealed, or the table is full
            t = next != null ? next : linkNext(t);
        }
    }

    /** One attempt in table {@code t}: the result, or -1 to continue in {@code t.next}. */
    private int updatePacked(Table t, long key, long bits, long hash, int mode) {
        final long[] slots = t.slots;
        final int capacity = t.capacity;
        int i = Codes.index(hash, capacity);
        for (int probes = 0; probes < capacity; probes++) {
            long word = (long) SLOT.getVolatile(slots, i);  // volatile read: sees the latest CAS on this slot
            while (true) {
                if (word == 0) {
                    // CAS claims the empty slot: key and first sources published together
                    long witness = (long) SLOT.compareAndExchange(slots, i, 0L, packedWord(key, bits));
                    if (witness == 0) {
                        if (mode != COPY) {
                            size.increment();
                            maybeResize(t, hash);
                        }
                        return changed(mode, 0, bits);
                    }
                    word = witness; // lost the race: look at what won
                    continue;
                }
                long k = word & KEY_BITS;
                long field = word >>> SHIFT;
                if (field == PACKED_ALL) {
                    if (k == key || k == 0) {
                        return -1; // sealed (moved) or sealed empty: the code is in next, if anywhere
                    }
                    break; // another code's sealed slot: keep probing
                }
                if (k != key) {
                    break;
                }
                long mask = field == 0 ? PACKED_ALL : field; // field 0: all twelve sources
                long updated = mask | bits;
                if (updated == mask) {
                    return 0;
                }
                // CAS: the linearization point of this update; fails if a writer or the mover changed the slot
                long witness = (long) SLOT.compareAndExchange(slots, i, word, packedWord(key, updated));
                if (witness == word) {
                    return changed(mode, mask, updated);
                }
                word = witness;
            }
            if (++i == capacity) {
                i = 0;
            }
        }
        return -1; // full: no empty slot and not our code
    }

    /** A packed slot of {@code key} with sources {@code mask} (non-zero): all twelve are stored as field 0. */
    private static long packedWord(long key, long mask) {
        return mask == PACKED_ALL ? key : key | (mask << SHIFT);
    }

    /** The same for two words per slot: key word claimed first, then the mask word is CASed. */
    private int updateWide(Table t, long key, long bits, long hash, int mode) {
        final long[] slots = t.slots;
        final int capacity = t.capacity;
        int i = Codes.index(hash, capacity);
        for (int probes = 0; probes < capacity; probes++) {
            long k = (long) SLOT.getVolatile(slots, 2 * i);  // volatile read of the key word
            if (k == 0) {
                // CAS claims the slot for the key; its mask is set below, possibly by another writer first
                k = (long) SLOT.compareAndExchange(slots, 2 * i, 0L, key);
                if (k == 0) {
                    k = key;
                }
            }
            if (k == SEALED_EMPTY_KEY || k == key + SEALED_KEY) {
                return -1; // sealed empty, or our code moved: it is in next
            }
            if (k == key + FULL_KEY) {
                return 0; // all 64 sources: nothing to add
            }
            if (k == key) {
                // volatile read: the mask written after the key was claimed
                long mask = (long) SLOT.getVolatile(slots, 2 * i + 1);
                while (true) {
                    if (mask == -1L) {
                        // the mover sealed the mask word: settle the key word, so that no writer can still make
                        // the slot full here. CAS: exactly one of "sealed" and "full" wins the key word
                        long witness = (long) SLOT.compareAndExchange(slots, 2 * i, key, key + SEALED_KEY);
                        return witness == key + FULL_KEY ? 0 : -1;
                    }
                    long updated = mask | bits;
                    if (updated == mask) {
                        return 0;
                    }
                    if (updated == -1L) {
                        // all 64 sources: recorded in the key word (an all-ones mask word is only ever a seal).
                        // CAS: the linearization point; fails if the slot was sealed and settled meanwhile
                        long witness = (long) SLOT.compareAndExchange(slots, 2 * i, key, key + FULL_KEY);
                        if (witness == key) {
                            if (mask == 0 && mode != COPY) {
                                size.increment();
                                maybeResize(t, hash);
                            }
                            return 64;
                        }
                        return witness == key + FULL_KEY ? 0 : -1;
                    }
                    // CAS: the linearization point; the first non-zero mask makes the code count
                    long witness = (long) SLOT.compareAndExchange(slots, 2 * i + 1, mask, updated);
                    if (witness == mask) {
                        if (mask == 0 && mode != COPY) {
                            size.increment();
                            maybeResize(t, hash);
                        }
                        return changed(mode, mask, updated);
                    }
                    mask = witness;
                }
            }
            if (++i == capacity) {
                i = 0;
            }
        }
        return -1;
    }

    @Override
    long mask(long key) {
        return maskIn(table, key);
    }

    /** The mask of {@code key} read through the chain from {@code t}, 0 if absent. Never writes. */
    private long maskIn(Table t, long key) {
        final long hash = Codes.mix(key);
        outer:
        while (t != null) {
            final long[] slots = t.slots;
            final int capacity = t.capacity;
            int i = Codes.index(hash, capacity);
            for (int probes = 0; probes < capacity; probes++) {
                long k;
                long mask;
                if (packed) {
                    long word = (long) SLOT.getVolatile(slots, i);  // volatile read: a linearizable read of this slot
                    k = word & KEY_BITS;
                    long field = word >>> SHIFT;
                    if (word == 0) {
                        return 0;
                    }
                    if (field == PACKED_ALL && (k == 0 || k == key)) {
                        t = t.next; // sealed empty, or our code moved: it is in next (linked before any seal)
                        continue outer;
                    }
                    if (k == key) {
                        return field == 0 ? PACKED_ALL : field;
                    }
                    if (++i == capacity) {
                        i = 0;
                    }
                    continue;
                } else {
                    k = (long) SLOT.getVolatile(slots, 2 * i);  // volatile read of the key word
                    if (k == 0) {
                        return 0;
                    }
                    if (k == SEALED_EMPTY_KEY || k == key + SEALED_KEY) {
                        t = t.next; // sealed empty, or our code moved: it is in next (linked before any seal)
                        continue outer;
                    }
                    if (k == key + FULL_KEY) {
                        return -1L;
                    }
                    if (k == key) {
                        mask = (long) SLOT.getVolatile(slots, 2 * i + 1);  // volatile read: at least as new as the key
                        if (mask != -1L) {
                            return mask;
                        }
                        // the mask word is sealed and the key word not settled yet: until it is, nobody writes the
                        // code in next, so the copy there is the mask, unless a writer settles the key as full.
                        long copy = maskIn(t.next, key);
                        // volatile re-read of the key word: full wins over the copy read before
                        return (long) SLOT.getVolatile(slots, 2 * i) == key + FULL_KEY ? -1L : copy;
                    }
                }
                if (++i == capacity) {
                    i = 0;
                }
            }
            t = t.next; // a full table without the code: it can only be further on
        }
        return 0;
    }

    /** Whether {@code key} holds a slot in the chain from {@code t} (possibly with no source yet). Never writes. */
    private boolean present(Table t, long key) {
        final long hash = Codes.mix(key);
        outer:
        while (t != null) {
            final long[] slots = t.slots;
            final int capacity = t.capacity;
            int i = Codes.index(hash, capacity);
            for (int probes = 0; probes < capacity; probes++) {
                // volatile read
                long k = packed ? (long) SLOT.getVolatile(slots, i) & KEY_BITS : (long) SLOT.getVolatile(slots, 2 * i);
                if (!packed && k != 0 && k != SEALED_EMPTY_KEY) {
                    k = wideKey(k);
                }
                if (k == key) {
                    return true;
                }
                // volatile re-read: an empty slot may have been sealed since
                if (packed ? (long) SLOT.getVolatile(slots, i) == SEALED_EMPTY_PACKED : k == SEALED_EMPTY_KEY) {
                    t = t.next;
                    continue outer;
                }
                if (k == 0) {
                    return false;
                }
                if (++i == capacity) {
                    i = 0;
                }
            }
            t = t.next;
        }
        return false;
    }

    /**
     * Starts a resize when the code count passes 3/4 of {@code t}; the thread that wins the flag allocates. Summing
     * the counter reads every writer's cell (a coherence miss each), so big tables sum for one new code in 64, picked
     * by hash bits the index does not use: the count overshoots by a few hundred codes at most, while a quarter of
     * the table is still free.
     */
    private void maybeResize(Table t, long hash) {
        if (t.capacity >= SAMPLED_CHECK_CAPACITY && (hash >>> 58) != 0) {
            return;
        }
        if (t.next == null && size.sum() >= t.resizeAt && (int) RESIZING.compareAndExchange(t, 0, 1) == 0) {
            linkNext(t);
            helpMove(t);
        }
    }

    /** Links a table twice the size as {@code t.next} unless one is linked already; returns {@code t.next}. */
    private Table linkNext(Table t) {
        Table next = t.next;  // volatile read: another thread may have linked it
        if (next != null) {
            return next;
        }
        long grown = Math.min((long) t.capacity * 2, packed ? MAX_CAPACITY : MAX_CAPACITY / 2);
        if (grown <= t.capacity) {
            throw new IllegalStateException("table full at " + t.capacity + " slots (the most one array holds)");
        }
        Table fresh = new Table((int) grown, packed, grown * 3 / 4);
        // CAS: only one next table per generation; a thread that loses drops its array and uses the winner's
        Table witness = (Table) NEXT.compareAndExchange(t, (Table) null, fresh);
        return witness == null ? fresh : witness;
    }

    /**
     * Grows the table once, before a bulk load, so that {@code codes} codes fit without a further resize; a no-op
     * when the newest table is big enough. Safe under concurrent writers and lock-free: the bigger table is linked
     * as the next generation by the same CAS a resize uses (so a racing resize and this call agree on one next
     * table), then the calling thread moves every chunk nobody has claimed, as any helper would.
     */
    @Override
    void ensureCapacity(long codes) {
        int limit = packed ? MAX_CAPACITY : MAX_CAPACITY / 2;
        long fit = Math.max(0, codes);
        long wanted = Math.min(limit, (long) Math.ceil(fit / PRESIZED_LOAD)); // sized as expectedCodes sizes
        while (true) {
            Table first = table;  // volatile read of the published table
            Table last = first;
            while (last.next != null) {  // volatile read of each link
                last = last.next;
            }
            // CAS: links the big table unless a resize linked one first, then look again
            if (last.capacity >= wanted || NEXT.compareAndSet(last, (Table) null,
                    new Table((int) wanted, packed, Math.max(wanted * 3 / 4, Math.min(fit, wanted))))) {
                for (Table t = first; t.next != null; t = t.next) {  // volatile reads: help every move in the chain
                    while (t.claimed < t.capacity) {  // volatile read of the claim counter
                        helpMove(t);
                    }
                }
                return;
            }
        }
    }

    /** Moves one unclaimed chunk of {@code t} into {@code t.next}, if any is left. */
    private void helpMove(Table t) {
        final Table next = t.next;  // volatile read: linked before any chunk is claimed
        if (t.claimed >= t.capacity) {
            return; // all chunks taken: skip the getAndAdd so the counter cannot overflow
        }
        int start = (int) CLAIMED.getAndAdd(t, t.chunk);  // atomic claim: each chunk is moved by exactly one thread
        if (start >= t.capacity) {
            return;
        }
        int end = (int) Math.min((long) start + t.chunk, t.capacity);
        for (int i = start; i < end; i++) {
            if (packed) {
                movePacked(t, next, i);
            } else {
                moveWide(t, next, i);
            }
        }
        if ((int) DONE.getAndAdd(t, 1) + 1 == t.chunks) {  // atomic count: exactly one thread sees the last chunk done
            publishMoved();
        }
    }

    private void movePacked(Table t, Table next, int i) {
        final long[] slots = t.slots;
        long word = (long) SLOT.getVolatile(slots, i);  // volatile read of the slot being moved
        while (true) {
            if (word == 0) {
                // CAS seals the empty slot: no insert can land here any more
                long witness = (long) SLOT.compareAndExchange(slots, i, 0L, SEALED_EMPTY_PACKED);
                if (witness == 0) {
                    return;
                }
                word = witness;
                continue;
            }
            long k = word & KEY_BITS;
            long field = word >>> SHIFT;
            if (field == PACKED_ALL) {
                return; // sealed already (only the chunk's owner seals, so this is not reached; kept as a guard)
            }
            update(next, k, field == 0 ? PACKED_ALL : field, COPY);
            if (moveHook != null) {
                moveHook.accept(k); // tests only: act between the copy and the seal
            }
            // CAS seals after the copy; if a writer got in between, copy its newer mask too (OR is idempotent).
            // A full mask (field 0) is sealed like any other: the seal (field all ones) never means "full".
            long witness = (long) SLOT.compareAndExchange(slots, i, word, k | (PACKED_ALL << SHIFT));
            if (witness == word) {
                return;
            }
            word = witness;
        }
    }

    private void moveWide(Table t, Table next, int i) {
        final long[] slots = t.slots;
        long k = (long) SLOT.getVolatile(slots, 2 * i);  // volatile read of the key word being moved
        if (k == 0) {
            k = (long) SLOT.compareAndExchange(slots, 2 * i, 0L, SEALED_EMPTY_KEY); // CAS seals the empty slot
            if (k == 0) {
                return;
            }
        }
        if (k == SEALED_EMPTY_KEY) {
            return;
        }
        long key = wideKey(k);
        if (k != key) {
            update(next, key, -1L, COPY); // full (sealed is not possible before the mask word is): final
            return;
        }
        long mask = (long) SLOT.getVolatile(slots, 2 * i + 1);  // volatile read of the mask being moved
        while (true) {
            update(next, key, mask, COPY); // a zero mask still claims the key in next, so readers find it there
            if (moveHook != null) {
                moveHook.accept(key); // tests only: act between the copy and the seal
            }
            // CAS seals after the copy (only the mover writes all ones here); if a writer got in between, copy again
            long witness = (long) SLOT.compareAndExchange(slots, 2 * i + 1, mask, -1L);
            if (witness == mask) {
                break;
            }
            mask = witness;
        }
        // CAS settles the key word as sealed, unless a writer made the slot full first (then copy the full mask)
        long witness = (long) SLOT.compareAndExchange(slots, 2 * i, key, key + SEALED_KEY);
        if (witness == key + FULL_KEY) {
            update(next, key, -1L, COPY);
        }
    }

    /** The code number of a wide key word holding one (plain, sealed or full). */
    private static long wideKey(long word) {
        if (Long.compareUnsigned(word, SEALED_KEY) < 0) {
            return word;
        }
        return Long.compareUnsigned(word, FULL_KEY) < 0 ? word - SEALED_KEY : word - FULL_KEY;
    }

    /** Advances the published table past every generation that is completely moved. */
    private void publishMoved() {
        Table t = table;  // volatile read of the published table
        while (t.next != null && t.done == t.chunks) {  // volatile reads: publish only a completely moved generation
            TABLE.compareAndSet(this, t, t.next); // CAS: whoever wins publishes; the loser re-reads
            t = table;
        }
    }

    @Override
    void forEachEntry(EntryVisitor visitor) {
        Table first = table;  // volatile read: the walk starts at the published table
        for (Table t = first; t != null; t = t.next) {  // volatile read of each link
            final long[] slots = t.slots;
            for (int i = 0; i < t.capacity; i++) {
                long key;
                long mask;
                if (packed) {
                    long word = (long) SLOT.getVolatile(slots, i);  // volatile read: weakly consistent walk
                    key = word & KEY_BITS;
                    mask = word >>> SHIFT;
                } else {
                    long word = (long) SLOT.getVolatile(slots, 2 * i);  // volatile read: weakly consistent walk
                    if (word == SEALED_EMPTY_KEY || word == 0) {
                        continue;
                    }
                    key = wideKey(word);
                    // a flag in the key word (moved or full) leaves the mask to the read through the chain below;
                    // volatile read of the mask word otherwise: at least as new as the key
                    mask = word == key ? (long) SLOT.getVolatile(slots, 2 * i + 1) : 0;
                }
                if (key == 0 || (t != first && inEarlierTable(first, t, key))) {
                    continue;
                }
                // in the first table a slot that is not sealed is the code's authoritative one (writers move on
                // only past a seal), so its mask is current; a seal or a later table needs the read through
                if (t != first || mask == (packed ? PACKED_ALL : -1L) || mask == 0) {
                    mask = maskIn(t, key);
                }
                if (mask != 0) {
                    visitor.visit(key, mask);
                }
            }
        }
    }

    /** Whether a table of the chain from {@code first} before {@code stop} holds {@code key} (already visited). */
    private boolean inEarlierTable(Table first, Table stop, long key) {
        final long hash = Codes.mix(key);
        for (Table t = first; t != stop; t = t.next) {  // volatile read of each link
            final long[] slots = t.slots;
            int i = Codes.index(hash, t.capacity);
            for (int probes = 0; probes < t.capacity; probes++) {
                long k;
                if (packed) {
                    long word = (long) SLOT.getVolatile(slots, i);  // volatile read
                    if (word == 0 || word == SEALED_EMPTY_PACKED) {
                        break;
                    }
                    k = word & KEY_BITS;
                } else {
                    k = (long) SLOT.getVolatile(slots, 2 * i);  // volatile read
                    if (k == 0 || k == SEALED_EMPTY_KEY) {
                        break;
                    }
                    k = wideKey(k);
                }
                if (k == key) {
                    return true;
                }
                if (++i == t.capacity) {
                    i = 0;
                }
            }
        }
        return false;
    }

    @Override
    public long size() {
        return size.sum(); // weakly consistent: concurrent increments may or may not be counted
    }

    /** Slots of the current table (for sizing tests and footprint reports). */
    long capacity() {
        return table.capacity;
    }

    /** Whether a resize has linked a next table to the current one. */
    boolean resizing() {
        return table.next != null;
    }
}
