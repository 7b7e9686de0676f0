package io.couponstate.kafka.internal.checkpoint;

/**
 * How far a checkpoint restore has read: bytes of the checkpoint files read so far, out of the sizes of the files it
 * expects to read (known before reading), and the rate. One writer (the restoring thread) updates it per read of a
 * file channel (a few large reads, never per entry); any thread reads it (volatile fields, each read on its own, so
 * the values are weakly consistent with each other).
 */
public final class RestoreProgress {

    /** A progress with nothing read yet. */
    public RestoreProgress() {
    }

    private volatile long totalBytes;
    private volatile long readBytes;
    private volatile long startNanos;
    private volatile long endNanos; // 0 while reading or before
    private volatile boolean started;

    /** Starts (or, after a fallback to an older base, starts again) a restore of {@code totalBytes}. Writer only. */
    void begin(long totalBytes, long nowNanos) {
        this.readBytes = 0;
        this.totalBytes = totalBytes;
        this.endNanos = 0;
        if (!started) {
            this.startNanos = nowNanos;
            this.started = true; // volatile: after the start time
        }
    }

    /** Counts {@code n} bytes read. Writer only. */
    void add(long n) {
        readBytes = readBytes + n; // volatile store, single writer: no lost update
    }

    /** Ends the restore having read {@code read} bytes; the total becomes what was read (the chain may end early). */
    void finish(long read, long nowNanos) {
        if (!started) {
            startNanos = nowNanos;
            started = true;
        }
        readBytes = read;
        totalBytes = read;
        endNanos = nowNanos;
    }

    /** Bytes read so far. Any thread. */
    public long readBytes() {
        return readBytes;
    }

    /** The sizes of the files the restore expects to read; 0 before it knows (or without a checkpoint). */
    public long totalBytes() {
        return totalBytes;
    }

    /** Bytes per second since the restore began (until it ended, once it has); 0 before. Any thread. */
    public double bytesPerSecond(long nowNanos) {
        if (!started) {
            return 0;
        }
        long end = endNanos;
        long elapsed = (end != 0 ? end : nowNanos) - startNanos;
        return elapsed <= 0 ? 0 : readBytes * 1e9 / elapsed;
    }
}
