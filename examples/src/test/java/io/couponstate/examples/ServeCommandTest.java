package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.couponstate.core.CouponState;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.examples.CouponHttpService.Readiness;
import io.couponstate.kafka.testing.KafkaBrokerExtension;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

@Tag("integration")
class ServeCommandTest {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    static Path dir;

    @BeforeAll
    static void publish() throws Exception {
        List<Path> files = CouponFileGenerator.generate(dir, 2_000, 3, false);
        Topics.publish(KAFKA.bootstrapServers(), files.toArray(Path[]::new));
    }

    @Test
    void serve_answers200ForKnownAndUnknownCodesAnd400ForMalformedOnes() throws Exception {
        StringWriter out = new StringWriter();
        CommandLine cli = CouponStateCli.commandLine();
        cli.setOut(new PrintWriter(out, true));
        AtomicInteger exit = new AtomicInteger(-1);
        Thread serve = new Thread(() -> exit.set(cli.execute("serve", "--bootstrap-servers",
                KAFKA.bootstrapServers(), "--port", "0")), "serve-command");
        serve.start();
        try {
            String base = awaitListening(out, serve);
            awaitStatus(base + "/health", 200);

            HttpResponse<String> valid = get(base + "/coupons/BIRTHDAY");
            assertThat(valid.statusCode()).isEqualTo(200);
            assertThat(valid.headers().firstValue("Content-Type")).hasValueSatisfying(
                    v -> assertThat(v).startsWith("application/json"));
            assertThat(valid.body()).isEqualTo("{\"code\":\"BIRTHDAY\",\"valid\":true,"
                    + "\"sources\":[\"couponbase1\",\"couponbase2\",\"couponbase3\"]}");
            assertThat(get(base + "/coupons/HAPPYHRS").body()).isEqualTo(
                    "{\"code\":\"HAPPYHRS\",\"valid\":true,\"sources\":[\"couponbase1\",\"couponbase3\"]}");
            assertThat(get(base + "/coupons/MOODYHRS").body()).isEqualTo(
                    "{\"code\":\"MOODYHRS\",\"valid\":false,\"sources\":[\"couponbase2\"]}");
            assertThat(get(base + "/coupons/NEVERSEEN").body()).isEqualTo(
                    "{\"code\":\"NEVERSEEN\",\"valid\":false,\"sources\":[]}");

            HttpResponse<String> malformed = get(base + "/coupons/BAD-CODE");
            assertThat(malformed.statusCode()).isEqualTo(400);
            assertThat(malformed.body()).contains("malformed coupon code \\\"BAD-CODE\\\"");
            assertThat(get(base + "/coupons/SHORT").statusCode()).isEqualTo(400);
            assertThat(get(base + "/nothing-here").statusCode()).isEqualTo(404);
            assertThat(get(base + "/healthx").statusCode()).isEqualTo(404);
            assertThat(get(base + "/health/anything").statusCode()).isEqualTo(404);
            assertThat(get(base + "/coupons/birthday").statusCode()).as("no --case-insensitive").isEqualTo(400);

            HttpResponse<String> post = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/health"))
                    .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(post.statusCode()).isEqualTo(405);
            assertThat(post.headers().firstValue("Allow")).contains("GET, HEAD");
            HttpResponse<String> head = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/health"))
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(head.statusCode()).isEqualTo(200);
            assertThat(head.body()).isEmpty();

            HttpResponse<String> listing = get(base + "/coupons?valid=true");
            assertThat(listing.statusCode()).isEqualTo(200);
            assertThat(listing.body().lines().map(l -> l.substring(9, l.indexOf('"', 9))).sorted().toList())
                    .containsExactlyElementsOf(CouponFileGenerator.PLANTED_VALID);
            assertThat(get(base + "/coupons?valid=true&limit=3").body().lines()).hasSize(3);

            HttpResponse<String> metrics = get(base + "/metrics");
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.headers().firstValue("Content-Type")).hasValueSatisfying(
                    v -> assertThat(v).startsWith("text/plain"));
            assertThat(metrics.body())
                    .contains("couponstate_runner_records_consumed_total " + (3 * 2_000 + 8 + 8 + 9) + ".0")
                    .contains("couponstate_state_codes_valid 8.0")
                    .contains("couponstate_runner_state{state=\"running\"} 1.0")
                    .contains("couponstate_runner_records_invalid_total{reason=\"too_short\"} 0.0");
        } finally {
            serve.interrupt();
            serve.join(Duration.ofMinutes(1).toMillis());
        }
        assertThat(exit.get()).isZero();
    }

    @Test
    void serve_beforeAnyPartitionIsAssigned_answers503() throws Exception {
        StringWriter out = new StringWriter();
        CommandLine cli = CouponStateCli.commandLine();
        cli.setOut(new PrintWriter(out, true));
        AtomicInteger exit = new AtomicInteger(-1);
        // a topic nobody has created yet: the runner has nothing to catch up with, so it never is caught up
        Thread serve = new Thread(() -> exit.set(cli.execute("serve", "--bootstrap-servers",
                KAFKA.bootstrapServers(), "--port", "0", "--topics", "not-created-yet,nor-this-one",
                "--allow-missing-topics")), "serve-command");
        serve.start();
        try {
            String base = awaitListening(out, serve);
            HttpResponse<String> coupon = get(base + "/coupons/BIRTHDAY");
            assertThat(coupon.statusCode()).isEqualTo(503);
            assertThat(coupon.body()).contains("not ready");
            assertThat(get(base + "/health").statusCode()).isEqualTo(503);
            assertThat(get(base + "/coupons/bad!").statusCode()).isEqualTo(400);
        } finally {
            serve.interrupt();
            serve.join(Duration.ofMinutes(1).toMillis());
        }
        assertThat(exit.get()).isZero();
    }

    @Test
    void serve_caseInsensitive_foldsLowerCaseCodes() throws Exception {
        StringWriter out = new StringWriter();
        CommandLine cli = CouponStateCli.commandLine();
        cli.setOut(new PrintWriter(out, true));
        AtomicInteger exit = new AtomicInteger(-1);
        Thread serve = new Thread(() -> exit.set(cli.execute("serve", "--bootstrap-servers",
                KAFKA.bootstrapServers(), "--port", "0", "--case-insensitive", "--threshold", "3")), "serve-command");
        serve.start();
        try {
            String base = awaitListening(out, serve);
            awaitStatus(base + "/health", 200);
            assertThat(get(base + "/coupons/birthday").body()).contains("\"valid\":true");
            assertThat(get(base + "/coupons/HAPPYHRS").body()).as("--threshold 3: two sources are not enough")
                    .contains("\"valid\":false");
        } finally {
            serve.interrupt();
            serve.join(Duration.ofMinutes(1).toMillis());
        }
        assertThat(exit.get()).isZero();
    }

    @Test
    void serve_saysInHealthWhenCheckpointsFail_andExitsNonZeroWhenTheFinalOneFails() throws Exception {
        Path first = Files.writeString(dir.resolve("durable-a.txt"), "DURABLE1\nDURABLE2\n");
        Path second = Files.writeString(dir.resolve("durable-b.txt"), "DURABLE3\n");
        Cli.Run published = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--no-progress",
                "--topic", "durable", first.toString());
        assertThat(published.exitCode()).as("%s", published).isZero();
        Path checkpoints = Files.createDirectory(dir.resolve("durable-checkpoints"));
        StringWriter out = new StringWriter();
        CommandLine cli = CouponStateCli.commandLine();
        cli.setOut(new PrintWriter(out, true));
        StringWriter err = new StringWriter();
        cli.setErr(new PrintWriter(err, true));
        AtomicInteger exit = new AtomicInteger(-1);
        Thread serve = new Thread(() -> exit.set(cli.execute("serve", "--bootstrap-servers",
                KAFKA.bootstrapServers(), "--port", "0", "--topics", "durable", "--threshold", "1", "--checkpoint-dir",
                checkpoints.toString(), "--checkpoint-interval-ms", "100")), "serve-command");
        serve.start();
        try {
            String base = awaitListening(out, serve, err);
            awaitStatus(base + "/health", 200);
            await().atMost(Duration.ofMinutes(2)).untilAsserted(() -> assertThat(get(base + "/health").body())
                    .contains("\"durable\":true").contains("\"lag\":0")
                    .doesNotContain("\"lastDurableCheckpointAgeSeconds\":null"));

            // the checkpoint directory is moved away and a file takes its place: every later checkpoint fails
            Files.move(checkpoints, dir.resolve("durable-checkpoints-moved"));
            Files.writeString(checkpoints, "not a directory");
            Cli.Run more = Cli.run("publish", "--bootstrap-servers", KAFKA.bootstrapServers(), "--no-progress",
                    "--topic", "durable", second.toString());
            assertThat(more.exitCode()).as("%s", more).isZero();

            await().atMost(Duration.ofMinutes(2)).untilAsserted(() -> {
                HttpResponse<String> health = get(base + "/health");
                assertThat(health.statusCode()).as("the answers are still right").isEqualTo(200);
                assertThat(health.body()).contains("\"durable\":false").contains("\"checkpointFailure\":");
            });
            assertThat(get(base + "/coupons/DURABLE3").statusCode()).isEqualTo(200);
            assertThat(get(base + "/metrics").body()).contains("couponstate_runner_checkpoint_durable 0.0");
        } finally {
            serve.interrupt();
            serve.join(Duration.ofMinutes(1).toMillis());
        }
        assertThat(exit.get()).as("the final checkpoint failed: never exit 0").isEqualTo(ExitCodes.FAILED);
    }

    @Test
    void service_answers503UntilCaughtUpThen200() throws Exception {
        CouponState state = new LockFreeCouponState();
        state.addObservation("BIRTHDAY", "couponbase1");
        state.addObservation("BIRTHDAY", "couponbase2");
        AtomicReference<Readiness> readiness = new AtomicReference<>(Readiness.CATCHING_UP);
        try (CouponHttpService http = new CouponHttpService(new InetSocketAddress("127.0.0.1", 0), state,
                readiness::get)) {
            String base = "http://127.0.0.1:" + http.port();

            HttpResponse<String> starting = get(base + "/coupons/BIRTHDAY");
            assertThat(starting.statusCode()).isEqualTo(503);
            assertThat(starting.headers().firstValue("Retry-After")).contains("1");
            assertThat(get(base + "/health").statusCode()).isEqualTo(503);
            assertThat(get(base + "/coupons/x").statusCode()).as("malformed is 400 even before").isEqualTo(400);

            readiness.set(Readiness.UP);
            assertThat(get(base + "/coupons/BIRTHDAY").statusCode()).isEqualTo(200);
            assertThat(get(base + "/health").body())
                    .isEqualTo("{\"status\":\"UP\",\"codes\":1,\"mode\":\"replicated\"}");

            readiness.set(Readiness.FAILED);
            assertThat(get(base + "/coupons/BIRTHDAY").statusCode()).isEqualTo(503);
            assertThat(get(base + "/health").body()).contains("FAILED");
        }
    }

    @Test
    void twoInstances_eachAnswersEveryCode() throws Exception {
        List<StringWriter> outs = new ArrayList<>();
        List<Thread> serves = new ArrayList<>();
        List<AtomicInteger> exits = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            StringWriter out = new StringWriter();
            CommandLine cli = CouponStateCli.commandLine();
            cli.setOut(new PrintWriter(out, true));
            cli.setErr(new PrintWriter(new StringWriter(), true));
            AtomicInteger exit = new AtomicInteger(-1);
            Thread serve = new Thread(() -> exit.set(cli.execute("serve", "--bootstrap-servers",
                    KAFKA.bootstrapServers(), "--port", "0", "--mode", "partitioned", "--group", "serve-partitioned")),
                    "serve-partitioned-" + i);
            serve.start();
            outs.add(out);
            serves.add(serve);
            exits.add(exit);
        }
        try {
            List<String> bases = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                StringWriter out = outs.get(i);
                await().atMost(Duration.ofMinutes(1)).until(() -> out.toString().contains("\n"));
                bases.add(out.toString().strip().substring("listening on ".length()));
            }
            List<String> codes = new ArrayList<>(CouponFileGenerator.PLANTED_VALID);
            codes.add(CouponFileGenerator.DECOY_FILE_1);
            codes.add(CouponFileGenerator.DECOY_FILE_2);
            codes.add("NEVERSEEN");
            // the group settles (the second instance joins, the partitions move) and then every answer is right
            await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
                for (String code : codes) {
                    for (String base : bases) {
                        HttpResponse<String> r = get(base + "/coupons/" + code);
                        assertThat(r.statusCode()).as("%s via %s: %s", code, base, r.body()).isEqualTo(200);
                        assertThat(r.body()).as("%s via %s", code, base)
                                .contains("\"valid\":" + CouponFileGenerator.PLANTED_VALID.contains(code));
                    }
                }
                TreeSet<Integer> owned = new TreeSet<>();
                int claims = 0;
                for (String base : bases) {
                    HttpResponse<String> health = get(base + "/health");
                    assertThat(health.body()).contains("\"mode\":\"partitioned\"");
                    Matcher m = Pattern.compile("\\{\"partition\":(\\d+),\"queryable\":true").matcher(health.body());
                    while (m.find()) {
                        owned.add(Integer.parseInt(m.group(1)));
                        claims++;
                    }
                }
                assertThat(owned).as("the two instances' partitions").containsExactly(0, 1, 2);
                assertThat(claims).as("each partition on one instance").isEqualTo(3);
            });
        } finally {
            for (Thread serve : serves) {
                serve.interrupt();
            }
            for (Thread serve : serves) {
                serve.join(Duration.ofMinutes(1).toMillis());
            }
        }
        for (AtomicInteger exit : exits) {
            assertThat(exit.get()).isZero();
        }
    }

    @Test
    void quote_escapesJsonSpecials() {
        assertThat(CouponHttpService.quote("a\"b\\c\n\u0001")).isEqualTo("\"a\\\"b\\\\c\\n\\u0001\"");
    }

    private static String awaitListening(StringWriter out, Thread serve) throws InterruptedException {
        return awaitListening(out, serve, "(not captured)");
    }

    private static String awaitListening(StringWriter out, Thread serve, Object err) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (!out.toString().contains("\n") && serve.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        String line = out.toString().strip();
        assertThat(line).as("serve's standard error: %s", err).startsWith("listening on http://127.0.0.1:");
        return line.substring("listening on ".length());
    }

    private static void awaitStatus(String url, int status) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        int last;
        while ((last = get(url).statusCode()) != status) {
            assertThat(System.nanoTime()).as("waited for %s to answer %d, last %d", url, status, last)
                    .isLessThan(deadline);
            Thread.sleep(100);
        }
    }

    private static HttpResponse<String> get(String url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
