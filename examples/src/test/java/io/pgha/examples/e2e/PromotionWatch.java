package io.pgha.examples.e2e;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Polls {@code pg_is_in_recovery()} on replicas every {@code interval} and brackets the moment each one was
 * promoted: it happened after {@link #lastInRecoveryPollStart} (the start of the last poll that still saw recovery)
 * and before {@link #firstPrimaryPollEnd}. Comparisons against the lower bound are therefore conservative.
 */
final class PromotionWatch implements AutoCloseable {

    private final Map<String, Long> lastInRecoveryStart = new ConcurrentHashMap<>();
    private final Map<String, Long> firstPrimaryEnd = new ConcurrentHashMap<>();
    private final List<Thread> threads;
    private final long deadlineNanos;
    private volatile boolean stopped;

    PromotionWatch(List<AgentProcess> replicas, Duration interval, Duration maxRunTime) {
        this.deadlineNanos = System.nanoTime() + maxRunTime.toNanos();
        this.threads = replicas.stream().map(r -> {
            Thread t = new Thread(() -> poll(r, interval), "e2e-promotion-watch-" + r.name);
            t.setDaemon(true);
            t.start();
            return t;
        }).toList();
    }

    private void poll(AgentProcess r, Duration interval) {
        Connection c = null;
        while (!stopped && System.nanoTime() < deadlineNanos && !firstPrimaryEnd.containsKey(r.name)) {
            long start = System.nanoTime();
            try {
                if (c == null) {
                    c = r.sql(Duration.ofSeconds(3));
                }
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery()")) {
                    rs.next();
                    if (rs.getBoolean(1)) {
                        lastInRecoveryStart.put(r.name, start);
                    } else {
                        firstPrimaryEnd.put(r.name, System.nanoTime());
                    }
                }
            } catch (SQLException e) {
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

    /** Start ({@link System#nanoTime()}) of the last poll that saw {@code name} in recovery; null if none did. */
    Long lastInRecoveryPollStart(String name) {
        return lastInRecoveryStart.get(name);
    }

    /** End of the first poll that saw {@code name} as a primary; null if none did. */
    Long firstPrimaryPollEnd(String name) {
        return firstPrimaryEnd.get(name);
    }

    @Override
    public void close() {
        stopped = true;
        for (Thread t : threads) {
            t.interrupt();
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
