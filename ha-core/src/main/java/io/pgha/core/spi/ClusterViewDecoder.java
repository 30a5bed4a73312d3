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
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds a {@link ClusterView} from the raw keys an adapter read. Shared by every adapter so that all of them
 * decode Patroni's values the same way.
 *
 * <p>A value that cannot be decoded never fails the read: it is left out of the view, described in
 * {@link ClusterView#problems()} with its full key, and (for the cluster-wide keys) listed with its version in
 * {@link ClusterView#undecodable()}, so the HA loop can tell "undecodable" from "absent", say so, and repair it.
 */
public final class ClusterViewDecoder {

    private ClusterViewDecoder() {}

    public static ClusterView decode(KeyLayout layout, Collection<RawNode> nodes) {
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
            String text = n.text();
            try {
                if (k.equals(KeyLayout.LEADER)) {
                    String holder = text.trim();
                    if (!holder.isEmpty()) {
                        leader = new LeaderLock(holder, n.version(), n.epoch());
                    }
                } else if (k.startsWith(KeyLayout.MEMBERS)) {
                    String name = k.substring(KeyLayout.MEMBERS.length());
                    if (!name.isEmpty() && !name.contains("/")) {
                        members.put(name, PatroniJson.decodeMember(name, text, n.version()));
                    }
                } else {
                    switch (k) {
                        case KeyLayout.INITIALIZE -> {
                            initialize = text.trim();
                            initializeVersion = n.version();
                        }
                        case KeyLayout.CONFIG -> config = PatroniJson.decodeConfig(text, n.version());
                        case KeyLayout.FAILOVER -> failover = PatroniJson.decodeFailover(text, n.version());
                        case KeyLayout.SYNC -> sync = PatroniJson.decodeSync(text, n.version());
                        case KeyLayout.HISTORY -> history = PatroniJson.decodeHistory(text, n.version());
                        case KeyLayout.STATUS -> status = PatroniJson.decodeStatus(text, n.version());
                        case KeyLayout.LEGACY_OPTIME -> legacyOptime = PatroniJson.decodeStatus(text, n.version());
                        case KeyLayout.FAILSAFE -> failsafe = PatroniJson.decodeFailsafe(text);
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
