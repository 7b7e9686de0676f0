package io.couponstate.examples;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.PartitionedCouponState;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Options of the commands that run a {@link CouponConsumerRunner}: {@code consume} and {@code serve}. */
final class RunnerOptions {

    @Mixin
    KafkaOptions kafka;

    @Option(names = "--topics", split = ",", paramLabel = "TOPIC",
            description = "The topics to read, one per source, at most 64 (default: ${DEFAULT-VALUE}).",
            defaultValue = "couponbase1,couponbase2,couponbase3")
    List<String> topics;

    @Option(names = "--allow-missing-topics", description = "Start even when a topic does not exist yet (it is "
            + "read once created); without it a missing topic is an error naming it.")
    boolean allowMissingTopics;

    @Option(names = "--group", paramLabel = "GROUP",
            description = "The group offsets are committed to, for lag monitoring only; with serve --mode "
            + "partitioned, the consumer group the instances share (default: ${DEFAULT-VALUE}).",
            defaultValue = "coupon-state")
    String group;

    @Option(names = "--checkpoint-dir", paramLabel = "DIR",
            description = "Where checkpoints (state + offsets) are kept; a restart "
            + "resumes from the newest one. Default: none, the state is rebuilt from the topics' beginning.")
    Path checkpointDir;

    @Option(names = "--from-beginning", description = "Say that the state must be built from the topics' beginning: "
            + "an error when --checkpoint-dir holds checkpoints (the runner always resumes from the newest one; use "
            + "a new directory). Without a checkpoint directory every start is from the beginning anyway.")
    boolean fromBeginning;

    @Option(names = "--checkpoint-interval-ms", paramLabel = "MS",
            description = "How often a checkpoint is written "
            + "(default: ${DEFAULT-VALUE}); one is also written on a clean stop.", defaultValue = "60000")
    long checkpointIntervalMs;

    @Option(names = "--state", paramLabel = "KIND", description = "The state implementation: ${COMPLETION-CANDIDATES} "
            + "(default: ${DEFAULT-VALUE}).", defaultValue = "LOCKFREE")
    StateKind stateKind;

    @Option(names = "--expected-codes", paramLabel = "N",
            description = "Sizing hint for the state (default: ${DEFAULT-VALUE}).",
            defaultValue = "1000000")
    long expectedCodes;

    @Option(names = "--threshold", paramLabel = "N", description = "Distinct sources (topics) a code needs to be "
            + "valid, 1..number of topics (default: ${DEFAULT-VALUE}).", defaultValue = "2")
    int threshold;

    @Option(names = "--case-insensitive", description = "Fold lower-case codes to upper case (in records and in HTTP "
            + "queries); without it a lower-case code is malformed.")
    boolean caseInsensitive;

    @Option(names = "--code-length", paramLabel = "MIN..MAX", converter = CodeLength.Converter.class,
            description = "Allowed code lengths, within 1..12 (default: ${DEFAULT-VALUE}); other records are counted "
            + "as invalid.", defaultValue = "8..10")
    CodeLength codeLength;

    @Option(names = "--progress-interval-ms", paramLabel = "MS", description = "While restoring and catching up: "
            + "on a terminal a progress bar on standard error, else a progress line there every MS (default: "
            + "${DEFAULT-VALUE}); 0 shows none.", defaultValue = "10000")
    long progressIntervalMs;

    /** Changes journaled between two checkpoints (32 MB): a delta holds up to this many, else a base is written. */
    static final int JOURNAL_ENTRIES = 1 << 22;

    /** The state's configuration from the options; its maxSources is the number of topics. */
    CouponStateConfig stateConfig() {
        return stateConfig(expectedCodes, checkpointDir == null ? 0 : JOURNAL_ENTRIES);
    }

    private CouponStateConfig stateConfig(long expected, int journalEntries) {
        int sources = topics.size();
        if (sources > CouponStateConfig.MAX_SOURCES) {
            throw new CommandFailure("--topics: " + sources + " topics (expected: at most "
                    + CouponStateConfig.MAX_SOURCES + ", one source each)", ExitCodes.USAGE);
        }
        if (threshold < 1 || threshold > sources) {
            throw new CommandFailure("--threshold: " + threshold + " (expected: 1.." + sources + ", the number of "
                    + "topics)", ExitCodes.USAGE);
        }
        return CouponStateConfig.builder()
                .threshold(threshold)
                .maxSources(sources)
                .codeLength(codeLength.min(), codeLength.max())
                .caseInsensitive(caseInsensitive)
                .expectedCodes(Math.max(1_024, expected))
                // with checkpoints, a journal of the changes makes each one a delta, not a full rewrite: 8 bytes
                // an entry (twice that while a checkpoint is written); more changes between two checkpoints than
                // it holds just make the next one a full base
                .changeJournalCapacity(journalEntries)
                .build();
    }

    /**
     * Checks the options against each other and the cluster before anything starts: a broker answers within
     * {@code --wait}, the topics exist (or {@code --allow-missing-topics}), {@code --from-beginning} holds.
     */
    void check(String command, PrintWriter err) {
        check(command, err, false);
    }

    /**
     * The same; with {@code partitioned}, also requires every topic to exist with one partition count, and returns
     * it (else 0).
     */
    int check(String command, PrintWriter err, boolean partitioned) {
        stateConfig();
        if (partitioned && allowMissingTopics) {
            throw new CommandFailure("--allow-missing-topics: not with --mode partitioned (the shards are the "
                    + "topics' partitions, so every topic must exist to be counted)", ExitCodes.USAGE);
        }
        if (checkpointDir != null && Files.exists(checkpointDir) && !Files.isDirectory(checkpointDir)) {
            throw new CommandFailure("--checkpoint-dir " + checkpointDir + ": not a directory", ExitCodes.USAGE);
        }
        if (fromBeginning && checkpointDir != null && hasCheckpoints(checkpointDir)) {
            throw new CommandFailure("--from-beginning: " + checkpointDir + " holds checkpoints, and the runner "
                    + "resumes from the newest one; give a new --checkpoint-dir (or delete that one) to rebuild "
                    + "from the topics' beginning", ExitCodes.USAGE);
        }
        try (KafkaCheck check = KafkaCheck.reachable(kafka)) {
            List<String> missing = check.requireTopics(topics, allowMissingTopics);
            if (!missing.isEmpty()) {
                err.println(command + ": topic" + (missing.size() == 1 ? " " : "s ") + String.join(", ", missing)
                        + " not found; waiting for " + (missing.size() == 1 ? "it" : "them")
                        + " (--allow-missing-topics)");
                err.flush();
            }
            return partitioned ? check.commonPartitionCount(topics) : 0;
        }
    }

    private static boolean hasCheckpoints(Path dir) {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> files = Files.list(dir)) {
            // a partitioned runner keeps its shards' checkpoints in partition-<p>/ subdirectories
            return files.anyMatch(f -> f.getFileName().toString().startsWith("checkpoint-")
                    || (f.getFileName().toString().startsWith("partition-") && hasCheckpoints(f)));
        } catch (IOException e) {
            throw new CommandFailure("cannot read " + dir + ": " + Messages.describe(e));
        }
    }

    /** {@code --progress-interval-ms}, checked. */
    Duration progressInterval() {
        if (progressIntervalMs < 0) {
            throw new CommandFailure("--progress-interval-ms: " + progressIntervalMs + " (expected: >= 0)",
                    ExitCodes.USAGE);
        }
        return Duration.ofMillis(progressIntervalMs);
    }

    /** A runner over a new state, not started. */
    CouponConsumerRunner build() {
        return build(stateKind.create(stateConfig()), CouponConsumerRunner.Mode.REPLICATED, null);
    }

    /**
     * A partitioned state of {@code partitions} shards of {@code --state}'s kind, each sized for its share of
     * {@code --expected-codes} (and of the change journal).
     */
    PartitionedCouponState partitionedState(int partitions) {
        CouponStateConfig config = stateConfig();
        CouponStateConfig shard = stateConfig(Math.max(1_024, expectedCodes / partitions),
                checkpointDir == null ? 0 : Math.max(1 << 16, JOURNAL_ENTRIES / partitions));
        return new PartitionedCouponState(partitions, config, p -> stateKind.create(shard));
    }

    /**
     * A runner over {@code state} in {@code mode}, advertising {@code endpoint} (null: none), not started.
     *
     * @throws IllegalArgumentException from the runner's builder, naming the value it refuses
     */
    CouponConsumerRunner build(CouponState state, CouponConsumerRunner.Mode mode, String endpoint) {
        CouponConsumerRunner.Builder builder = CouponConsumerRunner.builder()
                .mode(mode)
                .bootstrapServers(kafka.bootstrapServers)
                .groupId(group)
                .topics(topics)
                .state(state)
                .checkpointInterval(Duration.ofMillis(checkpointIntervalMs))
                .allowMissingTopics(allowMissingTopics);   // else the runner fails naming a missing topic
        if (checkpointDir != null) {
            builder.checkpointDirectory(checkpointDir);
        }
        if (endpoint != null) {
            builder.applicationEndpoint(endpoint);
        }
        kafka.properties.forEach(builder::consumerProperty);
        return builder.build();
    }

    /**
     * After {@code close()}: a runner that ended FAILED (its final checkpoint or its handler failed, or it failed
     * before) makes the command fail, so a lost checkpoint is never an exit 0.
     */
    static void requireStoppedCleanly(CouponConsumerRunner runner) {
        if (runner.runnerState() == CouponConsumerRunner.State.FAILED) {
            throw new CommandFailure("the runner failed: " + runner.failureCause().map(Messages::describe)
                    .orElse("no cause recorded"));
        }
    }
}
