package io.couponstate.spring.autoconfigure;

import io.couponstate.kafka.CouponConsumerRunner;
import io.couponstate.kafka.RunnerMetrics;
import io.couponstate.kafka.RunnerPhase;
import java.util.Objects;
import java.util.OptionalLong;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The {@code couponState} health contributor: where the runner is, as a status a readiness probe acts on.
 *
 * <table>
 *   <caption>Status by runner phase</caption>
 *   <tr><td>UP, with the newest checkpoint durable</td><td>UP</td></tr>
 *   <tr><td>UP, the newest checkpoint attempt failed (a full disk)</td><td>OUT_OF_SERVICE: answers are right, but
 *       a restart would replay from an older checkpoint; a restart would not help, so this is never a liveness
 *       matter</td></tr>
 *   <tr><td>CREATED, RESTORING, CATCHING_UP, PENDING_SHUTDOWN, STOPPED</td><td>OUT_OF_SERVICE: the state is not
 *       (or no longer) complete</td></tr>
 *   <tr><td>FAILED</td><td>DOWN, with the failure</td></tr>
 * </table>
 *
 * <p>Details: {@code phase}, {@code mode}, {@code lag} (-1 while unknown), {@code durable},
 * {@code lastDurableCheckpointAgeSeconds} (when there was one), {@code checkpointsWritten},
 * {@code checkpointFailures}, {@code distinctCodes}, {@code validCodes}, and {@code checkpointFailure} /
 * {@code problem} when there is one. UP is sticky (see {@link RunnerPhase}): a later burst of records does not make
 * a serving instance unready. Thread-safe; reads {@link CouponConsumerRunner#metrics()}, which never blocks.
 */
public final class CouponStateHealthIndicator implements HealthIndicator {

    private final CouponConsumerRunner runner;

    /**
     * A health indicator for {@code runner}.
     *
     * @param runner the runner to report on
     */
    public CouponStateHealthIndicator(CouponConsumerRunner runner) {
        this.runner = Objects.requireNonNull(runner, "runner");
    }

    @Override
    public Health health() {
        RunnerMetrics m = runner.metrics();
        RunnerPhase phase = m.phase();
        Health.Builder health;
        if (phase == RunnerPhase.FAILED) {
            health = Health.down();
            runner.failureCause().ifPresent(health::withException);
        } else if (phase == RunnerPhase.UP && m.durable()) {
            health = Health.up();
        } else {
            health = Health.outOfService();
        }
        health.withDetail("phase", phase.name())
                .withDetail("mode", runner.mode().name())
                .withDetail("lag", m.lag())
                .withDetail("durable", m.durable())
                .withDetail("checkpointsWritten", m.checkpointsWritten())
                .withDetail("checkpointFailures", m.checkpointFailures())
                .withDetail("distinctCodes", m.distinctCodes())
                .withDetail("validCodes", m.validCodes());
        OptionalLong age = m.lastDurableCheckpointAgeMillis();
        if (age.isPresent()) {
            health.withDetail("lastDurableCheckpointAgeSeconds", age.getAsLong() / 1000.0);
        }
        m.lastCheckpointFailure().ifPresent(f -> health.withDetail("checkpointFailure", f));
        m.problem().ifPresent(p -> health.withDetail("problem", p));
        return health.build();
    }
}
