package io.pgha.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.pgha.core.cluster.Role;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.testkit.TestFiles;
import io.pgha.core.testkit.TestPorts;
import io.pgha.dcs.etcd.EtcdDcs;
import io.pgha.dcs.etcd.EtcdServer;
import io.pgha.dcs.zookeeper.ZooKeeperDcs;
import io.pgha.dcs.zookeeper.ZooKeeperSettings;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The {@code jdbc:pgha:} URL through {@link DriverManager} and through HikariCP's {@code jdbcUrl}, on a real
 * ZooKeeper and a real etcd and two real PostgreSQL servers; the test plays the members' agents with
 * {@link MemberKeys}. b is promoted while a stays writable (two primaries): only the leader key says which one is
 * legitimate, so a write reaching a after the switch is a routing failure.
 */
@Timeout(240)
class PghaDriverTest {

    private static final long GB = 1L << 30;
    private final AtomicLong seq = new AtomicLong();

    @AfterEach
    void closeTheDriversDataSources() throws SQLException {
        driver().close();
    }

    private static PghaDriver driver() throws SQLException {
        return (PghaDriver) DriverManager.getDriver("jdbc:pgha:zookeeper://h/s/d");
    }

    private static Properties credentials() {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("password", PgPair.PASSWORD);
        return p;
    }

    @Test
    void aZooKeeperUrlWritesToTheLeaderAndFollowsItsChange() throws Exception {
        try (TestingServer zk = new TestingServer(new InstanceSpec(null, TestPorts.freePort(), -1, -1, true, -1, 200,
                -1, Map.of("maxSessionTimeout", "60000")), true)) {
            // No dcs.* settings: the store module's defaults are enough for a read-only client.
            followsTheLeader(ZooKeeperDcs.connect(ZooKeeperSettings.builder(zk.getConnectString()).standalone()
                    .build()), "jdbc:pgha:zookeeper://" + zk.getConnectString() + "/drvzk/postgres?leaderWait=10s");
        }
    }

    @Test
    void anEtcdUrlWritesToTheLeaderAndFollowsItsChange() throws Exception {
        Path dir = TestFiles.shortTempDir("drv-etcd");
        try (EtcdServer etcd = EtcdServer.start(dir)) {
            followsTheLeader(EtcdDcs.connect(etcd.clientUrl().toString()),
                    "jdbc:pgha:etcd://127.0.0.1:" + etcd.clientPort() + "/drvetcd/postgres?leaderWait=10s");
        } finally {
            TestFiles.deleteTree(dir);
        }
    }

    private void followsTheLeader(DcsFactory store, String url) throws Exception {
        String scope = url.substring(url.indexOf("/drv") + 1, url.lastIndexOf("/postgres"));
        try (PgPair pg = new PgPair();
             MemberKeys a = new MemberKeys(store, scope, "a");
             MemberKeys b = new MemberKeys(store, scope, "b")) {
            a.publish(Role.PRIMARY, PgPair.connUrl(pg.a), GB);
            b.publish(Role.REPLICA, PgPair.connUrl(pg.b), GB);
            assertThat(a.lead()).isTrue();

            java.util.Set<Thread> before = Thread.getAllStackTraces().keySet();
            HikariConfig hc = new HikariConfig();
            hc.setJdbcUrl(url);
            hc.setUsername("postgres");
            hc.setPassword(PgPair.PASSWORD);
            hc.setMaximumPoolSize(2);
            hc.setConnectionTimeout(15_000);
            try (HikariDataSource hikari = new HikariDataSource(hc)) {
                assertThat(writeThroughDriver(url)).isEqualTo(PgPair.port(pg.a));
                assertThat(writeThrough(hikari)).isEqualTo(PgPair.port(pg.a));
                assertThat(driver().dataSourceCount()).as("DriverManager and Hikari share one HaDataSource")
                        .isEqualTo(1);
                assertThat(hikari.getHikariPoolMXBean().getTotalConnections()).isPositive();
                Properties wrong = credentials();
                wrong.setProperty("password", "not-" + PgPair.PASSWORD);
                long t0 = System.nanoTime();
                assertThatThrownBy(() -> DriverManager.getConnection(url.replace("leaderWait=10s", "leaderWait=2s"), wrong))
                        .isInstanceOf(SQLException.class)
                        .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("08001"))
                        .hasMessageContaining("gave no writable connection")
                        .hasMessageContaining("password authentication failed for user \"postgres\"");
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(15));
                assertThat(driver().dataSourceCount()).as("another password is another DataSource").isEqualTo(2);
                // Decision 0807: no shutdown hook, because nothing the driver starts keeps the JVM alive.
                assertThat(Thread.getAllStackTraces().keySet()).filteredOn(t -> !before.contains(t) && t.isAlive())
                        .as("threads started by the driver's DataSource and the pools").isNotEmpty()
                        .allSatisfy(t -> assertThat(t.isDaemon()).as(t.getName()).isTrue());

                // Connections borrowed under a and kept across the change (a long unit of work).
                Connection heldDirect = DriverManager.getConnection(url, credentials());
                Connection heldPooled = hikari.getConnection();
                pg.b.promote(2);
                b.publish(Role.PRIMARY, PgPair.connUrl(pg.b), GB);
                assertThat(a.release()).isTrue();
                assertThat(b.lead()).isTrue();
                await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
                        .until(() -> writeThroughDriver(url) == PgPair.port(pg.b));
                long switchedAt = seq.get();
                for (Connection held : List.of(heldDirect, heldPooled)) {
                    assertThatThrownBy(() -> write(held)).isInstanceOf(SQLException.class)
                            .hasMessageContaining("the leader changed from a (epoch")
                            .satisfies(e -> assertThat(((SQLException) e).getSQLState())
                                    .isEqualTo(FailoverErrors.RECONNECT_AND_RERUN));
                    assertThat(held.isClosed()).as("a fenced connection is closed").isTrue();
                    held.close();
                }

                // Hikari's pool holds connections opened under a: each fails once with 08S02, then it reconnects.
                List<SQLException> stale = new ArrayList<>();
                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                int onB = 0;
                while (onB < 10 && System.nanoTime() < deadline) {
                    try {
                        assertThat(writeThrough(hikari)).isEqualTo(PgPair.port(pg.b));
                        onB++;
                    } catch (SQLException e) {
                        stale.add(e);
                    }
                }
                System.out.printf("%s: Hikari's pooled connections failed %d time(s) with 08S02 after the switch%n", url,
                        stale.size());
                assertThat(onB).as("writes through Hikari land on the new leader").isEqualTo(10);
                assertThat(stale).as("at most one error per pooled connection, each 08S02").hasSizeLessThanOrEqualTo(2)
                        .allSatisfy(e -> assertThat(e.getSQLState()).isEqualTo(FailoverErrors.RECONNECT_AND_RERUN));
                assertThat(writeThroughDriver(url)).isEqualTo(PgPair.port(pg.b));
                assertThat(PgPair.count(pg.a, "seq > " + switchedAt)).as("nothing reached the old primary").isZero();
                assertThat(PgPair.count(pg.b, "seq > " + switchedAt)).isEqualTo(11);
            }
            assertThat(driver().dataSourceCount()).isEqualTo(2);
            driver().close();
            assertThat(driver().dataSourceCount()).isZero();
        }
    }

    private int writeThroughDriver(String url) throws SQLException {
        try (Connection c = DriverManager.getConnection(url, credentials())) {
            return write(c);
        }
    }

    private int writeThrough(HikariDataSource hikari) throws SQLException {
        try (Connection c = hikari.getConnection()) {
            return write(c);
        }
    }

    /** One autocommit insert; the port of the server that took it. */
    private int write(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet r = s.executeQuery("INSERT INTO writes VALUES (" + seq.incrementAndGet()
                     + ", inet_server_port()) RETURNING port")) {
            r.next();
            return r.getInt(1);
        }
    }

    @Test
    void anUnknownScopeOrAnUnreachableStoreIs08001WithinTheWait() throws Exception {
        try (TestingServer zk = new TestingServer(new InstanceSpec(null, TestPorts.freePort(), -1, -1, true, -1, 200,
                -1, Map.of("maxSessionTimeout", "60000")), true)) {
            noLeaderWithin("jdbc:pgha:zookeeper://" + zk.getConnectString() + "/nosuchscope/postgres?leaderWait=2s",
                    "nosuchscope/", "the leader key is absent and no member published an address (is the scope right?)");
        }
        int closed = TestPorts.freePort(); // nothing listens there
        noLeaderWithin("jdbc:pgha:zookeeper://127.0.0.1:" + closed + "/orders/postgres?leaderWait=2s&storeTimeout=1s",
                "the store was never read");
        noLeaderWithin("jdbc:pgha:etcd://127.0.0.1:" + closed + "/orders/postgres?leaderWait=2s&storeTimeout=1s",
                "the store was never read");
        noLeaderWithin("jdbc:pgha:rest://127.0.0.1:" + closed + "/orders/postgres?leaderWait=2s&storeTimeout=1s",
                "the store was never read", "no REST API answered GET /cluster");
    }

    private static void noLeaderWithin(String url, String... message) {
        long start = System.nanoTime();
        var a = assertThatThrownBy(() -> DriverManager.getConnection(url, credentials())).as(url)
                .isInstanceOf(SQLException.class)
                .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo(FailoverErrors.NO_LEADER))
                .hasMessageContaining("no leader within leaderWait 2s");
        for (String m : message) {
            a.hasMessageContaining(m);
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as(url).isLessThan(Duration.ofSeconds(15));
    }
}
