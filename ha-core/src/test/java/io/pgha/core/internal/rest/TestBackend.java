package io.pgha.core.internal.rest;

import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.config.HaSettings;
import io.pgha.core.internal.admin.ClusterAdmin;
import io.pgha.core.internal.ha.FailsafePingVerdict;
import io.pgha.core.internal.ha.FailsafeRound;
import io.pgha.core.internal.ha.PeerClient;
import io.pgha.core.internal.ha.PeerStatus;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.testkit.ForwardingDcs;
import io.pgha.core.time.SystemHaClock;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * A {@link RestBackend} for endpoint tests: the node's state is a {@link NodeStatus} the test sets, the operator's
 * verbs are the real {@link ClusterAdmin} over a real {@link Dcs} (an {@code InMemoryDcs} session), peers answer from
 * a map, the HA loop's part of restart, reinitialize and reload is {@link FakeMemberOperations} (a fake), and
 * wake-ups and accepted failsafe pings are recorded.
 */
final class TestBackend implements RestBackend {

    private final Dcs dcs;
    private final HaSettings local;
    private volatile NodeStatus status;
    private volatile Map<String, PeerStatus> peers = Map.of();
    private volatile Runnable beforeConfigWrite = () -> {};
    private volatile Runnable afterFailoverWrite = () -> {};
    private volatile Duration switchoverPoll = Duration.ofMillis(20);
    private volatile Duration switchoverTimeout;
    private volatile Function<String, FailsafePingVerdict> failsafeVerdict = sender -> FailsafePingVerdict.ACCEPTED;
    final AtomicInteger wakeups = new AtomicInteger();
    final FakeMemberOperations ops = new FakeMemberOperations();
    final List<String> failsafePings = new CopyOnWriteArrayList<>();
    final List<List<String>> peerQuestions = new CopyOnWriteArrayList<>();

    TestBackend(Dcs dcs, HaSettings local, NodeStatus initial) {
        this.dcs = new ForwardingDcs(dcs) {
            @Override
            public boolean writeConfig(GlobalConfig config, long expectedVersion) throws DcsUnavailableException {
                beforeConfigWrite.run();
                return delegate.writeConfig(config, expectedVersion);
            }

            @Override
            public boolean writeFailover(FailoverRequest request, long expectedVersion)
                    throws DcsUnavailableException {
                boolean ok = delegate.writeFailover(request, expectedVersion);
                if (ok) {
                    afterFailoverWrite.run();
                }
                return ok;
            }
        };
        this.local = local;
        this.status = initial;
    }

    void set(NodeStatus s) {
        status = s;
    }

    void update(UnaryOperator<NodeStatus> f) {
        status = f.apply(status);
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

    /** How a waiting switchover polls and how long it waits (HaCluster takes them from the REST settings). */
    void switchoverTiming(Duration poll, Duration timeout) {
        switchoverPoll = poll;
        switchoverTimeout = timeout;
    }

    @Override
    public NodeStatus status() {
        return status;
    }

    @Override
    public ClusterAdmin admin() {
        return new ClusterAdmin("test - ", dcs, this::status, new MapPeers(), local, wakeups::incrementAndGet,
                SystemHaClock.INSTANCE, switchoverPoll, switchoverTimeout, ops);
    }

    /** What the member makes of a failsafe ping (the loop's rule is tested with the loop); default: accepted. */
    void failsafeVerdict(Function<String, FailsafePingVerdict> v) {
        failsafeVerdict = v;
    }

    @Override
    public FailsafePingVerdict failsafePing(String sender) {
        FailsafePingVerdict v = failsafeVerdict.apply(sender);
        if (v.accepted()) {
            failsafePings.add(sender);
        }
        return v;
    }

    /** Peers answer from the map the test set; every question is recorded. */
    private final class MapPeers implements PeerClient {
        @Override
        public Map<String, PeerStatus> fetchStatus(Collection<Member> members, Duration timeout) {
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
        public FailsafeRound confirmFailsafe(Collection<Member> members, Member self, long sentAtNanos,
                Duration timeout) {
            throw new UnsupportedOperationException("the REST API never runs a failsafe round");
        }
    }
}
