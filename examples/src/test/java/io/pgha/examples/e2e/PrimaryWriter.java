package io.pgha.examples.e2e;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Commits a marker row on one member every {@code interval}, straight to its PostgreSQL (not through any routing),
 * and remembers when the last commit returned. It keeps trying after failures (with a fresh connection), so "the
 * last commit" is the last one that member accepted, not the last one before the first error.
 */
final class PrimaryWriter implements AutoCloseable {

    private final AgentProcess target;
    private final String prefix;
    private final Duration interval;
    private final Thread thread;
    private final AtomicLong successes = new AtomicLong();
    private final AtomicLong failuresAfterLastSuccess = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong lastCommitReturnedNanos = new AtomicLong(Long.MIN_VALUE);
    private final AtomicReference<String> lastError = new AtomicReference<>();
    private final List<String> acknowledged = Collections.synchronizedList(new ArrayList<>());
    private final long deadlineNanos;
    private volatile boolean stopped;

    PrimaryWriter(AgentProcess target, String prefix, Duration interval, Duration maxRunTime) {
        this.target = target;
        this.prefix = prefix;
        this.interval = interval;
        this.deadlineNanos = System.nanoTime() + maxRunTime.toNanos();
        this.thread = new Thread(this::run, "e2e-writer-" + target.name);
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void run() {
        Connection c = null;
        long n = 0;
        // Bounded by the deadline even if nobody calls close().
        while (!stopped && System.nanoTime() < deadlineNanos) {
            try {
                if (c == null) {
                    c = target.sql(Duration.ofSeconds(3));
                }
                String note = prefix + (n++);
                Sql.insert(c, note);
                lastCommitReturnedNanos.set(System.nanoTime());
                acknowledged.add(note);
                successes.incrementAndGet();
                failuresAfterLastSuccess.set(0);
            } catch (SQLException e) {
                failuresAfterLastSuccess.incrementAndGet();
                failures.incrementAndGet();
                lastError.set(e.getMessage());
                Sql.closeQuietly(c);
                c = null;
            }
            try {
                Thread.sleep(interval.toMillis());
            } catch (InterruptedException e) {
                break;
            }
        }
        Sql.closeQuietly(c);
    }

    long successes() {
        return successes.get();
    }

    /** Failed attempts in all. */
    long failures() {
        return failures.get();
    }

    /** Failed attempts since the last commit: the member stopped accepting writes when this keeps growing. */
    long failuresAfterLastSuccess() {
        return failuresAfterLastSuccess.get();
    }

    /** {@link System#nanoTime()} when the last successful commit returned to this client. */
    long lastCommitReturnedNanos() {
        return lastCommitReturnedNanos.get();
    }

    /** The notes of every commit that returned successfully, in order. */
    List<String> acknowledged() {
        synchronized (acknowledged) {
            return List.copyOf(acknowledged);
        }
    }

    String lastError() {
        return lastError.get();
    }

    @Override
    public void close() {
        stopped = true;
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
