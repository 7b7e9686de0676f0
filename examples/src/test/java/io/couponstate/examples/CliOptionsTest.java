package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** The options a user looks for, each end to end through the CLI against a real broker. */
@Tag("integration")
class CliOptionsTest {

    private static final int N = 1_000;

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    static Path dir;

    @BeforeAll
    static void publish() throws Exception {
        List<Path> files = CouponFileGenerator.generate(dir, N, 13, false);
        Topics.publish(KAFKA.bootstrapServers(), files.toArray(Path[]::new));
        Topics.publish(KAFKA.bootstrapServers(), Files.writeString(dir.resolve("lower1.txt"),
                "birthday\nsuper100\nMOODYHRS\n"));
    }

    private static Cli.Run consume(String... extra) {
        List<String> args = new ArrayList<>(List.of("consume", "--bootstrap-servers", KAFKA.bootstrapServers(),
                "--until-caught-up"));
        args.addAll(List.of(extra));
        return Cli.run(args.toArray(String[]::new));
    }

    @Test
    void threshold_three_leavesTheCodesInEveryFile() {
        Cli.Run run = consume("--threshold", "3");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(Topics.validSection(run.out())).isEqualTo("valid codes:\n"
                + String.join("\n", CouponFileGenerator.IN_ALL_FILES.stream().sorted().toList()) + "\n");
    }

    @Test
    void threshold_aboveTheTopicCount_isAUsageError() {
        Cli.Run run = consume("--threshold", "4");
        assertThat(run.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err().strip()).isEqualTo("consume: --threshold: 4 (expected: 1..3, the number of topics)");
    }

    @Test
    void caseInsensitive_foldsLowerCaseRecords() {
        String topics = "couponbase1,couponbase2,lower1";
        Cli.Run folded = consume("--topics", topics, "--case-insensitive");
        assertThat(folded.exitCode()).as(folded.toString()).isZero();
        assertThat(Topics.validSection(folded.out())).contains("\nSUPER100\n").contains("\nMOODYHRS\n");
        assertThat(Topics.total(folded.out(), "invalid")).isZero();

        Cli.Run strict = consume("--topics", topics);
        assertThat(Topics.validSection(strict.out())).doesNotContain("SUPER100").contains("\nMOODYHRS\n");
        assertThat(Topics.total(strict.out(), "invalid")).as("birthday, super100").isEqualTo(2);
    }

    @Test
    void codeLength_makesOtherLengthsInvalid() {
        Cli.Run run = consume("--code-length", "8..8");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(Topics.total(run.out(), "invalid")).as("the random codes of files 2 (9) and 3 (10 characters)")
                .isEqualTo(2L * N);
        assertThat(Topics.validSection(run.out())).isEqualTo(Topics.expectedValidSection());

        Cli.Run bad = consume("--code-length", "9..13");
        assertThat(bad.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(bad.err()).contains("--code-length").contains("expected: 1 <= MIN <= MAX <= 12");
    }

    @Test
    void outputJson_isOneObject() {
        Cli.Run run = consume("--output", "json");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        String expectedCodes = String.join(",", CouponFileGenerator.PLANTED_VALID.stream().map(c -> "\"" + c + "\"")
                .toList());
        assertThat(run.out()).isEqualTo("{\"valid\":[" + expectedCodes + "],\"totals\":{\"valid\":8,\"distinct\":"
                + (3 * N + 10) + ",\"records\":" + (3 * N + 25) + ",\"invalid\":0},\"checkpoint\":{\"restored\":null}}"
                + "\n");
    }

    @Test
    void nineTopics_areNineSources_andSixtyFiveAreAnError() throws Exception {
        List<String> topics = new ArrayList<>();
        List<Path> files = new ArrayList<>();
        for (int i = 1; i <= 9; i++) {
            files.add(Files.writeString(dir.resolve("nine" + i + ".txt"), "BIRTHDAY\nONLYIN" + i + "XX\n"));
            topics.add("nine" + i);
        }
        Topics.publish(KAFKA.bootstrapServers(), files.toArray(Path[]::new));
        Cli.Run run = consume("--topics", String.join(",", topics), "--threshold", "9");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(Topics.validSection(run.out())).isEqualTo("valid codes:\nBIRTHDAY\n");
        assertThat(Topics.total(run.out(), "invalid")).isZero();
        assertThat(Topics.total(run.out(), "records")).isEqualTo(18);

        List<String> many = new ArrayList<>();
        for (int i = 0; i < 65; i++) {
            many.add("t" + i);
        }
        Cli.Run tooMany = consume("--topics", String.join(",", many));
        assertThat(tooMany.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(tooMany.err().strip()).isEqualTo("consume: --topics: 65 topics (expected: at most 64, one source "
                + "each)");
    }

    @Test
    void fromBeginning_refusesACheckpointDirectoryWithCheckpoints() throws Exception {
        Path checkpoints = dir.resolve("from-beginning-state");
        Cli.Run first = consume("--checkpoint-dir", checkpoints.toString(), "--from-beginning");
        assertThat(first.exitCode()).as("an empty directory: from the beginning " + first).isZero();
        assertThat(first.out()).contains("checkpoint: restored=none");

        Cli.Run again = consume("--checkpoint-dir", checkpoints.toString(), "--from-beginning");
        assertThat(again.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(again.err()).contains("--from-beginning: " + checkpoints + " holds checkpoints");

        Cli.Run resumed = consume("--checkpoint-dir", checkpoints.toString());
        assertThat(resumed.exitCode()).as(resumed.toString()).isZero();
        assertThat(resumed.out()).doesNotContain("restored=none");
        assertThat(resumed.err()).contains("restored checkpoint ").doesNotContain("lag -1");
    }

    @Test
    void broker_host_advertisesThatHost() throws Exception {
        StringWriter out = new StringWriter();
        CommandLine cli = CouponStateCli.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(new StringWriter(), true));
        AtomicInteger exit = new AtomicInteger(-1);
        Thread thread = new Thread(() -> exit.set(cli.execute("broker", "--host", "localhost", "--port", "0")),
                "broker-command");
        thread.start();
        try {
            long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
            while (!out.toString().contains("\n") && thread.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            String line = out.toString().strip();
            assertThat(line).matches("bootstrap\\.servers=localhost:\\d+");
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", line.substring("bootstrap.servers=".length())))) {
                assertThat(admin.describeCluster().nodes().get()).singleElement()
                        .satisfies(node -> assertThat(node.host()).isEqualTo("localhost"));
            }
        } finally {
            thread.interrupt();
            thread.join(Duration.ofMinutes(1).toMillis());
        }
        assertThat(exit.get()).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"consume", "serve", "publish", "broker", "generate", "demo"})
    void help_listsTheExitCodes(String command) {
        Cli.Run run = Cli.run(command, "--help");
        assertThat(run.out()).contains("Exit codes:").containsPattern("\\n\\s+0\\s+\\S")
                .containsPattern("\\n\\s+1\\s+\\S").containsPattern("\\n\\s+2\\s+\\S");
        if (command.equals("consume")) {
            assertThat(run.out()).containsPattern("\\n\\s+3\\s+stopped").containsPattern("\\n\\s+4\\s+not caught up")
                    .contains("never from the end");
        }
    }

    @Test
    void anUnknownOption_isExitTwo() {
        Cli.Run run = Cli.run("consume", "--no-such-option");
        assertThat(run.exitCode()).isEqualTo(ExitCodes.USAGE).isEqualTo(CommandLine.ExitCode.USAGE);
        assertThat(run.err()).contains("Unknown option: '--no-such-option'");
    }

    @Test
    void version_isTheBuildsVersion() throws Exception {
        Cli.Run run = Cli.run("-V");
        String pom = Files.readString(Path.of("pom.xml"));
        String version = pom.substring(pom.indexOf("<version>") + 9, pom.indexOf("</version>"));
        assertThat(version).contains("SNAPSHOT");
        assertThat(run.out()).startsWith("couponstate examples " + version + "\n");
    }
}
