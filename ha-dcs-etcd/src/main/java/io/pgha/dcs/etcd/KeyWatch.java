package io.pgha.dcs.etcd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import io.pgha.core.spi.DaemonThreadFactory;
import io.pgha.core.spi.DcsCallGuard;
import io.pgha.core.spi.DcsUnavailableException;
import java.io.IOException;
import java.net.URI;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A streaming watch on one key (the leader key) or on every key under a prefix (the member keys) over the gateway's
 * {@code /watch}: one long POST whose body is a sequence of JSON objects, read by one daemon thread. Every event, and
 * every re-established stream (something may have changed while it was down), calls {@code onChange}.
 *
 * <p>The stream resumes from the revision after the last event seen, so nothing is missed across a reconnect. If
 * etcd compacted that revision away, it cancels the watch with {@code compact_revision}: the range is read again and
 * watched from the current revision (docs/decisions 0303). A stream that breaks, errors or is cancelled is
 * re-opened on the next endpoint after a short backoff.
 */
final class KeyWatch {

    private static final Logger LOG = LoggerFactory.getLogger(KeyWatch.class);
    private static final long MIN_BACKOFF_MS = 100;
    private static final long MAX_BACKOFF_MS = 1_000;

    private final EtcdGateway gateway;
    private final String key;
    private final boolean prefix;
    /** For log messages, e.g. "the leader key". */
    private final String what;
    private final String log;
    private final DcsCallGuard calls;
    private final Runnable onChange;
    private final Thread thread;
    private final Object sleeper = new Object();
    private final AtomicInteger compactions = new AtomicInteger();
    private final AtomicInteger streamsOpened = new AtomicInteger();

    private volatile boolean stopped;
    private volatile EtcdGateway.Stream stream;

    /**
     * @param prefix watch every key starting with {@code key}, not {@code key} alone
     * @param what   the watched keys, for log messages, e.g. {@code "the leader key"}
     * @param calls  the member's guard: gives the deadline of each request (retryTimeout on the member's clock)
     */
    KeyWatch(EtcdGateway gateway, String key, boolean prefix, String what, String log, DcsCallGuard calls,
            Runnable onChange, String threadName) {
        this.gateway = gateway;
        this.key = key;
        this.prefix = prefix;
        this.what = what;
        this.log = log;
        this.calls = calls;
        this.onChange = onChange;
        this.thread = new DaemonThreadFactory(threadName).newThread(this::run);
    }

    void start() {
        thread.start();
    }

    /** Watches cancelled by a compaction so far. */
    int compactions() {
        return compactions.get();
    }

    /** Streams opened so far (the first one included). */
    int streamsOpened() {
        return streamsOpened.get();
    }

    /** A request to {@code endpoint} got no answer: a stream there may be silently dead too, so re-open it. */
    void dropStreamOn(URI endpoint) {
        EtcdGateway.Stream s = stream;
        if (s != null && s.endpoint().equals(endpoint)) {
            LOG.debug("{}etcd {} stopped answering: re-opening the watch on {}", log, endpoint, what);
            closeQuietly(s);
        }
    }

    void stop() {
        stopped = true;
        closeQuietly(stream);
        synchronized (sleeper) {
            sleeper.notifyAll();
        }
        thread.interrupt();
    }

    private void run() {
        long resumeFrom = 0;
        boolean first = true;
        boolean failing = false;
        long backoff = MIN_BACKOFF_MS;
        while (!stopped) {
            EtcdGateway.Stream s = null;
            boolean compacted = false;
            try {
                long deadline = calls.backgroundDeadline();
                if (resumeFrom == 0) {
                    // Only the store's revision is needed: the watch starts after it.
                    JsonNode r = gateway.post("read " + what + " for the watch", "/kv/range",
                            EtcdJson.countOnly(prefix ? EtcdJson.rangePrefix(key) : EtcdJson.range(key)), deadline,
                            true);
                    resumeFrom = EtcdJson.revision(r) + 1;
                }
                s = gateway.openStream("watch " + what, "/watch", EtcdJson.watchCreate(key, prefix, resumeFrom),
                        deadline);
                stream = s;
                if (stopped) {
                    break;
                }
                streamsOpened.incrementAndGet();
                try (MappingIterator<JsonNode> it = EtcdJson.MAPPER.readerFor(JsonNode.class).readValues(s.body())) {
                    while (!stopped && it.hasNextValue()) {
                        JsonNode n = it.nextValue();
                        EtcdJson.Error err = EtcdJson.error(n);
                        if (err != null) {
                            if (err.tokenRejected()) {
                                gateway.invalidateToken(null);
                            }
                            LOG.info("{}the watch on {} ({}) ended with an error: {}", log, what, s.endpoint(),
                                    err.message());
                            break;
                        }
                        EtcdJson.WatchMessage m = EtcdJson.watchMessage(n);
                        if (m == null) {
                            continue;
                        }
                        if (m.created() && m.canceled()) {
                            // Refused at creation, e.g. an expired token: {"created":true,"canceled":true,
                            // "cancel_reason":"rpc error: code = Unauthenticated desc = ...invalid auth token"}.
                            if (m.cancelReason().contains("invalid auth token")
                                    || m.cancelReason().contains("Unauthenticated")) {
                                gateway.invalidateToken(null);
                            }
                            if (!failing) {
                                LOG.warn("{}etcd refused the watch on {}: {}", log, what, m.cancelReason());
                                failing = true;
                            }
                            break;
                        }
                        if (m.created()) {
                            backoff = MIN_BACKOFF_MS;
                            if (failing) {
                                LOG.info("{}watch on {} re-established on {} from revision {}", log, what,
                                        s.endpoint(), resumeFrom);
                                failing = false;
                            }
                            if (!first) {
                                // Whatever happened while the stream was down is news to the watcher.
                                onChange.run();
                            }
                            first = false;
                        }
                        if (m.compactRevision() > 0) {
                            compactions.incrementAndGet();
                            LOG.info("{}the watch on {} from revision {} was cancelled: etcd compacted up to revision "
                                    + "{}; reading again", log, what, resumeFrom, m.compactRevision());
                            compacted = true;
                            resumeFrom = 0;
                            onChange.run();
                            break;
                        }
                        if (m.canceled()) {
                            LOG.info("{}etcd cancelled the watch on {} ({}); watching again", log, what,
                                    m.cancelReason().isEmpty() ? "no reason given" : m.cancelReason());
                            break;
                        }
                        if (!m.events().isEmpty()) {
                            for (EtcdJson.Event e : m.events()) {
                                resumeFrom = Math.max(resumeFrom, e.kv().modRevision() + 1);
                            }
                            onChange.run();
                        }
                    }
                }
            } catch (DcsUnavailableException | IOException | RuntimeException e) {
                if (stopped) {
                    break;
                }
                if (!failing) {
                    LOG.info("{}the watch on {} broke ({}); re-watching in the background", log, what,
                            e.getMessage());
                    failing = true;
                } else {
                    LOG.debug("{}re-watching {} failed again: {}", log, what, e.getMessage());
                }
            } finally {
                stream = null;
                closeQuietly(s);
            }
            if (stopped) {
                break;
            }
            if (!compacted) {
                failing = true;
                if (s != null) {
                    gateway.avoid(s.endpoint());
                }
                if (!pause(backoff)) {
                    break;
                }
                backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
            }
        }
    }

    /** Waits {@code millis} unless stopped first; false when stopped. */
    private boolean pause(long millis) {
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        synchronized (sleeper) {
            long left;
            while (!stopped && (left = until - System.nanoTime()) > 0) {
                try {
                    TimeUnit.NANOSECONDS.timedWait(sleeper, left);
                } catch (InterruptedException e) {
                    return false;
                }
            }
        }
        return !stopped;
    }

    private static void closeQuietly(EtcdGateway.Stream s) {
        if (s == null) {
            return;
        }
        try {
            s.body().close();
        } catch (IOException | RuntimeException e) {
            // already closed or broken: either way the stream is done
        }
    }
}
