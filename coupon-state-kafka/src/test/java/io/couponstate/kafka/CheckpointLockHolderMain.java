package io.couponstate.kafka;

import java.nio.file.Path;

/**
 * Holds a {@link CouponCheckpoints} (and so its directory lock) in a JVM of its own, for {@link CheckpointStoreTest} to
 * kill with SIGKILL. Argument: the checkpoint directory. Prints {@code LOCKED} once the lock is held, then waits; exits
 * when its stdin closes, so it never outlives the test JVM.
 */
public final class CheckpointLockHolderMain {

    private CheckpointLockHolderMain() {
    }

    /** Takes the lock and waits until stdin closes or the process is killed. */
    public static void main(String[] args) throws Exception {
        CouponCheckpoints store = CouponCheckpoints.open(Path.of(args[0]));
        System.out.println("LOCKED " + store.directory());
        System.out.flush();
        while (System.in.read() >= 0) {
            // nothing: only the end of the stream matters
        }
        Runtime.getRuntime().halt(3); // without close(): only the OS releases the lock, as after a crash
    }
}
