package io.pgha.jdbc;

import io.pgha.core.cluster.Lsn;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;

/**
 * A DataSource view in which reads see the session's own writes: a connection set read-only before its first use
 * goes to a replica only if that replica has replayed the leader's WAL position noted after the session's last write
 * (checked on the replica, one round trip: {@code pg_last_wal_replay_lsn()}); otherwise to another replica or the
 * leader. After each write connection is closed the leader's position is noted (one round trip). Other connections
 * behave as the parent's. Thread-safe; one session per user-visible sequence of requests, e.g. per HTTP session.
 *
 * <p>A position from elsewhere (another process wrote, and passed its {@link #lastWritePosition()}) is added with
 * {@link #readAfter}.
 */
public final class ReadYourWritesSession extends DataSourceBase {

    private final Router router;
    private final RoutingConnection.Options options;
    /** The highest position noted; -1: none yet. Guarded by this. */
    private long position = -1;
    /** A write's position could not be read: reads go to the leader until a later write notes one. */
    private boolean leaderOnly;

    ReadYourWritesSession(Router router, RoutingConnection.Options options) {
        this.router = router;
        this.options = new RoutingConnection.Options(true, options.resolveCommits(), options.autoCommit());
    }

    /** A connection to the leader; set it read-only before its first statement to read from a caught-up replica. */
    @Override
    public Connection getConnection() throws SQLException {
        return RoutingConnection.open(router, TargetRole.PRIMARY, options, this);
    }

    /** The leader's WAL position after this session's last write (e.g. {@code 0/3000148}); empty before any. */
    public synchronized Optional<String> lastWritePosition() {
        return position < 0 ? Optional.empty() : Optional.of(format(position));
    }

    /**
     * Reads of this session must also see everything up to {@code walPosition} (a {@link #lastWritePosition()} of
     * another session or process).
     *
     * @throws IllegalArgumentException when it is not a WAL position such as {@code 0/3000148}
     */
    public void readAfter(String walPosition) {
        wrote(walPosition);
    }

    synchronized void wrote(String walPosition) {
        position = Math.max(position, parse(walPosition));
        leaderOnly = false;
    }

    synchronized void wroteAtUnknownPosition() {
        leaderOnly = true;
    }

    /** Whether a replica's connection has replayed this session's writes. */
    boolean replayed(Connection replica) throws SQLException {
        long need;
        synchronized (this) {
            if (leaderOnly) {
                return false;
            }
            need = position;
        }
        if (need < 0) {
            return true;
        }
        try (PreparedStatement ps = replica.prepareStatement(
                "SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(? AS pg_lsn), false)")) {
            ps.setString(1, format(need));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    static long parse(String walPosition) {
        try {
            if (walPosition != null && walPosition.contains("/")) {
                return Lsn.parse(walPosition).value();
            }
        } catch (IllegalArgumentException e) {
            // reported below, with the setting's name
        }
        throw new IllegalArgumentException("walPosition must be a WAL position such as 0/3000148 (got '"
                + walPosition + "')");
    }

    static String format(long lsn) {
        return Lsn.of(lsn).toString();
    }

    @Override
    public String toString() {
        return "ReadYourWritesSession[" + router.describeSource() + ", after " + lastWritePosition().orElse("nothing")
                + "]";
    }
}
