package io.couponstate.core;

import java.nio.file.Path;

/** Reads one snapshot file in a child JVM (for the small-heap test); exit 0 read, 3 refused, 1 anything else. */
public final class SnapshotReadMain {

    static final int REFUSED = 3;

    private SnapshotReadMain() {
    }

    public static void main(String[] args) {
        try {
            long entries = CouponSnapshots.read(Path.of(args[0]), new LockFreeCouponState());
            System.out.println("read " + entries + " entries");
        } catch (SnapshotFormatException e) {
            System.out.println("refused: " + e.getMessage());
            System.exit(REFUSED);
        } catch (Throwable t) {
            t.printStackTrace(System.out);
            System.exit(1);
        }
    }
}
