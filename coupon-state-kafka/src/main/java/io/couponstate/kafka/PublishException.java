package io.couponstate.kafka;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A coupon file could not be published to the end: unreadable, truncated or corrupt compressed data, or a send the
 * broker refused. Thrown only after every record read before the failure has been flushed, so {@link #sent()} of
 * them are in Kafka; the message names the file and the line reached.
 */
public final class PublishException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;
    /** The number of the last line read completely; 0 when none was. */
    private final long lineReached;
    /** The records acknowledged by the broker before the failure. */
    private final long sent;

    /**
     * Creates the exception.
     *
     * @param file the file that failed
     * @param lineReached the number of the last line read completely (0 when none was)
     * @param sent the records acknowledged before the failure
     * @param message what failed
     * @param cause the underlying failure
     */
    public PublishException(Path file, long lineReached, long sent, String message, Throwable cause) {
        super(message, cause);
        this.file = Objects.requireNonNull(file, "file");
        this.lineReached = lineReached;
        this.sent = sent;
    }

    /**
     * The file that failed.
     *
     * @return the file that failed
     */
    public Path file() {
        return file;
    }

    /**
     * The number of the last line read completely before the failure; 0 when none was.
     *
     * @return the number of the last line read completely before the failure; 0 when none was
     */
    public long lineReached() {
        return lineReached;
    }

    /**
     * The records acknowledged by the broker before the failure.
     *
     * @return the records acknowledged by the broker before the failure
     */
    public long sent() {
        return sent;
    }
}
