package io.pgha.examples.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.pgha.core.testkit.FailingPgRewind;
import io.pgha.core.testkit.TcpProxy;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * One member as its own OS process: {@code java -cp <test class path> io.pgha.examples.agent.AgentMain member.yaml},
 * its output appended to {@code agent.log}. Its DCS connection goes through {@link #dcsProxy} and the other members
 * reach its PostgreSQL through {@link #pgProxy}; the test itself talks to PostgreSQL and the REST API directly.
 *
 * <p>Every process is stopped by its own PID, never by name: the JVM through its {@link Process} handle, and a
 * postmaster (which an agent may leave behind when it dies uncleanly) through the PID in its data directory's
 * {@code postmaster.pid}, after checking that this PID really is a postgres on this data directory.
 */
final class AgentProcess implements PgServer {

    /** Small and quick to start: three agents share two cores with the test, the store and PostgreSQL. */
    /** {@code -Dpgha.agent.launcher=<path of examples/pgha-agent>}: agents run through the launcher script. */
    static final String LAUNCHER_PROPERTY = "pgha.agent.launcher";
    static final String DEFAULT_JVM_OPTIONS = "-Xmx192m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto";

    static final ObjectMapper JSON = new ObjectMapper();
    /** Member configurations and patronictl's are YAML, as Patroni's are. */
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    static final Path SETPRIV = Path.of("/usr/bin/setpriv");

    final String name;
    final Path dir;
    final Path config;
    final Path log;
    final Path dataDir;
    final Path nodeDir;
    final int pgPort;
    final int restPort;
    final TcpProxy dcsProxy;
    final TcpProxy pgProxy;
    /** The member's {@code bin_dir}: see {@link #prepareBinDir}. */
    final Path binDir;
    /** While this file exists, this member's pg_rewind fails after it ran (see {@link #prepareBinDir}). */
    final Path rewindFault;
    private final String superuserPassword;
    private final String restAuth;

    /** How the test reaches the REST API: plain HTTP, or TLS after {@link #useTls}. */
    private volatile java.net.http.HttpClient http = E2eKit.HTTP;
    private volatile String scheme = "http";
    private Process process;
    private int starts;
    private long logMarkAtStart;

    AgentProcess(String name, Path dir, int pgPort, int restPort, TcpProxy dcsProxy, TcpProxy pgProxy,
            String superuserPassword, String restUser, String restPassword) {
        this.name = name;
        this.dir = dir;
        this.config = dir.resolve("member.yaml");
        this.log = dir.resolve("agent.log");
        this.dataDir = dir.resolve("data");
        this.nodeDir = dir.resolve("node");
        this.binDir = dir.resolve("bin");
        this.rewindFault = dir.resolve("fail-pg-rewind");
        this.pgPort = pgPort;
        this.restPort = restPort;
        this.dcsProxy = dcsProxy;
        this.pgProxy = pgProxy;
        this.superuserPassword = superuserPassword;
        this.restAuth = "Basic " + Base64.getEncoder().encodeToString((restUser + ":" + restPassword)
                .getBytes(StandardCharsets.UTF_8));
    }

    // ------------------------------------------------------------------------------------------------ binaries

    /** Makes {@link #binDir}: the real programs, and a pg_rewind that fails on demand ({@link #failRewinds}). */
    void prepareBinDir(Path realBin) throws IOException {
        FailingPgRewind.binDir(binDir, realBin, rewindFault);
    }

    /** From now on this member's pg_rewind fails after it ran ({@code true}), or works again. */
    void failRewinds(boolean fail) throws IOException {
        FailingPgRewind.failFromNowOn(rewindFault, fail);
    }

    // ------------------------------------------------------------------------------------------------ lifecycle

    /** Starts the agent JVM (again, on the same configuration, ports and data directory). */
    synchronized void start() throws IOException {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException(name + " already runs (pid " + process.pid() + ")");
        }
        starts++;
        logMarkAtStart = logMark();
        Files.writeString(log, "==== e2e: start #" + starts + " of " + name + " at " + LocalTime.now() + "\n",
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(SETPRIV)) {
            cmd.addAll(List.of(SETPRIV.toString(), "--pdeathsig", "KILL", "--"));
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // The test resources silence HaLoop for the simulation; an agent's decisions are its log.
        String haLoopInfo = "-Dorg.slf4j.simpleLogger.log.io.pgha.core.internal.ha.HaLoop=info";
        String launcher = System.getProperty(LAUNCHER_PROPERTY, "");
        if (!launcher.isBlank()) {
            // As a user runs it: the launcher script with its own JVM options and the packaged jar (exec: same PID).
            cmd.addAll(List.of(launcher, config.toString()));
        } else {
            cmd.add(java);
            // -Dpgha.agent.jvm="..." replaces these (IdleCostBenchmark measures leaner settings with it).
            cmd.addAll(List.of(System.getProperty("pgha.agent.jvm", DEFAULT_JVM_OPTIONS).trim().split("\\s+")));
            cmd.addAll(List.of(haLoopInfo, "-cp", testClassPath(), "io.pgha.examples.agent.AgentMain",
                    config.toString()));
        }
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        if (!launcher.isBlank()) {
            pb.environment().put("PGHA_JAVA", java);
            pb.environment().put("JDK_JAVA_OPTIONS", haLoopInfo);
        }
        // Forked on E2eKit's launcher thread, so that the pdeathsig ties the agent to this JVM's life.
        process = E2eKit.launch(pb, name);
    }

    private static String testClassPath() {
        // Surefire runs tests from a manifest-only jar; it publishes the real test class path here.
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    synchronized boolean isAlive() {
        return process != null && process.isAlive();
    }

    /** The agent's exit status once it has exited, within {@code timeout}; empty if it still runs. */
    OptionalInt awaitExit(Duration timeout) throws InterruptedException {
        Process p;
        synchronized (this) {
            p = process;
        }
        if (p == null || !p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            return OptionalInt.empty();
        }
        return OptionalInt.of(p.exitValue());
    }

    synchronized long pid() {
        return process == null ? -1 : process.pid();
    }

    /** SIGKILL of the agent JVM only: its PostgreSQL is left to what the agent tied it to. */
    synchronized void kill9() {
        if (process == null) {
            return;
        }
        process.destroyForcibly();
        awaitExit(process);
    }

    /**
     * A host crash: SIGKILL to the postmaster, its children and the agent JVM, one right after the other. Nothing
     * gets to shut down cleanly, so WAL the replicas had not received is lost to them.
     */
    synchronized void crash() {
        OptionalLong pm = postmasterPid();
        if (pm.isPresent()) {
            ProcessHandle.of(pm.getAsLong()).ifPresent(h -> {
                List<ProcessHandle> children = h.descendants().toList();
                h.destroyForcibly();
                children.forEach(ProcessHandle::destroyForcibly);
            });
        }
        kill9();
        if (pm.isPresent()) {
            awaitGone(pm.getAsLong(), Duration.ofSeconds(10));
        }
    }

    /** SIGTERM: the agent stops PostgreSQL, gives up its keys and exits. SIGKILL if that takes over 30 s. */
    synchronized void terminate() {
        if (process == null || !process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                awaitExit(process);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** Whatever is left of this member: the agent JVM, then a postmaster an unclean death left behind. */
    synchronized void killEverything() {
        kill9();
        killPostmaster(dataDir);
    }

    /** SIGKILL to the live postmaster of {@code dataDir} (if any) and its children; returns once it is gone. */
    static void killPostmaster(Path dataDir) {
        livePostmaster(dataDir).ifPresent(pid -> ProcessHandle.of(pid).ifPresent(h -> {
            List<ProcessHandle> children = h.descendants().toList();
            h.destroyForcibly();
            children.forEach(ProcessHandle::destroyForcibly);
            awaitGone(pid, Duration.ofSeconds(10));
        }));
    }

    private static void awaitExit(Process p) {
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                throw new IllegalStateException("pid " + p.pid() + " did not exit within 20 s of SIGKILL");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void awaitGone(long pid, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("pid " + pid + " is still alive after " + timeout);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * The live postmaster of this member's data directory, from {@code postmaster.pid}; checked against
     * {@code /proc/<pid>/cmdline} because a stale file may name a PID the system has since given to another process.
     */
    OptionalLong postmasterPid() {
        return livePostmaster(dataDir);
    }

    /** The live postmaster of {@code dataDir}, checked as {@link #postmasterPid()} says. */
    static OptionalLong livePostmaster(Path dataDir) {
        try {
            List<String> lines = Files.readAllLines(dataDir.resolve("postmaster.pid"));
            if (lines.isEmpty()) {
                return OptionalLong.empty();
            }
            long pid = Long.parseLong(lines.get(0).strip());
            String cmd = new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")), StandardCharsets.UTF_8)
                    .replace('\0', ' ');
            return cmd.contains("postgres") && cmd.contains(dataDir.toString()) ? OptionalLong.of(pid)
                    : OptionalLong.empty();
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    // ------------------------------------------------------------------------------------------------ log

    /**
     * The line in which the running agent said its HA loop gave up ("stops acting until restarted"), if it did: no
     * wait for this member can succeed before it is restarted.
     */
    Optional<String> haltedReason() {
        long since;
        synchronized (this) {
            since = logMarkAtStart;
        }
        return logSince(since).lines().filter(l -> l.contains("stops acting until restarted")).findFirst();
    }

    /** The log's current length: pass it to {@link #logSince} to read what was written after this moment. */
    long logMark() {
        try {
            return Files.size(log);
        } catch (IOException e) {
            return 0;
        }
    }

    String logSince(long mark) {
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
            long len = f.length();
            if (len <= mark) {
                return "";
            }
            byte[] b = new byte[(int) Math.min(len - mark, 64L << 20)];
            f.seek(mark);
            f.readFully(b);
            return new String(b, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    String logTail(int lines) {
        String all = logSince(0);
        String[] ls = all.split("\n");
        int from = Math.max(0, ls.length - lines);
        return String.join("\n", java.util.Arrays.asList(ls).subList(from, ls.length));
    }

    /** PostgreSQL's own log (the agent writes it to {@code nodeDir/postgresql.log}). */
    String postgresLogTail(int lines) {
        Path pgLog = nodeDir.resolve("postgresql.log");
        try {
            List<String> ls = Files.readAllLines(pgLog, StandardCharsets.ISO_8859_1);
            return String.join("\n", ls.subList(Math.max(0, ls.size() - lines), ls.size()));
        } catch (IOException e) {
            return "(no " + pgLog + ")";
        }
    }

    // ------------------------------------------------------------------------------------------------ REST

    /** An HTTP answer of the member's REST API. */
    record Reply(int status, String body) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new IllegalStateException("not JSON (HTTP " + status + "): " + body, e);
            }
        }
    }

    Reply get(String path) throws IOException {
        return send(HttpRequest.newBuilder(api(path)).GET());
    }

    Reply post(String path, String json) throws IOException {
        return send(HttpRequest.newBuilder(api(path)).header("Authorization", restAuth)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    Reply patch(String path, String json) throws IOException {
        return send(HttpRequest.newBuilder(api(path)).header("Authorization", restAuth)
                .header("Content-Type", "application/json")
                .method("PATCH", HttpRequest.BodyPublishers.ofString(json)));
    }

    /** {@code GET /patroni}, or null when the API does not answer (agent down or starting). */
    JsonNode status() {
        try {
            Reply r = get("/patroni");
            return r.status() == 200 ? r.json() : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** From now on the test talks https to this member's REST API, with {@code tls} (its CA, a client certificate). */
    void useTls(javax.net.ssl.SSLContext tls) {
        http = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(2)).sslContext(tls).build();
        scheme = "https";
    }

    private URI api(String path) {
        return URI.create(scheme + "://127.0.0.1:" + restPort + path);
    }

    private Reply send(HttpRequest.Builder b) throws IOException {
        try {
            // Long enough for a switchover, which answers only once the new leader holds the lock.
            HttpResponse<String> r = http.send(b.timeout(Duration.ofSeconds(60)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return new Reply(r.statusCode(), r.body());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    // ------------------------------------------------------------------------------------------------ SQL

    /** A superuser connection over TCP straight to this member's PostgreSQL (not through its proxy). */
    /** The superuser's password (the routing DataSource of the issue 10 scenarios connects as it). */
    String superuserPassword() {
        return superuserPassword;
    }

    @Override
    public Connection sql() throws SQLException {
        return sql(Duration.ofSeconds(15));
    }

    Connection sql(Duration socketTimeout) throws SQLException {
        return sql(socketTimeout, Duration.ofSeconds(3));
    }

    /** With {@code connectTimeout} for the TCP connection and 2 s more for the whole login. */
    Connection sql(Duration socketTimeout, Duration connectTimeout) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("password", superuserPassword);
        p.setProperty("connectTimeout", Long.toString(Math.max(1, connectTimeout.toSeconds())));
        p.setProperty("loginTimeout", Long.toString(Math.max(1, connectTimeout.plusSeconds(2).toSeconds())));
        p.setProperty("socketTimeout", Long.toString(Math.max(1, socketTimeout.toSeconds())));
        p.setProperty("ApplicationName", "e2e-test");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + pgPort + "/postgres", p);
    }

    @Override
    public String toString() {
        return name;
    }
}
