package io.pgha.dcs.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.pgha.core.api.HaCluster;
import io.pgha.core.cluster.Role;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.testkit.TestFiles;
import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Rule S1 on a real three-server ZooKeeper ensemble and real PostgreSQL (docs/decisions 0203). Member a, the primary,
 * talks to server 3, a follower; member b to servers 1 and 2. Right after one of a's renewals, server 3 loses the
 * other two (both ways, through TcpProxies) and a's HA loop stalls in its next DCS call, so only a's lease guard can
 * stop its PostgreSQL (with a working loop, a demotes itself on its next cycle, when it cannot read the store: the
 * guard is what protects a loop that hangs, docs/decisions 0003). The servers expire a's session from the touch they
 * last heard of, one HA cycle before that renewal; b then takes the lock and is promoted. The last commit a
 * acknowledged must return before b leaves recovery.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ZooKeeperEnsembleFailoverTest {

    // ZooKeeper's sample tickTime with a short syncLimit: the followers relay session activity once a second, so the
    // cut lands before the relay of a's whole HA cycle (its read, probe and renewal: some 100 ms) nine times out of
    // ten, and the servers expire a's session from the touch of the cycle before.
    private static final Duration TICK = Duration.ofMillis(2000);
    private static final int SYNC_LIMIT = 1;
    // Lease guarantee through a follower: 30 s × 0.99 − (1 × 2 s + 2 s + 10 s) × 1.01 = 15.56 s, which holds
    // loopWait + 2 × retryTimeout = 11 s. The guarantee the adapter gave before, the session timeout (30 s), did not
    // cover the time between the last touch the servers heard of and the renewal (one cycle, 8 s: shorter than the
    // 9 s after which the idle client pings).
    private static final Duration TTL = Duration.ofSeconds(30);
    private static final Duration LOOP_WAIT = Duration.ofSeconds(8);
    private static final Duration RETRY = Duration.ofMillis(1500);
    private static final String SCOPE = "zk-ensemble";
    private static final String SU_PASSWORD = "su-" + UUID.randomUUID().toString().substring(0, 8);
    private static final String REPL_PASSWORD = "repl-" + UUID.randomUUID().toString().substring(0, 8);

    @Test
    void theOldPrimaryIsFencedBeforeTheNewLeaderLeavesRecovery() throws Exception {
        Path base = TestFiles.shortTempDir("pgha-zkfo");
        CutAfterRenewal store = null;
        HaCluster a = null;
        HaCluster b = null;
        try (ZkEnsemble zk = ZkEnsemble.start(TICK, SYNC_LIMIT, Duration.ofSeconds(60))) {
            CutAfterRenewal cutting = new CutAfterRenewal(ZooKeeperDcs.connect(settings(zk.connectString(3))), zk);
            store = cutting;
            int aPort = TestPorts.freePort();
            int bPort = TestPorts.freePort();
            a = member("a", base, aPort, cutting).start();
            HaCluster first = a;
            await("a bootstraps and leads").atMost(Duration.ofSeconds(120)).until(() -> first.role() == Role.PRIMARY);
            await("a accepts writes").atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
                exec(aPort, "CREATE TABLE IF NOT EXISTS marks (note text)");
                return true;
            });
            b = member("b", base, bPort, ZooKeeperDcs.connect(settings(zk.connectString(1) + ","
                    + zk.connectString(2)))).start();
            HaCluster second = b;
            exec(aPort, "INSERT INTO marks VALUES ('before')");
            await("b replicates a").atMost(Duration.ofSeconds(120)).ignoreExceptions()
                    .until(() -> second.role() == Role.REPLICA && count(bPort, "before") == 1);

            long sentAt;
            long lastCommit;
            long stillInRecovery;
            Duration guarantee;
            try (Writer writer = new Writer(aPort); RecoveryWatch watch = new RecoveryWatch(bPort)) {
                await("writes flow to a").atMost(Duration.ofSeconds(20)).until(() -> writer.commits.get() >= 10);
                cutting.armed.set(true);
                await("a renews and server 3 is cut off").atMost(LOOP_WAIT.plusSeconds(20))
                        .until(() -> cutting.renewalSentAt.get() != 0);
                sentAt = cutting.renewalSentAt.get();
                guarantee = cutting.guarantee;
                await("b is promoted").atMost(TTL.plusSeconds(40)).until(() -> watch.promotedBy.get() != 0);
                await("a keeps refusing writes").atMost(Duration.ofSeconds(20))
                        .until(() -> writer.failuresSinceCommit.get() >= 5);
                lastCommit = writer.lastCommitReturned.get();
                stillInRecovery = watch.lastInRecoveryPollStart.get();
                System.out.printf("ensemble failover: after the renewal that preceded the cut: last commit on a +%d ms,"
                        + " b still in recovery at +%d ms, b primary by +%d ms; a's lease guarantee %d ms%n",
                        (lastCommit - sentAt) / 1_000_000, (stillInRecovery - sentAt) / 1_000_000,
                        (watch.promotedBy.get() - sentAt) / 1_000_000, guarantee.toMillis());
            }
            assertThat(zk.follows(3)).as("server 3 stayed cut off").isFalse();
            HaCluster promoted = b;
            await("b reports itself primary").atMost(Duration.ofSeconds(20)).until(() -> promoted.role() == Role.PRIMARY);
            // Rule S1: the last commit the old primary acknowledged returned before the new leader left recovery.
            assertThat(lastCommit).as("last commit on a vs b still in recovery (ns)").isLessThan(stillInRecovery);
            assertThat(lastCommit - sentAt).as("a was fenced within its lease guarantee (ns)")
                    .isLessThan(guarantee.toNanos());
        } finally {
            if (store != null) {
                store.release();
            }
            for (HaCluster m : new HaCluster[] {b, a}) {
                if (m != null) {
                    m.close();
                }
            }
            killPostmasters(base);
            TestFiles.deleteTree(base);
        }
    }

    private static ZooKeeperSettings settings(String connectString) {
        return ZooKeeperSettings.builder(connectString).tickTime(TICK).syncLimit(SYNC_LIMIT).build();
    }

    private static HaCluster member(String name, Path base, int port, DcsFactory dcs) {
        return HaCluster.builder().scope(SCOPE).member(name).dcs(dcs)
                .postgres(pg -> pg.binDir(TestFiles.postgresBinDir())
                        .dataDir(base.resolve(name).resolve("data"))
                        .nodeDir(base.resolve(name).resolve("node"))
                        .listen("127.0.0.1", port)
                        .superuser("postgres", SU_PASSWORD)
                        .replication("replicator", REPL_PASSWORD)
                        .parameter("shared_buffers", "16MB")
                        .parameter("max_connections", "30")
                        .parameter("fsync", "off")
                        .startTimeout(Duration.ofSeconds(60))
                        .initdbArgs(List.of("--encoding=UTF8", "--locale=C", "--no-sync")))
                .ttl(TTL).loopWait(LOOP_WAIT).retryTimeout(RETRY)
                .build();
    }

    /**
     * The store of member a: after the first renewal once {@link #armed}, cuts server 3 off and stalls every later
     * call of a's HA loop (a thread that hangs; bounded, and released at the end of the test).
     */
    private static final class CutAfterRenewal implements DcsFactory {
        private static final Set<String> NOT_STORE_CALLS = Set.of("leaseGuarantee", "memberName", "watchLeader",
                "watchMembers", "close", "toString", "hashCode", "equals");
        final AtomicBoolean armed = new AtomicBoolean();
        final AtomicLong renewalSentAt = new AtomicLong();
        volatile Duration guarantee;
        private final DcsFactory real;
        private final ZkEnsemble zk;
        private final CountDownLatch released = new CountDownLatch(1);
        private volatile boolean stalled;

        CutAfterRenewal(DcsFactory real, ZkEnsemble zk) {
            this.real = real;
            this.zk = zk;
        }

        @Override
        public Dcs open(DcsContext context) {
            Dcs dcs = real.open(context);
            return (Dcs) Proxy.newProxyInstance(Dcs.class.getClassLoader(), new Class<?>[] {Dcs.class},
                    (proxy, method, args) -> call(dcs, method, args));
        }

        private Object call(Dcs dcs, Method method, Object[] args) throws Throwable {
            boolean storeCall = !NOT_STORE_CALLS.contains(method.getName());
            if (storeCall && stalled && !released.await(3, TimeUnit.MINUTES)) {
                throw new DcsUnavailableException("the stalled call was never released");
            }
            long sentAt = System.nanoTime();
            Object result;
            try {
                result = method.invoke(dcs, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
            if (method.getName().equals("renewLeader") && Boolean.TRUE.equals(result) && armed.compareAndSet(true,
                    false)) {
                zk.isolateServer3();
                stalled = true;
                guarantee = dcs.leaseGuarantee();
                renewalSentAt.set(sentAt);
            }
            return result;
        }

        @Override
        public Duration expectedLeaseGuarantee(DcsContext context) {
            return real.expectedLeaseGuarantee(context);
        }

        void release() {
            released.countDown();
        }

        @Override
        public String toString() {
            return real.toString();
        }
    }

    /** One round of a {@link SqlLoop}; false ends the loop. */
    @FunctionalInterface
    private interface Round {
        boolean run(Connection c, long startedAt) throws SQLException;
    }

    /**
     * Runs a round every 50 ms on a connection to one PostgreSQL, with a fresh connection after a failure, until
     * closed, done, or two minutes have passed.
     */
    private static final class SqlLoop implements AutoCloseable {
        private final Thread thread;
        private volatile boolean stop;

        SqlLoop(String name, int port, Round round, Runnable onFailure) {
            thread = new Thread(() -> {
                long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
                Connection c = null;
                boolean more = true;
                while (more && !stop && System.nanoTime() < deadline) {
                    long start = System.nanoTime();
                    try {
                        c = c != null ? c : connect(port);
                        more = round.run(c, start);
                    } catch (SQLException e) {
                        onFailure.run();
                        closeQuietly(c);
                        c = null;
                    }
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException e) {
                        break;
                    }
                }
                closeQuietly(c);
            }, name);
            thread.setDaemon(true);
            thread.start();
        }

        @Override
        public void close() throws InterruptedException {
            stop = true;
            thread.join(10_000);
        }
    }

    /** Commits a row on a every 50 ms straight to its PostgreSQL, remembering when the last commit returned. */
    private static final class Writer implements AutoCloseable {
        final AtomicLong commits = new AtomicLong();
        final AtomicLong failuresSinceCommit = new AtomicLong();
        final AtomicLong lastCommitReturned = new AtomicLong();
        private final SqlLoop loop;

        Writer(int port) {
            loop = new SqlLoop("zk-ensemble-writer", port, (c, startedAt) -> {
                try (Statement st = c.createStatement()) {
                    st.executeUpdate("INSERT INTO marks VALUES ('w" + commits.get() + "')");
                }
                lastCommitReturned.set(System.nanoTime());
                commits.incrementAndGet();
                failuresSinceCommit.set(0);
                return true;
            }, failuresSinceCommit::incrementAndGet);
        }

        @Override
        public void close() throws InterruptedException {
            loop.close();
        }
    }

    /**
     * Polls {@code pg_is_in_recovery()} on b every 50 ms: b left recovery after the start of the last poll that still
     * saw it in recovery, and before the end of the first that did not.
     */
    private static final class RecoveryWatch implements AutoCloseable {
        final AtomicLong lastInRecoveryPollStart = new AtomicLong();
        final AtomicLong promotedBy = new AtomicLong();
        private final SqlLoop loop;

        RecoveryWatch(int port) {
            loop = new SqlLoop("zk-ensemble-recovery-watch", port, (c, startedAt) -> {
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery()")) {
                    rs.next();
                    if (!rs.getBoolean(1)) {
                        promotedBy.set(System.nanoTime());
                        return false;
                    }
                    lastInRecoveryPollStart.set(startedAt);
                    return true;
                }
            }, () -> { });
        }

        @Override
        public void close() throws InterruptedException {
            loop.close();
        }
    }

    private static Connection connect(int port) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("password", SU_PASSWORD);
        p.setProperty("connectTimeout", "2");
        p.setProperty("socketTimeout", "5");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", p);
    }

    private static void exec(int port, String sql) throws SQLException {
        try (Connection c = connect(port); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static long count(int port, String note) throws SQLException {
        try (Connection c = connect(port); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT count(*) FROM marks WHERE note = '" + note + "'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void closeQuietly(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException e) {
                // the server is gone
            }
        }
    }

    /** SIGKILL any postmaster still running from a data directory under {@code base}, by the PID it recorded. */
    private static void killPostmasters(Path base) {
        try (Stream<Path> files = Files.walk(base, 3)) {
            files.filter(f -> f.getFileName().toString().equals("postmaster.pid")).forEach(f -> {
                try {
                    long pid = Long.parseLong(Files.readAllLines(f, StandardCharsets.US_ASCII).get(0).strip());
                    ProcessHandle.of(pid).filter(h -> h.info().commandLine().orElse("").contains(base.toString()))
                            .ifPresent(h -> {
                                h.descendants().forEach(ProcessHandle::destroyForcibly);
                                h.destroyForcibly();
                            });
                } catch (IOException | RuntimeException e) {
                    // no such process any more
                }
            });
        } catch (IOException e) {
            // nothing left under base
        }
    }
}
