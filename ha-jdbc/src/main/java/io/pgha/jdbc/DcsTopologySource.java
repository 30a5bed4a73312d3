package io.pgha.jdbc;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.spi.DaemonThreadFactory;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Follows a cluster through a store adapter, read-only: {@link Dcs#watchLeader} pushes, {@link Dcs#read} re-reads
 * (at once on a push or a hint, and every {@code refreshInterval} for members' lag and the store's reachability).
 * Neither call creates a lease or writes a key in any adapter (docs/decisions 0801).
 */
final class DcsTopologySource implements TopologySource {

    private final Dcs dcs;
    private final boolean owned;
    private final Duration refreshInterval;
    private final ScheduledExecutorService thread;
    private final AtomicBoolean pending = new AtomicBoolean();
    private volatile Consumer<Topology> sink;
    private volatile boolean closed;
    /** Only touched on {@link #thread}. */
    private Topology last = Topology.NOTHING_YET;

    /**
     * @param owned close {@code dcs} with this source (the builder opened it); a caller's Dcs stays open
     */
    DcsTopologySource(Dcs dcs, boolean owned, Duration refreshInterval) {
        this.dcs = Objects.requireNonNull(dcs, "dcs");
        this.owned = owned;
        this.refreshInterval = Objects.requireNonNull(refreshInterval, "refreshInterval");
        this.thread = Executors.newSingleThreadScheduledExecutor(new DaemonThreadFactory("pgha-jdbc-topology"));
    }

    @Override
    public void start(Consumer<Topology> sink) {
        this.sink = Objects.requireNonNull(sink, "sink");
        dcs.watchLeader(this::refresh);
        thread.scheduleWithFixedDelay(this::readNow, 0, refreshInterval.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    public void refresh() {
        // Coalesced: one read is queued at most; a hint arriving while a read runs queues the next one.
        if (closed || !pending.compareAndSet(false, true)) {
            return;
        }
        try {
            thread.execute(() -> {
                pending.set(false);
                readNow();
            });
        } catch (RejectedExecutionException e) {
            // Closed meanwhile: nothing to read for.
        }
    }

    private void readNow() {
        if (closed) {
            return;
        }
        try {
            ClusterView view = dcs.read();
            last = ViewTopology.of(view);
        } catch (DcsUnavailableException | RuntimeException e) {
            last = last.unreachable(describe() + ": " + e.getMessage());
        }
        if (!closed) {
            sink.accept(last);
        }
    }

    @Override
    public String describe() {
        return dcs.toString();
    }

    @Override
    public void close() {
        closed = true;
        thread.shutdownNow();
        if (owned) {
            dcs.close();
        }
    }
}
