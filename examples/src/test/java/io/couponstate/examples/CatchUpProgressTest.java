package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.examples.CatchUpProgress.Snapshot;
import io.couponstate.kafka.RunnerPhase;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** The progress line's formatting: rate, lag, ETA, and the unknowns. */
class CatchUpProgressTest {

    @Test
    void line_whileRestoring_givesBytesOfTheTotalAndTheRate() {
        assertThat(CatchUpProgress.line(new Snapshot(RunnerPhase.RESTORING, 12_300_000, 45_600_000, 120_500_000, 0,
                0, -1, OptionalLong.empty())))
                .isEqualTo("restoring the checkpoint: 12.3 of 45.6 MB (27%), 120.5 MB/s");
        assertThat(CatchUpProgress.line(new Snapshot(RunnerPhase.RESTORING, 0, 0, 0, 0, 0, -1,
                OptionalLong.empty()))).isEqualTo("restoring the checkpoint (size not known yet)");
    }

    @Test
    void line_whileCatchingUp_givesRecordsRateLagAndEta() {
        assertThat(CatchUpProgress.line(new Snapshot(RunnerPhase.CATCHING_UP, 100, 100, 1e6, 1_234_567, 950_000.4,
                3_456_789, OptionalLong.of(4))))
                .isEqualTo("catching up: 1,234,567 records, 950,000 records/s, lag 3,456,789, ETA 4 s");
    }

    @Test
    void line_saysUnknown_forALagOrAnEtaNotKnownYet() {
        assertThat(CatchUpProgress.line(new Snapshot(RunnerPhase.CATCHING_UP, 0, 0, 0, 0, 0, -1,
                OptionalLong.empty()))).isEqualTo("catching up: 0 records, 0 records/s, lag unknown, ETA unknown");
        assertThat(CatchUpProgress.line(new Snapshot(RunnerPhase.CATCHING_UP, 0, 0, 0, 10, 0, 5,
                OptionalLong.empty()))).as("a lag, no rate yet").endsWith("lag 5, ETA unknown");
    }

    @Test
    void eta_inSecondsMinutesOrHours() {
        assertThat(CatchUpProgress.eta(0)).isEqualTo("0 s");
        assertThat(CatchUpProgress.eta(59)).isEqualTo("59 s");
        assertThat(CatchUpProgress.eta(185)).isEqualTo("3 min 05 s");
        assertThat(CatchUpProgress.eta(7_620)).isEqualTo("2 h 07 min");
    }
}
