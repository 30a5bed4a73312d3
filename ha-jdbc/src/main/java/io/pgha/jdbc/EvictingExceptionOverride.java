package io.pgha.jdbc;

import com.zaxxer.hikari.SQLExceptionOverride;
import java.sql.SQLException;
import java.util.function.Consumer;

/**
 * Tells Hikari to close a connection whose error says its server is no longer what the pool was for. Hikari evicts on
 * class 08 and 57P01 by itself but not on 25006 (read_only_sql_transaction): a primary demoted in place keeps its
 * sessions, and without this every later write on them would fail the same way. Each such error is also reported, so
 * the router re-reads the topology at once.
 */
final class EvictingExceptionOverride implements SQLExceptionOverride {

    private final Consumer<String> onServerChange;

    /** @param onServerChange called with the SQLState; must not block (it runs on the application's thread) */
    EvictingExceptionOverride(Consumer<String> onServerChange) {
        this.onServerChange = onServerChange;
    }

    @java.lang.Override
    public Override adjudicate(SQLException e) {
        String state = e.getSQLState();
        if (serverChanged(state)) {
            onServerChange.accept(state);
            return Override.MUST_EVICT;
        }
        return Override.CONTINUE_EVICT;
    }

    /** read_only_sql_transaction, the shutdown family (admin, crash, cannot connect now), any connection exception. */
    static boolean serverChanged(String state) {
        return state != null && (state.equals("25006") || state.startsWith("57P0") || state.startsWith("08"));
    }
}
