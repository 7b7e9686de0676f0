package io.couponstate.examples;

import io.couponstate.kafka.CouponFilePublisher;
import io.couponstate.kafka.PublishException;
import io.couponstate.kafka.PublishResult;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
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
            + "extensions; missing topics are created with retention.ms=-1. Blank lines and lines longer than "
            + "--max-line-length are counted and skipped.",
            "Exit code 1 when a file cannot be read to its end (what was read before it is sent)."})
final class PublishCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    KafkaOptions kafka;

    @Parameters(arity = "1..*", paramLabel = "FILE", description = "The coupon files.")
    List<Path> files;

    @Option(names = "--partitions", paramLabel = "N",
            description = "Partitions of created topics (default: ${DEFAULT-VALUE}).",
            defaultValue = "3")
    int partitions;

    @Option(names = "--max-line-length", paramLabel = "BYTES", description = "Longer lines are counted and skipped "
            + "(default: ${DEFAULT-VALUE}).", defaultValue = "" + CouponFilePublisher.DEFAULT_MAX_LINE_LENGTH)
    int maxLineLength;

    @Option(names = "--no-progress", description = "Do not draw progress bars.")
    boolean noProgress;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        KafkaCheck.reachable(kafka).close();
        try {
            for (PublishResult r : publish(kafka, files, partitions, maxLineLength, !noProgress)) {
                out.println(describe(r));
            }
            return 0;
        } catch (PublishException e) {
            err.println("publish failed: " + e.getMessage());
            return 1;
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** Publishes the files in order, with a progress bar on standard error when asked. */
    static List<PublishResult> publish(KafkaOptions kafka, List<Path> files, int partitions, int maxLineLength,
                                       boolean progress) throws java.io.IOException {
        List<PublishResult> results = new ArrayList<>();
        CouponFilePublisher.Builder builder = CouponFilePublisher.builder()
                .bootstrapServers(kafka.bootstrapServers)
                .partitions(partitions)
                .maxLineLength(maxLineLength);
        for (Map.Entry<String, String> p : kafka.properties.entrySet()) {
            builder.clientProperty(p.getKey(), p.getValue());
        }
        try (PublishProgressBar bar = new PublishProgressBar(System.err)) {
            if (progress) {
                builder.progressListener(bar);
            }
            try (CouponFilePublisher publisher = builder.build()) {
                for (Path file : files) {
                    results.add(publisher.publish(file));
                }
            }
        }
        return results;
    }

    static String describe(PublishResult r) {
        return String.format("published %s -> %s: %,d records, %,d blank and %,d oversized lines skipped, "
                + "%s, %s records/s", r.file().getFileName(), r.topic(), r.sent(), r.blankLines(),
                r.oversizedLines(), Durations.seconds(r.elapsed()), Durations.rate(r.sent(), r.elapsed()));
    }
}
