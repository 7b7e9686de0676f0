package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("integration")
class DemoCommandTest {

    @Test
    void demo_smallFiles_exitsZeroWithExactlyTheEightPlantedCodes() {
        Cli.Run run = Cli.run("demo", "--codes-per-file", "20000", "--no-progress");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out())
                .contains("valid codes      : " + String.join(" ", CouponFileGenerator.PLANTED_VALID) + "\n")
                .contains("OK, exactly the planted codes")
                .contains("couponbase1 20,009, couponbase2 20,008, couponbase3 20,008 records")
                .contains("60,010 distinct codes")
                .contains("time per phase   : broker start");
    }

    @Test
    void demo_unreachableCluster_failsWithoutHanging() {
        Cli.Run run = Cli.run("demo", "--codes-per-file", "10", "--no-progress", "--bootstrap-servers",
                "no-such-host.invalid:9092");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        assertThat(run.err()).contains("demo: cannot reach a Kafka broker at no-such-host.invalid:9092");
    }
}
