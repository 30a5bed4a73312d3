package io.pgha.jdbc;

import io.pgha.core.spi.Dcs;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Follows a cluster through a store adapter, read-only: {@link Dcs#watchLeader} and {@link Dcs#watchMembers} push,
 * {@link Dcs#read} re-reads (at once on a push or a hint, and every {@code refreshInterval} as a fallback and for the
 * store's reachability). The member watch is what makes a leader's {@code pgha_draining} flag, written just before a
 * planned switchover, reach the router in time (docs/decisions 0808). None of these calls creates a lease or writes a
 * key in any adapter (docs/decisions 0801).
 */
final class DcsTopologySource extends ReadingTopologySource {

    private final Dcs dcs;
    private final boolean owned;

    /**
     * @param owned close {@code dcs} with this source (the builder opened it); a caller's Dcs stays open
     */
    DcsTopologySource(Dcs dcs, boolean owned, Duration refreshInterval) {
        super(refreshInterval);
        this.dcs = Objects.requireNonNull(dcs, "dcs");
        this.owned = owned;
    }

    @Override
    public void start(Consumer<Topology> sink) {
        super.start(sink);
        dcs.watchLeader(this::refresh);
        dcs.watchMembers(this::refresh);
    }

    @Override
    Topology read() throws Exception {
        return ViewTopology.of(dcs.read());
    }

    @Override
    public String describe() {
        return dcs.toString();
    }

    @Override
    public void close() {
        super.close();
        if (owned) {
            dcs.close();
        }
    }
}
