package io.pgha.jdbc;

import io.pgha.core.api.HaCluster;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.spi.DaemonThreadFactory;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;

/**
 * Follows the cluster through an embedded member: every status its HA loop publishes carries the view it read, so no
 * second store connection is opened. The member's loop wakes on leader-key changes, so this is pushed as well.
 */
final class ClusterTopologySource implements TopologySource {

    private final HaCluster member;
    private final Consumer<NodeStatus> listener = this::onStatus;
    /** Statuses arrive on the member's listener executor (by default its HA loop): hand them off at once. */
    private final ExecutorService thread;
    private volatile Consumer<Topology> sink;
    private volatile boolean closed;

    ClusterTopologySource(HaCluster member) {
        this.member = Objects.requireNonNull(member, "member");
        this.thread = Executors.newSingleThreadExecutor(new DaemonThreadFactory("pgha-jdbc-topology"));
    }

    @Override
    public void start(Consumer<Topology> sink) {
        this.sink = Objects.requireNonNull(sink, "sink");
        member.onStatus(listener);
        member.status().ifPresent(this::onStatus);
    }

    private void onStatus(NodeStatus s) {
        if (closed) {
            return;
        }
        try {
            thread.execute(() -> {
                if (!closed) {
                    sink.accept(of(s));
                }
            });
        } catch (RejectedExecutionException e) {
            // Closed meanwhile.
        }
    }

    private Topology of(NodeStatus s) {
        if (s.view() == null) {
            return Topology.NOTHING_YET.unreachable(describe() + " has not read the store yet");
        }
        Topology t = ViewTopology.of(s.view());
        return s.dcsReachable() ? t : t.unreachable(describe() + " cannot reach the store (last read "
                + s.dcsLastSeen() + ")");
    }

    @Override
    public void refresh() {
        // The member's HA loop is the only reader; it re-reads every cycle and on every leader-key change.
    }

    @Override
    public String describe() {
        return "embedded member " + member.settings().scope() + "/" + member.name();
    }

    @Override
    public void close() {
        closed = true;
        member.removeStatusListener(listener);
        thread.shutdownNow();
    }
}
