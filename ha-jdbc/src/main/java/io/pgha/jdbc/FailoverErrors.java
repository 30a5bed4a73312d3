package io.pgha.jdbc;

import java.sql.SQLException;

/**
 * The error contract of {@link HaDataSource}, in the SQLStates of the AWS Advanced JDBC Wrapper.
 *
 * <p>{@code getConnection()} retries by itself until {@code leaderWait}: a failure before the first statement never
 * reaches the application, and when it gives up it throws {@link #NO_LEADER}. A connection it handed out is Hikari's
 * own (no statement proxy, docs/decisions 0802), so a failover in the middle of a transaction surfaces with the
 * driver's own SQLState (08006, 57P01, 25006, ...); {@link #classify} says which of the two wrapper outcomes it is.
 */
public final class FailoverErrors {

    /** No writable leader within {@code leaderWait}: thrown by {@code getConnection()}. */
    public static final String NO_LEADER = "08001";
    /** The server went away before the transaction could commit: nothing was committed; borrow again and re-run. */
    public static final String RECONNECT_AND_RERUN = "08S02";
    /** The server went away during COMMIT (or an autocommit statement): the outcome is unknown. */
    public static final String OUTCOME_UNKNOWN = "08007";

    private FailoverErrors() {}

    /**
     * What a failure of a pooled connection means for the application.
     *
     * @param e        the exception a statement, {@code commit()} or {@code getConnection()} threw
     * @param atCommit it was thrown by {@code commit()} or by a statement run in autocommit mode
     * @return {@link #NO_LEADER}, {@link #RECONNECT_AND_RERUN} or {@link #OUTCOME_UNKNOWN}; null when the error is not
     *         about the server going away or changing role (a constraint violation, a syntax error, ...)
     */
    public static String classify(SQLException e, boolean atCommit) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && s.getSQLState() != null) {
                String state = s.getSQLState();
                if (state.equals(NO_LEADER) && s.getMessage() != null && s.getMessage().startsWith("no leader")) {
                    return NO_LEADER;
                }
                if (state.equals("25006")) {
                    // Refused before anything was written: the server is read-only now.
                    return RECONNECT_AND_RERUN;
                }
                if (EvictingExceptionOverride.serverChanged(state)) {
                    return atCommit ? OUTCOME_UNKNOWN : RECONNECT_AND_RERUN;
                }
            }
        }
        return null;
    }
}
