package io.couponstate.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import org.junit.jupiter.api.Test;

/** The benchmark compares like with like only if every facade computes the same state: a quick check of that. */
class ImplAgreementTest {

    private static final Inputs INPUTS = new Inputs(5_000, true, 64, 7);

    @Test
    void facadesAgreeOnSizeAndValidCodes_onBothPaths() {
        StateFacade reference = Impl.GO_PORT.create(0);
        INPUTS.applyStrings(reference, 0, INPUTS.observations());
        Set<String> valid = reference.codesWithAtLeast(2);
        assertThat(reference.size()).isEqualTo(5_000);
        assertThat(valid).isNotEmpty();
        for (Impl impl : Impl.values()) {
            for (boolean presized : new boolean[] {false, true}) {
                StateFacade byString = impl.create(presized ? 5_000 : 0);
                INPUTS.applyStrings(byString, 0, INPUTS.observations());
                StateFacade byBytes = impl.create(presized ? 5_000 : 0);
                INPUTS.applyBytes(byBytes, 0, INPUTS.observations());
                assertThat(byString.size()).as(impl + " string").isEqualTo(5_000);
                assertThat(byBytes.size()).as(impl + " bytes").isEqualTo(5_000);
                assertThat(byString.codesWithAtLeast(2)).as(impl + " string").isEqualTo(valid);
                assertThat(byBytes.codesWithAtLeast(2)).as(impl + " bytes").isEqualTo(valid);
            }
        }
    }

    @Test
    void inputsHaveEveryCodeAtLeastOnce_andAboutOnePointFourFiveObservationsPerCode() {
        boolean[] seen = new boolean[INPUTS.codes];
        for (int c : INPUTS.obsCode) {
            seen[c] = true;
        }
        for (boolean s : seen) {
            assertThat(s).isTrue();
        }
        assertThat((double) INPUTS.observations() / INPUTS.codes).isBetween(1.35, 1.55);
    }
}
