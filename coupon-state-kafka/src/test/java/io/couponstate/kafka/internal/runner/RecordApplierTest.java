package io.couponstate.kafka.internal.runner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.couponstate.core.CouponStateConfig;
import io.couponstate.core.StripedLockCouponState;
import io.couponstate.kafka.InvalidRecordHandler;
import io.couponstate.kafka.InvalidRecordReason;
import io.couponstate.kafka.SourceResolver;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class RecordApplierTest {

    private static final TopicPartition TP = new TopicPartition("src1", 0);

    private static RecordApplier applier(StripedLockCouponState state, InvalidRecordHandler handler,
            SourceResolver resolver, boolean bulk) {
        RunnerSettings.Builder b = RunnerSettings.builder().bootstrapServers("h:1").topics(List.of("src1", "src2"))
                .state(state).invalidRecordHandler(handler).bulkValues(bulk).maxValueBytes(64);
        if (resolver != null) {
            b.sourceResolver(resolver);
        }
        return new RecordApplier(b.build(), new RateLimitedLog(LoggerFactory.getLogger(RecordApplierTest.class),
                Clock.systemUTC(), 10, 10_000));
    }

    private static ConsumerRecords<byte[], byte[]> records(TopicPartition tp, byte[]... values) {
        List<ConsumerRecord<byte[], byte[]>> list = new ArrayList<>();
        for (int i = 0; i < values.length; i++) {
            list.add(new ConsumerRecord<>(tp.topic(), tp.partition(), i, null, values[i]));
        }
        return new ConsumerRecords<>(Map.of(tp, list), Map.of());
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void apply_appliesGoodCodes_classifiesAndHandsOnBadOnes_andCounts() {
        StripedLockCouponState state = new StripedLockCouponState();
        List<InvalidRecordReason> handled = new ArrayList<>();
        RecordApplier applier = applier(state, (r, reason) -> handled.add(reason), null, false);
        applier.apply(records(TP, ascii("GOODCODE1"), null, new byte[0], ascii("ABC"), ascii("abcdefgh"),
                new byte[65], ascii("GOODCODE1")));
        assertThat(applier.recordsConsumed()).isEqualTo(7);
        assertThat(applier.codesApplied()).isEqualTo(2);
        assertThat(handled).containsExactly(InvalidRecordReason.NULL_VALUE, InvalidRecordReason.EMPTY_VALUE,
                InvalidRecordReason.TOO_SHORT, InvalidRecordReason.ILLEGAL_CHARACTER, InvalidRecordReason.OVERSIZED);
        assertThat(applier.invalidCounts()).containsEntry(InvalidRecordReason.TOO_SHORT, 1L)
                .containsEntry(InvalidRecordReason.SOURCE_UNRESOLVED, 0L);
        assertThat(state.getObservations("GOODCODE1")).containsExactly("src1");
    }

    @Test
    void apply_crossesTheThreshold_asTheStateCountsIt() {
        // the runner's valid-code metric is the state's O(1) validCount(): no count of its own to keep in step
        StripedLockCouponState state = new StripedLockCouponState();
        RecordApplier applier = applier(state, InvalidRecordHandler.skip(), null, false);
        applier.apply(records(TP, ascii("TWICECODE"), ascii("ONCECODE1")));
        applier.apply(records(new TopicPartition("src2", 0), ascii("TWICECODE")));
        assertThat(state.validCount()).isEqualTo(1);
        assertThat(applier.codesApplied()).isEqualTo(3);
    }

    @Test
    void bulkValues_applyEveryLine_andCountEachBadLine() {
        StripedLockCouponState state = new StripedLockCouponState();
        List<InvalidRecordReason> handled = new ArrayList<>();
        RecordApplier applier = applier(state, (r, reason) -> handled.add(reason), null, true);
        applier.apply(records(TP, ascii("AAAAAAAA\r\nshort\nBBBBBBBB\nTOOLONGCODE12\n"), ascii("\n\n")));
        assertThat(applier.codesApplied()).isEqualTo(2);
        assertThat(applier.invalidCounts()).containsEntry(InvalidRecordReason.TOO_SHORT, 1L)
                .containsEntry(InvalidRecordReason.TOO_LONG, 1L).containsEntry(InvalidRecordReason.EMPTY_VALUE, 1L);
        assertThat(handled).containsExactly(InvalidRecordReason.TOO_SHORT, InvalidRecordReason.EMPTY_VALUE);
    }

    @Test
    void recordsAndBulkLines_spanningSeveralObservationBatches_areAppliedAndHandedOnInOrder() {
        StripedLockCouponState state = new StripedLockCouponState();
        List<String> handled = new ArrayList<>();
        RunnerSettings.Builder b = RunnerSettings.builder().bootstrapServers("h:1").topics(List.of("src1"))
                .state(state).bulkValues(true).invalidRecordHandler((r, reason) -> handled.add(r.offset() + ":"
                        + reason));
        RecordApplier applier = new RecordApplier(b.build(), new RateLimitedLog(
                LoggerFactory.getLogger(RecordApplierTest.class), Clock.systemUTC(), 10, 10_000));
        int lines = RecordApplier.BATCH_CODES * 2 + 100; // one record over three batches
        StringBuilder big = new StringBuilder();
        for (int i = 0; i < lines; i++) {
            big.append(i == RecordApplier.BATCH_CODES + 7 ? "bad" : String.format("BIG%06d", i)).append('\n');
        }
        StringBuilder small = new StringBuilder();
        for (int i = 0; i < 10; i++) {
            small.append(i == 3 ? "TOOLONGCODE12" : String.format("SML%06d", i)).append('\n');
        }
        applier.apply(records(TP, ascii(big.toString()), ascii("\n"), ascii(small.toString())));
        assertThat(applier.codesApplied()).isEqualTo(lines - 1 + 9);
        assertThat(state.observationCount(String.format("BIG%06d", lines - 1))).isEqualTo(1);
        assertThat(state.observationCount("SML000009")).isEqualTo(1);
        assertThat(handled).containsExactly("0:TOO_SHORT", "1:EMPTY_VALUE", "2:TOO_LONG");
        assertThat(applier.recordsConsumed()).isEqualTo(3);
    }

    @Test
    void withTheDefaultHandler_eachCodeIsEncodedOnceByTheState_withTheSameCountsAsWhenTheFormatIsCheckedFirst() {
        // the default handler cannot tell when it is called, so malformed codes are left to the state's batch
        byte[][] values = {ascii("GOODCODE1"), ascii("ABC"), ascii("abcdefgh"), ascii("TOOLONGCODE12"), null,
            ascii("GOODCODE2"), ascii("CAF\u00c9CODE").clone(), ascii("GOODCODE1")};
        values[6][3] = (byte) 0xC9; // not ASCII
        StripedLockCouponState once = new StripedLockCouponState();
        RecordApplier skipping = applier(once, InvalidRecordHandler.skip(), null, false);
        skipping.apply(records(TP, values));
        StripedLockCouponState checked = new StripedLockCouponState();
        List<InvalidRecordReason> handled = new ArrayList<>();
        RecordApplier checking = applier(checked, (r, reason) -> handled.add(reason), null, false);
        checking.apply(records(TP, values));
        assertThat(skipping.invalidCounts()).isEqualTo(checking.invalidCounts())
                .containsEntry(InvalidRecordReason.TOO_SHORT, 1L).containsEntry(InvalidRecordReason.TOO_LONG, 1L)
                .containsEntry(InvalidRecordReason.NOT_ASCII, 1L)
                .containsEntry(InvalidRecordReason.ILLEGAL_CHARACTER, 1L);
        assertThat(handled).hasSize(5);
        assertThat(skipping.codesApplied()).isEqualTo(checking.codesApplied()).isEqualTo(3);
        assertThat(skipping.recordsConsumed()).isEqualTo(checking.recordsConsumed()).isEqualTo(8);
        assertThat(once.size()).isEqualTo(checked.size()).isEqualTo(2);
    }

    @Test
    void anUnresolvedSource_isABadRecord() {
        StripedLockCouponState state = new StripedLockCouponState();
        RecordApplier applier = applier(state, InvalidRecordHandler.skip(), (r, s) -> SourceResolver.UNRESOLVED,
                false);
        applier.apply(records(TP, ascii("GOODCODE1")));
        assertThat(applier.invalidCounts()).containsEntry(InvalidRecordReason.SOURCE_UNRESOLVED, 1L);
        assertThat(state.size()).isZero();
    }

    @Test
    void aSourcePastTheLimit_throws_namingTheRecordAndTheLimit_andStopsTheBatchThere() {
        StripedLockCouponState state = new StripedLockCouponState(CouponStateConfig.builder().maxSources(2).build());
        RecordApplier applier = applier(state, InvalidRecordHandler.skip(),
                (r, s) -> r.offset() == 1 ? SourceResolver.SOURCE_LIMIT : s.sourceId("src1"), false);
        assertThatThrownBy(() -> applier.apply(records(TP, ascii("FIRSTCODE"), ascii("LIMITCODE"),
                ascii("THIRDCODE")))).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("record src1-0@1 needs one source more than the state's maxSources (2)");
        assertThat(state.observationCount("FIRSTCODE")).isEqualTo(1);
        assertThat(state.observationCount("THIRDCODE")).isZero();
        assertThat(applier.recordsConsumed()).isEqualTo(1);
    }

    @Test
    void aCallbacksException_propagatesUnchanged_whateverItsType() {
        StripedLockCouponState state = new StripedLockCouponState();
        TimeoutException retriable = new TimeoutException("dead letters timed out");
        RecordApplier applier = applier(state, (r, reason) -> {
            throw retriable;
        }, null, false);
        assertThatThrownBy(() -> applier.apply(records(TP, ascii("bad"), ascii("GOODCODE1")))).isSameAs(retriable);
        assertThat(state.observationCount("GOODCODE1")).isZero();
    }
}
