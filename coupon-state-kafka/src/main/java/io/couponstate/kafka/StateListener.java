package io.couponstate.kafka;

/**
 * Told of every move of a {@link CouponConsumerRunner} from one {@link CouponConsumerRunner.State} to another (the
 * shape of Kafka's {@code KafkaStreams.StateListener}). Set with
 * {@link CouponConsumerRunner.Builder#stateListener(StateListener)}.
 *
 * <p><b>Threads.</b> Called on the thread that made the move (the poll thread, or the thread calling
 * {@code start()} or {@code close()}), one call per move, in the order of the moves, while the runner holds its
 * state lock: keep it short and never call back into the runner's blocking methods. An exception it throws is
 * logged at ERROR and does not change the runner's state (a listener only observes).
 */
@FunctionalInterface
public interface StateListener {

    /**
     * The runner moved from {@code oldState} to {@code newState}.
     *
     * @param newState the state now
     * @param oldState the state before
     */
    void onChange(CouponConsumerRunner.State newState, CouponConsumerRunner.State oldState);
}
