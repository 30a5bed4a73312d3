package io.pgha.core.postgres;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.ReplicationSlot;
import io.pgha.core.config.PostgresSettings;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.Upstream;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.function.LongSupplier;

/**
 * SQL over pgjdbc: connections to this node's server (TCP to {@link PostgresSettings#localConnectHost()}, as the
 * superuser) and to other members, and the steps of the port that are SQL alone.
 *
 * <p>Every connection has connect, login and socket timeouts (of {@link PostgresSettings#probeTimeout()} unless a
 * step needs longer): a probe comes back within a few seconds even when the server hangs.
 */
final class LocalSql {

    /** The pause between two looks at a server that is expected to change (a setting, readiness). */
    static final Duration POLL = Duration.ofMillis(50);

    private final PostgresSettings settings;
    /** The running postmaster's PID, or 0 or less: only for the "postgres is not running" hint. */
    private final LongSupplier postmasterPid;

    LocalSql(PostgresSettings settings, LongSupplier postmasterPid) {
        this.settings = settings;
        this.postmasterPid = postmasterPid;
    }

    // ============================================================================================ connections

    Connection connectLocal(Duration timeout) throws SQLException {
        return connectLocal(timeout, timeout.plusSeconds(2));
    }

    Connection connectLocal(Duration connectTimeout, Duration queryTimeout) throws SQLException {
        return connect(settings.localConnectHost(), settings.listenPort(),
                jdbcProperties(settings.superuser(), settings.superuserPassword(), connectTimeout, queryTimeout));
    }

    /** A physical replication connection (simple query mode) as the replication user, for IDENTIFY_SYSTEM & co. */
    Connection connectReplication(String host, int port, Duration queryTimeout) throws SQLException {
        Properties p = jdbcProperties(settings.replicationUser(), settings.replicationPassword(),
                settings.probeTimeout(), queryTimeout);
        p.setProperty("replication", "true");
        p.setProperty("preferQueryMode", "simple");
        p.setProperty("assumeMinServerVersion", "10");
        return connect(host, port, p);
    }

    private static Properties jdbcProperties(String user, String password, Duration connectTimeout,
            Duration queryTimeout) {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        String connect = String.valueOf(Math.max(1, connectTimeout.toSeconds()));
        p.setProperty("connectTimeout", connect);
        p.setProperty("loginTimeout", connect);
        p.setProperty("socketTimeout", String.valueOf(Math.max(1, queryTimeout.toSeconds())));
        p.setProperty("tcpKeepAlive", "true");
        p.setProperty("ApplicationName", "pgha");
        return p;
    }

    private static Connection connect(String host, int port, Properties p) throws SQLException {
        String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
        Connection c = new org.postgresql.Driver().connect("jdbc:postgresql://" + h + ":" + port + "/postgres", p);
        if (c == null) {
            throw new SQLException("pgjdbc refused the URL for " + h + ":" + port);
        }
        return c;
    }

    String notRunningHint(SQLException e) {
        return postmasterPid.getAsLong() > 0 ? e.getMessage() : "postgres is not running (" + e.getMessage() + ")";
    }

    void awaitSetting(String op, String name, String expected) throws PostgresException {
        long deadline = System.nanoTime() + settings.probeTimeout().multipliedBy(3).toNanos();
        String seen = null;
        while (true) {
            try (Connection c = connectLocal(settings.probeTimeout()); Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("SELECT current_setting(" + ConfText.sqlQuote(name) + ")")) {
                rs.next();
                seen = rs.getString(1);
                if (expected.equals(seen)) {
                    return;
                }
            } catch (SQLException e) {
                seen = "error: " + e.getMessage();
            }
            if (System.nanoTime() > deadline) {
                throw new PostgresException(op + ": the server did not take the new " + name + " after a reload"
                        + " (it reports '" + seen + "')");
            }
            sleep(POLL);
        }
    }

    static Lsn lsn(String s) {
        return s == null ? null : Lsn.parse(s);
    }

    static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    // ============================================================================================ SQL steps

    void createRoles() throws PostgresException {
        try (Connection c = connectLocal(settings.startTimeout()); Statement st = c.createStatement()) {
            org.postgresql.PGConnection pg = c.unwrap(org.postgresql.PGConnection.class);
            if (!settings.replicationUser().equals(settings.superuser())) {
                st.execute("CREATE ROLE " + ConfText.sqlIdent(settings.replicationUser()) + " WITH REPLICATION LOGIN");
                // The SCRAM verifier is computed here, so the clear password never reaches the server (or its log).
                pg.alterUserPassword(settings.replicationUser(), settings.replicationPassword().toCharArray(),
                        "scram-sha-256");
            }
            if (settings.hasSeparateRewindUser() && !settings.rewindUser().equals(settings.replicationUser())) {
                st.execute("CREATE ROLE " + ConfText.sqlIdent(settings.rewindUser()) + " WITH LOGIN");
                pg.alterUserPassword(settings.rewindUser(), settings.rewindPassword().toCharArray(), "scram-sha-256");
            }
            if (settings.hasSeparateRewindUser()) {
                String r = ConfText.sqlIdent(settings.rewindUser());
                // What pg_rewind reads from the source, and nothing more.
                st.execute("GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO " + r);
                st.execute("GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO " + r);
                st.execute("GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO " + r);
                st.execute("GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)"
                        + " TO " + r);
            }
        } catch (SQLException e) {
            throw new PostgresException("bootstrap: creating the replication and rewind roles failed: "
                    + e.getMessage(), e);
        }
    }

    /** CHECKPOINT on another member, as the superuser. */
    void checkpointOn(Upstream member) throws SQLException {
        try (Connection c = connect(member.address().host(), member.address().port(),
                jdbcProperties(settings.superuser(), settings.superuserPassword(), settings.probeTimeout(),
                        settings.stopTimeout()));
                Statement st = c.createStatement()) {
            st.execute("CHECKPOINT");
        }
    }

    void setSynchronousStandbyNames(String value) throws PostgresException {
        String v = value == null ? "" : value;
        String op = "set synchronous_standby_names";
        try (Connection c = connectLocal(settings.probeTimeout()); Statement st = c.createStatement()) {
            st.execute("ALTER SYSTEM SET synchronous_standby_names = " + ConfText.sqlQuote(v));
            st.execute("SELECT pg_reload_conf()");
            awaitSetting(op, "synchronous_standby_names", v);
        } catch (SQLException e) {
            throw new PostgresException(op + " to '" + v + "': " + notRunningHint(e), e);
        }
    }

    void checkpoint() throws PostgresException {
        try (Connection c = connectLocal(settings.probeTimeout(), settings.stopTimeout());
                Statement st = c.createStatement()) {
            st.execute("CHECKPOINT");
        } catch (SQLException e) {
            throw new PostgresException("checkpoint: " + notRunningHint(e), e);
        }
    }

    /** The running server's {@code server_version_num}. */
    int serverVersion() throws PostgresException {
        try (Connection c = connectLocal(settings.probeTimeout()); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT current_setting('server_version_num')::int")) {
            rs.next();
            return rs.getInt(1);
        } catch (SQLException e) {
            throw new PostgresException("server version: " + notRunningHint(e), e);
        }
    }

    /** Makes the server re-read its config files. */
    void reloadConf() throws PostgresException {
        try (Connection c = connectLocal(settings.probeTimeout()); Statement st = c.createStatement()) {
            st.execute("SELECT pg_reload_conf()");
        } catch (SQLException e) {
            throw new PostgresException("reload: " + notRunningHint(e), e);
        }
    }

    /**
     * The lines of the pg_hba.conf on disk that PostgreSQL cannot use ({@code pg_hba_file_rules}); a reload that
     * meets any keeps the previous rules in force.
     */
    List<String> hbaFileErrors() throws PostgresException {
        try (Connection c = connectLocal(settings.probeTimeout()); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT line_number, error FROM pg_hba_file_rules"
                        + " WHERE error IS NOT NULL ORDER BY line_number")) {
            List<String> out = new ArrayList<>();
            while (rs.next()) {
                out.add("line " + rs.getInt(1) + ": " + rs.getString(2));
            }
            return out;
        } catch (SQLException e) {
            throw new PostgresException("pg_hba_file_rules: " + notRunningHint(e), e);
        }
    }

    /** The query for {@code pg_replication_slots}, run on {@code c} (the kept probe connection). */
    static List<ReplicationSlot> replicationSlots(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT slot_name, slot_type, active, restart_lsn::text, database,"
                        + " plugin, temporary FROM pg_replication_slots ORDER BY slot_name")) {
            List<ReplicationSlot> out = new ArrayList<>();
            while (rs.next()) {
                out.add(new ReplicationSlot(rs.getString(1), rs.getString(2), rs.getBoolean(3), lsn(rs.getString(4)),
                        rs.getString(5), rs.getString(6), rs.getBoolean(7)));
            }
            return out;
        }
    }

    void createPhysicalSlot(String name) throws PostgresException {
        requireSlotName(name);
        try (Connection c = connectLocal(settings.probeTimeout()); Statement st = c.createStatement()) {
            st.execute("SELECT pg_create_physical_replication_slot(" + ConfText.sqlQuote(name) + ", true)"
                    + " WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = "
                    + ConfText.sqlQuote(name) + ")");
        } catch (SQLException e) {
            throw new PostgresException("create replication slot " + name + ": " + notRunningHint(e), e);
        }
    }

    void dropSlot(String name) throws PostgresException {
        requireSlotName(name);
        try (Connection c = connectLocal(settings.probeTimeout()); Statement st = c.createStatement()) {
            st.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = "
                    + ConfText.sqlQuote(name) + " AND NOT active");
        } catch (SQLException e) {
            throw new PostgresException("drop replication slot " + name + ": " + notRunningHint(e), e);
        }
    }

    private static void requireSlotName(String name) throws PostgresException {
        if (name == null || !name.matches("[a-z0-9_]{1,63}")) {
            throw new PostgresException("replication slot name must be 1-63 characters of [a-z0-9_] (got '" + name
                    + "')");
        }
    }
}
