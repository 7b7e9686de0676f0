package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** SIGTERM to a child CLI: the documented exit codes hold after a signal too (not the JVM's 143). */
@Tag("integration")
class SignalExitCodeTest {

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    static Path dir;

    @BeforeAll
    static void publish() throws Exception {
        List<Path> files = CouponFileGenerator.generate(dir.resolve("coupons"), 500, 17, false);
        Topics.publish(KAFKA.bootstrapServers(), files.toArray(Path[]::new));
    }

    @Test
    @Timeout(180)
    void sigterm_beforeCaughtUp_exitsThree() throws Exception {
        Path err = dir.resolve("before.err");
        Process child = start(err, "consume", "--bootstrap-servers", KAFKA.bootstrapServers(), "--until-caught-up",
                "--topics", "never1,never2", "--allow-missing-topics");
        awaitLine(child, err, "consume: reading 2 topics from ");
        child.destroy();   // SIGTERM
        assertThat(child.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(child.exitValue()).as(Files.readString(err)).isEqualTo(ExitCodes.STOPPED);
        assertThat(Files.readString(err)).contains("consume: stopped before catching up (");
    }

    @Test
    @Timeout(180)
    void sigterm_afterCaughtUp_exitsZero_withAFinalCheckpoint() throws Exception {
        Path err = dir.resolve("after.err");
        Path checkpoints = dir.resolve("after-state");
        Process child = start(err, "consume", "--bootstrap-servers", KAFKA.bootstrapServers(), "--checkpoint-dir",
                checkpoints.toString(), "--checkpoint-interval-ms", "3600000");
        awaitLine(child, err, "consume: caught up (");
        child.destroy();
        assertThat(child.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(child.exitValue()).as(Files.readString(err)).isEqualTo(ExitCodes.OK);
        try (var files = Files.list(checkpoints)) {
            assertThat(files.map(f -> f.getFileName().toString())).as("the final checkpoint, written on stop")
                    .anyMatch(n -> n.startsWith("checkpoint-"));
        }
    }

    @Test
    @Timeout(180)
    void sigterm_toServe_exitsZero_withAFinalCheckpoint() throws Exception {
        Path err = dir.resolve("serve.err");
        Path checkpoints = dir.resolve("serve-state");
        Process child = start(err, "serve", "--bootstrap-servers", KAFKA.bootstrapServers(), "--port", "0",
                "--checkpoint-dir", checkpoints.toString(), "--checkpoint-interval-ms", "3600000");
        awaitLine(child, err, "serve: caught up");
        child.destroy();
        assertThat(child.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(child.exitValue()).as(Files.readString(err)).isEqualTo(ExitCodes.OK);
        try (var files = Files.list(checkpoints)) {
            assertThat(files.map(f -> f.getFileName().toString())).as("the final checkpoint, written on stop")
                    .anyMatch(n -> n.startsWith("checkpoint-"));
        }
    }

    private static Process start(Path err, String... args) throws IOException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> command = new ArrayList<>(List.of(java.toString(), "-Xmx192m", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), CouponStateCli.class.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectError(err.toFile())
                .redirectOutput(err.resolveSibling(err.getFileName() + ".out").toFile()).start();
    }

    private static void awaitLine(Process child, Path err, String text) {
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(100)).until(() -> {
            assertThat(child.isAlive()).as("child running; stderr: %s", Files.readString(err)).isTrue();
            return Files.readString(err).contains(text);
        });
    }
}
