package io.pgha.dcs.etcd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.testkit.TestFiles;
import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.awaitility.core.TerminalFailureException;

/**
 * A real etcd process (Debian's {@code /usr/bin/etcd}) for tests: loopback ports chosen free, a temp data dir, fast
 * raft timings. It is always stopped by its own process handle (its PID), never by name: from {@link #close()}, and
 * from a shutdown hook if the test JVM exits first. Started through {@code setpriv --pdeathsig KILL} from a thread
 * that lives as long as this object, so even a killed test JVM leaves no etcd behind.
 *
 * <p>{@link #cluster(int, Path)} starts several members forming one cluster. Public (and shipped in this module's
 * test-jar) for the end-to-end suite in {@code examples}.
 */
public final class EtcdServer implements AutoCloseable {

    static final Path ETCD = Path.of("/usr/bin/etcd");
    private static final Path SETPRIV = Path.of("/usr/bin/setpriv");
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);

    private final String name;
    private final Path dir;
    private final int clientPort;
    private final int peerPort;
    private final String scheme;
    private final List<String> extraArgs;
    private final SSLContext ssl;
    private final HttpClient http;
    private final ExecutorService launcher;
    private String initialCluster;
    private String clusterToken;
    private Process process;
    private Thread hook;

    private EtcdServer(String name, Path dir, String scheme, SSLContext ssl, List<String> extraArgs)
            throws IOException {
        this.name = name;
        this.dir = dir;
        this.scheme = scheme;
        this.ssl = ssl;
        this.extraArgs = List.copyOf(extraArgs);
        this.clientPort = TestPorts.freePort();
        this.peerPort = TestPorts.freePort();
        this.initialCluster = name + "=" + peerUrl();
        this.clusterToken = "pgha-test-" + dir.getFileName();
        HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(2));
        if (ssl != null) {
            b.sslContext(ssl);
        }
        this.http = b.build();
        // The launcher thread outlives every start: Linux sends the pdeathsig when the thread that forked ends.
        this.launcher = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "etcd-launcher-" + name);
            t.setDaemon(true);
            return t;
        });
    }

    /** A single-member etcd on plain http, started and healthy. */
    public static EtcdServer start(Path parent) throws IOException {
        return start(parent, "http", null, List.of());
    }

    /** A single-member etcd; {@code extraArgs} add flags (TLS files, for instance). */
    static EtcdServer start(Path parent, String scheme, SSLContext ssl, List<String> extraArgs) throws IOException {
        Path dir = Files.createTempDirectory(parent, "etcd-");
        EtcdServer s = new EtcdServer("n1", dir, scheme, ssl, extraArgs);
        try {
            s.start();
            return s;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** {@code n} members forming one cluster, started together, each healthy. */
    static List<EtcdServer> cluster(int n, Path parent) throws IOException {
        List<EtcdServer> members = new ArrayList<>();
        try {
            for (int i = 1; i <= n; i++) {
                members.add(new EtcdServer("n" + i, Files.createTempDirectory(parent, "etcd-n" + i + "-"), "http",
                        null, List.of()));
            }
            String all = String.join(",", members.stream().map(m -> m.name + "=" + m.peerUrl()).toList());
            // Members of one cluster share its token: etcd derives the cluster ID from it.
            String token = "pgha-test-" + members.get(0).dir.getFileName();
            for (EtcdServer m : members) {
                m.initialCluster = all;
                m.clusterToken = token;
                m.launch();
            }
            for (EtcdServer m : members) {
                m.awaitHealthy(START_TIMEOUT);
            }
            return members;
        } catch (IOException | RuntimeException e) {
            members.forEach(EtcdServer::close);
            throw e;
        }
    }

    String name() {
        return name;
    }

    public int clientPort() {
        return clientPort;
    }

    public URI clientUrl() {
        return URI.create(scheme + "://127.0.0.1:" + clientPort);
    }

    Path dataDir() {
        return dir.resolve("data");
    }

    public synchronized boolean running() {
        return process != null && process.isAlive();
    }

    public synchronized long pid() {
        return process == null ? -1 : process.pid();
    }

    /**
     * Starts the process (again, on the same data dir and ports) and waits until it is healthy. Public for the
     * failover benchmark's store outage (examples).
     */
    public void start() throws IOException {
        launch();
        awaitHealthy(START_TIMEOUT);
    }

    /** SIGTERM and wait; SIGKILL if it does not stop within 10 s. Public for the failover benchmark (examples). */
    public synchronized void stop() {
        if (process == null) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        process = null;
    }

    /** SIGKILL, as a crash or a power cut. */
    synchronized void kill() {
        if (process == null) {
            return;
        }
        process.destroyForcibly();
        try {
            process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        process = null;
    }

    @Override
    public void close() {
        stop();
        synchronized (this) {
            if (hook != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException e) {
                    // the JVM is shutting down: the hook runs anyway
                }
                hook = null;
            }
        }
        launcher.shutdownNow();
        TestFiles.deleteTree(dir);
    }

    // ------------------------------------------------------------------------------------------------ admin

    /** POSTs {@code body} to the gateway of this member, straight (no proxy); returns the JSON answer. */
    JsonNode post(String path, ObjectNode body, String token) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(clientUrl().resolve(path))
                    .timeout(Duration.ofSeconds(10))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(EtcdJson.MAPPER.writeValueAsBytes(body)));
            if (token != null) {
                b.header("Authorization", token);
            }
            HttpResponse<byte[]> r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
            JsonNode n = EtcdJson.MAPPER.readTree(r.body());
            if (r.statusCode() != 200 || EtcdJson.error(n) != null) {
                throw new IllegalStateException("etcd " + name + " " + path + " answered HTTP " + r.statusCode() + ": "
                        + new String(r.body(), StandardCharsets.UTF_8));
            }
            return n;
        } catch (IOException e) {
            throw new UncheckedIOException("etcd " + name + " " + path, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    JsonNode post(String path, ObjectNode body) {
        return post(path, body, null);
    }

    /** Writes {@code value} at {@code key} (no lease); returns the revision of the write. */
    long put(String key, String value) {
        return EtcdJson.revision(post("/v3/kv/put", EtcdJson.put(key, value.getBytes(StandardCharsets.UTF_8), 0)));
    }

    /** Revokes a lease now, as etcd does when it expires. */
    void revoke(long leaseId) {
        post("/v3/lease/revoke", EtcdJson.leaseId(leaseId));
    }

    /** Compacts the history up to {@code revision} (physically), as auto-compaction would. */
    void compact(long revision) {
        ObjectNode b = EtcdJson.MAPPER.createObjectNode();
        b.put("revision", Long.toString(revision));
        b.put("physical", true);
        post("/v3/kv/compaction", b);
    }

    /** The current store revision. */
    long revision() {
        return EtcdJson.revision(post("/v3/kv/range", EtcdJson.range("/")));
    }

    /** Whether this member is the raft leader now. */
    boolean isLeader() {
        JsonNode s = post("/v3/maintenance/status", EtcdJson.MAPPER.createObjectNode());
        // Member IDs are uint64 and may not fit a long: compare them as the strings the gateway sends.
        return s.path("leader").asText().equals(s.path("header").path("member_id").asText("-"));
    }

    /** The remaining TTL of a lease in seconds; -1 when etcd no longer knows it. */
    long leaseTimeToLive(long leaseId) {
        return EtcdJson.int64(post("/v3/lease/timetolive", EtcdJson.leaseId(leaseId)), "TTL");
    }

    // ------------------------------------------------------------------------------------------------ internals

    private String peerUrl() {
        return "http://127.0.0.1:" + peerPort;
    }

    private void launch() throws IOException {
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(SETPRIV)) {
            cmd.addAll(List.of(SETPRIV.toString(), "--pdeathsig", "KILL", "--"));
        }
        cmd.addAll(List.of(ETCD.toString(),
                "--name", name,
                "--data-dir", dataDir().toString(),
                "--logger=zap", "--log-level=warn",
                "--listen-client-urls", clientUrl().toString(),
                "--advertise-client-urls", clientUrl().toString(),
                "--listen-peer-urls", peerUrl(),
                "--initial-advertise-peer-urls", peerUrl(),
                "--initial-cluster", initialCluster,
                "--initial-cluster-state", "new",
                "--initial-cluster-token", clusterToken,
                // Fast elections on loopback, with room for a busy 2-core machine.
                "--heartbeat-interval=100", "--election-timeout=1000"));
        cmd.addAll(extraArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("etcd.log").toFile()));
        Process p;
        try {
            p = launcher.submit(pb::start).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IOException("could not start " + cmd, e.getCause());
        } catch (TimeoutException e) {
            throw new IOException("starting etcd took more than 30 s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting etcd", e);
        }
        synchronized (this) {
            process = p;
            if (hook == null) {
                hook = new Thread(this::killFromHook, "etcd-stop-" + name);
                Runtime.getRuntime().addShutdownHook(hook);
            }
        }
    }

    private synchronized void killFromHook() {
        if (process != null) {
            process.destroyForcibly();
        }
    }

    private void awaitHealthy(Duration timeout) throws IOException {
        try {
            Awaitility.await("etcd " + name + " healthy").atMost(timeout).pollInterval(Duration.ofMillis(50))
                    .failFast("etcd " + name + " exited while starting", () -> !running())
                    .until(this::healthy);
        } catch (ConditionTimeoutException | TerminalFailureException e) {
            throw new IOException(e.getMessage() + ": " + logTail(), e);
        }
    }

    /** One /health probe: true when the member answers that it is healthy (it has a leader). */
    boolean healthy() {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(clientUrl().resolve("/health"))
                    .timeout(Duration.ofSeconds(2)).GET().build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 && r.body().contains("\"true\"");
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Waits until this member reports itself healthy (it has a leader). */
    void awaitHealthy() throws IOException {
        awaitHealthy(START_TIMEOUT);
    }

    public String logTail() {
        try {
            List<String> lines = Files.readAllLines(dir.resolve("etcd.log"));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

}
