package io.couponstate.kafka.internal.runner;

import io.couponstate.core.CouponState;
import io.couponstate.kafka.SourceResolver;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/**
 * Resolves a record's source as the UTF-8 value of one of its headers, among a fixed list of allowed sources. A value
 * outside the list is {@link #UNRESOLVED} and registers nothing in the state, so typos cannot use up
 * {@code maxSources}. Each allowed name is encoded once up front and interned in the state on first use; records are
 * matched by bytes, making no String. Not thread-safe: one runner's poll thread calls it.
 */
public final class HeaderSourceResolver implements SourceResolver {

    /** Not interned in the current state yet. */
    private static final int UNKNOWN = Integer.MIN_VALUE;

    private final String headerKey;
    private final List<String> allowed;
    private final byte[][] names;
    private final int[] ids;
    private CouponState internedIn; // the state the ids belong to; another state starts over

    /** A new resolver with the same header and sources and a cache of its own: one for each shard runner. */
    public HeaderSourceResolver copy() {
        return new HeaderSourceResolver(headerKey, allowed);
    }

    /**
     * Reads the source from the last header named {@code headerKey}; only {@code allowedSources} are sources.
     *
     * @param headerKey the header's key, not empty
     * @param allowedSources the source names a header may hold, at least one, none empty; duplicates are ignored
     */
    public HeaderSourceResolver(String headerKey, Collection<String> allowedSources) {
        Objects.requireNonNull(headerKey, "headerKey");
        Objects.requireNonNull(allowedSources, "allowedSources");
        if (headerKey.isEmpty()) {
            throw new IllegalArgumentException("headerKey: \"\" (expected: a non-empty header key)");
        }
        LinkedHashSet<String> unique = new LinkedHashSet<>();
        for (String s : allowedSources) {
            if (s == null || s.isEmpty()) {
                throw new IllegalArgumentException("allowedSources: " + allowedSources
                        + " (expected: non-empty source names, found " + (s == null ? "null" : "\"\"") + ")");
            }
            unique.add(s);
        }
        if (unique.isEmpty()) {
            throw new IllegalArgumentException("allowedSources: " + allowedSources
                    + " (expected: at least one source name)");
        }
        this.headerKey = headerKey;
        this.allowed = Collections.unmodifiableList(new ArrayList<>(unique));
        this.names = new byte[allowed.size()][];
        this.ids = new int[allowed.size()];
        for (int i = 0; i < names.length; i++) {
            names[i] = allowed.get(i).getBytes(StandardCharsets.UTF_8);
        }
        Arrays.fill(ids, UNKNOWN);
    }

    /** The allowed sources, in the order given, without duplicates. */
    @Override
    public Optional<Collection<String>> declaredSources() {
        return Optional.of(allowed);
    }

    @Override
    public int sourceId(ConsumerRecord<byte[], byte[]> record, CouponState state) {
        Header header = record.headers().lastHeader(headerKey);
        byte[] value = header == null ? null : header.value();
        if (value == null || value.length == 0) {
            return UNRESOLVED;
        }
        if (state != internedIn) { // one runner keeps one state: this is taken once
            Arrays.fill(ids, UNKNOWN);
            internedIn = state;
        }
        final byte[][] names = this.names;
        for (int i = 0; i < names.length; i++) {
            if (Arrays.equals(names[i], value)) {
                int id = ids[i];
                if (id == UNKNOWN) {
                    id = TopicSourceResolver.intern(allowed.get(i), state); // SOURCE_LIMIT is remembered too
                    ids[i] = id;
                }
                return id;
            }
        }
        return UNRESOLVED; // not an allowed source: a typo must not register a source
    }

    @Override
    public String toString() {
        return "HeaderSourceResolver{header=" + headerKey + ", allowed=" + allowed + "}";
    }
}
