package io.couponstate.examples.readme;

// README:core-api:begin
import io.couponstate.core.CouponSnapshots;
import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.LockFreeCouponState;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The core API on its own: the JDK is all it needs. */
public class CoreApiExample {

    /** Records a few observations, asks about them, saves a snapshot and reads it into a second state. */
    public static void main(String[] args) throws IOException {
        CouponState state = new LockFreeCouponState(CouponStateConfig.builder()
                .threshold(2)                    // distinct sources for a code to be valid
                .expectedCodes(1_000_000)        // pre-size: no growth below this (9.4 bytes per code measured)
                .codeLength(8, 10)               // A-Z0-9; caseInsensitive(true) folds before anything else
                .maxSources(8)                   // up to 64; one 64-bit slot per code up to 12 sources, 10 characters
                .validityListener((code, sources) -> System.out.println(code + " became valid in " + sources))
                .build());
        state.addObservation("BIRTHDAY", "couponbase1");            // 1: a new source
        int id = state.sourceId("couponbase2");                      // intern once, then the zero-allocation path:
        byte[] bytes = "BIRTHDAY".getBytes(StandardCharsets.US_ASCII);
        state.addObservation(bytes, 0, bytes.length, id);            // 2 = threshold: this call made it valid
        System.out.println("BIRTHDAY valid: " + state.isValid("BIRTHDAY")
                + ", sources " + state.getObservations("BIRTHDAY"));
        System.out.println("birthday valid: " + state.isValid("birthday"));  // false, never a throw: malformed

        Path file = Files.createTempFile("coupons", ".cpst");
        CouponSnapshots.write(state, file);                          // temp file, fsync, atomic rename, dir fsync
        CouponState restored = new LockFreeCouponState();
        CouponSnapshots.read(file, restored);                        // a union, sources remapped by name
        System.out.println("restored " + restored.size() + " code(s); BIRTHDAY valid: "
                + restored.isValid("BIRTHDAY"));
        Files.delete(file);
    }
}
// README:core-api:end
