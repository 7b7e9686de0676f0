package io.couponstate.kafka.streams;

import java.util.List;
import java.util.Objects;
import org.apache.kafka.streams.query.Query;

/**
 * The IQv2 queries a couponstate store answers through {@code KafkaStreams.query(StateQueryRequest)}: one code's
 * validity and sources, and the valid codes a page at a time. Each answer says whether a standby replica gave it.
 *
 * <pre>{@code
 * KeyQueryMetadata where = CouponStores.queryMetadata(streams, "coupons", code);
 * StateQueryResult<CouponQueries.CodeAnswer> r = streams.query(StateQueryRequest.inStore("coupons")
 *         .withQuery(CouponQueries.code(code)).withPartitions(Set.of(where.partition())));
 * }</pre>
 *
 * <p><b>Stale answers.</b> A standby replica refuses a query with {@code FailureReason.NOT_ACTIVE} unless the query
 * was made with {@code allowStale()}; then it answers, and the answer's {@code standby()} is true (it may lag the
 * active task by the changelog records it has not read yet).
 */
public final class CouponQueries {

    private CouponQueries() {
    }

    /**
     * A query for one code: whether it is valid and its sources.
     *
     * @param code the code, in any case (the store normalizes it as its format does)
     * @return the query, answered by the active task only
     */
    public static CodeQuery code(String code) {
        return new CodeQuery(Objects.requireNonNull(code, "code"), false);
    }

    /**
     * A query for the valid codes in ascending order, after {@code after} (exclusive), at most {@code limit}.
     *
     * @param after the last code of the previous page, or null for the first page
     * @param limit the page size, at least 1
     * @return the query, answered by the active task only
     * @throws IllegalArgumentException if {@code limit < 1}
     */
    public static ValidCodesQuery validCodes(String after, int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit: " + limit + " (expected: >= 1)");
        }
        return new ValidCodesQuery(after, limit, false);
    }

    /** The question about one code. Immutable. */
    public static final class CodeQuery implements Query<CodeAnswer> {
        private final String code;
        private final boolean allowStale;

        CodeQuery(String code, boolean allowStale) {
            this.code = code;
            this.allowStale = allowStale;
        }

        /**
         * The same query, answered by a standby replica too.
         *
         * @return a copy that standbys answer, marking their answers stale
         */
        public CodeQuery allowStale() {
            return new CodeQuery(code, true);
        }

        /**
         * The code asked about.
         *
         * @return the code as given
         */
        public String code() {
            return code;
        }

        /**
         * Whether a standby may answer.
         *
         * @return true if stale answers are accepted
         */
        public boolean isStaleAllowed() {
            return allowStale;
        }

        @Override
        public String toString() {
            return "CodeQuery{" + code + (allowStale ? ", stale allowed" : "") + "}";
        }
    }

    /** The question for a page of valid codes. Immutable. */
    public static final class ValidCodesQuery implements Query<ValidCodesPage> {
        private final String after;
        private final int limit;
        private final boolean allowStale;

        ValidCodesQuery(String after, int limit, boolean allowStale) {
            this.after = after;
            this.limit = limit;
            this.allowStale = allowStale;
        }

        /**
         * The same query, answered by a standby replica too.
         *
         * @return a copy that standbys answer, marking their answers stale
         */
        public ValidCodesQuery allowStale() {
            return new ValidCodesQuery(after, limit, true);
        }

        /**
         * The exclusive lower bound.
         *
         * @return the last code of the previous page, or null
         */
        public String after() {
            return after;
        }

        /**
         * The page size.
         *
         * @return at least 1
         */
        public int limit() {
            return limit;
        }

        /**
         * Whether a standby may answer.
         *
         * @return true if stale answers are accepted
         */
        public boolean isStaleAllowed() {
            return allowStale;
        }
    }

    /**
     * One task's answer about a code.
     *
     * @param code the code, normalized as the store's format does
     * @param valid whether it has at least the threshold's number of sources
     * @param sources its sources, sorted by name
     * @param standby whether a standby replica answered (possibly stale)
     */
    public record CodeAnswer(String code, boolean valid, List<String> sources, boolean standby) {
        /**
         * Copies {@code sources}.
         *
         * @param code the code
         * @param valid whether valid
         * @param sources its sources
         * @param standby whether a standby answered
         */
        public CodeAnswer {
            sources = List.copyOf(sources);
        }
    }

    /**
     * One task's page of valid codes.
     *
     * @param codes ascending, at most the query's limit
     * @param more whether the task holds more valid codes after the last one
     * @param standby whether a standby replica answered (possibly stale)
     */
    public record ValidCodesPage(List<String> codes, boolean more, boolean standby) {
        /**
         * Copies {@code codes}.
         *
         * @param codes the codes
         * @param more whether more follow
         * @param standby whether a standby answered
         */
        public ValidCodesPage {
            codes = List.copyOf(codes);
        }
    }
}
