package io.pgha.examples.e2e;

import io.pgha.jdbc.FailoverErrors;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * An application writing through a routing {@link DataSource} (issue 10): one transaction after another, each on a
 * freshly borrowed connection, inserting row {@code n} of its run into {@link Sql#ROUTED_TABLE}. Its first statement
 * asks the server which one it is and whether it is in recovery, so every borrow is checked, not only the commits.
 * It never restarts and never gives up before it is closed (or {@code maxRunTime} has passed): a failed transaction
 * is recorded and the next one borrows again, as an application's retry would.
 */
final class RoutedWriter implements AutoCloseable {

    /** A connection the DataSource handed out: when {@code getConnection()} returned, and to which server. */
    record Borrow(long n, long askedNanos, long borrowedNanos, int port, boolean inRecovery) {
        Duration waited() {
            return Duration.ofNanos(borrowedNanos - askedNanos);
        }
    }

    /**
     * A transaction the writer was told committed: it began when {@code getConnection()} returned
     * ({@code startedNanos}; the wait for the borrow is not part of it) and {@code commit()} returned at
     * {@code returnedNanos}.
     */
    record Commit(long n, int port, long startedNanos, long returnedNanos) {
        Duration took() {
            return Duration.ofNanos(returnedNanos - startedNanos);
        }
    }

    /** A transaction that failed: its SQLState, what {@link FailoverErrors#classify} makes of it, and where. */
    record Failure(long n, long atNanos, String sqlState, String classified, boolean atCommit, String message) {}

    private final DataSource ds;
    private final String run;
    private final Duration pause;
    private final long deadlineNanos;
    private final Thread thread;
    private final List<Borrow> borrows = new ArrayList<>();
    private final List<Commit> commits = new ArrayList<>();
    private final List<Failure> failures = new ArrayList<>();
    private volatile boolean stopped;

    RoutedWriter(DataSource ds, String run, Duration pause, Duration maxRunTime) {
        this.ds = ds;
        this.run = run;
        this.pause = pause;
        this.deadlineNanos = System.nanoTime() + maxRunTime.toNanos();
        this.thread = new Thread(this::loop, "e2e-routed-writer-" + run);
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void loop() {
        long n = 0;
        while (!stopped && System.nanoTime() < deadlineNanos) {
            transaction(++n);
            if (!pause.isZero() && !pause.isNegative()) {
                try {
                    Thread.sleep(pause.toMillis());
                } catch (InterruptedException e) {
                    break;
                }
            }
        }
    }

    private void transaction(long n) {
        long asked = System.nanoTime();
        boolean atCommit = false;
        try (Connection c = ds.getConnection()) {
            long borrowed = System.nanoTime();
            c.setAutoCommit(false);
            int port;
            try (Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("SELECT inet_server_port(), pg_is_in_recovery()")) {
                rs.next();
                port = rs.getInt(1);
                record(borrows, new Borrow(n, asked, borrowed, port, rs.getBoolean(2)));
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + Sql.ROUTED_TABLE
                    + " (run, n) VALUES (?, ?)")) {
                ps.setString(1, run);
                ps.setLong(2, n);
                ps.executeUpdate();
            }
            atCommit = true;
            c.commit();
            record(commits, new Commit(n, port, borrowed, System.nanoTime()));
        } catch (SQLException e) {
            record(failures, new Failure(n, System.nanoTime(), e.getSQLState(), FailoverErrors.classify(e, atCommit),
                    atCommit, e.getMessage()));
        }
    }

    /** Appends to a list the writer thread fills and readers copy (also {@link MultiHostWriter}'s). */
    static <T> void record(List<T> list, T item) {
        synchronized (list) {
            list.add(item);
        }
    }

    static <T> List<T> copy(List<T> list) {
        synchronized (list) {
            return List.copyOf(list);
        }
    }

    String run() {
        return run;
    }

    List<Borrow> borrows() {
        return copy(borrows);
    }

    List<Commit> commits() {
        return copy(commits);
    }

    List<Failure> failures() {
        return copy(failures);
    }

    /** Commits acknowledged by the server listening on {@code port}. */
    long commitsOn(int port) {
        return commits().stream().filter(c -> c.port() == port).count();
    }

    /** The first commit acknowledged by {@code port} that returned after {@code sinceNanos}. */
    Optional<Commit> firstCommitOn(int port, long sinceNanos) {
        return commits().stream().filter(c -> c.port() == port && c.returnedNanos() - sinceNanos > 0).findFirst();
    }

    /** The last commit acknowledged by {@code port} before {@code beforeNanos}. */
    Optional<Commit> lastCommitOn(int port, long beforeNanos) {
        return commits().stream().filter(c -> c.port() == port && c.returnedNanos() - beforeNanos < 0)
                .reduce((a, b) -> b);
    }

    /** Stops after the current transaction (which waits at most the DataSource's leaderWait to borrow). */
    @Override
    public void close() {
        stopped = true;
        try {
            thread.join(60_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            thread.interrupt();
        }
    }
}
