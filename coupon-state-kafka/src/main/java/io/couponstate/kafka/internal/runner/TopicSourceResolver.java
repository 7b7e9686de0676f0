package io.couponstate.kafka.internal.runner;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.SourceResolver;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Resolves a record's source as its topic name, interning each topic once. Not thread-safe: one runner's poll thread
 * calls it.
 */
public final class TopicSourceResolver implements SourceResolver {

    /* Records of one partition arrive together and share one topic String instance, so an identity check on the last
     * topic answers almost every call; the map (whose String keys cache their hash) answers the rest. */

    private final Map<String, Integer> ids = new HashMap<>();
    private String lastTopic;
    private int lastId;

    @Override
    public int sourceId(ConsumerRecord<byte[], byte[]> record, CouponState state) {
        String topic = record.topic();
        if (topic == lastTopic) {
            return lastId;
        }
        Integer id = ids.get(topic);
        if (id == null) {
            id = intern(topic, state);
            ids.put(topic, id);
        }
        lastTopic = topic;
        lastId = id;
        return id;
    }

    static int intern(String name, CouponState state) {
        try {
            return state.sourceId(name);
        } catch (IllegalStateException e) {
            return SOURCE_LIMIT; // past maxSources: remembered, so the exception is made once per source
        }
    }
}
