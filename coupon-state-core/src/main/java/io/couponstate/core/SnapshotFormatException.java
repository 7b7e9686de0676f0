package io.couponstate.core;

import java.io.IOException;
import java.util.Objects;

/** A snapshot that fails a check: the message says which check and where; {@link #kind()} says what it means. */
public class SnapshotFormatException extends IOException {

    private static final long serialVersionUID = 1L;

    /** What a failed check means for whoever holds the snapshot. */
    public enum Kind {
        /** The bytes are damaged (bad magic, checksum, truncation, an impossible value): try an older copy. */
        DAMAGED,
        /**
         * The bytes are intact but do not fit the target (another code format or case folding, more sources than
         * its {@code maxSources}, a version this library cannot read): a configuration problem, not damage.
         */
        INCOMPATIBLE
    }

    /** Damage or a mismatch. */
    private final Kind kind;

    /**
     * A snapshot whose bytes are damaged ({@link Kind#DAMAGED}).
     *
     * @param message the detail message
     */
    public SnapshotFormatException(String message) {
        this(message, Kind.DAMAGED);
    }

    /**
     * A snapshot that fails a check of the given kind.
     *
     * @param message the detail message
     * @param kind the kind of failure
     */
    public SnapshotFormatException(String message, Kind kind) {
        super(message);
        this.kind = Objects.requireNonNull(kind, "kind");
    }

    /**
     * Whether the snapshot is damaged or intact but incompatible with the target.
     *
     * @return whether the snapshot is damaged or intact but incompatible with the target
     */
    public Kind kind() {
        return kind;
    }
}
