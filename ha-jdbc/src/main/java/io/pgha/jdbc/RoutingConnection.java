package io.pgha.jdbc;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.postgresql.core.BaseConnection;
import org.postgresql.core.TransactionState;

/**
 * A connection that takes its physical connection only when first used, so that what the application set before
 * (read-only above all) decides where it goes: {@code setReadOnly(true)} first routes to a replica within maxLag, as
 * Spring's {@code @Transactional(readOnly = true)} does it. Opt-in ({@code routeReadOnly}, {@code resolveCommits}, a
 * {@link ReadYourWritesSession}); without them {@link HaDataSource} hands out Hikari's connections directly.
 *
 * <p>Statements are the driver's own: only {@code Connection} calls go through this handler. When the connection is
 * idle between transactions and the read-only flag changes to the other side, the physical connection goes back to
 * its pool and the next use takes one of the other kind.
 *
 * <p>With {@code resolveCommits}, {@code commit()} of a write transaction first asks the server for the transaction's
 * id ({@code txid_current_if_assigned()}, one round trip); when the commit then fails because the server went away,
 * {@link CommitResolver} asks the leader whether that id committed, so the application gets a normal return (it
 * did), {@value FailoverErrors#RECONNECT_AND_RERUN} (it did not) or {@value FailoverErrors#OUTCOME_UNKNOWN} only when
 * nobody can tell.
 */
final class RoutingConnection implements InvocationHandler {

    /**
     * @param routeReadOnly   a connection set read-only before its first use goes to a replica
     * @param resolveCommits  a failed COMMIT is resolved with {@code txid_status}
     * @param autoCommit      the pools' autoCommit default (what {@code getAutoCommit()} says before first use)
     */
    record Options(boolean routeReadOnly, boolean resolveCommits, boolean autoCommit) {}

    private final Router router;
    private final TargetRole role;
    private final Options options;
    private final ReadYourWritesSession session;
    private volatile Router.Borrowed physical;
    private boolean onReplica;
    private boolean readOnly;
    private boolean autoCommit;
    private volatile boolean closed;

    private RoutingConnection(Router router, TargetRole role, Options options, ReadYourWritesSession session) {
        this.router = router;
        this.role = role;
        this.options = options;
        this.session = session;
        this.autoCommit = options.autoCommit();
    }

    static Connection open(Router router, TargetRole role, Options options, ReadYourWritesSession session) {
        return (Connection) Proxy.newProxyInstance(RoutingConnection.class.getClassLoader(),
                new Class<?>[] {Connection.class}, new RoutingConnection(router, role, options, session));
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        if (method.getName().equals("abort")) {
            // From another thread, possibly while this one waits in commit(): never behind this handler's lock.
            Router.Borrowed b = physical;
            closed = true;
            if (b != null) {
                b.connection().abort((java.util.concurrent.Executor) args[0]);
            }
            return null;
        }
        synchronized (this) {
            return invokeLocked(proxy, method, args);
        }
    }

    private Object invokeLocked(Object proxy, Method method, Object[] args) throws Throwable {
        switch (method.getName()) {
            case "equals":
                return proxy == args[0];
            case "hashCode":
                return System.identityHashCode(proxy);
            case "toString":
                return "pgha routing connection " + (physical == null ? "(not connected yet)" : physical.connection());
            case "close":
                close();
                return null;

            case "isClosed":
                return closed || (physical != null && physical.connection().isClosed());
            case "isValid":
                return !closed && (physical == null || physical.connection().isValid((Integer) args[0]));
            case "setReadOnly":
                setReadOnly((Boolean) args[0]);
                return null;
            case "isReadOnly":
                return readOnly;
            case "setAutoCommit":
                autoCommit = (Boolean) args[0];
                if (physical != null) {
                    physical.connection().setAutoCommit(autoCommit);
                }
                return null;
            case "getAutoCommit":
                return autoCommit;
            case "commit":
                if (physical != null) {
                    commit();
                }
                return null;
            case "rollback":
                if (args == null || args.length == 0) {
                    if (physical == null) {
                        return null; // nothing ran
                    }
                    if (physical.connection().isClosed()) {
                        // The pool closed it after a fatal error (server gone): the server ended the transaction
                        // with the session. Failing here would hide the error that matters (Spring's rollback on
                        // exception replaces the application's exception with the rollback's).
                        return null;
                    }
                }
                break;
            default:
                break;
        }
        requireOpen();
        Connection c = connect();
        try {
            return method.invoke(c, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private void requireOpen() throws SQLException {
        if (closed) {
            throw new SQLException("this connection is closed", "08003");
        }
    }

    /** The physical connection, taken now if there is none: a replica's when read-only routing asks for it. */
    private Connection connect() throws SQLException {
        if (physical == null) {
            boolean toReplica = readOnly && options.routeReadOnly() && role == TargetRole.PRIMARY;
            TargetRole r = toReplica ? TargetRole.REPLICA : role;
            physical = session == null ? router.borrow(r) : router.borrow(r, session::replayed);
            onReplica = !isLeader(physical);
            Connection c = physical.connection();
            try {
                if (c.getAutoCommit() != autoCommit) {
                    c.setAutoCommit(autoCommit);
                }
                if (readOnly) {
                    c.setReadOnly(true);
                }
            } catch (SQLException e) {
                release();
                throw e;
            }
        }
        return physical.connection();
    }

    private static boolean isLeader(Router.Borrowed b) {
        return b.member().equals(b.topology().leader());
    }

    private void setReadOnly(boolean value) throws SQLException {
        requireOpen();
        boolean routed = options.routeReadOnly() && role == TargetRole.PRIMARY;
        if (physical != null && routed && value != onReplica && idle(physical.connection())) {
            // Between transactions and now meant for the other side: give this one back, take the right one lazily.
            release();
        }
        readOnly = value;
        if (physical != null) {
            physical.connection().setReadOnly(value);
        }
    }

    private static boolean idle(Connection c) throws SQLException {
        return c.unwrap(BaseConnection.class).getTransactionState() == TransactionState.IDLE;
    }

    private void commit() throws SQLException {
        Connection c = physical.connection();
        if (!options.resolveCommits() || onReplica || autoCommit) {
            c.commit();
            return;
        }
        Long xid = null;
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT txid_current_if_assigned()")) {
            if (rs.next()) {
                long v = rs.getLong(1);
                xid = rs.wasNull() ? null : v;
            }
        }
        try {
            c.commit();
        } catch (SQLException e) {
            if (xid == null || !FailoverErrors.OUTCOME_UNKNOWN.equals(FailoverErrors.classify(e, true))) {
                throw e;
            }
            new CommitResolver(router).resolve(xid, physical.topology(), e);
        }
    }

    /**
     * The leader's WAL position now is at or past every commit this connection made. If it cannot be read, the
     * session reads from the leader until a later write tells it a position again.
     */
    private void notePosition(Connection c) {
        try {
            if (c.isClosed() || !idle(c)) {
                return; // nothing committed since the last note, or Hikari rolls it back
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_current_wal_lsn()::text");
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                session.wrote(rs.getString(1));
            }
        } catch (SQLException e) {
            session.wroteAtUnknownPosition();
        }
    }

    private void close() throws SQLException {
        if (closed) {
            return;
        }
        closed = true;
        if (physical != null) {
            release();
        }
    }

    /** Gives the physical connection back to its pool; in a session, notes the leader's WAL position first. */
    private void release() throws SQLException {
        Router.Borrowed b = physical;
        physical = null;
        try {
            if (session != null && !onReplica) {
                notePosition(b.connection());
            }
        } finally {
            b.connection().close();
        }
    }
}
