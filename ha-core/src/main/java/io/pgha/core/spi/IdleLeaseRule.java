package io.pgha.core.spi;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An adapter's background thread keeps the member's lease alive only while the member itself is alive.
 *
 * <p>Adapters renew the lease on their own (etcd keepalives, Consul session renewals, ZooKeeper's heartbeats), so the
 * member keys stay while the HA loop sleeps between cycles. But a member that made no DCS call for longer than its
 * ttl is a hung HA loop: its lease guard has fenced PostgreSQL, and only the lease ending lets another member take
 * over. So once {@link #isIdle} says so, the adapter stops keeping the lease (pauses renewals, or closes the session)
 * until the member calls again.
 *
 * <p>The limit must not be shorter than the adapter's {@link Dcs#leaseGuarantee()}: the lease may end no earlier than
 * the adapter promised. The pause and the return are each logged once. Thread-safe; meant for one background thread.
 */
public final class IdleLeaseRule {

    private static final Logger LOG = LoggerFactory.getLogger(IdleLeaseRule.class);

    private final DcsCallGuard calls;
    private final Supplier<Duration> limit;
    private final String logPrefix;
    private boolean paused;
    private Duration idleWhenPaused = Duration.ZERO;

    /**
     * @param calls     the adapter's guard, which knows when the member last called
     * @param limit     how long the member may make no call (the ttl, or longer if the lease guarantee is longer);
     *                  asked at every check, so it may follow what the store granted
     * @param logPrefix put before log messages, e.g. {@code "orders/db1 - "}
     */
    public IdleLeaseRule(DcsCallGuard calls, Supplier<Duration> limit, String logPrefix) {
        this.calls = Objects.requireNonNull(calls, "calls");
        this.limit = Objects.requireNonNull(limit, "limit");
        this.logPrefix = Objects.requireNonNull(logPrefix, "logPrefix");
    }

    /** A fixed limit, e.g. the member's ttl. */
    public IdleLeaseRule(DcsCallGuard calls, Duration limit, String logPrefix) {
        this(calls, constant(limit), logPrefix);
    }

    /**
     * True when the member made no call for longer than the limit: the caller must not keep the lease now.
     *
     * @param consequence what the adapter does about it, for the log line, e.g. {@code "background keepalives
     *                    pause, and lease 1f ends unless the member calls again"}
     */
    public synchronized boolean isIdle(String consequence) {
        Duration idle = calls.sinceLastCall();
        Duration max = limit.get();
        if (idle.compareTo(max) > 0) {
            if (!paused) {
                paused = true;
                idleWhenPaused = idle;
                LOG.warn("{}no DCS call for {} ms, longer than the ttl ({} ms): {}", logPrefix, idle.toMillis(),
                        max.toMillis(), consequence);
            }
            return true;
        }
        if (paused) {
            paused = false;
            LOG.info("{}the member calls the DCS again (it had made none for more than {} ms): the lease is kept "
                    + "again", logPrefix, idleWhenPaused.toMillis());
        }
        return false;
    }

    private static Supplier<Duration> constant(Duration limit) {
        Objects.requireNonNull(limit, "limit");
        return () -> limit;
    }
}
