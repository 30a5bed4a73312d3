package io.pgha.jdbc;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.LeaderLock;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.config.HostPort;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/** Turns a store's {@link ClusterView} (read directly or through an embedded member) into a {@link Topology}. */
final class ViewTopology {

    private ViewTopology() {}

    static Topology of(ClusterView view) {
        LeaderLock lock = view.leader();
        Lsn reference = referencePosition(view);
        Map<String, Topology.Node> nodes = new HashMap<>();
        for (Member m : view.members().values()) {
            Optional<HostPort> address = m.postgresAddress();
            if (address.isEmpty()) {
                continue; // nothing to connect to
            }
            Lsn position = m.walPosition();
            Long lag = reference == null || position == null ? null : Math.max(0, reference.minus(position));
            nodes.put(m.name(), new Topology.Node(m.name(), address.get().host(), address.get().port(), m.role(),
                    m.isRunning(), lag, m.draining()));
        }
        return new Topology(lock == null ? null : lock.holder(), lock == null ? 0 : lock.epoch(), nodes, true, true,
                null);
    }

    /** The leader's position: its published optime ({@code status}), else what its member key says. */
    private static Lsn referencePosition(ClusterView view) {
        Lsn optime = view.status().optime();
        Lsn own = view.leaderMember().map(Member::walPosition).orElse(null);
        if (optime == null) {
            return own;
        }
        return own == null ? optime : Lsn.max(optime, own);
    }
}
