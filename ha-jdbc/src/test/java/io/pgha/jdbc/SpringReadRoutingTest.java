package io.pgha.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.pgha.jdbc.spring.SpringTestSupport;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.dao.TransientDataAccessResourceException;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.transaction.annotation.Transactional;

/**
 * A Spring application on a real primary a and its streaming standby b, routed by ZooKeeper member keys, configured
 * only by properties: {@code @Transactional(readOnly = true)} reads from the standby, other transactions write to
 * the primary, the health indicator follows the leader, and a borrow that finds no leader reaches the application as
 * a transient exception. Run on Boot 3.5 and (surefire execution {@code spring-boot-4}) on Boot 4.0.
 */
@Timeout(240)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SpringReadRoutingTest {

    @AutoClose
    private RoutedPair cluster;
    private PgPair pg;
    private MemberKeys a;
    private int aPort;
    private int bPort;

    /** The application's service: how Spring users say which transactions only read. */
    public static class Orders {

        private final JdbcTemplate jdbc;

        public Orders(JdbcTemplate jdbc) {
            this.jdbc = jdbc;
        }

        @Transactional(readOnly = true)
        public int readServerPort() {
            return jdbc.queryForObject("SELECT inet_server_port()", Integer.class);
        }

        @Transactional
        public int write(long seq) {
            jdbc.update("INSERT INTO writes VALUES (?, inet_server_port())", seq);
            return jdbc.queryForObject("SELECT inet_server_port()", Integer.class);
        }
    }

    @BeforeAll
    void cluster() throws Exception {
        SpringTestSupport.checkBootLine();
        cluster = new RoutedPair();
        pg = cluster.pg;
        a = cluster.a;
        aPort = cluster.aPort;
        bPort = cluster.bPort;
    }

    private ApplicationContextRunner app() {
        return SpringTestSupport.runner().withBean(Orders.class).withPropertyValues(
                "pgha.datasource.dcs.type=zookeeper", "pgha.datasource.dcs.hosts=" + cluster.zk.getConnectString(),
                "pgha.datasource.dcs.settings.standalone=true", "pgha.datasource.scope=orders",
                "pgha.datasource.username=postgres", "pgha.datasource.password=" + PgPair.PASSWORD,
                "pgha.datasource.leader-wait=3s", "pgha.datasource.hikari.maximum-pool-size=4");
    }

    @Test
    void readOnlyTransactionsReadFromTheStandbyAndOthersWriteToThePrimary() {
        app().run(ctx -> {
            assertThat(ctx).hasNotFailed();
            Orders orders = ctx.getBean(Orders.class);
            assertThat(orders.readServerPort()).as("@Transactional(readOnly = true)").isEqualTo(bPort);
            assertThat(orders.write(2001)).as("@Transactional").isEqualTo(aPort);
            assertThat(orders.readServerPort()).as("read-only again, on the same pool").isEqualTo(bPort);
            assertThat(PgPair.count(pg.a, "seq = 2001 AND port = " + aPort)).isEqualTo(1);
        });
        // The property turns it off: the leader serves read-only transactions too.
        app().withPropertyValues("pgha.datasource.route-read-only=false").run(ctx ->
                assertThat(ctx.getBean(Orders.class).readServerPort()).isEqualTo(aPort));
    }

    @Test
    void healthFollowsTheLeaderAndANoLeaderBorrowIsTransient() throws Exception {
        app().run(ctx -> {
            Object indicator = ctx.getBean("pghaHealthIndicator");
            // The DataSource learns the topology in the background after startup.
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(SpringTestSupport.health(indicator).getKey()).isEqualTo("UP"));
            var up = SpringTestSupport.health(indicator);
            assertThat(up.getValue()).containsEntry("leader", "a").containsEntry("storeReachable", true);
            assertThat((Long) up.getValue().get("epoch")).isPositive();
            try {
                assertThat(a.release()).isTrue();
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                        assertThat(SpringTestSupport.health(indicator).getKey()).isEqualTo("DOWN"));
                // The borrow happens at the first statement, so its 08001 goes through Spring's translation.
                assertThatThrownBy(() -> ctx.getBean(Orders.class).write(2002))
                        .isInstanceOf(TransientDataAccessResourceException.class)
                        .hasMessageContaining("no leader");
            } finally {
                assertThat(a.lead()).isTrue();
            }
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(SpringTestSupport.health(indicator).getKey()).isEqualTo("UP"));
            assertThat(ctx.getBean(Orders.class).write(2003)).isEqualTo(aPort);
        });
    }

    @Test
    void aReplicaDownLeavesHealthUpAndReadsFallBackToTheLeader() throws Exception {
        app().run(ctx -> {
            Object indicator = ctx.getBean("pghaHealthIndicator");
            Orders orders = ctx.getBean(Orders.class);
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(orders.readServerPort()).isEqualTo(bPort));
            // b's member key now points at a port nobody listens on: the replica is down as far as clients go.
            int dead = io.pgha.core.testkit.TestPorts.freePort();
            try {
                cluster.b.publish(io.pgha.core.cluster.Role.REPLICA, "postgres://127.0.0.1:" + dead + "/postgres",
                        1L << 30);
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                        assertThat(orders.readServerPort()).as("read-only falls back to the leader").isEqualTo(aPort));
                assertThat(SpringTestSupport.health(indicator).getKey()).isEqualTo("UP");
            } finally {
                cluster.b.publish(io.pgha.core.cluster.Role.REPLICA, PgPair.connUrl(pg.b), 1L << 30);
            }
        });
    }

    @Test
    void springDatasourceUrlWithAPghaUrlWorksThroughTheDriver() {
        SpringTestSupport.runner().withBean(Orders.class).withPropertyValues(
                "spring.datasource.url=jdbc:pgha:zookeeper://" + cluster.zk.getConnectString()
                        + "/orders/postgres?dcs.standalone=true",
                "spring.datasource.username=postgres", "spring.datasource.password=" + PgPair.PASSWORD)
                .run(ctx -> {
                    assertThat(ctx).hasNotFailed();
                    DataSource ds = ctx.getBean(DataSource.class);
                    assertThat(ds).isNotInstanceOf(HaDataSource.class);
                    assertThat(ctx.getBean(Orders.class).write(2004)).isEqualTo(aPort);
                });
    }
}
