package io.pgha.jdbc;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the first write borrows of a new leadership until the new leader accepts writes, before its write pool opens.
 *
 * <p>Why: the leader key appears when the lock is won, before the promotion ends. A Hikari pool opened then would try,
 * be refused (pgjdbc's primary check), and back off (10 ms doubling up to 5 s), so the first write would come up to
 * the back-off later than the promotion. Instead one plain connection asks {@code pg_is_in_recovery()} every
 * {@link #POLL}; the pool opens when the answer is false and its first attempt succeeds. One probe per member runs at
 * a time: concurrent borrows wait for it. The probe is given up, and the pool left to report what is wrong, as soon
 * as the server cannot be reached at all (down, wrong password): the gate only waits out a promotion.
 */
final class PromotionGate {

    private static final Logger LOG = LoggerFactory.getLogger(PromotionGate.class);
    /** The gap between two questions: a round trip on an open connection costs well under a millisecond. */
    static final Duration POLL = Duration.ofMillis(5);

    interface Prober {
        Connection open(MemberPools.Key key, Duration timeout) throws SQLException;
    }

    private final Prober prober;
    private final Map<MemberPools.Key, CompletableFuture<Void>> running = new ConcurrentHashMap<>();

    PromotionGate(Prober prober) {
        this.prober = prober;
    }

    /**
     * Returns when {@code key}'s server is out of recovery, cannot be reached, {@code current} turns false (the
     * leadership this borrow was decided under has ended), or {@code deadline} (System.nanoTime) passes.
     */
    void awaitWritable(MemberPools.Key key, long deadline, BooleanSupplier current) {
        CompletableFuture<Void> mine = new CompletableFuture<>();
        CompletableFuture<Void> other = running.putIfAbsent(key, mine);
        if (other != null) {
            waitFor(other, deadline);
            return;
        }
        try {
            probe(key, deadline, current);
        } finally {
            running.remove(key, mine);
            mine.complete(null);
        }
    }

    private void probe(MemberPools.Key key, long deadline, BooleanSupplier current) {
        long start = System.nanoTime();
        int asked = 0;
        try (Connection c = prober.open(key, Duration.ofNanos(Math.max(0, deadline - start)));
             Statement st = c.createStatement()) {
            while (current.getAsBoolean() && deadline - System.nanoTime() > 0) {
                asked++;
                try (ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery()")) {
                    rs.next();
                    if (!rs.getBoolean(1)) {
                        if (asked > 1) {
                            LOG.info("{} ({}) accepts writes after {} ms of promotion", key.member(),
                                    key.host() + ":" + key.port(), (System.nanoTime() - start) / 1_000_000);
                        }
                        return;
                    }
                }
                Thread.sleep(POLL.toMillis());
            }
        } catch (SQLException e) {
            LOG.debug("promotion probe of {} gave up: {}", key.member(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void waitFor(CompletableFuture<Void> f, long deadline) {
        try {
            f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // The deadline passed or the probe failed: the borrow goes on to the pool, which reports what is wrong.
        }
    }
}
