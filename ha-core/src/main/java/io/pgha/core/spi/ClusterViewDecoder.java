package io.pgha.core.spi;

import io.pgha.core.cluster.ClusterStatus;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.LeaderLock;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.cluster.TimelineHistory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Builds a {@link ClusterView} from the raw keys an adapter read. Shared by every adapter so that all of them
 * decode Patroni's values the same way.
 *
 * <p>A value that cannot be decoded never fails the read: it is left out of the view, described in
 * {@link ClusterView#problems()} with its full key, and (for the cluster-wide keys) listed with its version in
 * {@link ClusterView#undecodable()}, so the HA loop can tell "undecodable" from "absent", say so, and repair it.
 */
public final class ClusterViewDecoder {

    /** A key's last decoded value, with the bytes and version it was decoded from. */
    private record Decoded(byte[] bytes, long version, Object value) {}

    private final KeyLayout layout;
    private final Map<String, Decoded> memo = new ConcurrentHashMap<>();
    /** The simulation's broken variant (never set in production): a remembered value is reused whatever changed. */
    private final boolean reuseByKeyOnly;

    /**
     * A decoder for one adapter instance that remembers each key's last decoded value: a read that finds a key with
     * the same version and the same bytes reuses it instead of parsing its JSON again (an idle cluster's keys do not
     * change from one HA cycle to the next). Decoding is a pure function of the bytes and the version, so a reused
     * value is exactly what decoding would give. Safe for concurrent reads.
     */
    public ClusterViewDecoder(KeyLayout layout) {
        this(layout, false);
    }

    ClusterViewDecoder(KeyLayout layout, boolean reuseByKeyOnly) {
        this.layout = layout;
        this.reuseByKeyOnly = reuseByKeyOnly;
    }

    /** The view of {@code nodes}, decoding only the keys that changed since this decoder last saw them. */
    public ClusterView view(Collection<RawNode> nodes) {
        ClusterView v = decode(layout, nodes, this);
        if (memo.size() > nodes.size()) {
            // Keys that are gone: forget them (a concurrent read may lose an entry here; it is decoded again).
            Set<String> present = new HashSet<>();
            for (RawNode n : nodes) {
                present.add(n.key());
            }
            memo.keySet().retainAll(present);
        }
        return v;
    }

    /** Decodes every key of {@code nodes}, remembering nothing. */
    public static ClusterView decode(KeyLayout layout, Collection<RawNode> nodes) {
        return decode(layout, nodes, null);
    }

    @SuppressWarnings("unchecked")
    private static <T> T value(ClusterViewDecoder d, RawNode n, Function<String, T> decode) {
        if (d == null) {
            return decode.apply(n.text());
        }
        Decoded known = d.memo.get(n.key());
        if (known != null && (d.reuseByKeyOnly
                || known.version() == n.version() && Arrays.equals(known.bytes(), n.value()))) {
            return (T) known.value();
        }
        T v = decode.apply(n.text());
        d.memo.put(n.key(), new Decoded(n.value().clone(), n.version(), v));
        return v;
    }

    private static ClusterView decode(KeyLayout layout, Collection<RawNode> nodes, ClusterViewDecoder d) {
        String initialize = null;
        long initializeVersion = DcsVersion.ABSENT;
        GlobalConfig config = GlobalConfig.ABSENT;
        LeaderLock leader = null;
        Map<String, Member> members = new TreeMap<>();
        FailoverRequest failover = FailoverRequest.ABSENT;
        SyncState sync = SyncState.ABSENT;
        TimelineHistory history = TimelineHistory.ABSENT;
        ClusterStatus status = null;
        ClusterStatus legacyOptime = null;
        Map<String, String> failsafe = null;
        List<String> problems = new ArrayList<>();
        Map<String, Long> undecodable = new TreeMap<>();

        for (RawNode n : nodes) {
            String k = n.key();
            long version = n.version();
            try {
                if (k.equals(KeyLayout.LEADER)) {
                    String holder = n.text().trim();
                    if (!holder.isEmpty()) {
                        leader = new LeaderLock(holder, n.version(), n.epoch());
                    }
                } else if (k.startsWith(KeyLayout.MEMBERS)) {
                    String name = k.substring(KeyLayout.MEMBERS.length());
                    if (!name.isEmpty() && !name.contains("/")) {
                        members.put(name, value(d, n, t -> PatroniJson.decodeMember(name, t, version)));
                    }
                } else {
                    switch (k) {
                        case KeyLayout.INITIALIZE -> {
                            initialize = n.text().trim();
                            initializeVersion = version;
                        }
                        case KeyLayout.CONFIG -> config = value(d, n, t -> PatroniJson.decodeConfig(t, version));
                        case KeyLayout.FAILOVER -> failover = value(d, n, t -> PatroniJson.decodeFailover(t, version));
                        case KeyLayout.SYNC -> sync = value(d, n, t -> PatroniJson.decodeSync(t, version));
                        case KeyLayout.HISTORY -> history = value(d, n, t -> PatroniJson.decodeHistory(t, version));
                        case KeyLayout.STATUS -> status = value(d, n, t -> PatroniJson.decodeStatus(t, version));
                        case KeyLayout.LEGACY_OPTIME -> legacyOptime = value(d, n,
                                t -> PatroniJson.decodeStatus(t, version));
                        case KeyLayout.FAILSAFE -> failsafe = value(d, n, PatroniJson::decodeFailsafe);
                        default -> {
                            // Keys this version does not know (e.g. Citus groups) are ignored.
                        }
                    }
                }
            } catch (RuntimeException e) {
                problems.add(new DcsValueException(layout.key(k), e.getMessage(), e).getMessage());
                if (!k.startsWith(KeyLayout.MEMBERS)) {
                    undecodable.put(k, n.version());
                }
            }
        }
        if (status == null) {
            status = legacyOptime != null
                    ? new ClusterStatus(legacyOptime.optime(), Map.of(), List.of(), DcsVersion.ABSENT)
                    : ClusterStatus.ABSENT;
        }
        return new ClusterView(initialize, initializeVersion, config, leader, new TreeMap<>(members), failover, sync,
                history, status, failsafe, problems, undecodable);
    }
}
