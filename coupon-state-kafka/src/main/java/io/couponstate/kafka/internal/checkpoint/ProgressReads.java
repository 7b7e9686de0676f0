package io.couponstate.kafka.internal.checkpoint;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Counts the bytes read from one checkpoint file into a {@link RestoreProgress} and logs progress at most every
 * {@link #INTERVAL_NANOS}, looking at the clock only once per {@link #CHECK_BYTES}: it sits below the 64 KiB buffers,
 * sees few, large reads, so it costs nothing next to decoding. Not thread-safe: one restore reads it.
 */
final class ProgressReads {

    /** How many bytes are read between two looks at the clock. */
    static final long CHECK_BYTES = 4L << 20;
    /** How often restore progress is logged. */
    static final long INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final Path file;
    private final long size;
    private final Consumer<String> sink;
    private final LongSupplier nanoTime;
    private final RestoreProgress shared; // null: nobody watches
    private final long start;
    private long lastReport;
    private long count;
    private long nextCheck = CHECK_BYTES;

    ProgressReads(Path file, long size, Consumer<String> sink, LongSupplier nanoTime, long already,
            RestoreProgress shared) {
        this.shared = shared;
        this.file = file;
        this.size = size;
        this.sink = sink;
        this.nanoTime = nanoTime;
        this.start = nanoTime.getAsLong();
        this.lastReport = start;
        this.count = already;
    }

    void advance(long n) {
        count += n;
        if (shared != null) {
            shared.add(n); // one volatile store per channel read (64 KiB or more), not per entry
        }
        if (count < nextCheck) {
            return;
        }
        nextCheck = count + CHECK_BYTES;
        long now = nanoTime.getAsLong();
        if (now - lastReport < INTERVAL_NANOS) {
            return;
        }
        lastReport = now;
        double seconds = (now - start) / 1e9;
        sink.accept(String.format("restoring checkpoint %s: %.1f of %.1f MB read (%.0f%%) in %.0f s, %.1f MB/s",
                file, count / 1e6, size / 1e6, size > 0 ? 100.0 * count / size : 100.0, seconds,
                seconds > 0 ? count / 1e6 / seconds : 0.0));
    }

    /** A channel over {@code channel} that counts what is read through {@code progress}. */
    static ReadableByteChannel channel(FileChannel channel, ProgressReads progress) {
        return new ReadableByteChannel() {
            @Override
            public int read(ByteBuffer dst) throws IOException {
                int n = channel.read(dst);
                if (n > 0) {
                    progress.advance(n);
                }
                return n;
            }

            @Override
            public boolean isOpen() {
                return channel.isOpen();
            }

            @Override
            public void close() throws IOException {
                channel.close();
            }
        };
    }

    /** A stream over {@code in} that counts what is read or skipped through {@code progress}. */
    static InputStream stream(InputStream in, ProgressReads progress) {
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                int b = super.read();
                if (b >= 0) {
                    progress.advance(1);
                }
                return b;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = in.read(b, off, len);
                if (n > 0) {
                    progress.advance(n);
                }
                return n;
            }

            @Override
            public long skip(long n) throws IOException {
                long skipped = in.skip(n);
                if (skipped > 0) {
                    progress.advance(skipped);
                }
                return skipped;
            }
        };
    }
}
