package io.pgha.core.internal.rest;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.Member;
import io.pgha.core.config.HaSettings;
import io.pgha.core.internal.ha.PeerStatus;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;

/**
 * A {@link RestBackend} for endpoint tests: the node's state is a {@link NodeSnapshot} the test sets, the DCS is a
 * real {@link Dcs} (an {@code InMemoryDcs} session), peers answer from a map, and wake-ups and failsafe pings are
 * recorded.
 */
final class TestBackend implements RestBackend {

    private final Dcs dcs;
    private final HaSettings local;
    private volatile NodeSnapshot snapshot;
    private volatile Map<String, PeerStatus> peers = Map.of();
    private volatile Runnable beforeConfigWrite = () -> {};
    private volatile Runnable afterFailoverWrite = () -> {};
    final AtomicInteger wakeups = new AtomicInteger();
    final List<String> failsafePings = new CopyOnWriteArrayList<>();
    final List<List<String>> peerQuestions = new CopyOnWriteArrayList<>();

    TestBackend(Dcs dcs, HaSettings local, NodeSnapshot initial) {
        this.dcs = dcs;
        this.local = local;
        this.snapshot = initial;
    }

    void set(NodeSnapshot s) {
        snapshot = s;
    }

    void update(UnaryOperator<NodeSnapshot> f) {
        snapshot = f.apply(snapshot);
    }

    void peers(Map<String, PeerStatus> answers) {
        peers = Map.copyOf(answers);
    }

    /** Runs just before the API's config write: a concurrent writer slipping in between read and write. */
    void beforeConfigWrite(Runnable r) {
        beforeConfigWrite = r;
    }

    /** Runs right after the API wrote the failover key: plays the HA loops' part of a switchover. */
    void afterFailoverWrite(Runnable r) {
        afterFailoverWrite = r;
    }

    @Override
    public NodeSnapshot snapshot() {
        return snapshot;
    }

    @Override
    public ClusterView readCluster() throws DcsUnavailableException {
        return dcs.read();
    }

    @Override
    public boolean writeConfig(GlobalConfig config, long expectedVersion) throws DcsUnavailableException {
        beforeConfigWrite.run();
        return dcs.writeConfig(config, expectedVersion);
    }

    @Override
    public boolean writeFailover(FailoverRequest request, long expectedVersion) throws DcsUnavailableException {
        boolean ok = dcs.writeFailover(request, expectedVersion);
        if (ok) {
            afterFailoverWrite.run();
        }
        return ok;
    }

    @Override
    public boolean clearFailover(long expectedVersion) throws DcsUnavailableException {
        return dcs.clearFailover(expectedVersion);
    }

    @Override
    public void checkConfig(GlobalConfig config) {
        local.withDynamic(config);
    }

    @Override
    public Map<String, PeerStatus> peerStatuses(Collection<Member> members) {
        peerQuestions.add(members.stream().map(Member::name).toList());
        Map<String, PeerStatus> out = new TreeMap<>();
        for (Member m : members) {
            PeerStatus p = peers.get(m.name());
            if (p != null) {
                out.put(m.name(), p);
            }
        }
        return out;
    }

    @Override
    public void wakeup() {
        wakeups.incrementAndGet();
    }

    @Override
    public void failsafePing(String primary) {
        failsafePings.add(primary);
    }
}
