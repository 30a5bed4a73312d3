package io.pgha.core.internal.rest;

import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.internal.admin.ClusterAdmin;
import io.pgha.core.internal.ha.HaLoop;

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

    /** A primary told us it still runs (failsafe mode, {@code POST /failsafe}). */
    void failsafePing(String primary);

    /** The production wiring: the loop's live status and failsafe pings, and the member's admin. */
    static RestBackend of(HaLoop loop, ClusterAdmin admin) {
        return new RestBackend() {
            @Override
            public NodeStatus status() {
                return loop.liveStatus();
            }

            @Override
            public ClusterAdmin admin() {
                return admin;
            }

            @Override
            public void failsafePing(String primary) {
                loop.onFailsafePing(primary);
            }
        };
    }
}
