package io.pgha.core.cluster;

import java.util.List;
import java.util.Objects;

/**
 * The {@code history} key: one line per timeline switch, from PostgreSQL's {@code .history} file plus the time and
 * the member that promoted.
 */
public record TimelineHistory(List<Entry> entries, long version) {

    public static final TimelineHistory ABSENT = new TimelineHistory(List.of(), DcsVersion.ABSENT);

    public TimelineHistory {
        entries = List.copyOf(Objects.requireNonNullElse(entries, List.of()));
    }

    /**
     * One timeline switch: timeline {@code timeline} ended at {@code switchLsn}.
     *
     * @param timestamp ISO-8601 time of the promotion, or null when not known
     * @param newLeader the member that promoted, or null when not known
     */
    public record Entry(int timeline, Lsn switchLsn, String reason, String timestamp, String newLeader) {}

    /** The timeline the cluster is on now: the last switched-from timeline plus one; 0 when there is no history. */
    public int clusterTimeline() {
        return entries.isEmpty() ? 0 : entries.get(entries.size() - 1).timeline() + 1;
    }
}
