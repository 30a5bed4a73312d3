package io.pgha.jdbc;

import io.pgha.core.cluster.Role;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What the DataSource routes by: one immutable snapshot of the cluster, from whichever {@link TopologySource}.
 *
 * @param leader         the leader key's holder, or null when the lock is free (or nothing was read yet)
 * @param epoch          the leader key's epoch ({@code LeaderLock.epoch()}: znode czxid, etcd create revision, Consul
 *                       CreateIndex), or in REST mode the source's own count of leaderships (decision 0806); 0
 *                       without a leader
 * @param members        the members with a usable address, by name
 * @param storeReachable the last read of the store succeeded; when false the rest is the last view that did
 * @param known          at least one read succeeded
 * @param problem        why the last read failed, for error messages; null when it succeeded
 */
record Topology(String leader, long epoch, Map<String, Node> members, boolean storeReachable, boolean known,
                String problem) {

    /**
     * One member as published in its key.
     *
     * @param lagBytes how far its WAL position is behind the leader's, in bytes; null when either is unknown
     * @param draining the member announced a planned hand-over (the {@code draining} field of its key; absent =
     *                 false)
     */
    record Node(String name, String host, int port, Role role, boolean running, Long lagBytes, boolean draining) {
        Node {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(host, "host");
            Objects.requireNonNull(role, "role");
        }

        String address() {
            return host + ":" + port;
        }
    }

    static final Topology NOTHING_YET = new Topology(null, 0, Map.of(), false, false, "no read of the store yet");

    Topology {
        members = Map.copyOf(members);
    }

    /** The leader's member entry; empty without a leader, or when the leader published no address. */
    Optional<Node> leaderNode() {
        return leader == null ? Optional.empty() : Optional.ofNullable(members.get(leader));
    }

    /** The same picture, marked as no longer confirmed by the store. */
    Topology unreachable(String why) {
        return new Topology(leader, epoch, members, false, known, why);
    }

    /** A different leader or the same one under a new lock: connections borrowed before must not be reused. */
    boolean leadershipDiffers(Topology o) {
        return epoch != o.epoch || !Objects.equals(leader, o.leader);
    }
}
