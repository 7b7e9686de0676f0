package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * What {@code consume} and {@code serve} show while restoring and catching up: progress lines on standard error (no
 * terminal here), and {@code /health}'s status sequence.
 */
@Tag("integration")
class CatchUpProgressIntegrationTest {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private static final Duration WAIT = Duration.ofMinutes(2);
    private static final List<String> ORDER = List.of("RESTORING", "CATCHING_UP", "UP");

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    Path dir;

    @Test
    void consume_withoutATerminal_printsProgressLinesOnStandardError_andNothingOnStandardOutput() {
        Cli.Run run = Cli.run("consume", "--bootstrap-servers", KAFKA.bootstrapServers(), "--topics",
                "progress-never1", "--allow-missing-topics", "--threshold", "1", "--timeout-seconds", "1",
                "--progress-interval-ms", "100", "--output", "json");
        assertThat(run.exitCode()).as("%s", run).isEqualTo(ExitCodes.NOT_CAUGHT_UP);
        assertThat(run.out()).as("standard output carries only results").isEmpty();
        assertThat(run.err()).as("%s", run)
                .contains("consume: catching up: 0 records, 0 records/s, lag unknown, ETA unknown");
    }

    @Test
    void serve_healthGoesCatchingUpThenUp_andARestartWithABacklogNeverGoesBack() throws Exception {
        Path checkpoints = dir.resolve("checkpoints");
        String topic = "progress-serve";
        StringWriter err = new StringWriter();
        try (Serve serve = new Serve(err, "--topics", topic, "--allow-missing-topics", "--threshold", "1",
                "--checkpoint-dir", checkpoints.toString(), "--progress-interval-ms", "100")) {
            await().atMost(WAIT).untilAsserted(() -> {
                HttpResponse<String> health = get(serve.base + "/health");
                assertThat(health.statusCode()).isEqualTo(503);
                assertThat(health.body()).startsWith("{\"status\":\"CATCHING_UP\"").contains("\"lag\":null")
                        .contains("\"etaSeconds\":null");
            });
            await().atMost(WAIT).until(() -> err.toString()
                    .contains("serve: catching up: 0 records, 0 records/s, lag unknown, ETA unknown"));
            publish(topic, "first.txt", 0, 200);
            await().atMost(WAIT).until(() -> get(serve.base + "/health").statusCode() == 200);
            assertThat(get(serve.base + "/health").body()).startsWith("{\"status\":\"UP\",\"codes\":200,");
        }
        publish(topic, "second.txt", 200, 3_000); // the backlog the restart replays after its checkpoint

        StringWriter err2 = new StringWriter();
        List<String> seen = new ArrayList<>();
        try (Serve serve = new Serve(err2, "--topics", topic, "--threshold", "1", "--checkpoint-dir",
                checkpoints.toString(), "--progress-interval-ms", "100")) {
            await().atMost(WAIT).pollInterval(Duration.ofMillis(10)).until(() -> {
                HttpResponse<String> health = get(serve.base + "/health");
                String status = health.body().substring("{\"status\":\"".length(), health.body().indexOf('"', 11));
                if (seen.isEmpty() || !seen.get(seen.size() - 1).equals(status)) {
                    seen.add(status);
                }
                assertThat(health.statusCode()).as(health.body()).isEqualTo(status.equals("UP") ? 200 : 503);
                if (status.equals("RESTORING")) {
                    assertThat(health.body()).contains("\"restoredBytes\":").contains("\"restoreTotalBytes\":");
                } else if (status.equals("CATCHING_UP")) {
                    assertThat(health.body()).contains("\"etaSeconds\":").contains("\"lag\":");
                }
                return status.equals("UP");
            });
            assertThat(get(serve.base + "/health").body()).startsWith("{\"status\":\"UP\",\"codes\":3200,");
        }
        List<Integer> ranks = seen.stream().map(ORDER::indexOf).toList();
        assertThat(ranks).as("statuses seen in order: %s", seen).doesNotContain(-1).isSorted();
        assertThat(err2.toString()).contains("serve: caught up; 3200 distinct codes");
    }

    private void publish(String topic, String name, int from, int count) throws Exception {
        StringBuilder codes = new StringBuilder();
        for (int i = from; i < from + count; i++) {
            codes.append(String.format("PROG%05d", i)).append('\n');
        }
        Path file = Files.writeString(dir.resolve(name), codes);
        Cli.Run published = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--no-progress",
                "--topic", topic, file.toString());
        assertThat(published.exitCode()).as("%s", published).isZero();
    }

    /** {@code serve} on a free port in a thread of this JVM, stopped (interrupted) on close; exit 0 expected. */
    private static final class Serve implements AutoCloseable {
        final String base;
        private final Thread thread;
        private final AtomicInteger exit = new AtomicInteger(-1);

        Serve(StringWriter err, String... args) {
            StringWriter out = new StringWriter();
            CommandLine cli = CouponStateCli.commandLine();
            cli.setOut(new PrintWriter(out, true));
            cli.setErr(new PrintWriter(err, true));
            List<String> all = new ArrayList<>(List.of("serve", "--bootstrap-servers", KAFKA.bootstrapServers(),
                    "--port", "0"));
            all.addAll(List.of(args));
            thread = new Thread(() -> exit.set(cli.execute(all.toArray(String[]::new))), "serve-command");
            thread.start();
            await().atMost(WAIT).until(() -> out.toString().contains("\n") || !thread.isAlive());
            String line = out.toString().strip();
            assertThat(line).as("serve's standard error: %s", err).startsWith("listening on http://127.0.0.1:");
            base = line.substring("listening on ".length());
        }

        @Override
        public void close() throws InterruptedException {
            thread.interrupt();
            thread.join(WAIT.toMillis());
            assertThat(exit.get()).isZero();
        }
    }

    private static HttpResponse<String> get(String url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
