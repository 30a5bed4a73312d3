package io.pgha.core.internal.rest;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.PgState;
import io.pgha.core.config.HaSettings;
import io.pgha.core.internal.ha.Action;
import io.pgha.core.internal.ha.CycleReport;
import io.pgha.core.internal.ha.HaLoop;
import io.pgha.core.internal.ha.NodeMemory;
import io.pgha.core.internal.ha.PeerClient;
import io.pgha.core.internal.ha.PeerStatus;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.Postgres;
import io.pgha.core.time.HaClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The production {@link RestBackend}: reads what {@link HaLoop} publishes, probes PostgreSQL per snapshot, and
 * reads and writes the DCS directly.
 *
 * <p>The {@link Dcs} is called from request threads while the loop uses it too, so it must be thread-safe (the
 * adapters are); a separate instance for the same member works as well, since the API never touches the
 * lease-bound keys.
 */
public final class HaLoopBackend implements RestBackend {

    private final HaLoop loop;
    private final Dcs dcs;
    private final Postgres postgres;
    private final PeerClient peers;
    private final HaClock clock;
    private final long createdAt;

    public HaLoopBackend(HaLoop loop, Dcs dcs, Postgres postgres, PeerClient peers, HaClock clock) {
        this.loop = Objects.requireNonNull(loop, "loop");
        this.dcs = Objects.requireNonNull(dcs, "dcs");
        this.postgres = Objects.requireNonNull(postgres, "postgres");
        this.peers = Objects.requireNonNull(peers, "peers");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.createdAt = clock.nanoTime();
    }

    @Override
    public NodeSnapshot snapshot() {
        // Read the loop's state before probing: a probe can take a while, and the lease must not look fresher
        // than the PostgreSQL state it is paired with.
        HaSettings s = loop.effectiveSettings();
        CycleReport report = loop.lastReport();
        NodeMemory memory = loop.memory();
        ClusterView view = loop.lastView();
        long lastCycle = loop.lastCycleNanos();
        PgState pg = postgres.probe();
        boolean holds = loop.holdsLease();
        long now = clock.nanoTime();
        return new NodeSnapshot(s, pg, memory.busy(), view, report != null && report.view() != null,
                loop.dcsLastSeen(), holds, failsafeActive(s, report, memory, now),
                Duration.ofNanos(Math.max(0, now - (lastCycle == Long.MIN_VALUE ? createdAt : lastCycle))),
                clock.wallTime());
    }

    private static boolean failsafeActive(HaSettings s, CycleReport report, NodeMemory memory, long now) {
        if (!s.failsafeMode()) {
            return false;
        }
        if (report != null && report.view() == null && report.outcome() == CycleReport.Outcome.DONE
                && report.decision().actions().stream().anyMatch(a -> a instanceof Action.KeepLeadingInFailsafe)) {
            return true;
        }
        return memory.failsafeLeader() != null && !memory.failsafeLeader().equals(s.name())
                && now - memory.failsafePingAt() < s.ttl().toNanos();
    }

    @Override
    public ClusterView readCluster() throws DcsUnavailableException {
        return dcs.read();
    }

    @Override
    public boolean writeConfig(GlobalConfig config, long expectedVersion) throws DcsUnavailableException {
        return dcs.writeConfig(config, expectedVersion);
    }

    @Override
    public boolean writeFailover(FailoverRequest request, long expectedVersion) throws DcsUnavailableException {
        return dcs.writeFailover(request, expectedVersion);
    }

    @Override
    public boolean clearFailover(long expectedVersion) throws DcsUnavailableException {
        return dcs.clearFailover(expectedVersion);
    }

    @Override
    public void checkConfig(GlobalConfig config) {
        // Against the local settings, as each member applies it: a key the patch removes falls back to them.
        loop.localSettings().withDynamic(config);
    }

    @Override
    public Map<String, PeerStatus> peerStatuses(Collection<Member> members) {
        HaSettings s = loop.effectiveSettings();
        Map<String, PeerStatus> out = new TreeMap<>();
        List<Member> others = new ArrayList<>();
        for (Member m : members) {
            if (m.name().equals(s.name())) {
                // Asking ourselves over HTTP could wait for a free request thread we are holding.
                PgState pg = postgres.probe();
                out.put(m.name(), new PeerStatus(m.name(), pg.run() == PgState.Run.RUNNING,
                        pg.role() != PgState.Role.PRIMARY, pg.walPosition(), pg.timeline(),
                        s.tags().nofailover(), s.tags().failoverPriority()));
            } else {
                others.add(m);
            }
        }
        if (!others.isEmpty()) {
            out.putAll(peers.fetchStatus(others, peerTimeout(s)));
        }
        return out;
    }

    /** As the HA loop asks: at most 2 s, less when retryTimeout is shorter. */
    private static Duration peerTimeout(HaSettings s) {
        Duration two = Duration.ofSeconds(2);
        return s.retryTimeout().compareTo(two) < 0 ? s.retryTimeout() : two;
    }

    @Override
    public void wakeup() {
        loop.wakeup();
    }

    @Override
    public void failsafePing(String primary) {
        loop.onFailsafePing(primary);
    }
}
