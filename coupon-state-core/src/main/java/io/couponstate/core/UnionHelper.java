package io.couponstate.core;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * The second thread of a two-thread read: the reading thread checks each block whole, hands the second half of its
 * entries to this thread and unions the first half itself. Every state takes concurrent unions, and a union
 * commutes, so the order is free; only checked blocks are handed over. At most {@value #BATCHES} half-blocks
 * (0.5 MB each) are in flight. A failure here is rethrown to the reader; {@link #close} waits until what was handed
 * over is applied or abandoned, so a read never returns with this thread still running.
 */
final class UnionHelper implements AutoCloseable {

    /** A read's thread count left to {@link #wanted}: two for big inputs on a machine with more than one processor. */
    static final int AUTO = 0;
    /** Inputs smaller than this are read on the calling thread under {@link #AUTO}. */
    static final long MIN_ENTRIES = 1 << 20;
    static final int BATCHES = 3;
    private static final long[] STOP = new long[0];

    private final AbstractCouponState target;
    private final ArrayBlockingQueue<long[]> work = new ArrayBlockingQueue<>(BATCHES + 1);
    private final ArrayBlockingQueue<long[]> free = new ArrayBlockingQueue<>(BATCHES);
    private final Thread thread;
    private volatile Throwable failure; // written by the helper before it returns its batch
    private boolean stopped;

    /**
     * Whether a read asked for {@code unionThreads} ({@link #AUTO}, 1 or 2) of an input known to hold
     * {@code entriesLeft} more entries (0: unknown) takes a helper. Two threads need an input that tells its length.
     */
    static boolean wanted(int unionThreads, long entriesLeft) {
        if (unionThreads == AUTO) {
            return entriesLeft >= MIN_ENTRIES && Runtime.getRuntime().availableProcessors() > 1;
        }
        return unionThreads == 2 && entriesLeft > 0;
    }

    /** Starts the helper thread, with batches of {@code batchEntries} entries at most; {@link #close} ends it. */
    UnionHelper(AbstractCouponState target, int batchEntries) {
        this.target = target;
        for (int i = 0; i < BATCHES; i++) {
            free.add(new long[1 + 2 * batchEntries]);
        }
        thread = new Thread(this::run, "coupon-snapshot-union");
        thread.setDaemon(true); // joined by close(); a daemon so that it can never hold a JVM open
        thread.start();
    }

    /** A free batch ([n, key, mask, key, mask, ...]); waits for one; rethrows the helper's failure. */
    long[] batch() throws IOException {
        rethrow();
        try {
            long[] b = free.take();
            rethrow();
            return b;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while reading a snapshot");
        }
    }

    /** Hands a filled batch over. */
    void submit(long[] batch) {
        work.add(batch); // never full: BATCHES batches and one STOP at most
    }

    private void run() {
        while (true) {
            long[] b;
            try {
                b = work.take();
            } catch (InterruptedException e) {
                return; // never interrupted: close() stops it with STOP
            }
            if (b == STOP) {
                return;
            }
            if (failure == null) {
                try {
                    int n = (int) b[0];
                    for (int i = 0; i < n; i++) {
                        target.union(b[1 + 2 * i], b[2 + 2 * i]);
                    }
                } catch (Throwable t) {
                    failure = t; // volatile: read by the reader after it takes this batch back
                }
            }
            free.add(b);
        }
    }

    /** Waits until every batch handed over is applied; rethrows the helper's failure. */
    void finish() throws IOException {
        close();
        rethrow();
    }

    private void rethrow() throws IOException {
        Throwable t = failure;
        if (t instanceof IOException) {
            throw (IOException) t;
        } else if (t instanceof RuntimeException) {
            throw (RuntimeException) t;
        } else if (t instanceof Error) {
            throw (Error) t;
        } else if (t != null) {
            throw new IOException(t);
        }
    }

    @Override
    public void close() {
        if (stopped) {
            return;
        }
        stopped = true;
        work.add(STOP);
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true; // the helper ends on STOP after the batches before it: wait for it
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
