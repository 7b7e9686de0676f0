package io.couponstate.benchmarks;

/**
 * The one operation every benchmarked implementation shares: record that a code was seen in a source. A thin
 * facade in the style of Caffeine's {@code CacheType}, so the library and the baselines run the same benchmark
 * body. Sources are given as a small index (0, 1, 2); each implementation turns it into what it stores (a name,
 * an interned id or a bit) in whatever way is natural for it.
 */
public interface StateFacade {

    /** The source names the facade uses for index 0, 1, 2, ... */
    String[] SOURCE_NAMES = {"source-0", "source-1", "source-2", "source-3", "source-4", "source-5"};

    /** Records {@code code} in source {@code source}; returns something derived from the result (a sink). */
    int add(String code, int source);

    /**
     * Records the ASCII code in {@code bytes[offset, offset + length)}. Ours take the zero-allocation byte path;
     * the baselines first build a {@code String} as Kafka's {@code StringDeserializer} would.
     */
    int add(byte[] bytes, int offset, int length, int source);

    /** The number of distinct codes held. */
    long size();

    /** The codes seen in at least {@code minSources} distinct sources (for checks, not for measuring). */
    java.util.Set<String> codesWithAtLeast(int minSources);

    /** The object the facade wraps (for footprint measurement). */
    Object unwrap();
}
