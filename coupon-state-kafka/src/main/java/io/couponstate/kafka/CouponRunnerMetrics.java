package io.couponstate.kafka;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Locale;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * Publishes a {@link CouponConsumerRunner}'s {@link RunnerMetrics} as Micrometer meters, the form a service's
 * metrics already take (Prometheus, Datadog, JMX... through the registry the service uses). Micrometer is an
 * optional dependency of this module: add {@code io.micrometer:micrometer-core} to use this class; nothing else in
 * the library needs it.
 *
 * <pre>{@code
 * new CouponRunnerMetrics(runner, Tags.of("service", "ordering")).bindTo(registry);
 * // or: CouponRunnerMetrics.bindTo(runner, registry);
 * }</pre>
 *
 * <table>
 *   <caption>Meters (Prometheus names in brackets)</caption>
 *   <tr><td>{@code couponstate.runner.records.consumed} [{@code _total}]</td><td>counter: records consumed and
 *       processed</td></tr>
 *   <tr><td>{@code couponstate.runner.codes.applied} [{@code _total}]</td><td>counter: codes applied to the
 *       state</td></tr>
 *   <tr><td>{@code couponstate.runner.records.invalid} [{@code _total}], tag {@code reason}</td><td>counter per
 *       {@link InvalidRecordReason}</td></tr>
 *   <tr><td>{@code couponstate.runner.records.per.second}</td><td>gauge: the rate over the last progress
 *       interval</td></tr>
 *   <tr><td>{@code couponstate.runner.lag}</td><td>gauge: records not yet applied; NaN while unknown</td></tr>
 *   <tr><td>{@code couponstate.runner.checkpoints.written} / {@code .failed} [{@code _total}]</td><td>counters:
 *       checkpoints made durable, checkpoint writes that failed</td></tr>
 *   <tr><td>{@code couponstate.runner.checkpoint.durable}</td><td>gauge: 1 while the newest checkpoint attempt
 *       succeeded (or none was due), 0 after a failed one: nothing new is durable until it is 1 again</td></tr>
 *   <tr><td>{@code couponstate.runner.checkpoint.age.seconds}</td><td>gauge: seconds since the last durable
 *       checkpoint; NaN before the first one</td></tr>
 *   <tr><td>{@code couponstate.runner.checkpoint.restored}</td><td>gauge: the sequence number of the checkpoint
 *       restored at start, 0 for none</td></tr>
 *   <tr><td>{@code couponstate.runner.state}, tag {@code state}</td><td>gauge per {@link CouponConsumerRunner.State}:
 *       1 for the current state, 0 for the others</td></tr>
 *   <tr><td>{@code couponstate.state.codes.distinct} / {@code .valid}</td><td>gauges: distinct and valid codes</td></tr>
 * </table>
 *
 * <p>Thread-safe; every meter reads {@link CouponConsumerRunner#metrics()} when it is read (cheap, never blocks), so
 * the values are as weakly consistent as those. The meters hold the runner through Micrometer's weak references:
 * they report NaN once the runner is garbage. Binding the same runner twice to one registry registers nothing new.
 */
public final class CouponRunnerMetrics implements MeterBinder {

    private final CouponConsumerRunner runner;
    private final Tags tags;

    /**
     * A binder for {@code runner}'s meters, without extra tags.
     *
     * @param runner the runner
     */
    public CouponRunnerMetrics(CouponConsumerRunner runner) {
        this(runner, Tags.empty());
    }

    /**
     * A binder for {@code runner}'s meters, each with {@code tags} (to tell several runners apart).
     *
     * @param runner the runner
     * @param tags the tags
     */
    public CouponRunnerMetrics(CouponConsumerRunner runner, Iterable<Tag> tags) {
        this.runner = Objects.requireNonNull(runner, "runner");
        this.tags = Tags.of(Objects.requireNonNull(tags, "tags"));
    }

    /**
     * {@code new CouponRunnerMetrics(runner).bindTo(registry)}.
     *
     * @param runner the runner
     * @param registry the meter registry
     */
    public static void bindTo(CouponConsumerRunner runner, MeterRegistry registry) {
        new CouponRunnerMetrics(runner).bindTo(registry);
    }

    /** Registers the meters with {@code registry}. */
    @Override
    public void bindTo(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        FunctionCounter.builder("couponstate.runner.records.consumed", runner, r -> r.metrics().recordsConsumed())
                .description("Records consumed and processed (applied or found invalid) since the runner started")
                .tags(tags).register(registry);
        FunctionCounter.builder("couponstate.runner.codes.applied", runner, r -> r.metrics().codesApplied())
                .description("Codes applied to the state since the runner started")
                .tags(tags).register(registry);
        for (InvalidRecordReason reason : InvalidRecordReason.values()) {
            FunctionCounter.builder("couponstate.runner.records.invalid", runner,
                            r -> r.metrics().invalidRecords(reason))
                    .description("Invalid records since the runner started, by reason")
                    .tags(tags).tag("reason", reason.name().toLowerCase(Locale.ROOT))
                    .register(registry);
        }
        Gauge.builder("couponstate.runner.records.per.second", runner, r -> r.metrics().recordsPerSecond())
                .description("Records consumed per second over the last progress interval")
                .tags(tags).register(registry);
        Gauge.builder("couponstate.runner.lag", runner, r -> {
            long lag = r.metrics().lag();
            return lag < 0 ? Double.NaN : lag;
        }).description("Records in the assigned partitions not yet applied; NaN while unknown")
                .tags(tags).register(registry);
        FunctionCounter.builder("couponstate.runner.checkpoints.written", runner,
                        r -> r.metrics().checkpointsWritten())
                .description("Checkpoints made durable since the runner started")
                .tags(tags).register(registry);
        FunctionCounter.builder("couponstate.runner.checkpoints.failed", runner,
                        r -> r.metrics().checkpointFailures())
                .description("Checkpoint writes that failed since the runner started")
                .tags(tags).register(registry);
        Gauge.builder("couponstate.runner.checkpoint.durable", runner, r -> r.metrics().durable() ? 1 : 0)
                .description("1 while the newest checkpoint attempt succeeded, 0 after a failed one")
                .tags(tags).register(registry);
        Gauge.builder("couponstate.runner.checkpoint.age.seconds", runner, r -> {
            OptionalLong age = r.metrics().lastDurableCheckpointAgeMillis();
            return age.isPresent() ? age.getAsLong() / 1000.0 : Double.NaN;
        }).description("Seconds since the last durable checkpoint; NaN before the first one")
                .tags(tags).register(registry);
        Gauge.builder("couponstate.runner.checkpoint.restored", runner,
                        r -> r.metrics().restoredCheckpointSequence())
                .description("The sequence number of the checkpoint restored at start; 0 when none was")
                .tags(tags).register(registry);
        for (CouponConsumerRunner.State state : CouponConsumerRunner.State.values()) {
            Gauge.builder("couponstate.runner.state", runner, r -> r.runnerState() == state ? 1 : 0)
                    .description("1 for the runner's current state, 0 for the others")
                    .tags(tags).tag("state", state.name().toLowerCase(Locale.ROOT)).register(registry);
        }
        Gauge.builder("couponstate.state.codes.distinct", runner, r -> r.metrics().distinctCodes())
                .description("Distinct codes in the state").tags(tags).register(registry);
        Gauge.builder("couponstate.state.codes.valid", runner, r -> r.metrics().validCodes())
                .description("Valid codes as the runner counts them (restored plus its own threshold crossings)")
                .tags(tags).register(registry);
    }
}
