package io.pgha.examples.e2e;

import io.pgha.jdbc.FailoverErrors;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.stream.Collectors;

/**
 * The application that knows nothing of pgha: plain pgjdbc on a multi-host URL with {@code targetServerType=primary},
 * listing the members' published addresses (their {@code connect_address}, the e2e proxies), one connection kept open,
 * each row an autocommitted {@code INSERT} into {@link Sql#ROUTED_TABLE} (its return is the
 * acknowledgement), a fresh connection after any failure. {@code hostRecheckSeconds=0} makes pgjdbc forget which
 * host was primary between attempts, as libpq does (its default, 10 s, would keep a promoted replica marked as a
 * secondary for up to 10 s and measure the driver's cache, not the cluster). Records what {@link RoutedWriter}
 * records, in its types.
 */
final class MultiHostWriter implements AutoCloseable {

    private final String url;
    private final Properties props = new Properties();
    private final String run;
    private final Duration pause;
    private final long deadlineNanos;
    private final Thread thread;
    private final List<RoutedWriter.Commit> commits = new ArrayList<>();
    private final List<RoutedWriter.Failure> failures = new ArrayList<>();
    private volatile boolean stopped;

    MultiHostWriter(List<AgentProcess> members, String password, String run, Duration pause, Duration maxRunTime) {
        // The addresses the members publish (their proxies), as HaDataSource reaches them: both writers take the same
        // path, and a crashed member's connections are reset for both.
        this.url = "jdbc:postgresql://" + members.stream().map(m -> m.pgProxy.address())
                .collect(Collectors.joining(",")) + "/postgres?targetServerType=primary&hostRecheckSeconds=0";
        props.setProperty("user", "postgres");
        props.setProperty("password", password);
        props.setProperty("connectTimeout", "2");
        props.setProperty("loginTimeout", "4");
        // A commit that hangs longer than this counts as failed (its outcome unknown), and the writer reconnects.
        props.setProperty("socketTimeout", "10");
        props.setProperty("ApplicationName", "bench-multihost");
        this.run = run;
        this.pause = pause;
        this.deadlineNanos = System.nanoTime() + maxRunTime.toNanos();
        this.thread = new Thread(this::loop, "bench-multihost-writer-" + run);
        this.thread.setDaemon(true);
        this.thread.start();
    }

    String url() {
        return url;
    }

    private void loop() {
        Connection c = null;
        long n = 0;
        while (!stopped && System.nanoTime() < deadlineNanos) {
            n++;
            long started = System.nanoTime();
            boolean sent = false;
            try {
                if (c == null) {
                    c = DriverManager.getConnection(url, props);
                }
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + Sql.ROUTED_TABLE
                        + " (run, n) VALUES (?, ?) RETURNING port")) {
                    ps.setString(1, run);
                    ps.setLong(2, n);
                    sent = true;
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        RoutedWriter.record(commits,
                                new RoutedWriter.Commit(n, rs.getInt(1), started, System.nanoTime()));
                    }
                }
            } catch (SQLException e) {
                RoutedWriter.record(failures, new RoutedWriter.Failure(n, System.nanoTime(), e.getSQLState(),
                        FailoverErrors.classify(e, sent), sent, e.getMessage()));
                Sql.closeQuietly(c);
                c = null;
            }
            try {
                Thread.sleep(pause.toMillis());
            } catch (InterruptedException e) {
                break;
            }
        }
        Sql.closeQuietly(c);
    }

    List<RoutedWriter.Commit> commits() {
        return RoutedWriter.copy(commits);
    }

    List<RoutedWriter.Failure> failures() {
        return RoutedWriter.copy(failures);
    }

    /** Stops after the current attempt (at most the socket or login timeout). */
    @Override
    public void close() {
        stopped = true;
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            thread.interrupt();
        }
    }
}
