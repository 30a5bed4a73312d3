package io.pgha.core.internal.rest;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.DataSize;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The health-check endpoints load balancers and orchestrators poll: each is a yes (200) or no (503) computed from
 * one {@link NodeStatus} and the query string. Pure functions, no I/O.
 */
enum HealthCheck {
    /** {@code /}, {@code /primary}, {@code /read-write}, {@code /master}: the writable primary. */
    PRIMARY,
    /** {@code /leader}: holds the leader lock. */
    LEADER,
    /** {@code /standby-leader}: pgha runs no standby clusters, so never. */
    STANDBY_LEADER,
    /** {@code /replica}: a running replica that takes read load. */
    REPLICA,
    /** {@code /read-only}: the primary or a replica. */
    READ_ONLY,
    /** {@code /synchronous}, {@code /sync}: a replica that is a synchronous standby. */
    SYNC,
    /** {@code /read-only-sync}: the primary or a synchronous standby. */
    READ_ONLY_SYNC,
    /** {@code /asynchronous}, {@code /async}: a replica that is not a synchronous standby. */
    ASYNC,
    /** {@code /health}: PostgreSQL runs. */
    HEALTH,
    /** {@code /liveness}: the HA loop is not stuck. */
    LIVENESS,
    /** {@code /readiness}: may take traffic. */
    READINESS;

    /** The check served at {@code path} (no trailing slash), if any. */
    static Optional<HealthCheck> forPath(String path) {
        return Optional.ofNullable(switch (path) {
            case "/", "/primary", "/read-write", "/master" -> PRIMARY;
            case "/leader" -> LEADER;
            case "/standby-leader", "/standby_leader" -> STANDBY_LEADER;
            case "/replica" -> REPLICA;
            case "/read-only" -> READ_ONLY;
            case "/synchronous", "/sync" -> SYNC;
            case "/read-only-sync" -> READ_ONLY_SYNC;
            case "/asynchronous", "/async" -> ASYNC;
            case "/health" -> HEALTH;
            case "/liveness" -> LIVENESS;
            case "/readiness" -> READINESS;
            default -> null;
        });
    }

    /** Whether a GET of this check carries the status JSON (Patroni's liveness and readiness answer bare). */
    boolean hasBody() {
        return this != LIVENESS && this != READINESS;
    }

    /**
     * 200 or 503.
     *
     * @throws IllegalArgumentException when a query parameter is malformed (answered with 400)
     */
    int evaluate(NodeStatus s, Map<String, String> query) {
        return test(s, query) ? 200 : 503;
    }

    private boolean test(NodeStatus s, Map<String, String> query) {
        return switch (this) {
            case PRIMARY -> isPrimary(s);
            case LEADER -> isLeader(s);
            case STANDBY_LEADER -> false;
            case REPLICA -> isReplica(s, query);
            case READ_ONLY -> isPrimary(s) || isReplica(s, query);
            case SYNC -> isReplica(s, query) && s.syncStandby();
            case READ_ONLY_SYNC -> isPrimary(s) || (isReplica(s, query) && s.syncStandby());
            case ASYNC -> isReplica(s, query) && !s.syncStandby();
            case HEALTH -> s.running();
            case LIVENESS -> isAlive(s);
            case READINESS -> isReady(s, query);
        };
    }

    /**
     * Holds the lock with a lease that has not run out, and runs as a primary. The lease, not the role: a primary
     * that lost its lease is about to be fenced, and must not get writes in the meantime. Paused with the DCS out
     * of reach, the role alone decides (nothing demotes a paused primary; the lease guard still fences it).
     */
    private static boolean isPrimary(NodeStatus s) {
        boolean runningPrimary = s.running() && s.pg().role() == Role.PRIMARY;
        if (s.paused() && !s.dcsReachable()) {
            return runningPrimary;
        }
        return s.holdsLease() && runningPrimary;
    }

    private static boolean isLeader(NodeStatus s) {
        if (s.paused() && !s.dcsReachable()) {
            return s.running() && s.pg().role() == Role.PRIMARY;
        }
        return s.holdsLease();
    }

    private static boolean isReplica(NodeStatus s, Map<String, String> query) {
        if (!s.running() || s.pg().role() != Role.REPLICA || s.settings().tags().noloadbalance()) {
            return false;
        }
        String lag = query.get("lag");
        if (lag != null && lagBytes(s, s.pg().walPosition()) > maxLag(lag)) {
            return false;
        }
        String wanted = query.get("replication_state");
        if (wanted != null && !wanted.equals(s.pg().streamingAndReplaying() ? "streaming" : "")) {
            return false;
        }
        return tagsMatch(s, query);
    }

    /**
     * Every {@code tag_<name>=<value>} must name a tag this member has, with that value; flags and numbers compare
     * as lower-case text ({@code tag_nofailover=true}), other tags exactly.
     */
    private static boolean tagsMatch(NodeStatus s, Map<String, String> query) {
        Map<String, Object> tags = s.settings().tags().toPatroni();
        for (Map.Entry<String, String> q : query.entrySet()) {
            if (!q.getKey().startsWith("tag_")) {
                continue;
            }
            Object v = tags.get(q.getKey().substring(4));
            if (v == null) {
                return false;
            }
            String have = v instanceof String text ? text : v.toString().toLowerCase(Locale.ROOT);
            if (!have.equals(q.getValue())) {
                return false;
            }
        }
        return true;
    }

    /**
     * The HA loop completed a cycle recently: within ttl on a primary, 2 x ttl on a replica (it may legitimately
     * wait on the leader key for longer). Always alive while paused.
     */
    private static boolean isAlive(NodeStatus s) {
        if (s.paused()) {
            return true;
        }
        boolean primary = s.holdsLease() || s.pg().isRunningPrimary();
        Duration limit = primary ? s.settings().ttl() : s.settings().ttl().multipliedBy(2);
        return s.sinceLastCycle().compareTo(limit) < 0;
    }

    /**
     * The leader is ready; a replica when it runs, streams, and its position ({@code mode=apply}: replayed, the
     * default; {@code mode=write}: received) is within {@code lag} (default maximumLagOnFailover) of the leader's.
     */
    private static boolean isReady(NodeStatus s, Map<String, String> query) {
        if (s.holdsLease() && s.running()) {
            return true;
        }
        PgState pg = s.pg();
        if (!s.running() || !pg.streamingAndReplaying()) {
            return false;
        }
        String mode = query.getOrDefault("mode", "apply");
        Lsn position = switch (mode) {
            case "apply" -> pg.replayLsn() != null ? pg.replayLsn() : pg.walPosition();
            case "write" -> pg.receiveLsn() != null ? pg.receiveLsn() : pg.walPosition();
            default -> throw new IllegalArgumentException("mode must be apply or write (got '" + mode + "')");
        };
        String lag = query.get("lag");
        long limit = lag == null ? s.settings().maximumLagOnFailover().bytes() : maxLag(lag);
        return lagBytes(s, position) <= limit;
    }

    /** Bytes behind the leader's last published position; 0 when either is unknown (as Patroni counts it). */
    private static long lagBytes(NodeStatus s, Lsn position) {
        Lsn optime = s.optime();
        if (optime == null) {
            return 0;
        }
        return Math.max(0, optime.minus(position == null ? Lsn.ZERO : position));
    }

    private static long maxLag(String text) {
        try {
            return DataSize.parse(text).bytes();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("lag: " + e.getMessage(), e);
        }
    }
}
