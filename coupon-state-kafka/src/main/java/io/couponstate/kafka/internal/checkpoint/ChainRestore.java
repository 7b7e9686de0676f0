package io.couponstate.kafka.internal.checkpoint;

import io.couponstate.core.CouponSnapshots;
import io.couponstate.core.CouponState;
import io.couponstate.core.SnapshotFormatException;
import io.couponstate.kafka.IncompatibleCheckpointException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The restore of a checkpoint directory: the newest intact chain (a base, then its deltas in order up to the first
 * damaged one) unioned into a state, falling back past damaged files. Not thread-safe: its owner runs one restore at
 * a time, with no write in flight.
 *
 * <p><b>Failures.</b> Only a <em>damaged</em> checkpoint (a checksum or magic that fails, a truncated file) is
 * skipped: it is quarantined; for a base the next older base is tried, for a delta the chain ends at the file before
 * it (the deltas after it are quarantined too: they would skip its changes). A checkpoint that is intact but does not
 * fit the state (another code format or case folding, more sources than {@code maxSources}, a newer file version) or
 * that cannot be read at all (permissions, an I/O error) is a configuration problem:
 * {@link IncompatibleCheckpointException}, and no file is touched. A wrong guess the other way round would quarantine
 * good checkpoints and silently replay from the log start, so anything unknown is "incompatible".
 */
public final class ChainRestore {

    private static final Logger LOG = LoggerFactory.getLogger(ChainRestore.class);

    private final CheckpointDirectory dir;
    private final RestoreProgress progress;
    private final Consumer<String> sink;
    private final LongSupplier nanoTime;

    /**
     * A restore of {@code dir}, counting into {@code progress} and logging progress lines to {@code sink}.
     *
     * @param nanoTime the clock of progress and rates
     */
    public ChainRestore(CheckpointDirectory dir, RestoreProgress progress, Consumer<String> sink,
            LongSupplier nanoTime) {
        this.dir = Objects.requireNonNull(dir, "dir");
        this.progress = Objects.requireNonNull(progress, "progress");
        this.sink = Objects.requireNonNull(sink, "sink");
        this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
    }

    /** What a restore found. Immutable. */
    public static final class Result {
        private final CheckpointFormat.Header last; // null: nothing restored
        private final List<Path> files;
        private final long entries;
        private final boolean fellBack;
        private final boolean chainComplete;
        private final long baseSequence;
        private final long baseBytes;
        private final long deltaBytes;

        Result(CheckpointFormat.Header last, List<Path> files, long entries, boolean fellBack, boolean chainComplete,
                long baseSequence, long baseBytes, long deltaBytes) {
            this.last = last;
            this.files = List.copyOf(files);
            this.entries = entries;
            this.fellBack = fellBack;
            this.chainComplete = chainComplete;
            this.baseSequence = baseSequence;
            this.baseBytes = baseBytes;
            this.deltaBytes = deltaBytes;
        }

        /** Whether a checkpoint was restored. */
        public boolean found() {
            return last != null;
        }

        /** The header of the last file read (its offsets position the replay); null when none was found. */
        public CheckpointFormat.Header last() {
            return last;
        }

        /** The files read, in order: the base, then its deltas. */
        public List<Path> files() {
            return files;
        }

        /** Entries read into the state (base and deltas; a delta may repeat a code). */
        public long entries() {
            return entries;
        }

        /** Whether a damaged checkpoint was skipped. */
        public boolean fellBack() {
            return fellBack;
        }

        /** Whether the whole chain was read and the state continues it: the next checkpoint may be a delta. */
        public boolean chainComplete() {
            return chainComplete;
        }

        /** The sequence of the chain's base, when {@link #chainComplete()}. */
        public long baseSequence() {
            return baseSequence;
        }

        /** The base's file size, when {@link #chainComplete()}. */
        public long baseBytes() {
            return baseBytes;
        }

        /** The sizes of the deltas read, when {@link #chainComplete()}. */
        public long deltaBytes() {
            return deltaBytes;
        }
    }

    /**
     * Unions the newest checkpoint chain that passes every check into {@code state}. A damaged file is logged with
     * the reason and quarantined, so it is neither retried nor counted among the kept ones. A failed read may leave
     * part of the damaged file in the state: only blocks whose checksum passed, that is genuine observations, which a
     * set union tolerates. Stray temporary files are deleted first.
     *
     * @throws IncompatibleCheckpointException if a checkpoint is intact but does not fit {@code state}, or cannot be
     *     read at all; no file is renamed or deleted then
     */
    public Result restore(CouponState state) throws IOException {
        Objects.requireNonNull(state, "state");
        boolean[] fellBack = {false};
        dir.deleteTemporaryFiles();
        TreeMap<Long, Path> files = dir.list();
        for (Map.Entry<Long, Path> e : files.descendingMap().entrySet()) {
            Path file = e.getValue();
            try {
                CheckpointFormat.Header header = CheckpointFormat.decode(file);
                if (header.isDelta()) {
                    continue; // a delta is read after its base, never alone
                }
                return restoreChain(header, dir.list().tailMap(e.getKey(), false), state, fellBack);
            } catch (SnapshotFormatException ex) {
                damaged(file, ex, fellBack);
            } catch (IncompatibleCheckpointException ex) {
                throw ex;
            } catch (IOException | RuntimeException ex) { // permissions, I/O errors, a state we cannot fill
                throw new IncompatibleCheckpointException(file, "reading it failed: " + ex, ex);
            }
        }
        progress.finish(0, nanoTime.getAsLong());
        return new Result(null, List.of(), 0, fellBack[0], false, -1, 0, 0);
    }

    /** Reads {@code base} (already known intact in its header) and its deltas among {@code newer}. */
    private Result restoreChain(CheckpointFormat.Header base, SortedMap<Long, Path> newer, CouponState state,
            boolean[] fellBack) throws IOException {
        long start = nanoTime.getAsLong();
        long newerBytes = 0;
        for (Path p : newer.values()) {
            newerBytes += sizeOrZero(p); // known before reading: what a watcher's progress counts towards
        }
        progress.begin(base.size() + newerBytes, start);
        if (base.version() < 3) { // a version 1 or 2 checkpoint: a snapshot, no chain
            long entries = readLegacy(base, state, sink, nanoTime, progress);
            progress.finish(base.size(), nanoTime.getAsLong());
            logRestored(base, List.of(base.file()), entries, start, state);
            return new Result(base, List.of(base.file()), entries, fellBack[0], false, -1, 0, 0);
        }
        CouponSnapshots.ChainReader chain = CouponSnapshots.chainReader(state).reserve(reserve(base, newerBytes));
        long entries = readPart(base, chain);
        CheckpointFormat.Header last = base;
        List<Path> read = new ArrayList<>();
        read.add(base.file());
        long deltaBytes = 0;
        boolean complete = true;
        List<Path> pending = new ArrayList<>(newer.values());
        for (int i = 0; i < pending.size(); i++) {
            Path file = pending.get(i);
            CheckpointFormat.Header header;
            try {
                header = CheckpointFormat.decode(file);
                if (!header.isDelta() || header.baseSequence() != base.sequence()) {
                    LOG.warn("ignoring checkpoint {}: not a delta of base {} (a leftover of a damaged chain)", file,
                            base.file().getFileName());
                    continue;
                }
                entries += readPart(header, chain);
            } catch (SnapshotFormatException ex) {
                damaged(file, ex, fellBack);
                // the deltas after a damaged one follow it: applying them would skip its changes
                for (Path later : pending.subList(i + 1, pending.size())) {
                    CheckpointFormat.Header h = headerOrNull(later);
                    if (h != null && h.isDelta() && h.baseSequence() == base.sequence()) {
                        LOG.warn("quarantining checkpoint {}: it follows the damaged delta {}", later,
                                file.getFileName());
                        dir.quarantine(later);
                    }
                }
                complete = false;
                break;
            }
            last = header;
            read.add(file);
            deltaBytes += header.size();
        }
        if (complete) {
            chain.complete(); // the state continues the chain: the next checkpoint may be a delta of this base
        }
        progress.finish(base.size() + deltaBytes, nanoTime.getAsLong());
        logRestored(last, read, entries, start, state);
        return new Result(last, read, entries, fellBack[0], complete, base.sequence(), base.size(), deltaBytes);
    }

    /**
     * Codes to make room for beyond the base, given the bytes of the files after it: an entry of a delta is at least
     * {@value CheckpointFormat#MIN_ENTRY_BYTES} bytes and may be a new code, and the records replayed after the
     * restore bring new codes too (1/64 of the base's entries as a guess). Without it a base read fills the table to
     * its limit and the first new code moves every entry.
     */
    static long reserve(CheckpointFormat.Header base, long deltaBytes) {
        long baseEntries = Math.max(0, base.size() - base.length()) / CheckpointFormat.MIN_ENTRY_BYTES;
        return deltaBytes / CheckpointFormat.MIN_ENTRY_BYTES + baseEntries / 64;
    }

    private static long sizeOrZero(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return 0; // only for progress; reading it will say what is wrong
        }
    }

    private void logRestored(CheckpointFormat.Header last, List<Path> files, long entries, long start,
            CouponState state) {
        double seconds = (nanoTime.getAsLong() - start) / 1e9;
        long bytes = 0;
        for (Path p : files) {
            bytes += sizeOrZero(p); // only for the log line
        }
        sink.accept(String.format("restored checkpoint %s (%d file%s: a base and %d delta%s): %d entries, "
                + "%d codes, %.1f MB in %.3f s (%.1f MB/s), offsets %s", last.file(), files.size(),
                files.size() == 1 ? "" : "s", Math.max(0, files.size() - 1), files.size() == 2 ? "" : "s", entries,
                state.size(), bytes / 1e6, seconds, seconds > 0 ? bytes / 1e6 / seconds : 0.0, last.offsets()));
    }

    private void damaged(Path file, SnapshotFormatException ex, boolean[] fellBack) {
        if (ex.kind() != SnapshotFormatException.Kind.DAMAGED) {
            throw new IncompatibleCheckpointException(file, ex.getMessage(), ex);
        }
        LOG.warn("checkpoint {} is damaged ({}): quarantining it as {} and falling back", file, ex.getMessage(),
                file.getFileName() + CheckpointDirectory.CORRUPT);
        fellBack[0] = true;
        dir.quarantine(file);
    }

    private static CheckpointFormat.Header headerOrNull(Path file) {
        try {
            return CheckpointFormat.decode(file);
        } catch (IOException e) {
            return null;
        }
    }

    /** Reads the base or delta after {@code header} through a progress-counting channel. */
    private long readPart(CheckpointFormat.Header header, CouponSnapshots.ChainReader chain) throws IOException {
        try (FileChannel channel = FileChannel.open(header.file(), StandardOpenOption.READ)) {
            channel.position(header.length());
            long bytes = header.size() - header.length();
            progress.add(header.length());
            var in = ProgressReads.channel(channel, new ProgressReads(header.file(), header.size(), sink, nanoTime,
                    header.length(), progress));
            return header.isDelta() ? chain.delta(in, bytes) : chain.base(in, bytes);
        } catch (SnapshotFormatException e) {
            throw new SnapshotFormatException(header.file() + ": " + e.getMessage(), e.kind());
        }
    }

    /** Reads the snapshot of a version 1 or 2 checkpoint. */
    private static long readLegacy(CheckpointFormat.Header header, CouponState state, Consumer<String> sink,
            LongSupplier nanoTime, RestoreProgress shared) throws IOException {
        try (InputStream counting = ProgressReads.stream(Files.newInputStream(header.file()), new ProgressReads(
                header.file(), header.size(), sink, nanoTime, 0, shared));
                BufferedInputStream in = new BufferedInputStream(counting, 1 << 16)) {
            in.skipNBytes(header.length());
            return CouponSnapshots.read(in, state); // the buffered stream: no checksum over the snapshot
        } catch (SnapshotFormatException e) {
            throw new SnapshotFormatException(header.file() + ": " + e.getMessage(), e.kind());
        }
    }

    /**
     * Reads one checkpoint file into {@code state} (a base, or a version 1/2 checkpoint), for tools and tests; throws
     * saying which check failed. A delta cannot be read alone: it throws a {@link SnapshotFormatException}.
     *
     * @return the file's header (its offsets and topic ids)
     */
    public static CheckpointFormat.Header readOne(Path file, CouponState state) throws IOException {
        CheckpointFormat.Header header = CheckpointFormat.decode(file);
        if (header.version() < 3) {
            readLegacy(header, state, LOG::info, System::nanoTime, null);
        } else if (!header.isDelta()) {
            CouponSnapshots.ChainReader chain = CouponSnapshots.chainReader(state);
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                channel.position(header.length());
                chain.base(channel, header.size() - header.length());
            }
        } else {
            throw new SnapshotFormatException(file + ": a delta (of base " + header.baseSequence() + ") cannot be "
                    + "read without its base", SnapshotFormatException.Kind.INCOMPATIBLE);
        }
        return header;
    }
}
