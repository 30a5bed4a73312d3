package io.pgha.core.postgres;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.spi.DivergenceCheck;
import java.util.ArrayList;
import java.util.List;

/**
 * Decides whether a node's WAL is a prefix of the leader's history (rule S4). Pure: {@link DivergenceReader} gathers
 * the facts (IDENTIFY_SYSTEM and TIMELINE_HISTORY on the leader, pg_controldata or IDENTIFY_SYSTEM and pg_waldump
 * locally) and this class compares them. See docs/decisions/0104.
 */
final class Divergence {

    private Divergence() {}

    /**
     * The leader's side.
     *
     * @param systemId its system identifier
     * @param timeline its current timeline
     * @param position its WAL position (flush position on a primary)
     * @param history  its timeline history: one entry per earlier timeline
     */
    record Leader(String systemId, int timeline, Lsn position, List<TimelineHistory.Entry> history) {}

    /**
     * This node's side.
     *
     * @param systemId    its system identifier (null when unknown)
     * @param timeline    the timeline its WAL continues on
     * @param position    how far its WAL goes; see {@code recordStart}
     * @param recordStart true: {@code position} is the start of the last WAL record on disk (a stopped node, read
     *                    with pg_waldump), which diverges when it starts at or after the fork point; false: it is
     *                    an end position (a running node's flush or receive position), which diverges when it lies
     *                    beyond the fork point
     * @param history     its own timeline history (may be empty when unknown)
     * @param source      where these facts came from, for the message
     */
    record Local(String systemId, int timeline, Lsn position, boolean recordStart,
            List<TimelineHistory.Entry> history, String source) {}

    static DivergenceCheck compare(Local me, Leader leader) {
        String mine = "my timeline " + me.timeline() + " at " + me.position() + " (" + me.source() + ")";
        if (me.systemId() != null && leader.systemId() != null && !me.systemId().equals(leader.systemId())) {
            return DivergenceCheck.diverged("different clusters: my system identifier is " + me.systemId()
                    + ", the leader's " + leader.systemId());
        }
        if (me.timeline() > leader.timeline()) {
            return DivergenceCheck.diverged(mine + " is ahead of the leader's timeline " + leader.timeline());
        }
        // Every fork recorded in my own history must be the same fork in the leader's history.
        for (TimelineHistory.Entry e : me.history()) {
            TimelineHistory.Entry theirs = find(leader.history(), e.timeline());
            if (e.timeline() < leader.timeline() && (theirs == null || !theirs.switchLsn().equals(e.switchLsn()))) {
                String why = "my timeline " + e.timeline() + " ended at " + e.switchLsn()
                        + " but in the leader's history it " + (theirs == null ? "does not appear"
                                : "ended at " + theirs.switchLsn());
                // Two promotions took the same number: pg_rewind compares numbers and answers "no rewind
                // required", so only a re-clone brings this node onto the leader's history.
                return me.timeline() == leader.timeline()
                        ? DivergenceCheck.forkedOnSameTimeline(why + " (another timeline " + me.timeline()
                                + " than the leader's)")
                        : DivergenceCheck.diverged(why);
            }
        }
        if (me.timeline() == leader.timeline()) {
            if (beyond(me, leader.position())) {
                return DivergenceCheck.diverged(mine + " is beyond the leader's position " + leader.position()
                        + " on the same timeline");
            }
            return DivergenceCheck.none(mine + ": same timeline as the leader, not ahead of it ("
                    + leader.position() + ")");
        }
        TimelineHistory.Entry fork = find(leader.history(), me.timeline());
        if (fork == null) {
            return DivergenceCheck.diverged("my timeline " + me.timeline() + " is not in the history of the leader's"
                    + " timeline " + leader.timeline());
        }
        if (beyond(me, fork.switchLsn())) {
            return DivergenceCheck.diverged(mine + " goes past " + fork.switchLsn() + ", where the leader's history"
                    + " left timeline " + me.timeline());
        }
        return DivergenceCheck.none(mine + " ends before the leader's history left timeline " + me.timeline()
                + " at " + fork.switchLsn());
    }

    private static boolean beyond(Local me, Lsn limit) {
        return me.recordStart() ? me.position().compareTo(limit) >= 0 : me.position().isAfter(limit);
    }

    private static TimelineHistory.Entry find(List<TimelineHistory.Entry> history, int timeline) {
        for (TimelineHistory.Entry e : history) {
            if (e.timeline() == timeline) {
                return e;
            }
        }
        return null;
    }

    /** Parses a {@code .history} file: {@code <timeline> <switch lsn> <reason>} per line, '#' comments. */
    static List<TimelineHistory.Entry> parseHistory(String text) {
        List<TimelineHistory.Entry> out = new ArrayList<>();
        for (String raw : text.split("\n")) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\\s+", 3);
            if (f.length < 2) {
                throw new IllegalArgumentException("not a timeline history line: '" + line + "'");
            }
            out.add(new TimelineHistory.Entry(Integer.parseInt(f[0]), Lsn.parse(f[1]),
                    f.length > 2 ? f[2].strip() : "", null, null));
        }
        return out;
    }
}
