package io.pgha.dcs.consul;

import io.pgha.core.spi.DaemonThreadFactory;
import io.pgha.core.spi.DcsCallGuard;
import io.pgha.core.spi.DcsUnavailableException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A blocking query on one key (the leader key) or, with {@code recurse}, on every key under a prefix (the member keys),
 * on a daemon thread: every answer that differs from the last one (which keys exist, and each one's
 * {@code ModifyIndex}, session and value) calls {@code onChange}. The index is reset when it goes backwards and never
 * below 1; a read times out after wait + wait/16 (Consul's jitter) + retryTimeout; quick answers in a row are rate
 * limited (a burst of two, then one per second). After a failure the next query does not block, so what happened
 * meanwhile is found at once.
 */
final class ConsulKeyWatch {

    private static final Logger LOG = LoggerFactory.getLogger(ConsulKeyWatch.class);

    private final ConsulSettings settings;
    private final ConsulHttp http;
    private final DcsCallGuard calls;
    private final String key;
    private final boolean prefix;
    private final String log;
    private final Runnable onChange;
    private final Thread thread;

    /** What the watch compares between answers, per key: any difference is a change. */
    private record KeyState(String key, long modifyIndex, String session, String value) {}

    private long index;
    /** The watched keys present at the last answer; null while unknown. */
    private List<KeyState> last;
    private double tokens = 2;
    private long refilledAt = System.nanoTime();

    /**
     * @param prefix   watch every key starting with {@code key} ({@code recurse}), not {@code key} alone
     * @param onChange told of every change; must not block (the adapter's {@code ChangeDispatcher})
     */
    ConsulKeyWatch(ConsulSettings settings, ConsulHttp http, DcsCallGuard calls, String key, boolean prefix,
            String log, Runnable onChange, String threadName) {
        this.settings = settings;
        this.http = http;
        this.calls = calls;
        this.key = key;
        this.prefix = prefix;
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
            LOG.debug("{}first read of {} for the watch failed: {}", log, key, e.getMessage());
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
                LOG.debug("{}watch on {}: {}", log, key, e.getMessage());
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
        String what = "watch " + key;
        // Default consistency: the watch only wakes the caller, which then reads with the configured mode.
        List<String> q = new ArrayList<>();
        if (prefix) {
            q.add("recurse");
            q.add(null);
        }
        if (minIndex > 0) {
            q.addAll(List.of("index", Long.toString(minIndex), "wait", GoDuration.format(settings.watchWait())));
        }
        ConsulHttp.Response r = http.send(what, "GET", "kv/" + key, q, null, deadline);
        List<KeyState> state = new ArrayList<>();
        if (r.status() == 200) {
            for (ConsulKv.KvEntry e : ConsulKv.parseEntries(what, r)) {
                state.add(new KeyState(e.key(), e.modifyIndex(), e.session(),
                        new String(e.value(), StandardCharsets.UTF_8)));
            }
        } else if (r.status() != 404) {
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
        List<KeyState> before = last;
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
