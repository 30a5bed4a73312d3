package io.pgha.core.cluster;

import java.util.List;
import java.util.Objects;

/**
 * The {@code sync} key: the leader that manages synchronous replication and the standbys PostgreSQL treats as
 * synchronous. Only these members may be promoted automatically while synchronous mode is on (rule S3).
 *
 * @param leader   the primary that wrote the key; null when the key is absent or empty
 * @param standbys synchronous standbys, in the order written
 * @param version  DCS version, for compare-and-set
 */
public record SyncState(String leader, List<String> standbys, long version) {

    public static final SyncState ABSENT = new SyncState(null, List.of(), DcsVersion.ABSENT);

    public SyncState {
        standbys = List.copyOf(Objects.requireNonNullElse(standbys, List.of()));
    }

    /** Synchronous replication is in force: a leader has claimed the key. */
    public boolean isActive() {
        return leader != null;
    }

    /** The member may take over without losing an acknowledged commit. */
    public boolean mayPromote(String member) {
        return member.equals(leader) || standbys.contains(member);
    }

    public SyncState withVersion(long v) {
        return new SyncState(leader, standbys, v);
    }
}
