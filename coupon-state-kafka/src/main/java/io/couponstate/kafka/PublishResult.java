package io.couponstate.kafka;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * What {@link CouponFilePublisher} did with one file. Every line read is exactly one of: sent, blank, oversized.
 *
 * @param file the file published
 * @param topic the topic its codes went to
 * @param lines the lines read
 * @param sent the records sent and acknowledged by the broker (one per code line)
 * @param blankLines the lines skipped because they hold nothing but white space
 * @param oversizedLines the lines skipped because they are longer than the publisher's bound; never sent
 * @param bytesRead the bytes of the file read (compressed bytes for a {@code .gz} file)
 * @param elapsed the time spent on the file, flushing included
 * @param skippedEmpty true when the file held no code line and was skipped: nothing sent, no topic created
 */
public record PublishResult(Path file, String topic, long lines, long sent, long blankLines, long oversizedLines,
                            long bytesRead, Duration elapsed, boolean skippedEmpty) {

    /**
     * Validates the fields.
     *
     * @param file the file
     * @param topic the topic
     * @param lines the lines read
     * @param sent the records sent and acknowledged
     * @param blankLines the blank lines
     * @param oversizedLines the oversized lines
     * @param bytesRead the bytes of the file read so far
     * @param elapsed the time taken so far
     * @param skippedEmpty whether the file was skipped for holding no code line
     */
    public PublishResult {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(elapsed, "elapsed");
    }

    /**
     * A file that was published (not skipped).
     *
     * @param file the file
     * @param topic the topic
     * @param lines the lines read
     * @param sent the records sent and acknowledged
     * @param blankLines the blank lines
     * @param oversizedLines the oversized lines
     * @param bytesRead the bytes of the file read so far
     * @param elapsed the time taken so far
     */
    public PublishResult(Path file, String topic, long lines, long sent, long blankLines, long oversizedLines,
                         long bytesRead, Duration elapsed) {
        this(file, topic, lines, sent, blankLines, oversizedLines, bytesRead, elapsed, false);
    }

    /**
     * Records sent per second over the whole file, flushing included; 0 when no time was measured.
     *
     * @return records sent per second over the whole file, flushing included; 0 when no time was measured
     */
    public double recordsPerSecond() {
        double seconds = elapsed.toNanos() / 1e9;
        return seconds <= 0 ? 0 : sent / seconds;
    }
}
