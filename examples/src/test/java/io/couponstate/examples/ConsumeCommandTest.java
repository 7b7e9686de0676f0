package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

@Tag("integration")
class ConsumeCommandTest {

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    static Path dir;

    @BeforeAll
    static void publishGzipFilesAndAMessyOne() throws Exception {
        List<Path> files = CouponFileGenerator.generate(dir.resolve("gz"), 3_000, 11, true);
        Topics.publish(KAFKA.bootstrapServers(), files.toArray(Path[]::new));
        // a fourth source: a blank line and an oversized line must never reach the runner (it would count them
        // as invalid records), and SUPER100, in file 1 too, becomes valid through it
        Path messy = dir.resolve("messy4.txt");
        Files.writeString(messy, "\n" + "SUPER100\n" + "   \n" + "Z".repeat(200) + "\n" + "BIRTHDAY");
        Cli.Run run = Topics.publish(KAFKA.bootstrapServers(), messy);
        assertThat(run.out()).contains("-> messy4: 2 records, 2 blank and 1 oversized lines skipped");
    }

    @Test
    void consume_untilCaughtUp_printsTheFixedFormat() {
        Cli.Run run = Cli.run("consume", "--bootstrap-servers", KAFKA.bootstrapServers(), "--until-caught-up");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        List<String> lines = List.of(run.out().split("\n", -1));
        int codes = CouponFileGenerator.PLANTED_VALID.size();
        assertThat(lines.get(0)).isEqualTo("valid codes:");
        assertThat(lines.subList(1, 1 + codes)).containsExactlyElementsOf(CouponFileGenerator.PLANTED_VALID);
        assertThat(lines.get(1 + codes)).isEmpty();
        assertThat(lines.get(2 + codes)).startsWith("totals: valid=8 ");
        assertThat(Topics.total(run.out(), "records")).isEqualTo(3 * 3_000 + 8 + 8 + 9);
        assertThat(Topics.total(run.out(), "distinct")).isEqualTo(3 * 3_000 + 10);
        assertThat(Topics.total(run.out(), "invalid")).isZero();
        assertThat(run.out()).contains("checkpoint: restored=none");
        assertThat(run.err()).as("the rate over the whole run, never 0 records/s; no -1 lag")
                .containsPattern("consume: caught up \\(9,025 records in \\d+\\.\\d{3} s, [1-9][0-9,]* records/s; ")
                .contains("no checkpoint restored)")
                .doesNotContain("lag -1");
    }

    @Test
    void consume_aRunnerThatFails_isOneLineWithoutAStackTrace() throws Exception {
        Path aFile = Files.writeString(dir.resolve("a-file"), "x");
        Cli.Run usage = Cli.run("consume", "--bootstrap-servers", KAFKA.bootstrapServers(), "--until-caught-up",
                "--checkpoint-dir", aFile.toString());
        assertThat(usage.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(usage.err().strip()).isEqualTo("consume: --checkpoint-dir " + aFile + ": not a directory");

        // below a file: found only when the runner creates the directory, so the runner fails
        Path notADirectory = aFile.resolve("sub");
        Cli.Run run = Cli.run("consume", "--bootstrap-servers", KAFKA.bootstrapServers(), "--until-caught-up",
                "--checkpoint-dir", notADirectory.toString());
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.FAILED);
        List<String> failures = run.err().lines().filter(l -> !l.startsWith("consume: reading ")).toList();
        assertThat(failures).as(run.toString()).singleElement()
                .satisfies(line -> assertThat(line).startsWith("consume: the runner failed: ")
                        .doesNotContain("Exception"));
    }

    @Test
    void consume_gzipAndMessySources_blankAndOversizedLinesNeverArrive() {
        Cli.Run run = Cli.run("consume", "--bootstrap-servers", KAFKA.bootstrapServers(), "--until-caught-up",
                "--topics", "couponbase1,couponbase2,couponbase3,messy4", "--state", "striped");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        List<String> expected = new ArrayList<>(CouponFileGenerator.PLANTED_VALID);
        expected.add(CouponFileGenerator.DECOY_FILE_1);
        expected.sort(null);
        assertThat(Topics.validSection(run.out()))
                .isEqualTo("valid codes:\n" + String.join("\n", expected) + "\n");
        assertThat(Topics.total(run.out(), "records")).isEqualTo(3 * 3_000 + 8 + 8 + 9 + 2);
        assertThat(Topics.total(run.out(), "invalid")).as("blank or oversized lines sent").isZero();
    }

    @Test
    void consume_ownedConsumerProperty_isRejectedWithTheReason() {
        Cli.Run run = Cli.run("consume", "--bootstrap-servers", KAFKA.bootstrapServers(), "--until-caught-up",
                "-X", "enable.auto.commit=true");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err().strip()).startsWith("consume: consumerProperty enable.auto.commit: owned by the runner")
                .doesNotContain("Exception");
    }
}
