package io.couponstate.core.internal;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Interns source names to small ids (bit positions), at most {@code maxSources} of them.
 *
 * <p>Thread-safe and lock-free: a name is placed by compare-and-set into the first free slot of a fixed array, and
 * every thread registering the same name scans the slots in the same order, so a name gets exactly one id. An
 * immutable map, replaced by compare-and-set (copy on write: registrations are rare), caches name to id for the fast
 * path; it is filled after the slot is won, so a miss in the cache falls back to the scan. No path takes a lock.
 */
public final class SourceRegistry {

    /** The longest source name, in UTF-8 bytes: what a snapshot can hold, checked when a name is registered. */
    public static final int MAX_NAME_BYTES = 1024;

    private final AtomicReferenceArray<String> names;
    private final AtomicReference<Map<String, Integer>> ids = new AtomicReference<>(Map.of());

    public SourceRegistry(int maxSources) {
        this.names = new AtomicReferenceArray<>(maxSources);
    }

    /** The id of {@code source}, registering it if new. */
    public int idOf(String source) {
        Objects.requireNonNull(source, "source");
        Integer cached = ids.get().get(source);
        if (cached != null) {
            return cached;
        }
        if (source.isEmpty()) {
            throw new IllegalArgumentException("source: \"\" (expected: a non-empty name)");
        }
        // checked here, once per new name, so that a checkpoint can never fail later because of a name
        int bytes = source.length() * 3 <= MAX_NAME_BYTES ? 0 : source.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("source \"" + source.substring(0, 40) + "...\": " + bytes
                    + " UTF-8 bytes (expected: at most " + MAX_NAME_BYTES + ", the longest name a snapshot holds)");
        }
        final AtomicReferenceArray<String> names = this.names;
        for (int i = 0; i < names.length(); i++) {
            String present = names.get(i); // volatile read: sees every name placed before it
            if (present == null && names.compareAndSet(i, null, source)) {
                cache(source, i);
                return i;
            }
            present = names.get(i);
            if (source.equals(present)) {
                cache(source, i);
                return i;
            }
        }
        throw new IllegalStateException("source \"" + source + "\" would be source number " + (names.length() + 1)
                + " (expected: at most maxSources = " + names.length() + " distinct sources)");
    }

    private void cache(String source, int id) {
        while (true) {
            Map<String, Integer> current = ids.get();
            if (current.containsKey(source)) {
                return;
            }
            Map<String, Integer> updated = new HashMap<>(current);
            updated.put(source, id);
            if (ids.compareAndSet(current, Map.copyOf(updated))) { // CAS: fails only if another name was cached
                return;
            }
        }
    }

    /** The id of {@code source}, or -1 if it was never registered; registers nothing. */
    public int find(String source) {
        Integer cached = ids.get().get(source);
        if (cached != null) {
            return cached;
        }
        for (int i = 0; i < names.length(); i++) {
            String present = names.get(i);
            if (present == null) {
                return -1;
            }
            if (present.equals(source)) {
                return i;
            }
        }
        return -1;
    }

    /** The name of a registered id, or null. */
    public String name(int id) {
        return id >= 0 && id < names.length() ? names.get(id) : null;
    }

    /** How many sources are registered (weakly consistent: a concurrent registration may or may not count). */
    public int count() {
        int n = 0;
        while (n < names.length() && names.get(n) != null) {
            n++;
        }
        return n;
    }

    public int capacity() {
        return names.length();
    }

    /** The names of the bits set in {@code mask}, in id order. */
    public List<String> names(long mask) {
        List<String> out = new ArrayList<>(Long.bitCount(mask));
        for (long m = mask; m != 0; m &= m - 1) {
            out.add(names.get(Long.numberOfTrailingZeros(m)));
        }
        return out;
    }
}
