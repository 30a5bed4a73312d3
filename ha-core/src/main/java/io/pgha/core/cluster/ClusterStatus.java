package io.pgha.core.cluster;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The {@code status} key the leader writes after each renewal.
 *
 * @param optime      the leader's last reported WAL position: the reference for replication lag; null if unknown
 * @param slots       permanent replication slot positions
 * @param retainSlots slots of members to keep even while the member is away
 */
public record ClusterStatus(Lsn optime, Map<String, Lsn> slots, List<String> retainSlots, long version) {

    public static final ClusterStatus ABSENT = new ClusterStatus(null, Map.of(), List.of(), DcsVersion.ABSENT);

    public ClusterStatus {
        slots = Map.copyOf(Objects.requireNonNullElse(slots, Map.of()));
        retainSlots = List.copyOf(Objects.requireNonNullElse(retainSlots, List.of()));
    }
}
