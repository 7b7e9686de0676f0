package io.couponstate.kafka.internal.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.CouponState;
import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.SourceResolver;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.junit.jupiter.api.Test;

class HeaderSourceResolverTest {

    private static ConsumerRecord<byte[], byte[]> record(String... sources) {
        ConsumerRecord<byte[], byte[]> r = new ConsumerRecord<>("mixed", 0, 0L, null, "ABCDEFGH".getBytes(
                StandardCharsets.US_ASCII));
        for (String s : sources) {
            r.headers().add(new RecordHeader("source", s == null ? null : s.getBytes(StandardCharsets.UTF_8)));
        }
        return r;
    }

    @Test
    void allowedValues_resolveToStableIds_registeringOnlyThemselves() {
        StripedLockCouponState state = new StripedLockCouponState();
        SourceResolver resolver = SourceResolver.header("source", List.of("couponbase1", "couponbase2"));
        int first = resolver.sourceId(record("couponbase2"), state);
        int second = resolver.sourceId(record("couponbase1"), state);
        assertThat(first).isEqualTo(state.sourceId("couponbase2"));
        assertThat(second).isEqualTo(state.sourceId("couponbase1"));
        assertThat(first).isNotEqualTo(second).isNotNegative();
        for (int i = 0; i < 1_000; i++) {
            assertThat(resolver.sourceId(record("couponbase2"), state)).isEqualTo(first);
            assertThat(resolver.sourceId(record("couponbase1"), state)).isEqualTo(second);
        }
        assertThat(state.sourceNames()).containsExactly("couponbase2", "couponbase1");
    }

    @Test
    void typoedValues_areUnresolved_andRegisterNothing() {
        StripedLockCouponState state = new StripedLockCouponState(CouponStateConfig.builder().maxSources(2).build());
        SourceResolver resolver = SourceResolver.header("source", List.of("couponbase1", "couponbase2"));
        for (String typo : List.of("couponbase3", "Couponbase1", "couponbase1 ", "coupon", "couponbase12", "ü")) {
            assertThat(resolver.sourceId(record(typo), state)).as(typo).isEqualTo(SourceResolver.UNRESOLVED);
        }
        assertThat(state.sourceNames()).isEmpty();
        // the typos used up nothing: both real sources still fit in maxSources = 2
        assertThat(resolver.sourceId(record("couponbase1"), state)).isNotNegative();
        assertThat(resolver.sourceId(record("couponbase2"), state)).isNotNegative();
        assertThat(state.sourceNames()).containsExactly("couponbase1", "couponbase2");
    }

    @Test
    void aMissingEmptyOrNullHeader_isUnresolved_andTheLastHeaderCounts() {
        StripedLockCouponState state = new StripedLockCouponState();
        SourceResolver resolver = SourceResolver.header("source", List.of("couponbase1"));
        assertThat(resolver.sourceId(record(), state)).isEqualTo(SourceResolver.UNRESOLVED);
        assertThat(resolver.sourceId(record(""), state)).isEqualTo(SourceResolver.UNRESOLVED);
        assertThat(resolver.sourceId(record((String) null), state)).isEqualTo(SourceResolver.UNRESOLVED);
        assertThat(resolver.sourceId(record("couponbase1", "typo"), state)).isEqualTo(SourceResolver.UNRESOLVED);
        assertThat(resolver.sourceId(record("typo", "couponbase1"), state)).isEqualTo(state.sourceId("couponbase1"));
        assertThat(state.sourceNames()).containsExactly("couponbase1");
    }

    @Test
    void knownValues_internOncePerSource_notPerRecord() {
        CountingState state = new CountingState(new StripedLockCouponState());
        SourceResolver resolver = SourceResolver.header("source", List.of("a", "b", "c"));
        List<ConsumerRecord<byte[], byte[]>> records = List.of(record("a"), record("b"), record("c"), record("x"));
        for (int i = 0; i < 10_000; i++) {
            resolver.sourceId(records.get(i % records.size()), state.state);
        }
        assertThat(state.sourceIdCalls).isEqualTo(3); // once per allowed source, never for an unknown value
        assertThat(state.delegate.sourceNames()).containsExactly("a", "b", "c");
    }

    @Test
    void anotherStateInstance_isResolvedInThatState() {
        SourceResolver resolver = SourceResolver.header("source", List.of("a", "b"));
        StripedLockCouponState one = new StripedLockCouponState();
        one.sourceId("z");
        assertThat(resolver.sourceId(record("b"), one)).isEqualTo(one.sourceId("b")).isEqualTo(1);
        StripedLockCouponState two = new StripedLockCouponState();
        assertThat(resolver.sourceId(record("b"), two)).isEqualTo(two.sourceId("b")).isEqualTo(0);
    }

    @Test
    void anAllowedSourcePastMaxSources_isSourceLimit_internedOnce() {
        CountingState state = new CountingState(new StripedLockCouponState(CouponStateConfig.builder()
                .maxSources(2).build()));
        SourceResolver resolver = SourceResolver.header("source", List.of("a", "b", "c"));
        assertThat(resolver.sourceId(record("a"), state.state)).isZero();
        assertThat(resolver.sourceId(record("b"), state.state)).isOne();
        for (int i = 0; i < 100; i++) {
            assertThat(resolver.sourceId(record("c"), state.state)).isEqualTo(SourceResolver.SOURCE_LIMIT);
        }
        assertThat(state.sourceIdCalls).isEqualTo(3);
    }

    @Test
    void declaredSources_areTheAllowedOnes_inOrder_withoutDuplicates_andNoneForTopics() {
        assertThat(SourceResolver.header("source", List.of("b", "a", "b")).declaredSources())
                .hasValueSatisfying(s -> assertThat(s).containsExactly("b", "a"));
        assertThat(SourceResolver.topicName().declaredSources()).isEmpty();
        SourceResolver custom = (record, state) -> 0;
        assertThat(custom.declaredSources()).isEmpty();
        List<String> mutable = new ArrayList<>(List.of("a"));
        SourceResolver resolver = SourceResolver.header("source", mutable);
        mutable.add("b");
        assertThat(resolver.declaredSources().orElseThrow()).containsExactly("a"); // a copy, taken once
        assertThatThrownBy(() -> resolver.declaredSources().orElseThrow().add("c"))
                .isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void badArguments_areRefused_namingTheRule() {
        assertThatThrownBy(() -> SourceResolver.header(null, List.of("a")))
                .isInstanceOf(NullPointerException.class).hasMessage("headerKey");
        assertThatThrownBy(() -> SourceResolver.header("source", null))
                .isInstanceOf(NullPointerException.class).hasMessage("allowedSources");
        assertThatThrownBy(() -> SourceResolver.header("", List.of("a")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("headerKey");
        assertThatThrownBy(() -> SourceResolver.header("source", List.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("allowedSources: [] (expected: at least one source name)");
        assertThatThrownBy(() -> SourceResolver.header("source", Arrays.asList("a", null)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("allowedSources");
        assertThatThrownBy(() -> SourceResolver.header("source", List.of("a", "")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("non-empty");
    }

    /**
     * Counts sourceId calls; everything else is the delegate's. A proxy rather than a hand-written class, so that
     * methods added to CouponState later need nothing here.
     */
    private static final class CountingState {
        final StripedLockCouponState delegate;
        final CouponState state;
        int sourceIdCalls;

        CountingState(StripedLockCouponState delegate) {
            this.delegate = delegate;
            this.state = (CouponState) Proxy.newProxyInstance(CouponState.class.getClassLoader(),
                    new Class<?>[] {CouponState.class}, (proxy, method, args) -> {
                        if (method.getName().equals("sourceId") && method.getParameterCount() == 1) {
                            sourceIdCalls++;
                        }
                        try {
                            return method.invoke(delegate, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
        }
    }
}
