package io.pgha.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.DataSize;
import io.pgha.core.postgres.LocalPostgres;
import io.pgha.core.spi.DaemonThreadFactory;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.testkit.TestPorts;
import io.pgha.dcs.zookeeper.ZooKeeperDcs;
import io.pgha.dcs.zookeeper.ZooKeeperSettings;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Real lag, not a published number: b streams from a through a TCP proxy, and the member keys carry the servers' own
 * positions (a's current WAL position, b's received position), re-published every 200 ms as an agent would. The
 * proxy is cut and a writes 40 MB: b falls behind by more than maxLag (16 MB) and reads leave it; healed, b catches up
 * and reads come back to it.
 */
@Timeout(240)
class ReplicaLagTest {

    @Test
    void aReplicaMadeToLagThroughTheProxyIsSkippedByReadsUntilItCatchesUp() throws Exception {
        ScheduledExecutorService agent = Executors.newSingleThreadScheduledExecutor(
                new DaemonThreadFactory("positions"));
        try (TestingServer zk = new TestingServer(new InstanceSpec(null, TestPorts.freePort(), -1, -1, true, -1, 200,
                -1, Map.of("maxSessionTimeout", "60000")), true);
             PgPair pg = new PgPair(true)) {
            DcsFactory store = ZooKeeperDcs.connect(ZooKeeperSettings.builder(zk.getConnectString()).standalone()
                    .build());
            try (MemberKeys a = new MemberKeys(store, "orders", "a");
                 MemberKeys b = new MemberKeys(store, "orders", "b")) {
                publish(pg, a, b);
                assertThat(a.lead()).isTrue();
                agent.scheduleWithFixedDelay(() -> {
                    try {
                        publish(pg, a, b);
                    } catch (Exception e) {
                        // the next round publishes again
                    }
                }, 200, 200, TimeUnit.MILLISECONDS);
                try (HaDataSource ds = HaDataSource.builder().dcs(store, "orders").user("postgres")
                        .password(PgPair.PASSWORD).role(TargetRole.REPLICA).maxLag(DataSize.ofMegabytes(16))
                        .leaderWait(Duration.ofSeconds(20)).build()) {
                    int pa = PgPair.port(pg.a);
                    int pb = PgPair.port(pg.b);
                    await().atMost(Duration.ofSeconds(20)).until(() -> readPort(ds) == pb);

                    pg.replication.blackhole();
                    try (Connection c = PgPair.connect(pg.a); Statement s = c.createStatement()) {
                        s.execute("CREATE TABLE filler AS SELECT g AS id, repeat('x', 400) AS pad "
                                + "FROM generate_series(1, 80000) g");
                    }
                    long lag = position(pg.a, "pg_current_wal_lsn()") - position(pg.b, "pg_last_wal_receive_lsn()");
                    assertThat(lag).as("b's real lag behind a").isGreaterThan(16L << 20);
                    // Once the keys say so, every read goes to the leader, though b still answers.
                    await().atMost(Duration.ofSeconds(20)).until(() -> readPort(ds) == pa);
                    for (int i = 0; i < 20; i++) {
                        assertThat(readPort(ds)).as("read " + i + " while b lags").isEqualTo(pa);
                    }

                    pg.replication.heal();
                    await().atMost(Duration.ofSeconds(60)).until(() -> readPort(ds) == pb);
                    assertThat(position(pg.a, "pg_current_wal_lsn()") - position(pg.b, "pg_last_wal_receive_lsn()"))
                            .isLessThanOrEqualTo(16L << 20);
                }
            }
        } finally {
            agent.shutdownNow();
        }
    }

    /** What an agent would publish: the leader's WAL position, the replica's received position. */
    private static void publish(PgPair pg, MemberKeys a, MemberKeys b) throws Exception {
        a.publish(Role.PRIMARY, PgPair.connUrl(pg.a), position(pg.a, "pg_current_wal_lsn()"));
        b.publish(Role.REPLICA, PgPair.connUrl(pg.b), position(pg.b, "pg_last_wal_receive_lsn()"));
    }

    private static long position(LocalPostgres p, String function) throws SQLException {
        try (Connection c = PgPair.connect(p); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT " + function + "::text")) {
            r.next();
            return Lsn.parse(r.getString(1)).value();
        }
    }

    private static int readPort(HaDataSource ds) throws SQLException {
        try (Connection c = ds.getConnection(); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT inet_server_port()")) {
            r.next();
            return r.getInt(1);
        }
    }
}
