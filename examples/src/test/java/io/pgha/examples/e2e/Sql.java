package io.pgha.examples.e2e;

import static org.awaitility.Awaitility.await;

import io.pgha.core.cluster.Lsn;
import java.net.ConnectException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/** The SQL the scenarios run against a member's PostgreSQL, straight over TCP as the superuser. */
final class Sql {

    /** Every scenario writes its markers here; a row's presence on a member proves what that member replayed. */
    static final String TABLE = "e2e_log";

    private Sql() {}

    /** What a member's PostgreSQL said about itself: only answers, never an error taken for one. */
    enum PgRole {
        /** Out of recovery: it accepts writes. */
        PRIMARY,
        /** In recovery: read-only. */
        REPLICA,
        /** Nothing listens on its port, or the server refused sessions (starting, shutting down): none can write. */
        NOT_ACCEPTING
    }

    static boolean inRecovery(PgServer m) throws SQLException {
        try (Connection c = m.sql(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery()")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    /**
     * The member's role now. A refused connection is an answer ({@link PgRole#NOT_ACCEPTING}); any other failure (a
     * timeout, an authentication error, a broken connection) proves nothing and is thrown, so that an assertion on
     * "not primary" fails instead of passing.
     */
    static PgRole role(PgServer m) throws SQLException {
        try {
            return inRecovery(m) ? PgRole.REPLICA : PgRole.PRIMARY;
        } catch (SQLException e) {
            if (refusesSessions(e)) {
                return PgRole.NOT_ACCEPTING;
            }
            throw e;
        }
    }

    /** Runs as a writable primary now; throws when it cannot tell (a wait treats that as "not yet"). */
    static boolean isPrimary(PgServer m) throws SQLException {
        return role(m) == PgRole.PRIMARY;
    }

    /**
     * The failure is the server's (or the kernel's) definite refusal to open a session: connection refused (no
     * postmaster on the port), or SQLSTATE 57P03 (starting up, shutting down, not yet accepting connections).
     */
    static boolean refusesSessions(SQLException e) {
        if ("57P03".equals(e.getSQLState())) {
            return true;
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ConnectException && String.valueOf(t.getMessage()).contains("refused")) {
                return true;
            }
        }
        return false;
    }

    /** {@code SHOW name} on the member. */
    static String setting(PgServer m, String name) throws SQLException {
        return one(m, "SELECT current_setting('" + name + "')");
    }

    /** How many lines of the server's pg_hba.conf name this user ({@code pg_hba_file_rules}). */
    /** Waits until {@code SHOW name} gives {@code value} on each of {@code members}. */
    static void awaitSetting(List<AgentProcess> members, String name, String value) {
        for (AgentProcess m : members) {
            await("SHOW " + name + " on " + m.name + " is " + value).atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                    .until(() -> setting(m, name).equals(value));
        }
    }

    static int hbaRulesFor(PgServer m, String user) throws SQLException {
        return Integer.parseInt(one(m, "SELECT count(*) FROM pg_hba_file_rules WHERE '" + user
                + "' = ANY(user_name)"));
    }

    static String systemId(PgServer m) throws SQLException {
        return one(m, "SELECT system_identifier::text FROM pg_control_system()");
    }

    /** application_name of every standby streaming from this primary. */
    static Set<String> streamingStandbys(PgServer m) throws SQLException {
        Set<String> out = new TreeSet<>();
        try (Connection c = m.sql(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    static void createTable(PgServer primary) throws SQLException {
        try (Connection c = primary.sql(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS " + TABLE + " (id bigserial PRIMARY KEY, note text NOT NULL,"
                    + " at timestamptz NOT NULL DEFAULT clock_timestamp())");
        }
    }

    /** Commits one marker row (autocommit: the INSERT returns once the commit is durable on this server). */
    static void insert(PgServer primary, String note) throws SQLException {
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

    static boolean hasNote(PgServer m, String note) throws SQLException {
        try (Connection c = m.sql(); PreparedStatement ps = c.prepareStatement(
                "SELECT count(*) FROM " + TABLE + " WHERE note = ?")) {
            ps.setString(1, note);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1) > 0;
            }
        }
    }

    static long count(PgServer m, String notePrefix) throws SQLException {
        try (Connection c = m.sql(); PreparedStatement ps = c.prepareStatement(
                "SELECT count(*) FROM " + TABLE + " WHERE note LIKE ?")) {
            ps.setString(1, notePrefix + "%");
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /** The notes starting with {@code notePrefix}. */
    static Set<String> notes(PgServer m, String notePrefix) throws SQLException {
        Set<String> out = new TreeSet<>();
        try (Connection c = m.sql(); PreparedStatement ps = c.prepareStatement(
                "SELECT note FROM " + TABLE + " WHERE note LIKE ?")) {
            ps.setString(1, notePrefix + "%");
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
        }
        return out;
    }

    /**
     * The table of {@link RoutedWriter}: each row records, from the server's own side, which PostgreSQL executed its
     * INSERT ({@code inet_server_port()}, the member's real port) and when ({@code clock_timestamp()}, the same host's
     * clock as the test's). Replicated rows keep those values, so a history shows where each row was written.
     */
    static final String ROUTED_TABLE = "e2e_routed";

    static void createRoutedTable(PgServer primary) throws SQLException {
        try (Connection c = primary.sql(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS " + ROUTED_TABLE + " (run text NOT NULL, n bigint NOT NULL,"
                    + " port int NOT NULL DEFAULT inet_server_port(),"
                    + " at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (run, n))");
        }
    }

    /** A row of {@link #ROUTED_TABLE}: where and when (epoch microseconds, server clock) it was written. */
    record RoutedRow(long n, int port, long atMicros) {}

    /** The rows of one writer's run on {@code m}, by number. */
    static Map<Long, RoutedRow> routedRows(PgServer m, String run) throws SQLException {
        Map<Long, RoutedRow> out = new TreeMap<>();
        try (Connection c = m.sql(); PreparedStatement ps = c.prepareStatement("SELECT n, port,"
                + " (extract(epoch FROM at) * 1000000)::bigint FROM " + ROUTED_TABLE + " WHERE run = ?")) {
            ps.setString(1, run);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getLong(1), new RoutedRow(rs.getLong(1), rs.getInt(2), rs.getLong(3)));
                }
            }
        }
        return out;
    }

    /** The timeline a primary writes on (a WAL file's name starts with it, in 8 hex digits). */
    static int primaryTimeline(PgServer primary) throws SQLException {
        return Integer.parseInt(one(primary, "SELECT pg_walfile_name(pg_current_wal_lsn())").substring(0, 8), 16);
    }

    static Lsn currentWalLsn(PgServer primary) throws SQLException {
        return Lsn.parse(one(primary, "SELECT pg_current_wal_lsn()::text"));
    }

    /** What a replica holds: max(received, replayed), as the HA loop counts it. */
    static Lsn replicaPosition(PgServer replica) throws SQLException {
        String received = one(replica, "SELECT coalesce(pg_last_wal_receive_lsn(), '0/0')::text");
        String replayed = one(replica, "SELECT coalesce(pg_last_wal_replay_lsn(), '0/0')::text");
        return Lsn.max(Lsn.parse(received), Lsn.parse(replayed));
    }

    /** Writes about {@code megabytes} MB of WAL in one transaction. */
    static void bulkWrite(PgServer primary, int megabytes) throws SQLException {
        try (Connection c = primary.sql(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS e2e_filler (id int, pad text)");
            st.execute("INSERT INTO e2e_filler SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, "
                    + megabytes * 1100 + ") g");
        }
    }

    /** The server's persistent replication slots: name to {@code physical|logical} and restart LSN. */
    static Map<String, String> slots(PgServer m) throws SQLException {
        Map<String, String> out = new TreeMap<>();
        try (Connection c = m.sql(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT slot_name, slot_type, coalesce(restart_lsn::text, '-')"
                        + " FROM pg_replication_slots WHERE NOT temporary")) {
            while (rs.next()) {
                out.put(rs.getString(1), rs.getString(2) + " " + rs.getString(3));
            }
        }
        return out;
    }

    /** Runs statements one after the other on one session (ALTER SYSTEM, CHECKPOINT, ...). */
    static void exec(PgServer m, String... statements) throws SQLException {
        try (Connection c = m.sql(); Statement st = c.createStatement()) {
            for (String s : statements) {
                st.execute(s);
            }
        }
    }

    /** Writes {@code rounds} x 16 MB of WAL, each round ended by a WAL switch and a CHECKPOINT (WAL recycling). */
    static void writeAndRecycleWal(PgServer primary, int rounds) throws SQLException {
        for (int i = 0; i < rounds; i++) {
            bulkWrite(primary, 16);
            exec(primary, "SELECT pg_switch_wal()", "CHECKPOINT");
        }
        exec(primary, "TRUNCATE e2e_filler", "SELECT pg_switch_wal()", "CHECKPOINT");
    }

    /** Whether {@code primary}'s pg_wal still holds the segment with {@code lsn}. */
    static boolean holdsWalSegmentOf(PgServer primary, Lsn lsn) throws SQLException {
        return "t".equals(one(primary, "SELECT count(*) > 0 FROM pg_ls_waldir() WHERE name ="
                + " pg_walfile_name('" + lsn + "'::pg_lsn)"));
    }

    /** Closes a connection whose server may be gone already (then there is nothing left to release). */
    /** The ids in {@code table} ({@code id bigint}), read from this member. */
    static Set<Long> ids(PgServer m, String table) throws SQLException {
        Set<Long> ids = new TreeSet<>();
        try (Connection c = m.sql(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT id FROM " + table)) {
            while (rs.next()) {
                ids.add(rs.getLong(1));
            }
        }
        return ids;
    }

    static void closeQuietly(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException e) {
                // Gone already.
            }
        }
    }

    private static String one(PgServer m, String query) throws SQLException {
        try (Connection c = m.sql(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(query)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
