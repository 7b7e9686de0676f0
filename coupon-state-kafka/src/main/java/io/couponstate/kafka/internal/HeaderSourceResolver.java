package io.couponstate.kafka.internal;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.SourceResolver;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/**
 * Resolves a record's source as the UTF-8 value of one of its headers. Each distinct header value is decoded and
 * interned once; later records are matched by bytes, making no String. Not thread-safe: one runner's poll thread
 * calls it.
 */
public final class HeaderSourceResolver implements SourceResolver {

    private static final int MAX_CACHED = 256;

    private final String headerKey;
    private byte[][] names = new byte[8][];
    private int[] ids = new int[8];
    private int count;

    /** Reads the source from the last header named {@code headerKey}. */
    public HeaderSourceResolver(String headerKey) {
        this.headerKey = Objects.requireNonNull(headerKey, "headerKey");
    }

    @Override
    public int sourceId(ConsumerRecord<byte[], byte[]> record, CouponState state) {
        Header header = record.headers().lastHeader(headerKey);
        byte[] value = header == null ? null : header.value();
        if (value == null || value.length == 0) {
            return UNRESOLVED;
        }
        final byte[][] names = this.names;
        for (int i = 0; i < count; i++) {
            if (Arrays.equals(names[i], value)) {
                return ids[i];
            }
        }
        int id = TopicSourceResolver.intern(new String(value, StandardCharsets.UTF_8), state);
        if (count < MAX_CACHED) { // a flood of distinct bad names must not grow the cache without bound
            if (count == names.length) {
                this.names = Arrays.copyOf(names, count * 2);
                this.ids = Arrays.copyOf(ids, count * 2);
            }
            this.names[count] = value.clone();
            this.ids[count] = id;
            count++;
        }
        return id;
    }
}
