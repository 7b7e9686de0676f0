package io.couponstate.core;

import java.util.Objects;

/**
 * How a {@link CouponState} is set up: threshold, expected size, code format, source limit and validity listener.
 * Immutable and thread-safe; made by {@link #builder()}. Bad values fail at {@link Builder#build()} with an
 * {@link IllegalArgumentException} naming the value and the rule.
 */
public final class CouponStateConfig {

    /** Largest {@code expectedCodes}: the lock-free table is one array of at most 2^31 - 1 slots. */
    public static final long MAX_EXPECTED_CODES = 1_500_000_000L;
    /** Largest {@code maxSources}: a source set is a 64-bit mask. */
    public static final int MAX_SOURCES = 64;
    /** Largest {@code changeJournalCapacity}: two words per entry must fit one array. */
    public static final int MAX_CHANGE_JOURNAL_CAPACITY = 1 << 29;

    private static final CouponStateConfig DEFAULTS = builder().build();

    private final int threshold;
    private final long expectedCodes;
    private final CodeFormat codeFormat;
    private final int maxSources;
    private final ValidityListener validityListener;
    private final int changeJournalCapacity;

    private CouponStateConfig(Builder b) {
        this.changeJournalCapacity = b.changeJournalCapacity;
        this.threshold = b.threshold;
        this.expectedCodes = b.expectedCodes;
        this.codeFormat = CodeFormat.of(b.minLength, b.maxLength, b.caseInsensitive);
        this.maxSources = b.maxSources;
        this.validityListener = b.validityListener;
    }

    /**
     * A builder with the defaults: threshold 2, no size expectation, 8..10 characters case-sensitive, 8 sources.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The default configuration.
     *
     * @return the default configuration
     */
    public static CouponStateConfig defaults() {
        return DEFAULTS;
    }

    /**
     * Distinct sources a code needs to be valid.
     *
     * @return distinct sources a code needs to be valid
     */
    public int threshold() {
        return threshold;
    }

    /**
     * Distinct codes the state is sized for up front (0: start small and grow).
     *
     * @return distinct codes the state is sized for up front (0: start small and grow)
     */
    public long expectedCodes() {
        return expectedCodes;
    }

    /**
     * The code format.
     *
     * @return the code format
     */
    public CodeFormat codeFormat() {
        return codeFormat;
    }

    /**
     * The most distinct sources the state accepts.
     *
     * @return the most distinct sources the state accepts
     */
    public int maxSources() {
        return maxSources;
    }

    /**
     * Told once per code when it becomes valid.
     *
     * @return the listener told once per code when it becomes valid
     */
    public ValidityListener validityListener() {
        return validityListener;
    }

    /**
     * Entries of the change journal that delta checkpoints are written from (0: no journal, no deltas).
     *
     * @return entries of the change journal that delta checkpoints are written from (0: no journal, no deltas)
     */
    public int changeJournalCapacity() {
        return changeJournalCapacity;
    }

    /** True when a code and its source bits share one 64-bit slot (format of at most 10 characters, 12 sources). */
    boolean packed() {
        return codeFormat.fitsPackedSlot() && maxSources <= 12;
    }

    @Override
    public String toString() {
        return "CouponStateConfig{threshold=" + threshold + ", expectedCodes=" + expectedCodes + ", codeFormat="
                + codeFormat + ", maxSources=" + maxSources + ", changeJournalCapacity=" + changeJournalCapacity + "}";
    }

    /** Builds a {@link CouponStateConfig}; not thread-safe. */
    public static final class Builder {
        private int threshold = 2;
        private long expectedCodes = 0;
        private int minLength = 8;
        private int maxLength = 10;
        private boolean caseInsensitive = false;
        private int maxSources = 8;
        private ValidityListener validityListener = ValidityListener.NONE;
        private int changeJournalCapacity = 0;

        private Builder() {
        }

        /**
         * Distinct sources a code needs to be valid (default 2; 1..maxSources).
         *
         * @param threshold the number of distinct sources that makes a code valid
         * @return this builder
         */
        public Builder threshold(int threshold) {
            this.threshold = threshold;
            return this;
        }

        /**
         * Distinct codes to size for up front, so that no growth happens below it (default 0).
         *
         * @param expectedCodes the expected codes
         * @return this builder
         */
        public Builder expectedCodes(long expectedCodes) {
            this.expectedCodes = expectedCodes;
            return this;
        }

        /**
         * Allowed code lengths (default 8..10; within 1..12).
         *
         * @param min the least number of characters of a code
         * @param max the max
         * @return this builder
         */
        public Builder codeLength(int min, int max) {
            this.minLength = min;
            this.maxLength = max;
            return this;
        }

        /**
         * Fold lower case to upper case before anything else (default false).
         *
         * @param caseInsensitive whether {@code a-z} are folded to {@code A-Z} first
         * @return this builder
         */
        public Builder caseInsensitive(boolean caseInsensitive) {
            this.caseInsensitive = caseInsensitive;
            return this;
        }

        /**
         * The most distinct sources (default 8; 1..64).
         *
         * @param maxSources the max sources
         * @return this builder
         */
        public Builder maxSources(int maxSources) {
            this.maxSources = maxSources;
            return this;
        }

        /**
         * Told once per code when it becomes valid (default: nothing).
         *
         * @param validityListener the validity listener
         * @return this builder
         */
        public Builder validityListener(ValidityListener validityListener) {
            this.validityListener = Objects.requireNonNull(validityListener, "validityListener");
            return this;
        }

        /**
         * Keeps a journal of up to {@code entries} changes (a source added to a code) since the last checkpoint
         * mark, so that {@link CouponSnapshots#writeDelta} writes only those (default 0: no journal). Costs
         * {@code 8 * entries} bytes of heap for formats of at most 10 characters, {@code 16 * entries} for longer
         * ones, twice that once the first checkpoint has swapped epochs (the epoch being written and the one
         * filling); each change costs one atomic increment on a shared counter. When more changes than
         * {@code entries} happen between two checkpoints, the journal overflows and the next checkpoint must be a
         * base ({@link CouponSnapshots#writeBase}). Range 0..{@value CouponStateConfig#MAX_CHANGE_JOURNAL_CAPACITY}.
         *
         * @param entries the entries
         * @return this builder
         */
        public Builder changeJournalCapacity(int entries) {
            this.changeJournalCapacity = entries;
            return this;
        }

        /**
         * The configuration; IllegalArgumentException naming the first bad value and its rule.
         *
         * @return the configuration; IllegalArgumentException naming the first bad value and its rule
         */
        public CouponStateConfig build() {
            if (maxSources < 1 || maxSources > MAX_SOURCES) {
                throw new IllegalArgumentException("maxSources: " + maxSources + " (expected: 1..64)");
            }
            if (threshold < 1 || threshold > maxSources) {
                throw new IllegalArgumentException(
                        "threshold: " + threshold + " (expected: 1..maxSources, maxSources = " + maxSources + ")");
            }
            if (expectedCodes < 0 || expectedCodes > MAX_EXPECTED_CODES) {
                throw new IllegalArgumentException(
                        "expectedCodes: " + expectedCodes + " (expected: 0.." + MAX_EXPECTED_CODES + ")");
            }
            if (changeJournalCapacity < 0 || changeJournalCapacity > MAX_CHANGE_JOURNAL_CAPACITY) {
                throw new IllegalArgumentException("changeJournalCapacity: " + changeJournalCapacity
                        + " (expected: 0.." + MAX_CHANGE_JOURNAL_CAPACITY + ")");
            }
            return new CouponStateConfig(this); // CodeFormat.of checks the lengths
        }
    }
}
