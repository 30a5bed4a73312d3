package io.pgha.jdbc.spring;

import io.pgha.jdbc.FailoverErrors;
import java.sql.SQLException;
import org.springframework.dao.DataAccessException;
import org.springframework.dao.TransientDataAccessResourceException;
import org.springframework.jdbc.support.AbstractFallbackSQLExceptionTranslator;
import org.springframework.jdbc.support.SQLExceptionSubclassTranslator;
import org.springframework.jdbc.support.SQLExceptionTranslator;

/**
 * Spring's exception translation for {@code HaDataSource}'s failover contract ({@link FailoverErrors}). Spring maps
 * every SQLState of class 08 to {@code DataAccessResourceFailureException}, which is not transient, so
 * {@code @Retryable} and other {@code TransientDataAccessException} handling never saw a failover. Here:
 * <ul>
 * <li>{@value FailoverErrors#NO_LEADER} (no leader within leaderWait), {@value FailoverErrors#RECONNECT_AND_RERUN}
 * (nothing was committed) and 25006 (a demoted server refused the write before it ran) become
 * {@link TransientDataAccessResourceException}: running the work again is safe;</li>
 * <li>{@value FailoverErrors#OUTCOME_UNKNOWN} (the COMMIT was cut off) becomes {@link CommitOutcomeUnknownException},
 * also transient, so a retry policy can tell it apart: re-running a non-idempotent write may apply it twice.</li>
 * </ul>
 * Everything else goes to the fallback translator (Spring's default, {@link SQLExceptionSubclassTranslator}).
 */
public class PghaSQLExceptionTranslator extends AbstractFallbackSQLExceptionTranslator {

    public PghaSQLExceptionTranslator() {
        this(new SQLExceptionSubclassTranslator());
    }

    /** @param fallback what translates the exceptions that are not about a failover */
    public PghaSQLExceptionTranslator(SQLExceptionTranslator fallback) {
        setFallbackTranslator(fallback);
    }

    @Override
    protected DataAccessException doTranslate(String task, String sql, SQLException ex) {
        String state = ex.getSQLState();
        // The driver's own states (08006, 57P01, ...) are classified too: a server lost under a statement means
        // nothing was committed; under COMMIT (Spring's task "JDBC commit") the outcome is unknown.
        String kind = FailoverErrors.RECONNECT_AND_RERUN.equals(state) ? FailoverErrors.RECONNECT_AND_RERUN
                : FailoverErrors.OUTCOME_UNKNOWN.equals(state) ? FailoverErrors.OUTCOME_UNKNOWN
                : FailoverErrors.classify(ex, isCommit(task));
        if (FailoverErrors.OUTCOME_UNKNOWN.equals(kind)) {
            return new CommitOutcomeUnknownException(buildMessage(task, sql, ex), ex);
        }
        if (FailoverErrors.RECONNECT_AND_RERUN.equals(kind) || FailoverErrors.NO_LEADER.equals(kind)) {
            return new TransientDataAccessResourceException(buildMessage(task, sql, ex), ex);
        }
        return null;
    }

    private static boolean isCommit(String task) {
        return task != null && task.toLowerCase(java.util.Locale.ROOT).contains("commit");
    }
}
