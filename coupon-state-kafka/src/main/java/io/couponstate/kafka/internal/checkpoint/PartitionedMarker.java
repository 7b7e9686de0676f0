package io.couponstate.kafka.internal.checkpoint;

import io.couponstate.core.internal.DurableFiles;
import io.couponstate.kafka.IncompatibleCheckpointException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * The file that marks a checkpoint directory as a partitioned runner's (one {@code partition-<p>} directory per shard
 * below it), with its partition count, and the checks both kinds of owner make against it: a directory holds either
 * one state's checkpoints or a partitioned runner's shards, never both. Stateless and thread-safe.
 */
public final class PartitionedMarker {

    /** The marker's file name. */
    public static final String NAME = "partitioned.properties";

    private PartitionedMarker() {
    }

    /**
     * Refuses {@code dir} to an owner of one state's checkpoints (a replicated runner, a {@code CouponCheckpoints}) if
     * a partitioned runner marked it. Creates nothing.
     *
     * @throws IncompatibleCheckpointException naming the directory and its partition count if it is marked
     * @throws IOException if the marker exists but cannot be read
     */
    public static void refuseIfPartitioned(Path dir) throws IOException {
        Path marker = dir.resolve(NAME);
        if (Files.exists(marker)) {
            throw new IncompatibleCheckpointException(marker, "checkpoint directory " + dir + " holds the shards of "
                    + "a partitioned runner (mode PARTITIONED, " + readPartitions(marker) + " partitions) but this "
                    + "owner keeps one state's checkpoints (mode REPLICATED) (expected: another directory, or "
                    + "mode(PARTITIONED))", null);
        }
    }

    /**
     * Claims {@code dir} for a partitioned runner of {@code partitions} partitions: accepts it if marked with the same
     * count, marks it (durably) if it holds no checkpoint of one state, refuses it otherwise.
     *
     * @throws IncompatibleCheckpointException naming the directory and both values if it does not suit
     * @throws IOException if it cannot be read, created or marked
     */
    public static void claimForPartitions(Path dir, int partitions) throws IOException {
        Path marker = dir.resolve(NAME);
        if (Files.exists(marker)) {
            int then = readPartitions(marker);
            if (then != partitions) {
                throw new IncompatibleCheckpointException(marker, "checkpoint directory " + dir + " holds shards of "
                        + then + " partitions but this runner's PartitionedCouponState has " + partitions
                        + " partitions (expected: the same partition count, or another directory)", null);
            }
            return;
        }
        if (Files.isDirectory(dir)) {
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, CheckpointFormat.PREFIX + "*")) {
                for (Path f : files) {
                    throw new IncompatibleCheckpointException(f, "checkpoint directory " + dir + " holds a "
                            + "checkpoint of a replicated runner (mode REPLICATED, the whole state) but this runner "
                            + "is in mode PARTITIONED with " + partitions + " partitions (expected: another "
                            + "directory, or mode(REPLICATED))", null);
                }
            }
        }
        Files.createDirectories(dir);
        Properties p = new Properties();
        p.setProperty("mode", "PARTITIONED");
        p.setProperty("partitions", String.valueOf(partitions));
        DurableFiles.write(marker, channel -> {
            p.store(Channels.newOutputStream(channel), "couponstate partitioned checkpoint directory: one "
                    + "partition-<p> directory per shard");
            return null;
        });
    }

    private static int readPartitions(Path marker) throws IOException {
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(marker)) {
            p.load(in);
        }
        String v = p.getProperty("partitions");
        try {
            return Integer.parseInt(String.valueOf(v).trim());
        } catch (NumberFormatException e) {
            throw new IncompatibleCheckpointException(marker, "partitions=" + v + " is not a number", e);
        }
    }
}
