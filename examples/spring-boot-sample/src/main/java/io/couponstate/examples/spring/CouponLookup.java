package io.couponstate.examples.spring;

// README:spring-lookup:begin
import io.couponstate.core.CouponState;
import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.RunnerPhase;
import java.util.Optional;
import org.springframework.stereotype.Service;

/** Asks the starter's state, and says when it cannot answer yet. */
@Service
public class CouponLookup {

    private final CouponState state;
    private final CouponConsumerRunner runner;

    /** Both beans come from the starter, made from the couponstate.* properties. */
    public CouponLookup(CouponState state, CouponConsumerRunner runner) {
        this.state = state;
        this.runner = runner;
    }

    /** Empty until the state has caught up with the topics; then whether {@code code} is valid. */
    public Optional<Boolean> isValid(String code) {
        if (runner.metrics().phase() != RunnerPhase.UP) {
            return Optional.empty();                      // still restoring or catching up: do not guess
        }
        return Optional.of(state.isValid(code));          // thread-safe, well under a microsecond
    }
}
// README:spring-lookup:end
