package io.couponstate.kafka.internal.runner;

import io.couponstate.kafka.InvalidRecordHandler;
import io.couponstate.kafka.InvalidRecordReason;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * The default handler, which drops bad records. One instance, so that the record applier can tell it apart: as it
 * neither throws nor observes the state, when it is called cannot be seen, and the applier leaves finding malformed
 * codes to the state's batch (each code encoded once) instead of checking each code before batching it.
 */
public enum SkipHandler implements InvalidRecordHandler {
    /** The one instance. */
    INSTANCE;

    @Override
    public void handle(ConsumerRecord<byte[], byte[]> record, InvalidRecordReason reason) {
        // dropped: already counted and logged by the runner
    }
}
