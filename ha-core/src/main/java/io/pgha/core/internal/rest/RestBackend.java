package io.pgha.core.internal.rest;

import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.internal.admin.ClusterAdmin;
import io.pgha.core.internal.ha.FailsafePingVerdict;
import io.pgha.core.internal.ha.HaLoop;
import io.pgha.core.internal.ha.HaMetrics;

/**
 * What the REST API serves from: this member's status, the operator's verbs, and the failsafe pings it passes on.
 * {@code HaCluster} wires it to the HA loop; tests wire it to plain values.
 *
 * <p>Called from the API's request threads, concurrently; nothing here may block the HA loop.
 */
public interface RestBackend {

    /** This member now: PostgreSQL, lease and failsafe as of this instant (one probe per call). */
    NodeStatus status();

    /** Switchover, failover, config changes and fresh cluster reads. */
    ClusterAdmin admin();

    /**
     * A member told us it still runs as primary (failsafe mode, {@code POST /failsafe}): whether that counts (only
     * from the member last seen holding the lock).
     */
    FailsafePingVerdict failsafePing(String sender);

    /**
     * pgha's own counters for {@code GET /metrics}, with the lease time left now; null when none are recorded (the
     * {@code pgha_*} families are then left out).
     */
    default HaMetrics.Snapshot haMetrics() {
        return null;
    }

    /** The production wiring without pgha's own metrics. */
    static RestBackend of(HaLoop loop, ClusterAdmin admin) {
        return of(loop, admin, null);
    }

    /**
     * The production wiring: the loop's live status and failsafe pings, the member's admin, and {@code metrics} (an
     * observer of {@code loop}; null for none).
     */
    static RestBackend of(HaLoop loop, ClusterAdmin admin, HaMetrics metrics) {
        return new RestBackend() {
            @Override
            public HaMetrics.Snapshot haMetrics() {
                return metrics == null ? null : metrics.snapshot(loop.leaseRemaining());
            }

            @Override
            public NodeStatus status() {
                return loop.liveStatus();
            }

            @Override
            public ClusterAdmin admin() {
                return admin;
            }

            @Override
            public FailsafePingVerdict failsafePing(String sender) {
                return loop.onFailsafePing(sender);
            }
        };
    }
}
