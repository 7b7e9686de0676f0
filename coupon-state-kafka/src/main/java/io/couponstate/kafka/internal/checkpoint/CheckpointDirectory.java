package io.couponstate.kafka.internal.checkpoint;

import io.couponstate.core.internal.DurableFiles;
import io.couponstate.kafka.CheckpointDirectoryLockedException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One checkpoint directory, locked while this object is open: its files by sequence, what retention deletes, the
 * quarantine of damaged files and the stray temporary files of writes that never finished. Knows names, not contents
 * (that is {@link CheckpointFormat}).
 *
 * <p><b>Lock.</b> The constructor takes an exclusive OS file lock on {@code <dir>/.lock}, so two owners (in one JVM or
 * in two processes) never share a directory: the second fails with {@link CheckpointDirectoryLockedException}. The OS
 * releases it when the process dies, however it dies. Within one JVM a registry of locked directories refuses a
 * second owner before it opens the lock file, because on POSIX systems closing any descriptor of a file releases the
 * whole process's lock on it (so nothing else in the process may open {@code .lock} either, not even to read it). The
 * lock file is never deleted (a newcomer could lock a fresh file while an old holder still holds the unlinked one).
 *
 * <p>Thread-safe where it says so; the mutating methods ({@link #retain}, {@link #quarantine},
 * {@link #deleteTemporaryFiles}) are called under the owner's lock, which also says no other writer is in flight.
 */
public final class CheckpointDirectory implements AutoCloseable {

    /** How many complete checkpoints are kept for a state without a change journal (each is a full base). */
    public static final int KEPT = 2;
    /** How many quarantined ({@code .corrupt}) checkpoints are kept, the newest; older ones are deleted. */
    public static final int KEPT_CORRUPT = 2;
    /** The suffix a damaged checkpoint is renamed with. */
    public static final String CORRUPT = ".corrupt";

    private static final Logger LOG = LoggerFactory.getLogger(CheckpointDirectory.class);
    private static final String LOCK_FILE = ".lock";
    /** The directories (real paths) locked in this JVM. */
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private final Path dir;
    private final Path heldKey;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private boolean closed; // guarded by this

    /**
     * Creates {@code dir} if missing and locks it.
     *
     * @throws CheckpointDirectoryLockedException if another owner (in this JVM or another process) holds the lock
     * @throws IOException naming the directory and the reason if it cannot be created, locked or written
     */
    public CheckpointDirectory(Path dir) throws IOException {
        this.dir = Objects.requireNonNull(dir, "dir").toAbsolutePath();
        try {
            Files.createDirectories(this.dir);
        } catch (IOException e) {
            throw unusable("it cannot be created", e);
        }
        Path key = this.dir.toRealPath(); // one key per directory, however it is spelled
        // Checked before any descriptor of the lock file is opened: POSIX drops every lock a process holds on a file
        // when it closes any descriptor of it, so a refusal that opened and closed one would unlock the holder.
        if (!HELD.add(key)) {
            throw new CheckpointDirectoryLockedException(this.dir, null);
        }
        this.heldKey = key;
        Path lockFile = this.dir.resolve(LOCK_FILE);
        FileChannel channel;
        try {
            channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        } catch (IOException e) {
            HELD.remove(key);
            throw unusable("its lock file " + lockFile + " cannot be created or opened", e);
        }
        FileLock acquired;
        try {
            acquired = channel.tryLock();
        } catch (OverlappingFileLockException e) { // this JVM holds it through another path (a bind mount, say)
            closeQuietly(channel);
            HELD.remove(key);
            throw new CheckpointDirectoryLockedException(this.dir, e);
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel);
            HELD.remove(key);
            throw unusable("its lock file " + lockFile + " cannot be locked", e);
        }
        if (acquired == null) { // another process holds it
            closeQuietly(channel);
            HELD.remove(key);
            throw new CheckpointDirectoryLockedException(this.dir, null);
        }
        this.lockChannel = channel;
        this.lock = acquired;
        try {
            probeWritable();
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The directory (absolute). */
    public Path path() {
        return dir;
    }

    /** The complete checkpoint files, by sequence. Any thread; weakly consistent while a write runs. */
    public TreeMap<Long, Path> list() throws IOException {
        return bySequence(dir, CheckpointFormat.SUFFIX);
    }

    /**
     * The complete checkpoint files in {@code dir}, by sequence, read without taking the lock (for tools and tests
     * that look at a directory an owner writes). Weakly consistent while it writes.
     */
    public static TreeMap<Long, Path> list(Path dir) throws IOException {
        return bySequence(Objects.requireNonNull(dir, "dir").toAbsolutePath(), CheckpointFormat.SUFFIX);
    }

    /** The highest sequence of any checkpoint here, quarantined ones included (a name is never reused); 0 if none. */
    public long highestSequence() throws IOException {
        TreeMap<Long, Path> good = list();
        TreeMap<Long, Path> corrupt = bySequence(dir, CheckpointFormat.SUFFIX + CORRUPT);
        long high = 0;
        if (!good.isEmpty()) {
            high = good.lastKey();
        }
        if (!corrupt.isEmpty()) {
            high = Math.max(high, corrupt.lastKey());
        }
        return high;
    }

    /** Whether damaged checkpoints were set aside here (by this or an earlier owner). */
    public boolean holdsQuarantined() throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + CORRUPT)) {
            return files.iterator().hasNext();
        }
    }

    /**
     * Deletes the files no restore needs once checkpoint {@code sequence}, a base, is durable: every older file when
     * the state keeps a journal (the new base and its deltas are the whole chain), or all but the newest {@link #KEPT}
     * when it keeps none (each checkpoint is then a full base, and the previous one stays as a fallback).
     */
    public void retainAfterBase(boolean journaled, long sequence) throws IOException {
        TreeMap<Long, Path> files = list();
        List<Path> old = new ArrayList<>();
        if (journaled) {
            old.addAll(files.headMap(sequence, false).values());
        } else {
            while (files.size() > KEPT) {
                old.add(files.pollFirstEntry().getValue());
            }
        }
        for (Path file : old) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                LOG.warn("could not delete old checkpoint {}: {}", file, e.toString());
            }
        }
    }

    /**
     * Deletes the temporary files of checkpoint writes that did not finish: those {@link DurableFiles#write} names
     * {@code <name>.<random>.tmp}, and older names ({@code <name>.tmp}, {@code <name>.<pid>-<n>.tmp}) alike. Safe
     * only for the lock holder: no other writer is in flight.
     */
    public void deleteTemporaryFiles() throws IOException {
        List<Path> stray = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir,
                CheckpointFormat.PREFIX + "*" + CheckpointFormat.SUFFIX + "*" + DurableFiles.TEMPORARY_SUFFIX)) {
            stream.forEach(stray::add);
        }
        for (Path p : stray) {
            LOG.info("deleting {}: a checkpoint write that did not finish", p);
            Files.deleteIfExists(p);
        }
    }

    /** Renames a damaged checkpoint {@code .corrupt} and deletes all but the newest {@link #KEPT_CORRUPT} of those. */
    public void quarantine(Path file) {
        try {
            Files.move(file, file.resolveSibling(file.getFileName() + CORRUPT), StandardCopyOption.REPLACE_EXISTING);
        } catch (NoSuchFileException e) {
            LOG.warn("could not rename damaged checkpoint {}: it is gone", file);
        } catch (IOException e) {
            LOG.warn("could not rename damaged checkpoint {}: {}", file, e.toString());
        }
        try {
            TreeMap<Long, Path> corrupt = bySequence(dir, CheckpointFormat.SUFFIX + CORRUPT);
            while (corrupt.size() > KEPT_CORRUPT) {
                Path oldest = corrupt.pollFirstEntry().getValue();
                LOG.info("deleting quarantined checkpoint {}: only the newest {} are kept", oldest, KEPT_CORRUPT);
                Files.deleteIfExists(oldest);
            }
        } catch (IOException e) {
            LOG.warn("could not bound the quarantined checkpoints in {}: {}", dir, e.toString());
        }
    }

    /** Releases the lock; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            lock.release();
        } catch (IOException e) {
            LOG.warn("releasing the lock of checkpoint directory {} failed: {}", dir, e.toString());
        }
        closeQuietly(lockChannel);
        HELD.remove(heldKey); // after the descriptor is closed: a successor opens its own only now
    }

    private static TreeMap<Long, Path> bySequence(Path dir, String suffix) throws IOException {
        TreeMap<Long, Path> files = new TreeMap<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, CheckpointFormat.PREFIX + "*" + suffix)) {
            for (Path p : stream) {
                String name = p.getFileName().toString();
                String digits = name.substring(CheckpointFormat.PREFIX.length(), name.length() - suffix.length());
                try {
                    files.put(Long.parseLong(digits), p);
                } catch (NumberFormatException e) {
                    LOG.warn("ignoring {}: not a checkpoint file name", p);
                }
            }
        }
        return files;
    }

    private void probeWritable() throws IOException {
        Path probe = dir.resolve(".write-probe-" + ProcessHandle.current().pid());
        try {
            Files.deleteIfExists(probe);
            Files.write(probe, new byte[] {1}, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw unusable("it cannot be written", e);
        } finally {
            try {
                Files.deleteIfExists(probe);
            } catch (IOException e) {
                LOG.warn("could not delete {}: {}", probe, e.toString());
            }
        }
    }

    private IOException unusable(String why, Exception cause) {
        return new IOException("checkpoint directory " + dir + " cannot be used: " + why + " (" + cause + ")", cause);
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException e) {
            LOG.warn("closing a checkpoint lock file failed: {}", e.toString());
        }
    }
}
