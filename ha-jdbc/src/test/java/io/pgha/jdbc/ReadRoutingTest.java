package io.pgha.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.pgha.core.spi.DcsFactory;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * Connections that take their server at first use (routeReadOnly, resolveCommits, read-your-writes sessions), on a
 * real primary a and its streaming standby b, routed by ZooKeeper member keys.
 */
@Timeout(180)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReadRoutingTest {

    private RoutedPair cluster;
    private PgPair pg;
    private DcsFactory store;
    private MemberKeys a;
    private MemberKeys b;
    private int aPort;
    private int bPort;

    @BeforeAll
    void cluster() throws Exception {
        cluster = new RoutedPair();
        pg = cluster.pg;
        store = cluster.store;
        a = cluster.a;
        b = cluster.b;
        aPort = cluster.aPort;
        bPort = cluster.bPort;
    }

    @AfterAll
    void stop() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    private HaDataSource ds(boolean routeReadOnly, boolean resolveCommits) {
        return HaDataSource.builder().dcs(store, "orders").user("postgres").password(PgPair.PASSWORD)
                .leaderWait(Duration.ofSeconds(20)).routeReadOnly(routeReadOnly).resolveCommits(resolveCommits)
                .metrics(registry).build();
    }

    private double resolutions(String outcome) {
        var c = registry.find("pgha.jdbc.commit.resolutions").tag("outcome", outcome).counter();
        return c == null ? 0 : c.count();
    }

    private static int port(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT inet_server_port()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    @Test
    void aConnectionSetReadOnlyBeforeItsFirstStatementReadsFromAReplica() throws Exception {
        try (HaDataSource ds = ds(true, false); Connection c = ds.getConnection()) {
            // What Spring's transaction manager does for @Transactional(readOnly = true).
            c.setReadOnly(true);
            if (c.getAutoCommit()) {
                c.setAutoCommit(false);
            }
            assertThat(port(c)).as("read-only transaction's server").isEqualTo(bPort);
            c.commit();
            // Spring's reset after the transaction, then a write transaction on the same handle.
            c.setReadOnly(false);
            c.setAutoCommit(true);
            assertThat(port(c)).as("after setReadOnly(false) between transactions").isEqualTo(aPort);
            try (Statement s = c.createStatement()) {
                s.execute("INSERT INTO writes VALUES (1001, inet_server_port())");
            }
        }
        try (HaDataSource plain = ds(false, false); Connection c = plain.getConnection()) {
            c.setReadOnly(true);
            assertThat(port(c)).as("without routeReadOnly the leader serves it").isEqualTo(aPort);
        }
    }

    @Test
    void theReadOnlyFlagDoesNotMoveAConnectionInTheMiddleOfATransaction() throws Exception {
        try (HaDataSource ds = ds(true, false); Connection c = ds.getConnection()) {
            c.setAutoCommit(false);
            assertThat(port(c)).isEqualTo(aPort);
            // pgjdbc refuses the change inside a transaction, as it does without pgha.
            assertThatThrownBy(() -> c.setReadOnly(true)).isInstanceOf(SQLException.class);
            assertThat(port(c)).isEqualTo(aPort);
            c.rollback();
        }
    }

    @Test
    void aSessionReadsItsOwnWritesFromAReplicaOnlyOnceTheReplicaReplayedThem() throws Exception {
        try (HaDataSource ds = ds(true, false)) {
            ReadYourWritesSession session = ds.readYourWrites();
            assertThat(session.lastWritePosition()).isEmpty();
            try (Connection c = PgPair.connect(pg.b); Statement s = c.createStatement()) {
                s.execute("SELECT pg_wal_replay_pause()");
            }
            try {
                try (Connection c = session.getConnection(); Statement s = c.createStatement()) {
                    s.execute("INSERT INTO writes VALUES (2001, inet_server_port())");
                }
                assertThat(session.lastWritePosition()).isPresent();
                try (Connection c = session.getConnection()) {
                    c.setReadOnly(true);
                    assertThat(port(c)).as("b has not replayed the write: the leader serves the read")
                            .isEqualTo(aPort);
                    assertThat(registry.get("pgha.jdbc.retries").tag("reason", "not-replayed").counter().count())
                            .as("b's connection was refused by the session").isGreaterThanOrEqualTo(1.0);
                    assertThat(count(c, "seq = 2001")).isEqualTo(1);
                }
                // Outside the session the same read goes to b, which does not have the row yet.
                try (Connection c = ds.getConnection()) {
                    c.setReadOnly(true);
                    assertThat(port(c)).isEqualTo(bPort);
                    assertThat(count(c, "seq = 2001")).isZero();
                }
            } finally {
                try (Connection c = PgPair.connect(pg.b); Statement s = c.createStatement()) {
                    s.execute("SELECT pg_wal_replay_resume()");
                }
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> PgPair.count(pg.b, "seq = 2001") == 1);
            try (Connection c = session.getConnection()) {
                c.setReadOnly(true);
                assertThat(port(c)).as("b replayed the write").isEqualTo(bPort);
                assertThat(count(c, "seq = 2001")).isEqualTo(1);
            }
        }
        assertThat(ReadYourWritesSession.format(ReadYourWritesSession.parse("16/B374D848"))).isEqualTo("16/B374D848");
        assertThatThrownBy(() -> ReadYourWritesSession.parse("16-B3")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("walPosition");
    }

    @Test
    void aCommitCutOffAfterItCommittedReturnsNormally() throws Exception {
        // The primary waits at COMMIT for a synchronous standby that does not exist, with its commit record already
        // written; the session is then terminated: the client's COMMIT fails, yet the transaction committed.
        setPrimary("ALTER SYSTEM SET synchronous_standby_names = 'nobody'");
        try (HaDataSource ds = ds(false, true)) {
            double before = resolutions("committed");
            CutOff cut = commitAndTerminate(ds, 3001, "SyncRep");
            assertThat((Object) cut.failure()).as("commit() returned normally").isNull();
            assertThat(resolutions("committed")).isEqualTo(before + 1);
            assertThat(PgPair.count(pg.a, "seq = 3001")).isEqualTo(1);
        } finally {
            setPrimary("ALTER SYSTEM RESET synchronous_standby_names");
        }
        // Without resolveCommits the same cut-off leaves the application with a bare connection error.
        setPrimary("ALTER SYSTEM SET synchronous_standby_names = 'nobody'");
        try (HaDataSource ds = ds(false, false)) {
            CutOff cut = commitAndTerminate(ds, 3002, "SyncRep");
            assertThat((Object) cut.failure()).isNotNull();
            assertThat(FailoverErrors.classify(cut.failure(), true)).isEqualTo(FailoverErrors.OUTCOME_UNKNOWN);
        } finally {
            setPrimary("ALTER SYSTEM RESET synchronous_standby_names");
        }
    }

    @Test
    void aCommitCutOffBeforeItCommittedSaysReRun() throws Exception {
        try (Connection c = PgPair.connect(pg.a); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS slow_commit (id int)");
            s.execute("CREATE OR REPLACE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
                    + "$$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$");
            s.execute("DROP TRIGGER IF EXISTS slow_commit ON slow_commit");
            s.execute("CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON slow_commit DEFERRABLE INITIALLY "
                    + "DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()");
        }
        try (HaDataSource ds = ds(false, true)) {
            double before = resolutions("not-committed");
            CutOff cut = commitAndTerminate(ds, 4001, "PgSleep");
            assertThat(resolutions("not-committed")).isEqualTo(before + 1);
            assertThat((Object) cut.failure()).isNotNull();
            assertThat(cut.failure().getSQLState()).isEqualTo(FailoverErrors.RECONNECT_AND_RERUN);
            assertThat(cut.failure().getMessage()).contains("did not commit");
            assertThat(PgPair.count(pg.a, "seq = 4001")).isZero();
        }
    }

    @Test
    void aRollbackAfterTheServerWentAwayDoesNotReplaceTheError() throws Exception {
        try (HaDataSource ds = ds(true, false); Connection c = ds.getConnection()) {
            c.setAutoCommit(false);
            int pid;
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
                rs.next();
                pid = rs.getInt(1);
            }
            try (Connection admin = PgPair.connect(pg.a); Statement s = admin.createStatement()) {
                s.execute("SELECT pg_terminate_backend(" + pid + ")");
            }
            SQLException cut = null;
            try (Statement s = c.createStatement()) {
                s.execute("INSERT INTO writes VALUES (5001, inet_server_port())");
            } catch (SQLException e) {
                cut = e;
            }
            assertThat((Object) cut).as("the statement after the backend was terminated").isNotNull();
            assertThat(FailoverErrors.classify(cut, false)).isEqualTo(FailoverErrors.RECONNECT_AND_RERUN);
            // What Spring does next: roll back. The session is gone, and with it the transaction: no second error.
            c.rollback();
        }
        assertThat(PgPair.count(pg.a, "seq = 5001")).isZero();
    }

    private record CutOff(SQLException failure) {}

    /** Inserts {@code seq} (and a slow_commit row), commits on another thread, terminates it at {@code waitEvent}. */
    private CutOff commitAndTerminate(HaDataSource ds, long seq, String waitEvent) throws Exception {
        Connection c = ds.getConnection();
        int pid;
        try (Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            s.execute("INSERT INTO writes VALUES (" + seq + ", inet_server_port())");
            if (waitEvent.equals("PgSleep")) {
                s.execute("INSERT INTO slow_commit VALUES (1)");
            }
            try (ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
                rs.next();
                pid = rs.getInt(1);
            }
        }
        CompletableFuture<SQLException> commit = CompletableFuture.supplyAsync(() -> {
            try {
                c.commit();
                return null;
            } catch (SQLException e) {
                return e;
            } finally {
                try {
                    c.close();
                } catch (SQLException e) {
                    // already broken
                }
            }
        });
        try (Connection admin = PgPair.connect(pg.a); Statement s = admin.createStatement()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> {
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid
                        + " AND wait_event = '" + waitEvent + "'")) {
                    rs.next();
                    return rs.getInt(1) == 1;
                }
            });
            s.execute("SELECT pg_terminate_backend(" + pid + ")");
        }
        return new CutOff(commit.get(60, TimeUnit.SECONDS));
    }

    private void setPrimary(String sql) throws SQLException {
        try (Connection c = PgPair.connect(pg.a); Statement s = c.createStatement()) {
            s.execute(sql);
            s.execute("SELECT pg_reload_conf()");
        }
    }

    private static long count(Connection c, String where) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT count(*) FROM writes WHERE " + where)) {
            r.next();
            return r.getLong(1);
        }
    }
}
