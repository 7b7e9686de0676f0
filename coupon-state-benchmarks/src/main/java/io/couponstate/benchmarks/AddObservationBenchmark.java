package io.couponstate.benchmarks;

import io.couponstate.core.CouponState;
import io.couponstate.core.ObservationBatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.ThreadParams;

/**
 * Throughput of {@code addObservation}, the hot path, for the library's three implementations and two baselines,
 * on the String path and the byte path. One operation is one observation; the score is observations per second.
 *
 * <p>{@link #insert}: observations of {@code codes} distinct codes (3 sources, each code in a source with
 * probability 0.35, shuffled) go into a fresh, empty state at default capacity, so growth is included. The state is
 * created in {@code @Setup(Level.Iteration)}; when the observations are used up within an iteration (a "pass"),
 * the thread that claims the first chunk of the next pass swaps in another fresh state, so an iteration never
 * measures mostly duplicates. Threads claim chunks of {@value #BATCH} observations from one shared counter (one
 * atomic add per chunk), which spreads one pass over all threads without a barrier.
 *
 * <p>{@link #reobserve}: every observation again, into a state already holding all of them (each call finds its
 * code and source present): the read-mostly steady state after a replay. Each thread walks its own cursor.
 *
 * <p>Run (threads 1 and 2 are chosen with {@code -t}):
 * <pre>
 * mvn -B -pl coupon-state-core,coupon-state-kafka,coupon-state-benchmarks -am package -DskipTests
 * java -jar coupon-state-benchmarks/target/benchmarks.jar AddObservationBenchmark -t 1 -prof gc \
 *      -p path=BYTES -rf json -rff add-observation.json
 * </pre>
 * Short settings for a 2-core machine: {@code -wi 2 -i 3 -f 1 -w 2s -r 3s}; see {@code run.sh}. With
 * {@code -prof gc}, {@code gc.alloc.rate.norm} is bytes allocated per observation.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx8g", "-Xms2g"})
@Warmup(iterations = 3, time = 3, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 3, timeUnit = TimeUnit.SECONDS)
public class AddObservationBenchmark {

    /** Observations per benchmark invocation. */
    static final int BATCH = 1024;

    /** How the code reaches the implementation. */
    public enum Path {
        /** All implementations take a String. */
        STRING,
        /** Ours take the ASCII bytes; the baselines first build a String, as a StringDeserializer would. */
        BYTES
    }

    /** The implementation under test (names fixed by the issue: outside scripts pass them). */
    @Param({"LOCK_FREE", "STRIPED_LOCK", "COMPACT", "GO_PORT", "CHM_MASK"})
    public Impl impl;

    /** Distinct codes in the input. */
    @Param({"1000000", "10000000"})
    public int codes;

    /** How codes reach the implementation. */
    @Param({"STRING", "BYTES"})
    public Path path;

    Inputs inputs;
    int chunksPerPass;

    /** The state being filled; replaced at each iteration and each new pass. */
    volatile StateFacade current;
    /** Next chunk to claim, counted from the start of the iteration across passes. */
    final AtomicLong nextChunk = new AtomicLong();

    /** Builds the input once per trial (seed 42), padded to whole batches. */
    @Setup(Level.Trial)
    public void buildInputs() {
        inputs = new Inputs(codes, path == Path.STRING, BATCH, 42);
        chunksPerPass = inputs.observations() / BATCH;
    }

    /** A fresh, empty state at default capacity for every iteration. */
    @Setup(Level.Iteration)
    public void freshState() {
        current = impl.create(0);
        nextChunk.set(0);
    }

    /** Drops the iteration's state. */
    @TearDown(Level.Iteration)
    public void dropState() {
        current = null; // let the iteration's state be collected before the next is made
    }

    /** Applies the next chunk of {@value #BATCH} observations to the state being filled. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int insert() {
        long chunk = nextChunk.getAndIncrement();
        int inPass = (int) (chunk % chunksPerPass);
        StateFacade state;
        if (inPass == 0 && chunk != 0) {
            state = impl.create(0);
            current = state;
        } else {
            // racy but benign: a thread that claims a chunk of pass p + 1 just before the swap writes it into the
            // pass-p state; a few observations then land in the old state, the count of operations is unchanged
            state = current;
        }
        int from = inPass * BATCH;
        return path == Path.STRING ? inputs.applyStrings(state, from, from + BATCH)
                : inputs.applyBytes(state, from, from + BATCH);
    }

    /** Each thread's reusable batch (ours) and a scratch buffer for turning a String into bytes. */
    @State(Scope.Thread)
    public static class Batch {
        final ObservationBatch batch = new ObservationBatch(BATCH);
        final byte[] scratch = new byte[64]; // the inputs are 8 to 10 characters
    }

    /**
     * {@link #insert} through {@code addObservations}: ours put the chunk of {@value #BATCH} observations into one
     * reusable {@link ObservationBatch} and apply it (on the STRING path each String's characters are copied into a
     * scratch byte buffer first, as a caller holding Strings would); the baselines loop exactly as in insert.
     */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int insertBatch(Batch batch) {
        long chunk = nextChunk.getAndIncrement();
        int inPass = (int) (chunk % chunksPerPass);
        StateFacade state;
        if (inPass == 0 && chunk != 0) {
            state = impl.create(0);
            current = state;
        } else {
            state = current; // racy but benign, as in insert
        }
        int from = inPass * BATCH;
        if (state.unwrap() instanceof CouponState ours) {
            return path == Path.STRING ? inputs.applyStringsBatched(ours, batch.batch, batch.scratch, from, from + BATCH)
                    : inputs.applyBytesBatched(ours, batch.batch, from, from + BATCH);
        }
        return path == Path.STRING ? inputs.applyStrings(state, from, from + BATCH)
                : inputs.applyBytes(state, from, from + BATCH);
    }

    /** A state holding every observation, shared by the threads of a trial. */
    @State(Scope.Benchmark)
    public static class Known {
        StateFacade state;

        /** Applies every observation once, untimed. */
        @Setup(Level.Trial)
        public void fill(AddObservationBenchmark bench) {
            state = bench.impl.create(0);
            int n = bench.inputs.observations();
            if (bench.path == Path.STRING) {
                bench.inputs.applyStrings(state, 0, n);
            } else {
                bench.inputs.applyBytes(state, 0, n);
            }
        }
    }

    /** Each thread's own position in the observations. */
    @State(Scope.Thread)
    public static class Cursor {
        int chunk;
        int chunks;
        int step;

        /** Starts each thread at its own chunk; threads stride by the thread count. */
        @Setup(Level.Trial)
        public void place(AddObservationBenchmark bench, ThreadParams thread, BenchmarkParams params) {
            chunks = bench.chunksPerPass;
            step = params.getThreads();
            chunk = thread.getThreadIndex() % chunks;
        }

        int next() {
            int c = chunk;
            int n = c + step;
            chunk = n >= chunks ? n - chunks : n;
            return c;
        }
    }

    /** Applies a chunk of observations that the state already holds: every call finds code and source present. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int reobserve(Known known, Cursor cursor) {
        int from = cursor.next() * BATCH;
        return path == Path.STRING ? inputs.applyStrings(known.state, from, from + BATCH)
                : inputs.applyBytes(known.state, from, from + BATCH);
    }
}
