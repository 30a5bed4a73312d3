package io.pgha.jdbc;

import io.pgha.core.config.HostPort;
import io.pgha.core.config.PostgresSettings;
import io.pgha.core.postgres.LocalPostgres;
import io.pgha.core.spi.StopMode;
import io.pgha.core.spi.Upstream;
import io.pgha.core.testkit.TcpProxy;
import io.pgha.core.testkit.TestFiles;
import io.pgha.core.testkit.TestPorts;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.UUID;

/**
 * Two real PostgreSQL servers for one test class: {@code a} bootstrapped as primary, {@code b} its streaming standby.
 * Both are stopped (by their own PIDs, via LocalPostgres) and their files removed in {@link #close()}; they are also
 * tied to the JVM, so a killed test run leaves none behind.
 */
final class PgPair implements AutoCloseable {

    static final String PASSWORD = "jdbc-" + UUID.randomUUID().toString().substring(0, 8);

    final Path base;
    final LocalPostgres a;
    final LocalPostgres b;
    /** What b streams through from a (a fault injector), or null when b connects to a directly. */
    final TcpProxy replication;

    PgPair() throws Exception {
        this(false);
    }

    /** @param proxiedReplication b streams from a through {@link #replication}, so a test can cut or slow it */
    PgPair(boolean proxiedReplication) throws Exception {
        base = TestFiles.shortTempDir("pgjdbc");
        LocalPostgres pa = null;
        LocalPostgres pb = null;
        TcpProxy proxy = null;
        try {
            pa = new LocalPostgres(settings("a").build());
            pa.bootstrap();
            Upstream up = upstream(pa);
            if (proxiedReplication) {
                proxy = TcpProxy.start("127.0.0.1", port(pa));
                up = new Upstream(up.member(), new HostPort("127.0.0.1", proxy.port()));
            }
            pb = new LocalPostgres(settings("b").build());
            pb.createReplica(up);
            pb.startReplica(up);
        } catch (Exception e) {
            stop(pa);
            stop(pb);
            if (proxy != null) {
                proxy.close();
            }
            TestFiles.deleteTree(base);
            throw e;
        }
        replication = proxy;
        a = pa;
        b = pb;
        try (Connection c = connect(a); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE writes (seq bigint PRIMARY KEY, port int NOT NULL)");
        }
    }

    private PostgresSettings.Builder settings(String name) throws Exception {
        return PostgresSettings.builder().memberName(name).binDir(TestFiles.postgresBinDir())
                .dataDir(base.resolve(name).resolve("data")).nodeDir(base.resolve(name).resolve("node"))
                .listen("127.0.0.1", TestPorts.freePort())
                .superuser("postgres", PASSWORD).replication("replicator", PASSWORD + "r")
                .rewind("rewinder", PASSWORD + "w")
                .parameter("shared_buffers", "16MB").parameter("max_connections", "60").parameter("fsync", "off")
                .parameter("wal_keep_size", "64MB")
                .startTimeout(Duration.ofSeconds(60)).stopTimeout(Duration.ofSeconds(60))
                .initdbArgs(List.of("--encoding=UTF8", "--locale=C", "--no-sync"));
    }

    static Upstream upstream(LocalPostgres p) {
        return new Upstream(p.settings().memberName(), p.settings().connectAddress());
    }

    static int port(LocalPostgres p) {
        return p.settings().listenPort();
    }

    static String connUrl(LocalPostgres p) {
        return "postgres://127.0.0.1:" + port(p) + "/postgres";
    }

    /** A direct connection, outside any DataSource. */
    static Connection connect(LocalPostgres p) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", "postgres");
        props.setProperty("password", PASSWORD);
        props.setProperty("connectTimeout", "5");
        props.setProperty("socketTimeout", "60");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port(p) + "/postgres", props);
    }

    /** Turns {@code p} read-only in place: its sessions stay, new transactions refuse writes (25006). */
    static void setReadOnly(LocalPostgres p, boolean readOnly) throws SQLException {
        try (Connection c = connect(p); Statement s = c.createStatement()) {
            s.execute(readOnly ? "ALTER SYSTEM SET default_transaction_read_only = on"
                    : "ALTER SYSTEM RESET default_transaction_read_only");
            s.execute("SELECT pg_reload_conf()");
        }
    }

    static long count(LocalPostgres p, String where) throws SQLException {
        try (Connection c = connect(p); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT count(*) FROM writes WHERE " + where)) {
            r.next();
            return r.getLong(1);
        }
    }

    private static void stop(LocalPostgres p) {
        if (p == null) {
            return;
        }
        try {
            p.stop(StopMode.IMMEDIATE);
        } catch (Exception e) {
            p.fence();
        }
        p.close();
    }

    @Override
    public void close() {
        stop(a);
        stop(b);
        if (replication != null) {
            replication.close();
        }
        TestFiles.deleteTree(base);
    }
}
