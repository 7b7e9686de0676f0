package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.examples.CouponHttpService.Partitioning;
import io.couponstate.examples.CouponHttpService.Readiness;
import io.couponstate.kafka.PartitionedCouponState;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
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
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * The HTTP service under the loads that stalled the JDK server: half-sent requests, keep-alive clients, listings
 * whose clients stop reading, and a listing that loses its shard. One replicated and one partitioned service for the
 * class, each over enough codes that a listing is larger than what the sockets between client and server buffer.
 */
@Timeout(180)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CouponHttpServiceLoadTest {

    /** Listings of this many valid codes (about 20 MB of JSON lines) never fit in the sockets' buffers. */
    private static final int CODES = 500_000;

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(30)).build();
    private CouponHttpService replicated;
    private PartitionedCouponState partitionedState;
    private CouponHttpService partitioned;

    @BeforeAll
    void start() throws IOException {
        CouponState state = new LockFreeCouponState(CouponStateConfig.builder().expectedCodes(CODES + 10).build());
        fill(state);
        state.addObservation("BIRTHDAY", "a");
        state.addObservation("BIRTHDAY", "b");
        // a request timeout longer than any test: what answers here was not freed by the timeout
        replicated = new CouponHttpService(new InetSocketAddress("127.0.0.1", 0), state, () -> Readiness.UP, null,
                null, 2, null, Duration.ofMinutes(10));
        partitionedState = PartitionedCouponState.lockFree(1, CouponStateConfig.builder().expectedCodes(CODES + 10)
                .build());
        partitionedState.addShard(0);
        fill(partitionedState);
        partitioned = new CouponHttpService(new InetSocketAddress("127.0.0.1", 0), partitionedState,
                () -> Readiness.UP, null, null, 2, new Partitioning(() -> "127.0.0.1:1", code -> Optional.empty(),
                Map::of, Duration.ofSeconds(2)));
    }

    private static void fill(CouponState state) {
        byte[] code = new byte[8];
        int a = state.sourceId("a");
        int b = state.sourceId("b");
        for (int i = 0; i < CODES; i++) {
            int v = i;
            for (int k = 7; k >= 0; k--) {
                code[k] = (byte) ('A' + v % 26);
                v /= 26;
            }
            state.addObservation(code, 0, 8, a);
            state.addObservation(code, 0, 8, b);
        }
    }

    @AfterAll
    void stop() {
        replicated.close();
        partitioned.close();
    }

    @Test
    void hundredHalfSentRequests_holdNoThread() throws Exception {
        List<Socket> halfSent = new ArrayList<>();
        try {
            for (int i = 0; i < 100; i++) {
                Socket s = new Socket("127.0.0.1", replicated.port());
                OutputStream out = s.getOutputStream();
                out.write("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                halfSent.add(s);
            }
            // the request timeout is 10 minutes: with a thread held per half-sent request this would hang
            HttpResponse<String> normal = get(replicated, "/coupons/BIRTHDAY");
            assertThat(normal.statusCode()).isEqualTo(200);
            assertThat(normal.body()).isEqualTo("{\"code\":\"BIRTHDAY\",\"valid\":true,\"sources\":[\"a\",\"b\"]}");
            // and the half-sent requests were kept, not dropped: finished now, each is answered
            for (Socket s : halfSent) {
                s.getOutputStream().write("\r\n".getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
            }
            for (Socket s : halfSent) {
                s.setSoTimeout(60_000);
                assertThat(statusLine(s.getInputStream())).isEqualTo("HTTP/1.1 200 OK");
            }
        } finally {
            for (Socket s : halfSent) {
                s.close();
            }
        }
    }

    @Test
    void keepAlive_sequentialRequestsOnOneConnection_areNotHeldBackByDelayedAcks() throws Exception {
        for (int i = 0; i < 100; i++) {
            assertThat(get(replicated, "/coupons/BIRTHDAY").statusCode()).isEqualTo(200);   // warm, connect once
        }
        long[] nanos = new long[200];
        long start = System.nanoTime();
        for (int i = 0; i < nanos.length; i++) {
            long t = System.nanoTime();
            assertThat(get(replicated, "/coupons/BIRTHDAY").statusCode()).isEqualTo(200);
            nanos[i] = System.nanoTime() - t;
        }
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        java.util.Arrays.sort(nanos);
        Duration fast = Duration.ofNanos(nanos[nanos.length / 10]);
        System.out.println("200 keep-alive requests on one connection: " + took.toMillis() + " ms, p10 "
                + fast.toNanos() / 1000 + " us, p50 " + nanos[nanos.length / 2] / 1000 + " us");
        // Nagle's algorithm meeting delayed ACKs holds back every response by ~40 ms (the delayed-ACK timer), however
        // idle the machine; a busy machine makes the typical request slow too, but not the fastest tenth of them
        assertThat(fast).as("the 10th percentile of 200 keep-alive requests").isLessThan(Duration.ofMillis(30));
        assertThat(took).as("hang guard").isLessThan(Duration.ofSeconds(60));
    }

    @Test
    void listingsWhoseClientsStopReading_doNotStarveHealthOrLookups() throws Exception {
        List<Socket> stalled = new ArrayList<>();
        try {
            for (int i = 0; i < CouponHttpService.MAX_LISTINGS; i++) {
                Socket s = new Socket();
                s.setReceiveBufferSize(4096);   // fills sooner: the listing blocks in a write at once
                s.connect(new InetSocketAddress("127.0.0.1", replicated.port()));
                s.getOutputStream().write("GET /coupons?valid=true HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                        .getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                stalled.add(s);
            }
            // every listing thread blocks writing (their clients read nothing); the listings over the bound wait
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                    assertThat(get(replicated, "/coupons?valid=true&limit=1").statusCode()).isEqualTo(503));
            HttpResponse<String> tooMany = get(replicated, "/coupons?valid=true&limit=1");
            assertThat(tooMany.body()).contains("too many listings at once");
            assertThat(tooMany.headers().firstValue("Retry-After")).contains("1");
            for (String path : List.of("/health", "/health/live", "/health/ready", "/coupons/BIRTHDAY")) {
                assertThat(get(replicated, path).statusCode()).as(path).isEqualTo(200);
            }
        } finally {
            for (Socket s : stalled) {
                s.close();
            }
        }
        // the clients gone, their listings end and free their places
        await().atMost(Duration.ofSeconds(120)).untilAsserted(() ->
                assertThat(get(replicated, "/coupons?valid=true&limit=3").body().lines()).hasSize(3));
    }

    @Test
    void listingThatLosesItsShard_isCutWithoutItsLastChunk() throws Exception {
        HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + partitioned.port() + "/coupons?valid=true")).timeout(Duration.ofSeconds(120)).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(r.statusCode()).isEqualTo(200);
        CouponState shard = null;
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            assertThat(lines.readLine()).startsWith("{\"code\":");
            // the rest of the listing cannot all be in the sockets' buffers yet: the server writes on after this
            shard = partitionedState.dropShard(0);
            long[] read = {1};
            assertThatThrownBy(() -> {
                while (lines.readLine() != null) {
                    read[0]++;
                }
            }).as("a listing cut short must not read as a whole one").isInstanceOf(IOException.class);
            assertThat(read[0]).isLessThan(CODES);
        } finally {
            if (shard != null) {
                partitionedState.addShard(0, shard);
            }
        }
        HttpResponse<String> again = get(partitioned, "/coupons?valid=true&limit=2");
        assertThat(again.statusCode()).isEqualTo(200);
        assertThat(again.body().lines()).hasSize(2);
    }

    private HttpResponse<String> get(CouponHttpService service, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + service.port() + path))
                .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The first line of a response. */
    private static String statusLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            if (c != '\r') {
                line.append((char) c);
            }
        }
        return line.toString();
    }
}
