package io.pgha.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.pgha.core.cluster.Role;
import io.pgha.core.testkit.TestPorts;
import io.pgha.dcs.zookeeper.ZooKeeperDcs;
import io.pgha.dcs.zookeeper.ZooKeeperSettings;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.sql.DataSource;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;

/**
 * Not a test: a runnable comparison of getConnection() + SELECT 1 + close() through HaDataSource and through a plain
 * Hikari pool on the same primary, 1 and 8 threads, alternating rounds; then the cost of the two checks a write pool
 * could run on an idle connection (pgjdbc's isValid vs the writable check). Run with
 * {@code mvn -pl ha-jdbc test-compile exec:java} or from an IDE, class path = ha-jdbc's test class path.
 */
public final class RoutingBenchmark {

    private static final Duration ROUND = Duration.ofSeconds(3);

    public static void main(String[] args) throws Exception {
        try (TestingServer zk = new TestingServer(new InstanceSpec(null, TestPorts.freePort(), -1, -1, true, -1, 200,
                -1, Map.of("maxSessionTimeout", "60000")), true);
             PgPair pg = new PgPair();
             MemberKeys a = new MemberKeys(ZooKeeperDcs.connect(ZooKeeperSettings.builder(zk.getConnectString())
                     .standalone().build()), "bench", "a")) {
            a.publish(Role.PRIMARY, PgPair.connUrl(pg.a), 1);
            a.lead();
            HikariConfig plain = new HikariConfig();
            plain.setJdbcUrl("jdbc:postgresql://127.0.0.1:" + PgPair.port(pg.a) + "/postgres");
            plain.setUsername("postgres");
            plain.setPassword(PgPair.PASSWORD);
            plain.setMaximumPoolSize(8);
            try (HikariDataSource hikari = new HikariDataSource(plain);
                 HaDataSource ha = HaDataSource.builder()
                         .dcs(ZooKeeperDcs.connect(ZooKeeperSettings.builder(zk.getConnectString()).standalone()
                                 .build()), "bench")
                         .user("postgres").password(PgPair.PASSWORD).hikari(h -> h.setMaximumPoolSize(8)).build();
                 HaDataSource lazy = HaDataSource.builder()
                         .dcs(ZooKeeperDcs.connect(ZooKeeperSettings.builder(zk.getConnectString()).standalone()
                                 .build()), "bench")
                         .user("postgres").password(PgPair.PASSWORD).hikari(h -> h.setMaximumPoolSize(8))
                         .routeReadOnly(true).resolveCommits(true).build()) {
                // "lazy": routeReadOnly + resolveCommits, i.e. the Connection handler that borrows at first use.
                System.out.printf("%n%-8s %14s %14s %8s %14s %8s%n", "threads", "hikari ops/s", "pgha ops/s",
                        "ratio", "lazy ops/s", "ratio");
                for (int threads : new int[] {1, 8}) {
                    run(hikari, threads); // warm-up
                    run(ha, threads);
                    run(lazy, threads);
                    double h = 0;
                    double p = 0;
                    double l = 0;
                    for (int i = 0; i < 3; i++) {
                        h += run(hikari, threads);
                        p += run(ha, threads);
                        l += run(lazy, threads);
                    }
                    System.out.printf("%-8d %14.0f %14.0f %8.3f %14.0f %8.3f%n", threads, h / 3, p / 3, p / h,
                            l / 3, l / h);
                }
                checks(hikari);
            }
        }
    }

    /** Operations per second of one round. */
    private static double run(DataSource ds, int threads) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            long end = System.nanoTime() + ROUND.toNanos();
            List<Callable<Long>> work = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                work.add(() -> {
                    long n = 0;
                    while (System.nanoTime() < end) {
                        try (Connection c = ds.getConnection(); Statement s = c.createStatement();
                             ResultSet r = s.executeQuery("SELECT 1")) {
                            r.next();
                        }
                        n++;
                    }
                    return n;
                });
            }
            long total = 0;
            for (Future<Long> f : pool.invokeAll(work)) {
                total += f.get();
            }
            return total / (double) ROUND.toSeconds();
        } finally {
            pool.shutdownNow();
        }
    }

    /** What verifying an idle write connection costs: Hikari's default isValid() against the writable check. */
    private static void checks(DataSource ds) throws Exception {
        int n = 5000;
        try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
            for (int i = 0; i < 500; i++) {
                c.isValid(5);
                s.execute(MemberPools.WRITABLE_CHECK);
            }
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                c.isValid(5);
            }
            long t1 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                s.execute(MemberPools.WRITABLE_CHECK);
            }
            long t2 = System.nanoTime();
            System.out.printf("%nidle-connection check: isValid() %.1f us, writable check %.1f us (mean of %d)%n",
                    (t1 - t0) / 1000.0 / n, (t2 - t1) / 1000.0 / n, n);
        }
    }
}
