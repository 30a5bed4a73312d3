package io.pgha.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pgha.core.api.HaCluster;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.RestSettings;
import io.pgha.core.testkit.TestFiles;
import io.pgha.dcs.zookeeper.ZooKeeperDcs;
import io.pgha.dcs.zookeeper.ZooKeeperSettings;
import java.nio.file.Path;
import java.util.Map;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The REST-URL source against a real HTTP server on loopback that serves {@code GET /cluster} in Patroni's shape (the
 * shape pgha's ClusterJson and Patroni 3 write), pointing at two real PostgreSQL servers. The test decides what the
 * document says; the DataSource must follow it by polling.
 */
@Timeout(180)
class RestSourceTest {

    private final AtomicReference<String> document = new AtomicReference<>();
    private final AtomicReference<String> requiredAuth = new AtomicReference<>();
    private final AtomicInteger requests = new AtomicInteger();
    private final AtomicLong seq = new AtomicLong();
    private HttpServer server;

    @BeforeEach
    void serve() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", TestPorts.freePort()), 0);
        server.createContext("/", this::answer);
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private void answer(HttpExchange ex) throws IOException {
        requests.incrementAndGet();
        String auth = requiredAuth.get();
        byte[] body;
        int status;
        if (auth != null && !auth.equals(ex.getRequestHeaders().getFirst("Authorization"))) {
            status = 401;
            body = "authentication required".getBytes(StandardCharsets.UTF_8);
        } else if (!ex.getRequestURI().getPath().equals("/cluster") || !ex.getRequestMethod().equals("GET")) {
            status = 404;
            body = new byte[0];
        } else {
            status = 200;
            body = document.get().getBytes(StandardCharsets.UTF_8);
        }
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            ex.getResponseBody().write(body);
        }
        ex.close();
    }

    private String base() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** {@code leader} leads on {@code timeline}; the other streams {@code lag} bytes behind. */
    private static String cluster(String scope, String leader, int leaderPort, String replica, int replicaPort,
                                  int timeline, String lag) {
        return "{\"members\": ["
                + "{\"name\": \"" + leader + "\", \"role\": \"leader\", \"state\": \"running\", \"api_url\": "
                + "\"http://127.0.0.1:1/patroni\", \"host\": \"127.0.0.1\", \"port\": " + leaderPort
                + ", \"timeline\": " + timeline + "},"
                + "{\"name\": \"" + replica + "\", \"role\": \"replica\", \"state\": \"streaming\", \"api_url\": "
                + "\"http://127.0.0.1:2/patroni\", \"host\": \"127.0.0.1\", \"port\": " + replicaPort
                + ", \"timeline\": " + timeline + ", \"lag\": " + lag + "}],"
                + " \"scope\": \"" + scope + "\"}";
    }

    @Test
    void patroniShapedDocumentsParse() throws IOException {
        ClusterDocument d = ClusterDocument.parse(("{\"members\": [{\"name\": \"m2\", \"role\": \"sync_standby\", "
                + "\"state\": \"streaming\", \"host\": \"10.0.0.2\", \"port\": 5432, \"timeline\": 3, \"lag\": 0},"
                + "{\"name\": \"m1\", \"role\": \"leader\", \"state\": \"running\", \"host\": \"10.0.0.1\", "
                + "\"port\": 5432, \"timeline\": 3}, {\"name\": \"m3\", \"role\": \"replica\", \"state\": "
                + "\"stopped\", \"host\": \"10.0.0.3\", \"port\": 5433, \"lag\": \"unknown\"}, {\"name\": \"m4\", "
                + "\"role\": \"replica\", \"state\": \"starting\"}], \"pause\": true, \"scope\": \"orders\"}")
                .getBytes(StandardCharsets.UTF_8));
        assertThat(d.scope()).isEqualTo("orders");
        assertThat(d.leader()).isEqualTo("m1");
        assertThat(d.leaderTimeline()).isEqualTo(3);
        assertThat(d.members()).containsOnlyKeys("m1", "m2", "m3"); // m4 has no address
        assertThat(d.members().get("m1")).isEqualTo(new Topology.Node("m1", "10.0.0.1", 5432, Role.PRIMARY, true,
                0L, false));
        assertThat(d.members().get("m2")).isEqualTo(new Topology.Node("m2", "10.0.0.2", 5432, Role.REPLICA, true,
                0L, false));
        assertThat(d.members().get("m3")).isEqualTo(new Topology.Node("m3", "10.0.0.3", 5433, Role.REPLICA, false,
                null, false));
        assertThat(ClusterDocument.parse("{\"members\": []}".getBytes(StandardCharsets.UTF_8)).leader()).isNull();
        // pgha's /cluster marks a leader draining before a planned switchover: the router then holds write borrows.
        ClusterDocument draining = ClusterDocument.parse(("{\"members\": [{\"name\": \"m1\", \"role\": \"leader\", "
                + "\"state\": \"running\", \"host\": \"10.0.0.1\", \"port\": 5432, \"pgha_draining\": true}]}")
                .getBytes(StandardCharsets.UTF_8));
        assertThat(draining.members().get("m1").draining()).isTrue();
        assertThatThrownBy(() -> ClusterDocument.parse("{\"state\": \"running\"}".getBytes(StandardCharsets.UTF_8)))
                .hasMessageContaining("not a /cluster document");
    }

    @Test
    void itFollowsTheDocumentAcrossALeaderChangeSkippingADeadUrl() throws Exception {
        try (PgPair pg = new PgPair()) {
            int pa = PgPair.port(pg.a);
            int pb = PgPair.port(pg.b);
            document.set(cluster("orders", "a", pa, "b", pb, 1, "0"));
            String dead = "http://127.0.0.1:" + TestPorts.freePort();
            java.util.Set<Thread> before = Thread.getAllStackTraces().keySet();
            try (HaDataSource ds = HaDataSource.builder().restUrls(List.of(dead, base()), "orders")
                    .restPollInterval(Duration.ofMillis(200)).storeTimeout(Duration.ofSeconds(1))
                    .user("postgres").password(PgPair.PASSWORD).leaderWait(Duration.ofSeconds(10)).build()) {
                assertThat(write(ds.getConnection())).isEqualTo(pa);
                // Decision 0807 relies on it: the poller, its HTTP client and the pools never keep the JVM alive.
                assertThat(Thread.getAllStackTraces().keySet()).filteredOn(t -> !before.contains(t) && t.isAlive())
                        .anySatisfy(t -> assertThat(t.getName()).contains("HttpClient"))
                        .allSatisfy(t -> assertThat(t.isDaemon()).as(t.getName()).isTrue());
                long epoch = ds.epoch();
                assertThat(epoch).isPositive();
                // Lag 0 in /cluster: reads may go to b (the first borrow may still fall back while b's pool opens).
                // Lag 0 in /cluster: reads go to b, though the write pool to a was created first (its
                // targetServerType=primary once leaked into every later pool through Hikari's shared properties).
                assertThat(readPort(ds.withRole(TargetRole.REPLICA), pb)).isEqualTo(pb);

                // A poll that brings the same leader on the same timeline is not a new epoch.
                int seen = requests.get();
                await().atMost(Duration.ofSeconds(5)).until(() -> requests.get() >= seen + 3);
                assertThat(ds.epoch()).isEqualTo(epoch);

                pg.b.promote(2);
                document.set(cluster("orders", "b", pb, "a", pa, 2, "0"));
                long changed = System.nanoTime();
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5))
                        .until(() -> ds.leader().orElse("").equals("b"));
                long routingMs = (System.nanoTime() - changed) / 1_000_000;
                System.out.printf("REST poll every 200 ms: routing moved %d ms after /cluster changed%n", routingMs);
                assertThat(ds.epoch()).isGreaterThan(epoch);
                long switchedAt = seq.get();
                assertThat(write(ds.getConnection())).isEqualTo(pb);
                assertThat(PgPair.count(pg.a, "seq > " + switchedAt)).isZero();
                assertThat(routingMs).as("within a few poll intervals").isLessThan(3000);

                // The same through the URL form.
                Properties p = new Properties();
                p.setProperty("user", "postgres");
                p.setProperty("password", PgPair.PASSWORD);
                String url = "jdbc:pgha:rest://127.0.0.1:" + server.getAddress().getPort() + "/orders/postgres"
                        + "?restPollInterval=200ms&leaderWait=10s";
                try {
                    assertThat(write(DriverManager.getConnection(url, p))).isEqualTo(pb);
                } finally {
                    ((PghaDriver) DriverManager.getDriver(url)).close();
                }
            }
        }
    }

    @Test
    void aWrongScopeAndMissingCredentialsAreNamedIn08001() throws Exception {
        document.set(cluster("orders", "a", 1, "b", 2, 1, "0"));
        try (HaDataSource ds = HaDataSource.builder().restUrls(List.of(base()), "payments")
                .user("postgres").leaderWait(Duration.ofSeconds(2)).build()) {
            assertThatThrownBy(ds::getConnection).isInstanceOf(SQLException.class)
                    .hasMessageContaining("serves scope 'orders', not 'payments'")
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("08001"));
        }
        requiredAuth.set("Basic " + Base64.getEncoder().encodeToString("admin:s3cret".getBytes(
                StandardCharsets.UTF_8)));
        try (HaDataSource ds = HaDataSource.builder().restUrls(List.of(base()), "orders")
                .user("postgres").leaderWait(Duration.ofSeconds(2)).build()) {
            assertThatThrownBy(ds::getConnection).isInstanceOf(SQLException.class)
                    .hasMessageContaining("HTTP 401 (the REST API wants credentials: restUser/restPassword)");
        }
        try (HaDataSource ds = HaDataSource.builder().restUrls(List.of(base()), "orders")
                .restCredentials("admin", "s3cret").user("postgres").leaderWait(Duration.ofSeconds(5)).build()) {
            await().atMost(Duration.ofSeconds(5)).until(() -> ds.leader().orElse("").equals("a"));
        }
    }

    @Test
    void badRestSettingsAreNamed() {
        assertThatThrownBy(() -> HaDataSource.builder().restUrls(List.of("db-1:8008"), "orders").user("u").build())
                .hasMessageContaining("restUrls: each must be an http(s) base URL with a host")
                .hasMessageContaining("'db-1:8008'");
        assertThatThrownBy(() -> HaDataSource.builder().restUrls(List.of(), "orders").user("u").build())
                .hasMessageContaining("restUrls must name at least one");
        assertThatThrownBy(() -> HaDataSource.builder().restUrls(List.of(base()), "").user("u").build())
                .hasMessageContaining("scope must be a non-empty string");
        assertThatThrownBy(() -> HaDataSource.builder().restUrls(List.of(base()), "orders").user("u")
                .restPollInterval(Duration.ZERO).build()).hasMessageContaining("restPollInterval must be > 0");
    }

    /** The port reads land on: {@code expected} as soon as they do, within 10 s; otherwise the last one seen. */
    private static int readPort(javax.sql.DataSource reads, int expected) throws Exception {
        // The first borrows may fall back to the leader while b's pool opens its first connection (250 ms attempts).
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        int port;
        do {
            try (Connection c = reads.getConnection(); Statement s = c.createStatement();
                 ResultSet r = s.executeQuery("SELECT inet_server_port()")) {
                r.next();
                port = r.getInt(1);
            }
            if (port != expected) {
                Thread.sleep(100);
            }
        } while (port != expected && System.nanoTime() < deadline);
        return port;
    }

    /**
     * The same source against live pgha members' REST APIs (real PostgreSQL run by {@link HaCluster}, real ZooKeeper):
     * pgha's own {@code /cluster} document routes writes to the leader, and to the new one after a switchover.
     */
    @Test
    void itFollowsASwitchoverThroughLivePghaRestApis() throws Exception {
        Path dir = TestFiles.shortTempDir("jdbc-rest");
        List<HaCluster> nodes = new java.util.ArrayList<>();
        try (TestingServer zk = new TestingServer(new InstanceSpec(null, TestPorts.freePort(), -1, -1, true, -1, 200,
                -1, Map.of("maxSessionTimeout", "60000")), true)) {
            int[] rest = {TestPorts.freePort(), TestPorts.freePort()};
            int[] pgPort = {TestPorts.freePort(), TestPorts.freePort()};
            for (int i = 0; i < 2; i++) {
                nodes.add(member("m" + (i + 1), zk.getConnectString(), dir.resolve("m" + (i + 1)), rest[i],
                        pgPort[i]));
                if (i == 0) {
                    await().atMost(Duration.ofSeconds(90)).until(() -> nodes.get(0).role() == Role.PRIMARY);
                }
            }
            await().atMost(Duration.ofSeconds(90)).until(() -> nodes.get(1).role() == Role.REPLICA
                    && nodes.get(1).status().map(st -> st.view() != null && st.view().members().size() == 2)
                    .orElse(false));
            try (HaDataSource ds = HaDataSource.builder().restUrls(List.of("http://127.0.0.1:" + rest[0],
                            "http://127.0.0.1:" + rest[1]), "live").restPollInterval(Duration.ofMillis(200))
                    .user("postgres").password(PgPair.PASSWORD).leaderWait(Duration.ofSeconds(30)).build()) {
                assertThat(serverPort(ds)).isEqualTo(pgPort[0]);
                assertThat(ds.leader()).contains("m1");
                long epoch = ds.epoch();
                assertThat(epoch).isPositive();

                nodes.get(0).switchover("m2");
                await().atMost(Duration.ofSeconds(60)).until(() -> ds.leader().orElse("").equals("m2"));
                assertThat(ds.epoch()).isGreaterThan(epoch);
                assertThat(serverPort(ds)).isEqualTo(pgPort[1]);
            }
        } finally {
            for (HaCluster n : nodes) {
                n.close();
            }
            TestFiles.deleteTree(dir);
        }
    }

    private static HaCluster member(String name, String zk, Path dir, int restPort, int pgPort) {
        return HaCluster.builder().scope("live").member(name)
                .dcs(ZooKeeperDcs.connect(ZooKeeperSettings.builder(zk).standalone().build()))
                .postgres(pg -> pg.binDir(TestFiles.postgresBinDir()).dataDir(dir.resolve("data")).nodeDir(dir.resolve("node")).listen("127.0.0.1", pgPort)
                            .superuser("postgres", PgPair.PASSWORD).replication("replicator", PgPair.PASSWORD + "r")
                            .parameter("shared_buffers", "16MB").parameter("fsync", "off")
                            .startTimeout(Duration.ofSeconds(60)).stopTimeout(Duration.ofSeconds(60))
                            .initdbArgs(List.of("--encoding=UTF8", "--locale=C", "--no-sync")))
                .ttl(Duration.ofSeconds(20)).loopWait(Duration.ofSeconds(1)).retryTimeout(Duration.ofSeconds(5))
                .restApi(RestSettings.builder().listen("127.0.0.1", restPort).credentials("admin", "s3cret").build())
                .start();
    }

    /** A write transaction's server: the port, checked writable. */
    private static int serverPort(HaDataSource ds) throws SQLException {
        try (Connection c = ds.getConnection(); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT inet_server_port(), pg_is_in_recovery()")) {
            r.next();
            assertThat(r.getBoolean(2)).as("writes go to a primary").isFalse();
            return r.getInt(1);
        }
    }

    private int write(Connection connection) throws SQLException {
        try (Connection c = connection; Statement s = c.createStatement();
             ResultSet r = s.executeQuery("INSERT INTO writes VALUES (" + seq.incrementAndGet()
                     + ", inet_server_port()) RETURNING port")) {
            r.next();
            return r.getInt(1);
        }
    }
}
