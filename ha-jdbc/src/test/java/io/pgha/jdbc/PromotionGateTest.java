package io.pgha.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgha.core.cluster.Role;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.testkit.TestPorts;
import io.pgha.dcs.zookeeper.ZooKeeperDcs;
import io.pgha.dcs.zookeeper.ZooKeeperSettings;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The leader key reaches b while b is still a standby (it won the lock, its promotion is under way). A write borrow
 * waits for the promotion on a probe connection, without opening b's write pool (whose refused attempts would make
 * Hikari back off up to 5 s), and returns a writable connection once b is promoted; a's write pool is closed at the
 * switch, not kept trying a member that no longer leads.
 */
@Timeout(180)
class PromotionGateTest {

    private static final long GB = 1L << 30;

    @Test
    void aWriteBorrowWaitsOutThePromotionOfANewLeaderWithoutOpeningItsPool() throws Exception {
        try (TestingServer zk = new TestingServer(new InstanceSpec(null, TestPorts.freePort(), -1, -1, true, -1, 200,
                -1, Map.of("maxSessionTimeout", "60000")), true);
             PgPair pg = new PgPair()) {
            DcsFactory store = ZooKeeperDcs.connect(ZooKeeperSettings.builder(zk.getConnectString()).standalone()
                    .build());
            try (MemberKeys a = new MemberKeys(store, "orders", "a");
                 MemberKeys b = new MemberKeys(store, "orders", "b");
                 HaDataSource ds = HaDataSource.builder().dcs(store, "orders").user("postgres")
                         .password(PgPair.PASSWORD).leaderWait(Duration.ofSeconds(30)).build()) {
                a.publish(Role.PRIMARY, PgPair.connUrl(pg.a), GB);
                b.publish(Role.REPLICA, PgPair.connUrl(pg.b), GB);
                assertThat(a.lead()).isTrue();
                try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
                    s.execute("INSERT INTO writes VALUES (1, inet_server_port())");
                }
                assertThat(writePools(ds, "a")).isTrue();

                // b wins the lock; its promotion has not started.
                assertThat(a.release()).isTrue();
                assertThat(b.lead()).isTrue();
                await().atMost(Duration.ofSeconds(10)).until(() -> ds.leader().orElse("").equals("b"));
                CompletableFuture<Boolean> borrow = CompletableFuture.supplyAsync(() -> {
                    try (Connection c = ds.getConnection(); Statement s = c.createStatement();
                         ResultSet rs = s.executeQuery("SELECT pg_is_in_recovery()")) {
                        rs.next();
                        boolean inRecovery = rs.getBoolean(1);
                        s.execute("INSERT INTO writes VALUES (2, inet_server_port())");
                        return inRecovery;
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                await().atMost(Duration.ofSeconds(10)).until(() -> !writePools(ds, "a"));
                // While b is in recovery the borrow waits and b has no write pool.
                long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
                while (System.nanoTime() < until) {
                    assertThat(borrow).as("a write borrow returned while b was a standby").isNotDone();
                    assertThat(writePools(ds, "b")).as("b's write pool opened while b was a standby").isFalse();
                    Thread.sleep(20);
                }

                pg.b.promote(2);
                assertThat(borrow.get(30, TimeUnit.SECONDS)).as("the borrowed connection was in recovery").isFalse();
                assertThat(writePools(ds, "b")).isTrue();
                assertThat(PgPair.count(pg.b, "seq = 2 AND port = " + PgPair.port(pg.b))).isEqualTo(1);
            }
        }
    }

    private static boolean writePools(HaDataSource ds, String member) {
        return ds.poolKeys().stream().anyMatch(k -> k.write() && k.member().equals(member));
    }
}
