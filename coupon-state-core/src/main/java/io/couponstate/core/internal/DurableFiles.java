package io.couponstate.core.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * The one place where a file becomes durable under its name: written to a temporary file beside it, fsynced, renamed
 * over the target atomically where the file system can, and the directory fsynced. Snapshots (core) and checkpoints
 * (kafka) both write through it. Stateless and thread-safe.
 */
public final class DurableFiles {

    /** The suffix of the temporary files this class writes; a reader of a directory ignores (or deletes) them. */
    public static final String TEMPORARY_SUFFIX = ".tmp";

    private DurableFiles() {
    }

    /** Writes the content of a file into a channel positioned at 0; returns what the caller wants back. */
    @FunctionalInterface
    public interface ChannelWriter<T> {
        /** Writes the content; must not close or force the channel. */
        T write(FileChannel channel) throws IOException;
    }

    /** Called after the temporary file is fsynced and before it is renamed: a seam for crash tests. */
    @FunctionalInterface
    public interface BeforeRename {
        /** Does nothing: production code passes this. */
        BeforeRename NONE = (tmp, target) -> { };

        /** {@code tmp} is complete and durable; {@code target} does not hold it yet. */
        void fsyncedBeforeRename(Path tmp, Path target) throws IOException;
    }

    /** {@link #write(Path, ChannelWriter, BeforeRename)} without a hook. */
    public static <T> T write(Path target, ChannelWriter<T> body) throws IOException {
        return write(target, body, BeforeRename.NONE);
    }

    /**
     * Writes {@code target} durably: {@code body} fills a new temporary file in the same directory (a name of its
     * own, so concurrent or crashed writers never share one), which is fsynced, renamed over {@code target} and made
     * durable by an fsync of the directory. When this returns, {@code target} holds the whole content or, if it
     * throws, whatever it held before; the temporary file is deleted either way unless the process dies first.
     */
    public static <T> T write(Path target, ChannelWriter<T> body, BeforeRename beforeRename) throws IOException {
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(body, "body");
        Objects.requireNonNull(beforeRename, "beforeRename");
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        Path tmp = Files.createTempFile(dir, absolute.getFileName() + ".", TEMPORARY_SUFFIX);
        try {
            T result;
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                result = body.write(channel);
                channel.force(true);
            }
            beforeRename.fsyncedBeforeRename(tmp, absolute);
            atomicMove(tmp, absolute);
            fsyncDirectory(dir);
            return result;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Renames {@code from} over {@code to} atomically where the file system can, else with a plain replace. */
    public static void atomicMove(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Makes the names in {@code dir} durable (a rename, a create, a delete); a no-op where directories cannot be
     *  opened for reading (Windows). */
    public static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            if (!System.getProperty("os.name", "").startsWith("Windows")) {
                throw e;
            }
        }
    }
}
