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
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** {@code serve --mode partitioned}: usage errors, and two instances over a real broker answering every code. */
@Tag("integration")
class ServePartitionedTest {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @org.junit.jupiter.api.extension.RegisterExtension
    static final KafkaBrokerExtension KAFKA = new KafkaBrokerExtension();

    @TempDir
    static Path dir;

    @BeforeAll
    static void publish() throws Exception {
        List<Path> files = CouponFileGenerator.generate(dir, 2_000, 5, false);
        Topics.publish(KAFKA.bootstrapServers(), files.toArray(Path[]::new));   // 3 partitions per topic
    }

    @Test
    void partitionedWithoutAdvertise_onAWildcardHost_isAUsageError() {
        Cli.Run run = Cli.run("serve", "--mode", "partitioned", "--host", "0.0.0.0", "--port", "0");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("serve: --advertise: required with --mode partitioned when --host is the "
                + "wildcard address 0.0.0.0");
    }

    @ParameterizedTest
    @ValueSource(strings = {"nohost", "host:0", "host:65536", ":8080", "host:port", "::1:8080", "a b:80"})
    void badAdvertise_isAUsageErrorNamingIt(String value) {
        Cli.Run run = Cli.run("serve", "--mode", "partitioned", "--advertise", value, "--port", "0");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("serve: --advertise: \"" + value + "\" (expected: host:port with a port in "
                + "1..65535");
    }

    @Test
    void badMode_isAUsageError() {
        Cli.Run run = Cli.run("serve", "--mode", "sharded");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("--mode").contains("sharded");
    }

    @Test
    void partitionedWithMissingTopicsAllowed_isAUsageError() {
        Cli.Run run = Cli.run("serve", "--mode", "partitioned", "--allow-missing-topics", "--port", "0");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("--allow-missing-topics: not with --mode partitioned");
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

    private static HttpResponse<String> get(String url) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
