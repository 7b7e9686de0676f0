package io.couponstate.examples;

/**
 * A command failed for a reason the user can act on; the CLI prints the message as it is, on one line, with no
 * stack trace and no exception class name, and exits with {@link #exitCode()}.
 */
final class CommandFailure extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int exitCode;

    /** A failure with {@link ExitCodes#FAILED}. */
    CommandFailure(String message) {
        this(message, ExitCodes.FAILED);
    }

    /** A failure with the given exit code. */
    CommandFailure(String message, int exitCode) {
        super(message, null, false, false);
        this.exitCode = exitCode;
    }

    /** The process exit code this failure maps to. */
    int exitCode() {
        return exitCode;
    }
}
