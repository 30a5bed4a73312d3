package io.pgha.core.postgres;

import io.pgha.core.config.PostgresSettings;
import io.pgha.core.spi.Upstream;
import io.pgha.core.testkit.TestFiles;
import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * Real PostgreSQL servers for one test: a short base directory {@code /tmp/pgha-<random>} (the unix socket path limit,
 * and /root is not traversable by the postgres user), free ports, and cleanup by PID even when the test fails. The
 * servers are also tied to the JVM (stopWhenJvmDies), so a killed test JVM leaves none behind.
 */
final class PgTestEnv implements AutoCloseable {

    static final String SUPERUSER_PASSWORD = "su-secret-" + UUID.randomUUID().toString().substring(0, 8);
    static final String REPLICATION_PASSWORD = "repl:secret\\" + UUID.randomUUID().toString().substring(0, 8);
    static final String REWIND_PASSWORD = "rw 'secret' " + UUID.randomUUID().toString().substring(0, 8);

    final Path base;
    private final List<LocalPostgres> nodes = new ArrayList<>();
    private final Thread hook;

    PgTestEnv() throws IOException {
        base = TestFiles.shortTempDir("pgha");
        hook = new Thread(this::killLeftovers, "pgha-test-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** The PostgreSQL bin directory: -Dpgha.pg.bin, else the newest /usr/lib/postgresql/N/bin. */
    static Path binDir() {
        return TestFiles.postgresBinDir();
    }

    /** A free loopback port, outside the ephemeral range (see TestPorts). */
    static int freePort() throws IOException {
        return TestPorts.freePort();
    }

    /** Settings for member {@code name} under the base directory, small and quick. */
    PostgresSettings.Builder settings(String name) throws IOException {
        return PostgresSettings.builder()
                .memberName(name)
                .binDir(binDir())
                .dataDir(base.resolve(name).resolve("data"))
                .nodeDir(base.resolve(name).resolve("node"))
                .listen("127.0.0.1", freePort())
                .superuser("postgres", SUPERUSER_PASSWORD)
                .replication("replicator", REPLICATION_PASSWORD)
                .rewind("rewinder", REWIND_PASSWORD)
                .parameter("shared_buffers", "16MB")
                .parameter("max_connections", "30")
                .parameter("fsync", "off")
                .parameter("wal_keep_size", "64MB")
                .startTimeout(Duration.ofSeconds(60))
                .stopTimeout(Duration.ofSeconds(60))
                .initdbArgs(List.of("--encoding=UTF8", "--locale=C", "--no-sync"));
    }

    LocalPostgres node(String name) throws Exception {
        return node(name, b -> b);
    }

    LocalPostgres node(String name, UnaryOperator<PostgresSettings.Builder> customize) throws Exception {
        return track(new LocalPostgres(customize.apply(settings(name)).build()));
    }

    LocalPostgres track(LocalPostgres p) {
        synchronized (nodes) {
            nodes.add(p);
        }
        return p;
    }

    static Upstream upstream(LocalPostgres p) {
        return new Upstream(p.settings().memberName(), p.settings().connectAddress());
    }

    static Connection sql(LocalPostgres p) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", p.settings().superuser());
        props.setProperty("password", p.settings().superuserPassword());
        props.setProperty("connectTimeout", "5");
        props.setProperty("socketTimeout", "60");
        return DriverManager.getConnection("jdbc:postgresql://" + p.settings().localConnectHost() + ":"
                + p.settings().listenPort() + "/postgres", props);
    }

    @Override
    public void close() {
        List<LocalPostgres> copy;
        synchronized (nodes) {
            copy = new ArrayList<>(nodes);
            nodes.clear();
        }
        for (LocalPostgres p : copy) {
            p.fence();
            p.close();
        }
        killLeftovers();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // Already shutting down: the hook runs anyway.
        }
        TestFiles.deleteTree(base);
    }

    /** SIGKILL every live postmaster whose postmaster.pid lies under the base directory (and its children). */
    private void killLeftovers() {
        try (Stream<Path> s = Files.walk(base, 3)) {
            s.filter(p -> p.getFileName().toString().equals("postmaster.pid")).forEach(pidFile -> {
                try {
                    long pid = Long.parseLong(Files.readAllLines(pidFile).get(0).strip());
                    String cmd = new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")),
                            StandardCharsets.UTF_8);
                    if (cmd.contains(base.toString())) {
                        ProcessHandle.of(pid).ifPresent(h -> {
                            h.descendants().forEach(ProcessHandle::destroyForcibly);
                            h.destroyForcibly();
                        });
                    }
                } catch (IOException | RuntimeException e) {
                    // No such process any more, or no pid file content: nothing to kill.
                }
            });
        } catch (IOException e) {
            // Base directory gone: nothing left.
        }
    }

}
