package io.pgha.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.DataSize;
import io.pgha.core.testkit.TcpProxy;
import io.pgha.core.testkit.TestPorts;
import io.pgha.dcs.zookeeper.ZooKeeperDcs;
import io.pgha.dcs.zookeeper.ZooKeeperSettings;
import io.pgha.core.spi.DcsFactory;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * HaDataSource on a real ZooKeeper (in-JVM server) and two real PostgreSQL servers; the test writes the members' keys
 * itself ({@link MemberKeys}), so it decides exactly when the store says what.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class HaDataSourceZooKeeperTest {

    private static final long GB = 1L << 30;

    private TestingServer zk;
    private PgPair pg;
    private String scope;
    private int scopes;
    private MemberKeys a;
    private MemberKeys b;
    private HaDataSource ds;

    @BeforeAll
    void startServers() throws Exception {
        zk = new TestingServer(new InstanceSpec(null, TestPorts.freePort(), -1, -1, true, -1, 200, -1,
                Map.of("maxSessionTimeout", "60000")), true);
        pg = new PgPair();
    }

    @AfterAll
    void stopServers() throws Exception {
        if (pg != null) {
            pg.close();
        }
        if (zk != null) {
            zk.close();
        }
    }

    private DcsFactory store(String connect) {
        return ZooKeeperDcs.connect(ZooKeeperSettings.builder(connect).standalone().build());
    }

    /** A fresh scope per test: a leads (position 1 GB), b is its replica 1 MB behind. */
    @BeforeEach
    void cluster() throws Exception {
        scope = "jdbc" + (++scopes);
        a = new MemberKeys(store(zk.getConnectString()), scope, "a");
        b = new MemberKeys(store(zk.getConnectString()), scope, "b");
        a.publish(Role.PRIMARY, PgPair.connUrl(pg.a), GB);
        b.publish(Role.REPLICA, PgPair.connUrl(pg.b), GB - (1 << 20));
        assertThat(a.lead()).isTrue();
    }

    @AfterEach
    void cleanup() throws Exception {
        if (ds != null) {
            ds.close();
            ds = null;
        }
        a.close();
        b.close();
        PgPair.setReadOnly(pg.a, false);
    }

    private HaDataSource build(UnaryOperator<HaDataSourceBuilder> settings) {
        ds = settings.apply(HaDataSource.builder().dcs(store(zk.getConnectString()), scope).user("postgres")
                .password(PgPair.PASSWORD).leaderWait(Duration.ofSeconds(3)).refreshInterval(Duration.ofMillis(200))
                .hikari(h -> h.setMaximumPoolSize(4))).build();
        return ds;
    }

    private static int serverPort(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT inet_server_port()")) {
            r.next();
            return r.getInt(1);
        }
    }

    private static void write(Connection c, long seq) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("INSERT INTO writes VALUES (" + seq + ", inet_server_port())");
        }
    }

    @Test
    void writesGoToTheLeaderAndTheStoreHoldsNoKeyOrSessionOfTheDataSource() throws Exception {
        build(b -> b);
        try (Connection c = ds.getConnection()) {
            assertThat(serverPort(c)).isEqualTo(PgPair.port(pg.a));
            write(c, 1_000_001);
        }
        assertThat(ds.leader()).contains("a");
        assertThat(ds.epoch()).isEqualTo(a.dcs().read().leader().epoch()).isNotZero();
        ClusterView v = a.dcs().read();
        assertThat(v.members().keySet()).containsExactly("a", "b");
        // Every ephemeral znode of the scope belongs to a's or b's session: the DataSource's client owns none.
        try (var admin = org.apache.curator.framework.CuratorFrameworkFactory.newClient(zk.getConnectString(),
                new org.apache.curator.retry.RetryOneTime(100))) {
            admin.start();
            admin.blockUntilConnected();
            String root = "/service/" + scope;
            java.util.Set<Long> owners = new java.util.HashSet<>();
            for (String p : new String[] {root + "/leader", root + "/members/a", root + "/members/b"}) {
                owners.add(admin.checkExists().forPath(p).getEphemeralOwner());
            }
            assertThat(owners).hasSize(2).doesNotContain(0L);
            assertThat(admin.getChildren().forPath(root + "/members")).containsExactlyInAnyOrder("a", "b");
        }
    }

    @Test
    void readsGoToAReplicaWithinMaxLagAndFallBackToTheLeader() throws Exception {
        build(x -> x.role(TargetRole.REPLICA).maxLag(DataSize.ofMegabytes(16)));
        try (Connection c = ds.getConnection()) {
            assertThat(serverPort(c)).isEqualTo(PgPair.port(pg.b));
        }
        b.publish(Role.REPLICA, PgPair.connUrl(pg.b), GB - 100L * (1 << 20)); // 100 MB behind
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            try (Connection c = ds.getConnection()) {
                assertThat(serverPort(c)).isEqualTo(PgPair.port(pg.a));
            }
        });
        // The primary view of the same DataSource is not affected by the read role.
        try (Connection c = ds.withRole(TargetRole.PRIMARY).getConnection()) {
            assertThat(serverPort(c)).isEqualTo(PgPair.port(pg.a));
        }
        b.publish(Role.REPLICA, PgPair.connUrl(pg.b), GB);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            try (Connection c = ds.getConnection()) {
                assertThat(serverPort(c)).isEqualTo(PgPair.port(pg.b));
            }
        });
    }

    @Test
    void aLeaderTurnedReadOnlyInPlaceGetsNoWriteConnectionWhileTheStoreStillNamesIt() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        build(x -> x.leaderWait(Duration.ofSeconds(2)).metrics(registry));
        for (int i = 0; i < 4; i++) {
            try (Connection c = ds.getConnection()) {
                write(c, 2_000_000 + i);
            }
        }
        PgPair.setReadOnly(pg.a, true);
        Thread.sleep(700); // longer than Hikari's alive-bypass window (500 ms): idle connections are verified
        long start = System.nanoTime();
        assertThatThrownBy(ds::getConnection).isInstanceOf(SQLException.class)
                .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo(FailoverErrors.NO_LEADER))
                .hasMessageContaining("leader a").hasMessageContaining(scope);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(1900),
                Duration.ofSeconds(10));
        assertThat(ds.leader()).contains("a"); // the store was never told
        assertThat(registry.get("pgha.jdbc.retries").tag("role", "primary").tag("reason", "connect").counter()
                .count()).as("attempts the borrow retried before giving up").isGreaterThanOrEqualTo(2.0);
        PgPair.setReadOnly(pg.a, false);
        // Writable again: the pool refills (Hikari's adder backs off after the refused attempts, so not instantly).
        await().atMost(Duration.ofSeconds(20)).ignoreExceptions().untilAsserted(() -> {
            try (Connection c = ds.getConnection()) {
                write(c, 2_000_100);
            }
        });
    }

    @Test
    void aWriteRefusedWith25006EvictsTheConnection() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        build(x -> x.leaderWait(Duration.ofSeconds(2)).metrics(registry));
        try (Connection c = ds.getConnection()) {
            PgPair.setReadOnly(pg.a, true);
            Thread.sleep(200); // the reload reaches the idle session
            assertThatThrownBy(() -> write(c, 3_000_000)).isInstanceOf(SQLException.class)
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("25006"))
                    .satisfies(e -> assertThat(FailoverErrors.classify((SQLException) e, false))
                            .isEqualTo(FailoverErrors.RECONNECT_AND_RERUN));
            // Evicted at once (Hikari closes it in the application's hands), not returned to the pool.
            assertThat(c.isClosed()).isTrue();
        }
        assertThat(registry.get("pgha.jdbc.evictions").tag("reason", "25006").counter().count()).isEqualTo(1.0);
        assertThat(registry.get("pgha.jdbc.epoch").gauge().value()).isEqualTo((double) ds.epoch());
        assertThat(registry.get("pgha.jdbc.wait").tag("role", "primary").timer().count()).isEqualTo(1);
        assertThat(registry.get("pgha.jdbc.leader").tag("member", "a").gauge().value()).isEqualTo(1.0);
    }

    @Test
    void withTheStoreUnreachableTheLastLeaderIsUsedWhileItVerifies() throws Exception {
        try (TcpProxy proxy = TcpProxy.start("127.0.0.1", zk.getPort())) {
            ds = HaDataSource.builder().dcs(store(proxy.address()), scope).user("postgres").password(PgPair.PASSWORD)
                    .leaderWait(Duration.ofSeconds(2)).refreshInterval(Duration.ofMillis(200))
                    .storeTimeout(Duration.ofSeconds(1)).build();
            try (Connection c = ds.getConnection()) {
                write(c, 4_000_000);
            }
            assertThat(ds.storeReachable()).isTrue();
            proxy.blackhole();
            await().atMost(Duration.ofSeconds(30)).until(() -> !ds.storeReachable());
            for (int i = 1; i <= 3; i++) {
                try (Connection c = ds.getConnection()) {
                    assertThat(serverPort(c)).isEqualTo(PgPair.port(pg.a));
                    write(c, 4_000_000 + i);
                }
            }
            assertThat(ds.leader()).contains("a");
            PgPair.setReadOnly(pg.a, true);
            Thread.sleep(700);
            assertThatThrownBy(ds::getConnection).isInstanceOf(SQLException.class)
                    .hasMessageContaining("store is unreachable")
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("08001"));
            PgPair.setReadOnly(pg.a, false);
            proxy.heal();
            await().atMost(Duration.ofSeconds(30)).until(ds::storeReachable);
        }
    }

    @Test
    void anUnknownScopeFailsAfterLeaderWaitNamingTheScopeAndTheStore() {
        ds = HaDataSource.builder().dcs(store(zk.getConnectString()), "no-such-scope").user("postgres")
                .leaderWait(Duration.ofSeconds(1)).build();
        long start = System.nanoTime();
        assertThatThrownBy(ds::getConnection).isInstanceOf(SQLException.class)
                .hasMessageContaining("no-such-scope").hasMessageContaining(zk.getConnectString())
                .hasMessageContaining("leader key is absent")
                .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("08001"));
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(900),
                Duration.ofSeconds(10));
    }

    @Test
    void aDrainingLeaderIsSeenAtOnceNotOnTheNextPeriodicRead() throws Exception {
        // The default refreshInterval (5 s): only the member-key watch can bring the flag sooner.
        ds = HaDataSource.builder().dcs(store(zk.getConnectString()), scope).user("postgres")
                .password(PgPair.PASSWORD).build();
        await("the first read").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                .until(() -> ds.topology().members().containsKey("a"));
        // Right after a read: the next periodic one is about 5 s away.
        a.publish(Role.PRIMARY, PgPair.connUrl(pg.a), GB, true);
        long published = System.nanoTime();
        await("the DataSource sees the leader draining").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(10)).until(() -> ds.topology().members().get("a").draining());
        assertThat(Duration.ofNanos(System.nanoTime() - published)).as("seen through the member watch, not the 5 s "
                + "re-read").isLessThan(Duration.ofSeconds(2));
    }

    @Test
    void aWriteBorrowIsHeldWhileTheLeaderDrainsAndGoesOnWhenTheDrainEnds() throws Exception {
        // drainWait and leaderWait far longer than the test: only the end of the drain can release the borrow.
        build(x -> x.leaderWait(Duration.ofSeconds(60)).drainWait(Duration.ofSeconds(60)));
        try (Connection c = ds.getConnection()) {
            write(c, 5_000_000);
        }
        a.publish(Role.PRIMARY, PgPair.connUrl(pg.a), GB, true);
        await("the DataSource sees the leader draining").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(20)).until(() -> ds.topology().members().get("a").draining());
        AtomicLong drainEnded = new AtomicLong();
        CompletableFuture<Long> borrow = CompletableFuture.supplyAsync(() -> {
            try (Connection c = ds.getConnection()) {
                long got = System.nanoTime();
                write(c, 5_000_001);
                assertThat(serverPort(c)).isEqualTo(PgPair.port(pg.a));
                return got;
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        });
        // Still held after several store reads (refreshInterval 200 ms): the flag, not a race, holds it.
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).until(() -> !borrow.isDone());
        drainEnded.set(System.nanoTime());
        a.publish(Role.PRIMARY, PgPair.connUrl(pg.a), GB, false);
        long got = borrow.get(30, TimeUnit.SECONDS);
        assertThat(got - drainEnded.get()).as("the borrow went on only after the drain ended").isPositive();
    }

    @Test
    void aDrainThatOutlastsDrainWaitDoesNotFailTheBorrow() throws Exception {
        build(x -> x.drainWait(Duration.ofSeconds(1)));
        a.publish(Role.PRIMARY, PgPair.connUrl(pg.a), GB, true);
        await("the DataSource sees the leader draining").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(20)).until(() -> ds.topology().members().get("a").draining());
        // The leader never stops draining: after drainWait the borrow goes to it rather than fail.
        try (Connection c = ds.getConnection()) {
            write(c, 5_000_002);
            assertThat(serverPort(c)).isEqualTo(PgPair.port(pg.a));
        }
        assertThat(ds.topology().members().get("a").draining()).isTrue();
    }
}
