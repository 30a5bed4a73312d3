package io.pgha.core.postgres;

import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.ReplicationSlot;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.PostgresSettings;
import io.pgha.core.spi.DivergenceCheck;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.StopMode;
import io.pgha.core.spi.Upstream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Postgres} port for a real PostgreSQL (13 to 17) on this machine. This class sequences the steps of each
 * operation; the work is done by package-private helpers, one job each:
 *
 * <ul>
 *   <li><b>Files</b> ({@code DataDirectory}): the node, socket and data directories, the node's own config, hba and
 *       passfile in {@code nodeDir} outside the data directory (docs/decisions/0102), {@code postgresql.auto.conf}
 *       and the signal files, the server log.</li>
 *   <li><b>Processes</b> ({@code Postmaster}): the postmaster is this JVM's child, started as {@code runAsUser}
 *       (docs/decisions/0101) and tied to the JVM (docs/decisions/0103); one that an earlier JVM started is
 *       controlled by PID the same way.</li>
 *   <li><b>Fencing</b> ({@code Postmaster}): one lock around "check the fence, then launch", which {@link #fence()}
 *       takes too and which is never held while waiting for a server (docs/decisions/0105).</li>
 *   <li><b>State</b> ({@code PgProbe}, on one session kept across probes, {@code ProbeSession},
 *       docs/decisions/0106) and the <b>divergence check</b> ({@code DivergenceReader}, deciding with
 *       {@code Divergence}; docs/decisions/0104).</li>
 *   <li><b>SQL</b> ({@code LocalSql}): pgjdbc over TCP (to {@link PostgresSettings#localConnectHost()} for this
 *       node), with connect, login and socket timeouts of {@link PostgresSettings#probeTimeout()}: a probe comes back
 *       within a few seconds even when the server hangs.</li>
 * </ul>
 */
public final class LocalPostgres implements Postgres, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LocalPostgres.class);

    /** PostgreSQL major versions this class is written and checked for. */
    public static final int MIN_VERSION = 13;
    public static final int MAX_VERSION = 17;

    private static final List<String> REQUIRED_BINARIES =
            List.of("postgres", "initdb", "pg_basebackup", "pg_controldata", "pg_waldump", "pg_rewind");
    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\)\\s+(\\d+)(?:\\.(\\d+))?");

    private final PostgresSettings settings;
    private final Runner runner;
    private final int majorVersion;
    private final String versionText;
    private final String prefix;
    private final DataDirectory dataDir;
    private final LocalSql sql;
    private final Postmaster postmaster;
    private final PgProbe probe;
    private final DivergenceReader divergence;
    /** Stream through our own slot as a replica: PostgresSettings.useSlots until the HA loop says otherwise. */
    private volatile boolean useSlots;
    private final NodeConfiguration config;

    /**
     * Checks the OS user, the binaries and their version. Touches no directory: that happens on the first operation
     * that needs one.
     *
     * @throws PostgresException when the user is missing, a binary is missing, or the version is not 13 to 17
     */
    public LocalPostgres(PostgresSettings settings) throws PostgresException {
        this.settings = settings;
        this.useSlots = settings.useSlots();
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
        this.probe = new PgProbe(settings, dataDir, postmaster, sql, prefix);
        this.divergence = new DivergenceReader(settings, runner, dataDir, postmaster, probe, sql, prefix);
        this.config = new NodeConfiguration(settings, dataDir, sql, new NodeConfiguration.Server() {
            @Override
            public boolean running() {
                return postmasterPid().isPresent();
            }

            @Override
            public void reload() throws PostgresException {
                LocalPostgres.this.reload();
            }
        }, prefix);
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
    /** The postmaster control, for tests in this package. */
    Postmaster postmaster() {
        return postmaster;
    }

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

    @Override
    public PgState probe() {
        return probe.probe();
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
        // A fresh copy into an empty directory (an operator emptied it to re-clone by hand) holds nothing of a
        // rewind that once stopped half way: without this its marker would keep the new copy from ever starting.
        dataDir.clearRewindMarker();
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
        dataDir.configureAsStandby(source, true, ownSlot());
        LOG.info("{}cloned from {}", prefix, source);
    }

    @Override
    public void startPrimary() throws PostgresException {
        String op = "start as primary";
        dataDir.prepareDirectories(op, false);
        dataDir.requireValid(op);
        dataDir.requireNoIncompleteRewind(op);
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
        dataDir.requireNoIncompleteRewind(op);
        dataDir.configureAsStandby(upstream, false, ownSlot());
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
            String slot = ownSlot();
            st.execute(slot != null ? "ALTER SYSTEM SET primary_slot_name = " + ConfText.sqlQuote(slot)
                    : "ALTER SYSTEM RESET primary_slot_name");
            st.execute("SELECT pg_reload_conf()");
            sql.awaitSetting(op, "primary_conninfo", conninfo);
            LOG.info("{}now following {}", prefix, upstream);
        } catch (SQLException e) {
            throw new PostgresException(op + ": " + sql.notRunningHint(e), e);
        }
    }

    @Override
    public void promote(int minTimeline) throws PostgresException {
        promote(minTimeline, 0);
    }

    /**
     * One session, opened before anything else: the promotion request (not waiting: {@code pg_promote(true)} looks
     * every 100 ms), then {@code pg_is_in_recovery()} every 5 ms until recovery ended, then the same session checks
     * that a new transaction is not read-only. A probe (which, on a standby whose upstream is gone, opens a replication
     * connection to itself) runs only when the promotion must skip timeline numbers and the caller's probe cannot
     * tell.
     */
    @Override
    public void promote(int minTimeline, int probedTimeline) throws PostgresException {
        String op = "promote";
        postmaster.checkFence(op);
        Duration wait = settings.startTimeout();
        try (Connection c = sql.connectLocal(settings.probeTimeout(), wait.plusSeconds(5));
                Statement st = c.createStatement()) {
            if (!inRecovery(st)) {
                postmaster.checkFence(op);
                return;
            }
            List<Path> placeholders = probedTimeline > 0 && minTimeline <= probedTimeline + 1 ? List.of()
                    : reserveTimelinesBelow(op, minTimeline);
            try (ResultSet rs = st.executeQuery("SELECT pg_promote(false)")) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    throw new PostgresException(op + ": the server refused the promotion request; log tail:\n"
                            + dataDir.logTail());
                }
            }
            long deadline = System.nanoTime() + wait.toNanos();
            while (inRecovery(st)) {
                if (System.nanoTime() > deadline) {
                    throw new PostgresException(op + ": recovery did not end within " + wait + "; log tail:\n"
                            + dataDir.logTail());
                }
                postmaster.checkFence(op);
                Thread.sleep(5);
            }
            try (ResultSet rs = st.executeQuery("SELECT current_setting('transaction_read_only')")) {
                rs.next();
                if ("on".equals(rs.getString(1))) {
                    throw new PostgresException(op + ": the server still does not accept writes after the promotion");
                }
            }
            postmaster.checkFence(op);
            LOG.info("{}promoted{}", prefix, placeholders.isEmpty() ? "" : " (onto a fresh timeline number)");
        } catch (SQLException e) {
            throw new PostgresException(op + ": " + (postmaster.isFenced() ? "fenced while promoting"
                    : sql.notRunningHint(e)), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PostgresException(op + ": interrupted while waiting for recovery to end", e);
        }
    }

    private static boolean inRecovery(Statement st) throws SQLException {
        try (ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery()")) {
            rs.next();
            return rs.getBoolean(1);
        }
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

    @Override
    public DivergenceCheck checkDivergence(Upstream leader) {
        return divergence.check(leader);
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
        // From here until it completes the data directory may be half rewritten, also across an agent restart.
        dataDir.markRewindStarted("pg_rewind onto " + source + " started at " + java.time.Instant.now());
        // Watched line by line: the output kept for the error message is only its tail.
        AtomicBoolean began = new AtomicBoolean();
        Runner.Result r = runner.run(op, settings.cloneTimeout(), "pg_rewind", args, line -> {
            if (line.contains(REWIND_WRITES_FROM_HERE)) {
                began.set(true);
            }
        });
        if (!r.ok()) {
            if (!began.get()) {
                // It stopped before it wrote any of the target's files (say, the source was unreachable): the data
                // directory is as it was, and a later rewind may be tried.
                dataDir.clearRewindMarker();
            }
            throw new PostgresException(op + ": pg_rewind failed with exit code " + r.exitCode()
                    + (r.output().isBlank() ? "" : ":\n" + r.output()));
        }
        dataDir.configureAsStandby(source, true, ownSlot());
        // pg_rewind leaves this node's own slots: they belonged to its time as a primary and would pin WAL on a
        // standby for consumers that now replicate from the new primary.
        DataDirectory.cleanDirectory(op, settings.dataDir().resolve("pg_replslot"));
        dataDir.clearRewindMarker();
        LOG.info("{}rewound onto {}: {}", prefix, source, lastLine(r.output()));
    }

    /**
     * pg_rewind prints this ("rewinding from last common checkpoint at ...", at its default verbosity; "need to copy"
     * comes only with --progress) once it found the point of divergence, just before it lists and then rewrites the
     * target's files; a run that failed without printing it left the data directory as it was (at most
     * crash-recovered on its own history, which pg_rewind does first).
     */
    static final String REWIND_WRITES_FROM_HERE = "rewinding from last common checkpoint";

    private static String lastLine(String output) {
        String[] lines = output.strip().split("\n");
        return lines[lines.length - 1];
    }

    @Override
    public void reclone(Upstream source) throws PostgresException {
        String op = "re-clone from " + source;
        if (!settings.allowReclone()) {
            throw new PostgresException(op + ": refused, allowReclone is off; nothing was deleted from "
                    + settings.dataDir());
        }
        wipeAndClone(op, source);
    }

    /** The operator asked for it by name: allowReclone guards only the automatic re-clone. */
    @Override
    public void reinitialize(Upstream source) throws PostgresException {
        wipeAndClone("reinitialize from " + source, source);
    }

    private void wipeAndClone(String op, Upstream source) throws PostgresException {
        dataDir.prepareDirectories(op, true);
        stop(StopMode.IMMEDIATE);
        dataDir.writeNodeFiles();
        LOG.warn("{}{}: removing the data directory {}", prefix, op, settings.dataDir());
        dataDir.clean(op);
        basebackup(op, source);
        dataDir.clearRewindMarker();
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
        return timelineHistory(s.timeline());
    }

    @Override
    public List<TimelineHistory.Entry> timelineHistory(int probedTimeline) throws PostgresException {
        if (probedTimeline <= 0) {
            return timelineHistory();
        }
        if (probedTimeline == 1) {
            return List.of();
        }
        Path f = dataDir.historyFile(probedTimeline);
        try {
            return Divergence.parseHistory(Files.readString(f));
        } catch (IOException | IllegalArgumentException e) {
            throw new PostgresException("timeline history: cannot read " + f + ": " + e.getMessage(), e);
        }
    }

    /** Physical and logical replication slots on this server, read on the kept probe connection. */
    @Override
    public List<ReplicationSlot> replicationSlots() throws PostgresException {
        try {
            return probe.onSession(LocalSql::replicationSlots);
        } catch (SQLException e) {
            throw new PostgresException("list replication slots: " + sql.notRunningHint(e), e);
        }
    }

    @Override
    public void useReplicationSlots(boolean on) {
        if (on != useSlots) {
            LOG.info("{}replication slots {}: primary_slot_name is {} from the next start or follow", prefix,
                    on ? "on" : "off", on ? settings.slotName() : "not set");
        }
        useSlots = on;
    }

    /** The slot this node streams through as a replica, or null when slots are off. */
    private String ownSlot() {
        return useSlots ? settings.slotName() : null;
    }

    /** Creates a physical slot that reserves WAL at once; an existing slot of that name is left as it is. */
    @Override
    public void createPhysicalSlot(String name) throws PostgresException {
        sql.createPhysicalSlot(name);
    }

    /** Drops a slot unless a connection uses it; a missing one is not an error. */
    @Override
    public void dropSlot(String name) throws PostgresException {
        sql.dropSlot(name);
    }

    /**
     * Takes the cluster-wide parameters into this node's config file, and when the effective parameters changed and
     * the server runs, reloads it (a parameter that needs a restart is then pending_restart in pg_settings, which the
     * probe reports).
     */
    @Override
    public synchronized boolean useClusterParameters(Map<String, String> parameters) throws PostgresException {
        return config.useClusterParameters(parameters);
    }

    /** Takes the cluster-wide pg_hba and pg_ident lines (where this member has none) and reloads on a change. */
    @Override
    public synchronized boolean useClusterAuthFiles(List<String> pgHba, List<String> pgIdent)
            throws PostgresException {
        return config.useClusterAuthFiles(pgHba, pgIdent);
    }

    /** Takes the member's own parameters, pg_hba and pg_ident as a reload re-read them (written by the reload). */
    @Override
    public synchronized void useMemberSettings(Map<String, String> parameters, List<String> pgHba,
            List<String> pgIdent) {
        config.useMemberSettings(parameters, pgHba, pgIdent);
    }

    /** Rewrites this node's config file and makes the server re-read it. */
    @Override
    public void reload() throws PostgresException {
        dataDir.writeNodeFiles();
        sql.reloadConf();
    }

    @Override
    public int serverVersion() throws PostgresException {
        return sql.serverVersion();
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
        // A smart shutdown would wait for the probe's own session.
        probe.release();
        postmaster.stop(mode);
    }

    /**
     * Kills the binary {@code worker} runs (pg_basebackup, pg_rewind, ...) and gives a running postmaster the
     * immediate shutdown; the worker's operation then throws, and so does any later one it starts
     * (docs/decisions/0109). The HA loop's own operations, on other threads, go on.
     */
    @Override
    public boolean cancel(Thread worker) {
        LOG.warn("{}cancelling the operation of thread {}", prefix, worker.getName());
        postmaster.cancel(worker);
        return true;
    }

    @Override
    public void fence() {
        postmaster.fence();
    }

    @Override
    public void unfence() {
        postmaster.unfence();
    }

    @Override
    public boolean unfenceIf(BooleanSupplier stillAllowed) {
        return postmaster.unfenceIf(stillAllowed);
    }

    /** Stops a postmaster this instance started (fast) and ends the launcher thread. */
    @Override
    public void close() {
        probe.close();
        postmaster.close();
    }

    @Override
    public String toString() {
        return "LocalPostgres[" + settings.memberName() + ", PostgreSQL " + versionText + ", " + settings.dataDir()
                + "]";
    }
}
