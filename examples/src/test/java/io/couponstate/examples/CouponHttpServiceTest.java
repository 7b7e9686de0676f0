package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.examples.CouponHttpService.Readiness;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The HTTP service on its own, over a state filled by hand: routes, methods, bounds, slow clients. */
class CouponHttpServiceTest {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private final AtomicReference<Readiness> readiness = new AtomicReference<>(Readiness.UP);
    private CouponState state;
    private CouponHttpService http;
    private String base;

    @BeforeEach
    void start() throws IOException {
        state = new LockFreeCouponState(CouponStateConfig.builder().caseInsensitive(true).build());
        for (String code : List.of("BIRTHDAY", "OVER9000", "HAPPYHRS")) {
            state.addObservation(code, "couponbase1");
            state.addObservation(code, "couponbase2");
        }
        state.addObservation("ONLYONCE", "couponbase1");
        http = new CouponHttpService(new InetSocketAddress("127.0.0.1", 0), state, readiness::get,
                () -> "# TYPE demo_total counter\ndemo_total 42.0\n", 2);
        base = "http://127.0.0.1:" + http.port();
    }

    @AfterEach
    void stop() {
        http.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"/healthx", "/health/anything", "/health/live/x", "/health/readyx", "/", "/coupons/", "/coupons/BIRTHDAY/x", "/metricsx",
        "/couponsx"})
    void unknownPaths_are404(String path) throws Exception {
        HttpResponse<String> r = send("GET", path);
        assertThat(r.statusCode()).as(path).isEqualTo(404);
        assertThat(r.body()).contains("no such resource");
    }

    @ParameterizedTest
    @ValueSource(strings = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
    void otherMethods_are405WithAllow(String method) throws Exception {
        for (String path : List.of("/health", "/coupons/BIRTHDAY", "/coupons?valid=true", "/metrics")) {
            HttpResponse<String> r = send(method, path);
            assertThat(r.statusCode()).as(method + " " + path).isEqualTo(405);
            assertThat(r.headers().firstValue("Allow")).as(method + " " + path).contains("GET, HEAD");
        }
    }

    @Test
    void head_answersLikeGetWithoutABody_andLogsNoWarning() throws Exception {
        List<LogRecord> warnings = new CopyOnWriteArrayList<>();
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.add(record);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger logger = Logger.getLogger("com.sun.net.httpserver");
        logger.addHandler(handler);
        try {
            for (String path : List.of("/health", "/coupons/BIRTHDAY", "/coupons?valid=true", "/metrics")) {
                HttpResponse<String> get = send("GET", path);
                HttpResponse<String> head = send("HEAD", path);
                assertThat(head.statusCode()).as(path).isEqualTo(get.statusCode()).isEqualTo(200);
                assertThat(head.body()).isEmpty();
                assertThat(head.headers().firstValue("Content-Type")).isEqualTo(get.headers().firstValue(
                        "Content-Type"));
                if (!path.startsWith("/coupons?")) {
                    assertThat(head.headers().firstValue("Content-Length"))
                            .contains(Integer.toString(get.body().getBytes(StandardCharsets.UTF_8).length));
                }
            }
        } finally {
            logger.removeHandler(handler);
        }
        assertThat(warnings).extracting(LogRecord::getMessage).isEmpty();
    }

    @Test
    void aLongRequestTarget_is414_andNotEchoed() throws Exception {
        HttpResponse<String> r = send("GET", "/coupons/" + "A".repeat(100_000));
        assertThat(r.statusCode()).isEqualTo(414);
        assertThat(r.body()).contains("expected: at most 2048").hasSizeLessThan(200);
        assertThat(send("GET", "/coupons?valid=true&limit=" + "1".repeat(3000)).statusCode()).isEqualTo(414);
    }

    @Test
    void badRequests_echoAtMost64CharactersOfInput() throws Exception {
        String longCode = "X".repeat(1500);
        HttpResponse<String> code = send("GET", "/coupons/" + longCode);
        assertThat(code.statusCode()).isEqualTo(400);
        assertThat(code.body()).contains("malformed coupon code").doesNotContain("X".repeat(65))
                .contains("1500 characters");
        HttpResponse<String> param = send("GET", "/coupons?valid=" + "Y".repeat(1000));
        assertThat(param.statusCode()).isEqualTo(400);
        assertThat(param.body()).doesNotContain("Y".repeat(65));
    }

    @Test
    void coupon_answersAndFoldsCaseWhenTheStateDoes() throws Exception {
        assertThat(send("GET", "/coupons/BIRTHDAY").body()).isEqualTo(
                "{\"code\":\"BIRTHDAY\",\"valid\":true,\"sources\":[\"couponbase1\",\"couponbase2\"]}");
        assertThat(send("GET", "/coupons/birthday").body()).isEqualTo(
                "{\"code\":\"BIRTHDAY\",\"valid\":true,\"sources\":[\"couponbase1\",\"couponbase2\"]}");
        assertThat(send("GET", "/coupons/ONLYONCE").body()).contains("\"valid\":false");
        assertThat(send("GET", "/coupons/bad-code").statusCode()).isEqualTo(400);
    }

    @Test
    void validCoupons_streamAsJsonLines_withALimit() throws Exception {
        HttpResponse<String> all = send("GET", "/coupons?valid=true");
        assertThat(all.statusCode()).isEqualTo(200);
        assertThat(all.headers().firstValue("Content-Type")).hasValueSatisfying(
                v -> assertThat(v).startsWith("application/x-ndjson"));
        assertThat(all.body().lines().toList()).containsExactlyInAnyOrder(
                "{\"code\":\"BIRTHDAY\",\"sources\":[\"couponbase1\",\"couponbase2\"]}",
                "{\"code\":\"OVER9000\",\"sources\":[\"couponbase1\",\"couponbase2\"]}",
                "{\"code\":\"HAPPYHRS\",\"sources\":[\"couponbase1\",\"couponbase2\"]}");
        assertThat(all.body()).endsWith("\n");
        assertThat(send("GET", "/coupons?valid=true&limit=2").body().lines()).hasSize(2);
        assertThat(send("GET", "/coupons?limit=1&valid=true").body().lines()).hasSize(1);
        assertThat(send("GET", "/coupons?valid=true&limit=0").body()).isEmpty();
        for (String bad : List.of("", "?valid=false", "?valid=true&limit=-1", "?valid=true&limit=x",
                "?valid=true&order=name", "?valid=true&valid=true")) {
            assertThat(send("GET", "/coupons" + bad).statusCode()).as(bad).isEqualTo(400);
        }
        readiness.set(Readiness.CATCHING_UP);
        assertThat(send("GET", "/coupons?valid=true").statusCode()).isEqualTo(503);
    }

    @Test
    void validCoupons_streamTheMillionValidOfTwoMillionCodes() throws Exception {
        CouponState big = new LockFreeCouponState(CouponStateConfig.builder().expectedCodes(2_100_000).build());
        byte[] code = new byte[8];
        int a = big.sourceId("a");
        int b = big.sourceId("b");
        for (int i = 0; i < 2_000_000; i++) {
            int v = i;
            for (int k = 7; k >= 0; k--) {
                code[k] = (byte) ('A' + v % 26);
                v /= 26;
            }
            big.addObservation(code, 0, 8, a);
            if (i % 2 == 0) {
                big.addObservation(code, 0, 8, b);
            }
        }
        try (CouponHttpService service = new CouponHttpService(new InetSocketAddress("127.0.0.1", 0), big,
                () -> Readiness.UP, null, 2)) {
            HttpResponse<java.util.stream.Stream<String>> r = HTTP.send(HttpRequest.newBuilder(URI.create(
                    "http://127.0.0.1:" + service.port() + "/coupons?valid=true")).timeout(Duration.ofMinutes(2))
                    .build(), HttpResponse.BodyHandlers.ofLines());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body().count()).isEqualTo(1_000_000);
        }
    }

    @Test
    void metrics_isPrometheusText() throws Exception {
        HttpResponse<String> r = send("GET", "/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(
                v -> assertThat(v).startsWith("text/plain; version=0.0.4"));
        assertThat(r.body()).contains("demo_total 42.0");
    }

    @Test
    void health_followsReadiness() throws Exception {
        assertThat(send("GET", "/health").body())
                .isEqualTo("{\"status\":\"UP\",\"codes\":4,\"mode\":\"replicated\"}");
        readiness.set(Readiness.FAILED);
        assertThat(send("GET", "/health").statusCode()).isEqualTo(503);
    }

    @Test
    void liveAndReady_followReadiness_besideHealth() throws Exception {
        for (Readiness r : Readiness.values()) {
            readiness.set(r);
            HttpResponse<String> live = send("GET", "/health/live");
            HttpResponse<String> ready = send("GET", "/health/ready");
            assertThat(live.statusCode()).as("live while " + r).isEqualTo(r == Readiness.FAILED ? 503 : 200);
            assertThat(ready.statusCode()).as("ready while " + r).isEqualTo(r == Readiness.UP ? 200 : 503);
            assertThat(live.body()).isEqualTo("{\"status\":\"" + r + "\"}");
            assertThat(ready.body()).isEqualTo("{\"status\":\"" + r + "\"}");
            assertThat(send("GET", "/health").statusCode()).as("/health while " + r)
                    .isEqualTo(r == Readiness.UP ? 200 : 503);
        }
    }

    @Test
    @Timeout(180)
    void stalledClients_cannotStallTheService() throws Exception {
        // more half-sent requests than the pool (2) has threads: without a request timeout every thread would
        // block reading them for good and the normal client below would never be answered
        List<Socket> stalled = new ArrayList<>();
        try {
            for (int i = 0; i < 6; i++) {
                Socket s = new Socket("127.0.0.1", http.port());
                OutputStream out = s.getOutputStream();
                out.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                stalled.add(s);
            }
            HttpResponse<String> normal = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/health"))
                    .timeout(Duration.ofSeconds(150)).GET().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(normal.statusCode()).isEqualTo(200);
            // and the server closed the stalled connections instead of waiting for them forever
            for (Socket s : stalled) {
                s.setSoTimeout((int) Duration.ofSeconds(150).toMillis());
                InputStream in = s.getInputStream();
                assertThat(drain(in)).as("a stalled connection gets no 200").doesNotContain("200 OK");
            }
            await().atMost(Duration.ofMinutes(2)).untilAsserted(() ->
                    assertThat(send("GET", "/health").statusCode()).isEqualTo(200));
        } finally {
            for (Socket s : stalled) {
                s.close();
            }
        }
    }

    /** Reads until the server closes the connection. */
    private static String drain(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        byte[] buf = new byte[1024];
        int n;
        try {
            while ((n = in.read(buf)) >= 0) {
                sb.append(new String(buf, 0, n, StandardCharsets.US_ASCII));
            }
        } catch (java.net.SocketException reset) {
            // closed by the server: what we wait for
        }
        return sb.toString();
    }

    private HttpResponse<String> send(String method, String pathAndQuery) throws Exception {
        HttpRequest.BodyPublisher body = method.equals("POST") || method.equals("PUT") || method.equals("PATCH")
                ? HttpRequest.BodyPublishers.ofString("x") : HttpRequest.BodyPublishers.noBody();
        return HTTP.send(HttpRequest.newBuilder(URI.create(base + pathAndQuery)).timeout(Duration.ofSeconds(60))
                .method(method, body).build(), HttpResponse.BodyHandlers.ofString());
    }
}
