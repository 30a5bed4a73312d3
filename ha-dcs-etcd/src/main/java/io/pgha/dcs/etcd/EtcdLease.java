package io.pgha.dcs.etcd;

import static io.pgha.dcs.etcd.EtcdJson.decode;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.spi.DaemonThreadFactory;
import io.pgha.core.spi.DcsCallGuard;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.IdleLeaseRule;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The etcd lease of one member, which its leader and member keys are attached to (docs/decisions 0302):
 *
 * <ul>
 *   <li>Granted lazily by the first write that needs one, with TTL = the member's ttl in whole seconds, and granted
 *       anew only by a write after etcd reports it gone (a keepalive without {@code TTL}, or "lease not found").</li>
 *   <li>Kept alive before each {@code acquire}/{@code renew} txn ({@link #withLease} with {@code refresh}): that
 *       keepalive is sent after the caller's {@code sentAt}, which is what {@link #guarantee()} rests on.</li>
 *   <li>Kept alive in between by a daemon thread every {@code keepaliveInterval}, which never grants and pauses while
 *       the member makes no call for a whole ttl ({@link IdleLeaseRule}): a hung HA loop must not hold its leader key
 *       forever through this thread.</li>
 *   <li>Remembers every lease it was granted: a key attached to any of them is this member's, a key attached to any
 *       other lease belongs to another process, even under our name (docs/decisions 0011).</li>
 * </ul>
 *
 * <p>Thread-safe: the HA loop's calls and the keepalive thread share it. Logs under {@link EtcdDcs}'s logger, as it
 * did before the lease was split out of that class, so operators' log filters and log searches keep matching.
 */
final class EtcdLease {

    private static final Logger LOG = LoggerFactory.getLogger(EtcdDcs.class);

    /** A lease this member holds: etcd's ID and the TTL etcd granted. */
    private record Lease(long id, long ttlSeconds) {}

    /** A write that needs the lease, given its ID. */
    @FunctionalInterface
    interface LeaseCall {
        boolean run(long leaseId) throws DcsUnavailableException;
    }

    private final EtcdGateway gateway;
    private final DcsCallGuard calls;
    private final String log;
    private final long requestedTtlSeconds;
    private final Duration keepaliveInterval;
    private final IdleLeaseRule idleRule;
    private final ScheduledExecutorService keepaliveThread;

    private final AtomicReference<Lease> lease = new AtomicReference<>();
    private final Object grantLock = new Object();
    private final AtomicBoolean keepaliveScheduled = new AtomicBoolean();
    private final AtomicInteger grants = new AtomicInteger();
    /** Every lease this instance was granted: keys attached to them are this member's (docs/decisions 0011). */
    private final Set<Long> ownLeases = ConcurrentHashMap.newKeySet();

    private volatile long grantedTtlSeconds;
    private volatile boolean keepalivesFailing;
    /** Send time ({@link DcsCallGuard#nanoTime()}) of the last keepalive etcd confirmed; MIN_VALUE before one. */
    private volatile long lastConfirmedKeepaliveAt = Long.MIN_VALUE;

    /**
     * No request is sent and no thread started until the first write asks for the lease.
     *
     * @param calls      the member's guard: deadlines for the background keepalives, and when the member last called
     * @param threadName the keepalive thread's name prefix
     */
    EtcdLease(EtcdGateway gateway, DcsCallGuard calls, long requestedTtlSeconds, Duration keepaliveInterval,
            String log, String threadName) {
        this.gateway = gateway;
        this.calls = calls;
        this.log = log;
        this.requestedTtlSeconds = requestedTtlSeconds;
        this.keepaliveInterval = keepaliveInterval;
        // A member that stopped calling (a hung HA loop) must not hold its keys forever through our thread.
        this.idleRule = new IdleLeaseRule(calls, Duration.ofSeconds(requestedTtlSeconds), log);
        this.keepaliveThread = Executors.newSingleThreadScheduledExecutor(new DaemonThreadFactory(threadName));
    }

    // ------------------------------------------------------------------------------------------------ state

    /** The TTL asked of etcd, in seconds. */
    long requestedTtlSeconds() {
        return requestedTtlSeconds;
    }

    /** The current lease ID; 0 while the member holds none. */
    long id() {
        Lease l = lease.get();
        return l == null ? 0 : l.id;
    }

    /** True when the member holds a lease and it is {@code id}. */
    boolean isCurrent(long id) {
        Lease l = lease.get();
        return l != null && l.id == id;
    }

    /** Whether this instance was ever granted lease {@code id}: keys attached to it are this member's. */
    boolean wasGranted(long id) {
        return ownLeases.contains(id);
    }

    /** The TTL etcd granted the latest lease, in seconds; 0 before the first. */
    long grantedTtlSeconds() {
        return grantedTtlSeconds;
    }

    /** Leases granted so far (a new one after each loss). */
    int granted() {
        return grants.get();
    }

    /**
     * The granted TTL capped at the requested one: a longer grant (etcd's minimum lease TTL) only keeps a crashed
     * member's keys longer. Before the first grant, the requested TTL, since etcd never grants less.
     */
    Duration guarantee() {
        long granted = grantedTtlSeconds;
        return Duration.ofSeconds(granted == 0 ? requestedTtlSeconds : Math.min(granted, requestedTtlSeconds));
    }

    // ------------------------------------------------------------------------------------------------ writes

    /**
     * Runs {@code call} with a live lease. {@code refresh}: keep the lease alive first (or grant one), so the call is
     * covered until {@code sentAt + TTL}. A lease that etcd no longer knows is replaced once and the call repeated:
     * "lease not found" means etcd applied nothing.
     */
    boolean withLease(String what, long deadline, boolean refresh, LeaseCall call) throws DcsUnavailableException {
        Lease l = refresh ? freshLease(what, deadline) : currentLease(what, deadline);
        try {
            return call.run(l.id);
        } catch (EtcdErrorException e) {
            if (!e.error().leaseNotFound()) {
                throw e;
            }
            if (lease.compareAndSet(l, null)) {
                LOG.warn("{}etcd lease {} is gone (expired or revoked): this member's leader and member keys went "
                        + "with it; granting a new one", log, hex(l.id));
            }
            return call.run(grant(what, deadline, l).id);
        }
    }

    /** The current lease, just kept alive, or a new one. */
    private Lease freshLease(String what, long deadline) throws DcsUnavailableException {
        Lease l = lease.get();
        if (l != null && keepalive(what, l, deadline) > 0) {
            return l;
        }
        return grant(what, deadline, l);
    }

    private Lease currentLease(String what, long deadline) throws DcsUnavailableException {
        Lease l = lease.get();
        return l != null ? l : grant(what, deadline, null);
    }

    /** Sends one keepalive; returns the TTL etcd restarted the lease with, or 0 when the lease is gone. */
    private long keepalive(String what, Lease l, long deadline) throws DcsUnavailableException {
        long sentAt = calls.nanoTime();
        JsonNode r = gateway.post(what + " (lease keepalive)", "/lease/keepalive", EtcdJson.leaseId(l.id), deadline,
                true);
        EtcdJson.Error err = EtcdJson.error(r);
        if (err != null) {
            throw new EtcdErrorException(what + ": etcd refused the keepalive of lease " + hex(l.id) + ": "
                    + err.message(), err);
        }
        long ttl = decode(what, () -> EtcdJson.keepaliveTtl(r));
        if (ttl > 0) {
            grantedTtlSeconds = ttl;
            lastConfirmedKeepaliveAt = Math.max(lastConfirmedKeepaliveAt, sentAt);
            return ttl;
        }
        if (lease.compareAndSet(l, null)) {
            LOG.warn("{}etcd lease {} is gone (expired or revoked): this member's leader and member keys went with it;"
                    + " a new lease is granted for the next write", log, hex(l.id));
        }
        return 0;
    }

    /**
     * Grants a new lease unless another thread already replaced {@code gone}. The first grant starts the keepalive
     * thread: a member that never writes holds no lease and needs none.
     */
    private Lease grant(String what, long deadline, Lease gone) throws DcsUnavailableException {
        synchronized (grantLock) {
            Lease now = lease.get();
            if (now != null && now != gone) {
                return now;
            }
            JsonNode r = gateway.post(what + " (lease grant)", "/lease/grant", EtcdJson.leaseGrant(requestedTtlSeconds),
                    deadline, true);
            EtcdJson.Grant g = decode(what, () -> EtcdJson.grant(r));
            Lease fresh = new Lease(g.id(), g.ttlSeconds());
            ownLeases.add(g.id());
            grantedTtlSeconds = g.ttlSeconds();
            lease.set(fresh);
            grants.incrementAndGet();
            if (g.ttlSeconds() != requestedTtlSeconds) {
                LOG.warn("{}etcd granted lease {} a TTL of {} s instead of the {} s asked for{}", log, hex(g.id()),
                        g.ttlSeconds(), requestedTtlSeconds, g.ttlSeconds() > requestedTtlSeconds
                                ? " (etcd's minimum lease TTL): a crashed member keeps its keys that long"
                                : "; the leader lease is shortened to match");
            } else {
                LOG.info("{}granted etcd lease {} (TTL {} s)", log, hex(g.id()), g.ttlSeconds());
            }
            if (keepaliveScheduled.compareAndSet(false, true)) {
                try {
                    keepaliveThread.scheduleWithFixedDelay(this::backgroundKeepalive, keepaliveInterval.toNanos(),
                            keepaliveInterval.toNanos(), TimeUnit.NANOSECONDS);
                } catch (RejectedExecutionException e) {
                    // closed meanwhile
                }
            }
            return fresh;
        }
    }

    /** The keepalive thread's tick: keeps the lease while the member is in use, never re-grants. */
    private void backgroundKeepalive() {
        Lease l = lease.get();
        if (l == null || calls.isClosed()) {
            return;
        }
        if (idleRule.isIdle("background keepalives pause, and lease " + hex(l.id) + " ends unless the member calls "
                + "again")) {
            return;
        }
        // A leader's renewals keep the lease more often than this thread does (each sends a keepalive first): one
        // confirmed within the last interval makes this one redundant, and at idle it was a third of the requests.
        long confirmedAt = lastConfirmedKeepaliveAt;
        if (confirmedAt != Long.MIN_VALUE && calls.nanoTime() - confirmedAt < keepaliveInterval.toNanos()) {
            return;
        }
        try {
            keepalive("keep the lease alive", l, calls.backgroundDeadline());
            if (keepalivesFailing) {
                keepalivesFailing = false;
                LOG.info("{}background keepalives of lease {} succeed again", log, hex(l.id));
            }
        } catch (DcsUnavailableException e) {
            if (!keepalivesFailing) {
                keepalivesFailing = true;
                LOG.warn("{}background keepalive of lease {} failed: {}", log, hex(l.id), e.getMessage());
            }
        } catch (RuntimeException e) {
            LOG.warn("{}background keepalive of lease {} failed unexpectedly", log, hex(l.id), e);
        }
    }

    // ------------------------------------------------------------------------------------------------ close

    /** Stops the keepalive thread; the member is closing, or crashing in a test. */
    void stopKeepalives() {
        keepaliveThread.shutdownNow();
    }

    /**
     * Revokes the lease, so etcd deletes the keys attached to it at once; if etcd cannot be reached they expire with
     * it, as after a crash. Called by close, after {@link #stopKeepalives()} and before the gateway closes.
     */
    void revoke() {
        Lease l = lease.getAndSet(null);
        if (l != null) {
            try {
                gateway.post("revoke the lease", "/lease/revoke", EtcdJson.leaseId(l.id), calls.backgroundDeadline(),
                        true);
                LOG.info("{}closed: revoked etcd lease {}, so its leader and member keys are gone", log, hex(l.id));
            } catch (EtcdErrorException e) {
                if (e.error().leaseNotFound()) {
                    LOG.info("{}closed: etcd lease {} had already ended", log, hex(l.id));
                } else {
                    LOG.warn("{}closed without revoking etcd lease {} ({}): its keys expire within {} s", log,
                            hex(l.id), e.getMessage(), l.ttlSeconds);
                }
            } catch (DcsUnavailableException e) {
                LOG.warn("{}closed without revoking etcd lease {} ({}): its keys expire within {} s", log, hex(l.id),
                        e.getMessage(), l.ttlSeconds);
            }
        } else {
            LOG.info("{}closed (no lease held)", log);
        }
    }

    /** Lease IDs as etcd's own tools show them. */
    static String hex(long id) {
        return Long.toHexString(id);
    }
}
