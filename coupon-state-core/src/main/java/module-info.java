/**
 * The CouponState API and its three implementations; JDK only. Exports the API package, and the internal package to
 * the Kafka module alone, which writes its checkpoints through the same durable-file helper.
 */
@SuppressWarnings("module") // the Kafka module is built after this one: not observable when this compiles
module io.couponstate.core {
    exports io.couponstate.core;
    exports io.couponstate.core.internal to io.couponstate.kafka;
}
