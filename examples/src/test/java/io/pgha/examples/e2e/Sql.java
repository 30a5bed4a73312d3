package io.pgha.examples.e2e;

import io.pgha.core.cluster.Lsn;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Set;
import java.util.TreeSet;

/** The SQL the scenarios run against a member's PostgreSQL, straight over TCP as the superuser. */
final class Sql {

    /** Every scenario writes its markers here; a row's presence on a member proves what that member replayed. */
    static final String TABLE = "e2e_log";

    private Sql() {}

    static boolean inRecovery(AgentProcess m) throws SQLException {
        try (Connection c = m.sql(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery()")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    /** Runs as a writable primary now; false when it is a replica or does not answer. */
    static boolean isPrimary(AgentProcess m) {
        try {
            return !inRecovery(m);
        } catch (SQLException e) {
            return false;
        }
    }

    /** Answers as a replica now; false when it is a primary or does not answer. */
    static boolean isReplica(AgentProcess m) {
        try {
            return inRecovery(m);
        } catch (SQLException e) {
            return false;
        }
    }

    static String systemId(AgentProcess m) throws SQLException {
        return one(m, "SELECT system_identifier::text FROM pg_control_system()");
    }

    /** application_name of every standby streaming from this primary. */
    static Set<String> streamingStandbys(AgentProcess m) throws SQLException {
        Set<String> out = new TreeSet<>();
        try (Connection c = m.sql(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    static void createTable(AgentProcess primary) throws SQLException {
        try (Connection c = primary.sql(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS " + TABLE + " (id bigserial PRIMARY KEY, note text NOT NULL,"
                    + " at timestamptz NOT NULL DEFAULT clock_timestamp())");
        }
    }

    /** Commits one marker row (autocommit: the INSERT returns once the commit is durable on this server). */
    static void insert(AgentProcess primary, String note) throws SQLException {
        try (Connection c = primary.sql()) {
            insert(c, note);
        }
    }

    static void insert(Connection c, String note) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TABLE + " (note) VALUES (?)")) {
            ps.setString(1, note);
            ps.executeUpdate();
        }
    }

    static boolean hasNote(AgentProcess m, String note) throws SQLException {
        try (Connection c = m.sql(); PreparedStatement ps = c.prepareStatement(
                "SELECT count(*) FROM " + TABLE + " WHERE note = ?")) {
            ps.setString(1, note);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1) > 0;
            }
        }
    }

    static long count(AgentProcess m, String notePrefix) throws SQLException {
        try (Connection c = m.sql(); PreparedStatement ps = c.prepareStatement(
                "SELECT count(*) FROM " + TABLE + " WHERE note LIKE ?")) {
            ps.setString(1, notePrefix + "%");
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    static Lsn currentWalLsn(AgentProcess primary) throws SQLException {
        return Lsn.parse(one(primary, "SELECT pg_current_wal_lsn()::text"));
    }

    /** What a replica holds: max(received, replayed), as the HA loop counts it. */
    static Lsn replicaPosition(AgentProcess replica) throws SQLException {
        String received = one(replica, "SELECT coalesce(pg_last_wal_receive_lsn(), '0/0')::text");
        String replayed = one(replica, "SELECT coalesce(pg_last_wal_replay_lsn(), '0/0')::text");
        return Lsn.max(Lsn.parse(received), Lsn.parse(replayed));
    }

    /** Writes about {@code megabytes} MB of WAL in one transaction. */
    static void bulkWrite(AgentProcess primary, int megabytes) throws SQLException {
        try (Connection c = primary.sql(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS e2e_filler (id int, pad text)");
            st.execute("INSERT INTO e2e_filler SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, "
                    + megabytes * 1100 + ") g");
        }
    }

    private static String one(AgentProcess m, String query) throws SQLException {
        try (Connection c = m.sql(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(query)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
