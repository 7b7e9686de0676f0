package io.couponstate.kafka.internal;

import io.couponstate.core.CouponSnapshots;
import io.couponstate.core.CouponState;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoint files in one directory: each holds the offsets it covers and a state snapshot, written atomically; the
 * newest two are kept.
 *
 * <p>File {@code checkpoint-<sequence, 20 digits>.ckpt}, all integers big-endian:
 * <pre>
 * header  magic "CKPT" u32 | version u16 = 1 | sequence u64 | written at (epoch ms) u64
 *         | partition count u32 (at most 1,000,000), then per partition:
 *           topic length u16 + UTF-8 topic | partition u32 | offset u64 (next offset to apply)
 *         | CRC32C u32 of every header byte before it
 * state   a {@link CouponSnapshots} stream (its own magic, version, block and whole-stream CRC32C)
 * </pre>
 *
 * <p><b>Concurrency.</b> Not thread-safe: one thread writes at a time, and {@link #restore} runs before any write.
 * {@link #write} may run while other threads update the state: the snapshot holds every observation applied before
 * the write started (so everything below the offsets, which were captured before) and maybe some newer ones, which
 * are harmless because restoring is a set union.
 *
 * <p><b>Durability.</b> A write goes to {@code <name>.tmp}, is fsynced, renamed over its final name, and the directory
 * is fsynced; only then are files older than the previous checkpoint deleted. A crash at any point leaves either the
 * new checkpoint or the previous ones intact, plus perhaps a stray {@code .tmp} that the next restore deletes.
 */
public final class CheckpointStore {

    /** "CKPT". */
    public static final int MAGIC = 0x434b5054;
    /** The format version this class writes. */
    public static final int VERSION = 1;
    /** How many complete checkpoints are kept. */
    public static final int KEPT = 2;

    private static final Logger LOG = LoggerFactory.getLogger(CheckpointStore.class);
    private static final String PREFIX = "checkpoint-";
    private static final String SUFFIX = ".ckpt";
    private static final int MAX_PARTITIONS = 1_000_000;

    /** Called at points of a checkpoint write, for crash tests; a test sets it, production leaves it null. */
    public interface Hook {
        /** After the temporary file is fsynced, before it is renamed to {@code target}. */
        void fsyncedBeforeRename(Path tmp, Path target);
    }

    private static volatile Hook hook; // volatile: set by a test thread, read by the checkpoint thread

    private final Path dir;
    private long nextSequence = 1;

    /** A store in {@code dir}, created if missing. */
    public CheckpointStore(Path dir) throws IOException {
        this.dir = Objects.requireNonNull(dir, "dir").toAbsolutePath();
        Files.createDirectories(this.dir);
    }

    /** Sets (or with null clears) the crash-test hook for every store in this JVM. */
    public static void setHook(Hook h) {
        hook = h;
    }

    /** The directory. */
    public Path directory() {
        return dir;
    }

    /** What a restore found. */
    public static final class Restored {
        private final Path file;
        private final long sequence;
        private final Map<TopicPartition, Long> offsets;
        private final long entries;

        Restored(Path file, long sequence, Map<TopicPartition, Long> offsets, long entries) {
            this.file = file;
            this.sequence = sequence;
            this.offsets = Collections.unmodifiableMap(offsets);
            this.entries = entries;
        }

        /** The checkpoint file. */
        public Path file() {
            return file;
        }

        /** Its sequence number. */
        public long sequence() {
            return sequence;
        }

        /** The offsets it covers: per partition, the next offset to apply. */
        public Map<TopicPartition, Long> offsets() {
            return offsets;
        }

        /** Snapshot entries read into the state. */
        public long entries() {
            return entries;
        }
    }

    /**
     * Unions the newest checkpoint that passes every check into {@code state} and returns it. A checkpoint that fails
     * a check is logged with the reason and renamed to {@code .corrupt}, so it is neither retried nor counted among
     * the kept ones; then the next older one is tried. A failed read may leave part of the corrupt snapshot in the
     * state: only blocks whose checksum passed, that is genuine observations, which a set union tolerates.
     * Stray temporary files are deleted.
     */
    public Optional<Restored> restore(CouponState state) throws IOException {
        Objects.requireNonNull(state, "state");
        deleteTemporaryFiles();
        TreeMap<Long, Path> files = list();
        if (!files.isEmpty()) {
            nextSequence = files.lastKey() + 1;
        }
        for (Map.Entry<Long, Path> e : files.descendingMap().entrySet()) {
            Path file = e.getValue();
            try {
                Restored r = read(file, state);
                LOG.info("restored checkpoint {} ({} entries, offsets {})", file, r.entries(), r.offsets());
                return Optional.of(r);
            } catch (IOException | RuntimeException ex) {
                LOG.warn("skipping checkpoint {}: {}", file, ex.toString());
                quarantine(file);
            }
        }
        return Optional.empty();
    }

    /** Reads one checkpoint file into {@code state}; throws saying which check failed. */
    public static Restored read(Path file, CouponState state) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            DataInputStream data = new DataInputStream(in);
            CRC32C crc = new CRC32C();
            long sequence;
            Map<TopicPartition, Long> offsets = new LinkedHashMap<>();
            try {
                int magic = data.readInt();
                if (magic != MAGIC) {
                    throw new IOException(String.format("no checkpoint magic (found 0x%08x, expected 0x%08x)", magic,
                            MAGIC));
                }
                int version = data.readUnsignedShort();
                if (version != VERSION) {
                    throw new IOException("checkpoint version " + version + " (expected: " + VERSION + ")");
                }
                sequence = data.readLong();
                long writtenAt = data.readLong();
                int count = data.readInt();
                if (count < 0 || count > MAX_PARTITIONS) {
                    throw new IOException("partition count " + count + " (expected: 0.." + MAX_PARTITIONS + ")");
                }
                ByteArrayOutputStream header = new ByteArrayOutputStream();
                DataOutputStream h = new DataOutputStream(header);
                h.writeInt(magic);
                h.writeShort(version);
                h.writeLong(sequence);
                h.writeLong(writtenAt);
                h.writeInt(count);
                for (int i = 0; i < count; i++) {
                    int len = data.readUnsignedShort();
                    byte[] topic = data.readNBytes(len);
                    if (topic.length != len) {
                        throw new EOFException();
                    }
                    int partition = data.readInt();
                    long offset = data.readLong();
                    h.writeShort(len);
                    h.write(topic);
                    h.writeInt(partition);
                    h.writeLong(offset);
                    if (partition < 0 || offset < 0) {
                        throw new IOException("partition " + partition + " offset " + offset + " (expected: >= 0)");
                    }
                    offsets.put(new TopicPartition(new String(topic, StandardCharsets.UTF_8), partition), offset);
                }
                h.flush();
                crc.update(header.toByteArray());
                int stored = data.readInt();
                if (stored != (int) crc.getValue()) {
                    throw new IOException(String.format("checkpoint header CRC32C mismatch (stored 0x%08x, computed "
                            + "0x%08x)", stored, (int) crc.getValue()));
                }
            } catch (EOFException e) {
                throw new IOException("checkpoint header truncated", e);
            }
            long entries = CouponSnapshots.read(in, state);
            return new Restored(file, sequence, offsets, entries);
        }
    }

    /**
     * Writes a checkpoint of {@code offsets} and {@code state} durably and deletes all but the newest {@link #KEPT}.
     *
     * @return the new checkpoint's file
     */
    public Path write(Map<TopicPartition, Long> offsets, CouponState state, long nowMillis) throws IOException {
        long sequence = nextSequence++;
        Path target = dir.resolve(String.format("%s%020d%s", PREFIX, sequence, SUFFIX));
        Path tmp = dir.resolve(target.getFileName() + ".tmp");
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16);
                out.write(header(sequence, nowMillis, offsets));
                CouponSnapshots.write(state, out);
                out.flush();
                channel.force(true);
            }
            Hook h = hook;
            if (h != null) {
                h.fsyncedBeforeRename(tmp, target);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            fsyncDirectory();
        } finally {
            Files.deleteIfExists(tmp);
        }
        TreeMap<Long, Path> files = list();
        while (files.size() > KEPT) {
            Path oldest = files.pollFirstEntry().getValue();
            try {
                Files.deleteIfExists(oldest);
            } catch (IOException e) {
                LOG.warn("could not delete old checkpoint {}: {}", oldest, e.toString());
            }
        }
        return target;
    }

    /** The complete checkpoint files, by sequence. */
    public TreeMap<Long, Path> list() throws IOException {
        TreeMap<Long, Path> files = new TreeMap<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, PREFIX + "*" + SUFFIX)) {
            for (Path p : stream) {
                String name = p.getFileName().toString();
                String digits = name.substring(PREFIX.length(), name.length() - SUFFIX.length());
                try {
                    files.put(Long.parseLong(digits), p);
                } catch (NumberFormatException e) {
                    LOG.warn("ignoring {}: not a checkpoint file name", p);
                }
            }
        }
        return files;
    }

    private static byte[] header(long sequence, long nowMillis, Map<TopicPartition, Long> offsets)
            throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + offsets.size() * 32);
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(MAGIC);
        out.writeShort(VERSION);
        out.writeLong(sequence);
        out.writeLong(nowMillis);
        out.writeInt(offsets.size());
        for (Map.Entry<TopicPartition, Long> e : offsets.entrySet()) {
            byte[] topic = e.getKey().topic().getBytes(StandardCharsets.UTF_8);
            out.writeShort(topic.length);
            out.write(topic);
            out.writeInt(e.getKey().partition());
            out.writeLong(e.getValue());
        }
        out.flush();
        CRC32C crc = new CRC32C();
        crc.update(bytes.toByteArray());
        out.writeInt((int) crc.getValue());
        out.flush();
        return bytes.toByteArray();
    }

    private void deleteTemporaryFiles() throws IOException {
        List<Path> stray = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, PREFIX + "*" + SUFFIX + ".tmp")) {
            stream.forEach(stray::add);
        }
        for (Path p : stray) {
            LOG.info("deleting {}: a checkpoint write that did not finish", p);
            Files.deleteIfExists(p);
        }
    }

    private static void quarantine(Path file) {
        try {
            Files.move(file, file.resolveSibling(file.getFileName() + ".corrupt"), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            LOG.warn("could not rename corrupt checkpoint {}: {}", file, e.toString());
        }
    }

    private void fsyncDirectory() throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            if (!System.getProperty("os.name", "").startsWith("Windows")) {
                throw e;
            }
        }
    }
}
