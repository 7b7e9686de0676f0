package io.couponstate.kafka;

import io.couponstate.kafka.internal.runner.SkipHandler;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Receives the records the runner cannot apply. The runner counts each bad record by reason, logs at a bounded rate
 * and then calls {@link #handle}; the runner keeps going either way.
 *
 * <p><b>Threads.</b> {@link #handle} is called by the runner's apply thread (with {@code applyThreads(n > 1)}, by the
 * apply threads one call at a time: the runner serializes them; in partitioned mode, likewise across the shards), in
 * offset order per partition.
 * {@link #flush()} is called by the runner's checkpoint thread, possibly while an apply thread calls {@code handle},
 * after the offsets of a checkpoint were captured and before the checkpoint is written: every record handed to
 * {@code handle} below those offsets happens-before that {@code flush}, so a handler that makes its records durable
 * in {@code flush} loses none across a crash (it may see some twice). {@link #close()} is called once, by the thread
 * closing the runner, after the last {@code handle}. The runner owns the handler it is given and closes it.
 *
 * <p>An exception thrown by {@code handle} stops the runner in {@link CouponConsumerRunner.State#FAILED} with that
 * exception as the cause: a handler that cannot do its job (say, the dead-letter topic is gone) must not let bad
 * records pass silently.
 */
@FunctionalInterface
public interface InvalidRecordHandler extends AutoCloseable {

    /**
     * Handles one bad record. In bulk mode it is called once per record that holds at least one bad line, with the
     * reason of the first bad line (every bad line is counted).
     *
     * @param record the record as consumed
     * @param reason why it could not be applied
     */
    void handle(ConsumerRecord<byte[], byte[]> record, InvalidRecordReason reason);

    /** Makes every record handed to {@link #handle} so far durable; the default does nothing. */
    default void flush() {
    }

    /** Releases what the handler holds; the default does nothing. */
    @Override
    default void close() {
    }

    /**
     * The default handler: drops the record (it was already counted and logged).
     *
     * @return the default handler: drops the record (it was already counted and logged)
     */
    static InvalidRecordHandler skip() {
        return SkipHandler.INSTANCE;
    }
}
