package io.couponstate.examples;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.examples.CouponHttpService.Readiness;
import io.undertow.Undertow;
import io.undertow.UndertowOptions;
import io.undertow.util.Headers;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.xnio.Options;

/**
 * The query benchmark: how fast {@code serve} answers "is this code valid?", in process and over HTTP keep-alive.
 *
 * <p>Fills a {@link LockFreeCouponState} with {@code --codes} codes (every other one valid), starts
 * {@link CouponHttpService} over it, and beside it a baseline server of the same library and settings that answers
 * the same tiny JSON without touching the state. Then measures, in one run:
 * <ul>
 *   <li>{@code isValid} in process, one thread: calls per second;</li>
 *   <li>one keep-alive connection at a constant rate: p50/p99/p99.9 of lookups and of the baseline;</li>
 *   <li>64 keep-alive connections at increasing constant rates: the same, and the highest rate whose p99 stays
 *       within 2 ms.</li>
 * </ul>
 * The load generator is open-loop, wrk2-style: each connection has a schedule of intended start times at the
 * target rate, and a request's latency is measured from its intended start, so a stalled server is charged for the
 * requests it kept from being sent (coordinated omission corrected). Client and server share the machine.
 *
 * <p>It lives in the examples module because it starts the package-private HTTP service in process (the benchmarks
 * module cannot depend on the examples' shaded jar). Run after {@code mvn -pl examples -am package -DskipTests}:
 * <pre>
 * java -Xmx2g -cp examples/target/coupon-state-examples.jar io.couponstate.examples.QueryRun \
 *     --seconds 10 --rates 5000,10000,20000,30000,40000
 * </pre>
 */
final class QueryRun {

    private static final byte[] BASELINE_BODY =
            "{\"code\":\"BIRTHDAY\",\"valid\":true,\"sources\":[\"couponbase1\",\"couponbase2\"]}"
                    .getBytes(StandardCharsets.UTF_8);

    private QueryRun() {
    }

    /**
     * Runs the benchmark and prints a table.
     *
     * @param args {@code --codes N --seconds S --warmup S --rates R1,R2,... --single-rate R --repeats K}
     * @throws Exception when a server cannot start
     */
    public static void main(String[] args) throws Exception {
        int codes = 1_000_000;
        int seconds = 10;
        int warmup = 2;
        int repeats = 2;
        int singleRate = 2_000;
        List<Integer> rates = List.of(5_000, 10_000, 20_000, 30_000, 40_000);
        for (int i = 0; i < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--codes" -> codes = Integer.parseInt(v);
                case "--seconds" -> seconds = Integer.parseInt(v);
                case "--warmup" -> warmup = Integer.parseInt(v);
                case "--repeats" -> repeats = Integer.parseInt(v);
                case "--single-rate" -> singleRate = Integer.parseInt(v);
                case "--rates" -> {
                    List<Integer> r = new ArrayList<>();
                    for (String part : v.split(",")) {
                        r.add(Integer.parseInt(part.trim()));
                    }
                    rates = r;
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (expected: --codes, "
                        + "--seconds, --warmup, --repeats, --single-rate, --rates)");
            }
        }
        CouponState state = new LockFreeCouponState(CouponStateConfig.builder().expectedCodes(codes).build());
        String[] queried = fill(state, codes);
        System.out.printf(Locale.ROOT, "query benchmark: %,d codes, rounds of %d s (+%d s warm-up), %d repeats, "
                + "%d cores%n", codes, seconds, warmup, repeats, Runtime.getRuntime().availableProcessors());
        System.out.printf(Locale.ROOT, "in process isValid, 1 thread: %,.0f calls/s%n", isValidRate(state, queried,
                seconds));
        try (CouponHttpService service = new CouponHttpService(new InetSocketAddress("127.0.0.1", 0), state,
                () -> Readiness.UP);
             Baseline baseline = Baseline.start()) {
            String[] lookups = new String[queried.length];
            for (int i = 0; i < queried.length; i++) {
                lookups[i] = "/coupons/" + queried[i];
            }
            String[] tiny = {"/baseline"};
            System.out.println("connections  rate/s  route     achieved/s  p50 us  p90 us  p99 us  p99.9 us  max us");
            for (int r = 0; r < repeats; r++) {
                print(1, singleRate, "lookup", run(service.port(), lookups, 1, singleRate, warmup, seconds));
                print(1, singleRate, "baseline", run(baseline.port(), tiny, 1, singleRate, warmup, seconds));
            }
            int best = 0;
            int bestBaseline = 0;
            for (int rate : rates) {
                boolean lookupOk = true;
                boolean baselineOk = true;
                for (int r = 0; r < repeats; r++) {
                    Result lookup = run(service.port(), lookups, 64, rate, warmup, seconds);
                    print(64, rate, "lookup", lookup);
                    Result base = run(baseline.port(), tiny, 64, rate, warmup, seconds);
                    print(64, rate, "baseline", base);
                    lookupOk &= lookup.keptUp(rate);
                    baselineOk &= base.keptUp(rate);
                }
                best = lookupOk ? Math.max(best, rate) : best;
                bestBaseline = baselineOk ? Math.max(bestBaseline, rate) : bestBaseline;
            }
            System.out.printf(Locale.ROOT, "highest rate with p99 <= 2 ms at 64 connections in every repeat: lookup "
                    + "%,d/s, baseline %,d/s (of the rates tried)%n", best, bestBaseline);
        }
    }

    /** Adds {@code n} codes of 8 letters, every other one seen twice (valid); returns the codes to ask for. */
    private static String[] fill(CouponState state, int n) {
        byte[] code = new byte[8];
        int a = state.sourceId("couponbase1");
        int b = state.sourceId("couponbase2");
        String[] queried = new String[Math.min(n, 65_536)];
        int step = Math.max(1, n / queried.length);
        for (int i = 0; i < n; i++) {
            int v = i;
            for (int k = 7; k >= 0; k--) {
                code[k] = (byte) ('A' + v % 26);
                v /= 26;
            }
            state.addObservation(code, 0, 8, a);
            if (i % 2 == 0) {
                state.addObservation(code, 0, 8, b);
            }
            if (i % step == 0 && i / step < queried.length) {
                queried[i / step] = new String(code, StandardCharsets.US_ASCII);
            }
        }
        return queried;
    }

    private static double isValidRate(CouponState state, String[] codes, int seconds) {
        SplittableRandom random = new SplittableRandom(42);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        long calls = 0;
        long valid = 0;
        long start = System.nanoTime();
        while (System.nanoTime() < end) {
            for (int i = 0; i < 1024; i++) {
                if (state.isValid(codes[random.nextInt(codes.length)])) {
                    valid++;
                }
            }
            calls += 1024;
        }
        if (valid < 0) {
            System.out.println(valid);   // keeps the loop's work observable
        }
        return calls / ((System.nanoTime() - start) / 1e9);
    }

    private static void print(int connections, int rate, String route, Result r) {
        System.out.printf(Locale.ROOT, "%11d %7d  %-8s %11.0f %7d %7d %7d %9d %7d%s%s%n", connections, rate, route,
                r.achieved, r.histogram.getValueAtPercentile(50) / 1000, r.histogram.getValueAtPercentile(90) / 1000,
                r.p99Micros(), r.histogram.getValueAtPercentile(99.9) / 1000, r.histogram.getMaxValue() / 1000,
                r.errors == 0 ? "" : "  errors " + r.errors, r.unsent == 0 ? "" : "  unsent " + r.unsent);
    }

    /** A round's latencies (nanoseconds from the intended start) and its achieved rate. */
    private record Result(Histogram histogram, double achieved, long errors, long unsent) {
        long p99Micros() {
            return histogram.getValueAtPercentile(99) / 1000;
        }

        /**
         * p99 within 2 ms, no error, and (nearly) every request of the schedule sent: a round's last few requests
         * may still be due when it ends, so up to one in a thousand unsent is tolerated.
         */
        boolean keptUp(int rate) {
            return p99Micros() <= 2_000 && errors == 0 && unsent <= histogram.getTotalCount() / 1000
                    && achieved >= rate * 0.95;
        }
    }

    /** {@code connections} keep-alive connections sharing {@code rate}: a warm-up, then the measured round. */
    private static Result run(int port, String[] paths, int connections, int rate, int warmup, int seconds)
            throws InterruptedException {
        long intervalNanos = TimeUnit.SECONDS.toNanos(1) * connections / rate;
        Histogram total = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
        Histogram[] perConnection = new Histogram[connections];
        long[] completed = new long[connections];
        long[] errors = new long[connections];
        long[] unsent = new long[connections];
        Thread[] threads = new Thread[connections];
        long begin = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
        long measureFrom = begin + TimeUnit.SECONDS.toNanos(warmup);
        long end = measureFrom + TimeUnit.SECONDS.toNanos(seconds);
        for (int c = 0; c < connections; c++) {
            int id = c;
            perConnection[c] = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
            threads[c] = new Thread(() -> {
                SplittableRandom random = new SplittableRandom(id);
                // spread the connections' schedules over one interval, so they do not all send at once
                long intended = begin + intervalNanos * id / connections;
                try (Socket socket = new Socket()) {
                    socket.setTcpNoDelay(true);
                    socket.connect(new InetSocketAddress("127.0.0.1", port));
                    socket.setSoTimeout(60_000);
                    OutputStream out = socket.getOutputStream();
                    ResponseReader in = new ResponseReader(socket.getInputStream());
                    // wrk2 style: the round ends on time; requests a slow server kept from being sent are missing
                    // from the achieved rate, and the ones sent carry the whole wait since their intended start
                    while (intended < end && System.nanoTime() < end) {
                        long wait = intended - System.nanoTime();
                        if (wait > 0) {
                            LockSupport.parkNanos(wait);
                            continue;
                        }
                        String path = paths[random.nextInt(paths.length)];
                        out.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                                .getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                        int status = readResponse(in);
                        long done = System.nanoTime();
                        if (intended >= measureFrom) {
                            perConnection[id].recordValue(Math.min(done - intended, TimeUnit.SECONDS.toNanos(60)));
                            completed[id]++;
                            if (status != 200) {
                                errors[id]++;
                            }
                        }
                        intended += intervalNanos;
                    }
                } catch (IOException e) {
                    errors[id]++;
                }
                // the requests of the measured window the server kept from being sent: each waited at least until
                // now, and is charged that (a server too slow to reach the window must not look fast)
                long now = System.nanoTime();
                long slot = intended;
                if (slot < measureFrom) {
                    slot += (measureFrom - slot + intervalNanos - 1) / intervalNanos * intervalNanos;
                }
                for (; slot < end; slot += intervalNanos) {
                    perConnection[id].recordValue(Math.min(now - slot, TimeUnit.SECONDS.toNanos(60)));
                    unsent[id]++;
                }
            }, "query-load-" + c);
            threads[c].start();
        }
        long count = 0;
        long errorCount = 0;
        long unsentCount = 0;
        for (int c = 0; c < connections; c++) {
            threads[c].join();
            total.add(perConnection[c]);
            count += completed[c];
            errorCount += errors[c];
            unsentCount += unsent[c];
        }
        double wall = (Math.max(System.nanoTime(), end) - measureFrom) / 1e9;
        return new Result(total, count / wall, errorCount, unsentCount);
    }

    /** Reads one response (headers, then a Content-Length body); returns its status. */
    private static int readResponse(ResponseReader in) throws IOException {
        int status = -1;
        int length = 0;
        StringBuilder line = new StringBuilder(64);
        while (true) {
            line.setLength(0);
            int ch;
            while ((ch = in.read()) != '\n') {
                if (ch < 0) {
                    throw new IOException("connection closed");
                }
                if (ch != '\r') {
                    line.append((char) ch);
                }
            }
            if (line.length() == 0) {
                break;
            }
            if (status < 0) {
                status = Integer.parseInt(line.substring(9, 12));
            } else if (line.length() > 15 && line.substring(0, 15).equalsIgnoreCase("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        in.skip(length);
        return status;
    }

    /** An unsynchronized buffer over a socket's input (one thread per connection). */
    private static final class ResponseReader {
        private final InputStream in;
        private final byte[] buf = new byte[16 * 1024];
        private int pos;
        private int lim;

        ResponseReader(InputStream in) {
            this.in = in;
        }

        int read() throws IOException {
            if (pos == lim) {
                lim = in.read(buf, 0, buf.length);
                pos = 0;
                if (lim <= 0) {
                    lim = 0;
                    return -1;
                }
            }
            return buf[pos++] & 0xff;
        }

        void skip(int n) throws IOException {
            for (int i = 0; i < n; i++) {
                if (read() < 0) {
                    throw new IOException("connection closed in a body");
                }
            }
        }
    }

    /** The same tiny answer from the same server library with the same settings, without the state. */
    private static final class Baseline implements AutoCloseable {
        private final Undertow server;

        private Baseline(Undertow server) {
            this.server = server;
        }

        static Baseline start() {
            Undertow server = Undertow.builder()
                    .addHttpListener(0, "127.0.0.1")
                    .setIoThreads(2)
                    .setWorkerThreads(CouponHttpService.DEFAULT_THREADS)
                    .setServerOption(UndertowOptions.ALWAYS_SET_KEEP_ALIVE, false)
                    .setSocketOption(Options.TCP_NODELAY, true)
                    .setHandler(exchange -> {
                        exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, "application/json; charset=utf-8");
                        exchange.getResponseHeaders().put(Headers.CONTENT_LENGTH, BASELINE_BODY.length);
                        exchange.getResponseSender().send(ByteBuffer.wrap(BASELINE_BODY));
                    })
                    .build();
            server.start();
            return new Baseline(server);
        }

        int port() {
            return ((InetSocketAddress) server.getListenerInfo().get(0).getAddress()).getPort();
        }

        @Override
        public void close() {
            server.stop();
        }
    }
}
