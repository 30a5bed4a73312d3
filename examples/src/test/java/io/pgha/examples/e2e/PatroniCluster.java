package io.pgha.examples.e2e;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.testkit.TestFiles;
import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * A real Patroni cluster (Debian's Patroni 3.0.2, one {@link PatroniMember} process per member) on a real etcd
 * ({@link EtcdStore}), which Patroni reaches through etcd's v3 gRPC gateway ({@code etcd3:} section). Nothing of pgha
 * runs in it: the test follows it from outside. Everything lives under a short {@code /tmp/pgha-patroni-<id>}
 * directory and is removed by {@link #close()}, which also stops every process by PID.
 */
final class PatroniCluster implements AutoCloseable {

    /** bootstrap.dcs: small, so that a switchover completes in a few seconds on a loaded two-core machine. */
    static final StoreUnderTest.Timings TIMINGS = new StoreUnderTest.Timings(Duration.ofSeconds(10),
            Duration.ofSeconds(1), Duration.ofSeconds(4));

    final String scope;
    final Path base;
    final EtcdStore store;
    final List<PatroniMember> members = new ArrayList<>();
    private final Thread cleanupHook;

    private PatroniCluster(String scope, Path base, EtcdStore store) {
        this.scope = scope;
        this.base = base;
        this.store = store;
        // Patroni dies with this JVM (pdeathsig), its detached postmaster does not: kill that by PID too.
        this.cleanupHook = new Thread(() -> {
            stopEverything();
            E2eKit.keepLogs(scope, logs());
            TestFiles.deleteTree(base);
        }, "e2e-patroni-cleanup-" + scope);
        Runtime.getRuntime().addShutdownHook(cleanupHook);
    }

    /** Starts etcd and writes {@code size} members' configurations; starts no Patroni yet. */
    static PatroniCluster create(String scope, int size) throws IOException {
        Path base = TestFiles.shortTempDir("pgha-patroni");
        EtcdStore store;
        try {
            store = new EtcdStore(base);
        } catch (IOException | RuntimeException e) {
            TestFiles.deleteTree(base);
            throw e;
        }
        PatroniCluster c = new PatroniCluster(scope, base, store);
        try {
            String suPassword = "su-" + UUID.randomUUID().toString().substring(0, 8);
            String replPassword = "repl-" + UUID.randomUUID().toString().substring(0, 8);
            for (int i = 1; i <= size; i++) {
                PatroniMember m = new PatroniMember("pt" + i, base.resolve("pt" + i), TestPorts.freePort(),
                        TestPorts.freePort(), suPassword);
                Files.createDirectories(m.dir);
                m.writeConfig(c.config(m, suPassword, replPassword));
                if (PatroniMember.AS_ROOT) {
                    ownedByPostgres(m.dir);
                }
                c.members.add(m);
            }
            return c;
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** Patroni's YAML for {@code m}: etcd v3 straight (no proxy), everything on loopback. */
    private Map<String, Object> config(PatroniMember m, String suPassword, String replPassword) {
        Map<String, Object> y = new LinkedHashMap<>();
        y.put("scope", scope);
        y.put("namespace", "/service/");
        y.put("name", m.name);
        y.put("restapi", Map.of("listen", "127.0.0.1:" + m.restPort, "connect_address", "127.0.0.1:" + m.restPort));
        y.put("etcd3", Map.of("hosts", List.of(store.host() + ":" + store.port())));
        Map<String, Object> dcs = new LinkedHashMap<>();
        dcs.put("ttl", TIMINGS.ttl().toSeconds());
        dcs.put("loop_wait", TIMINGS.loopWait().toSeconds());
        dcs.put("retry_timeout", TIMINGS.retryTimeout().toSeconds());
        dcs.put("maximum_lag_on_failover", 1L << 20);
        dcs.put("postgresql", Map.of("use_pg_rewind", true, "parameters", Map.of("max_connections", 40,
                "wal_keep_size", "64MB")));
        Map<String, Object> bootstrap = new LinkedHashMap<>();
        bootstrap.put("dcs", dcs);
        bootstrap.put("initdb", List.of(Map.of("encoding", "UTF8"), Map.of("auth", "scram-sha-256")));
        bootstrap.put("pg_hba", List.of(
                "host replication replicator 127.0.0.1/32 scram-sha-256",
                "host all all 127.0.0.1/32 scram-sha-256"));
        y.put("bootstrap", bootstrap);
        Map<String, Object> pg = new LinkedHashMap<>();
        pg.put("listen", "127.0.0.1:" + m.pgPort);
        pg.put("connect_address", "127.0.0.1:" + m.pgPort);
        pg.put("data_dir", m.dataDir.toString());
        pg.put("bin_dir", TestFiles.postgresBinDir().toString());
        // Patroni's default is one file per OS user (~/.pgpass): members of this host would overwrite each other's.
        pg.put("pgpass", m.dir.resolve("pgpass").toString());
        pg.put("authentication", Map.of(
                "superuser", Map.of("username", "postgres", "password", suPassword),
                "replication", Map.of("username", "replicator", "password", replPassword),
                "rewind", Map.of("username", "rewinder", "password", replPassword + "-rw")));
        // The socket in the member's own directory: /var/run/postgresql may be missing or another server's.
        pg.put("parameters", Map.of("unix_socket_directories", m.dir.toString(), "shared_buffers", "16MB",
                "fsync", "off"));
        y.put("postgresql", pg);
        return y;
    }

    static void ownedByPostgres(Path dir) throws IOException {
        UserPrincipalLookupService lookup = dir.getFileSystem().getUserPrincipalLookupService();
        UserPrincipal user = lookup.lookupPrincipalByName("postgres");
        GroupPrincipal group = lookup.lookupPrincipalByGroupName("postgres");
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                PosixFileAttributeView v = Files.getFileAttributeView(p, PosixFileAttributeView.class);
                v.setOwner(user);
                v.setGroup(group);
            }
        }
    }

    PatroniMember member(String name) {
        return members.stream().filter(m -> m.name.equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no member " + name));
    }

    /**
     * Starts the first member, waits until it has bootstrapped the cluster and leads, then starts the others (so no
     * bootstrap race) and waits until all of them stream from it. Returns the leader.
     */
    PatroniMember startAll(Duration timeout) throws IOException {
        PatroniMember first = members.get(0);
        first.start();
        awaitHealthy(List.of(first), timeout);
        for (PatroniMember m : members.subList(1, members.size())) {
            m.start();
        }
        return awaitHealthy(members, timeout);
    }

    /**
     * Waits until {@code expected} form a healthy cluster and returns its leader: the leader key names one of them,
     * its PostgreSQL is a writable primary, and every other one streams from it, as both the primary
     * ({@code pg_stat_replication}: Patroni sets the member name as application_name) and the replica's
     * {@code GET /patroni} say.
     */
    PatroniMember awaitHealthy(List<PatroniMember> expected, Duration timeout) {
        return await("a healthy Patroni cluster of " + expected).atMost(timeout).pollInterval(Duration.ofMillis(250))
                .ignoreExceptions().failFast("a Patroni process exited", () -> exited(expected))
                .until(() -> healthyLeader(expected), Optional::isPresent).orElseThrow();
    }

    private static boolean exited(List<PatroniMember> expected) {
        return expected.stream().anyMatch(m -> !m.isAlive());
    }

    private Optional<PatroniMember> healthyLeader(List<PatroniMember> expected)
            throws SQLException, DcsUnavailableException {
        Optional<String> name = store.read(scope).leaderName();
        if (name.isEmpty()) {
            return Optional.empty();
        }
        PatroniMember leader = expected.stream().filter(m -> m.name.equals(name.get())).findFirst().orElse(null);
        if (leader == null || !Sql.isPrimary(leader)) {
            return Optional.empty();
        }
        Set<String> streaming = Sql.streamingStandbys(leader);
        for (PatroniMember m : expected) {
            if (m == leader) {
                continue;
            }
            JsonNode s = m.get("/patroni");
            if (!streaming.contains(m.name) || s == null || !"replica".equals(s.path("role").asText())
                    || !"running".equals(s.path("state").asText())) {
                return Optional.empty();
            }
        }
        return Optional.of(leader);
    }

    /** Every member's process state, REST status and log tail, and the store's contents. */
    String diagnostics() {
        StringBuilder b = new StringBuilder();
        b.append("==================== e2e diagnostics: Patroni cluster ").append(scope).append(" on ").append(store)
                .append(" ====================\n");
        b.append("store contents (as pgha reads them):\n").append(store.dump(scope));
        b.append("etcd log tail:\n").append(store.logTail()).append('\n');
        for (PatroniMember m : members) {
            b.append("---------- ").append(m.name).append(": patroni ")
                    .append(m.isAlive() ? "alive (pid " + m.pid() + ")" : "not running")
                    .append(", postmaster ").append(AgentProcess.livePostmaster(m.dataDir).isPresent()
                            ? "pid " + AgentProcess.livePostmaster(m.dataDir).getAsLong() : "none")
                    .append(", pg port ").append(m.pgPort).append(", rest port ").append(m.restPort).append('\n');
            JsonNode s = m.get("/patroni");
            b.append("GET /patroni: ").append(s == null ? "(no answer)" : s.toString()).append('\n');
            b.append("patroni log tail:\n").append(m.logTail(60)).append('\n');
        }
        return b.toString();
    }

    /** Stops every Patroni (which stops its PostgreSQL) and then any postmaster left, by PID; never throws. */
    private void stopEverything() {
        // SIGTERM to all first, so that they shut down in parallel; stop() then waits for each.
        members.forEach(PatroniMember::signalStop);
        members.forEach(PatroniMember::stop);
    }

    /** Stops every process this cluster started and its store, keeps the logs and removes its files. */
    @Override
    public void close() {
        stopEverything();
        E2eKit.tearDown(scope, store, cleanupHook, logs(), base);
    }

    /** The members' logs, by the name of their copy in {@code target/e2e-logs/<scope>/}. */
    private Map<String, Path> logs() {
        Map<String, Path> logs = new LinkedHashMap<>();
        members.forEach(m -> logs.put(m.name + "-patroni.log", m.log));
        return logs;
    }

}
