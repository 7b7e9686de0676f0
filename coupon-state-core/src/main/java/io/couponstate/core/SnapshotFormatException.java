package io.couponstate.core;

import java.io.IOException;

/** A snapshot that fails a check: the message says which check and where. */
public class SnapshotFormatException extends IOException {

    private static final long serialVersionUID = 1L;

    public SnapshotFormatException(String message) {
        super(message);
    }
}
