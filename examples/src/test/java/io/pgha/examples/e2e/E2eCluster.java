package io.pgha.examples.e2e;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.config.SynchronousMode;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.testkit.TcpProxy;
import io.pgha.core.testkit.TestFiles;
import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * Three (or more) members of one pgha cluster, each an {@link AgentProcess}, sharing one {@link StoreUnderTest}.
 * Everything lives under a short {@code /tmp/pgha-e2e-<id>} directory (the unix socket path limit, and the postgres
 * user cannot traverse /root) and is removed by {@link #close()}.
 */
final class E2eCluster implements AutoCloseable {

    /** maximum_lag_on_failover of the cluster. */
    static final long MAX_LAG_BYTES = 1L << 20;

    static final String REST_USER = "admin";

    final String scope;
    final StoreUnderTest store;
    final StoreUnderTest.Timings timings;
    final Path base;
    final List<AgentProcess> members = new ArrayList<>();
    /** The REST API's password for {@link #REST_USER} (mutating requests). */
    final String restPassword;
    private final List<TcpProxy> proxies = new ArrayList<>();
    private final Thread cleanupHook;

    private E2eCluster(String scope, StoreUnderTest store, Path base, StoreUnderTest.Timings timings,
            String restPassword) {
        this.scope = scope;
        this.restPassword = restPassword;
        this.store = store;
        this.timings = timings;
        this.base = base;
        // Agents die with this JVM (pdeathsig), but their postmasters only get a fast-shutdown signal: make sure,
        // and leave no files behind when the run is interrupted.
        this.cleanupHook = new Thread(() -> {
            killEverything();
            E2eKit.keepLogs(scope, logs());
            TestFiles.deleteTree(base);
        }, "e2e-cleanup-" + scope);
        Runtime.getRuntime().addShutdownHook(cleanupHook);
    }

    /** Writes the members' configurations; starts nothing yet. */
    /** Starts a store, in a directory of its own. */
    interface StoreStarter {
        StoreUnderTest start(Path dir) throws Exception;
    }

    /**
     * A three-member cluster (not started) on a store {@code starter} starts in a new short directory, which is
     * deleted again if the store fails to start; the scope is {@code scopePrefix} plus the store's section name.
     */
    static E2eCluster onNewStore(String dirPrefix, String scopePrefix, StoreStarter starter) throws Exception {
        return onNewStore(dirPrefix, scopePrefix, starter, 3, null);
    }

    /** With other timings than the store's own ({@code null}: the store's). */
    static E2eCluster onNewStore(String dirPrefix, String scopePrefix, StoreStarter starter,
            StoreUnderTest.Timings timings) throws Exception {
        return onNewStore(dirPrefix, scopePrefix, starter, 3, timings);
    }

    /** As {@link #onNewStore(String, String, StoreStarter)}, with {@code size} members. */
    static E2eCluster onNewStore(String dirPrefix, String scopePrefix, StoreStarter starter, int size)
            throws Exception {
        return onNewStore(dirPrefix, scopePrefix, starter, size, null);
    }

    /** With {@code size} members and other timings than the store's own ({@code null}: the store's). */
    static E2eCluster onNewStore(String dirPrefix, String scopePrefix, StoreStarter starter, int size,
            StoreUnderTest.Timings timings) throws Exception {
        Path base = TestFiles.shortTempDir(dirPrefix);
        StoreUnderTest store;
        try {
            store = starter.start(base);
        } catch (Exception | Error e) {
            TestFiles.deleteTree(base);
            throw e;
        }
        return create(store, base, scopePrefix + store.section(), size, timings == null ? store.timings() : timings);
    }

    static E2eCluster create(StoreUnderTest store, Path base, String scope, int size) throws IOException {
        return create(store, base, scope, size, store.timings());
    }

    /** With other timings than the store's own (to provoke a refusal, say). */
    static E2eCluster create(StoreUnderTest store, Path base, String scope, int size, StoreUnderTest.Timings timings)
            throws IOException {
        String restPassword = "rest-" + UUID.randomUUID().toString().substring(0, 8);
        E2eCluster c = new E2eCluster(scope, store, base, timings, restPassword);
        try {
            String suPassword = "su-" + UUID.randomUUID().toString().substring(0, 8);
            String replPassword = "repl-" + UUID.randomUUID().toString().substring(0, 8);
            for (int i = 1; i <= size; i++) {
                String name = "pg" + i;
                Path dir = base.resolve(name);
                Files.createDirectories(dir);
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
                int pgPort = TestPorts.freePort();
                int restPort = TestPorts.freePort();
                TcpProxy dcsProxy = c.proxy(store.host(), store.port());
                TcpProxy pgProxy = c.proxy("127.0.0.1", pgPort);
                AgentProcess m = new AgentProcess(name, dir, pgPort, restPort, dcsProxy, pgProxy, suPassword,
                        REST_USER, restPassword);
                c.writeConfig(m, suPassword, replPassword, restPassword);
                c.members.add(m);
            }
            return c;
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    private TcpProxy proxy(String host, int port) throws IOException {
        // Room for walsenders, base backups, rewinds, probes and an HTTP client's pool at once.
        TcpProxy p = TcpProxy.start(host, port, 64);
        proxies.add(p);
        return p;
    }

    private void writeConfig(AgentProcess m, String suPassword, String replPassword, String restPassword)
            throws IOException {
        Map<String, Object> y = new LinkedHashMap<>();
        y.put("scope", scope);
        y.put("name", m.name);
        y.put("restapi", Map.of("listen", "127.0.0.1:" + m.restPort, "connect_address", "127.0.0.1:" + m.restPort,
                "authentication", Map.of("username", REST_USER, "password", restPassword)));
        y.put(store.section(), store.memberSection(m.dcsProxy.address()));
        Map<String, Object> dcs = new LinkedHashMap<>();
        // Seconds, with decimals when needed (a 500 ms retry_timeout is 0.5, not 0).
        dcs.put("ttl", seconds(timings.ttl()));
        dcs.put("loop_wait", seconds(timings.loopWait()));
        dcs.put("retry_timeout", seconds(timings.retryTimeout()));
        dcs.put("maximum_lag_on_failover", MAX_LAG_BYTES);
        dcs.put("postgresql", Map.of("use_pg_rewind", true));
        y.put("bootstrap", Map.of("dcs", dcs));
        Map<String, Object> pg = new LinkedHashMap<>();
        pg.put("listen", "127.0.0.1:" + m.pgPort);
        // Other members reach this PostgreSQL through its proxy, so a test can cut its outgoing replication.
        pg.put("connect_address", m.pgProxy.address());
        pg.put("data_dir", m.dataDir.toString());
        pg.put("node_dir", m.nodeDir.toString());
        // The real programs, but a pg_rewind a test can make fail (AgentProcess.prepareBinDir).
        m.prepareBinDir(TestFiles.postgresBinDir());
        pg.put("bin_dir", m.binDir.toString());
        pg.put("authentication", Map.of(
                "superuser", Map.of("username", "postgres", "password", suPassword),
                "replication", Map.of("username", "replicator", "password", replPassword),
                "rewind", Map.of("username", "rewinder", "password", replPassword + "-rw")));
        pg.put("parameters", Map.of("shared_buffers", "16MB", "max_connections", "40", "fsync", "off",
                "wal_keep_size", "64MB"));
        y.put("postgresql", pg);
        AgentProcess.YAML.writeValue(m.config.toFile(), y);
    }

    // ------------------------------------------------------------------------------------------------ members

    AgentProcess member(String name) {
        return members.stream().filter(m -> m.name.equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no member " + name));
    }

    List<AgentProcess> others(AgentProcess... excluded) {
        List<AgentProcess> out = new ArrayList<>(members);
        out.removeAll(List.of(excluded));
        return out;
    }

    /** Starts every agent that is not running, all at once (they race to bootstrap when the cluster is new). */
    void startAll() throws IOException {
        for (AgentProcess m : members) {
            if (!m.isAlive()) {
                m.start();
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ store

    ClusterView view() throws DcsUnavailableException {
        return store.read(scope);
    }

    /** The leader key's holder; a store that cannot be read is an error, never "no leader". */
    Optional<String> leaderName() throws DcsUnavailableException {
        return view().leaderName();
    }

    // ------------------------------------------------------------------------------------------------ waits

    /**
     * Waits until {@code expected} form a healthy cluster and returns its leader: the leader key names one of them,
     * its PostgreSQL is a writable primary, and every other one is a replica streaming from it, as both the primary
     * ({@code pg_stat_replication}) and the replica's REST API ({@code GET /patroni}) say.
     */
    AgentProcess awaitHealthy(List<AgentProcess> expected, Duration timeout) {
        return await("a healthy cluster of " + expected).atMost(timeout).pollInterval(Duration.ofMillis(250))
                .ignoreExceptions().failFast("an agent exited or its HA loop gave up", () -> exited(expected))
                .until(() -> healthyLeader(expected), Optional::isPresent).orElseThrow();
    }

    AgentProcess awaitHealthy(Duration timeout) {
        return awaitHealthy(members, timeout);
    }

    /** An agent that should be running has exited or given up (a wait for it can only time out). */
    private static boolean exited(List<AgentProcess> expected) {
        for (AgentProcess m : expected) {
            if (!m.isAlive()) {
                System.out.println("e2e: " + m.name + "'s agent is not running");
                return true;
            }
            Optional<String> halted = m.haltedReason();
            if (halted.isPresent()) {
                System.out.println("e2e: " + m.name + "'s HA loop gave up: " + halted.get());
                return true;
            }
        }
        return false;
    }

    private Optional<AgentProcess> healthyLeader(List<AgentProcess> expected)
            throws SQLException, DcsUnavailableException {
        Optional<String> name = leaderName();
        if (name.isEmpty()) {
            return Optional.empty();
        }
        AgentProcess leader = expected.stream().filter(m -> m.name.equals(name.get())).findFirst().orElse(null);
        if (leader == null || !Sql.isPrimary(leader)) {
            return Optional.empty();
        }
        Set<String> streaming = Sql.streamingStandbys(leader);
        for (AgentProcess m : expected) {
            if (m == leader) {
                continue;
            }
            JsonNode s = m.status();
            if (!streaming.contains(m.name) || s == null || !"replica".equals(s.path("role").asText())
                    || !"streaming".equals(s.path("replication_state").asText())) {
                return Optional.empty();
            }
        }
        return Optional.of(leader);
    }

    /** Waits until one of {@code candidates} holds the leader key and runs as a writable primary. */
    AgentProcess awaitNewLeader(List<AgentProcess> candidates, Duration timeout) {
        return await("a leader among " + candidates).atMost(timeout).pollInterval(Duration.ofMillis(100))
                .ignoreExceptions().failFast("an agent exited or its HA loop gave up", () -> exited(candidates))
                .until(() -> leaderAmong(candidates), Optional::isPresent).orElseThrow();
    }

    /** The candidate that holds the leader key and runs as a primary; throws when the store or it cannot tell. */
    private Optional<AgentProcess> leaderAmong(List<AgentProcess> candidates)
            throws SQLException, DcsUnavailableException {
        Optional<AgentProcess> holder = leaderName()
                .flatMap(n -> candidates.stream().filter(m -> m.name.equals(n)).findFirst());
        return holder.isPresent() && Sql.isPrimary(holder.get()) ? holder : Optional.empty();
    }

    /**
     * Brings the cluster back to all members running and healthy, whatever an earlier scenario left behind: proxies
     * healed, dead agents started, maintenance mode off. Returns the leader.
     */
    AgentProcess ensureHealthy() throws Exception {
        proxies.forEach(TcpProxy::heal);
        for (AgentProcess m : members) {
            // An earlier scenario failed: restart what it left dead or halted, as an operator would.
            Optional<String> halted = m.isAlive() ? m.haltedReason() : Optional.empty();
            if (!m.isAlive() || halted.isPresent()) {
                System.out.println("e2e: restarting " + m.name + (halted.isPresent() ? " (its HA loop gave up)"
                        : " (not running)"));
                m.killEverything();
                m.start();
            }
        }
        boolean synchronous = false;
        try {
            GlobalConfig config = view().config();
            synchronous = config.synchronousMode().orElse(SynchronousMode.OFF) == SynchronousMode.ON;
            if (config.pause() || synchronous) {
                members.get(0).patch("/config", "{\"pause\": false, \"synchronous_mode\": false}");
            }
        } catch (DcsUnavailableException | IOException e) {
            // Not bootstrapped yet, or the API is still starting: awaitHealthy decides.
        }
        AgentProcess leader = awaitHealthy(Duration.ofSeconds(90));
        if (synchronous) {
            awaitAsynchronous(leader);
        }
        return leader;
    }

    /** Waits until {@code leader} no longer makes commits wait for a standby and the sync key is gone. */
    void awaitAsynchronous(AgentProcess leader) {
        await("synchronous replication ends on " + leader.name).atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                .until(() -> view().sync().version() == DcsVersion.ABSENT
                        && Sql.setting(leader, "synchronous_standby_names").isEmpty());
    }

    // ------------------------------------------------------------------------------------------------ reports

    /** Every member's process state, REST status and log tails, and the store's contents. */
    String diagnostics() {
        StringBuilder b = new StringBuilder();
        b.append("==================== e2e diagnostics: ").append(scope).append(" on ").append(store)
                .append(" ====================\n");
        b.append("store contents:\n").append(store.dump(scope));
        if (store instanceof EtcdStore e) {
            b.append("etcd log tail:\n").append(e.logTail()).append('\n');
        }
        for (AgentProcess m : members) {
            b.append("---------- ").append(m.name).append(": agent ")
                    .append(m.isAlive() ? "alive (pid " + m.pid() + ")" : "not running")
                    .append(", postmaster ").append(m.postmasterPid().isPresent()
                            ? "pid " + m.postmasterPid().getAsLong() : "none")
                    .append(", pg port ").append(m.pgPort).append(", rest port ").append(m.restPort)
                    .append(", dcs proxy ").append(m.dcsProxy.mode()).append(", pg proxy ").append(m.pgProxy.mode())
                    .append('\n');
            JsonNode s = m.status();
            b.append("GET /patroni: ").append(s == null ? "(no answer)" : s.toString()).append('\n');
            b.append("agent log tail:\n").append(m.logTail(80)).append('\n');
            b.append("postgresql log tail:\n").append(m.postgresLogTail(15)).append('\n');
        }
        return b.toString();
    }

    // ------------------------------------------------------------------------------------------------ cleanup

    /** Kills every agent and postmaster of this cluster by PID. */
    private void killEverything() {
        for (AgentProcess m : members) {
            try {
                m.killEverything();
            } catch (RuntimeException e) {
                System.err.println("e2e cleanup of " + m.name + ": " + e);
            }
        }
    }

    /** Stops every process this cluster started, its proxies and its store, and removes its files. */
    @Override
    public void close() {
        // SIGKILL to the agents: their postmasters get the pdeathsig (fast shutdown); what is left is killed by PID.
        killEverything();
        proxies.forEach(TcpProxy::close);
        E2eKit.tearDown(scope, store, cleanupHook, logs(), base);
    }

    /** The members' logs, by the name of their copy in {@code target/e2e-logs/<scope>/}. */
    private Map<String, Path> logs() {
        Map<String, Path> logs = new LinkedHashMap<>();
        for (AgentProcess m : members) {
            logs.put(m.name + "-agent.log", m.log);
            logs.put(m.name + "-postgresql.log", m.nodeDir.resolve("postgresql.log"));
        }
        return logs;
    }


    /** A whole number of seconds as an integer, else as a decimal: what the agent's YAML accepts. */
    static Number seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? (Number) d.toSeconds() : (Number) (d.toMillis() / 1000.0);
    }
}
