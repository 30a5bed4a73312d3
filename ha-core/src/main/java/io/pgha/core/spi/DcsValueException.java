package io.pgha.core.spi;

/** A value in the store could not be decoded. The message names the key and what was wrong with it. */
public class DcsValueException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String key;

    public DcsValueException(String key, String problem, Throwable cause) {
        super("malformed value at " + key + ": " + problem, cause);
        this.key = key;
    }

    public String key() {
        return key;
    }
}
