package io.pgha.jdbc.spring;

/** A {@code pgha.*} property breaks a rule; the message names the property and the rule. */
public class InvalidPghaPropertyException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    InvalidPghaPropertyException(String message) {
        super(message);
    }

    InvalidPghaPropertyException(String message, Throwable cause) {
        super(message, cause);
    }
}
