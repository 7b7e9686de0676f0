package io.couponstate.kafka.internal.runner;

import io.couponstate.kafka.CouponCheckpoints;
import java.io.IOException;
import java.nio.file.Path;

/** Opens a runner's checkpoint directory: {@link CouponCheckpoints#open(Path, CouponCheckpoints.Options)}, or in
 *  tests the same with a crash hook. */
@FunctionalInterface
public interface CheckpointsOpener {

    /** Opens and locks {@code directory}; see {@link CouponCheckpoints#open(Path, CouponCheckpoints.Options)}. */
    CouponCheckpoints open(Path directory, CouponCheckpoints.Options options) throws IOException;
}
