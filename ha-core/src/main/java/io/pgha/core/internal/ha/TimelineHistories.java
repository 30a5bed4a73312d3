package io.pgha.core.internal.ha;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.TimelineHistory;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * How the {@code history} key changes (rule S4): it only ever grows. Each write keeps every timeline number the key
 * already holds (announcements of promotions included) and adds what this member knows, so the cluster's highest
 * timeline never goes down and no later promotion can reuse a number (docs/decisions/0004).
 */
final class TimelineHistories {

    private TimelineHistories() {}

    /**
     * The key's entries plus this member's own lineage from PostgreSQL's history file. For a number in both, the
     * lineage's switch point wins (it is the history this member's data really has) and the key's timestamp and new
     * leader are kept when the switch point is the same.
     *
     * @param newLeader stamped, with {@code timestamp}, on the lineage's newest entry when it has none (the promotion
     *                  this member just made); null to stamp nothing
     */
    static TimelineHistory merge(TimelineHistory key, List<TimelineHistory.Entry> lineage, String newLeader,
            String timestamp) {
        Map<Integer, TimelineHistory.Entry> byNumber = new TreeMap<>();
        for (TimelineHistory.Entry e : key.entries()) {
            byNumber.put(e.timeline(), e);
        }
        for (int i = 0; i < lineage.size(); i++) {
            TimelineHistory.Entry e = lineage.get(i);
            TimelineHistory.Entry old = byNumber.get(e.timeline());
            String ts = e.timestamp();
            String leader = e.newLeader();
            if (old != null && old.switchLsn().equals(e.switchLsn())) {
                ts = ts != null ? ts : old.timestamp();
                leader = leader != null ? leader : old.newLeader();
            }
            if (i == lineage.size() - 1 && newLeader != null && leader == null) {
                ts = timestamp;
                leader = newLeader;
            }
            byNumber.put(e.timeline(), new TimelineHistory.Entry(e.timeline(), e.switchLsn(), e.reason(), ts, leader));
        }
        return new TimelineHistory(List.copyOf(byNumber.values()), key.version());
    }

    /**
     * {@code known} plus an entry for each number from {@code current} up to {@code target - 1} that it lacks: the
     * cluster's next timeline becomes {@code target}. Existing entries stay as they are.
     */
    static TimelineHistory announce(TimelineHistory known, int current, int target, Lsn at, String reason,
            String timestamp, String member) {
        Map<Integer, TimelineHistory.Entry> byNumber = new TreeMap<>();
        for (TimelineHistory.Entry e : known.entries()) {
            byNumber.put(e.timeline(), e);
        }
        for (int tl = Math.max(1, current); tl < target; tl++) {
            // Numbers above our own timeline are skipped: whatever runs on them is a branch this promotion leaves
            // behind, never part of the cluster's history (LeaderRace refuses to promote it).
            String why = tl == current ? reason : TimelineHistory.Entry.SKIPPED + " by " + member + " promoting from "
                    + current + " onto " + target;
            byNumber.putIfAbsent(tl, new TimelineHistory.Entry(tl, at, why, timestamp, member));
        }
        return new TimelineHistory(List.copyOf(byNumber.values()), known.version());
    }
}
