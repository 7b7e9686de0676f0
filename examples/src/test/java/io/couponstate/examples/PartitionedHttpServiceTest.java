package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.examples.CouponHttpService.OwnerLookup;
import io.couponstate.examples.CouponHttpService.Partitioning;
import io.couponstate.examples.CouponHttpService.Readiness;
import io.couponstate.kafka.PartitionedCouponState;
import io.couponstate.kafka.ShardStatus;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Partitioned mode of the HTTP service without Kafka: two services over two {@link PartitionedCouponState}s that
 * split six partitions (A owns 0-2, B owns 3-5), with a fake owner lookup.
 */
@Timeout(60)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)   // one pair of services: closing one takes a second
class PartitionedHttpServiceTest {

    private static final int PARTITIONS = 6;
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private final List<AutoCloseable> closing = new ArrayList<>();
    private PartitionedCouponState stateA;
    private PartitionedCouponState stateB;
    private CouponHttpService a;
    private CouponHttpService b;
    private String endpointA;
    private String endpointB;
    /** What A's lookup answers; by default the true owner. */
    private final AtomicReference<OwnerLookup> lookupA = new AtomicReference<>();
    private final AtomicReference<OwnerLookup> lookupB = new AtomicReference<>();
    private final AtomicInteger lookupsOnA = new AtomicInteger();
    /** One code per partition, and its sources. */
    private final List<String> codes = new ArrayList<>();

    @BeforeAll
    void start() throws IOException {
        CouponStateConfig config = CouponStateConfig.defaults();
        stateA = PartitionedCouponState.lockFree(PARTITIONS, config);
        stateB = PartitionedCouponState.lockFree(PARTITIONS, config);
        for (int p = 0; p < PARTITIONS; p++) {
            (p < 3 ? stateA : stateB).addShard(p);
        }
        for (int i = 0; codes.size() < PARTITIONS; i++) {
            String code = String.format("CODE%04d", i);
            if (stateA.partitionOf(code) == codes.size()) {
                codes.add(code);
            }
        }
        for (String code : codes) {
            PartitionedCouponState owner = stateA.isOwned(code) ? stateA : stateB;
            owner.addObservation(code, "couponbase1");
            if (owner.partitionOf(code) % 2 == 0) {
                owner.addObservation(code, "couponbase2");   // even partitions: valid
            }
        }
        AtomicReference<String> selfA = new AtomicReference<>();
        AtomicReference<String> selfB = new AtomicReference<>();
        a = service(stateA, selfA::get, code -> {
            lookupsOnA.incrementAndGet();
            return lookupA.get().ownerOf(code);
        }, Duration.ofSeconds(2), Map.of(0, new ShardStatus(0, true, 0), 1, new ShardStatus(1, true, 5),
                2, new ShardStatus(2, false, -1)));
        b = service(stateB, selfB::get, code -> lookupB.get().ownerOf(code), Duration.ofSeconds(2), Map.of());
        endpointA = "127.0.0.1:" + a.port();
        endpointB = "127.0.0.1:" + b.port();
        selfA.set(endpointA);
        selfB.set(endpointB);
    }

    @BeforeEach
    void trueOwners() {
        OwnerLookup truth = code -> Optional.of(stateA.partitionOf(code) < 3 ? endpointA : endpointB);
        lookupA.set(truth);
        lookupB.set(truth);
        lookupsOnA.set(0);
    }

    private CouponHttpService service(PartitionedCouponState state, java.util.function.Supplier<String> self,
            OwnerLookup lookup, Duration timeout, Map<Integer, ShardStatus> shards) throws IOException {
        CouponHttpService s = new CouponHttpService(new InetSocketAddress("127.0.0.1", 0), state,
                () -> Readiness.UP, null, null, 2, new Partitioning(self, lookup, () -> shards, timeout));
        closing.add(s);
        return s;
    }

    @AfterAll
    void stop() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
    }

    @Test
    void ownedCode_isAnsweredHere() throws Exception {
        String code = codes.get(0);
        HttpResponse<String> r = get(endpointA, code);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("{\"code\":\"" + code + "\",\"valid\":true,\"sources\":[\"couponbase1\","
                + "\"couponbase2\"]}");
        assertThat(r.headers().firstValue("X-Couponstate-Partition")).contains("0");
        assertThat(r.headers().firstValue("X-Couponstate-Served-By")).isEmpty();
        assertThat(lookupsOnA).as("an owned code needs no owner lookup").hasValue(0);
    }

    @Test
    void everyCode_getsTheOwnersAnswerFromEitherInstance() throws Exception {
        for (String code : codes) {
            String direct = get(stateA.isOwned(code) ? endpointA : endpointB, code).body();
            for (String via : List.of(endpointA, endpointB)) {
                HttpResponse<String> r = get(via, code);
                assertThat(r.statusCode()).as("%s via %s", code, via).isEqualTo(200);
                assertThat(r.body()).as("%s via %s", code, via).isEqualTo(direct)
                        .contains("\"valid\":" + (stateA.partitionOf(code) % 2 == 0));
            }
        }
        HttpResponse<String> forwarded = get(endpointA, codes.get(4));
        assertThat(forwarded.headers().firstValue("X-Couponstate-Served-By")).contains(endpointB);
        HttpResponse<String> head = send("HEAD", endpointA, "/coupons/" + codes.get(4), false);
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.body()).isEmpty();
        assertThat(get(endpointA, "NEVERSEEN").body()).as("an unknown code, forwarded or not")
                .isEqualTo("{\"code\":\"NEVERSEEN\",\"valid\":false,\"sources\":[]}");
        assertThat(get(endpointA, "BAD-CODE").statusCode()).as("malformed: 400 here, not forwarded").isEqualTo(400);
    }

    @Test
    void ownerDown_is503NamingThePartitionAndTheEndpoint() throws Exception {
        String dead;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            dead = "127.0.0.1:" + s.getLocalPort();
        }
        String deadEndpoint = dead;
        lookupA.set(code -> Optional.of(deadEndpoint));
        HttpResponse<String> r = get(endpointA, codes.get(3));
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.headers().firstValue("Retry-After")).contains("1");
        assertThat(r.body()).contains("\"partition\":3").contains("\"owner\":\"" + dead + "\"")
                .contains("cannot be reached");
    }

    @Test
    void unknownOwner_is503WithOwnerNull() throws Exception {
        lookupA.set(code -> Optional.empty());
        HttpResponse<String> r = get(endpointA, codes.get(5));
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).contains("\"partition\":5").contains("\"owner\":null").contains("no owner known");
    }

    @Test
    void ownerIsThisInstance_is503ShardNotQueryableYet() throws Exception {
        var shard = stateA.dropShard(1);   // assigned here, still being rebuilt
        try {
            HttpResponse<String> r = get(endpointA, codes.get(1));
            assertThat(r.statusCode()).isEqualTo(503);
            assertThat(r.body()).contains("\"partition\":1").contains("\"owner\":\"" + endpointA + "\"")
                    .contains("not queryable yet");
        } finally {
            stateA.addShard(1, shard);
        }
    }

    @Test
    void forwardedRequest_isNeverForwardedAgain() throws Exception {
        // partition 5 is on neither instance, and each believes the other owns it: without the header they would
        // bounce the request between them
        var shard = stateB.dropShard(5);
        lookupA.set(code -> Optional.of(endpointB));
        lookupB.set(code -> Optional.of(endpointA));
        HttpResponse<String> r;
        try {
            r = get(endpointA, codes.get(5));
        } finally {
            stateB.addShard(5, shard);
        }
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).contains("\"partition\":5").contains("not forwarded again")
                .contains("\"owner\":\"" + endpointA + "\"");
        assertThat(r.headers().firstValue("X-Couponstate-Served-By")).contains(endpointB);
        assertThat(lookupsOnA).as("A was asked once, never again by B").hasValue(1);

        HttpResponse<String> marked = send("GET", endpointA, "/coupons/" + codes.get(4), true);
        assertThat(marked.statusCode()).as("a marked request for a code not here").isEqualTo(503);
        assertThat(marked.headers().firstValue("X-Couponstate-Served-By")).isEmpty();
    }

    @Test
    void stalledOwner_is503WithinTheForwardTimeout() throws Exception {
        ServerSocket silent = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        closing.add(silent);
        List<Socket> accepted = new CopyOnWriteArrayList<>();
        Thread acceptor = new Thread(() -> {
            try {
                while (true) {
                    accepted.add(silent.accept());   // accepts and never answers
                }
            } catch (IOException e) {
                // closed at the end of the test
            }
        }, "silent-owner");
        acceptor.setDaemon(true);
        acceptor.start();
        closing.add(() -> {
            for (Socket s : accepted) {
                s.close();
            }
        });
        AtomicReference<String> self = new AtomicReference<>("127.0.0.1:1");
        CouponHttpService c = service(stateA, self::get,
                code -> Optional.of("127.0.0.1:" + silent.getLocalPort()), Duration.ofMillis(300), Map.of());
        // without the bound this request would wait for the silent owner until the test's @Timeout
        HttpResponse<String> r = get("127.0.0.1:" + c.port(), codes.get(3));
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).contains("\"partition\":3").contains("did not answer within");
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "h:0", "h:65536", "user@h:1", "h:1/x", "h :1", "http://h:1", "h:1?x",
        "h:1#x", "", "[::1]", "h:-1", "%68:1", "h:1\r\nX: y", "-h:1", "[::1]:1/admin"})
    void ownerEndpointThatIsNotHostPort_is503_andNothingIsSent(String bad) throws Exception {
        assertThat(CouponHttpService.isHostPort(bad)).as(bad).isFalse();
        try (ServerSocket listener = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            // the bad endpoint names a live port: a request built from it would arrive here
            String owner = bad.isEmpty() ? bad : bad.replace(":1", ":" + listener.getLocalPort());
            lookupA.set(code -> Optional.of(owner));
            HttpResponse<String> r = get(endpointA, codes.get(3));
            assertThat(r.statusCode()).isEqualTo(503);
            assertThat(r.body()).contains("\"partition\":3").contains("which is not a host:port");
            listener.setSoTimeout(200);   // a forward would have connected before the answer above was sent
            assertThatThrownBy(listener::accept).isInstanceOf(java.net.SocketTimeoutException.class);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1:8080", "host-1.example.com:1", "[::1]:65535", "[2001:db8::7]:80", "h:1"})
    void hostPort_acceptsHostsAndAddressesWithAPort(String good) {
        assertThat(CouponHttpService.isHostPort(good)).as(good).isTrue();
    }

    @Test
    void ownerReplyOver64KB_is502() throws Exception {
        com.sun.net.httpserver.HttpServer big = com.sun.net.httpserver.HttpServer.create(
                new InetSocketAddress("127.0.0.1", 0), 8);
        AtomicInteger size = new AtomicInteger(CouponHttpService.MAX_FORWARDED_BYTES + 1);
        big.createContext("/", exchange -> {
            byte[] body = "x".repeat(size.get()).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            exchange.sendResponseHeaders(200, body.length);
            try (var out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        big.start();
        try {
            lookupA.set(code -> Optional.of("127.0.0.1:" + big.getAddress().getPort()));
            HttpResponse<String> r = get(endpointA, codes.get(3));
            assertThat(r.statusCode()).isEqualTo(502);
            assertThat(r.body()).contains("\"partition\":3").contains("answered more than 65536 bytes");
            size.set(CouponHttpService.MAX_FORWARDED_BYTES);   // exactly at the bound: relayed
            HttpResponse<String> atBound = get(endpointA, codes.get(3));
            assertThat(atBound.statusCode()).isEqualTo(200);
            assertThat(atBound.body()).hasSize(CouponHttpService.MAX_FORWARDED_BYTES);
        } finally {
            big.stop(0);
        }
    }

    @Test
    void health_namesTheModeAndThePartitionsHere() throws Exception {
        HttpResponse<String> r = send("GET", endpointA, "/health", false);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("{\"status\":\"UP\",\"codes\":3,\"mode\":\"partitioned\",\"partitions\":["
                + "{\"partition\":0,\"queryable\":true,\"lag\":0},{\"partition\":1,\"queryable\":true,\"lag\":5},"
                + "{\"partition\":2,\"queryable\":false,\"lag\":null}]}");
    }

    @Test
    void listing_coversTheShardsHereAndSaysWhich() throws Exception {
        HttpResponse<String> r = send("GET", endpointA, "/coupons?valid=true", false);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("X-Couponstate-Partitions")).contains("0,1,2");
        assertThat(r.body().split("\n")).as("the valid codes of partitions 0-2, none of B's")
                .containsExactlyInAnyOrder(
                "{\"code\":\"" + codes.get(0) + "\",\"sources\":[\"couponbase1\",\"couponbase2\"]}",
                "{\"code\":\"" + codes.get(2) + "\",\"sources\":[\"couponbase1\",\"couponbase2\"]}");
    }

    private static HttpResponse<String> get(String endpoint, String code) throws Exception {
        return send("GET", endpoint, "/coupons/" + code, false);
    }

    private static HttpResponse<String> send(String method, String endpoint, String path, boolean forwarded)
            throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://" + endpoint + path))
                .timeout(Duration.ofSeconds(30)).method(method, HttpRequest.BodyPublishers.noBody());
        if (forwarded) {
            r.header(CouponHttpService.FORWARDED_HEADER, "1");
        }
        return HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }
}
