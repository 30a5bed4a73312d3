package io.pgha.core.spi;

/** A PostgreSQL operation failed. The message says which one and why (command output, log tail). */
public class PostgresException extends Exception {

    private static final long serialVersionUID = 1L;

    public PostgresException(String message) {
        super(message);
    }

    public PostgresException(String message, Throwable cause) {
        super(message, cause);
    }
}
