package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The CLI says at once, in one line, that no broker answers or that a topic does not exist. */
@Tag("integration")
class FailFastTest {

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    static Path dir;

    @BeforeAll
    static void publish() throws Exception {
        List<Path> files = CouponFileGenerator.generate(dir, 200, 7, false);
        Topics.publish(KAFKA.bootstrapServers(), files.toArray(Path[]::new));
    }

    /** A port nothing listens on (bound, then released). */
    static int deadPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"consume", "serve", "publish", "demo"})
    void unreachableBroker_isOneClearLine_andExitOne(String command) throws Exception {
        String bootstrap = "127.0.0.1:" + deadPort();
        Path file = Files.writeString(dir.resolve("one.txt"), "BIRTHDAY\n");
        List<String> args = switch (command) {
            case "publish" -> List.of("publish", "--bootstrap-servers", bootstrap, "--wait", "2s", file.toString());
            case "demo" -> List.of("demo", "--bootstrap-servers", bootstrap, "--wait", "2s", "--codes-per-file",
                    "10", "--no-progress");
            case "serve" -> List.of("serve", "--bootstrap-servers", bootstrap, "--wait", "2s", "--port", "0");
            default -> List.of("consume", "--bootstrap-servers", bootstrap, "--wait", "2s", "--until-caught-up");
        };

        Cli.Run run = Cli.run(args.toArray(String[]::new));

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(run.err().strip()).as(run.toString()).isEqualTo(command + ": cannot reach a Kafka broker at "
                + bootstrap + " (connection refused; no answer within 2 s)");
        assertThat(run.out()).as("nothing started, nothing printed").isEmpty();
    }

    @Test
    void unknownHost_saysSo() {
        Cli.Run run = Cli.run("consume", "--bootstrap-servers", "no-such-host.invalid:9092", "--wait", "2s");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(run.err().strip()).isEqualTo("consume: cannot reach a Kafka broker at no-such-host.invalid:9092 "
                + "(unknown host: no bootstrap address resolves)");
    }

    @Test
    @Timeout(120)
    void unreachableBroker_inAChildJvm_printsOneLineWithNoLogFlood() throws Exception {
        String bootstrap = "127.0.0.1:" + deadPort();
        Path err = dir.resolve("child.err");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process child = new ProcessBuilder(java.toString(), "-Xmx128m", "-cp", System.getProperty("java.class.path"),
                CouponStateCli.class.getName(), "consume", "--bootstrap-servers", bootstrap, "--wait", "5s",
                "--until-caught-up")
                .redirectError(err.toFile())
                .redirectOutput(dir.resolve("child.out").toFile())
                .start();
        assertThat(child.waitFor(110, TimeUnit.SECONDS)).as("child exited").isTrue();
        assertThat(child.exitValue()).isEqualTo(ExitCodes.FAILED);
        assertThat(Files.readAllLines(err)).as("stderr of the child").containsExactly(
                "consume: cannot reach a Kafka broker at " + bootstrap + " (connection refused; no answer within 5 s)");
    }

    @Test
    void defaultWait_isThirtySeconds() {
        assertThat(new KafkaOptions().wait).hasSeconds(30);
        Cli.Run help = Cli.run("consume", "--help");
        assertThat(help.out()).contains("--wait=DURATION").contains("default: 30s");
    }

    @Test
    void misspelledTopic_isAnErrorNamingIt() {
        Cli.Run run = Cli.run("consume", "--bootstrap-servers", KAFKA.bootstrapServers(), "--until-caught-up",
                "--topics", "couponbase1,couponbase9");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(run.err().strip()).startsWith("consume: topic couponbase9 does not exist at "
                + KAFKA.bootstrapServers() + " (existing: couponbase1, couponbase2, couponbase3")
                .endsWith("check --topics, or pass --allow-missing-topics to wait for it");
        assertThat(run.out()).isEmpty();
    }

    @Test
    void misspelledTopic_inServe_isAnErrorToo() {
        Cli.Run run = Cli.run("serve", "--bootstrap-servers", KAFKA.bootstrapServers(), "--port", "0",
                "--topics", "couponbase1,nosuch1,nosuch2");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(run.err()).contains("topics nosuch1, nosuch2 do not exist");
    }

    @Test
    void allowMissingTopics_warnsAndReadsTheTopicsThatExist() {
        Cli.Run run = Cli.run("consume", "--bootstrap-servers", KAFKA.bootstrapServers(), "--until-caught-up",
                "--topics", "couponbase1,couponbase9", "--allow-missing-topics", "--threshold", "1");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.OK);
        assertThat(run.err()).contains("consume: topic couponbase9 not found; waiting for it "
                + "(--allow-missing-topics)");
        assertThat(Topics.total(run.out(), "records")).isEqualTo(200 + CouponFileGenerator.plantedIn(1).size());
    }

    @Test
    void noTopicExists_withAllowMissingTopics_timesOutWithCodeFour_sayingLagUnknown() {
        Cli.Run run = Cli.run("consume", "--bootstrap-servers", KAFKA.bootstrapServers(), "--until-caught-up",
                "--topics", "nosuch1,nosuch2", "--allow-missing-topics", "--timeout-seconds", "2");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.NOT_CAUGHT_UP);
        assertThat(run.err()).contains("consume: topics nosuch1, nosuch2 not found; waiting for them")
                .contains("consume: not caught up within 2 s (0 records in ")
                .contains("lag unknown; no checkpoint restored)")
                .doesNotContain("lag -1");
    }
}
