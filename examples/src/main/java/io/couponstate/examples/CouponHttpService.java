package io.couponstate.examples;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.couponstate.core.CouponState;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A small HTTP front for a {@link CouponState}, on the JDK's {@code com.sun.net.httpserver}: the way an ordering
 * service would ask the library. Thread-safe: requests run on a small pool and only read the state.
 *
 * <ul>
 *   <li>{@code GET /coupons/{code}}: 200 {@code {"code":"BIRTHDAY","valid":true,"sources":["couponbase1",...]}}
 *       with the sources sorted by name;
 *       400 for a code outside the state's format; 503 while the state is not caught up.</li>
 *   <li>{@code GET /health}: 200 {@code {"status":"UP",...}} once caught up; 503 while starting or after a
 *       failure.</li>
 * </ul>
 */
final class CouponHttpService implements AutoCloseable {

    /** Where the state stands, for the answers. */
    enum Readiness {
        /** Not caught up yet: answers would be incomplete. */
        STARTING,
        /** Caught up once; kept current since. */
        UP,
        /** The runner failed; the state no longer moves. */
        FAILED
    }

    private final HttpServer server;
    private final ExecutorService pool;
    private final CouponState state;
    private final Supplier<Readiness> readiness;

    /**
     * Starts serving.
     *
     * @param address where to listen; port 0 for a free one
     * @param state the state to answer from
     * @param readiness where the state stands; asked on every request
     */
    CouponHttpService(InetSocketAddress address, CouponState state, Supplier<Readiness> readiness)
            throws IOException {
        this.state = Objects.requireNonNull(state, "state");
        this.readiness = Objects.requireNonNull(readiness, "readiness");
        this.server = HttpServer.create(address, 64);
        this.pool = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "coupon-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(pool);
        server.createContext("/coupons/", this::coupon);
        server.createContext("/health", this::health);
        server.createContext("/", exchange -> send(exchange, 404, error("no such resource: "
                + exchange.getRequestURI().getPath() + " (try /coupons/{code} or /health)")));
        server.start();
    }

    /** The port listened on. */
    int port() {
        return server.getAddress().getPort();
    }

    private void coupon(HttpExchange exchange) throws IOException {
        if (!"GET".equals(exchange.getRequestMethod())) {
            send(exchange, 405, error("method " + exchange.getRequestMethod() + " (expected: GET)"));
            return;
        }
        String code = exchange.getRequestURI().getPath().substring("/coupons/".length());
        if (!state.isWellFormed(code)) {
            send(exchange, 400, error("malformed coupon code '" + code + "' (expected: the state's code format, "
                    + "e.g. 8 to 10 of A-Z0-9)"));
            return;
        }
        Readiness now = readiness.get();
        if (now != Readiness.UP) {
            exchange.getResponseHeaders().set("Retry-After", "1");
            send(exchange, 503, error("not ready: " + now + " (the state has not caught up with the topics)"));
            return;
        }
        // sorted by name, so that the answer does not depend on which source happened to be read first
        Set<String> sources = new TreeSet<>(state.getObservations(code));
        StringBuilder json = new StringBuilder("{\"code\":").append(quote(code))
                .append(",\"valid\":").append(sources.size() >= state.threshold())
                .append(",\"sources\":[");
        String sep = "";
        for (String source : sources) {
            json.append(sep).append(quote(source));
            sep = ",";
        }
        send(exchange, 200, json.append("]}").toString());
    }

    private void health(HttpExchange exchange) throws IOException {
        Readiness now = readiness.get();
        String body = "{\"status\":" + quote(now.name()) + ",\"codes\":" + state.size() + "}";
        send(exchange, now == Readiness.UP ? 200 : 503, body);
    }

    private static String error(String message) {
        return "{\"error\":" + quote(message) + "}";
    }

    private static void send(HttpExchange exchange, int status, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    /** A JSON string literal. */
    static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    /** Stops listening (waiting up to a second for requests in flight) and stops the pool. */
    @Override
    public void close() {
        server.stop(1);
        pool.shutdown();
        try {
            pool.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
