package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.PgState;
import io.pgha.core.config.HaSettings;
import io.pgha.core.spi.DivergenceCheck;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * Everything one decision is made from: gathered by {@link HaLoop}, consumed by {@link HaDecider#decide}.
 *
 * @param settings     effective settings (local ones with the DCS {@code config} applied)
 * @param view         the cluster as read this cycle; null when the DCS could not be read
 * @param dcsError     why the DCS could not be read; null when it could
 * @param lastView     the last view read successfully (for pause and the failsafe list during an outage); may be
 *                     null
 * @param pg           the local PostgreSQL
 * @param peers        peers that answered {@code GET /patroni} this cycle; empty when none were asked
 * @param divergence   this node's history compared with the current leader's; null when not checked
 * @param failsafe     the failsafe confirmation round, when one was run this cycle; else null
 * @param memory       what this member remembers
 * @param nowNanos     monotonic now
 * @param wallNow      wall-clock now (scheduled switchovers)
 * @param leaseHeld    this member holds the leader lease in an open term: its last acquire or renewal (the cycle's
 *                     or the lease keeper's) was confirmed by the store, under the key's compare, within the lease
 *                     guard's deadline, and no renewal was refused since
 */
record HaInput(
        HaSettings settings,
        ClusterView view,
        String dcsError,
        ClusterView lastView,
        PgState pg,
        Map<String, PeerStatus> peers,
        DivergenceCheck divergence,
        FailsafeRound failsafe,
        NodeMemory memory,
        long nowNanos,
        Instant wallNow,
        boolean leaseHeld) {

    public HaInput {
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(pg, "pg");
        peers = Map.copyOf(Objects.requireNonNullElse(peers, Map.of()));
        memory = Objects.requireNonNullElse(memory, NodeMemory.INITIAL);
        Objects.requireNonNull(wallNow, "wallNow");
    }

    /** Without a lease held (every caller that is not the HA cycle of a lock holder). */
    HaInput(HaSettings settings, ClusterView view, String dcsError, ClusterView lastView, PgState pg,
            Map<String, PeerStatus> peers, DivergenceCheck divergence, FailsafeRound failsafe, NodeMemory memory,
            long nowNanos, Instant wallNow) {
        this(settings, view, dcsError, lastView, pg, peers, divergence, failsafe, memory, nowNanos, wallNow, false);
    }

    public String me() {
        return settings.name();
    }
}
