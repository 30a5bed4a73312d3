package io.pgha.core.postgres;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * A fact about the local PostgreSQL could not be read (too many open files, a permission error on a parent
 * directory, ...): not "absent", not "stopped", but unknown. The probe reports it as {@code PgState.DataDir.UNKNOWN};
 * an operation that needed the fact fails instead of guessing (a stop that cannot find the postmaster must not report
 * success, or the lock would be released while a primary may still run: rule S1).
 */
final class CannotTellException extends UncheckedIOException {

    private static final long serialVersionUID = 1L;

    CannotTellException(String what, IOException cause) {
        super(what + ": " + cause, cause);
    }
}
