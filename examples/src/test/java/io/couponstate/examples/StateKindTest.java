package io.couponstate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.core.CompactCouponState;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.core.StripedLockCouponState;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class StateKindTest {

    @Test
    void everyKind_makesItsImplementation() {
        assertThat(StateKind.LOCKFREE.create(10)).isInstanceOf(LockFreeCouponState.class);
        assertThat(StateKind.STRIPED.create(10)).isInstanceOf(StripedLockCouponState.class);
        assertThat(StateKind.COMPACT.create(10)).isInstanceOf(CompactCouponState.class);
    }

    @Test
    void theDemoOption_acceptsCompact_andItsHelpNamesIt() {
        DemoCommand demo = new DemoCommand();
        CommandLine line = new CommandLine(demo).setCaseInsensitiveEnumValuesAllowed(true);
        line.parseArgs("--state", "compact");
        assertThat(demo.stateKind).isEqualTo(StateKind.COMPACT);
        assertThat(line.getUsageMessage().replaceAll("\\s+", " ")).contains("LOCKFREE, STRIPED, COMPACT"); // wrapped
    }
}
