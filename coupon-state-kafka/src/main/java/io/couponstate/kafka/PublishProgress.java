package io.couponstate.kafka;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * A progress report from {@link CouponFilePublisher} while it reads one file: immutable, made on the publishing
 * thread and handed to the progress callback.
 *
 * @param file the file being published
 * @param topic the topic it goes to
 * @param lines the lines read so far (codes, blank and oversized lines alike)
 * @param bytesRead the bytes of the file read so far (compressed bytes for a {@code .gz} file)
 * @param totalBytes the size of the file in bytes, or -1 when unknown
 * @param elapsed the time since this file's publishing started
 * @param done true for the last report of the file
 */
public record PublishProgress(Path file, String topic, long lines, long bytesRead, long totalBytes, Duration elapsed,
                              boolean done) {

    /**
     * Validates the fields.
     *
     * @param file the file
     * @param topic the topic
     * @param lines the lines read
     * @param bytesRead the bytes of the file read so far
     * @param totalBytes the total bytes
     * @param elapsed the time taken so far
     * @param done the done
     */
    public PublishProgress {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(elapsed, "elapsed");
    }

    /**
     * Lines read per second since the start of the file; 0 before any time has passed.
     *
     * @return lines read per second since the start of the file; 0 before any time has passed
     */
    public double linesPerSecond() {
        double seconds = elapsed.toNanos() / 1e9;
        return seconds <= 0 ? 0 : lines / seconds;
    }

    /**
     * Bytes read per second since the start of the file; 0 before any time has passed.
     *
     * @return bytes read per second since the start of the file; 0 before any time has passed
     */
    public double bytesPerSecond() {
        double seconds = elapsed.toNanos() / 1e9;
        return seconds <= 0 ? 0 : bytesRead / seconds;
    }

    /**
     * The fraction of the file read, 0..1, or -1 when the size is unknown.
     *
     * @return the fraction of the file read, 0..1, or -1 when the size is unknown
     */
    public double fraction() {
        if (totalBytes <= 0) {
            return totalBytes == 0 ? 1 : -1;
        }
        return Math.min(1.0, (double) bytesRead / totalBytes);
    }

    /**
     * The estimated time left for this file at the byte rate so far; empty when the size or the rate is unknown.
     * An estimate: the rate of the rest of the file may differ.
     *
     * @return the estimated time left for this file at the byte rate so far; empty when the size or the rate is unknown
     */
    public Optional<Duration> estimatedTimeLeft() {
        if (done) {
            return Optional.of(Duration.ZERO);
        }
        double rate = bytesPerSecond();
        if (totalBytes < 0 || rate <= 0) {
            return Optional.empty();
        }
        long left = Math.max(0, totalBytes - bytesRead);
        return Optional.of(Duration.ofNanos((long) (left / rate * 1e9)));
    }
}
