package io.couponstate.kafka.streams;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.couponstate.core.CodeFormat;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.function.Supplier;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.query.QueryResult;
import org.apache.kafka.streams.query.StateQueryRequest;
import org.apache.kafka.streams.query.StateQueryResult;
import org.apache.kafka.streams.state.HostInfo;

/**
 * An example service answering {@code GET /coupons/{code}} from any instance of a Kafka Streams application with a
 * couponstate store, with the JSON and status codes of the examples' {@code serve}: 200
 * {@code {"code":"BIRTHDAY","valid":true,"sources":["couponbase1",...]}} (sources sorted), 400 for a code outside
 * the format, 503 while the code's partition has no active owner (a rebalance), 404 for other paths. A code owned
 * elsewhere is fetched from its owner ({@code KafkaStreams.queryMetadataForKey} through
 * {@link CouponStores#queryMetadata}), so every instance gives the same answer. The JDK's HTTP server: an example,
 * not a production server.
 */
final class CouponStreamsHttpExample implements AutoCloseable {

    private final HttpServer server;
    private final String storeName;
    private final CodeFormat format;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private volatile Supplier<KafkaStreams> streams = () -> null;

    /** Binds a free port on 127.0.0.1; {@link #serve} starts answering. */
    CouponStreamsHttpExample(String storeName, CodeFormat format) throws IOException {
        this.storeName = storeName;
        this.format = format;
        this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
    }

    /** {@code host:port}: what the instance's {@code application.server} must be. */
    String endpoint() {
        return "127.0.0.1:" + server.getAddress().getPort();
    }

    /** Starts answering from {@code streams}. */
    void serve(KafkaStreams streams) {
        this.streams = () -> streams;
        server.start();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            if (!"GET".equals(exchange.getRequestMethod()) || !path.startsWith("/coupons/")
                    || path.indexOf('/', "/coupons/".length()) >= 0 || path.length() == "/coupons/".length()) {
                send(exchange, 404, error("no such resource: " + path + " (try /coupons/{code})"));
                return;
            }
            String code = path.substring("/coupons/".length());
            if (!format.isWellFormed(code)) {
                send(exchange, 400, error("malformed coupon code " + quote(code) + " (expected: the state's code "
                        + "format, e.g. 8 to 10 of A-Z0-9)"));
                return;
            }
            KafkaStreams ks = streams.get();
            KeyQueryMetadata where = CouponStores.queryMetadata(ks, storeName, code);
            if (where == null || where.activeHost() == null || where.activeHost().port() < 0) {
                send(exchange, 503, error("partition of " + quote(code) + " has no active owner yet (rebalancing)"));
                return;
            }
            HostInfo owner = where.activeHost();
            if (!endpoint().equals(owner.host() + ":" + owner.port())) {
                forward(exchange, owner, code);
                return;
            }
            StateQueryResult<CouponQueries.CodeAnswer> result = ks.query(StateQueryRequest.inStore(storeName)
                    .withQuery(CouponQueries.code(code)).withPartitions(Set.of(where.partition())));
            QueryResult<CouponQueries.CodeAnswer> one = result.getPartitionResults().get(where.partition());
            if (one == null || one.isFailure()) {
                send(exchange, 503, error("partition " + where.partition() + " not answerable here now: "
                        + (one == null ? "no result" : one.getFailureReason() + " " + one.getFailureMessage())));
                return;
            }
            send(exchange, 200, json(one.getResult()));
        }
    }

    private void forward(HttpExchange exchange, HostInfo owner, String code) throws IOException {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://" + owner.host() + ":" + owner.port()
                + "/coupons/" + code)).timeout(Duration.ofSeconds(10)).GET().build();
        try {
            HttpResponse<byte[]> response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
            send(exchange, response.statusCode(), new String(response.body(), StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            send(exchange, 503, error("interrupted asking the owner " + owner));
        } catch (IOException e) {
            send(exchange, 503, error("owner " + owner + " of " + quote(code) + " unreachable: " + e.getMessage()));
        }
    }

    static String json(CouponQueries.CodeAnswer answer) {
        StringBuilder json = new StringBuilder("{\"code\":").append(quote(answer.code()))
                .append(",\"valid\":").append(answer.valid()).append(",\"sources\":[");
        String sep = "";
        for (String source : answer.sources()) {
            json.append(sep).append(quote(source));
            sep = ",";
        }
        return json.append("]}").toString();
    }

    private static String error(String message) {
        return "{\"error\":" + quote(message) + "}";
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.append('"').toString();
    }

    private static void send(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        exchange.sendResponseHeaders(status, bytes.length);
        try (InputStream ignored = exchange.getRequestBody(); OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
