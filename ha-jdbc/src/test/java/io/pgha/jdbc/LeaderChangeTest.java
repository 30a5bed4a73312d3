package io.pgha.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

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
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A writer through HaDataSource while the leader key moves from a to b, on ZooKeeper and on etcd. b is promoted while
 * a stays up and writable (two primaries, as after a partition): only the leader key says which one is legitimate, so
 * every write that reaches a after the DataSource switched is a routing failure.
 */
@Timeout(180)
class LeaderChangeTest {

    private static final long GB = 1L << 30;

    @Test
    void aWriterFollowsTheLeaderKeyOnZooKeeper() throws Exception {
        try (TestingServer zk = new TestingServer(new InstanceSpec(null, TestPorts.freePort(), -1, -1, true, -1, 200,
                -1, Map.of("maxSessionTimeout", "60000")), true)) {
            writerFollowsTheLeaderKey(ZooKeeperDcs.connect(ZooKeeperSettings.builder(zk.getConnectString())
                    .standalone().build()));
        }
    }

    @Test
    void aWriterFollowsTheLeaderKeyOnEtcd() throws Exception {
        Path dir = TestFiles.shortTempDir("jdbc-etcd");
        try (EtcdServer etcd = EtcdServer.start(dir)) {
            writerFollowsTheLeaderKey(EtcdDcs.connect(etcd.clientUrl().toString()));
        } finally {
            TestFiles.deleteTree(dir);
        }
    }

    private void writerFollowsTheLeaderKey(DcsFactory store) throws Exception {
        List<SQLException> errors = new CopyOnWriteArrayList<>();
        AtomicLong seq = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        try (PgPair pg = new PgPair();
             MemberKeys a = new MemberKeys(store, "orders", "a");
             MemberKeys b = new MemberKeys(store, "orders", "b")) {
            a.publish(Role.PRIMARY, PgPair.connUrl(pg.a), GB);
            b.publish(Role.REPLICA, PgPair.connUrl(pg.b), GB);
            assertThat(a.lead()).isTrue();
            try (HaDataSource ds = HaDataSource.builder().dcs(store, "orders").user("postgres")
                    .password(PgPair.PASSWORD).leaderWait(Duration.ofSeconds(10)).build()) {
                Thread writer = new Thread(() -> {
                    while (!stop.get()) {
                        long n = seq.incrementAndGet();
                        try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
                            s.execute("INSERT INTO writes VALUES (" + n + ", inet_server_port())");
                        } catch (SQLException e) {
                            errors.add(e);
                        }
                    }
                }, "writer");
                writer.start();
                try {
                    await().atMost(Duration.ofSeconds(30)).until(() -> PgPair.count(pg.a, "true") >= 50);
                    long epochBefore = ds.epoch();
                    // Two primaries from here on; the store decides.
                    pg.b.promote(2);
                    b.publish(Role.PRIMARY, PgPair.connUrl(pg.b), GB);
                    assertThat(a.release()).isTrue();
                    assertThat(b.lead()).isTrue();
                    long keyMoved = System.nanoTime();
                    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(1))
                            .until(() -> ds.leader().orElse("").equals("b"));
                    long routingMs = (System.nanoTime() - keyMoved) / 1_000_000;
                    long switchedAt = seq.get();
                    System.out.printf("leader key moved -> routing moved in %d ms (store %s)%n", routingMs, store);
                    assertThat(ds.epoch()).isNotEqualTo(epochBefore);
                    await().atMost(Duration.ofSeconds(30))
                            .until(() -> PgPair.count(pg.b, "seq > " + switchedAt) >= 50);
                    stop.set(true);
                    writer.join(30_000);
                    // Nothing started after the switch reached the old primary, though it still accepts writes.
                    assertThat(PgPair.count(pg.a, "seq > " + switchedAt)).isZero();
                    try (Connection c = PgPair.connect(pg.a); Statement s = c.createStatement()) {
                        s.execute("INSERT INTO writes VALUES (-1, 0)"); // a is still writable: routing did it
                    }
                    assertThat(errors).as("the writer saw no error across the switch").isEmpty();
                    assertThat(routingMs).as("routing moved within 2 s of the key").isLessThan(2000);
                } finally {
                    stop.set(true);
                    writer.join(30_000);
                }
            }
        }
    }
}
