package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.Durations;
import io.pgha.core.config.SynchronousMode;
import io.pgha.core.spi.Upstream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * When the operator's requests for this member's PostgreSQL (restart, reinitialize, reload) are carried out, and
 * when they end unmet: pure rules for {@link HaDecider}. A request is looked at only when no long action runs; the
 * decision carries it out as an action, so the leader's renewals go on around it (a restart of the leader keeps the
 * lock, as in Patroni).
 */
final class OperatorRequests {

    private OperatorRequests() {}

    /** The decision for a waiting request, or empty when none is due (then the usual rules decide). */
    static Optional<Decision> decide(HaInput in, boolean holdLock, boolean paused) {
        NodeMemory mem = in.memory();
        MemberRequest now = mem.request();
        if (now instanceof MemberRequest.Reinitialize r) {
            return Optional.of(reinitialize(in, r, holdLock));
        }
        if (now instanceof MemberRequest.Reload r) {
            return Optional.of(reload(in, r, holdLock));
        }
        if (now instanceof MemberRequest.Restart r) {
            return Optional.of(restart(in, r, holdLock));
        }
        MemberRequest.Restart scheduled = mem.scheduledRestart();
        if (scheduled == null || paused) {
            // Patroni runs no scheduled action while paused: it waits for resume.
            return Optional.empty();
        }
        Instant at = scheduled.schedule();
        if (in.wallNow().isBefore(at)) {
            return Optional.empty();
        }
        Duration late = Duration.between(at, in.wallNow());
        Duration stale = in.settings().loopWait().multipliedBy(3).dividedBy(2).plus(in.settings().ttl());
        if (late.compareTo(stale) > 0) {
            return Optional.of(Decision.of("dropping the restart scheduled at " + at + ": it is " + late.toSeconds()
                    + " s overdue (more than loopWait x 1.5 + ttl)", new Action.EndRequest(scheduled.id(), false,
                            "scheduled restart was stale")));
        }
        return Optional.of(restart(in, scheduled, holdLock));
    }

    private static Decision restart(HaInput in, MemberRequest.Restart r, boolean holdLock) {
        PgState pg = in.pg();
        String why = unmet(r, pg);
        if (why != null) {
            return Decision.of("not restarting: " + why, new Action.EndRequest(r.id(), false,
                    "restart conditions are not satisfied"));
        }
        if (pg.dataDir() != PgState.DataDir.VALID || pg.run() == PgState.Run.STARTING) {
            return Decision.of("not restarting: postgres " + (pg.run() == PgState.Run.STARTING ? "is starting"
                    : "has no usable data directory (" + pg.dataDir() + ")"),
                    new Action.EndRequest(r.id(), false, "restart failed"));
        }
        boolean primary = pg.role() == Role.PRIMARY;
        if (primary && !holdLock) {
            // Starting a primary without the lock would break rule S1; the usual rules deal with it.
            return Decision.of("not restarting: postgres is a primary but this member does not hold the lock",
                    new Action.EndRequest(r.id(), false, "restart failed"));
        }
        if (!primary && in.settings().synchronousMode() == SynchronousMode.ON
                && in.view().sync().standbys().contains(in.me())) {
            // Patroni's order: a synchronous standby leaves the synchronous set before it goes down, so that the
            // primary's commits do not wait for it meanwhile. At most 2 x loopWait; then it restarts anyway.
            Long until = in.memory().releasingSyncUntil();
            if (until == null) {
                Duration upTo = in.settings().loopWait().multipliedBy(2);
                return Decision.of("restart waits: this synchronous standby asks to be released first (nosync tag"
                        + " for at most " + Durations.format(upTo) + ")", new Action.ReleaseSync(upTo));
            }
            if (in.nowNanos() < until) {
                return Decision.of("restart waits for the leader to drop this member from the synchronous set",
                        List.of());
            }
        }
        Upstream upstream = null;
        if (!primary) {
            upstream = pg.upstream() != null ? new Upstream("upstream", pg.upstream())
                    : in.view().leaderMember().flatMap(Upstream::of).orElse(null);
        }
        List<Action> steps = new ArrayList<>();
        if (holdLock) {
            steps.add(new Action.RenewLeader());
        }
        steps.add(new Action.Restart(r.id(), primary, upstream, r.belowVersion(), r.timeout()));
        return Decision.of("restarting postgres as the operator asked" + (r.schedule() != null ? " (scheduled for "
                + r.schedule() + ")" : "") + (holdLock ? ", keeping the lock" : ""), steps);
    }

    /** Why a restart's own conditions do not hold now (the version is checked when it runs), or null. */
    static String unmet(MemberRequest.Restart r, PgState pg) {
        if (r.role() != null && r.role() != pg.role()) {
            return "host role mismatch (" + pg.role() + ", the request wants " + r.role() + ")";
        }
        if (r.pendingOnly() && !pg.pendingRestart()) {
            return "pending restart flag is not set";
        }
        return null;
    }

    private static Decision reinitialize(HaInput in, MemberRequest.Reinitialize r, boolean holdLock) {
        ClusterView v = in.view();
        if (holdLock) {
            return Decision.of("not reinitializing: I am the leader",
                    new Action.EndRequest(r.id(), false, "I am the leader, can not reinitialize"));
        }
        if (v.isUnlocked()) {
            return Decision.of("not reinitializing: the cluster has no leader",
                    new Action.EndRequest(r.id(), false, "Cluster has no leader, can not reinitialize"));
        }
        Optional<Member> leader = v.leaderMember();
        Optional<Upstream> lead = leader.flatMap(Upstream::of);
        if (lead.isEmpty()) {
            return Decision.of("not reinitializing: the leader has not published its address",
                    new Action.EndRequest(r.id(), false, "the leader " + v.leader().holder()
                            + " has not published its address, can not reinitialize"));
        }
        if (in.pg().isRunningPrimary()) {
            // Wiping a running primary that does not hold the lock is the fence's job, not a clone's.
            return Decision.of("not reinitializing: postgres runs as a primary",
                    new Action.EndRequest(r.id(), false, "postgres runs as a primary, can not reinitialize"));
        }
        Upstream source = FollowRules.cloneSource(in).orElse(lead.get());
        return Decision.of("reinitializing as the operator asked: wiping the data directory and cloning from "
                + source.member(), new Action.Reinitialize(r.id(), source, lead.get()));
    }

    /**
     * While a long action runs on a member that does not hold the lock: the operator's forced reinitialize cuts it
     * short, but only when the reinitialize will then go ahead (a leader to clone from, no running primary here) and
     * only actions whose work the reinitialize replaces anyway (docs/decisions/0109): a restart, a replica's start, a
     * rewind or a clone. Never a bootstrap (the would-be leader's new cluster) nor a primary's start. Empty: the
     * request waits for the action to end, as an unforced one does.
     */
    static Optional<Decision> cancelForReinitialize(HaInput in) {
        LongAction busy = in.memory().busy();
        ClusterView v = in.view();
        if (!(in.memory().request() instanceof MemberRequest.Reinitialize r) || !r.force() || !cancellable(busy)
                || v.isLeader(in.me()) || v.isUnlocked() || in.pg().isRunningPrimary()
                || v.leaderMember().flatMap(Upstream::of).isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(Decision.of("cancelling the " + busy + " in progress: the operator forced a"
                + " reinitialize", new Action.CancelLongAction(busy)));
    }

    /** Long actions a forced reinitialize may cut short on a member that does not lead. */
    static boolean cancellable(LongAction a) {
        return a == LongAction.RESTART || a == LongAction.START_REPLICA || a == LongAction.REWIND
                || a == LongAction.CREATE_REPLICA || a == LongAction.RECLONE;
    }

    private static Decision reload(HaInput in, MemberRequest.Reload r, boolean holdLock) {
        List<Action> steps = new ArrayList<>();
        if (holdLock) {
            steps.add(new Action.RenewLeader());
        }
        if (!in.pg().isRunning()) {
            steps.add(new Action.EndRequest(r.id(), false, "postgres is not running: nothing to reload"));
            return Decision.of("not reloading: postgres is not running", steps);
        }
        steps.add(new Action.ReloadPostgres(r.id()));
        return Decision.of("reloading the postgres configuration as the operator asked", steps);
    }
}
