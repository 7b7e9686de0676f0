package io.couponstate.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * A bounded journal of the source bits added to codes since the last mark: what a delta checkpoint writes.
 *
 * <p>Thread-safe. {@link #record} is lock-free and never waits: one volatile read of the current epoch, one
 * getAndAdd to claim a slot, one release store (two for wide keys). {@link #swap} (the checkpointer's mark) is
 * blocking and must not run concurrently with itself (its one caller is the state's {@link CheckpointChain}, under
 * its lock): it installs a fresh epoch, closes the old one, and waits briefly for the writers that claimed a slot
 * of the old epoch but have not yet written it. So every change whose {@code record} returned before the swap is in
 * the old epoch, every change recorded after it is in the new one, and nothing is lost between the two.
 */
final class ChangeJournal {

    /*
     * Concurrency
     *   An epoch's claim counter hands out slots 0, 1, 2, ...; a claim below the capacity owns its slot and writes
     *   it; a claim at or above it marks the epoch overflowed (the entry is dropped: a base is needed). Closing adds
     *   CLOSED to the counter: a writer that claims after that sees a value >= CLOSED, knows the epoch is closed,
     *   and retries in the current epoch, which the swap installed before closing. The value the close returns is
     *   the number of claims the old epoch took; the swap waits until each of those slots is non-zero (keys are
     *   never 0), which happens as soon as its writer runs its next store.
     *
     * Layout
     *   Formats of at most 10 characters: one long per entry, the code number in bits 0..51 and the source id in
     *   52..57. Longer formats: two longs, the key word and source id + 1; the key word is stored last, with
     *   release, so a reader that sees the key sees the source.
     */

    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle CLAIMED;
    private static final long CLOSED = 1L << 62;
    private static final int SHIFT = 52;

    static {
        try {
            CLAIMED = MethodHandles.lookup().findVarHandle(Epoch.class, "claimed", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** One epoch: the entries recorded between two marks. */
    static final class Epoch {
        final long[] slots;
        volatile long claimed;
        /** After the close: how many entries were written (at most the capacity). */
        int entries;
        /** After the close: whether a claim found the epoch full. */
        boolean overflowed;

        Epoch(long[] slots) {
            this.slots = slots;
        }
    }

    private final int capacity;
    private final boolean wide;
    private volatile Epoch current;
    private long[] spare; // guarded by the chain's lock, as swap and recycle are

    ChangeJournal(int capacity, boolean wide) {
        this.capacity = capacity;
        this.wide = wide;
        this.current = new Epoch(new long[wide ? 2 * capacity : capacity]);
    }

    int capacity() {
        return capacity;
    }

    /** Records that {@code sourceId} was added to {@code key}. Lock-free; never waits. */
    void record(long key, int sourceId) {
        while (true) {
            Epoch epoch = current; // volatile read: the epoch to record into
            long seen = epoch.claimed; // volatile read: an epoch known to be full is left alone, so that a
            if (seen > capacity && seen < CLOSED) { // bulk load after the overflow pays no shared increment
                return;
            }
            long index = (long) CLAIMED.getAndAdd(epoch, 1L); // atomic claim: this slot is ours alone
            if (index < capacity) {
                long[] slots = epoch.slots;
                if (wide) {
                    slots[(int) (2 * index + 1)] = sourceId + 1; // plain: published by the release below
                    SLOT.setRelease(slots, (int) (2 * index), key); // release: publishes key and source together
                } else {
                    SLOT.setRelease(slots, (int) index, key | ((long) sourceId << SHIFT)); // release: publishes
                }
                return;
            }
            if (index < CLOSED) {
                return; // full: dropped, and the epoch counts as overflowed, so the next checkpoint is a base
            }
            // the checkpointer closed this epoch after installing the next one: record there
        }
    }

    /** Whether the current epoch has overflowed already (weakly consistent). */
    boolean overflowing() {
        return current.claimed > capacity; // volatile read
    }

    /**
     * Installs a fresh epoch and returns the old one, closed, with every claimed slot written. Blocking (it waits
     * for writers between their claim and their store); its one caller is the state's {@link CheckpointChain},
     * under its lock.
     */
    Epoch swap() {
        long[] slots = spare != null ? spare : new long[wide ? 2 * capacity : capacity];
        spare = null;
        Epoch old = current;
        current = new Epoch(slots); // volatile write: writers from now on record in the new epoch
        long claims = (long) CLAIMED.getAndAdd(old, CLOSED); // atomic close: later claims retry in the new epoch
        int entries = (int) Math.min(claims, capacity);
        for (int i = 0; i < entries; i++) {
            int at = wide ? 2 * i : i;
            for (int spins = 0; (long) SLOT.getAcquire(old.slots, at) == 0; spins++) { // acquire: the writer's store
                if (spins < 100) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield(); // the writer was descheduled between its claim and its store
                }
            }
        }
        old.entries = entries;
        old.overflowed = claims > capacity;
        return old;
    }

    /** Hands a closed epoch's array back for reuse once its entries are written out. */
    void recycle(Epoch epoch) {
        Arrays.fill(epoch.slots, 0L);
        spare = epoch.slots;
    }

    /** Visits the entries of a closed epoch. */
    void forEach(Epoch epoch, EntryVisitor visitor) {
        long[] slots = epoch.slots;
        for (int i = 0; i < epoch.entries; i++) {
            if (wide) {
                visitor.visit(slots[2 * i], 1L << (slots[2 * i + 1] - 1));
            } else {
                long word = slots[i];
                visitor.visit(word & ((1L << SHIFT) - 1), 1L << (word >>> SHIFT));
            }
        }
    }
}
