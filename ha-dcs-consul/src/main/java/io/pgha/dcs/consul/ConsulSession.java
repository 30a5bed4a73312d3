package io.pgha.dcs.consul;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.spi.DaemonThreadFactory;
import io.pgha.core.spi.DcsCallGuard;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.IdleLeaseRule;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Consul session of one member: its lease.
 *
 * <ul>
 *   <li>Created by the member's first write ({@code Behavior=delete}, no health checks, the configured
 *       {@code LockDelay}; docs/decisions 0403) with a TTL of ttl/2 (docs/decisions 0402).</li>
 *   <li>Renewed by a daemon thread every TTL/3, <em>only while the member shows signs of life</em> (a call within
 *       the last ttl, {@link IdleLeaseRule}): a member whose HA loop is stuck must not keep its keys, and so its
 *       leadership, forever. {@code acquireLeader} and {@code renewLeader} renew it themselves
 *       ({@link #renewed}).</li>
 *   <li>A renewal answered 404 means Consul lost the session with its keys: the next write creates a new one.</li>
 * </ul>
 */
final class ConsulSession {

    private static final Logger LOG = LoggerFactory.getLogger(ConsulSession.class);

    private final ConsulSettings settings;
    private final DcsCallGuard calls;
    private final ConsulHttp http;
    private final String log;
    private final String sessionName;
    private final Duration sessionTtl;
    private final IdleLeaseRule idleRule;
    private final DaemonThreadFactory renewerThread;

    private final Object sessionLock = new Object();
    private final AtomicReference<String> session = new AtomicReference<>();
    /** Every session this member created: keys they hold are this member's (docs/decisions 0011). */
    private final Set<String> ownSessions = ConcurrentHashMap.newKeySet();
    private volatile Duration grantedTtl;
    /** Guarded by sessionLock. */
    private Thread renewer;

    ConsulSession(ConsulSettings settings, DcsContext context, DcsCallGuard calls, ConsulHttp http, String log) {
        this.settings = settings;
        this.calls = calls;
        this.http = http;
        this.log = log;
        this.sessionName = context.layout().scope() + "-" + context.memberName();
        this.sessionTtl = settings.sessionTtlFor(context);
        this.grantedTtl = sessionTtl;
        this.idleRule = new IdleLeaseRule(calls, context.ttl(), log);
        this.renewerThread = new DaemonThreadFactory(
                "pgha-consul-renew-" + context.layout().scope() + "-" + context.memberName());
    }

    /** The session TTL requested from Consul: half the member's ttl. */
    Duration ttl() {
        return sessionTtl;
    }

    /** The session TTL, or less if Consul ever grants a shorter one on renewal. */
    Duration leaseGuarantee() {
        Duration g = grantedTtl;
        return g.compareTo(sessionTtl) < 0 ? g : sessionTtl;
    }

    /** The current session id, or null before the first write and after the session was lost. */
    String id() {
        return session.get();
    }

    String currentOrNew(String what, long deadline) throws DcsUnavailableException {
        String s = session.get();
        return s != null ? s : create(what, deadline);
    }

    /** The current session, renewed now; a new one when there is none or Consul lost it. */
    String renewed(String what, long deadline) throws DcsUnavailableException {
        String s = session.get();
        if (s == null) {
            return create(what, deadline);
        }
        if (renew(what, s, deadline)) {
            return s;
        }
        if (session.compareAndSet(s, null)) {
            LOG.warn("{}Consul session {} is gone (its renewal answered 404), and with it this member's leader and "
                    + "member keys; creating a new session", log, s);
        }
        return create(what, deadline);
    }

    /** Consul refused {@code gone} as an invalid session: a new one (unless another thread already made one). */
    String replace(String gone, String what, long deadline) throws DcsUnavailableException {
        session.compareAndSet(gone, null);
        return create(what, deadline);
    }

    /**
     * True when a key held by session {@code id} (null: none) is this member's: a session it created, current or
     * lost, or no session at all. Not the session's name: another process with this member's name has the same one.
     */
    boolean isOurs(String id) {
        return id == null || ownSessions.contains(id);
    }

    /**
     * Stops the renewer and destroys the session, so Consul deletes this member's leader and member keys at once.
     * Called after the guard was closed. If Consul cannot be reached within {@code retryTimeout}, the keys expire with
     * the session.
     */
    void close() {
        String s;
        synchronized (sessionLock) {
            if (renewer != null) {
                renewer.interrupt();
            }
            s = session.getAndSet(null);
        }
        if (s == null) {
            LOG.info("{}closed (no Consul session was open)", log);
        } else {
            destroy(s);
        }
    }

    // ------------------------------------------------------------------------------------------------ internals

    /** True when renewed, false when Consul no longer knows the session. */
    private boolean renew(String what, String s, long deadline) throws DcsUnavailableException {
        ConsulHttp.Response r = http.send(what + " (renew session " + s + ")", "PUT", "session/renew/" + s, List.of(),
                null, deadline);
        if (r.status() == 404) {
            return false;
        }
        if (r.status() != 200) {
            throw ConsulHttp.unexpected(what + " (renew session " + s + ")", r);
        }
        noteGrantedTtl(r);
        return true;
    }

    private String create(String what, long deadline) throws DcsUnavailableException {
        synchronized (sessionLock) {
            String existing = session.get();
            if (existing != null) {
                return existing;
            }
            calls.requireOpen(what);
            ObjectNode body = ConsulKv.JSON.createObjectNode();
            body.put("Name", sessionName);
            body.put("TTL", GoDuration.format(sessionTtl));
            body.put("Behavior", "delete");
            body.put("LockDelay", GoDuration.format(settings.lockDelay()));
            // An explicit empty list: without it Consul ties the session to the agent's serfHealth check, and a
            // gossip flap or an agent restart would end a healthy leader's lease (docs/decisions 0403).
            body.putArray("Checks");
            ConsulHttp.Response r = http.send(what + " (create a session)", "PUT", "session/create", List.of(),
                    ConsulKv.bytes(body), deadline);
            if (r.status() == 500 && r.text().contains("Invalid Session TTL")) {
                throw new DcsUnavailableException(what + ": Consul refused session TTL "
                        + GoDuration.format(sessionTtl) + " (ttl/2): \"" + r.text().trim() + "\". The servers' "
                        + "session_ttl_min is higher than the sessionTtlMin setting ("
                        + ConsulSettings.seconds(settings.sessionTtlMin()) + "); raise ttl to at least twice it");
            }
            if (r.status() != 200) {
                throw ConsulHttp.unexpected(what + " (create a session)", r);
            }
            String id;
            try {
                id = ConsulKv.JSON.readTree(r.body()).path("ID").asText("");
            } catch (IOException e) {
                throw new DcsUnavailableException(what + ": Consul's answer to session/create is not JSON", e);
            }
            if (id.isEmpty()) {
                throw ConsulHttp.unexpected(what + " (create a session: no ID in the answer)", r);
            }
            ownSessions.add(id);
            session.set(id);
            LOG.info("{}created Consul session {} (TTL {}: Consul ends it between {} and {} after the last renewal; "
                    + "lock delay {} ms; no health checks)", log, id, GoDuration.format(sessionTtl),
                    ConsulSettings.seconds(sessionTtl), ConsulSettings.seconds(sessionTtl.multipliedBy(2)),
                    settings.lockDelay().toMillis());
            if (calls.isClosed()) {
                session.set(null);
                destroy(id);
                throw new DcsUnavailableException(what + ": this Consul client was closed meanwhile");
            }
            if (renewer == null) {
                renewer = renewerThread.newThread(this::renewLoop);
                renewer.start();
            }
            return id;
        }
    }

    private void destroy(String s) {
        String what = "destroy session " + s;
        try {
            ConsulHttp.Response r = http.send(what, "PUT", "session/destroy/" + s, List.of(), null,
                    calls.backgroundDeadline());
            if (r.status() == 200) {
                LOG.info("{}destroyed Consul session {}: Consul deleted this member's leader and member keys", log, s);
            } else {
                LOG.warn("{}{}", log, ConsulHttp.unexpected(what, r).getMessage());
            }
        } catch (DcsUnavailableException e) {
            LOG.warn("{}could not destroy Consul session {} ({}); its keys expire with it within {}", log, s,
                    e.getMessage(), ConsulSettings.seconds(sessionTtl.multipliedBy(2)));
        }
    }

    /** Consul may answer a renewal with a longer TTL (a loaded server asking for fewer renewals); never shorter. */
    private void noteGrantedTtl(ConsulHttp.Response r) {
        try {
            JsonNode n = ConsulKv.JSON.readTree(r.body());
            JsonNode first = n.isArray() && n.size() > 0 ? n.get(0) : n;
            String ttl = first.path("TTL").asText("");
            if (!ttl.isEmpty()) {
                Duration d = GoDuration.parse(ttl);
                if (!d.equals(grantedTtl)) {
                    LOG.info("{}Consul granted session TTL {} (requested {})", log, ttl,
                            GoDuration.format(sessionTtl));
                    grantedTtl = d;
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("{}cannot read the TTL in Consul's renewal answer: {}", log, e.toString());
        }
    }

    /**
     * Keeps the session alive between the HA loop's calls, but only while the loop shows signs of life: a member
     * whose loop is stuck must not keep its keys (and so its leadership) forever.
     */
    private void renewLoop() {
        long period = Math.max(Duration.ofMillis(100).toNanos(), sessionTtl.toNanos() / 3);
        int failures = 0;
        while (!calls.isClosed()) {
            try {
                Thread.sleep(period / 1_000_000, (int) (period % 1_000_000));
            } catch (InterruptedException e) {
                return;
            }
            String s = session.get();
            if (s == null || calls.isClosed()) {
                continue;
            }
            if (idleRule.isIdle("session renewals pause, so Consul ends session " + s + " and this member's keys "
                    + "unless a call comes first")) {
                continue;
            }
            try {
                if (!renew("renew the session in the background", s, calls.backgroundDeadline())) {
                    if (session.compareAndSet(s, null)) {
                        LOG.warn("{}Consul session {} was invalidated (renewal answered 404): this member's leader "
                                + "and member keys are gone; the next write creates a new session", log, s);
                    }
                }
                if (failures > 0) {
                    LOG.info("{}session renewals succeed again after {} failures", log, failures);
                }
                failures = 0;
            } catch (DcsUnavailableException e) {
                if (failures++ == 0) {
                    LOG.warn("{}background session renewal failed: {}", log, e.getMessage());
                }
            }
        }
    }
}
