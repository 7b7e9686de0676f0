package io.couponstate.kafka;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.internal.runner.HeaderSourceResolver;
import io.couponstate.kafka.internal.runner.TopicSourceResolver;
import java.util.Collection;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Tells which source a record belongs to, as a source id of the runner's state ({@link CouponState#sourceId}).
 *
 * <p>This is on the hot path, once per record: an implementation should resolve each distinct source name to an id
 * once and cache it, making no {@code String} per record. It is called by the runner's apply thread; with
 * {@code applyThreads(n > 1)} by the apply threads, which the runner serializes (one call at a time, each
 * happening-before the next), so it need not be thread-safe, but one instance must serve only one runner. In
 * partitioned mode the shards of a runner share it, and the runner serializes their calls in the same way (one call
 * at a time across every shard, never at once with the invalid-record handler's {@code handle}).
 */
@FunctionalInterface
public interface SourceResolver {

    /** Returned when the record names no source; counted as {@link InvalidRecordReason#SOURCE_UNRESOLVED}. */
    int UNRESOLVED = -1;

    /**
     * Returned when the record's source would be past the state's {@code maxSources}. Not a bad record: the runner
     * fails, naming the record, rather than skip it (a source limit is a configuration error).
     */
    int SOURCE_LIMIT = -2;

    /**
     * The source id of {@code record} in {@code state}, or {@link #UNRESOLVED} or {@link #SOURCE_LIMIT}.
     *
     * @param record the record, not null
     * @param state the runner's state, to intern source names with {@link CouponState#sourceId(String)}
     * @return the source id of {@code record} in {@code state}, or {@link #UNRESOLVED} or {@link #SOURCE_LIMIT}
     */
    int sourceId(ConsumerRecord<byte[], byte[]> record, CouponState state);

    /**
     * Every source this resolver can ever return, when it knows them up front (the runner checks them against the
     * state's {@code maxSources} before it starts); empty when sources are discovered from the records, as topic
     * names are. The default is empty.
     *
     * @return every source this resolver can ever return, when it knows them up front (the runner checks them against
     *         the state's {@code maxSources} before it starts); empty when sources are discovered from the records, as
     *         topic names are
     */
    default Optional<Collection<String>> declaredSources() {
        return Optional.empty();
    }

    /**
     * The default: the record's topic is its source (one topic per source file).
     *
     * @return the default: the record's topic is its source (one topic per source file)
     */
    static SourceResolver topicName() {
        return new TopicSourceResolver();
    }

    /**
     * The value of the record's last header named {@code headerKey}, read as UTF-8, is its source (one topic holding
     * several source files), if it is one of {@code allowedSources}. A record without the header, or whose value is
     * not an allowed source (a typo, say), is {@link #UNRESOLVED} and registers nothing in the state; an allowed source
     * that would be past the state's {@code maxSources} is {@link #SOURCE_LIMIT}.
     * {@link #declaredSources()} returns the allowed sources (a copy, without duplicates, in the order given).
     *
     * @param headerKey the header's key, not empty
     * @param allowedSources the source names a header may hold: at least one, none null or empty
     * @return the value of the record's last header named {@code headerKey}, read as UTF-8, is its source (one topic
     *         holding several source files), if it is one of {@code allowedSources}
     */
    static SourceResolver header(String headerKey, Collection<String> allowedSources) {
        return new HeaderSourceResolver(headerKey, allowedSources);
    }
}
