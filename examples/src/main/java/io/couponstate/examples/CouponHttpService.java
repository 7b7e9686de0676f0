package io.couponstate.examples;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.couponstate.core.CouponState;
import io.couponstate.kafka.NotOwnedException;
import io.couponstate.kafka.PartitionedCouponState;
import io.couponstate.kafka.RunnerMetrics;
import io.couponstate.kafka.ShardStatus;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A small HTTP front for a {@link CouponState}, on the JDK's {@code com.sun.net.httpserver}: the way an ordering
 * service would ask the library. Thread-safe: requests run on a fixed pool and only read the state.
 *
 * <p>Routes (exact paths; {@code GET} and {@code HEAD} only, anything else is 405 with {@code Allow: GET, HEAD};
 * any other path is 404):
 * <ul>
 *   <li>{@code /coupons/{code}}: 200 {@code {"code":"BIRTHDAY","valid":true,"sources":["couponbase1",...]}}
 *       with the sources sorted by name; 400 for a code outside the state's format; 503 while not caught up.</li>
 *   <li>{@code /coupons?valid=true[&limit=N]}: 200, the valid codes streamed as JSON lines
 *       ({@code application/x-ndjson}: {@code {"code":...,"sources":[...]}} per line, in no particular order), at
 *       most {@code limit} of them; 400 for other parameters; 503 while not caught up.</li>
 *   <li>{@code /health}: 200 {@code {"status":"UP","codes":N}} once caught up; 503 before, with the status
 *       {@code RESTORING} (reading the checkpoint) or {@code CATCHING_UP} (reading the topics' backlog), and after a
 *       failure ({@code FAILED}). With a runner, while RESTORING also {@code "restoredBytes"} and
 *       {@code "restoreTotalBytes"} (checkpoint bytes read, of the files' sizes), while CATCHING_UP
 *       {@code "etaSeconds"} (the lag over the recent rate; null while unknown), and always {@code "durable"} (false while checkpoints fail: the answers are still right,
 *       but a restart would replay from an older checkpoint), {@code "lastDurableCheckpointAgeSeconds"},
 *       {@code "lag"} (null while unknown), and {@code "checkpointFailure"} / {@code "problem"} when there is
 *       one.</li>
 *   <li>{@code /metrics}: the metrics in the Prometheus text format, when a source of them is given.</li>
 * </ul>
 *
 * <p><b>Partitioned mode</b> (a {@link Partitioning} given, over a {@link PartitionedCouponState}): this instance
 * holds only the shards the consumer group assigns it.
 * <ul>
 *   <li>{@code /coupons/{code}} answers a code of a shard queryable here itself; any other well-formed code is
 *       forwarded, one hop, to the endpoint {@link OwnerLookup#ownerOf} names, with the header
 *       {@value #FORWARDED_HEADER}{@code : 1}, and the owner's status, content type and body are relayed (with
 *       {@code X-Couponstate-Served-By: host:port}). A request that carries that header and lands on an instance
 *       that does not hold the shard is never forwarded again. 503 {@code {"error":...,"partition":p,"owner":
 *       "host:port"|null}} (with {@code Retry-After: 1}) when no owner is known, when the owner is this instance
 *       (the shard is being restored or rebuilt here), when the owner cannot be reached or does not answer within
 *       the forward timeout (connect and response together), or for a forwarded request this instance cannot
 *       answer. These answers do not wait for this instance to catch up (a shard is queryable only once caught up);
 *       only a FAILED runner makes them 503.</li>
 *   <li>{@code /coupons?valid=true} lists the valid codes of the shards queryable <em>here</em> when the listing
 *       starts (header {@code X-Couponstate-Partitions: 0,3}); the whole list is the union over the instances.</li>
 *   <li>{@code /health} adds {@code "mode":"partitioned"} and {@code "partitions":[{"partition":p,"queryable":b,
 *       "lag":n|null},...]}, the partitions assigned here; {@code "codes"} counts the codes of the shards here. In
 *       replicated mode it adds {@code "mode":"replicated"}.</li>
 * </ul>
 *
 * <p>Bounds: a request target (path and query) longer than {@value #MAX_REQUEST_TARGET} bytes is 414; an error body
 * echoes at most {@value Messages#MAX_ECHO} characters of input; requests run on a fixed pool of threads, and a
 * connection that has not sent its whole request within {@value #MAX_REQUEST_SECONDS} s is closed (so a few slow
 * or stalled clients cannot hold every thread), as is one whose response takes more than
 * {@value #MAX_RESPONSE_SECONDS} s to be read.
 */
final class CouponHttpService implements AutoCloseable {

    /** The longest request target (path and query) served; longer is 414. */
    static final int MAX_REQUEST_TARGET = 2048;
    /** How long a client has to send its request (line and headers), in seconds. */
    static final int MAX_REQUEST_SECONDS = 10;
    /** How long a client has to read a response, in seconds. */
    static final int MAX_RESPONSE_SECONDS = 120;
    /** The default size of the request pool. */
    static final int DEFAULT_THREADS = 4;

    /** The header that marks a forwarded request, which is never forwarded again. */
    static final String FORWARDED_HEADER = "X-Couponstate-Forwarded";
    /** The default bound of one forward: connect, request and response together. */
    static final Duration DEFAULT_FORWARD_TIMEOUT = Duration.ofSeconds(2);

    private static final String ALLOW = "GET, HEAD";
    private static final String JSON = "application/json; charset=utf-8";

    static {
        // The JDK server reads a request's line and headers on a pool thread, blocking: without a bound, a client
        // that sends half a request holds that thread for good. These are read once, when the JDK's server
        // classes are first used, so they are set here, before any server is created, unless the user set them.
        setIfAbsent("sun.net.httpserver.maxReqTime", Integer.toString(MAX_REQUEST_SECONDS));
        setIfAbsent("sun.net.httpserver.maxRspTime", Integer.toString(MAX_RESPONSE_SECONDS));
        setIfAbsent("sun.net.httpserver.maxReqHeaders", "100");
    }

    /** Where the state stands, for the answers. */
    enum Readiness {
        /** Reading the checkpoint: answers would be incomplete. */
        RESTORING,
        /** Reading the topics' backlog, not caught up yet: answers would be incomplete. */
        CATCHING_UP,
        /** Caught up once; kept current since. */
        UP,
        /** The runner failed; the state no longer moves. */
        FAILED
    }

    /** Who owns a code's partition in partitioned mode: the runner's {@code ownerOf}, or a fake in tests. */
    @FunctionalInterface
    interface OwnerLookup {
        /** The {@code host:port} of the instance owning {@code code}'s partition, if known; must not block. */
        Optional<String> ownerOf(CharSequence code);
    }

    /**
     * What partitioned mode needs besides the state.
     *
     * @param self this instance's advertised {@code host:port}, asked per request (null while not known yet)
     * @param owners who owns a code's partition
     * @param shards the partitions assigned here and their status, for {@code /health}
     * @param forwardTimeout the bound of one forward, connect and response together
     */
    record Partitioning(Supplier<String> self, OwnerLookup owners, Supplier<Map<Integer, ShardStatus>> shards,
                        Duration forwardTimeout) {
        /** Checks the values. */
        Partitioning {
            Objects.requireNonNull(self, "self");
            Objects.requireNonNull(owners, "owners");
            Objects.requireNonNull(shards, "shards");
            Objects.requireNonNull(forwardTimeout, "forwardTimeout");
            if (forwardTimeout.isNegative() || forwardTimeout.isZero()) {
                throw new IllegalArgumentException("forwardTimeout: " + forwardTimeout + " (expected: > 0)");
            }
        }
    }

    private final HttpServer server;
    private final ExecutorService pool;
    private final CouponState state;
    private final Supplier<Readiness> readiness;
    private final Supplier<String> metrics;
    private final Supplier<RunnerMetrics> runnerMetrics;
    /** Null in replicated mode. */
    private final Partitioning partitioning;
    /** Partitioned mode: forwards requests; its own executor, so a forward never waits for a request thread. */
    private final HttpClient forwarder;
    private final ExecutorService forwardPool;

    /** A service without {@code /metrics} on the default pool size. */
    CouponHttpService(InetSocketAddress address, CouponState state, Supplier<Readiness> readiness)
            throws IOException {
        this(address, state, readiness, null, DEFAULT_THREADS);
    }

    /**
     * Starts serving.
     *
     * @param address where to listen; port 0 for a free one
     * @param state the state to answer from
     * @param readiness where the state stands; asked on every request
     * @param metrics the Prometheus text for {@code /metrics}, asked per request; null: no such route
     * @param threads the size of the request pool
     */
    CouponHttpService(InetSocketAddress address, CouponState state, Supplier<Readiness> readiness,
                      Supplier<String> metrics, int threads) throws IOException {
        this(address, state, readiness, metrics, null, threads);
    }

    /**
     * Starts serving, with the runner's durability in {@code /health}.
     *
     * @param runnerMetrics the runner's counters, asked per {@code /health} request; null: none shown
     */
    CouponHttpService(InetSocketAddress address, CouponState state, Supplier<Readiness> readiness,
                      Supplier<String> metrics, Supplier<RunnerMetrics> runnerMetrics, int threads)
            throws IOException {
        this(address, state, readiness, metrics, runnerMetrics, threads, null);
    }

    /**
     * Starts serving, in partitioned mode when {@code partitioning} is given (see the class javadoc).
     *
     * @param runnerMetrics the runner's counters, asked per {@code /health} request (may answer null while there is
     *     no runner yet); null: none shown
     * @param partitioning null: replicated mode; else {@code state} must be a {@link PartitionedCouponState}
     * @throws IllegalArgumentException for a partitioning over another kind of state
     */
    CouponHttpService(InetSocketAddress address, CouponState state, Supplier<Readiness> readiness,
                      Supplier<String> metrics, Supplier<RunnerMetrics> runnerMetrics, int threads,
                      Partitioning partitioning) throws IOException {
        if (partitioning != null && !(state instanceof PartitionedCouponState)) {
            throw new IllegalArgumentException("state: " + state.getClass().getSimpleName() + " (expected: a "
                    + "PartitionedCouponState in partitioned mode)");
        }
        this.partitioning = partitioning;
        this.runnerMetrics = runnerMetrics;
        this.state = Objects.requireNonNull(state, "state");
        this.readiness = Objects.requireNonNull(readiness, "readiness");
        this.metrics = metrics;
        if (threads < 1 || threads > 256) {
            throw new IllegalArgumentException("threads: " + threads + " (expected: 1..256)");
        }
        this.server = HttpServer.create(address, 64);
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "coupon-http-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(pool);
        server.createContext("/", this::handle);
        if (partitioning == null) {
            this.forwardPool = null;
            this.forwarder = null;
        } else {
            AtomicInteger f = new AtomicInteger();
            this.forwardPool = Executors.newCachedThreadPool(r -> {
                Thread t = new Thread(r, "coupon-http-forward-" + f.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
            this.forwarder = HttpClient.newBuilder()
                    .executor(forwardPool)
                    .connectTimeout(partitioning.forwardTimeout())
                    .followRedirects(HttpClient.Redirect.NEVER)
                    .version(HttpClient.Version.HTTP_1_1)
                    .build();
        }
        server.start();
    }

    private static void setIfAbsent(String name, String value) {
        if (System.getProperty(name) == null) {
            System.setProperty(name, value);
        }
    }

    /** The port listened on. */
    int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try {
            URI uri = exchange.getRequestURI();
            String rawPath = uri.getRawPath() == null ? "" : uri.getRawPath();
            String rawQuery = uri.getRawQuery();
            int target = rawPath.length() + (rawQuery == null ? 0 : rawQuery.length() + 1);
            if (target > MAX_REQUEST_TARGET) {
                send(exchange, 414, error("request target of " + target + " bytes (expected: at most "
                        + MAX_REQUEST_TARGET + ")"));
                return;
            }
            String path = uri.getPath() == null ? "" : uri.getPath();
            Route route = route(path);
            if (route == null) {
                send(exchange, 404, error("no such resource: " + Messages.cut(path) + " (try /coupons/{code}, "
                        + "/coupons?valid=true, /health" + (metrics == null ? "" : ", /metrics") + ")"));
                return;
            }
            String method = exchange.getRequestMethod();
            if (!"GET".equals(method) && !"HEAD".equals(method)) {
                exchange.getResponseHeaders().set("Allow", ALLOW);
                send(exchange, 405, error("method " + Messages.cut(method) + " (expected: GET or HEAD)"));
                return;
            }
            switch (route) {
                case HEALTH -> health(exchange);
                case METRICS -> metrics(exchange);
                case COUPON -> coupon(exchange, path.substring("/coupons/".length()));
                case COUPONS -> coupons(exchange, rawQuery);
                default -> throw new AssertionError(route);
            }
        } finally {
            exchange.close();
        }
    }

    private enum Route { HEALTH, METRICS, COUPON, COUPONS }

    private Route route(String path) {
        switch (path) {
            case "/health":
                return Route.HEALTH;
            case "/metrics":
                return metrics == null ? null : Route.METRICS;
            case "/coupons":
                return Route.COUPONS;
            default:
                if (path.startsWith("/coupons/") && path.length() > "/coupons/".length()
                        && path.indexOf('/', "/coupons/".length()) < 0) {
                    return Route.COUPON;
                }
                return null;
        }
    }

    private void coupon(HttpExchange exchange, String code) throws IOException {
        if (!state.isWellFormed(code)) {
            send(exchange, 400, error("malformed coupon code " + Json.quote(Messages.cut(code)) + " (expected: the "
                    + "state's code format, e.g. 8 to 10 of A-Z0-9)"));
            return;
        }
        if (partitioning != null) {
            partitionedCoupon(exchange, code);
            return;
        }
        if (!ready(exchange)) {
            return;
        }
        send(exchange, 200, couponJson(canonical(code), true));
    }

    /** A state that accepts lower case folds it (--case-insensitive): answers name the canonical code. */
    private String canonical(String code) {
        String canonical = code.toUpperCase(Locale.ROOT);
        return canonical.equals(code) || !state.isWellFormed(canonical) ? code : canonical;
    }

    /** Partitioned mode: answer an owned code here, forward any other one hop, or 503 naming the owner. */
    private void partitionedCoupon(HttpExchange exchange, String code) throws IOException {
        if (readiness.get() == Readiness.FAILED) {
            ready(exchange);   // 503: the runner failed, nothing here moves any more
            return;
        }
        PartitionedCouponState partitioned = (PartitionedCouponState) state;
        int partition = partitioned.partitionOf(code);
        if (partitioned.isOwned(code)) {
            try {
                String json = couponJson(canonical(code), true);
                exchange.getResponseHeaders().set("X-Couponstate-Partition", Integer.toString(partition));
                send(exchange, 200, json);
                return;
            } catch (NotOwnedException e) {
                // the shard was dropped between the check and the read (a rebalance): ask its new owner
            }
        }
        Optional<String> owner = partitioning.owners().ownerOf(code);
        String ownerText = owner.orElse(null);
        if (exchange.getRequestHeaders().containsKey(FORWARDED_HEADER)) {
            unavailable(exchange, partition, ownerText, "partition " + partition + " is not queryable on the "
                    + "instance this request was forwarded to (a forwarded request is not forwarded again; the "
                    + "partition may be moving)");
            return;
        }
        if (owner.isEmpty()) {
            unavailable(exchange, partition, null, "no owner known for partition " + partition + " (the group may "
                    + "be rebalancing)");
            return;
        }
        if (owner.get().equals(partitioning.self().get())) {
            unavailable(exchange, partition, ownerText, "partition " + partition + " is assigned here but its shard "
                    + "is not queryable yet (being restored or rebuilt)");
            return;
        }
        forward(exchange, code, partition, owner.get());
    }

    /** One hop to the owner, bounded by the forward timeout; relays its answer, or 503 naming it. */
    private void forward(HttpExchange exchange, String code, int partition, String owner) throws IOException {
        Duration timeout = partitioning.forwardTimeout();
        HttpRequest request;
        try {
            request = HttpRequest.newBuilder(URI.create("http://" + owner + "/coupons/"
                            + URLEncoder.encode(code, StandardCharsets.UTF_8)))
                    .timeout(timeout)
                    .header(FORWARDED_HEADER, "1")
                    .method(exchange.getRequestMethod(), HttpRequest.BodyPublishers.noBody())
                    .build();
        } catch (IllegalArgumentException e) {
            unavailable(exchange, partition, owner, "the owner of partition " + partition + " advertised "
                    + Json.quote(Messages.cut(owner)) + ", which is not a usable host:port");
            return;
        }
        CompletableFuture<HttpResponse<byte[]>> call = forwarder.sendAsync(request,
                HttpResponse.BodyHandlers.ofByteArray());
        HttpResponse<byte[]> response;
        try {
            // the one bound of the whole forward: connect, request, response headers and body
            response = call.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            call.cancel(true);
            unavailable(exchange, partition, owner, "the owner of partition " + partition + " at " + owner
                    + " did not answer within " + DurationConverter.describe(timeout));
            return;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof java.net.http.HttpTimeoutException) {
                // the client's own connect or request timeout, the same bound as ours: whichever fires first
                unavailable(exchange, partition, owner, "the owner of partition " + partition + " at " + owner
                        + " did not answer within " + DurationConverter.describe(timeout));
                return;
            }
            unavailable(exchange, partition, owner, "the owner of partition " + partition + " at " + owner
                    + " cannot be reached (" + Messages.describe(e.getCause() == null ? e : e.getCause()) + ")");
            return;
        } catch (InterruptedException e) {
            call.cancel(true);
            Thread.currentThread().interrupt();
            unavailable(exchange, partition, owner, "interrupted while asking the owner of partition " + partition
                    + " at " + owner);
            return;
        }
        exchange.getResponseHeaders().set("X-Couponstate-Served-By", owner);
        response.headers().firstValue("Retry-After").ifPresent(v -> exchange.getResponseHeaders().set("Retry-After",
                v));
        String type = response.headers().firstValue("Content-Type").orElse(JSON);
        if (isHead(exchange)) {
            exchange.getResponseHeaders().set("Content-Type", type);
            response.headers().firstValue("Content-Length").ifPresent(v ->
                    exchange.getResponseHeaders().set("Content-Length", v));
            exchange.sendResponseHeaders(response.statusCode(), -1);
            return;
        }
        send(exchange, response.statusCode(), type, response.body());
    }

    /** 503 naming the partition and its owner as known here (or null). */
    private static void unavailable(HttpExchange exchange, int partition, String owner, String why)
            throws IOException {
        exchange.getResponseHeaders().set("Retry-After", "1");
        send(exchange, 503, "{\"error\":" + Json.quote(why) + ",\"partition\":" + partition + ",\"owner\":"
                + (owner == null ? "null" : Json.quote(Messages.cut(owner))) + "}");
    }

    private String couponJson(String code, boolean withValid) {
        // sorted by name, so that the answer does not depend on which source happened to be read first
        Set<String> sources = new TreeSet<>(state.getObservations(code));
        StringBuilder json = new StringBuilder("{\"code\":").append(Json.quote(code));
        if (withValid) {
            json.append(",\"valid\":").append(sources.size() >= state.threshold());
        }
        json.append(",\"sources\":[");
        String sep = "";
        for (String source : sources) {
            json.append(sep).append(Json.quote(source));
            sep = ",";
        }
        return json.append("]}").toString();
    }

    private boolean ready(HttpExchange exchange) throws IOException {
        Readiness now = readiness.get();
        if (now == Readiness.UP) {
            return true;
        }
        exchange.getResponseHeaders().set("Retry-After", "1");
        send(exchange, 503, error("not ready: " + now + " (the state has not caught up with the topics)"));
        return false;
    }

    /** Thrown from the listing's callback to stop it at the limit; no stack trace, it is control flow. */
    private static final class LimitReached extends RuntimeException {
        private static final long serialVersionUID = 1L;

        LimitReached() {
            super(null, null, false, false);
        }
    }

    private void coupons(HttpExchange exchange, String rawQuery) throws IOException {
        Map<String, String> params;
        try {
            params = parseQuery(rawQuery);
        } catch (IllegalArgumentException e) {
            send(exchange, 400, error(e.getMessage()));
            return;
        }
        for (String name : params.keySet()) {
            if (!name.equals("valid") && !name.equals("limit")) {
                send(exchange, 400, error("unknown parameter " + Json.quote(Messages.cut(name))
                        + " (expected: valid=true and an optional limit=N)"));
                return;
            }
        }
        String valid = params.get("valid");
        if (!"true".equals(valid)) {
            send(exchange, 400, error("valid=" + (valid == null ? " missing" : Json.quote(Messages.cut(valid)))
                    + " (expected: valid=true; only the valid codes can be listed)"));
            return;
        }
        long limit = Long.MAX_VALUE;
        String limitText = params.get("limit");
        if (limitText != null) {
            try {
                limit = Long.parseLong(limitText);
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 0) {
                send(exchange, 400, error("limit=" + Json.quote(Messages.cut(limitText)) + " (expected: a number "
                        + ">= 0)"));
                return;
            }
        }
        if (!ready(exchange)) {
            return;
        }
        exchange.getResponseHeaders().set("Content-Type", "application/x-ndjson; charset=utf-8");
        if (state instanceof PartitionedCouponState partitioned) {
            // the listing covers the shards queryable here; the whole list is the union over the instances
            StringBuilder owned = new StringBuilder();
            for (int p : partitioned.ownedPartitions()) {
                owned.append(owned.length() == 0 ? "" : ",").append(p);
            }
            exchange.getResponseHeaders().set("X-Couponstate-Partitions", owned.toString());
        }
        if (isHead(exchange)) {
            exchange.sendResponseHeaders(200, -1);
            return;
        }
        exchange.sendResponseHeaders(200, 0);   // chunked: the listing is streamed, its length is not known
        long max = limit;
        long[] written = {0};
        try (Writer out = new BufferedWriter(new OutputStreamWriter(exchange.getResponseBody(),
                StandardCharsets.UTF_8), 64 * 1024)) {
            if (max > 0) {
                state.forEachCouponCode(state.threshold(), code -> {
                    try {
                        out.write(couponJson(code, false));
                        out.write('\n');
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);   // the client went away: stop the listing
                    }
                    if (++written[0] >= max) {
                        throw new LimitReached();
                    }
                });
            }
        } catch (LimitReached done) {
            // the limit: the writer is closed and the response complete
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** {@code a=1&b=2}, decoded; a repeated name or a malformed escape is an error. */
    private static Map<String, String> parseQuery(String rawQuery) {
        Map<String, String> params = new LinkedHashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return params;
        }
        for (String pair : rawQuery.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String name = decode(eq < 0 ? pair : pair.substring(0, eq));
            String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
            if (params.put(name, value) != null) {
                throw new IllegalArgumentException("parameter " + Json.quote(Messages.cut(name)) + " given twice");
            }
        }
        return params;
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("malformed query escape in " + Json.quote(Messages.cut(s)));
        }
    }

    private void health(HttpExchange exchange) throws IOException {
        Readiness now = readiness.get();
        StringBuilder body = new StringBuilder("{\"status\":").append(Json.quote(now.name()))
                .append(",\"codes\":").append(state.size());
        RunnerMetrics m = runnerMetrics == null ? null : runnerMetrics.get();
        if (m != null) {
            // durable: false means checkpoints are failing, so a restart would replay from an older one
            OptionalLong age = m.lastDurableCheckpointAgeMillis();
            if (now == Readiness.RESTORING) {
                body.append(",\"restoredBytes\":").append(m.restoredBytes())
                        .append(",\"restoreTotalBytes\":").append(m.restoreTotalBytes());
            }
            if (now == Readiness.CATCHING_UP) {
                OptionalLong eta = m.etaSeconds();
                body.append(",\"etaSeconds\":").append(eta.isPresent() ? Long.toString(eta.getAsLong()) : "null");
            }
            body.append(",\"durable\":").append(m.durable())
                    .append(",\"lastDurableCheckpointAgeSeconds\":")
                    .append(age.isPresent() ? Long.toString(age.getAsLong() / 1000) : "null")
                    .append(",\"lag\":").append(m.lag() < 0 ? "null" : Long.toString(m.lag()));
            m.lastCheckpointFailure().ifPresent(f -> body.append(",\"checkpointFailure\":")
                    .append(Json.quote(Messages.cut(f))));
            m.problem().ifPresent(p -> body.append(",\"problem\":").append(Json.quote(Messages.cut(p))));
        }
        appendMode(body);
        body.append('}');
        send(exchange, now == Readiness.UP ? 200 : 503, body.toString());
    }

    /** {@code "mode"}, and in partitioned mode the partitions assigned here with their status. */
    private void appendMode(StringBuilder body) {
        if (partitioning == null) {
            body.append(",\"mode\":\"replicated\"");
            return;
        }
        body.append(",\"mode\":\"partitioned\",\"partitions\":[");
        String sep = "";
        for (ShardStatus shard : new java.util.TreeMap<>(partitioning.shards().get()).values()) {
            body.append(sep).append("{\"partition\":").append(shard.partition())
                    .append(",\"queryable\":").append(shard.queryable())
                    .append(",\"lag\":").append(shard.lag() < 0 ? "null" : Long.toString(shard.lag())).append('}');
            sep = ",";
        }
        body.append(']');
    }

    private void metrics(HttpExchange exchange) throws IOException {
        byte[] body = metrics.get().getBytes(StandardCharsets.UTF_8);
        send(exchange, 200, "text/plain; version=0.0.4; charset=utf-8", body);
    }

    private static String error(String message) {
        return "{\"error\":" + Json.quote(message) + "}";
    }

    private static boolean isHead(HttpExchange exchange) {
        return "HEAD".equals(exchange.getRequestMethod());
    }

    private static void send(HttpExchange exchange, int status, String json) throws IOException {
        send(exchange, status, JSON, json.getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange exchange, int status, String contentType, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", contentType);
        if (isHead(exchange)) {
            // the length the GET would have; -1 tells the JDK server there is no body (a length would make it
            // log a warning per HEAD request)
            exchange.getResponseHeaders().set("Content-Length", Integer.toString(body.length));
            exchange.sendResponseHeaders(status, -1);
            return;
        }
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    /** A JSON string literal. */
    static String quote(String s) {
        return Json.quote(s);
    }

    /** Stops listening (waiting up to a second for requests in flight) and stops the pool. */
    @Override
    public void close() {
        server.stop(1);
        pool.shutdown();
        if (forwardPool != null) {
            forwardPool.shutdownNow();   // a forward in flight is bounded anyway; its caller is gone
        }
        try {
            pool.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
