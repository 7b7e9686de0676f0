package io.couponstate.examples;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.NotOwnedException;
import io.couponstate.kafka.PartitionedCouponState;
import io.couponstate.kafka.RunnerMetrics;
import io.couponstate.kafka.ShardStatus;
import io.undertow.Undertow;
import io.undertow.UndertowOptions;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.HeaderMap;
import io.undertow.util.Headers;
import io.undertow.util.HttpString;
import java.io.BufferedWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
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
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xnio.Options;

/**
 * A small HTTP front for a {@link CouponState}, on Undertow's non-blocking core: the way an ordering service would ask
 * the library. Thread-safe: requests only read the state.
 *
 * <p>Routes (exact paths; {@code GET} and {@code HEAD} only, anything else is 405 with {@code Allow: GET, HEAD};
 * any other path is 404):
 * <ul>
 *   <li>{@code /coupons/{code}}: 200 {@code {"code":"BIRTHDAY","valid":true,"sources":["couponbase1",...]}}
 *       with the sources sorted by name; 400 for a code outside the state's format; 503 while not caught up.</li>
 *   <li>{@code /coupons?valid=true[&limit=N]}: 200, the valid codes streamed as JSON lines
 *       ({@code application/x-ndjson}: {@code {"code":...,"sources":[...]}} per line, in no particular order), at
 *       most {@code limit} of them; 400 for other parameters; 503 while not caught up, and while
 *       {@value #MAX_LISTINGS} listings are already running or waiting. A listing that cannot finish (it ran longer
 *       than {@value #MAX_LISTING_SECONDS} s, its client read nothing for {@value #MAX_WRITE_STALL_SECONDS} s, or a
 *       shard it covers moved away from this instance) is cut without its last chunk, so the client sees a broken
 *       response, never a complete-looking one.</li>
 *   <li>{@code /health}: 200 {@code {"status":"UP","codes":N}} once caught up; 503 before, with the status
 *       {@code RESTORING} (reading the checkpoint) or {@code CATCHING_UP} (reading the topics' backlog), and after a
 *       failure ({@code FAILED}). With a runner, while RESTORING also {@code "restoredBytes"} and
 *       {@code "restoreTotalBytes"} (checkpoint bytes read, of the files' sizes), while CATCHING_UP
 *       {@code "etaSeconds"} (the lag over the recent rate; null while unknown), and always {@code "durable"} (false
 *       while checkpoints fail: the answers are still right, but a restart would replay from an older checkpoint),
 *       {@code "lastDurableCheckpointAgeSeconds"}, {@code "lag"} (null while unknown), and
 *       {@code "checkpointFailure"} / {@code "problem"} when there is one.</li>
 *   <li>{@code /health/live}: 200 {@code {"status":S}} (S as in {@code /health}) unless the runner failed (503
 *       {@code {"status":"FAILED"}}): for a liveness probe, which must not restart an instance still restoring.</li>
 *   <li>{@code /health/ready}: 200 {@code {"status":"UP"}} once caught up, else 503 with the status: for a
 *       readiness probe.</li>
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
 *       the forward timeout (connect and response together), when the owner's advertised endpoint is not a
 *       {@code host:port} (then nothing is sent anywhere, and it is logged), or for a forwarded request this
 *       instance cannot answer. 502 when the owner's reply is longer than {@value #MAX_FORWARDED_BYTES} bytes.
 *       These answers do not wait for this instance to catch up (a shard is queryable only once caught up); only a
 *       FAILED runner makes them 503.</li>
 *   <li>{@code /coupons?valid=true} lists the valid codes of the shards queryable <em>here</em> when the listing
 *       starts (header {@code X-Couponstate-Partitions: 0,3}); the whole list is the union over the instances.</li>
 *   <li>{@code /health} adds {@code "mode":"partitioned"} and {@code "partitions":[{"partition":p,"queryable":b,
 *       "lag":n|null},...]}, the partitions assigned here; {@code "codes"} counts the codes of the shards here. In
 *       replicated mode it adds {@code "mode":"replicated"}.</li>
 * </ul>
 *
 * <p>Threads and bounds: a few IO threads read every connection without blocking, so idle, slow and half-sent
 * connections hold no thread; lookups and the health routes are answered on them directly (they never wait behind
 * anything); forwards and {@code /metrics} run on a pool of {@code threads}; listings run on a pool of their own of
 * {@value #LISTING_THREADS} threads, at most {@value #MAX_LISTINGS} listings running or waiting. A connection that
 * has not sent its whole request (line and headers) within {@value #MAX_REQUEST_SECONDS} s is closed, as is a
 * keep-alive connection idle for {@value #IDLE_SECONDS} s. A request target (path and query) longer than
 * {@value #MAX_REQUEST_TARGET} bytes is 414; an error body echoes at most {@value Messages#MAX_ECHO} characters of
 * input. Responses go out with {@code TCP_NODELAY}, so a keep-alive client never waits for a delayed ACK. Every
 * setting belongs to this server instance; nothing is set JVM-wide.
 */
final class CouponHttpService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(CouponHttpService.class);

    /** The longest request target (path and query) served; longer is 414. */
    static final int MAX_REQUEST_TARGET = 2048;
    /** How long a client has to send its request (line and headers), in seconds. */
    static final int MAX_REQUEST_SECONDS = 10;
    /** How long a keep-alive connection may sit idle between requests, in seconds. */
    static final int IDLE_SECONDS = 60;
    /** How long a listing may wait for its client to read more, in seconds, before it is cut. */
    static final int MAX_WRITE_STALL_SECONDS = 10;
    /** How long one listing may run, in seconds, before it is cut (a million valid codes take about a second). */
    static final int MAX_LISTING_SECONDS = 60;
    /** The threads that stream listings, apart from everything else. */
    static final int LISTING_THREADS = 2;
    /** How many listings may run or wait at once; more is 503. */
    static final int MAX_LISTINGS = 8;
    /** The longest reply relayed from a shard's owner, in bytes; longer is 502. */
    static final int MAX_FORWARDED_BYTES = 64 * 1024;
    /** The default size of the pool for forwards and {@code /metrics}. */
    static final int DEFAULT_THREADS = 4;

    /** The header that marks a forwarded request, which is never forwarded again. */
    static final String FORWARDED_HEADER = "X-Couponstate-Forwarded";
    /** The default bound of one forward: connect, request and response together. */
    static final Duration DEFAULT_FORWARD_TIMEOUT = Duration.ofSeconds(2);

    private static final String ALLOW = "GET, HEAD";
    private static final String JSON = "application/json; charset=utf-8";
    private static final HttpString FORWARDED = new HttpString(FORWARDED_HEADER);
    private static final HttpString SERVED_BY = new HttpString("X-Couponstate-Served-By");
    private static final HttpString PARTITION = new HttpString("X-Couponstate-Partition");
    private static final HttpString PARTITIONS = new HttpString("X-Couponstate-Partitions");
    /** A host name, an IPv4 address or an IPv6 address in brackets, then a port: nothing that changes a URL. */
    private static final Pattern HOST_PORT = Pattern.compile(
            "(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9]([A-Za-z0-9._-]{0,252}[A-Za-z0-9])?):([0-9]{1,5})");

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

    private final Undertow server;
    private final int port;
    /** Listings, apart from everything else, so that they never hold up a lookup or a health check. */
    private final ExecutorService listingPool;
    /** Listings running or waiting: one permit each, taken before a listing is queued. */
    private final Semaphore listings = new Semaphore(MAX_LISTINGS);
    private final CouponState state;
    private final Supplier<Readiness> readiness;
    private final Supplier<String> metrics;
    private final Supplier<RunnerMetrics> runnerMetrics;
    /** Null in replicated mode. */
    private final Partitioning partitioning;
    /** Partitioned mode: forwards requests; its own executor, so a forward never waits for a request thread. */
    private final HttpClient forwarder;
    private final ExecutorService forwardPool;
    /** The last unusable owner endpoint logged, so that a bad membership record is logged once, not per request. */
    private final AtomicReference<String> lastBadOwner = new AtomicReference<>();

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
     * @param readiness where the state stands; asked on every request, on an IO thread (it must not block)
     * @param metrics the Prometheus text for {@code /metrics}, asked per request; null: no such route
     * @param threads the size of the pool for forwards and {@code /metrics}
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
     * @throws IOException when the address cannot be listened on
     */
    CouponHttpService(InetSocketAddress address, CouponState state, Supplier<Readiness> readiness,
                      Supplier<String> metrics, Supplier<RunnerMetrics> runnerMetrics, int threads,
                      Partitioning partitioning) throws IOException {
        this(address, state, readiness, metrics, runnerMetrics, threads, partitioning,
                Duration.ofSeconds(MAX_REQUEST_SECONDS));
    }

    /**
     * Starts serving, with another bound for a client to send its request: for tests that must tell "no thread is
     * held" from "the thread was freed by the timeout".
     *
     * @param requestTimeout how long a client has to send its request line and headers
     */
    CouponHttpService(InetSocketAddress address, CouponState state, Supplier<Readiness> readiness,
                      Supplier<String> metrics, Supplier<RunnerMetrics> runnerMetrics, int threads,
                      Partitioning partitioning, Duration requestTimeout) throws IOException {
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
        this.listingPool = Executors.newFixedThreadPool(LISTING_THREADS, daemons("coupon-http-listing-"));
        if (partitioning == null) {
            this.forwardPool = null;
            this.forwarder = null;
        } else {
            this.forwardPool = Executors.newCachedThreadPool(daemons("coupon-http-forward-"));
            this.forwarder = HttpClient.newBuilder()
                    .executor(forwardPool)
                    .connectTimeout(partitioning.forwardTimeout())
                    .followRedirects(HttpClient.Redirect.NEVER)
                    .version(HttpClient.Version.HTTP_1_1)
                    .build();
        }
        this.server = Undertow.builder()
                .addHttpListener(address.getPort(), address.getHostString())
                .setIoThreads(2)
                .setWorkerThreads(threads)
                // the IO threads never block: a client that sends half a request costs a buffer, not a thread,
                // and is cut after the parse timeout
                .setServerOption(UndertowOptions.REQUEST_PARSE_TIMEOUT, Math.toIntExact(requestTimeout.toMillis()))
                .setServerOption(UndertowOptions.NO_REQUEST_TIMEOUT, IDLE_SECONDS * 1000)
                .setServerOption(UndertowOptions.MAX_HEADERS, 100)
                .setServerOption(UndertowOptions.MAX_ENTITY_SIZE, 64L * 1024)
                // raw paths: this class decodes them itself, and measures the target before decoding
                .setServerOption(UndertowOptions.DECODE_URL, false)
                .setServerOption(UndertowOptions.ALWAYS_SET_KEEP_ALIVE, false)
                // headers and body leave in one segment each, never held back for a delayed ACK (Nagle)
                .setSocketOption(Options.TCP_NODELAY, true)
                .setSocketOption(Options.WRITE_TIMEOUT, MAX_WRITE_STALL_SECONDS * 1000)
                .setHandler(this::handle)
                .build();
        try {
            server.start();
        } catch (RuntimeException e) {
            shutdownPools();
            // Undertow wraps the bind failure; the caller names the address
            throw new IOException("cannot listen on " + address.getHostString() + ":" + address.getPort() + " ("
                    + Messages.describe(e.getCause() == null ? e : e.getCause()) + ")", e);
        }
        this.port = ((InetSocketAddress) server.getListenerInfo().get(0).getAddress()).getPort();
    }

    private static java.util.concurrent.ThreadFactory daemons(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** The port listened on. */
    int port() {
        return port;
    }

    /** Runs on an IO thread: answers what never blocks here, hands the rest to a pool. */
    private void handle(HttpServerExchange exchange) {
        String rawPath = exchange.getRequestURI();
        String rawQuery = exchange.getQueryString();
        int target = rawPath.length() + (rawQuery == null || rawQuery.isEmpty() ? 0 : rawQuery.length() + 1);
        if (target > MAX_REQUEST_TARGET) {
            send(exchange, 414, error("request target of " + target + " bytes (expected: at most "
                    + MAX_REQUEST_TARGET + ")"));
            return;
        }
        String path;
        try {
            path = decodePath(rawPath);
        } catch (IllegalArgumentException e) {
            send(exchange, 400, error(e.getMessage()));
            return;
        }
        Route route = route(path);
        if (route == null) {
            send(exchange, 404, error("no such resource: " + Messages.cut(path) + " (try /coupons/{code}, "
                    + "/coupons?valid=true, /health, /health/live, /health/ready"
                    + (metrics == null ? "" : ", /metrics") + ")"));
            return;
        }
        String method = exchange.getRequestMethod().toString();
        if (!"GET".equals(method) && !"HEAD".equals(method)) {
            exchange.getResponseHeaders().put(Headers.ALLOW, ALLOW);
            send(exchange, 405, error("method " + Messages.cut(method) + " (expected: GET or HEAD)"));
            return;
        }
        switch (route) {
            case HEALTH -> health(exchange);
            case LIVE -> live(exchange);
            case READY -> ready(exchange);
            case METRICS -> exchange.dispatch(() -> metrics(exchange));
            case COUPON -> coupon(exchange, path.substring("/coupons/".length()));
            case COUPONS -> coupons(exchange, rawQuery);
            default -> throw new AssertionError(route);
        }
    }

    /** Percent-decodes a path ({@code +} stays a plus: it is a space only in a query). */
    private static String decodePath(String rawPath) {
        if (rawPath.indexOf('%') < 0) {
            return rawPath;
        }
        try {
            return URLDecoder.decode(rawPath.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("malformed escape in the path " + Json.quote(Messages.cut(rawPath)));
        }
    }

    private enum Route { HEALTH, LIVE, READY, METRICS, COUPON, COUPONS }

    private Route route(String path) {
        switch (path) {
            case "/health":
                return Route.HEALTH;
            case "/health/live":
                return Route.LIVE;
            case "/health/ready":
                return Route.READY;
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

    private void coupon(HttpServerExchange exchange, String code) {
        if (!state.isWellFormed(code)) {
            send(exchange, 400, error("malformed coupon code " + Json.quote(Messages.cut(code)) + " (expected: the "
                    + "state's code format, e.g. 8 to 10 of A-Z0-9)"));
            return;
        }
        if (partitioning != null) {
            partitionedCoupon(exchange, code);
            return;
        }
        if (!whenReady(exchange)) {
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
    private void partitionedCoupon(HttpServerExchange exchange, String code) {
        if (readiness.get() == Readiness.FAILED) {
            whenReady(exchange);   // 503: the runner failed, nothing here moves any more
            return;
        }
        PartitionedCouponState partitioned = (PartitionedCouponState) state;
        int partition = partitioned.partitionOf(code);
        if (partitioned.isOwned(code)) {
            try {
                String json = couponJson(canonical(code), true);
                exchange.getResponseHeaders().put(PARTITION, Integer.toString(partition));
                send(exchange, 200, json);
                return;
            } catch (NotOwnedException e) {
                // the shard was dropped between the check and the read (a rebalance): ask its new owner
            }
        }
        Optional<String> owner = partitioning.owners().ownerOf(code);
        String ownerText = owner.orElse(null);
        if (exchange.getRequestHeaders().contains(FORWARDED)) {
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
        if (!isHostPort(owner.get())) {
            // the membership topic is written by anyone who can write to it: never build a URL from what it says
            // unless it is a plain host:port
            if (!owner.get().equals(lastBadOwner.getAndSet(owner.get()))) {
                LOG.warn("the owner of partition {} advertised {}, which is not a host:port; its codes are "
                        + "answered 503 until it advertises a usable one", partition, Json.quote(Messages.cut(
                        owner.get())));
            }
            unavailable(exchange, partition, ownerText, "the owner of partition " + partition + " advertised "
                    + Json.quote(Messages.cut(owner.get())) + ", which is not a host:port (expected: a host name "
                    + "or address, an IPv6 address in brackets, and a port in 1..65535)");
            return;
        }
        String method = exchange.getRequestMethod().toString();
        exchange.dispatch(() -> forward(exchange, method, code, partition, owner.get()));
    }

    /**
     * Whether {@code value} is {@code host:port}: a host name or IPv4 address, or an IPv6 address in brackets, and a
     * port in 1..65535; nothing else (no user info, path, query, spaces or escapes).
     *
     * @param value the text to check
     * @return true if a URL {@code http://value/...} addresses exactly that host and port
     */
    static boolean isHostPort(String value) {
        var m = HOST_PORT.matcher(value);
        if (!m.matches()) {
            return false;
        }
        int p = Integer.parseInt(m.group(3));
        return p >= 1 && p <= 65_535;
    }

    /** One hop to the owner, bounded by the forward timeout; relays its answer, or 503 naming it. */
    private void forward(HttpServerExchange exchange, String method, String code, int partition, String owner) {
        Duration timeout = partitioning.forwardTimeout();
        HttpRequest request;
        try {
            request = HttpRequest.newBuilder(URI.create("http://" + owner + "/coupons/"
                            + URLEncoder.encode(code, StandardCharsets.UTF_8)))
                    .timeout(timeout)
                    .header(FORWARDED_HEADER, "1")
                    .method(method, HttpRequest.BodyPublishers.noBody())
                    .build();
        } catch (IllegalArgumentException e) {
            unavailable(exchange, partition, owner, "the owner of partition " + partition + " advertised "
                    + Json.quote(Messages.cut(owner)) + ", which is not a usable host:port");
            return;
        }
        CompletableFuture<HttpResponse<byte[]>> call = forwarder.sendAsync(request,
                info -> new BoundedBody(MAX_FORWARDED_BYTES));
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
            Throwable cause = e.getCause() == null ? e : e.getCause();
            if (cause instanceof ReplyTooLong || cause.getCause() instanceof ReplyTooLong) {
                exchange.getResponseHeaders().put(SERVED_BY, owner);
                send(exchange, 502, "{\"error\":" + Json.quote("the owner of partition " + partition + " at " + owner
                        + " answered more than " + MAX_FORWARDED_BYTES + " bytes (expected: at most "
                        + MAX_FORWARDED_BYTES + ")") + ",\"partition\":" + partition + ",\"owner\":"
                        + Json.quote(Messages.cut(owner)) + "}");
                return;
            }
            if (cause instanceof java.net.http.HttpTimeoutException) {
                // the client's own connect or request timeout, the same bound as ours: whichever fires first
                unavailable(exchange, partition, owner, "the owner of partition " + partition + " at " + owner
                        + " did not answer within " + DurationConverter.describe(timeout));
                return;
            }
            unavailable(exchange, partition, owner, "the owner of partition " + partition + " at " + owner
                    + " cannot be reached (" + Messages.describe(cause) + ")");
            return;
        } catch (InterruptedException e) {
            call.cancel(true);
            Thread.currentThread().interrupt();
            unavailable(exchange, partition, owner, "interrupted while asking the owner of partition " + partition
                    + " at " + owner);
            return;
        }
        HeaderMap headers = exchange.getResponseHeaders();
        headers.put(SERVED_BY, owner);
        response.headers().firstValue("Retry-After").ifPresent(v -> headers.put(Headers.RETRY_AFTER, v));
        String type = response.headers().firstValue("Content-Type").orElse(JSON);
        if (isHead(exchange)) {
            exchange.setStatusCode(response.statusCode());
            headers.put(Headers.CONTENT_TYPE, type);
            response.headers().firstValue("Content-Length").ifPresent(v -> headers.put(Headers.CONTENT_LENGTH, v));
            exchange.endExchange();
            return;
        }
        send(exchange, response.statusCode(), type, response.body());
    }

    /** Thrown by {@link BoundedBody} past its bound; no stack trace, it is an answer. */
    private static final class ReplyTooLong extends IOException {
        private static final long serialVersionUID = 1L;

        ReplyTooLong(int max) {
            super("reply longer than " + max + " bytes", null);
        }

        @Override
        public synchronized Throwable fillInStackTrace() {
            return this;
        }
    }

    /** A forwarded reply's body, collected up to a bound; past it the exchange is cancelled. */
    private static final class BoundedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final int max;
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private Flow.Subscription subscription;

        BoundedBody(int max) {
            this.max = max;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            this.subscription = subscription;
            subscription.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> buffers) {
            for (ByteBuffer b : buffers) {
                if (bytes.size() + b.remaining() > max) {
                    subscription.cancel();
                    result.completeExceptionally(new ReplyTooLong(max));
                    return;
                }
                byte[] chunk = new byte[b.remaining()];
                b.get(chunk);
                bytes.write(chunk, 0, chunk.length);
            }
        }

        @Override
        public void onError(Throwable throwable) {
            result.completeExceptionally(throwable);
        }

        @Override
        public void onComplete() {
            result.complete(bytes.toByteArray());
        }
    }

    /** 503 naming the partition and its owner as known here (or null). */
    private static void unavailable(HttpServerExchange exchange, int partition, String owner, String why) {
        exchange.getResponseHeaders().put(Headers.RETRY_AFTER, "1");
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

    /** True when caught up; else answers 503 and returns false. */
    private boolean whenReady(HttpServerExchange exchange) {
        Readiness now = readiness.get();
        if (now == Readiness.UP) {
            return true;
        }
        exchange.getResponseHeaders().put(Headers.RETRY_AFTER, "1");
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

    /** Thrown from the listing's callback when it ran past {@link #MAX_LISTING_SECONDS}. */
    private static final class ListingTooLong extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ListingTooLong() {
            super(null, null, false, false);
        }
    }

    private void coupons(HttpServerExchange exchange, String rawQuery) {
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
        if (!whenReady(exchange)) {
            return;
        }
        HeaderMap headers = exchange.getResponseHeaders();
        headers.put(Headers.CONTENT_TYPE, "application/x-ndjson; charset=utf-8");
        if (state instanceof PartitionedCouponState partitioned) {
            // the listing covers the shards queryable here; the whole list is the union over the instances
            StringBuilder owned = new StringBuilder();
            for (int p : partitioned.ownedPartitions()) {
                owned.append(owned.length() == 0 ? "" : ",").append(p);
            }
            headers.put(PARTITIONS, owned.toString());
        }
        if (isHead(exchange)) {
            exchange.setStatusCode(200);
            exchange.endExchange();
            return;
        }
        if (!listings.tryAcquire()) {
            headers.remove(PARTITIONS);
            headers.put(Headers.RETRY_AFTER, "1");
            send(exchange, 503, error("too many listings at once (expected: at most " + MAX_LISTINGS + " running "
                    + "or waiting)"));
            return;
        }
        long max = limit;
        exchange.dispatch(listingPool, () -> {
            try {
                stream(exchange, max);
            } finally {
                listings.release();
            }
        });
    }

    /**
     * Streams the listing on a listing thread. Completes the chunked response only when every code was written (or
     * the limit reached); on anything else the connection is closed without the last chunk, so the client sees a
     * broken response instead of a short list that looks whole.
     */
    private void stream(HttpServerExchange exchange, long max) {
        exchange.startBlocking();
        exchange.setStatusCode(200);   // chunked: the listing is streamed, its length is not known
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(MAX_LISTING_SECONDS);
        long[] written = {0};
        Writer out = new BufferedWriter(new OutputStreamWriter(exchange.getOutputStream(), StandardCharsets.UTF_8),
                64 * 1024);
        try {
            try {
                if (max > 0) {
                    state.forEachCouponCode(state.threshold(), code -> {
                        try {
                            out.write(couponJson(code, false));
                            out.write('\n');
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);   // the client went away or stalled: stop
                        }
                        if (++written[0] >= max) {
                            throw new LimitReached();
                        }
                        if ((written[0] & 63) == 0 && System.nanoTime() - deadline > 0) {
                            throw new ListingTooLong();
                        }
                    });
                }
            } catch (LimitReached done) {
                // the limit: the list is complete
            }
            out.close();   // the last chunk: the list is complete
        } catch (NotOwnedException e) {
            abort(exchange, "a shard it covers moved away from this instance (" + Messages.describe(e) + ")",
                    written[0]);
        } catch (ListingTooLong e) {
            abort(exchange, "it ran longer than " + MAX_LISTING_SECONDS + " s", written[0]);
        } catch (UncheckedIOException e) {
            abort(exchange, "the client stopped reading (" + Messages.describe(e.getCause()) + ")", written[0]);
        } catch (IOException e) {
            abort(exchange, "the client stopped reading (" + Messages.describe(e) + ")", written[0]);
        } catch (RuntimeException e) {
            abort(exchange, Messages.describe(e), written[0]);
            throw e;
        }
    }

    /** Closes the connection mid-listing: no last chunk, so no client takes the part for the whole. */
    private static void abort(HttpServerExchange exchange, String why, long written) {
        LOG.warn("listing cut after {} codes, without its last chunk: {}", written, why);
        try {
            exchange.getConnection().close();
        } catch (IOException e) {
            // closing is all that is left to do; the client sees the connection end either way
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

    private void health(HttpServerExchange exchange) {
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

    /** Alive unless the runner failed: restoring and catching up are alive (a probe must not restart them). */
    private void live(HttpServerExchange exchange) {
        Readiness now = readiness.get();
        send(exchange, now == Readiness.FAILED ? 503 : 200, "{\"status\":" + Json.quote(now.name()) + "}");
    }

    /** Ready once caught up, as {@code /health}, without its body's work. */
    private void ready(HttpServerExchange exchange) {
        Readiness now = readiness.get();
        if (now != Readiness.UP) {
            exchange.getResponseHeaders().put(Headers.RETRY_AFTER, "1");
        }
        send(exchange, now == Readiness.UP ? 200 : 503, "{\"status\":" + Json.quote(now.name()) + "}");
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

    private void metrics(HttpServerExchange exchange) {
        byte[] body = metrics.get().getBytes(StandardCharsets.UTF_8);
        send(exchange, 200, "text/plain; version=0.0.4; charset=utf-8", body);
    }

    private static String error(String message) {
        return "{\"error\":" + Json.quote(message) + "}";
    }

    private static boolean isHead(HttpServerExchange exchange) {
        return "HEAD".equals(exchange.getRequestMethod().toString());
    }

    private static void send(HttpServerExchange exchange, int status, String json) {
        send(exchange, status, JSON, json.getBytes(StandardCharsets.UTF_8));
    }

    /** The whole answer at once; a HEAD gets the length the GET would have, and no body. */
    private static void send(HttpServerExchange exchange, int status, String contentType, byte[] body) {
        exchange.setStatusCode(status);
        HeaderMap headers = exchange.getResponseHeaders();
        headers.put(Headers.CONTENT_TYPE, contentType);
        headers.put(Headers.CONTENT_LENGTH, body.length);
        if (isHead(exchange)) {
            exchange.endExchange();
            return;
        }
        exchange.getResponseSender().send(ByteBuffer.wrap(body));
    }

    /** A JSON string literal. */
    static String quote(String s) {
        return Json.quote(s);
    }

    /** Stops listening and closes every connection, then stops the pools. */
    @Override
    public void close() {
        server.stop();
        shutdownPools();
    }

    private void shutdownPools() {
        listingPool.shutdownNow();   // a listing in flight loses its connection anyway when the server stops
        if (forwardPool != null) {
            forwardPool.shutdownNow();   // a forward in flight is bounded anyway; its caller is gone
        }
        try {
            listingPool.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
