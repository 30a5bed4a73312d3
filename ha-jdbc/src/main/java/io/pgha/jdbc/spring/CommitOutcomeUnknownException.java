package io.pgha.jdbc.spring;

import org.springframework.dao.TransientDataAccessResourceException;

/**
 * A COMMIT (or an autocommit statement) was cut off by a failover and nobody could tell whether it took effect
 * (SQLState {@value io.pgha.jdbc.FailoverErrors#OUTCOME_UNKNOWN}). Transient, but a retry of non-idempotent work may
 * apply it twice; {@code pgha.datasource.resolve-commits=true} resolves most of these with {@code txid_status}.
 */
public class CommitOutcomeUnknownException extends TransientDataAccessResourceException {

    private static final long serialVersionUID = 1L;

    public CommitOutcomeUnknownException(String message, Throwable cause) {
        super(message, cause);
    }
}
