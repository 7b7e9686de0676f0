package io.couponstate.kafka.internal.checkpoint;

import io.couponstate.core.BaseNeededException;
import io.couponstate.core.CouponSnapshots;
import io.couponstate.core.CouponState;
import io.couponstate.core.internal.DurableFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the checkpoints of one directory durably, each a base or a delta of the chain it keeps track of, and then
 * deletes what no restore needs. Not thread-safe: its owner serializes writes (a chain's files are written in
 * sequence order) and restores.
 *
 * <p><b>Bases and deltas.</b> A checkpoint is a delta when the state keeps a change journal, a base of the current
 * chain is durable here, and the deltas written since it add up to at most the base rollover fraction times its size;
 * otherwise a base: also when core asks for one ({@link BaseNeededException}: the journal overflowed, data came from
 * outside the chain) and after any failed write. Without a journal every checkpoint is a base (logged once).
 *
 * <p><b>Durability.</b> Through {@link DurableFiles#write}: a temporary file of its own, fsynced, renamed over its
 * final name, the directory fsynced; only then are files no restore needs deleted. A delta too exists under its name
 * only once durable, so a crash leaves either the new checkpoint or the previous ones intact, plus perhaps a stray
 * temporary file that the next restore deletes.
 */
public final class CheckpointWriter {

    /**
     * The default base rollover fraction: a new base once the deltas since the last one add up to half its size, so a
     * restore reads at most about 1.5 times a base, and the disk holds at most about 1.5 times one base (2.5 times
     * while a new base is written, as the old chain stays until the new base is durable).
     */
    public static final double DEFAULT_BASE_ROLLOVER_FRACTION = 0.5;

    private static final Logger LOG = LoggerFactory.getLogger(CheckpointWriter.class);

    private final CheckpointDirectory dir;
    private final double baseRolloverFraction;
    private final DurableFiles.BeforeRename beforeRename;
    private long nextSequence;
    private long chainBase = -1; // the sequence of the base the next delta follows; -1: a base next
    private long chainBaseBytes; // that base's file size
    private long chainDeltaBytes; // the sizes of its deltas written or restored since
    private boolean fullRewritesLogged;

    /**
     * A writer into {@code dir} whose first checkpoint is a base, numbered past every file there.
     *
     * @param baseRolloverFraction a new base once the deltas since the last one add up to more than this times its
     *     size; checked by {@link #checkedFraction}
     * @param beforeRename called after each file is fsynced, before its rename ({@link DurableFiles.BeforeRename#NONE}
     *     in production; crash tests stop there)
     */
    public CheckpointWriter(CheckpointDirectory dir, double baseRolloverFraction,
            DurableFiles.BeforeRename beforeRename) throws IOException {
        this.dir = Objects.requireNonNull(dir, "dir");
        this.baseRolloverFraction = checkedFraction(baseRolloverFraction);
        this.beforeRename = Objects.requireNonNull(beforeRename, "beforeRename");
        this.nextSequence = dir.highestSequence() + 1; // past quarantined ones too: a name is never reused
    }

    /** Checks a base rollover fraction; returns it. */
    public static double checkedFraction(double fraction) {
        if (!(fraction > 0) || Double.isInfinite(fraction)) {
            throw new IllegalArgumentException("baseRolloverFraction: " + fraction + " (expected: finite and > 0)");
        }
        return fraction;
    }

    /** Makes the next checkpoint a base. */
    public void breakChain() {
        chainBase = -1;
    }

    /** Continues after {@code restored}: a delta of its chain next if the state continues it, else a base. */
    public void afterRestore(ChainRestore.Result restored) throws IOException {
        nextSequence = Math.max(nextSequence, dir.highestSequence() + 1);
        if (restored.chainComplete()) {
            chainBase = restored.baseSequence();
            chainBaseBytes = restored.baseBytes();
            chainDeltaBytes = restored.deltaBytes();
        } else {
            chainBase = -1;
        }
    }

    /**
     * A written checkpoint: its file, sequence number (later checkpoints have higher ones), whether it is a delta (else
     * a base), and its file's size.
     */
    public record Written(Path file, long sequence, boolean delta, long bytes) {
    }

    /**
     * Writes a checkpoint of {@code offsets}, {@code topicIds} and {@code state} durably, then deletes what no restore
     * needs any more.
     *
     * @param offsets per partition, the next offset to apply
     * @param topicIds the id of each topic (any subset of the offsets' topics; may be empty)
     * @param nowMillis the time to record in the file
     */
    public Written write(CouponState state, Map<TopicPartition, Long> offsets, Map<String, Uuid> topicIds,
            long nowMillis) throws IOException {
        boolean journaled = CouponSnapshots.keepsJournal(state);
        if (!journaled && !fullRewritesLogged) {
            fullRewritesLogged = true;
            LOG.info("checkpoints to {} are full rewrites of the state: it keeps no change journal "
                    + "(CouponStateConfig changeJournalCapacity is 0; give it one for incremental checkpoints)",
                    dir.path());
        }
        long sequence = nextSequence++;
        long base = chainBase;
        boolean wantDelta = journaled && base > 0
                && chainDeltaBytes <= baseRolloverFraction * chainBaseBytes && !CouponSnapshots.baseNeeded(state);
        byte[] header = CheckpointFormat.encode(sequence, nowMillis, // refuses bad input before any file exists
                wantDelta ? CheckpointFormat.KIND_DELTA : CheckpointFormat.KIND_BASE, wantDelta ? base : sequence,
                offsets, topicIds);
        Path target = dir.path().resolve(CheckpointFormat.fileName(sequence));
        chainBase = -1; // until this write is durable: if it fails, the next one is a base
        boolean delta = DurableFiles.write(target, channel -> {
            writeFully(channel, header);
            if (wantDelta) {
                try {
                    CouponSnapshots.writeDelta(state, channel);
                    return true;
                } catch (BaseNeededException e) { // raced an overflow: this checkpoint becomes a base
                    LOG.info("checkpoint {}: writing a base instead of a delta ({})", target.getFileName(),
                            e.getMessage());
                    channel.truncate(0);
                    channel.position(0);
                    writeFully(channel, CheckpointFormat.encode(sequence, nowMillis, CheckpointFormat.KIND_BASE,
                            sequence, offsets, topicIds));
                }
            }
            CouponSnapshots.writeBase(state, channel);
            return false;
        }, beforeRename);
        long size = Files.size(target);
        if (delta) {
            chainBase = base;
            chainDeltaBytes += size;
        } else {
            chainBase = journaled ? sequence : -1;
            chainBaseBytes = size;
            chainDeltaBytes = 0;
            dir.retainAfterBase(journaled, sequence); // after a delta the chain only grew: every file is needed
        }
        return new Written(target, sequence, delta, size);
    }

    private static void writeFully(FileChannel channel, byte[] bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }
}
