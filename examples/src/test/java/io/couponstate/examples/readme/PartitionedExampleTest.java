package io.couponstate.examples.readme;

import static org.assertj.core.api.Assertions.assertThat;

import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.PartitionedCouponState;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's partitioned snippet builds what it says, without a broker. */
class PartitionedExampleTest {

    @Test
    void runner_isPartitionedAndAdvertises_andAnUnownedCodeNamesItsPartition(@TempDir Path dir) {
        try (CouponConsumerRunner runner = PartitionedExample.runner("127.0.0.1:9", "127.0.0.1:8080", dir)) {
            assertThat(runner.mode()).isEqualTo(CouponConsumerRunner.Mode.PARTITIONED);
            assertThat(runner.applicationEndpoint()).contains("127.0.0.1:8080");
            int partition = ((PartitionedCouponState) runner.state()).partitionOf("BIRTHDAY");
            assertThat(PartitionedExample.ask(runner, "BIRTHDAY"))
                    .isEqualTo("BIRTHDAY: partition " + partition + " is at no known owner yet (retry)");
        }
    }
}
