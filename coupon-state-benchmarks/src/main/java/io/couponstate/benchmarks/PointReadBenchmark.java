package io.couponstate.benchmarks;

import io.couponstate.core.CouponState;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.ThreadParams;

/**
 * Throughput of the point read {@code isValid} on a state holding {@code codes} codes (3 sources, each code in a
 * source with probability 0.35), pre-sized as a service sizes it: every lookup is of a present code, in arrival
 * order (shuffled), so nearly every one misses the cache on a table larger than it. One operation is one lookup.
 *
 * <p>Run:
 * <pre>
 * java -jar coupon-state-benchmarks/target/benchmarks.jar PointReadBenchmark -t 1 -wi 2 -i 5 -w 2s -r 3s
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx8g", "-Xms2g"})
@Warmup(iterations = 3, time = 3, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 3, timeUnit = TimeUnit.SECONDS)
public class PointReadBenchmark {

    /** Lookups per benchmark invocation. */
    static final int BATCH = 1024;

    /** The implementation under test: the library's three. */
    @Param({"LOCK_FREE", "STRIPED_LOCK", "COMPACT"})
    public Impl impl;

    /** Distinct codes in the state. */
    @Param({"10000000"})
    public int codes;

    Inputs inputs;
    CouponState state;
    int chunks;

    /** Builds the input (seed 42) and a state pre-sized for it holding every observation, untimed. */
    @Setup(Level.Trial)
    public void fill() {
        inputs = new Inputs(codes, true, BATCH, 42);
        chunks = inputs.observations() / BATCH;
        StateFacade facade = impl.create(codes);
        inputs.applyStrings(facade, 0, inputs.observations());
        state = (CouponState) facade.unwrap();
    }

    /** Each thread's own position in the lookups. */
    @State(Scope.Thread)
    public static class Cursor {
        int chunk;
        int step;

        /** Starts each thread at its own chunk; threads stride by the thread count. */
        @Setup(Level.Trial)
        public void place(PointReadBenchmark bench, ThreadParams thread, BenchmarkParams params) {
            step = params.getThreads();
            chunk = thread.getThreadIndex() % bench.chunks;
        }
    }

    /** Looks up a chunk of {@value #BATCH} codes, each present; returns how many are valid (a sink). */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int isValid(Cursor cursor) {
        int from = cursor.chunk * BATCH;
        int next = cursor.chunk + cursor.step;
        cursor.chunk = next >= chunks ? next - chunks : next;
        final String[] codes = inputs.obsStrings;
        final CouponState s = state;
        int valid = 0;
        for (int i = from; i < from + BATCH; i++) {
            valid += s.isValid(codes[i]) ? 1 : 0;
        }
        return valid;
    }
}
