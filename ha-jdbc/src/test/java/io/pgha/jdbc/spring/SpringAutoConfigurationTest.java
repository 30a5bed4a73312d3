package io.pgha.jdbc.spring;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.pgha.core.testkit.TestPorts;
import io.pgha.jdbc.HaDataSource;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.dao.DataAccessException;
import org.springframework.dao.DataAccessResourceFailureException;
import org.springframework.dao.TransientDataAccessException;
import org.springframework.dao.TransientDataAccessResourceException;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.support.JdbcTransactionManager;
import org.springframework.jdbc.support.SQLExceptionSubclassTranslator;
import org.springframework.transaction.PlatformTransactionManager;

/**
 * The auto-configuration without a database: which DataSource the application gets, how bad properties stop it,
 * the exception translation, metrics and the health verdict without a leader. Run on Boot 3.5 and, by the
 * {@code spring-boot-4} surefire execution, on Boot 4.0.
 */
@Timeout(120)
class SpringAutoConfigurationTest {

    /** An address nobody listens on: the DataSource is built, but never learns a leader. */
    private static String dead;

    @BeforeAll
    static void bootLine() throws Exception {
        SpringTestSupport.checkBootLine();
        dead = "127.0.0.1:" + TestPorts.freePort();
    }

    private ApplicationContextRunner pgha(String... more) {
        return SpringTestSupport.runner().withPropertyValues("pgha.datasource.scope=orders",
                "pgha.datasource.rest-urls=http://" + dead, "pgha.datasource.username=app",
                "pgha.datasource.leader-wait=2s").withPropertyValues(more);
    }

    /** The same with a store source (ZooKeeper at a dead address): for the dcs.* properties. */
    private ApplicationContextRunner store(String... more) {
        return SpringTestSupport.runner().withPropertyValues("pgha.datasource.scope=orders",
                "pgha.datasource.dcs.type=zookeeper", "pgha.datasource.dcs.hosts=" + dead,
                "pgha.datasource.dcs.settings.standalone=true", "pgha.datasource.username=app",
                "pgha.datasource.leader-wait=2s").withPropertyValues(more);
    }

    @Test
    void pghaPropertiesMakeTheDataSourceAnHaDataSourceAndBootsOwnBacksOff() {
        for (ApplicationContextRunner r : java.util.List.of(pgha(), store())) {
            r.run(ctx -> {
                assertThat(ctx).hasNotFailed();
                assertThat(ctx).hasSingleBean(DataSource.class);
                assertThat(ctx.getBean(DataSource.class)).isInstanceOf(HaDataSource.class);
                assertThat(ctx.getBean(DataSource.class).toString()).contains("orders");
            });
        }
    }

    @Test
    void withoutPghaPropertiesNothingChanges() {
        SpringTestSupport.runner().withPropertyValues("spring.datasource.url=jdbc:postgresql://127.0.0.1:1/x")
                .run(ctx -> {
                    assertThat(ctx).hasNotFailed();
                    assertThat(ctx).doesNotHaveBean(HaDataSource.class);
                    assertThat(ctx.getBean(DataSource.class).getClass().getName()).contains("Hikari");
                });
    }

    @Test
    void anApplicationsOwnDataSourceWins() {
        pgha().withBean("mine", DataSource.class, () -> HaDataSource.builder()
                        .restUrls(java.util.List.of("http://127.0.0.1:1"), "mine").user("u").build())
                .run(ctx -> {
                    assertThat(ctx).hasNotFailed();
                    assertThat(ctx).hasSingleBean(DataSource.class);
                    assertThat(ctx.getBean(DataSource.class).toString()).contains("mine");
                });
    }

    @Test
    void routeReadOnlyIsOnByDefaultSoConnectionsBorrowAtFirstUse() {
        // With routing, getConnection() hands out the lazy handler at once, even with no leader anywhere; without
        // it, it waits leaderWait for a leader and fails.
        pgha().run(ctx -> {
            try (var c = ctx.getBean(DataSource.class).getConnection()) {
                assertThat(c.toString()).contains("not connected yet");
            }
        });
        pgha("pgha.datasource.route-read-only=false").run(ctx -> {
            DataSource ds = ctx.getBean(DataSource.class);
            try (var c = ds.getConnection()) {
                throw new AssertionError("borrowed without a leader: " + c);
            } catch (SQLException e) {
                assertThat(e.getSQLState()).isEqualTo("08001");
            }
        });
    }

    private static void failsNaming(ApplicationContextRunner runner, String... words) {
        runner.run(ctx -> {
            assertThat(ctx).hasFailed();
            Throwable root = ctx.getStartupFailure();
            StringBuilder all = new StringBuilder();
            for (Throwable t = root; t != null; t = t.getCause()) {
                all.append(t.getMessage()).append('\n');
            }
            assertThat(all.toString()).contains(words);
        });
    }

    @Test
    void badPropertiesStopTheApplicationNamingThePropertyAndTheRule() {
        failsNaming(pgha("pgha.datasource.leader-wait=0s"), "pgha.datasource.leader-wait must be > 0");
        failsNaming(pgha("pgha.datasource.drain-wait=5s"),
                "pgha.datasource.drain-wait must be <= pgha.datasource.leader-wait (got 5s > 2s)");
        failsNaming(pgha("pgha.datasource.hikari.connection-timeout=1000"),
                "pgha.datasource.hikari.connection-timeout must not be set", "leader-wait");
        failsNaming(pgha("pgha.datasource.properties.targetServerType=any"),
                "pgha.datasource.properties.targetServerType is set by HaDataSource itself",
                "use pgha.datasource.username/password for credentials");
        failsNaming(pgha("pgha.datasource.username="), "pgha.datasource.username must be a non-empty string");
        failsNaming(store("pgha.datasource.dcs.type=redis"),
                "pgha.datasource.dcs.type must be zookeeper, etcd or consul (got 'redis')");
        failsNaming(store("pgha.datasource.dcs.settings.tick_time=500"),
                "with message: pgha.datasource.dcs.settings.tick_time: not a setting of the zookeeper store module");
        failsNaming(store("pgha.datasource.rest-urls=http://127.0.0.1:8008"),
                "pgha.datasource.dcs.type and pgha.datasource.rest-urls: set one source, not both");
        failsNaming(pgha("pgha.datasource.max-lag=-1MB"), "pgha.datasource.max-lag must be a size >= 0");
        failsNaming(SpringTestSupport.runner().withPropertyValues("pgha.datasource.username=app"),
                "pgha.datasource.dcs.type or pgha.datasource.rest-urls must be set");
        failsNaming(SpringTestSupport.runner().withPropertyValues("pgha.datasource.rest-urls=ftp://x",
                "pgha.datasource.scope=orders", "pgha.datasource.username=app"), "pgha.datasource.rest-urls: each "
                + "must be an http(s) base URL");
        failsNaming(SpringTestSupport.runner().withPropertyValues("pgha.datasource.rest-urls=https://127.0.0.1:8008",
                "pgha.datasource.scope=orders", "pgha.datasource.username=app",
                "pgha.datasource.rest-tls.cacert=/nonexistent/pgha/ca.pem"),
                "pgha.datasource.rest-tls.cacert: the file /nonexistent/pgha/ca.pem does not exist");
        failsNaming(SpringTestSupport.runner().withPropertyValues("pgha.datasource.rest-urls=https://127.0.0.1:8008",
                "pgha.datasource.scope=orders", "pgha.datasource.username=app",
                "pgha.datasource.rest-tls.keyfile=/nonexistent/pgha/client.key"),
                "pgha.datasource.rest-tls.keyfile needs pgha.datasource.rest-tls.certfile");
    }

    /** A member on a dead ZooKeeper address with complete settings (and a DataSource): each case breaks one rule. */
    private ApplicationContextRunner member(String... more) {
        return pgha().withPropertyValues("pgha.member.name=m1", "pgha.member.scope=orders",
                "pgha.member.dcs.type=zookeeper", "pgha.member.dcs.hosts=" + dead,
                "pgha.member.dcs.settings.standalone=true", "pgha.member.postgres.bin-dir=/usr/lib/postgresql/15/bin",
                "pgha.member.postgres.data-dir=/tmp/pgha-never/data", "pgha.member.postgres.node-dir=/tmp/pgha-never/node",
                "pgha.member.postgres.listen-host=127.0.0.1", "pgha.member.postgres.connect-host=127.0.0.1",
                "pgha.member.postgres.listen-port=" + dead.substring(dead.indexOf(':') + 1),
                "pgha.member.postgres.superuser-password=pw", "pgha.member.postgres.replication-password=rpw",
                "pgha.member.rest.port=0", "pgha.member.rest.username=admin", "pgha.member.rest.password=pw",
                "pgha.member.loop-wait=5s")
                .withPropertyValues(more);
    }

    @Test
    void badMemberPropertiesStopTheApplicationNamingThePropertyAndTheRule() {
        failsNaming(member("pgha.member.ttl=10s", "pgha.member.loop-wait=4s", "pgha.member.retry-timeout=4s"),
                "pgha.member.loop-wait + 2*pgha.member.retry-timeout must be <= pgha.member.ttl (got 4s + 2*4s > 10s)");
        failsNaming(member("pgha.member.postgres.node-dir=/tmp/pgha-never/data/node"),
                "pgha.member.postgres.node-dir (/tmp/pgha-never/data/node) must be outside pgha.member.postgres.data-dir");
        failsNaming(member("pgha.member.postgres.superuser-password="),
                "pgha.member.postgres.superuser-password is required");
        failsNaming(member("pgha.member.postgres.parameters.port=5433"),
                "pgha.member.postgres.parameters: port is managed by pgha");
        failsNaming(member("pgha.member.scope=a/b"), "pgha.member.scope must not contain '/'");
        failsNaming(member("pgha.member.name=a b"), "pgha.member.name must not contain '/'");
        failsNaming(member("pgha.member.rest.port=70000"), "pgha.member.rest.port must be 0..65535 (got 70000)");
        failsNaming(member("pgha.member.switchover-drain=-1s"), "pgha.member.switchover-drain must be between 0");
        failsNaming(member("pgha.member.dcs.type="), "pgha.member.dcs.type must be zookeeper, etcd or consul (got '')");
        failsNaming(member("pgha.member.postgres.connect-host="), "pgha.member.postgres.connect-host is required");
    }

    @Test
    void hikariSettingsAreBoundUnderTheirUsualNames() {
        // A value Hikari itself refuses shows the binding reached each member's pool template.
        failsNaming(pgha("pgha.datasource.hikari.maximum-pool-size=0"), "maxPoolSize cannot be less than 1");
        pgha("pgha.datasource.hikari.maximum-pool-size=3").run(ctx -> assertThat(ctx).hasNotFailed());
    }

    @Test
    void theApplicationsMeterRegistryGetsTheRoutingMetrics() {
        pgha().withBean(MeterRegistry.class, SimpleMeterRegistry::new).run(ctx -> {
            assertThat(ctx).hasNotFailed();
            ctx.getBean(DataSource.class);
            assertThat(ctx.getBean(MeterRegistry.class).find("pgha.jdbc.store.reachable").gauge()).isNotNull();
        });
    }

    @Test
    void failoverSqlStatesBecomeTransientInJdbcTemplateAndTheTransactionManager() {
        SQLException rerun = new SQLException("the COMMIT was cut off and it did not commit", "08S02");
        SQLException unknown = new SQLException("the COMMIT was cut off", "08007");
        SQLException noLeader = new SQLException("no leader within leaderWait 2s for scope orders", "08001");
        SQLException refused = new SQLException("cannot execute INSERT in a read-only transaction", "25006");
        // What Spring does by itself: class 08 is a resource failure, not transient.
        assertThat(new SQLExceptionSubclassTranslator().translate("t", null, rerun))
                .isInstanceOf(DataAccessResourceFailureException.class)
                .isNotInstanceOf(TransientDataAccessException.class);
        pgha().run(ctx -> {
            JdbcTemplate jdbc = ctx.getBean(JdbcTemplate.class);
            JdbcTransactionManager tm = (JdbcTransactionManager) ctx.getBean(PlatformTransactionManager.class);
            for (var translator : java.util.List.of(jdbc.getExceptionTranslator(), tm.getExceptionTranslator())) {
                assertThat(translator.translate("t", null, rerun)).isInstanceOf(TransientDataAccessResourceException.class);
                assertThat(translator.translate("t", null, noLeader))
                        .isInstanceOf(TransientDataAccessResourceException.class);
                assertThat(translator.translate("t", null, refused))
                        .isInstanceOf(TransientDataAccessResourceException.class);
                DataAccessException u = translator.translate("t", null, unknown);
                assertThat(u).isInstanceOf(CommitOutcomeUnknownException.class)
                        .isInstanceOf(TransientDataAccessException.class);
                // Anything else still goes to Spring's own translation.
                assertThat(translator.translate("t", null, new SQLException("dup", "23505")))
                        .isInstanceOf(org.springframework.dao.DuplicateKeyException.class);
                // The driver's own "server gone": under a statement nothing committed; under COMMIT nobody knows.
                SQLException gone = new SQLException("An I/O error occurred while sending to the backend", "08006");
                assertThat(translator.translate("StatementCallback", "INSERT ...", gone))
                        .isInstanceOf(TransientDataAccessResourceException.class);
                assertThat(translator.translate("JDBC commit", null, gone))
                        .isInstanceOf(CommitOutcomeUnknownException.class);
                assertThat(translator.translate("t", null, new SQLException("terminating connection", "57P01")))
                        .isInstanceOf(TransientDataAccessResourceException.class);
            }
        });
    }

    @Test
    void healthIsDownWithoutALeaderAndSaysWhy() {
        pgha().run(ctx -> {
            assertThat(ctx).hasNotFailed();
            Object indicator = ctx.getBean("pghaHealthIndicator");
            assertThat(SpringTestSupport.healthApi().isInstance(indicator)).as("implements this Boot's API").isTrue();
            var health = SpringTestSupport.health(indicator);
            assertThat(health.getKey()).isEqualTo("DOWN");
            assertThat(health.getValue()).containsEntry("epoch", 0L).containsEntry("error", "no leader known")
                    .doesNotContainKey("leader");
        });
    }
}
