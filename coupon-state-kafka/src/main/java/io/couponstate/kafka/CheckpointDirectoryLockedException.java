package io.couponstate.kafka;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A checkpoint directory is already locked by another runner or {@link CouponCheckpoints}, in another process or in
 * this JVM: two owners of one directory would overwrite and delete each other's checkpoints, so the second one is
 * refused. The lock is an
 * OS file lock on {@code <directory>/.lock}, released when its holder closes or dies, however it dies.
 */
public final class CheckpointDirectoryLockedException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    private final transient Path directory;

    /**
     * Creates the exception.
     *
     * @param directory the locked checkpoint directory
     * @param cause what the lock attempt threw, or null when the lock was simply not granted
     */
    public CheckpointDirectoryLockedException(Path directory, Throwable cause) {
        super("checkpoint directory " + Objects.requireNonNull(directory, "directory")
                + " is locked: another runner uses it (in this or another process); give each runner a directory of "
                + "its own, or stop the other one", cause);
        this.directory = directory;
    }

    /**
     * The locked directory.
     *
     * @return the locked directory
     */
    public Path directory() {
        return directory;
    }
}
