package io.couponstate.examples;

import io.couponstate.kafka.CouponFilePublisher;
import io.couponstate.kafka.PublishException;
import io.couponstate.kafka.PublishResult;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** Publishes coupon files, one topic per file. */
@Command(name = "publish", mixinStandardHelpOptions = true,
        header = "Publishes coupon files to Kafka, one topic per file.",
        description = {"Files are plain text or .gz, one code per line; the topic is the file name without "
            + "extensions (or --topic for a single file); missing topics are created with retention.ms=-1 unless "
            + "--no-create-topics. Blank lines and lines longer than --max-line-length are counted and skipped.",
            "Checked before any topic is created: a directory, a missing or unreadable file, and a file that is not "
            + "text lines (a NUL byte, or more than half of the lines in its first 64 KiB over --max-line-length) "
            + "are refused. A file with no code line is skipped with a warning and gets no topic, unless "
            + "--allow-empty.",
            "Prints one line per file as it finishes: 'published FILE -> TOPIC: ...' or 'skipped FILE: ...'. Stops "
            + "at the first file that fails (exit 1); what was read of it before the failure is sent."})
final class PublishCommand implements Callable<Integer> {

    /** The file name that means standard input. */
    static final Path STDIN = Path.of("-");

    @Spec
    CommandSpec spec;

    @Mixin
    KafkaOptions kafka;

    @Parameters(arity = "1..*", paramLabel = "FILE", description = "The coupon files; '-' is standard input "
            + "(with --topic). Each is read once, so pipes, FIFOs and <(zcat file.gz) work, gzip or not.")
    List<Path> files;

    @Option(names = "--topic", paramLabel = "NAME", description = "The topic, instead of one named after the file; "
            + "only with a single file.")
    String topic;

    @Option(names = "--partitions", paramLabel = "N",
            description = "Partitions of created topics (default: ${DEFAULT-VALUE}).",
            defaultValue = "3")
    int partitions;

    @Option(names = "--replication-factor", paramLabel = "N", description = "Replication factor of created topics "
            + "(default: the broker's default).")
    Short replicationFactor;

    @Option(names = "--no-create-topics", description = "Never create a topic: a missing one is an error.")
    boolean noCreateTopics;

    @Option(names = "--allow-empty", description = "Create the (empty) topic of a file without a code line, "
            + "instead of skipping it.")
    boolean allowEmpty;

    @Option(names = "--max-line-length", paramLabel = "BYTES", description = "Longer lines are counted and skipped "
            + "(default: ${DEFAULT-VALUE}).", defaultValue = "" + CouponFilePublisher.DEFAULT_MAX_LINE_LENGTH)
    int maxLineLength;

    @Option(names = "--no-progress", description = "Do not draw progress bars.")
    boolean noProgress;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (topic != null && files.size() != 1) {
            throw new CommandFailure("--topic " + Messages.cut(topic) + " with " + files.size() + " files "
                    + "(expected: exactly one file; without --topic each file gets a topic named after it)",
                    ExitCodes.USAGE);
        }
        if (files.contains(STDIN) && topic == null) {
            throw new CommandFailure("'-' (standard input) without --topic (expected: --topic NAME, since standard "
                    + "input has no file name to name a topic after)", ExitCodes.USAGE);
        }
        Settings settings = new Settings(kafka, partitions, maxLineLength, !noProgress);
        settings.topic = topic;
        settings.replicationFactor = replicationFactor;
        settings.createTopics = !noCreateTopics;
        settings.skipEmptyFiles = !allowEmpty;
        KafkaCheck.reachable(kafka).close();
        try {
            publish(settings, files, r -> {
                // a skipped file is also a WARN in the publisher's log (stderr); this line says what to do
                out.println(describe(r) + (r.skippedEmpty() ? " (--allow-empty creates it)" : ""));
                out.flush();
            });
            return ExitCodes.OK;
        } catch (PublishException e) {
            throw new CommandFailure(e.getMessage());
        } catch (IOException e) {
            throw new CommandFailure(Messages.describe(e));
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** What {@link #publish} needs to know. */
    static final class Settings {
        final KafkaOptions kafka;
        final int partitions;
        final int maxLineLength;
        final boolean progress;
        String topic;
        Short replicationFactor;
        boolean createTopics = true;
        boolean skipEmptyFiles = true;
        /** What the file {@code -} reads. */
        InputStream stdin = System.in;

        Settings(KafkaOptions kafka, int partitions, int maxLineLength, boolean progress) {
            this.kafka = kafka;
            this.partitions = partitions;
            this.maxLineLength = maxLineLength;
            this.progress = progress;
        }
    }

    /** Publishes the files in order, with a progress bar on standard error when asked. */
    static List<PublishResult> publish(KafkaOptions kafka, List<Path> files, int partitions, int maxLineLength,
                                       boolean progress) throws IOException {
        return publish(new Settings(kafka, partitions, maxLineLength, progress), files, r -> { });
    }

    /**
     * Publishes the files in order, handing each result to {@code done} as soon as its file is finished (so a
     * later failure cannot hide it), with a progress bar on standard error when asked.
     */
    static List<PublishResult> publish(Settings s, List<Path> files, Consumer<PublishResult> done)
            throws IOException {
        List<PublishResult> results = new ArrayList<>();
        CouponFilePublisher.Builder builder = CouponFilePublisher.builder()
                .bootstrapServers(s.kafka.bootstrapServers)
                .partitions(s.partitions)
                .maxLineLength(s.maxLineLength)
                .createTopics(s.createTopics)
                .skipEmptyFiles(s.skipEmptyFiles);
        if (s.replicationFactor != null) {
            builder.replicationFactor(s.replicationFactor);
        }
        for (Map.Entry<String, String> p : s.kafka.properties.entrySet()) {
            builder.clientProperty(p.getKey(), p.getValue());
        }
        try (PublishProgressBar bar = new PublishProgressBar(System.err)) {
            if (s.progress) {
                builder.progressListener(bar);
            }
            try (CouponFilePublisher publisher = builder.build()) {
                for (Path file : files) {
                    PublishResult r;
                    if (file.equals(STDIN)) {
                        r = publisher.publish(s.stdin, "standard input", s.topic);
                    } else {
                        r = s.topic == null ? publisher.publish(file) : publisher.publish(file, s.topic);
                    }
                    bar.close();
                    results.add(r);
                    done.accept(r);
                }
            }
        }
        return results;
    }

    static String describe(PublishResult r) {
        if (r.skippedEmpty()) {
            return String.format("skipped %s: no code line (%,d blank lines), topic %s not created",
                    r.file().getFileName(), r.blankLines(), r.topic());
        }
        return String.format("published %s -> %s: %,d records, %,d blank and %,d oversized lines skipped, "
                + "%s, %s records/s", r.file().getFileName(), r.topic(), r.sent(), r.blankLines(),
                r.oversizedLines(), Durations.seconds(r.elapsed()), Durations.rate(r.sent(), r.elapsed()));
    }
}
