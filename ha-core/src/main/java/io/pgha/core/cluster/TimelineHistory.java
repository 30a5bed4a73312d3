package io.pgha.core.cluster;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Objects;

/**
 * The {@code history} key: one line per timeline switch, from PostgreSQL's {@code .history} file plus the time and
 * the member that promoted.
 */
public record TimelineHistory(List<Entry> entries, long version) {

    public static final TimelineHistory ABSENT = new TimelineHistory(List.of(), DcsVersion.ABSENT);

    /** Patroni's promotion time: Python's isoformat() of a UTC time, microseconds and a {@code +00:00} offset. */
    private static final DateTimeFormatter PATRONI_TIME =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSSxxx").withZone(ZoneOffset.UTC);

    /** A promotion time as Patroni writes it into the key, e.g. {@code 2026-12-06T04:48:02.123456+00:00}. */
    public static String timestamp(Instant t) {
        return PATRONI_TIME.format(t);
    }

    public TimelineHistory {
        entries = List.copyOf(Objects.requireNonNullElse(entries, List.of()));
    }

    /**
     * One timeline switch: timeline {@code timeline} ended at {@code switchLsn}.
     *
     * @param timestamp ISO-8601 time of the promotion, or null when not known
     * @param newLeader the member that promoted, or null when not known
     */
    public record Entry(int timeline, Lsn switchLsn, String reason, String timestamp, String newLeader) {

        /**
         * How the reason of a number skipped by a promotion begins: a promotion from timeline 3 onto 5 (4 was used by
         * a member the cluster then left behind) announces 4 as skipped, so its switch point means nothing.
         */
        public static final String SKIPPED = "pgha: timeline number skipped";

        /** True when this number was skipped by a promotion: nothing on it belongs to the cluster's history. */
        public boolean skipped() {
            return reason != null && reason.startsWith(SKIPPED);
        }
    }

    /** True when the key says {@code timeline}'s number was skipped by a promotion (a dead branch). */
    public boolean skipped(int timeline) {
        return entries.stream().anyMatch(e -> e.timeline() == timeline && e.skipped());
    }

    /** The timeline the cluster is on now: the last switched-from timeline plus one; 0 when there is no history. */
    public int clusterTimeline() {
        return entries.isEmpty() ? 0 : entries.get(entries.size() - 1).timeline() + 1;
    }
}
