package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code demo --instances 3}: three partitioned runners over the embedded broker, every code asked everywhere. */
@Tag("integration")
class DemoInstancesTest {

    @Test
    @Timeout(180)
    void demo_threeInstances_everyInstanceAnswersEveryCodeRight() {
        Cli.Run run = Cli.run("demo", "--instances", "3", "--codes-per-file", "2000", "--no-progress",
                "--timeout-seconds", "120");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out())
                .contains("couponstate demo, 3 partitioned instances")
                .containsPattern("instance 1 +: http://127\\.0\\.0\\.1:\\d+ owns partitions \\[")
                .contains("instance 3")
                .contains("valid codes      : " + String.join(" ", CouponFileGenerator.PLANTED_VALID)
                        + " (the instances' listings together)")
                .contains("OK, exactly the planted codes")
                .contains("16 codes x 3 instances = 48 answers over HTTP -> OK, every instance answered every code "
                        + "right");
        // together the instances own the six partitions, each once
        java.util.List<Integer> owned = new java.util.ArrayList<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("owns partitions \\[([0-9, ]*)\\]")
                .matcher(run.out());
        while (m.find()) {
            for (String p : m.group(1).split(", ")) {
                if (!p.isEmpty()) {
                    owned.add(Integer.parseInt(p));
                }
            }
        }
        assertThat(owned).containsExactlyInAnyOrder(0, 1, 2, 3, 4, 5);
    }

    @Test
    void demo_instancesOutOfRange_isAUsageError() {
        Cli.Run run = Cli.run("demo", "--instances", "0");
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("--instances: 0 (expected: 1..16)");
    }
}
