package io.couponstate.kafka;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A checkpoint that is intact but cannot be restored into the runner's (or {@link CouponCheckpoints}') state: written
 * with another code format or case folding, holding more sources than the state's {@code maxSources}, of a version
 * this library cannot read, or unreadable (permissions, an I/O error); or a directory that holds another kind of
 * checkpoints (a partitioned runner's shards where one state's checkpoints are expected, or the reverse). This is a configuration problem, not damage, so nothing falls back to an
 * older checkpoint or to the log start and every file is left as it was: fix the configuration (or point the runner
 * at another directory) and start again.
 */
public final class IncompatibleCheckpointException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /**
     * Creates the exception.
     *
     * @param file the checkpoint file that could not be restored
     * @param message what does not fit, naming the checkpoint's and the state's settings
     * @param cause the underlying failure
     */
    public IncompatibleCheckpointException(Path file, String message, Throwable cause) {
        super("checkpoint " + Objects.requireNonNull(file, "file") + " cannot be restored into this state: "
                + Objects.requireNonNull(message, "message") + "; no checkpoint was renamed or deleted", cause);
        this.file = file;
    }

    /**
     * The checkpoint file.
     *
     * @return the checkpoint file
     */
    public Path file() {
        return file;
    }
}
