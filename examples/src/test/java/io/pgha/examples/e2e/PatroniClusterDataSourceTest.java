package io.pgha.examples.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.HostPort;
import io.pgha.core.spi.Dcs;
import io.pgha.jdbc.HaDataSource;
import io.pgha.jdbc.HaDataSourceBuilder;
import io.pgha.jdbc.PghaDriver;
import io.pgha.jdbc.TargetRole;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Issue 10 against the real thing: the routing DataSource follows a <b>Patroni 3.0.2</b> cluster (Debian's
 * {@code patroni}, two members on a real etcd through its v3 gateway), with nothing of pgha in the cluster. pgha keeps
 * Patroni's key layout and {@code /cluster} document, so the DataSource reads Patroni's keys through the read-only
 * {@code ha-dcs-etcd} adapter, Patroni's REST API, and the {@code jdbc:pgha:etcd://} URL, unchanged. Each test runs a
 * writer through one of them while {@code patronictl switchover} moves the leadership to the other member.
 *
 * <p>Patroni does not drain: its leader shuts PostgreSQL down under open transactions, so some of the writer's
 * transactions fail during the switchover. They are counted and printed, not forbidden; what must hold is that the
 * writer resumes on the new leader without a new DataSource, loses no acknowledged row, and never waits unbounded.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 5, unit = java.util.concurrent.TimeUnit.MINUTES)
class PatroniClusterDataSourceTest {

    private static final Duration WRITE_PAUSE = Duration.ofMillis(20);
    private static final Duration LEADER_WAIT = Duration.ofSeconds(30);

    private PatroniCluster cluster;
    private PatroniCtl patronictl;

    @RegisterExtension
    final TestWatcher diagnostics = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            if (cluster != null) {
                System.out.println(cluster.diagnostics());
            }
        }
    };

    @BeforeAll
    void startPatroni() throws Exception {
        cluster = PatroniCluster.create("patroni-" + UUID.randomUUID().toString().substring(0, 6), 2);
        try {
            cluster.startAll(Duration.ofSeconds(120));
        } catch (RuntimeException | Error e) {
            System.out.println(cluster.diagnostics());
            throw e;
        }
        patronictl = new PatroniCtl(cluster.members.get(0).config);
    }

    @AfterAll
    void stopPatroni() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    @Order(1)
    void pghaReadsPatronisKeysInTheEtcdV3Keyspace() throws Exception {
        PatroniMember leader = cluster.awaitHealthy(cluster.members, Duration.ofSeconds(60));
        ClusterView view = cluster.store.read(cluster.scope);
        assertThat(view.problems()).as("values pgha could not decode").isEmpty();
        assertThat(view.undecodable()).as("keys pgha could not decode").isEmpty();
        assertThat(view.leaderName()).contains(leader.name);
        assertThat(view.leader().epoch()).as("the leader key's epoch (its etcd create_revision)").isPositive();
        assertThat(view.initialize()).as("the initialize key: PostgreSQL's system identifier")
                .isEqualTo(Sql.systemId(leader));
        assertThat(view.config().ttl()).as("bootstrap.dcs ttl, as Patroni wrote the config key")
                .contains(PatroniCluster.TIMINGS.ttl());
        assertThat(view.members().keySet()).containsExactlyInAnyOrder("pt1", "pt2");
        for (PatroniMember m : cluster.members) {
            Member key = view.members().get(m.name);
            assertThat(key.postgresAddress()).as(m.name + "'s conn_url").contains(new HostPort("127.0.0.1", m.pgPort));
            // Patroni 3.x says "master"; pgha reads it as the primary.
            assertThat(key.role()).as(m.name + "'s role").isEqualTo(m == leader ? Role.PRIMARY : Role.REPLICA);
            assertThat(key.isRunning()).as(m.name + "'s state " + key.state()).isTrue();
            assertThat(key.walPosition()).as(m.name + "'s xlog_location").isNotNull();
            assertThat(key.apiUrl()).isEqualTo(m.restUrl() + "/patroni");
        }
    }

    @Test
    @Order(2)
    void aWriterThroughTheEtcdSourceFollowsAPatroniSwitchover() throws Exception {
        try (Dcs dcs = cluster.store.openReadOnly(cluster.scope, "e2e-patroni-jdbc");
                HaDataSource ds = builder().dcs(dcs).name("patroni-etcd").build()) {
            followsASwitchover("etcd", ds, ds.withRole(TargetRole.REPLICA), ds::leader, ds::epoch);
        }
    }

    @Test
    @Order(3)
    void aWriterThroughTheRestSourceFollowsAPatroniSwitchover() throws Exception {
        List<String> urls = cluster.members.stream().map(PatroniMember::restUrl).toList();
        try (HaDataSource ds = builder().restUrls(urls, cluster.scope).name("patroni-rest").build()) {
            followsASwitchover("rest", ds, ds.withRole(TargetRole.REPLICA), ds::leader, ds::epoch);
        }
    }

    @Test
    @Order(4)
    void aWriterThroughAnEtcdUrlInDriverManagerFollowsAPatroniSwitchover() throws Exception {
        String url = "jdbc:pgha:etcd://127.0.0.1:" + cluster.store.port() + "/" + cluster.scope
                + "/postgres?leaderWait=30s&socketTimeout=15";
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("password", cluster.members.get(0).superuserPassword());
        try {
            // The URL carries no leader of its own: the served port says where each write went.
            followsASwitchover("url", new DriverManagerDataSource(url, p),
                    new DriverManagerDataSource(url.replace("?", "?role=replica&"), p), Optional::empty, () -> -1L);
        } finally {
            ((PghaDriver) DriverManager.getDriver(url)).close();
        }
    }

    /** The DataSource settings of these tests: small pools (max_connections is 40), the default routing. */
    private HaDataSourceBuilder builder() {
        return HaDataSource.builder().user("postgres").password(cluster.members.get(0).superuserPassword())
                .hikari(h -> h.setMaximumPoolSize(4)).leaderWait(LEADER_WAIT)
                // A statement on a server that vanished without a FIN ends, instead of hanging the writer.
                .property("socketTimeout", "15");
    }

    /**
     * Runs a writer through {@code ds}, switches the leadership over to the other member with {@code patronictl},
     * and checks that the same writer goes on on the new leader and that no acknowledged row is lost; then that
     * {@code replicas} hands out the old leader once it has rejoined as a replica (its lag read from Patroni's keys or
     * {@code /cluster}).
     *
     * @param reportedLeader the DataSource's idea of the leader (empty when it has no such method)
     * @param epoch          the DataSource's leadership epoch (-1 when it has no such method)
     */
    private void followsASwitchover(String label, DataSource ds, DataSource replicas,
            Supplier<Optional<String>> reportedLeader, Supplier<Long> epoch) throws Exception {
        PatroniMember leader = cluster.awaitHealthy(cluster.members, Duration.ofSeconds(90));
        PatroniMember candidate = cluster.members.stream().filter(m -> m != leader).findFirst().orElseThrow();
        Sql.createRoutedTable(leader);
        String run = "patroni-" + label + "-" + UUID.randomUUID().toString().substring(0, 8);

        long requested;
        long switched;
        long epochBefore;
        RoutedWriter.Commit first;
        PatroniCtl.Run switchover;
        List<RoutedWriter.Commit> commits;
        List<RoutedWriter.Borrow> borrows;
        List<RoutedWriter.Failure> failures;
        try (RoutedWriter writer = new RoutedWriter(ds, run, WRITE_PAUSE, Duration.ofMinutes(3))) {
            await(label + ": commits through the DataSource on " + leader.name).atMost(Duration.ofSeconds(30))
                    .until(() -> writer.commitsOn(leader.pgPort) >= 20);
            if (epoch.get() >= 0) {
                assertThat(reportedLeader.get()).as(label + ": the DataSource's leader before").contains(leader.name);
            }
            epochBefore = epoch.get();

            requested = System.nanoTime();
            switchover = patronictl.run("switchover", "--leader", leader.name, "--candidate", candidate.name,
                    "--force", cluster.scope).ok();
            switched = System.nanoTime();
            first = await(label + ": the same writer commits on " + candidate.name).atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> writer.firstCommitOn(candidate.pgPort, requested), Optional::isPresent)
                    .orElseThrow();
            long firstAt = first.returnedNanos();
            await(label + ": commits on " + candidate.name).atMost(Duration.ofSeconds(30))
                    .until(() -> writer.commits().stream().filter(c -> c.returnedNanos() - firstAt > 0).count() >= 20);
            writer.close();
            commits = writer.commits();
            borrows = writer.borrows();
            failures = writer.failures();
        }
        RoutedWriter.Commit firstOnNew = first;
        long lastOld = commits.stream().filter(c -> c.port() == leader.pgPort
                && c.returnedNanos() - firstOnNew.returnedNanos() < 0)
                .mapToLong(RoutedWriter.Commit::returnedNanos).max().orElseThrow();
        Duration longestWait = borrows.stream().map(RoutedWriter.Borrow::waited).max(Duration::compareTo)
                .orElseThrow();
        System.out.printf("e2e: Patroni switchover %s -> %s through the %s DataSource: patronictl took %d ms, first"
                + " commit on %s %d ms after the request, write gap %d ms, longest borrow wait %d ms, %d commits,"
                + " %d failed transactions %s%n", leader.name, candidate.name, label, (switched - requested) / 1_000_000,
                candidate.name, (firstOnNew.returnedNanos() - requested) / 1_000_000,
                (firstOnNew.returnedNanos() - lastOld) / 1_000_000, longestWait.toMillis(), commits.size(),
                failures.size(), describe(failures));
        System.out.println("e2e: patronictl switchover said:\n" + switchover.output());
        failures.forEach(f -> System.out.printf("e2e:   failed #%d (%s, %s%s): %s%n", f.n(), f.sqlState(),
                f.classified(), f.atCommit() ? ", at commit" : "", f.message()));

        // Patroni's own view of the outcome, and the DataSource's.
        String patronisLeader = patronisLeader();
        assertThat(patronisLeader).as("the leader after the switchover, says patronictl list")
                .isEqualTo(candidate.name);
        assertThat(cluster.store.read(cluster.scope).leaderName()).as("the leader key").contains(candidate.name);
        assertThat(Sql.inRecovery(candidate)).as(candidate.name + " pg_is_in_recovery()").isFalse();
        if (epoch.get() >= 0) {
            assertThat(reportedLeader.get()).as(label + ": HaDataSource.leader()").contains(patronisLeader);
            assertThat(epoch.get()).as(label + ": HaDataSource.epoch() after the leader changed")
                    .isGreaterThan(epochBefore);
        }
        // The writer resumed on the new leader and stayed there: nothing was acknowledged by the old one after the
        // new one's first commit, and no borrow was handed a server in recovery (a demoted leader, say).
        assertThat(commits).as(label + ": commits acknowledged by " + leader.name + " after the first one on "
                + candidate.name).noneMatch(c -> c.port() == leader.pgPort
                        && c.returnedNanos() - firstOnNew.returnedNanos() > 0);
        assertThat(borrows).as(label + ": borrows handed a server in recovery")
                .noneMatch(RoutedWriter.Borrow::inRecovery);
        // Bounded: no getConnection() waited past leaderWait, and the failures were the switchover's.
        assertThat(longestWait).as(label + ": the longest getConnection() wait").isLessThan(LEADER_WAIT);
        assertThat(failures).as(label + ": transactions that failed after the writer's first commit on "
                + candidate.name).noneMatch(f -> f.atNanos() - firstOnNew.returnedNanos() > 0);
        // Every acknowledged row is on the new primary (Patroni's switchover waits for the candidate to have the
        // old leader's shutdown checkpoint before it promotes it).
        Map<Long, Sql.RoutedRow> onNew = Sql.routedRows(candidate, run);
        assertThat(onNew.keySet()).as(label + ": rows on the new primary " + candidate.name)
                .containsAll(commits.stream().map(RoutedWriter.Commit::n).toList());
        assertThat(onNew.values()).as(label + ": rows " + candidate.name + " itself wrote")
                .anyMatch(r -> r.port() == candidate.pgPort);

        // Reads: the old leader rejoins as a replica, and the replica role of the same DataSource hands it out.
        assertThat(cluster.awaitHealthy(cluster.members, Duration.ofSeconds(90))).isEqualTo(candidate);
        await(label + ": a replica connection on " + leader.name).atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                .until(() -> replicaServer(replicas), r -> r.port() == leader.pgPort && r.inRecovery());
    }

    /** The server a replica borrow reached: its port and whether it is in recovery. */
    private static RoutedWriter.Borrow replicaServer(DataSource replicas) throws SQLException {
        try (Connection c = replicas.getConnection(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT inet_server_port(), pg_is_in_recovery()")) {
            rs.next();
            return new RoutedWriter.Borrow(0, 0, 0, rs.getInt(1), rs.getBoolean(2));
        }
    }

    /** The member patronictl lists as Leader. */
    private String patronisLeader() throws Exception {
        JsonNode list = patronictl.run("list", "-f", "json", cluster.scope).ok().json();
        for (JsonNode m : list) {
            if ("Leader".equals(m.path("Role").asText())) {
                return m.path("Member").asText();
            }
        }
        throw new AssertionError("patronictl list shows no leader: " + list);
    }

    /** Failed transactions by driver SQLState and classification. */
    private static String describe(List<RoutedWriter.Failure> failures) {
        Map<String, Long> byState = new TreeMap<>();
        failures.forEach(f -> byState.merge(f.sqlState() + "->" + f.classified() + (f.atCommit() ? " at commit" : ""),
                1L, Long::sum));
        return byState.toString();
    }

    /** {@link DriverManager#getConnection(String, Properties)} as a DataSource, for the {@link RoutedWriter}. */
    private record DriverManagerDataSource(String url, Properties properties) implements DataSource {

        @Override
        public Connection getConnection() throws SQLException {
            return DriverManager.getConnection(url, properties);
        }

        @Override
        public Connection getConnection(String username, String password) throws SQLException {
            throw new SQLFeatureNotSupportedException("the credentials are in the properties");
        }

        @Override
        public PrintWriter getLogWriter() {
            return null;
        }

        @Override
        public void setLogWriter(PrintWriter out) {
            // DriverManager logs on its own.
        }

        @Override
        public void setLoginTimeout(int seconds) {
            // leaderWait in the URL bounds a connect.
        }

        @Override
        public int getLoginTimeout() {
            return 0;
        }

        @Override
        public Logger getParentLogger() throws SQLFeatureNotSupportedException {
            throw new SQLFeatureNotSupportedException();
        }

        @Override
        public <T> T unwrap(Class<T> type) throws SQLException {
            throw new SQLException("not a wrapper");
        }

        @Override
        public boolean isWrapperFor(Class<?> type) {
            return false;
        }
    }
}
