package io.pgha.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.testkit.TestFiles;
import io.pgha.core.testkit.TestPorts;
import io.pgha.core.time.SystemHaClock;
import io.pgha.dcs.zookeeper.ZooKeeperDcs;
import io.pgha.dcs.zookeeper.ZooKeeperSettings;
import io.pgha.jdbc.spring.PghaMember;
import io.pgha.jdbc.spring.SpringTestSupport;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * {@code pgha.member.*} runs a real member (its own PostgreSQL, a real in-JVM ZooKeeper) for the application's
 * lifetime: it starts with the context, becomes the leader, the application's DataSource writes to it, health shows
 * the member, and closing the context stops PostgreSQL and gives the leader key up at once (not after the ttl).
 */
@Timeout(300)
class SpringMemberTest {

    private TestingServer zk;
    private Path base;

    @AfterEach
    void stop() throws Exception {
        if (zk != null) {
            zk.close();
        }
        if (base != null) {
            TestFiles.deleteTree(base);
        }
    }

    @Test
    void aMemberStartsWithTheApplicationAndHandsOverWhenItCloses() throws Exception {
        SpringTestSupport.checkBootLine();
        zk = new TestingServer(new InstanceSpec(null, TestPorts.freePort(), -1, -1, true, -1, 200, -1,
                Map.of("maxSessionTimeout", "60000")), true);
        base = TestFiles.shortTempDir("spmember");
        int pgPort = TestPorts.freePort();
        int restPort = TestPorts.freePort();
        String password = "m-" + System.nanoTime();
        SpringTestSupport.runner().withPropertyValues(
                "pgha.member.name=m1", "pgha.member.scope=shop", "pgha.member.dcs.type=zookeeper",
                "pgha.member.dcs.hosts=" + zk.getConnectString(), "pgha.member.dcs.settings.standalone=true",
                "pgha.member.postgres.bin-dir=" + TestFiles.postgresBinDir(),
                "pgha.member.postgres.data-dir=" + base.resolve("data"),
                "pgha.member.postgres.node-dir=" + base.resolve("node"),
                "pgha.member.postgres.listen-host=127.0.0.1", "pgha.member.postgres.listen-port=" + pgPort,
                "pgha.member.postgres.connect-host=127.0.0.1",
                "pgha.member.postgres.superuser-password=" + password,
                "pgha.member.postgres.replication-password=" + password + "r",
                "pgha.member.postgres.parameters.shared_buffers=16MB", "pgha.member.postgres.parameters.fsync=off",
                "pgha.member.postgres.initdb-args=--encoding=UTF8,--locale=C,--no-sync",
                "pgha.member.rest.listen-host=127.0.0.1", "pgha.member.rest.port=" + restPort,
                "pgha.member.rest.username=admin", "pgha.member.rest.password=" + password,
                "pgha.member.ttl=30s", "pgha.member.loop-wait=1s", "pgha.member.retry-timeout=5s",
                "pgha.datasource.username=postgres", "pgha.datasource.password=" + password,
                "pgha.datasource.leader-wait=60s")
                .run(ctx -> {
                    assertThat(ctx).hasNotFailed();
                    PghaMember member = ctx.getBean(PghaMember.class);
                    assertThat(member.isRunning()).as("started with the context").isTrue();
                    Object indicator = ctx.getBean("pghaHealthIndicator");
                    await().atMost(Duration.ofSeconds(120)).untilAsserted(() -> {
                        var health = SpringTestSupport.health(indicator);
                        assertThat(health.getKey()).isEqualTo("UP");
                        assertThat(health.getValue()).containsEntry("leader", "m1");
                        @SuppressWarnings("unchecked")
                        Map<String, Object> m = (Map<String, Object>) health.getValue().get("member");
                        assertThat(m).containsEntry("role", "PRIMARY").containsEntry("storeReachable", true);
                    });
                    JdbcTemplate jdbc = ctx.getBean(JdbcTemplate.class);
                    jdbc.execute("CREATE TABLE visits (n int)");
                    jdbc.update("INSERT INTO visits VALUES (1)");
                    assertThat(jdbc.queryForObject("SELECT inet_server_port()", Integer.class)).isEqualTo(pgPort);
                });
        // The context is closed: PostgreSQL is down and the leader key is gone now, well within the 30 s ttl.
        assertThat(accepts(pgPort)).as("PostgreSQL stopped").isFalse();
        DcsFactory store = ZooKeeperDcs.connect(ZooKeeperSettings.builder(zk.getConnectString()).standalone().build());
        try (Dcs dcs = store.open(new DcsContext(new KeyLayout(KeyLayout.DEFAULT_NAMESPACE, "shop"), "observer",
                Duration.ofSeconds(30), Duration.ofSeconds(5), SystemHaClock.INSTANCE))) {
            assertThat(dcs.read().isUnlocked()).as("leader key released on close").isTrue();
        }
    }

    private static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            return true;
        } catch (Exception e) {
            return false;
        }
    }
}
