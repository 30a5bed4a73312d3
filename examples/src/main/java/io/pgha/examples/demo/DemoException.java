package io.pgha.examples.demo;

/**
 * Ends the demo with a one-line message and an exit status: 0 for {@code --help}, 2 for a bad command line, 3 for a
 * missing prerequisite, 1 when the demo itself failed. The message is what the user reads; no stack trace is shown.
 */
final class DemoException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    static final int FAILED = 1;
    static final int USAGE = 2;
    static final int PREREQUISITE = 3;

    private final int exitCode;

    DemoException(int exitCode, String message) {
        super(message, null, false, false);
        this.exitCode = exitCode;
    }

    static DemoException failed(String message) {
        return new DemoException(FAILED, message);
    }

    static DemoException missing(String message) {
        return new DemoException(PREREQUISITE, message);
    }

    int exitCode() {
        return exitCode;
    }
}
