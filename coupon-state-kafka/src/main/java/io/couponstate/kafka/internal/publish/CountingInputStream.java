package io.couponstate.kafka.internal.publish;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Counts the bytes read or skipped through it (for progress in file bytes, or the length of a header read through a
 * buffer). Not thread-safe: one reader owns it.
 */
public final class CountingInputStream extends FilterInputStream {

    private long count;

    /** Counts what is read from {@code in}. */
    public CountingInputStream(InputStream in) {
        super(in);
    }

    /** Bytes read so far. */
    public long count() {
        return count;
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b >= 0) {
            count++;
        }
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) {
            count += n;
        }
        return n;
    }

    /**
     * Always 0: it is only a hint, the readers above (a buffer, gzip) need none, and a channel stream over a pipe or
     * FIFO ({@code Files.newInputStream("/dev/stdin")}) throws "Illegal seek" from it instead of answering.
     */
    @Override
    public int available() {
        return 0;
    }

    @Override
    public long skip(long n) throws IOException {
        long skipped = in.skip(n);
        count += skipped;
        return skipped;
    }
}
