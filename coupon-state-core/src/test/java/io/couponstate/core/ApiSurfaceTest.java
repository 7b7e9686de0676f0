package io.couponstate.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** Uses every line of the fixed public API as written, so a rename or signature change breaks the build. */
class ApiSurfaceTest {

    @Test
    void everyFixedSignatureCompilesAndWorks() {
        CouponState state = new StripedLockCouponState();
        CouponState other = new LockFreeCouponState();
        byte[] code = "FIFTYOFF".getBytes(StandardCharsets.US_ASCII);
        int id = state.sourceId("couponbase1");
        int added = state.addObservation((CharSequence) "FIFTYOFF", "couponbase2");
        int addedBytes = state.addObservation(code, 0, code.length, id);
        Set<String> sources = state.getObservations((CharSequence) "FIFTYOFF");
        int count = state.observationCount((CharSequence) "FIFTYOFF");
        boolean valid = state.isValid((CharSequence) "FIFTYOFF");
        boolean wellFormed = state.isWellFormed((CharSequence) "FIFTYOFF");
        List<String> codes = state.getCouponCodesByObservationCount(2);
        List<String> streamed = new ArrayList<>();
        Consumer<? super String> action = streamed::add;
        state.forEachCouponCode(2, action);
        long size = state.size();
        int threshold = state.threshold();

        assertThat(added).isEqualTo(1);
        assertThat(addedBytes).isEqualTo(2);
        assertThat(sources).containsExactly("couponbase1", "couponbase2");
        assertThat(count).isEqualTo(2);
        assertThat(valid).isTrue();
        assertThat(wellFormed).isTrue();
        assertThat(codes).containsExactly("FIFTYOFF");
        assertThat(streamed).containsExactly("FIFTYOFF");
        assertThat(size).isEqualTo(1);
        assertThat(threshold).isEqualTo(2);
        assertThat(other.size()).isZero();
    }

    @Test
    void observationBatch_hasTheFixedSignatures() {
        CouponState state = new LockFreeCouponState();
        int id = state.sourceId("couponbase1");
        byte[] code = "FIFTYOFF".getBytes(StandardCharsets.US_ASCII);
        ObservationBatch batch = new ObservationBatch(2);
        boolean first = batch.add(code, 0, code.length, id);
        boolean second = batch.add(code, 0, 5, id);
        boolean third = batch.add(code, 0, code.length, id);
        int size = batch.size();
        int added = state.addObservations(batch);
        int result0 = batch.result(0);
        int result1 = batch.result(1);
        batch.clear();

        assertThat(first).isTrue();
        assertThat(second).isTrue();
        assertThat(third).isFalse();
        assertThat(size).isEqualTo(2);
        assertThat(added).isEqualTo(1);
        assertThat(result0).isEqualTo(1);
        assertThat(result1).isEqualTo(-1 - InvalidCouponCodeException.Reason.TOO_SHORT.ordinal());
        assertThat(batch.size()).isZero();
    }

    @Test
    void configBuilder_hasTheFixedMethods() {
        List<String> fired = new ArrayList<>();
        ValidityListener listener = (c, s) -> fired.add(c);
        CouponStateConfig config = CouponStateConfig.builder()
                .threshold(3)
                .expectedCodes(1_000)
                .codeLength(6, 12)
                .caseInsensitive(true)
                .maxSources(16)
                .validityListener(listener)
                .build();
        CouponState striped = new StripedLockCouponState(config);
        CouponState lockFree = new LockFreeCouponState(config);
        for (CouponState state : List.of(striped, lockFree)) {
            state.addObservation("abcdef", "a");
            state.addObservation("ABCDEF", "b");
            assertThat(state.addObservation("AbCdEf", "c")).isEqualTo(3);
        }
        assertThat(fired).containsExactly("ABCDEF", "ABCDEF");
    }
}
