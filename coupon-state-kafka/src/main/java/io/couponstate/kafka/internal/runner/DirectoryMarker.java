package io.couponstate.kafka.internal.runner;

import io.couponstate.kafka.IncompatibleCheckpointException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Properties;

/**
 * The mark a partitioned runner leaves on its checkpoint directory ({@value #FILE}: mode and partition count), and
 * the check every runner makes of it at start, so that a directory is never read by a runner of the other mode or
 * of another partition count. Stateless.
 */
public final class DirectoryMarker {

    /** The file that marks a checkpoint directory as partitioned, with its partition count. */
    public static final String FILE = "partitioned.properties";

    private DirectoryMarker() {
    }

    /**
     * Checks that {@code dir} suits a runner of this mode: a partitioned runner needs no marker or one with its
     * partition count, and no replicated checkpoint at the top; a replicated runner needs no marker. Writes the
     * marker for a partitioned runner.
     *
     * @throws IncompatibleCheckpointException naming the directory and both values otherwise
     */
    public static void guard(Path dir, boolean partitionedMode, int partitions) {
        Path marker = dir.resolve(FILE);
        try {
            if (!partitionedMode) {
                if (Files.exists(marker)) {
                    throw new IncompatibleCheckpointException(marker, "checkpoint directory " + dir + " holds the "
                            + "shards of a partitioned runner (mode PARTITIONED, " + readPartitions(marker)
                            + " partitions) but this runner is in mode REPLICATED (expected: another directory, "
                            + "or mode(PARTITIONED))", null);
                }
                return;
            }
            if (Files.exists(marker)) {
                int then = readPartitions(marker);
                if (then != partitions) {
                    throw new IncompatibleCheckpointException(marker, "checkpoint directory " + dir + " holds "
                            + "shards of " + then + " partitions but this runner's PartitionedCouponState has "
                            + partitions + " partitions (expected: the same partition count, or another directory)",
                            null);
                }
                return;
            }
            if (Files.isDirectory(dir)) {
                try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "checkpoint-*")) {
                    for (Path f : files) {
                        throw new IncompatibleCheckpointException(f, "checkpoint directory " + dir + " holds a "
                                + "checkpoint of a replicated runner (mode REPLICATED, the whole state) but this "
                                + "runner is in mode PARTITIONED with " + partitions + " partitions (expected: "
                                + "another directory, or mode(REPLICATED))", null);
                    }
                }
            }
            Files.createDirectories(dir);
            Properties p = new Properties();
            p.setProperty("mode", "PARTITIONED");
            p.setProperty("partitions", String.valueOf(partitions));
            Path tmp = dir.resolve(FILE + ".tmp");
            try (OutputStream out = Files.newOutputStream(tmp)) {
                p.store(out, "couponstate partitioned checkpoint directory: one partition-<p> directory per shard");
            }
            Files.move(tmp, marker, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new IllegalStateException("checkpoint directory " + dir + ": cannot be used: " + e, e);
        }
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
