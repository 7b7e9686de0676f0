package com.example.coupons;

import io.couponstate.core.CouponState;
import io.couponstate.core.LockFreeCouponState;
import io.couponstate.kafka.CouponCheckpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/**
 * A user's own code against the published artifacts: a state, a durable checkpoint of it with the offsets it covers
 * (as a consumer loop of one's own writes it), and a restore into a fresh state, as after a restart. No broker needed.
 */
public final class CheckpointedCoupons {

    private CheckpointedCoupons() {
    }

    /** Prints what the restored state answers; exits non-zero if it differs from what was written. */
    public static void main(String[] args) throws IOException {
        Path directory = Files.createTempDirectory("coupon-checkpoints");
        CouponState state = new LockFreeCouponState();
        state.addObservation("BIRTHDAY", "couponbase1");
        state.addObservation("BIRTHDAY", "couponbase2");
        state.addObservation("FIFTYOFF", "couponbase1");
        Map<TopicPartition, Long> offsets = Map.of(new TopicPartition("couponbase1", 0), 2L,
                new TopicPartition("couponbase2", 0), 1L);
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(directory)) {
            checkpoints.write(state, offsets);
        }

        CouponState restored = new LockFreeCouponState();
        Map<TopicPartition, Long> resumeAt;
        try (CouponCheckpoints checkpoints = CouponCheckpoints.open(directory)) {
            resumeAt = checkpoints.restore(restored);
        }
        System.out.println("consumer-project: restored " + restored.size() + " codes, resume at "
                + resumeAt.get(new TopicPartition("couponbase1", 0)) + " and "
                + resumeAt.get(new TopicPartition("couponbase2", 0)) + "; BIRTHDAY valid=" + restored.isValid("BIRTHDAY")
                + " sources=" + restored.getObservations("BIRTHDAY") + ", FIFTYOFF valid="
                + restored.isValid("FIFTYOFF"));
        if (!resumeAt.equals(offsets) || restored.size() != 2 || !restored.isValid("BIRTHDAY")) {
            throw new IllegalStateException("the restored checkpoint differs from what was written");
        }
    }
}
