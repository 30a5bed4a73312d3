package io.pgha.core.spi;

/**
 * The store could not be reached or did not answer in time. The outcome of a write that throws this is unknown: it
 * may or may not have been applied. Losing a race is not an error: compare-and-set methods return {@code false}.
 */
public class DcsUnavailableException extends Exception {

    private static final long serialVersionUID = 1L;

    public DcsUnavailableException(String message) {
        super(message);
    }

    public DcsUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
