package io.pgha.core.postgres;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.ReplicationRow;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.PostgresSettings;
import io.pgha.core.spi.DivergenceCheck;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.StopMode;
import io.pgha.core.spi.Upstream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Postgres} port for a real PostgreSQL (13 to 17) on this machine.
 *
 * <p><b>Files.</b> This node's own settings (port, listen address, socket, hba file, data_directory) live in
 * {@code nodeDir/postgresql.conf}, outside the data directory, and the server is started with
 * {@code --config-file}: base backups and pg_rewind copy the data directory, so they can never carry another node's
 * settings over (docs/decisions/0102). {@code postgresql.auto.conf} and {@code standby.signal} in the data directory
 * are rewritten for this node after every clone or rewind and before every start.
 *
 * <p><b>Processes.</b> The postmaster is this JVM's child, started through {@code setpriv} as {@code runAsUser} when
 * the JVM runs as root (docs/decisions/0101), from one long-lived launcher thread so that it can be tied to the JVM
 * (docs/decisions/0103). A postmaster found running from an earlier JVM (its {@code postmaster.pid}) is controlled
 * by PID the same way.
 *
 * <p><b>Fencing.</b> {@code Postmaster} holds the one lock around "check the fence, then launch" that
 * {@link #fence()} takes too, and never holds it while waiting for a server (docs/decisions/0105).
 *
 * <p><b>SQL.</b> pgjdbc over TCP (to {@link PostgresSettings#localConnectHost()} for this node), with connect, login
 * and socket timeouts of {@link PostgresSettings#probeTimeout()}: a probe comes back within a few seconds even when
 * the server hangs.
 */
public final class LocalPostgres implements Postgres, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LocalPostgres.class);

    /** PostgreSQL major versions this class is written and checked for. */
    public static final int MIN_VERSION = 13;
    public static final int MAX_VERSION = 17;

    private static final List<String> REQUIRED_BINARIES =
            List.of("postgres", "initdb", "pg_basebackup", "pg_controldata", "pg_waldump", "pg_rewind");
    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\)\\s+(\\d+)(?:\\.(\\d+))?");
    private static final Pattern WAL_SEGMENT = Pattern.compile("[0-9A-F]{24}");
    private static final Pattern WALDUMP_LSN = Pattern.compile("lsn: ([0-9A-F]+/[0-9A-F]+),");

    private final PostgresSettings settings;
    private final Runner runner;
    private final int majorVersion;
    private final String versionText;
    private final String prefix;
    private final DataDirectory dataDir;
    private final LocalSql sql;
    private final Postmaster postmaster;

    /**
     * Checks the OS user, the binaries and their version. Touches no directory: that happens on the first operation
     * that needs one.
     *
     * @throws PostgresException when the user is missing, a binary is missing, or the version is not 13 to 17
     */
    public LocalPostgres(PostgresSettings settings) throws PostgresException {
        this.settings = settings;
        this.prefix = settings.memberName() + " - ";
        OsUser user = OsUser.resolve(settings);
        Path bin = settings.binDir();
        if (!Files.isDirectory(bin)) {
            throw new PostgresException("binDir " + bin + " does not exist or is not a directory: install PostgreSQL "
                    + MIN_VERSION + "-" + MAX_VERSION + " or point binDir at its bin directory");
        }
        for (String b : REQUIRED_BINARIES) {
            if (!Files.isExecutable(bin.resolve(b))) {
                throw new PostgresException("binDir " + bin + " has no executable '" + b + "': pgha needs "
                        + String.join(", ", REQUIRED_BINARIES) + " from PostgreSQL " + MIN_VERSION + "-"
                        + MAX_VERSION);
            }
        }
        this.runner = new Runner(user, bin, settings.nodeDir());
        Runner.Result r = runner.run("version check", Duration.ofSeconds(30), "postgres", List.of("--version"));
        Matcher m = VERSION.matcher(r.output());
        if (!r.ok() || !m.find()) {
            throw new PostgresException("binDir " + bin + ": 'postgres --version' did not print a PostgreSQL version"
                    + " (exit code " + r.exitCode() + "): " + r.output());
        }
        this.majorVersion = Integer.parseInt(m.group(1));
        this.versionText = m.group(1) + (m.group(2) == null ? "" : "." + m.group(2));
        if (majorVersion < MIN_VERSION || majorVersion > MAX_VERSION) {
            throw new PostgresException("binDir " + bin + " has PostgreSQL " + versionText + ", but pgha supports "
                    + MIN_VERSION + " to " + MAX_VERSION);
        }
        this.dataDir = new DataDirectory(settings, user, runner, majorVersion, versionText);
        this.sql = new LocalSql(settings, () -> postmasterPid().orElse(-1L));
        this.postmaster = new Postmaster(settings, runner, dataDir, sql, prefix);
    }

    public PostgresSettings settings() {
        return settings;
    }

    /** The binaries' version, e.g. {@code 15.18}. */
    public String version() {
        return versionText;
    }

    public int majorVersion() {
        return majorVersion;
    }

    /** The postmaster's PID, when one runs for this data directory. */
    public Optional<Long> postmasterPid() {
        long pid = postmaster.pid();
        return pid > 0 ? Optional.of(pid) : Optional.empty();
    }

    /** The server log file in the node directory. */
    public Path logFile() {
        return dataDir.logFile();
    }

    public boolean isFenced() {
        return postmaster.isFenced();
    }

    // ============================================================================================ probe

    @Override
    public PgState probe() {
        try {
            return doProbe();
        } catch (RuntimeException | PostgresException e) {
            return new PgState(PgState.DataDir.INVALID, PgState.Run.STOPPED, Role.UNKNOWN, null, 0, null,
                    null, null, null, false, List.of(), "", false, "probe failed: " + e.getMessage());
        }
    }

    private PgState doProbe() throws PostgresException {
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
                return sqlProbe();
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

    private PgState sqlProbe() throws SQLException {
        try (Connection c = sql.connectLocal(settings.probeTimeout()); Statement st = c.createStatement()) {
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
                    + " EXISTS (SELECT 1 FROM pg_settings WHERE pending_restart)")) {
                rs.next();
                boolean recovery = rs.getBoolean(1);
                role = recovery ? Role.REPLICA : Role.PRIMARY;
                sysid = rs.getString(2);
                flush = LocalSql.lsn(rs.getString(4));
                receive = LocalSql.lsn(rs.getString(5));
                replay = LocalSql.lsn(rs.getString(6));
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
            }
            List<ReplicationRow> rows = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("SELECT application_name, state, sync_state, flush_lsn::text,"
                    + " replay_lsn::text FROM pg_stat_replication ORDER BY application_name")) {
                while (rs.next()) {
                    rows.add(new ReplicationRow(rs.getString(1), rs.getString(2), rs.getString(3),
                            LocalSql.lsn(rs.getString(4)), LocalSql.lsn(rs.getString(5))));
                }
            }
            boolean replica = role == Role.REPLICA;
            Lsn position = replica ? Lsn.max(receive, replay) : flush;
            return new PgState(PgState.DataDir.VALID, PgState.Run.RUNNING, role, sysid, timeline, position,
                    replica ? receive : null, replica ? replay : null, replica ? ConfText.upstreamOf(conninfo) : null,
                    replica && streaming, rows, ssn, pending, "");
        }
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

    // ============================================================================================ bootstrap

    @Override
    public void bootstrap() throws PostgresException {
        String op = "bootstrap";
        postmaster.checkFence(op);
        dataDir.prepareDirectories(op, true);
        dataDir.requireEmpty(op);
        // Checked again at start; checking first spares an initdb that could only be thrown away.
        postmaster.checkPortFree(op);
        dataDir.writeNodeFiles();
        Path pwfile = settings.nodeDir().resolve(".pwfile");
        boolean created = false;
        try {
            dataDir.writeOwned(pwfile, settings.superuserPassword() + "\n");
            List<String> args = new ArrayList<>(List.of("-D", settings.dataDir().toString(), "-U",
                    settings.superuser(), "--pwfile=" + pwfile, "--auth=scram-sha-256"));
            if (settings.dataChecksums()) {
                args.add("--data-checksums");
            }
            args.addAll(settings.initdbArgs());
            created = true;
            Runner.Result r = runner.run(op, Duration.ofMinutes(10), "initdb", args);
            if (!r.ok()) {
                throw new PostgresException("bootstrap: initdb failed with exit code " + r.exitCode() + ":\n"
                        + r.output());
            }
        } catch (PostgresException e) {
            if (created) {
                dataDir.clean(op);
            }
            throw e;
        } finally {
            DataDirectory.deleteQuietly(pwfile);
        }
        try {
            startPrimary();
            sql.createRoles();
            LOG.info("{}bootstrapped a new cluster (PostgreSQL {}) in {}", prefix, versionText, settings.dataDir());
        } catch (PostgresException | RuntimeException e) {
            // A half-made new cluster holds nothing of value and would block the next bootstrap: remove our own work.
            postmaster.stopQuietly(StopMode.IMMEDIATE);
            dataDir.clean(op);
            throw e instanceof PostgresException pe ? pe
                    : new PostgresException("bootstrap failed: " + e.getMessage(), e);
        }
    }

    // ============================================================================================ replicas

    @Override
    public void createReplica(Upstream source) throws PostgresException {
        String op = "create replica from " + source;
        dataDir.prepareDirectories(op, true);
        dataDir.requireEmpty(op);
        dataDir.writeNodeFiles();
        basebackup(op, source);
    }

    private void basebackup(String op, Upstream source) throws PostgresException {
        String conninfo = dataDir.basebackupConninfo(source);
        Runner.Result r;
        try {
            r = runner.run(op, settings.cloneTimeout(), "pg_basebackup", List.of("-D",
                    settings.dataDir().toString(), "-d", conninfo, "--wal-method=stream", "--checkpoint=fast",
                    "--no-password"));
        } catch (PostgresException e) {
            dataDir.clean(op);
            throw e;
        }
        if (!r.ok()) {
            // The directory was empty before: whatever is in it now is our own partial copy.
            dataDir.clean(op);
            throw new PostgresException(op + ": pg_basebackup failed with exit code " + r.exitCode()
                    + (r.output().isBlank() ? "" : ":\n" + r.output()));
        }
        dataDir.configureAsStandby(source, true);
        LOG.info("{}cloned from {}", prefix, source);
    }

    @Override
    public void startPrimary() throws PostgresException {
        String op = "start as primary";
        dataDir.prepareDirectories(op, false);
        dataDir.requireValid(op);
        if (postmaster.pid() <= 0) {
            ControlData cd = dataDir.controlData();
            if (cd.inRecovery()) {
                throw new PostgresException(op + ": the data directory was left by a standby (control file: "
                        + cd.state() + "); start it as a replica and promote it instead");
            }
        }
        dataDir.configureAsPrimary();
        postmaster.launchAndWait(op, true);
    }

    @Override
    public void startReplica(Upstream upstream) throws PostgresException {
        String op = "start as replica of " + (upstream == null ? "no upstream" : upstream);
        dataDir.prepareDirectories(op, false);
        dataDir.requireValid(op);
        dataDir.configureAsStandby(upstream, false);
        postmaster.launchAndWait(op, false);
    }

    @Override
    public void follow(Upstream upstream) throws PostgresException {
        String op = "follow " + upstream;
        try (Connection c = sql.connectLocal(settings.probeTimeout()); Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery()")) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    throw new PostgresException(op + ": this node runs as a primary; stop it and rejoin instead");
                }
            }
            String conninfo = dataDir.primaryConninfo(upstream);
            st.execute("ALTER SYSTEM SET primary_conninfo = " + ConfText.sqlQuote(conninfo));
            if (settings.useSlots()) {
                st.execute("ALTER SYSTEM SET primary_slot_name = " + ConfText.sqlQuote(settings.slotName()));
            }
            st.execute("SELECT pg_reload_conf()");
            sql.awaitSetting(op, "primary_conninfo", conninfo);
            LOG.info("{}now following {}", prefix, upstream);
        } catch (SQLException e) {
            throw new PostgresException(op + ": " + sql.notRunningHint(e), e);
        }
    }

    @Override
    public void promote(int minTimeline) throws PostgresException {
        String op = "promote";
        postmaster.checkFence(op);
        List<Path> placeholders = reserveTimelinesBelow(op, minTimeline);
        Duration wait = settings.startTimeout();
        try (Connection c = sql.connectLocal(settings.probeTimeout(), wait.plusSeconds(5));
                Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery()")) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    postmaster.checkFence(op);
                    return;
                }
            }
            try (ResultSet rs = st.executeQuery("SELECT pg_promote(true, " + Math.max(1, wait.toSeconds()) + ")")) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    throw new PostgresException(op + ": recovery did not end within " + wait + "; log tail:\n"
                            + dataDir.logTail());
                }
            }
        } catch (SQLException e) {
            throw new PostgresException(op + ": " + (postmaster.isFenced() ? "fenced while promoting"
                    : sql.notRunningHint(e)), e);
        }
        // pg_promote returns once recovery ended; check from a new session that writes are accepted.
        try (Connection c = sql.connectLocal(settings.probeTimeout()); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")) {
            rs.next();
            if (rs.getBoolean(1) || "on".equals(rs.getString(2))) {
                throw new PostgresException(op + ": the server still does not accept writes after pg_promote");
            }
        } catch (SQLException e) {
            throw new PostgresException(op + ": " + (postmaster.isFenced() ? "fenced while promoting"
                    : e.getMessage()), e);
        }
        postmaster.checkFence(op);
        LOG.info("{}promoted{}", prefix, placeholders.isEmpty() ? "" : " (onto a fresh timeline number)");
    }

    /** Makes the new timeline number at least {@code minTimeline} ({@code DataDirectory.reserveTimelines} says how). */
    private List<Path> reserveTimelinesBelow(String op, int minTimeline) throws PostgresException {
        PgState s = probe();
        int current = s.timeline();
        if (current <= 0 || minTimeline <= current + 1) {
            return List.of();
        }
        List<Path> written = dataDir.reserveTimelines(op, current, minTimeline);
        LOG.info("{}promoting onto timeline {} or later (skipping {}..{}, already used in the cluster)", prefix,
                minTimeline, current + 1, minTimeline - 1);
        return written;
    }

    // ============================================================================================ divergence

    @Override
    public DivergenceCheck checkDivergence(Upstream leader) {
        try {
            // Mine first: read after the leader's, a streaming node could already be past the leader's reading.
            Divergence.Local me = localWal();
            if (me == null) {
                return DivergenceCheck.unknown("this node's WAL position cannot be read (see the log)");
            }
            Divergence.Leader theirs = leaderWal(leader);
            DivergenceCheck d = Divergence.compare(me, theirs);
            LOG.info("{}divergence check against {}: {} ({})", prefix, leader, d.result(), d.detail());
            return d;
        } catch (UnknownException e) {
            return DivergenceCheck.unknown(e.getMessage());
        } catch (PostgresException | RuntimeException e) {
            return DivergenceCheck.unknown("check against " + leader + " failed: " + e.getMessage());
        }
    }

    /** Thrown inside the divergence check for "cannot tell", with the reason. */
    private static final class UnknownException extends Exception {
        private static final long serialVersionUID = 1L;

        UnknownException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private Divergence.Local localWal() throws PostgresException, UnknownException {
        String problem = dataDir.problem();
        if (problem != null) {
            throw new UnknownException(problem.isEmpty() ? "no data directory" : problem, null);
        }
        long pid = postmaster.pid();
        if (pid > 0) {
            PgState s;
            try {
                s = sqlProbe();
            } catch (SQLException e) {
                throw new UnknownException("postgres runs (pid " + pid + ") but does not answer: " + e.getMessage(),
                        e);
            }
            if (s.walPosition() == null) {
                throw new UnknownException("the running server reports no WAL position", null);
            }
            return new Divergence.Local(s.systemId(), s.timeline(), s.walPosition(), false,
                    localHistory(s.timeline()), "running " + s.role().name().toLowerCase(java.util.Locale.ROOT));
        }
        ControlData cd = dataDir.controlData();
        // Segment names are fixed-width hex, timeline first: name order is timeline order, then WAL order.
        List<String> segments = walSegmentNames();
        int tl = Math.max(cd.timeline(),
                segments.isEmpty() ? 0 : Integer.parseInt(segments.get(segments.size() - 1).substring(0, 8), 16));
        List<TimelineHistory.Entry> history = localHistory(tl);
        Lsn start;
        if (cd.checkpointTimeline() == tl) {
            start = cd.checkpoint();
        } else if (!history.isEmpty() && history.get(history.size() - 1).timeline() == tl - 1) {
            start = history.get(history.size() - 1).switchLsn();
        } else if (cd.minRecoveryTimeline() == tl) {
            start = cd.minRecovery();
        } else {
            throw new UnknownException("cannot find where timeline " + tl + " starts in " + settings.dataDir(), null);
        }
        AtomicReference<String> last = new AtomicReference<>();
        // The start segment is named: without it pg_waldump learns the segment size from whichever WAL file the
        // directory lists first, and a zero-filled segment (preallocated, or opened by a WAL receiver that stopped
        // before writing) makes it fail, so a replica stopped at such a moment could never tell whether it diverged.
        // Named alone it would also end the dump with that segment, so the last segment file of the timeline is named
        // as the end (only its name counts; the dump stops at the first invalid record before it anyway).
        String startSegment = cd.walSegmentFile(tl, start);
        List<String> args = new ArrayList<>(List.of("-p", settings.dataDir().resolve("pg_wal").toString(), "-t",
                String.valueOf(tl), "-s", start.toString(), startSegment));
        String timelinePrefix = String.format("%08X", tl);
        segments.stream().filter(n -> n.startsWith(timelinePrefix) && n.compareTo(startSegment) > 0)
                .reduce((first, second) -> second).ifPresent(args::add);
        Runner.Result r = runner.run("read local WAL", settings.probeTimeout().multipliedBy(20), "pg_waldump",
                args, line -> {
                    Matcher m = WALDUMP_LSN.matcher(line);
                    if (m.find()) {
                        last.set(m.group(1));
                    }
                });
        if (last.get() == null) {
            throw new UnknownException("pg_waldump found no WAL record on timeline " + tl + " from " + start + ": "
                    + r.output(), null);
        }
        return new Divergence.Local(cd.systemId(), tl, Lsn.parse(last.get()), true, history,
                "stopped, control file '" + cd.state() + "', last WAL record");
    }

    /** The names of the WAL segment files in pg_wal, sorted; empty when it cannot be listed. */
    private List<String> walSegmentNames() {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(settings.dataDir().resolve("pg_wal"))) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (WAL_SEGMENT.matcher(name).matches()) {
                    names.add(name);
                }
            }
        } catch (IOException e) {
            return List.of();
        }
        Collections.sort(names);
        return names;
    }

    private List<TimelineHistory.Entry> localHistory(int timeline) {
        if (timeline <= 1) {
            return List.of();
        }
        try {
            return Divergence.parseHistory(Files.readString(dataDir.historyFile(timeline)));
        } catch (IOException | IllegalArgumentException e) {
            return List.of();
        }
    }

    /** IDENTIFY_SYSTEM and TIMELINE_HISTORY over a replication connection to the leader. */
    private Divergence.Leader leaderWal(Upstream leader) throws UnknownException {
        try (Connection c = sql.connectReplication(leader.address().host(), leader.address().port(),
                settings.probeTimeout().plusSeconds(2));
                Statement st = c.createStatement()) {
            String sysid;
            int tl;
            Lsn pos;
            try (ResultSet rs = st.executeQuery("IDENTIFY_SYSTEM")) {
                rs.next();
                sysid = rs.getString(1);
                tl = rs.getInt(2);
                pos = Lsn.parse(rs.getString(3));
            }
            List<TimelineHistory.Entry> history = List.of();
            if (tl > 1) {
                try (ResultSet rs = st.executeQuery("TIMELINE_HISTORY " + tl)) {
                    rs.next();
                    String content = rs.getMetaData().getColumnType(2) == Types.BINARY
                            ? new String(rs.getBytes(2), StandardCharsets.UTF_8) : rs.getString(2);
                    history = Divergence.parseHistory(content);
                }
            }
            return new Divergence.Leader(sysid, tl, pos, history);
        } catch (SQLException | IllegalArgumentException e) {
            throw new UnknownException("cannot read the leader " + leader + "'s timeline: " + e.getMessage(), e);
        }
    }

    // ============================================================================================ rewind, reclone

    @Override
    public void rewind(Upstream source) throws PostgresException {
        String op = "rewind onto " + source;
        if (!settings.usePgRewind()) {
            throw new PostgresException(op + ": refused, usePgRewind is off");
        }
        dataDir.prepareDirectories(op, false);
        dataDir.requireValid(op);
        postmaster.requireStopped(op);
        // The source must have written its post-promote checkpoint, or pg_rewind may see the old timeline in its
        // control file and wrongly report that no rewind is needed.
        try {
            sql.checkpointOn(source);
        } catch (SQLException e) {
            LOG.warn("{}{}: CHECKPOINT on the source failed ({}); running pg_rewind anyway", prefix, op,
                    e.getMessage());
        }
        String conninfo = dataDir.rewindConninfo(source);
        List<String> args = new ArrayList<>(List.of("-D", settings.dataDir().toString(),
                "--source-server=" + conninfo));
        if (majorVersion >= 15) {
            // pg_rewind may run the server in single-user mode for crash recovery: with this node's own config.
            args.add("--config-file=" + dataDir.configFile());
        }
        Runner.Result r = runner.run(op, settings.cloneTimeout(), "pg_rewind", args);
        if (!r.ok()) {
            throw new PostgresException(op + ": pg_rewind failed with exit code " + r.exitCode()
                    + (r.output().isBlank() ? "" : ":\n" + r.output()));
        }
        dataDir.configureAsStandby(source, true);
        // pg_rewind leaves this node's own slots: they belonged to its time as a primary and would pin WAL on a
        // standby for consumers that now replicate from the new primary.
        DataDirectory.cleanDirectory(op, settings.dataDir().resolve("pg_replslot"));
        LOG.info("{}rewound onto {}: {}", prefix, source, lastLine(r.output()));
    }

    @Override
    public void reclone(Upstream source) throws PostgresException {
        String op = "re-clone from " + source;
        if (!settings.allowReclone()) {
            throw new PostgresException(op + ": refused, allowReclone is off; nothing was deleted from "
                    + settings.dataDir());
        }
        dataDir.prepareDirectories(op, true);
        stop(StopMode.IMMEDIATE);
        dataDir.writeNodeFiles();
        LOG.warn("{}{}: removing the data directory {}", prefix, op, settings.dataDir());
        dataDir.clean(op);
        basebackup(op, source);
    }

    // ============================================================================================ SQL steps

    @Override
    public void setSynchronousStandbyNames(String value) throws PostgresException {
        sql.setSynchronousStandbyNames(value);
    }

    @Override
    public void checkpoint() throws PostgresException {
        sql.checkpoint();
    }

    @Override
    public List<TimelineHistory.Entry> timelineHistory() throws PostgresException {
        PgState s = probe();
        if (s.timeline() <= 0) {
            throw new PostgresException("timeline history: the current timeline is unknown (" + s.detail() + ")");
        }
        if (s.timeline() == 1) {
            return List.of();
        }
        Path f = dataDir.historyFile(s.timeline());
        try {
            return Divergence.parseHistory(Files.readString(f));
        } catch (IOException | IllegalArgumentException e) {
            throw new PostgresException("timeline history: cannot read " + f + ": " + e.getMessage(), e);
        }
    }

    /** Physical and logical replication slots on this server. */
    public List<ReplicationSlot> replicationSlots() throws PostgresException {
        return sql.replicationSlots();
    }

    /** Creates a physical slot that reserves WAL at once; an existing slot of that name is left as it is. */
    public void createPhysicalSlot(String name) throws PostgresException {
        sql.createPhysicalSlot(name);
    }

    /** Drops a slot; a missing one is not an error. */
    public void dropSlot(String name) throws PostgresException {
        sql.dropSlot(name);
    }

    /** Rewrites this node's config file and makes the server re-read it. */
    public void reload() throws PostgresException {
        dataDir.writeNodeFiles();
        sql.reloadConf();
    }

    /** Stops with {@code mode} and starts again in the role it had (a replica keeps its upstream). */
    public void restart(StopMode mode) throws PostgresException {
        PgState s = probe();
        if (s.dataDir() != PgState.DataDir.VALID) {
            throw new PostgresException("restart: no usable data directory (" + s.detail() + ")");
        }
        Upstream up = s.upstream() == null ? null : new Upstream("upstream", s.upstream());
        stop(mode);
        if (s.role() == Role.REPLICA) {
            startReplica(up);
        } else {
            startPrimary();
        }
    }

    // ============================================================================================ stop, fence

    @Override
    public void stop(StopMode mode) throws PostgresException {
        postmaster.stop(mode);
    }

    @Override
    public void fence() {
        postmaster.fence();
    }

    @Override
    public void unfence() {
        postmaster.unfence();
    }

    /** Stops a postmaster this instance started (fast) and ends the launcher thread. */
    @Override
    public void close() {
        postmaster.close();
    }

    private static String lastLine(String output) {
        String[] lines = output.strip().split("\n");
        return lines[lines.length - 1];
    }

    @Override
    public String toString() {
        return "LocalPostgres[" + settings.memberName() + ", PostgreSQL " + versionText + ", " + settings.dataDir()
                + "]";
    }
}
