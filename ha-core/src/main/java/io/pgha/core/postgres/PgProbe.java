package io.pgha.core.postgres;

import static io.pgha.core.postgres.LocalSql.lsn;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.ParameterChange;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.ReplicationRow;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.ServerFacts;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.PostgresSettings;
import io.pgha.core.spi.PostgresException;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What state this node's PostgreSQL is in ({@link io.pgha.core.spi.Postgres#probe()}): from SQL when the server
 * answers, else from {@code pg_controldata} and the files in the data directory. Never throws: a failed probe is a
 * state with the reason in its detail.
 */
final class PgProbe implements AutoCloseable {

    /** Logs under the facade's name, so that logging configured for {@link LocalPostgres} covers it. */
    private static final Logger LOG = LoggerFactory.getLogger(LocalPostgres.class);

    /** Names compared in lower case: a file may spell DateStyle as datestyle. */
    private static final String PENDING_RESTART_REASON = "WITH f AS (SELECT DISTINCT ON (lower(name))"
            + " lower(name) AS name, setting FROM pg_file_settings WHERE name IS NOT NULL"
            + " ORDER BY lower(name), seqno DESC)"
            + " SELECT s.name, current_setting(s.name), s.vartype, s.unit, f.setting, s.boot_val"
            + " FROM pg_settings s LEFT JOIN f ON f.name = lower(s.name) WHERE s.pending_restart ORDER BY s.name";

    private final PostgresSettings settings;
    private final DataDirectory dataDir;
    private final Postmaster postmaster;
    private final LocalSql sql;
    private final String prefix;
    private final ProbeSession session;

    PgProbe(PostgresSettings settings, DataDirectory dataDir, Postmaster postmaster, LocalSql sql, String prefix) {
        this.settings = settings;
        this.dataDir = dataDir;
        this.postmaster = postmaster;
        this.sql = sql;
        this.prefix = prefix;
        this.session = new ProbeSession(() -> sql.connectLocal(settings.probeTimeout()));
    }

    /** Closes the connection kept for probes now (before a stop); the next probe opens a new one. */
    void release() {
        session.release();
    }

    /** Closes the connection kept for probes. */
    @Override
    public void close() {
        session.close();
    }

    PgState probe() {
        try {
            return doProbe();
        } catch (RuntimeException | PostgresException e) {
            // Nothing is known, not even whether a postmaster runs: never "invalid" or "stopped" (rule S1).
            return PgState.unknown("probe failed: " + e);
        }
    }

    private PgState doProbe() throws PostgresException {
        PgState s = probeServer();
        String rewind = s.dataDir() == PgState.DataDir.VALID ? dataDir.rewindIncomplete() : null;
        if (rewind == null) {
            return s;
        }
        return new PgState(PgState.DataDir.REWIND_INCOMPLETE, s.run(), s.role(), s.systemId(), s.timeline(),
                s.walPosition(), s.receiveLsn(), s.replayLsn(), s.upstream(), s.streaming(), s.replication(),
                s.synchronousStandbyNames(), s.pendingRestart(), "a pg_rewind did not complete (" + rewind + ")");
    }

    private PgState probeServer() throws PostgresException {
        String invalid = dataDir.problem();
        if (invalid != null) {
            PgState.DataDir dd = invalid.isEmpty() ? PgState.DataDir.EMPTY : PgState.DataDir.INVALID;
            long pid = postmaster.pid();
            return new PgState(dd, pid > 0 ? PgState.Run.STARTING : PgState.Run.STOPPED, Role.UNKNOWN,
                    null, 0, null, null, null, null, false, List.of(), "", false,
                    invalid.isEmpty() ? "" : invalid);
        }
        long pid = postmaster.pid();
        if (pid > 0) {
            String why;
            try {
                return sqlProbe(pid);
            } catch (SQLException e) {
                why = "postmaster pid " + pid + " runs but does not answer: " + e.getMessage();
            }
            try {
                return withDetail(offlineState(PgState.Run.STARTING), why);
            } catch (PostgresException | RuntimeException e) {
                return unreadable(PgState.Run.STARTING, why + "; " + e.getMessage());
            }
        }
        try {
            return offlineState(null);
        } catch (PostgresException | RuntimeException e) {
            // The directory looks like a data directory but its control file cannot be read now: report it as not
            // cleanly stopped rather than as unusable, so a passing fault does not make the HA loop give up on it.
            return unreadable(PgState.Run.CRASHED, e.getMessage());
        }
    }

    private static PgState unreadable(PgState.Run run, String detail) {
        return new PgState(PgState.DataDir.VALID, run, Role.UNKNOWN, null, 0, null, null, null, null, false,
                List.of(), "", false, detail);
    }

    private static PgState withDetail(PgState s, String detail) {
        return new PgState(s.dataDir(), s.run(), s.role(), s.systemId(), s.timeline(), s.walPosition(),
                s.receiveLsn(), s.replayLsn(), s.upstream(), s.streaming(), s.replication(),
                s.synchronousStandbyNames(), s.pendingRestart(), detail);
    }

    /** A stopped (or not answering) server, from pg_controldata and the files in the data directory. */
    private PgState offlineState(PgState.Run forcedRun) throws PostgresException {
        ControlData cd = dataDir.controlData();
        Map<String, String> auto = dataDir.readAutoConf();
        boolean standbySignal = Files.exists(settings.dataDir().resolve("standby.signal"));
        boolean backupLabel = Files.exists(settings.dataDir().resolve("backup_label"));
        Role role = standbySignal || cd.inRecovery() ? Role.REPLICA : Role.PRIMARY;
        PgState.Run run;
        String detail;
        if (forcedRun != null) {
            run = forcedRun;
            detail = "control file: " + cd.state();
        } else if (cd.cleanlyShutDown()) {
            run = PgState.Run.STOPPED;
            detail = "";
        } else if (backupLabel) {
            run = PgState.Run.STOPPED;
            detail = "restored from a base backup, not started yet";
        } else {
            run = PgState.Run.CRASHED;
            detail = "not running; the control file says '" + cd.state() + "': it was not shut down cleanly";
        }
        HostPort upstream = role == Role.REPLICA ? ConfText.upstreamOf(auto.get("primary_conninfo")) : null;
        return new PgState(PgState.DataDir.VALID, run, role, cd.systemId(), cd.timeline(), cd.checkpoint(), null,
                null, upstream, false, List.of(), auto.getOrDefault("synchronous_standby_names", ""), false, detail);
    }

    /**
     * The state of the running server, from SQL on the kept probe connection ({@link ProbeSession}); throws when it
     * does not answer.
     *
     * @param pid the PID of the running postmaster
     */
    PgState sqlProbe(long pid) throws SQLException {
        return session.run(pid, this::sqlProbe);
    }

    /** Runs {@code work} on the kept probe connection (not a new backend each time); throws when nothing runs. */
    <T> T onSession(ProbeSession.Work<T> work) throws SQLException {
        long pid = postmaster.pid();
        if (pid <= 0) {
            throw new SQLException("postgres is not running");
        }
        return session.run(pid, work);
    }

    private PgState sqlProbe(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            Role role;
            String sysid;
            int timeline;
            Lsn flush;
            Lsn receive;
            Lsn replay;
            boolean streaming;
            String conninfo;
            String ssn;
            boolean pending;
            boolean paused;
            Instant started;
            int version;
            Instant replayed;
            try (ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery(),"
                    + " (SELECT system_identifier::text FROM pg_control_system()),"
                    + " CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_flush_lsn()) END,"
                    + " CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_flush_lsn()::text END,"
                    + " pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,"
                    + " (SELECT status FROM pg_stat_wal_receiver),"
                    + " (SELECT received_tli FROM pg_stat_wal_receiver),"
                    + " (SELECT timeline_id FROM pg_control_checkpoint()),"
                    + " (SELECT min_recovery_end_timeline FROM pg_control_recovery()),"
                    + " current_setting('primary_conninfo'), current_setting('synchronous_standby_names'),"
                    + " EXISTS (SELECT 1 FROM pg_settings WHERE pending_restart),"
                    + " CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END,"
                    + " (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint,"
                    + " current_setting('server_version_num')::int,"
                    + " (extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000000)::bigint")) {
                rs.next();
                boolean recovery = rs.getBoolean(1);
                role = recovery ? Role.REPLICA : Role.PRIMARY;
                sysid = rs.getString(2);
                flush = lsn(rs.getString(4));
                receive = lsn(rs.getString(5));
                replay = lsn(rs.getString(6));
                streaming = "streaming".equals(rs.getString(7));
                if (recovery) {
                    timeline = Math.max(Math.max(rs.getInt(8), rs.getInt(9)), rs.getInt(10));
                    if (rs.getObject(8) == null) {
                        // No WAL receiver (its upstream is gone, say): the control file's timelines date from the
                        // last restartpoint, which may predate a timeline switch this standby has replayed since.
                        timeline = Math.max(timeline, replayTimeline());
                    }
                } else {
                    timeline = Integer.parseInt(rs.getString(3).substring(0, 8), 16);
                }
                conninfo = rs.getString(11);
                ssn = rs.getString(12);
                pending = rs.getBoolean(13);
                paused = rs.getBoolean(14);
                started = micros(rs, 15);
                version = rs.getInt(16);
                replayed = micros(rs, 17);
            }
            List<ReplicationRow> rows = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("SELECT application_name, state, sync_state, flush_lsn::text,"
                    + " replay_lsn::text FROM pg_stat_replication ORDER BY application_name")) {
                while (rs.next()) {
                    rows.add(new ReplicationRow(rs.getString(1), rs.getString(2), rs.getString(3),
                            lsn(rs.getString(4)), lsn(rs.getString(5))));
                }
            }
            ServerFacts facts = new ServerFacts(started, version, replayed,
                    pending ? pendingRestartReason(st) : Map.of());
            boolean replica = role == Role.REPLICA;
            // A replica holds what it received (a promotion replays it), unless replay is paused: then only what
            // it replayed is known to be usable.
            Lsn position = !replica ? flush : paused ? replay : Lsn.max(receive, replay);
            return new PgState(PgState.DataDir.VALID, PgState.Run.RUNNING, role, sysid, timeline, position,
                    replica ? receive : null, replica ? replay : null, replica ? ConfText.upstreamOf(conninfo) : null,
                    replica && streaming, rows, ssn, pending, "", replica && paused, facts);
        }
    }

    /**
     * Which parameters wait for a restart, with the value in force and the one a restart brings: the last entry for
     * the name in the configuration files as PostgreSQL reads them now ({@code pg_file_settings}: pgha's
     * postgresql.conf, then postgresql.auto.conf, so an ALTER SYSTEM wins as it will at the start), or the built-in
     * default when no file sets it any more (docs/decisions/0027). Asked only while something is pending: the view
     * parses the files on each read. Empty when the query fails: the flag is still published, without its reason.
     */
    private Map<String, ParameterChange> pendingRestartReason(Statement st) {
        Map<String, ParameterChange> reason = new TreeMap<>();
        try (ResultSet rs = st.executeQuery(PENDING_RESTART_REASON)) {
            while (rs.next()) {
                String vartype = rs.getString(3);
                String unit = rs.getString(4);
                String configured = rs.getString(5);
                String next = configured != null ? configured : rs.getString(6);
                reason.put(rs.getString(1),
                        new ParameterChange(rs.getString(2), SettingDisplay.of(next, vartype, unit)));
            }
        } catch (SQLException e) {
            LOG.debug("{}cannot read which parameters wait for a restart: {}", prefix, e.getMessage());
            return Map.of();
        }
        return reason;
    }

    /** Microseconds since the epoch in column {@code i} as an instant; null for SQL NULL. */
    private static Instant micros(ResultSet rs, int i) throws SQLException {
        long v = rs.getLong(i);
        return rs.wasNull() ? null : Instant.EPOCH.plus(v, ChronoUnit.MICROS);
    }

    /**
     * The timeline this standby replays, from {@code IDENTIFY_SYSTEM} over a replication connection to itself (a
     * standby answers with its replay timeline, as Patroni reads it); 0 when that connection is not possible (a
     * custom pg_hba without local replication, say), leaving the control file's timelines as the best answer.
     */
    private int replayTimeline() {
        try (Connection c = sql.connectReplication(settings.localConnectHost(), settings.listenPort(),
                settings.probeTimeout());
                Statement st = c.createStatement(); ResultSet rs = st.executeQuery("IDENTIFY_SYSTEM")) {
            rs.next();
            return rs.getInt(2);
        } catch (SQLException e) {
            LOG.debug("{}IDENTIFY_SYSTEM on this standby failed: {}", prefix, e.getMessage());
            return 0;
        }
    }
}
