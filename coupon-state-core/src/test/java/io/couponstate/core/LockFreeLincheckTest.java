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
 * interleavings of every CAS and also checks obstruction freedom (no operation waits for another).
 */
@Param(name = "code", gen = IntGen.class, conf = "0:5")
@Param(name = "source", gen = IntGen.class, conf = "0:2")
public class LockFreeLincheckTest {

    private static final String[] CODES = {"A", "B", "0A", "AA", "Z9", "C"};

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

    @Operation
    public int observationCount(@Param(name = "code") int code) {
        return state.observationCount(CODES[code]);
    }

    @Operation
    @QuiescentConsistent
    public long size() {
        return state.size();
    }

    @Test
    void modelChecking() {
        new ModelCheckingOptions()
                .iterations(Integer.getInteger("couponstate.lincheck.iterations", 8))
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
                .iterations(Integer.getInteger("couponstate.lincheck.iterations", 8))
                .invocationsPerIteration(1_000)
                .threads(2)
                .actorsPerThread(4)
                .verifier(QuiescentConsistencyVerifier.class)
                .check(getClass());
    }
}
