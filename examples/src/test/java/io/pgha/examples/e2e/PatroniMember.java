package io.pgha.examples.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
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
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * One member of a real Patroni cluster: Debian's {@code /usr/bin/patroni} on {@link #config}, run as the
 * {@code postgres} OS user when the test runs as root (PostgreSQL refuses to run as root), else as the test's own
 * user; its output (and PostgreSQL's, which Patroni's postmaster inherits) appended to {@link #log}.
 *
 * <p>Patroni starts its postmaster detached, in a session of its own with init as parent, so neither a signal to the
 * Patroni process nor its process group reaches PostgreSQL. {@link #stop()} therefore lets Patroni shut PostgreSQL
 * down (SIGTERM), then kills by PID whatever postmaster {@code postmaster.pid} still names.
 */
final class PatroniMember implements PgServer {

    static final Path BINARY = Path.of("/usr/bin/patroni");
    private static final Path SETPRIV = Path.of("/usr/bin/setpriv");
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(40);
    /** Whether the test runs as root, which PostgreSQL refuses: then Patroni runs as the postgres user. */
    static final boolean AS_ROOT = "root".equals(System.getProperty("user.name"));

    final String name;
    final Path dir;
    final Path config;
    final Path log;
    final Path dataDir;
    final int pgPort;
    final int restPort;
    private final String superuserPassword;
    private Process process;

    PatroniMember(String name, Path dir, int pgPort, int restPort, String superuserPassword) {
        this.name = name;
        this.dir = dir;
        this.config = dir.resolve("patroni.yaml");
        this.log = dir.resolve("patroni.log");
        this.dataDir = dir.resolve("data");
        this.pgPort = pgPort;
        this.restPort = restPort;
        this.superuserPassword = superuserPassword;
    }

    /** Starts {@code patroni <config>} as the postgres user. */
    synchronized void start() throws IOException {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException(name + " already runs (pid " + process.pid() + ")");
        }
        if (!Files.isExecutable(BINARY) || !Files.isExecutable(SETPRIV)) {
            throw new IllegalStateException(BINARY + " or " + SETPRIV + " is missing: apt-get install patroni"
                    + " util-linux (.ci/run does)");
        }
        Files.writeString(log, "==== e2e: start of " + name + " at " + LocalTime.now() + "\n",
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        List<String> cmd = new ArrayList<>(List.of(SETPRIV.toString()));
        if (AS_ROOT) {
            cmd.addAll(List.of("--reuid=postgres", "--regid=postgres", "--init-groups"));
        }
        cmd.addAll(List.of("--pdeathsig", "KILL", "--", BINARY.toString(), config.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        // Patroni (Python) and its PostgreSQL need nothing of the test's environment: a HOME of their own, so that
        // nothing under /root is looked up, and no PG* or PYTHON* variable that would redirect them.
        pb.environment().put("HOME", dir.toString());
        pb.environment().keySet().removeIf(k -> k.startsWith("PYTHON") || k.startsWith("PG"));
        // Forked on E2eKit's launcher thread, so that the pdeathsig ties Patroni to this JVM's life.
        process = E2eKit.launch(pb, "patroni for " + name);
    }

    synchronized boolean isAlive() {
        return process != null && process.isAlive();
    }

    synchronized long pid() {
        return process == null ? -1 : process.pid();
    }

    /** SIGTERM to Patroni, without waiting: {@link #stop()} waits. */
    synchronized void signalStop() {
        if (process != null) {
            process.destroy();
        }
    }

    /**
     * A host crash: SIGKILL to Patroni, then to its (detached) postmaster and that one's children, by PID. Returns once
     * both are gone.
     */
    synchronized void crash() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                throw new IllegalStateException("patroni " + name + " (pid " + process.pid()
                        + ") did not exit within 20 s of SIGKILL");
            }
        }
        AgentProcess.killPostmaster(dataDir);
    }

    /**
     * SIGTERM to Patroni, which stops PostgreSQL and exits; SIGKILL if it has not exited within 40 s. Then SIGKILL to
     * the postmaster (and its children) if one still runs on {@link #dataDir}. Never throws.
     */
    synchronized void stop() {
        if (process != null) {
            process.destroy();
            try {
                if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                    System.err.println("e2e: patroni " + name + " (pid " + process.pid() + ") still runs "
                            + STOP_TIMEOUT.toSeconds() + " s after SIGTERM: SIGKILL");
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        try {
            AgentProcess.killPostmaster(dataDir);
        } catch (RuntimeException e) {
            System.err.println("e2e: cleanup of " + name + "'s postmaster: " + e);
        }
    }

    /** {@code GET <path>} on this member's REST API; null when it does not answer 200 with JSON. */
    JsonNode get(String path) {
        try {
            HttpResponse<String> r = E2eKit.HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + restPort
                    + path)).timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? AgentProcess.JSON.readTree(r.body()) : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** This member's REST API base URL, as Patroni publishes it in {@code api_url} (without {@code /patroni}). */
    String restUrl() {
        return "http://127.0.0.1:" + restPort;
    }

    String superuserPassword() {
        return superuserPassword;
    }

    /** A superuser connection over TCP straight to this member's PostgreSQL. */
    @Override
    public Connection sql() throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("password", superuserPassword);
        p.setProperty("connectTimeout", "3");
        p.setProperty("loginTimeout", "5");
        p.setProperty("socketTimeout", "15");
        p.setProperty("ApplicationName", "e2e-test");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + pgPort + "/postgres", p);
    }

    String logTail(int lines) {
        try {
            List<String> ls = Files.readAllLines(log, StandardCharsets.ISO_8859_1);
            return String.join("\n", ls.subList(Math.max(0, ls.size() - lines), ls.size()));
        } catch (IOException e) {
            return "(no " + log + ": " + e + ")";
        }
    }

    /** Writes the member's configuration (as YAML: Patroni's own format). */
    void writeConfig(Object yaml) {
        try {
            AgentProcess.YAML.writeValue(config.toFile(), yaml);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
