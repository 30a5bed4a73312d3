package io.pgha.dcs.consul;

import io.pgha.core.spi.DaemonThreadFactory;
import io.pgha.core.spi.DcsCallGuard;
import io.pgha.core.spi.DcsUnavailableException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A blocking query on the leader key, on a daemon thread: every answer that differs from the last one (present,
 * {@code ModifyIndex}, session, value) calls {@code onChange}. The index is reset when it goes backwards and never
 * below 1; a read times out after wait + wait/16 (Consul's jitter) + retryTimeout; quick answers in a row are rate
 * limited (a burst of two, then one per second). After a failure the next query does not block, so what happened
 * meanwhile is found at once.
 */
final class ConsulLeaderWatch {

    private static final Logger LOG = LoggerFactory.getLogger(ConsulLeaderWatch.class);

    private final ConsulSettings settings;
    private final ConsulHttp http;
    private final DcsCallGuard calls;
    private final String leaderKey;
    private final String log;
    private final Runnable onChange;
    private final Thread thread;

    /** What the watch compares between answers: any difference is a change of the leader key. */
    private record LeaderState(boolean present, long modifyIndex, String session, String value) {
        static final LeaderState ABSENT = new LeaderState(false, 0, null, null);
    }

    private long index;
    private LeaderState last;
    private double tokens = 2;
    private long refilledAt = System.nanoTime();

    /** @param onChange told of every change; must not block (the adapter's {@code LeaderChangeDispatcher}) */
    ConsulLeaderWatch(ConsulSettings settings, ConsulHttp http, DcsCallGuard calls, String leaderKey, String log,
            Runnable onChange, String threadName) {
        this.settings = settings;
        this.http = http;
        this.calls = calls;
        this.leaderKey = leaderKey;
        this.log = log;
        this.onChange = onChange;
        this.thread = new DaemonThreadFactory(threadName).newThread(this::run);
    }

    /**
     * Reads the first state before returning, so a change the caller makes next is seen as a change; then starts the
     * thread. A failed first read leaves the state unknown (the next answer then counts as news).
     */
    void start() {
        try {
            query(0, calls.backgroundDeadline(), false);
        } catch (DcsUnavailableException e) {
            LOG.debug("{}first read of the leader key for the watch failed: {}", log, e.getMessage());
        }
        thread.start();
    }

    /** Ends the thread (after the guard was closed). */
    void stop() {
        thread.interrupt();
    }

    private void run() {
        long backoff = Duration.ofMillis(100).toNanos();
        while (!calls.isClosed()) {
            try {
                rateLimit();
                long wait = settings.watchWait().toNanos();
                // Consul answers after wait plus up to wait/16 of its own jitter; then the answer has to reach us.
                long deadline = calls.backgroundDeadline() + wait + wait / 16;
                query(index, deadline, true);
                backoff = Duration.ofMillis(100).toNanos();
            } catch (DcsUnavailableException e) {
                if (calls.isClosed()) {
                    return;
                }
                LOG.debug("{}leader watch: {}", log, e.getMessage());
                // Whatever happened while we could not ask is found by a non-blocking query next.
                index = 0;
                try {
                    Thread.sleep(backoff / 1_000_000);
                } catch (InterruptedException ie) {
                    return;
                }
                backoff = Math.min(backoff * 2, Duration.ofSeconds(2).toNanos());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void query(long minIndex, long deadline, boolean report) throws DcsUnavailableException {
        String what = "watch the leader key " + leaderKey;
        // Default consistency: the watch only wakes the HA loop, which then reads with the configured mode.
        List<String> q = minIndex > 0
                ? List.of("index", Long.toString(minIndex), "wait", GoDuration.format(settings.watchWait()))
                : List.of();
        ConsulHttp.Response r = http.send(what, "GET", "kv/" + leaderKey, q, null, deadline);
        LeaderState state;
        if (r.status() == 404) {
            state = LeaderState.ABSENT;
        } else if (r.status() == 200) {
            List<ConsulKv.KvEntry> es = ConsulKv.parseEntries(what, r);
            ConsulKv.KvEntry e = es.isEmpty() ? null : es.get(0);
            state = e == null ? LeaderState.ABSENT
                    : new LeaderState(true, e.modifyIndex(), e.session(),
                            new String(e.value(), StandardCharsets.UTF_8));
        } else {
            throw ConsulHttp.unexpected(what, r);
        }
        long got = r.index();
        if (got < index) {
            // Indexes can go backwards (snapshot restore, the newest key of a list deleted): start over.
            index = 0;
        } else {
            // Never block on an index below 1, or the next query returns at once and the loop spins.
            index = Math.max(1, got);
        }
        LeaderState before = last;
        last = state;
        // An unknown earlier state (the first read failed) counts as a change: a spurious wake-up is harmless.
        if (report && (before == null || !before.equals(state))) {
            onChange.run();
        }
    }

    /** A token bucket (burst 2, one per second): quick answers in a row degrade into polling, never a busy loop. */
    private void rateLimit() throws InterruptedException {
        long now = System.nanoTime();
        tokens = Math.min(2, tokens + (now - refilledAt) / 1e9);
        refilledAt = now;
        if (tokens < 1) {
            long waitNanos = (long) ((1 - tokens) * 1e9);
            Thread.sleep(waitNanos / 1_000_000, (int) (waitNanos % 1_000_000));
            tokens = 1;
            refilledAt = System.nanoTime();
        }
        tokens -= 1;
    }
}
