package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.PgState;
import io.pgha.core.config.SynchronousMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Keys of the store that hold a value nobody can decode (decision 0005): a state of their own, never "absent". What
 * each one forbids while it lasts (a garbled {@code sync} or {@code history} blocks every promotion, a garbled
 * {@code sync} or {@code status} hides what a racer must not lose), how a live leader repairs them, and how each
 * cycle's line names them. The {@link Gatherer} marks them in the view; {@link LeaderRace} and {@link HaDecider}
 * ask here. Pure functions.
 */
final class UndecodableKeys {

    private UndecodableKeys() {}

    /**
     * Why nobody promotes while the {@code history} key is undecodable: it holds every timeline number ever
     * announced, and a number announced just before the key was garbled (by a member that then died before anyone
     * followed it) may be known to nobody alive; taking it again forks the history under one number (rule S4,
     * simulation seed 4823 of the 2026-12-05 CI run). A running primary is not held back: it takes no new number.
     */
    static final String HISTORY_UNKNOWN = "the history key is undecodable: cannot tell which timeline numbers are"
            + " taken (until the leader or an operator rewrites it)";

    private static final String SYNC_UNKNOWN = "the sync key is undecodable: cannot tell which members hold every"
            + " acknowledged commit (until the leader or an operator rewrites it)";

    /** The decision with the undecodable keys named in its reason: a distinct state, said in every cycle's line. */
    static Decision named(ClusterView v, Decision d) {
        if (v == null || v.undecodable().isEmpty()) {
            return d;
        }
        // Sorted: the view's map has no stable order across JVMs, and a replayed seed must print the same line.
        return new Decision(d.actions(), d.reason() + " [undecodable: "
                + String.join(", ", new java.util.TreeSet<>(v.undecodable().keySet())) + "]", d.nextCycle());
    }

    /**
     * Why a member may not promote now because of an undecodable key, or null. Asked only for a member that would
     * take a new timeline (not the running primary): see {@link #HISTORY_UNKNOWN} and {@link #syncUnknown}.
     */
    static String promotionBlocker(HaInput in) {
        if (syncUnknown(in)) {
            return SYNC_UNKNOWN;
        }
        if (historyUnknown(in.view())) {
            return HISTORY_UNKNOWN;
        }
        return null;
    }

    static boolean historyUnknown(ClusterView v) {
        return v.isUndecodable(KeyLayout.HISTORY);
    }

    /**
     * In synchronous mode the sync key is the only record of who holds every acknowledged commit (with no standby
     * named, only the leader does), so while it is undecodable no member that is not already the running primary
     * can show that its promotion loses none (rule S3; Patroni reads such a key as empty and fails over as if
     * synchronous mode were off: decision 0005).
     */
    private static boolean syncUnknown(HaInput in) {
        return in.settings().synchronousMode() == SynchronousMode.ON && in.view().isUndecodable(KeyLayout.SYNC);
    }

    /**
     * Why this member cannot know what it must not lose, when it cannot: the {@code sync} key (in synchronous mode)
     * or the {@code status} key is undecodable. Then only a member that every other member confirms is at least as
     * far ahead may race (and the winner rewrites the key).
     */
    static String blindSpot(HaInput in) {
        ClusterView v = in.view();
        if (syncUnknown(in)) {
            return "the sync key is undecodable";
        }
        if (v.isUndecodable(KeyLayout.STATUS) && v.status().optime() == null) {
            return "the status key is undecodable (and no earlier value is known)";
        }
        return null;
    }

    /**
     * A live leader repairs an undecodable key at once, writing over the bad value by its version: {@code config}
     * with the last value decoded, {@code history} from its own lineage plus what it remembers, {@code failover}
     * and {@code failsafe} cleared. ({@code sync} and {@code status} are rewritten by the leader's usual steps,
     * which now find the bad key's version.) Only a running primary rewrites {@code history}: its own timeline is
     * above every number announced before it won, whereas a holder still to promote may not have read the last
     * announcement before the key was garbled, and would write it away.
     */
    static List<Action> repairs(ClusterView v, PgState pg) {
        List<Action> out = new ArrayList<>();
        if (v.isUndecodable(KeyLayout.CONFIG)) {
            out.add(new Action.WriteConfig(v.config(), v.undecodable().get(KeyLayout.CONFIG)));
        }
        if (v.isUndecodable(KeyLayout.HISTORY) && pg.isRunningPrimary()) {
            out.add(new Action.WriteHistory());
        }
        if (v.isUndecodable(KeyLayout.FAILOVER)) {
            out.add(new Action.ClearFailover(v.undecodable().get(KeyLayout.FAILOVER), "its value is undecodable"));
        }
        if (v.isUndecodable(KeyLayout.FAILSAFE)) {
            out.add(new Action.WriteFailsafe(Map.of()));
        }
        return out;
    }
}
