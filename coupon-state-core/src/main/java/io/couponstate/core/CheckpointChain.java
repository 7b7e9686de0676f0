package io.couponstate.core;

import java.io.IOException;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The base/delta chain of one state, and its only owner: the chain its next delta continues (id, base header
 * checksum, sequence), why the next checkpoint must be a base (or null), and the marks of the state's change
 * journal. No field is written from outside. A base or delta is written, and a chain read into the state, holding
 * the chain's lock, so one checkpointer works at a time; writers of observations never take it (they only record
 * into the journal).
 */
final class CheckpointChain {

    private static final String NO_JOURNAL = "the state keeps no change journal (changeJournalCapacity is 0)";

    /** Writes a base of the chain {@code chainId}; returns what it wrote. */
    @FunctionalInterface
    interface BaseWrite {
        Written write(long chainId) throws IOException;
    }

    /** Writes delta {@code sequence} of the chain ({@code chainId}, base {@code baseCrc}) holding {@code changes}. */
    @FunctionalInterface
    interface DeltaWrite {
        /** Returns the number of entries written. */
        long write(long chainId, int sequence, int baseCrc, ChangeJournal.Epoch changes) throws IOException;
    }

    /** A read of chain files into the state; returns the entries read. */
    @FunctionalInterface
    interface Read {
        long read() throws IOException;
    }

    /** What a base write wrote: its entries, and the header checksum by which its deltas name it. */
    static final class Written {
        final long entries;
        final int headerCrc;

        Written(long entries, int headerCrc) {
            this.entries = entries;
            this.headerCrc = headerCrc;
        }
    }

    private final Object lock = new Object();
    private final ChangeJournal journal;
    private long id; // 0: no chain to continue
    private int baseCrc;
    private int sequence;
    private String baseNeeded = "no base has been written";

    /** A chain of a state whose journal is {@code journal} (null: the state keeps none, so no delta is possible). */
    CheckpointChain(ChangeJournal journal) {
        this.journal = journal;
    }

    /** Whether deltas can be written at all: the state keeps a change journal. */
    boolean journaled() {
        return journal != null;
    }

    /**
     * Whether the next checkpoint must be a base. Weakly consistent: the journal may overflow right after this
     * answers.
     */
    boolean baseNeeded() {
        synchronized (lock) {
            return journal == null || baseNeeded != null || journal.overflowing();
        }
    }

    /**
     * Marks the journal (the base holds everything recorded before the mark), then runs {@code body} with a new
     * chain id, and on its return makes that chain the one the next delta continues. If {@code body} throws, the
     * next checkpoint must be a base.
     */
    long writeBase(BaseWrite body) throws IOException {
        synchronized (lock) {
            if (journal != null) {
                journal.recycle(journal.swap());
            }
            baseNeeded = "the last base write failed";
            long chainId = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
            Written written = body.write(chainId);
            id = chainId;
            baseCrc = written.headerCrc;
            sequence = 0;
            baseNeeded = journal == null ? NO_JOURNAL : null;
            return written.entries;
        }
    }

    /**
     * Marks the journal and runs {@code body} with the closed epoch as the chain's next delta; on its return the
     * chain has advanced by one. If {@code body} throws, the next checkpoint must be a base.
     *
     * @throws BaseNeededException if no delta can follow: no journal, no base, an overflow, foreign data, a failure
     */
    long writeDelta(DeltaWrite body) throws IOException {
        synchronized (lock) {
            if (journal == null) {
                throw new BaseNeededException("no delta without a change journal: the state's changeJournalCapacity "
                        + "is 0 (expected: > 0, see CouponStateConfig.Builder.changeJournalCapacity)");
            }
            if (baseNeeded != null) {
                throw new BaseNeededException("base needed: " + baseNeeded);
            }
            ChangeJournal.Epoch epoch = journal.swap(); // the mark
            if (epoch.overflowed) {
                journal.recycle(epoch);
                baseNeeded = "the change journal overflowed (more than " + journal.capacity()
                        + " changes since the last checkpoint)";
                throw new BaseNeededException("base needed: " + baseNeeded);
            }
            int next = sequence + 1;
            baseNeeded = "the delta write with sequence " + next + " failed";
            long entries;
            try {
                entries = body.write(id, next, baseCrc, epoch);
            } finally {
                journal.recycle(epoch);
            }
            sequence = next;
            baseNeeded = null;
            return entries;
        }
    }

    /** Data from outside the chain was merged into the state: the chain cannot describe it, a base must. */
    void mergedFromOutside() {
        synchronized (lock) {
            baseNeeded = "a snapshot from outside the chain was merged in";
        }
    }

    /**
     * A chain read into the state begins; until {@link #readComplete} the next checkpoint must be a base. Returns
     * whether the state may continue the chain read (it is empty and belongs to no chain).
     */
    boolean readStarts(boolean stateEmpty) {
        synchronized (lock) {
            baseNeeded = "a chain read into it did not complete";
            return stateEmpty && id == 0;
        }
    }

    /**
     * A chain read into the state completed, its last file being delta {@code lastSequence} (0: the base) of the
     * chain ({@code readId}, {@code readBaseCrc}). If {@code continues} (as {@link #readStarts} answered), the next
     * delta follows it; otherwise the next checkpoint must be a base.
     */
    void readComplete(boolean continues, long readId, int readBaseCrc, int lastSequence) {
        synchronized (lock) {
            if (continues) {
                id = readId;
                baseCrc = readBaseCrc;
                sequence = lastSequence;
                baseNeeded = journal == null ? NO_JOURNAL : null;
            } else {
                baseNeeded = "a chain was read into a state that was not empty";
            }
        }
    }

    /** Runs {@code read} holding the chain's lock: no base or delta is written meanwhile. */
    long whileLocked(Read read) throws IOException {
        synchronized (lock) {
            return read.read();
        }
    }
}
