package io.couponstate.core;

import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.jetbrains.lincheck.datastructures.verifier.QuiescentConsistencyVerifier;
import org.jetbrains.lincheck.datastructures.verifier.QuiescentConsistent;
import org.junit.jupiter.api.Test;

/**
 * Lincheck checks {@link LockFreeCouponState} against its own sequential execution: {@code addObservation} and
 * {@code observationCount} must be linearizable, {@code size} (weakly consistent by contract) quiescently consistent.
 * The table starts with two slots and a tiny key range, so scenarios resize while they run; model checking explores
 * interleavings of every CAS and also checks obstruction freedom (no operation waits for another). A batch of two
 * entries is an operation too (see {@link #addObservations}). Three codes
 * and two sources make writers meet on the same slot: with this range, a blind store in place of the update CAS
 * is caught as "Invalid execution results" (checked by hand when the test was written).
 */
@Param(name = "code", gen = IntGen.class, conf = "0:2")
@Param(name = "source", gen = IntGen.class, conf = "0:1")
public class LockFreeLincheckTest {

    private static final String[] CODES = {"A", "0A", "AA"};
    private static final byte[][] BYTES = {{'A'}, {'0', 'A'}, {'A', 'A'}};

    private final LockFreeCouponState state =
            new LockFreeCouponState(CouponStateConfig.builder().codeLength(1, 2).maxSources(3).build(), 2);

    public LockFreeLincheckTest() {
        for (int s = 0; s < 3; s++) {
            state.sourceId("s" + s); // registration is lock-free too, but keep scenarios about the table
        }
    }

    @Operation
    public int addObservation(@Param(name = "code") int code, @Param(name = "source") int source) {
        return state.addObservation(CODES[code], "s" + source);
    }

    /**
     * A batch of two entries on the path of the batch (encode all, warm the slots, then update): the observation
     * and the same observation again, which must find it present (result 0). A batch is not atomic as a whole, while
     * Lincheck checks each operation as atomic, so a batch of two different codes would be (rightly) reported: a
     * reader may see its first entry before its second. Batches of different codes are checked against the model by
     * the stress tests; here each entry's CAS is explored against every other operation's.
     */
    @Operation
    public int addObservations(@Param(name = "code") int code, @Param(name = "source") int source) {
        ObservationBatch batch = new ObservationBatch(2); // one per call: a batch is not thread-safe
        batch.add(BYTES[code], 0, BYTES[code].length, source);
        batch.add(BYTES[code], 0, BYTES[code].length, source);
        int added = state.addObservations(batch);
        return 100 * added + 10 * batch.result(0) + batch.result(1);
    }

    @Operation
    public int observationCount(@Param(name = "code") int code) {
        return state.observationCount(CODES[code]);
    }

    @Operation
    @QuiescentConsistent
    public long size() {
        return state.size();
    }

    /** Scenarios per run: small in the default build, {@code -Dcouponstate.lincheck.iterations=200} for a soak. */
    static final int ITERATIONS = Integer.getInteger("couponstate.lincheck.iterations", 6);

    @Test
    void modelChecking() {
        new ModelCheckingOptions()
                .iterations(ITERATIONS)
                .invocationsPerIteration(1_000)
                .threads(3)
                .actorsPerThread(3)
                .actorsBefore(2)
                .actorsAfter(1)
                .checkObstructionFreedom(true)
                .verifier(QuiescentConsistencyVerifier.class)
                .check(getClass());
    }

    @Test
    void stress() {
        new StressOptions()
                .iterations(ITERATIONS)
                .invocationsPerIteration(1_000)
                .threads(2)
                .actorsPerThread(4)
                .verifier(QuiescentConsistencyVerifier.class)
                .check(getClass());
    }
}
