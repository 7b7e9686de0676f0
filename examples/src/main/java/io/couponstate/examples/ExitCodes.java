package io.couponstate.examples;

/** The CLI's exit codes; {@code --help} lists them, and the tests check each. */
final class ExitCodes {

    /** The command did what was asked. */
    static final int OK = 0;
    /**
     * The command failed: no Kafka broker answered, a topic does not exist, a file cannot be published, the runner
     * failed, or the demo found other codes than the planted ones.
     */
    static final int FAILED = 1;
    /** A usage error: an unknown option, a missing or malformed value, or values that contradict each other. */
    static final int USAGE = 2;
    /** Stopped (Ctrl-C, SIGTERM) before the state had caught up with the topics. */
    static final int STOPPED = 3;
    /** Not caught up within {@code --timeout-seconds}. */
    static final int NOT_CAUGHT_UP = 4;

    private ExitCodes() {
    }
}
