package io.pgha.core.postgres;

import io.pgha.core.config.PostgresSettings;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.StopMode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The postmaster of this data directory: launching it, waiting until it is ready or gone, signalling, stopping and
 * fencing it.
 *
 * <p><b>Which process.</b> The postmaster is this JVM's child, started through {@code setpriv} as {@code runAsUser}
 * when the JVM runs as root (docs/decisions/0101), from one long-lived {@link PostmasterLauncher} thread so that it
 * can be tied to the JVM (docs/decisions/0103). A postmaster found running from an earlier JVM is controlled by the
 * PID in its {@code postmaster.pid}, once checked to be alive and a postgres for this data directory.
 *
 * <p><b>The launch lock</b> (docs/decisions/0105-fencing-and-the-launch-lock.md). One lock guards the fence flag and
 * the handle of the postmaster we launched, and is held around "check the fence, check that no postmaster runs,
 * launch, record the process". {@link #fence()} takes the same lock to set the flag and signal the postmaster. So a
 * writable start either launched before the fence (and is then killed by PID) or sees the fence and refuses. The
 * lock is held only for these quick steps, never while waiting on a server (readiness, exit), so {@code fence()}
 * never waits behind a slow start, stop or promote. This invariant lives here and nowhere else: every use of the
 * lock, the flag and the handle is in this class.
 */
final class Postmaster implements AutoCloseable {

    /** Logs under the facade's name, so that logging configured for {@link LocalPostgres} covers it. */
    private static final Logger LOG = LoggerFactory.getLogger(LocalPostgres.class);

    private static final Duration FENCE_WAIT = Duration.ofSeconds(5);

    /**
     * How long a fence waits for the immediate shutdown before SIGKILL. Measured on PostgreSQL 15 (LocalPostgresTest
     * prints it): the postmaster and its backends are gone within a few tens of milliseconds of SIGQUIT; a server
     * that takes longer is not answering, and the lease margin (LeaseGuard) must cover the whole fence.
     */
    static final Duration QUIT_WAIT = Duration.ofMillis(300);

    private final PostgresSettings settings;
    private final Runner runner;
    private final DataDirectory dataDir;
    private final LocalSql sql;
    private final String prefix;
    private final PostmasterLauncher launcher;
    private final Signaller signaller;

    /** Guards {@link #postmaster} and {@link #fenced}; held only for quick steps, never while waiting on a server. */
    private final ReentrantLock processLock = new ReentrantLock();
    private Process postmaster;
    private volatile boolean fenced;
    private volatile boolean closed;
    /** The last postmaster PID read: the fence's fallback when postmaster.pid cannot be read at that moment. */
    private volatile long lastKnownPid = -1;

    Postmaster(PostgresSettings settings, Runner runner, DataDirectory dataDir, LocalSql sql, String prefix) {
        this.settings = settings;
        this.runner = runner;
        this.dataDir = dataDir;
        this.sql = sql;
        this.prefix = prefix;
        this.launcher = settings.stopWhenJvmDies() ? new PostmasterLauncher(settings.memberName()) : null;
        this.signaller = new Signaller(prefix);
    }

    /**
     * The PID of the postmaster running on this data directory: the one this instance started, or the one in
     * postmaster.pid when it is alive and really a postgres for this data directory (PIDs get reused); -1 when
     * none runs.
     *
     * @throws CannotTellException when postmaster.pid or the process's command line exist but cannot be read: one
     *                             may be running, so "none" would be a guess
     */
    long pid() {
        Process p = launched();
        if (p != null && p.isAlive()) {
            lastKnownPid = p.pid();
            return p.pid();
        }
        try {
            Path pidFile = settings.dataDir().resolve("postmaster.pid");
            List<String> lines = Files.readAllLines(pidFile);
            if (lines.isEmpty()) {
                return -1;
            }
            long pid = Long.parseLong(lines.get(0).strip());
            Optional<ProcessHandle> h = ProcessHandle.of(pid);
            if (h.isEmpty() || !h.get().isAlive()) {
                return -1;
            }
            String cmdline = new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")),
                    StandardCharsets.UTF_8).replace('\0', ' ');
            if (cmdline.contains("postgres") && cmdline.contains(settings.dataDir().toString())) {
                lastKnownPid = pid;
                return pid;
            }
            // pg_ctl-started servers may show only "postgres" or the config file: trust the data directory line.
            if (cmdline.contains("postgres") && lines.size() > 1
                    && Path.of(lines.get(1).strip()).equals(settings.dataDir())) {
                lastKnownPid = pid;
                return pid;
            }
            return -1;
        } catch (NoSuchFileException e) {
            return -1;
        } catch (NumberFormatException e) {
            return -1;
        } catch (IOException e) {
            throw new CannotTellException("cannot tell whether a postmaster runs on " + settings.dataDir(), e);
        }
    }

    /** The signal shell, for tests in this package. */
    Signaller signaller() {
        return signaller;
    }

    boolean isFenced() {
        return fenced;
    }

    void checkFence(String op) throws PostgresException {
        if (fenced) {
            throw new PostgresException(op + ": refused, this node is fenced (its lease ran out or another member"
                    + " leads); unfence() first");
        }
    }

    void requireStopped(String op) throws PostgresException {
        long pid = pid();
        if (pid > 0) {
            throw new PostgresException(op + ": postgres is running (postmaster pid " + pid + "); stop it first");
        }
    }

    void checkPortFree(String op) throws PostgresException {
        String host = settings.listenHost().split(",")[0].strip();
        InetSocketAddress addr;
        try {
            addr = switch (host) {
                case "*", "0.0.0.0", "" -> new InetSocketAddress(settings.listenPort());
                default -> new InetSocketAddress(InetAddress.getByName(host), settings.listenPort());
            };
        } catch (IOException e) {
            throw new PostgresException(op + ": listenHost '" + host + "' does not resolve: " + e.getMessage(), e);
        }
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(addr);
        } catch (IOException e) {
            throw new PostgresException(op + ": port " + settings.listenPort() + " on " + host + " is already in use"
                    + " (setting listenPort): " + e.getMessage(), e);
        }
    }

    // ============================================================================================ start

    /**
     * Starts the postmaster and waits until it accepts connections ({@code writable}: and writes, which the fence
     * must allow).
     */
    void launchAndWait(String op, boolean writable) throws PostgresException {
        long already = pid();
        if (already > 0) {
            throw new PostgresException(op + ": postgres already runs (postmaster pid " + already + ")");
        }
        checkPortFree(op);
        dataDir.writeNodeFiles();
        Process p;
        processLock.lock();
        try {
            if (closed) {
                throw new PostgresException(op + ": this LocalPostgres is closed");
            }
            if (writable) {
                checkFence(op);
            }
            // Under the lock, as the fence's check: a cancel either sees this launch's process or stops it here.
            runner.checkCancelled(op);
            long running = pid();
            if (running > 0) {
                throw new PostgresException(op + ": postgres already runs (postmaster pid " + running + ")");
            }
            ProcessBuilder pb = runner.builder(List.of(settings.binDir().resolve("postgres").toString(), "-D",
                    settings.dataDir().toString(), "--config-file=" + dataDir.configFile()), launcher != null);
            pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(dataDir.logFile().toFile()));
            dataDir.ensureLogFile();
            try {
                p = launcher != null ? launcher.start(pb) : pb.start();
            } catch (IOException e) {
                throw new PostgresException(op + ": cannot start postgres: " + e.getMessage(), e);
            }
            postmaster = p;
        } finally {
            processLock.unlock();
        }
        LOG.info("{}{}: postmaster pid {} started", prefix, op, p.pid());
        awaitReady(op, p, writable);
    }

    private void awaitReady(String op, Process p, boolean writable) throws PostgresException {
        long deadline = System.nanoTime() + settings.startTimeout().toNanos();
        String lastError = "no answer yet";
        while (true) {
            if (runner.isCancelled()) {
                stopQuietly(StopMode.IMMEDIATE);
                clearHandle(p.pid());
                throw new PostgresException(op + ": cancelled; postmaster pid " + p.pid() + " was stopped");
            }
            if (!p.isAlive()) {
                clearHandle(p.pid());
                if (fenced && writable) {
                    throw new PostgresException(op + ": fenced while starting; postmaster pid " + p.pid()
                            + " was stopped");
                }
                throw new PostgresException(op + ": postgres exited during start (exit code " + exitCode(p)
                        + "); last log lines:\n" + dataDir.logTail());
            }
            String status = pidFileStatus(p.pid());
            if ("ready".equals(status) || "standby".equals(status)) {
                try (Connection c = sql.connectLocal(Duration.ofSeconds(2)); Statement st = c.createStatement();
                        ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery()")) {
                    rs.next();
                    if (writable && rs.getBoolean(1)) {
                        lastError = "still in recovery";
                    } else {
                        LOG.info("{}{}: ready", prefix, op);
                        return;
                    }
                } catch (SQLException e) {
                    lastError = e.getMessage();
                }
            } else if (status != null) {
                lastError = "postmaster status '" + status + "'";
            }
            if (System.nanoTime() > deadline) {
                stopQuietly(StopMode.IMMEDIATE);
                throw new PostgresException(op + ": timed out after " + settings.startTimeout() + " waiting for the"
                        + " server to accept connections (" + lastError + "); it was stopped. Last log lines:\n"
                        + dataDir.logTail());
            }
            LocalSql.sleep(LocalSql.POLL);
        }
    }

    private static String exitCode(Process p) {
        try {
            return String.valueOf(p.exitValue());
        } catch (IllegalThreadStateException e) {
            return "?";
        }
    }

    /** Line 8 of postmaster.pid (PostgreSQL 10+): starting, stopping, ready or standby. */
    private String pidFileStatus(long pid) {
        try {
            List<String> lines = Files.readAllLines(settings.dataDir().resolve("postmaster.pid"));
            if (lines.size() >= 8 && lines.get(0).strip().equals(String.valueOf(pid))) {
                return lines.get(7).strip();
            }
        } catch (IOException e) {
            // Not written yet, or removed: no status.
        }
        return null;
    }

    // ============================================================================================ stop, fence

    void stop(StopMode mode) throws PostgresException {
        long pid = pid();
        if (pid <= 0) {
            return;
        }
        String op = "stop (" + mode + ")";
        signal(pid, switch (mode) {
            case SMART -> "TERM";
            case FAST -> "INT";
            case IMMEDIATE -> "QUIT";
        });
        if (!awaitExit(pid, settings.stopTimeout())) {
            if (mode != StopMode.IMMEDIATE) {
                throw new PostgresException(op + ": postmaster pid " + pid + " still runs after " + settings.stopTimeout()
                        + "; last log lines:\n" + dataDir.logTail());
            }
            killHard(pid);
            if (!awaitExit(pid, FENCE_WAIT)) {
                throw new PostgresException(op + ": postmaster pid " + pid + " survived SIGKILL");
            }
        }
        clearHandle(pid);
        LOG.info("{}stopped ({})", prefix, mode);
    }

    void stopQuietly(StopMode mode) {
        try {
            stop(mode);
        } catch (PostgresException | RuntimeException e) {
            LOG.warn("{}stop ({}) failed: {}", prefix, mode, e.getMessage());
        }
    }

    /**
     * Stops the postmaster at once and refuses writable starts until unfenced. Never throws and never forks: the
     * flag is set and SIGQUIT handed to the {@link Signaller} under the lock; if the postmaster is still there after
     * {@link #QUIT_WAIT} (or the signal could not be handed over), it and its children get SIGKILL through the JDK.
     * When its PID cannot be read now, the last one known is used.
     */
    void fence() {
        long pid;
        boolean signalled = false;
        processLock.lock();
        try {
            fenced = true;
            pid = pidForFence();
            if (pid > 0) {
                // Immediate shutdown: the postmaster SIGQUITs every backend, so no session can commit afterwards.
                signalled = signaller.send(pid, "QUIT");
            }
        } finally {
            processLock.unlock();
        }
        if (pid <= 0) {
            LOG.info("{}fenced (no postmaster was running)", prefix);
            return;
        }
        if (!quitOrKill("fence", pid, signalled)) {
            LOG.error("{}fence: postmaster pid {} survived SIGKILL for {} s: it may still accept writes", prefix,
                    pid, FENCE_WAIT.toSeconds());
            return;
        }
        LOG.warn("{}fenced: postmaster pid {} stopped, writable starts refused until unfenced", prefix, pid);
    }

    /**
     * The operator's forced reinitialize cuts {@code worker}'s operation short ({@link LocalPostgres#cancel}): its
     * launches are refused from now on (checked under the launch lock, as the fence is), and a postmaster running on
     * this data directory, whose data is about to be replaced, gets the immediate shutdown, then SIGKILL, as in the
     * fence. A start or stop the worker waits for then ends at once.
     */
    void cancel(Thread worker) {
        long pid;
        boolean signalled = false;
        // Marked before the lock is taken: a launch that checked before has recorded its process by the time we
        // hold the lock; one that checks after refuses.
        runner.cancel(worker);
        processLock.lock();
        try {
            pid = pidForFence();
            if (pid > 0) {
                signalled = signaller.send(pid, "QUIT");
            }
        } finally {
            processLock.unlock();
        }
        if (pid > 0 && !quitOrKill("cancel", pid, signalled)) {
            LOG.error("{}cancel: postmaster pid {} survived SIGKILL for {} s", prefix, pid, FENCE_WAIT.toSeconds());
        }
    }

    /**
     * After the immediate shutdown was sent (or could not be): waits {@link #QUIT_WAIT}, then SIGKILLs the
     * postmaster and its children; false when it survived that for {@link #FENCE_WAIT}.
     */
    private boolean quitOrKill(String op, long pid, boolean signalled) {
        if (!signalled || !awaitExit(pid, QUIT_WAIT)) {
            LOG.warn("{}{}: postmaster pid {} {}; killing it", prefix, op, pid, signalled
                    ? "still runs " + QUIT_WAIT.toMillis() + " ms after the immediate shutdown"
                    : "could not be sent the immediate shutdown");
            killHard(pid);
            if (!awaitExit(pid, FENCE_WAIT)) {
                return false;
            }
        }
        clearHandle(pid);
        return true;
    }

    /** The PID to fence: read now, or (when that fails) the one launched or last read, if it is still alive. */
    private long pidForFence() {
        try {
            return pid();
        } catch (CannotTellException e) {
            long last = postmaster != null ? postmaster.pid() : lastKnownPid;
            boolean alive = last > 0 && ProcessHandle.of(last).map(ProcessHandle::isAlive).orElse(false);
            LOG.error("{}fence: {}; {}", prefix, e.getMessage(), alive ? "fencing the last known postmaster pid "
                    + last : "no postmaster known to be alive");
            return alive ? last : -1;
        }
    }

    void unfence() {
        unfenceIf(() -> true);
    }

    /**
     * Unfences only if {@code stillAllowed} holds, checked under the lock the fence takes: a fence that lands between
     * a lease check and the unfence can no longer be undone by it (after a pause of the whole JVM, the lease guard
     * and the promoting thread resume in any order).
     *
     * @return whether the node is unfenced now
     */
    boolean unfenceIf(BooleanSupplier stillAllowed) {
        processLock.lock();
        try {
            if (!stillAllowed.getAsBoolean()) {
                return false;
            }
            if (fenced) {
                LOG.info("{}unfenced", prefix);
            }
            fenced = false;
            return true;
        } finally {
            processLock.unlock();
        }
    }

    /** Stops a postmaster this instance started (fast) and ends the launcher thread. */
    @Override
    public void close() {
        processLock.lock();
        try {
            // Under the launch lock: a launch that passed its closed check has recorded its process by now.
            if (closed) {
                return;
            }
            closed = true;
        } finally {
            processLock.unlock();
        }
        Process p = launched();
        if (p != null && p.isAlive()) {
            stopQuietly(StopMode.FAST);
        }
        if (launcher != null) {
            launcher.close();
        }
        signaller.close();
    }

    /** The postmaster this instance launched (it may have exited since); null when there is none. */
    private Process launched() {
        processLock.lock();
        try {
            return postmaster;
        } finally {
            processLock.unlock();
        }
    }

    private void clearHandle(long pid) {
        processLock.lock();
        try {
            if (postmaster != null && postmaster.pid() == pid) {
                postmaster = null;
            }
        } finally {
            processLock.unlock();
        }
    }

    private boolean awaitExit(long pid, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Optional<ProcessHandle> h = ProcessHandle.of(pid);
            if (h.isEmpty() || !h.get().isAlive()) {
                return true;
            }
            if (System.nanoTime() > deadline) {
                return false;
            }
            LocalSql.sleep(Duration.ofMillis(20));
        }
    }

    /**
     * Sends SIG{@code sig} to the postmaster: through the {@link Signaller} (no fork), else by running {@code kill},
     * or {@code pg_ctl kill} (as the OS user) where there is no {@code kill} binary.
     */
    private void signal(long pid, String sig) {
        if (signaller.send(pid, sig)) {
            return;
        }
        try {
            Process k = new ProcessBuilder("kill", "-s", sig, String.valueOf(pid)).redirectErrorStream(true).start();
            k.getInputStream().readAllBytes();
            if (!k.waitFor(10, TimeUnit.SECONDS)) {
                k.destroyForcibly();
            }
            return;
        } catch (IOException e) {
            LOG.debug("{}no kill binary ({}); using pg_ctl kill", prefix, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        try {
            Runner.Result r = runner.run("signal postmaster", Duration.ofSeconds(10), "pg_ctl",
                    List.of("kill", sig, String.valueOf(pid)));
            if (!r.ok()) {
                LOG.warn("{}cannot signal postmaster pid {} with SIG{}: {}", prefix, pid, sig, r.output());
            }
        } catch (PostgresException e) {
            LOG.warn("{}cannot signal postmaster pid {} with SIG{}: {}", prefix, pid, sig, e.getMessage());
        }
    }

    /** SIGKILL the postmaster's children, then the postmaster (killing it first would orphan them). */
    private void killHard(long pid) {
        ProcessHandle.of(pid).ifPresent(h -> {
            h.descendants().forEach(ProcessHandle::destroyForcibly);
            h.destroyForcibly();
        });
    }
}
