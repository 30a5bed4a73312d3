package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.config.Durations;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.SynchronousMode;
import io.pgha.core.spi.StopMode;
import io.pgha.core.spi.Upstream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The pure HA decision core: from one {@link HaInput} to one {@link Decision}. No I/O, no threads, no clock: the
 * same input always gives the same decision, which is what lets the simulation replay a seed exactly.
 *
 * <p>The order of the checks follows Patroni's {@code _run_cycle} (ha.py): DCS reachable? bootstrap and
 * adoption, a long action in flight, PostgreSQL not running, no leader (race), I lead (renew, switchover,
 * synchronous standbys), someone else leads (follow, demote, rewind).
 *
 * <p>This class keeps that order; the rules of one concern live beside it: {@link LeaderRace} (who may take the
 * lock), {@link FollowRules} (following and rejoining), {@link SwitchoverRules} (a leader's planned hand-over),
 * {@link UndecodableKeys} (what a garbled key forbids and how it is repaired) and {@link SyncPlanner}.
 */
final class HaDecider {

    /** Failed promotions or primary starts in a row after which a lock holder gives the lock up. */
    static final int MAX_FAILED_STARTS = 3;

    private HaDecider() {}

    public static Decision decide(HaInput in) {
        Decision d = decideUnchecked(in);
        requireUnwritableBeforeRelease(in, d);
        return UndecodableKeys.named(in.view(), d);
    }

    /**
     * Rule S1 on every path, checked rather than hoped for: a holder gives up the lock only once its PostgreSQL
     * cannot accept writes, either known so from the probe or made so by a fence or stop earlier in the same list (a
     * stop that fails ends the list, so the release does not run).
     */
    static void requireUnwritableBeforeRelease(HaInput in, Decision d) {
        boolean unwritable = in.pg().knownNotWritable();
        for (Action a : d.actions()) {
            if (a instanceof Action.Fence || a instanceof Action.Stop) {
                unwritable = true;
            } else if (a instanceof Action.ReleaseLeader && !unwritable) {
                throw new IllegalStateException("decision releases the lock while postgres may be writable ("
                        + in.pg().dataDir() + ", " + in.pg().run() + ", " + in.pg().role() + "): " + d);
            }
        }
    }

    private static Decision decideUnchecked(HaInput in) {
        if (in.memory().fatal() != null) {
            return Decision.of("not acting: " + in.memory().fatal());
        }
        if (in.view() == null) {
            return dcsUnavailable(in);
        }
        ClusterView v = in.view();
        PgState pg = in.pg();
        String me = in.me();
        boolean paused = v.config().pause();
        boolean holdLock = v.isLeader(me);

        // A data directory from another cluster must never join this one.
        if (pg.dataDir() == PgState.DataDir.VALID && v.isInitialized() && pg.systemId() != null
                && !v.initialize().equals(pg.systemId())) {
            String msg = "system identifier mismatch: the data directory has " + pg.systemId() + " but cluster '"
                    + in.settings().scope() + "' was initialized with " + v.initialize();
            if (paused) {
                return holdLock ? releaseFenced(in, msg + " (paused: releasing the lock)")
                        : Decision.of(msg + " (paused: not acting)");
            }
            return holdLock && !pg.isRunningPrimary()
                    ? Decision.of(msg, new Action.Fence(), new Action.ReleaseLeader(), new Action.Fatal(msg))
                    : Decision.of(msg, new Action.Fatal(msg));
        }
        if (in.memory().busy() != null) {
            return longActionInProgress(in, holdLock);
        }
        if (in.memory().bootstrappedSystemId() != null) {
            return afterBootstrap(in);
        }
        NodeMemory.LongActionResult last = in.memory().lastLongAction();
        if (last != null && !last.ok() && last.action() == LongAction.BOOTSTRAP) {
            List<Action> steps = new ArrayList<>();
            if ("".equals(v.initialize())) {
                steps.add(new Action.DeleteInitialize(v.initializeVersion()));
            }
            steps.add(new Action.Fatal("bootstrap failed: " + last.detail()));
            return Decision.of("bootstrap failed: " + last.detail(), steps);
        }
        Optional<Decision> requested = OperatorRequests.decide(in, holdLock, paused);
        if (requested.isPresent()) {
            return requested.get();
        }
        switch (pg.dataDir()) {
            case EMPTY:
                return emptyDataDirectory(in, holdLock, paused);
            case INVALID:
                return holdLock
                        ? releaseFenced(in, "data directory is unusable (" + pg.detail() + "): releasing the lock")
                        : Decision.of("data directory is unusable (" + pg.detail() + "); consider re-initializing");
            case UNKNOWN:
                return probeFailed(in, holdLock, paused);
            case REWIND_INCOMPLETE:
                return FollowRules.rewindIncomplete(in, holdLock, paused);
            case VALID:
            default:
                break;
        }
        List<Action> pre = new ArrayList<>();
        if (v.initialize() == null) {
            if (!v.isUnlocked() || paused) {
                // Someone leads a cluster that lost its initialize key: the leader restores it below.
            } else if (pg.isRunningReplica()) {
                return Decision.of("not adopting: postgres runs as a replica and cluster '" + in.settings().scope()
                        + "' was never initialized; start pgha on the primary first");
            } else if (pg.systemId() != null) {
                return Decision.of("adopting the existing data directory (system id " + pg.systemId() + ")",
                        new Action.RaceInitialize(pg.systemId())).soon();
            }
        }
        if (holdLock && !v.isInitialized() && pg.systemId() != null) {
            pre.add(v.initialize() == null ? new Action.RaceInitialize(pg.systemId())
                    : new Action.SetInitialize(pg.systemId(), v.initializeVersion()));
        }
        if (holdLock && v.config().isAbsent()) {
            pre.add(new Action.WriteConfig(GlobalConfig.bootstrap(in.settings()), DcsVersion.ABSENT));
        }
        if (holdLock) {
            pre.addAll(UndecodableKeys.repairs(v, pg));
        }
        Decision d;
        if (holdLock && !pg.isRunningPrimary() && in.memory().failedStarts() >= MAX_FAILED_STARTS) {
            return Decision.of("failed to become primary " + in.memory().failedStarts() + " times in a row (last: "
                    + in.memory().lastStartFailure() + "): fencing and releasing the lock so that a healthy member"
                    + " can take over; not racing for ttl " + Durations.format(in.settings().ttl()),
                    new Action.Fence(), new Action.ReleaseLeader(), new Action.SitOut(in.settings().ttl()));
        }
        if (!pg.isRunning()) {
            d = notRunning(in, holdLock, paused);
        } else if (v.isUnlocked()) {
            d = noLeader(in, paused);
        } else if (holdLock) {
            d = leader(in, paused);
        } else {
            d = FollowRules.follower(in, paused);
        }
        // Housekeeping of a lock holder rides along with a renewal, right after it; a decision that gives up the
        // lock (fence, release) leaves it to whoever leads next.
        if (pre.isEmpty() || d.actions().isEmpty() || !(d.actions().get(0) instanceof Action.RenewLeader)) {
            return d;
        }
        List<Action> steps = new ArrayList<>(d.actions());
        steps.addAll(1, pre);
        return new Decision(steps, d.reason(), d.nextCycle());
    }

    /**
     * Gives up the lock. A fence comes first unless PostgreSQL is known not to accept writes (a running replica, or
     * no postmaster), so that another member's promotion never overlaps our writes (rule S1).
     */
    static Decision releaseFenced(HaInput in, String reason) {
        return in.pg().knownNotWritable() ? Decision.of(reason, new Action.ReleaseLeader())
                : Decision.of(reason + " (fencing postgres first)", new Action.Fence(), new Action.ReleaseLeader());
    }

    /**
     * The probe failed: nothing is known, not even whether a postmaster runs or accepts writes. A lock holder keeps
     * renewing through one such cycle (a passing fault must not cost a failover), then fences and releases; a member
     * without the lock fences at once, since it may be a primary that lost its lock (rule S1).
     */
    private static Decision probeFailed(HaInput in, boolean holdLock, boolean paused) {
        if (in.memory().probePendingFor() > 0) {
            // Slow, not failed (yet): the lease must not pay for a loaded host.
            String why = "waiting for postgres to answer the probe (" + in.pg().detail() + ")";
            return holdLock ? Decision.of(why + "; renewing the lock", new Action.RenewLeader()) : Decision.of(why);
        }
        String why = "cannot tell what postgres is doing (" + in.pg().detail() + ")";
        if (paused) {
            return holdLock ? Decision.of("paused: " + why + "; keeping the lock", new Action.RenewLeader())
                    : Decision.of("paused: " + why + "; not acting");
        }
        if (holdLock) {
            if (in.memory().unknownProbes() < 2) {
                return Decision.of(why + "; renewing the lock and probing again soon", new Action.RenewLeader())
                        .soon();
            }
            return Decision.of(why + " for " + in.memory().unknownProbes() + " cycles: fencing it and releasing the"
                    + " lock", new Action.Fence(), new Action.ReleaseLeader());
        }
        return Decision.of(why + ": fencing it (it may be a primary without the lock)", new Action.Fence());
    }

    // ------------------------------------------------------------------------------------------------ DCS down

    private static Decision dcsUnavailable(HaInput in) {
        PgState pg = in.pg();
        String why = "DCS unreachable (" + in.dcsError() + ")";
        ClusterView last = in.lastView();
        boolean paused = last != null && last.config().pause();
        boolean ledLast = last != null && last.isLeader(in.me());
        if (ledLast && !paused && in.memory().busy() != null) {
            return Decision.of(why + ": waiting for " + in.memory().busy() + " to finish")
                    .after(storeReturnCheck(in.settings()));
        }
        if (ledLast && !paused && !pg.isRunning() && pg.dataDir() == PgState.DataDir.VALID) {
            // The lease guard stopped our primary: serve reads meanwhile, as a standby with no upstream (it cannot
            // accept writes), and look for the store often, to take writes back at once under a renewed lease.
            return Decision.of(why + ": the lease guard stopped our primary; starting it read-only until the store"
                    + " answers", new Action.StartReplica(null)).after(storeReturnCheck(in.settings()));
        }
        if (ledLast && !paused && pg.isRunningReplica()) {
            return Decision.of(why + ": running read-only as the last leader; checking for the store's return every "
                    + Durations.format(storeReturnCheck(in.settings()))).after(storeReturnCheck(in.settings()));
        }
        if (!pg.isRunningPrimary()) {
            return Decision.of(why + ": no action as " + (pg.isRunning() ? "a replica"
                    : pg.dataDir() == PgState.DataDir.UNKNOWN ? "the state of postgres is unknown (" + pg.detail() + ")"
                    : "postgres is not running"));
        }
        if (in.settings().failsafeMode() && in.failsafe() != null && in.failsafe().allConfirmed()
                && !in.failsafe().asked().isEmpty()) {
            return Decision.of(why + ": failsafe mode, all " + in.failsafe().asked().size()
                    + " members confirmed: keep running as primary", new Action.KeepLeadingInFailsafe());
        }
        String failsafe = !in.settings().failsafeMode() ? ""
                : in.failsafe() == null ? "; failsafe mode could not ask the members"
                : in.failsafe().asked().isEmpty() ? "; failsafe mode: no other member known"
                : "; failsafe mode: not confirmed by " + in.failsafe().refused();
        if (ledLast && in.leaseHeld()) {
            // The store confirmed our renewal (under the key's compare) within the lease guard's deadline, so the
            // lock is still ours whatever this read says; the guard fences at that deadline unless a renewal lands
            // again. Demoting on one failed read would turn every slow read into a write outage.
            return Decision.of(why + failsafe + ": the lease is still ours (renewal confirmed), keeping postgres"
                    + " running as primary; the lease guard fences it if the lease runs out");
        }
        if (paused) {
            return Decision.of(why + failsafe + ": paused, leaving postgres running (the lease guard still fences"
                    + " it when the lease runs out; it restarts once the store is back and the lock is free)");
        }
        return Decision.of("demoting: " + why + failsafe, new Action.Stop(StopMode.FAST),
                new Action.StartReplica(null)).after(storeReturnCheck(in.settings()));
    }

    /** How soon a demoted leader reads the store again during an outage: loopWait, but at most 1 s. */
    private static Duration storeReturnCheck(HaSettings s) {
        Duration second = Duration.ofSeconds(1);
        return s.loopWait().compareTo(second) < 0 ? s.loopWait() : second;
    }

    // ------------------------------------------------------------------------------------------------ long actions

    private static Decision longActionInProgress(HaInput in, boolean holdLock) {
        LongAction busy = in.memory().busy();
        PgState pg = in.pg();
        boolean paused = in.view().config().pause();
        if (holdLock) {
            Long down = in.memory().primaryDownSince();
            Duration own = busy == LongAction.RESTART ? in.memory().restartStartTimeout() : null;
            Duration timeout = own != null ? own : in.settings().primaryStartTimeout();
            // An operator's restart of the leader is planned downtime: the lock is kept for it, within the same
            // timeout as a crashed primary's restart (counted from the stop), or the one the operator gave.
            if ((busy == LongAction.START_PRIMARY || busy == LongAction.RESTART) && down != null
                    && in.nowNanos() - down > timeout.toNanos() && !paused) {
                LeaderRace.Verdict other = LeaderRace.failoverPossible(in, null, in.view().status().optime());
                if (other.yes()) {
                    return Decision.of("primary did not " + (busy == LongAction.RESTART ? "restart" : "start")
                            + " within " + (own != null ? "the restart's timeout " : "primaryStartTimeout ")
                            + Durations.format(timeout) + ": failing over (" + other.reason() + ")",
                            new Action.Fence(), new Action.ReleaseLeader());
                }
            }
            return Decision.of(busy + " in progress; renewing the lock", new Action.RenewLeader());
        }
        if (pg.isRunningPrimary() && !paused) {
            if (busy == LongAction.BOOTSTRAP && in.view().leader() == null) {
                // A bootstrap runs its new primary before it may take the lock (initialize first, the lock when
                // done), so here a running primary without the lock was never a leader that lost it.
                return Decision.of("bootstrap in progress");
            }
            return Decision.of("lost the lock while " + busy + " is in progress: fencing the primary",
                    new Action.Fence()).soon();
        }
        Optional<Decision> cancel = OperatorRequests.cancelForReinitialize(in);
        if (cancel.isPresent()) {
            return cancel.get();
        }
        return Decision.of(busy + " in progress");
    }

    // ------------------------------------------------------------------------------------------------ bootstrap

    private static Decision emptyDataDirectory(HaInput in, boolean holdLock, boolean paused) {
        ClusterView v = in.view();
        if (holdLock) {
            return releaseFenced(in, "data directory is empty: releasing the lock");
        }
        if (paused) {
            return Decision.of("paused: data directory is empty, not bootstrapping or cloning");
        }
        Optional<Member> leader = v.leaderMember();
        if (v.leader() != null) {
            if (leader.isEmpty() || Upstream.of(leader.get()).isEmpty()) {
                return Decision.of("waiting for the leader " + v.leader().holder() + " to publish its address");
            }
            Upstream lead = Upstream.of(leader.get()).get();
            Upstream source = FollowRules.cloneSource(in).orElse(lead);
            return Decision.of("creating a replica from " + source.member(), new Action.CreateReplica(source, lead));
        }
        if (v.initialize() == null) {
            if (in.settings().tags().neverPromote()) {
                return Decision.of("waiting for a leader: a nofailover member does not bootstrap");
            }
            return Decision.of("bootstrapping a new cluster", new Action.RaceInitialize(""), new Action.Bootstrap());
        }
        return Decision.of(v.initialize().isEmpty() ? "waiting for the member bootstrapping the cluster"
                : "waiting for a leader to clone from");
    }

    private static Decision afterBootstrap(HaInput in) {
        ClusterView v = in.view();
        String sysid = in.memory().bootstrappedSystemId();
        List<Action> steps = new ArrayList<>();
        if (v.initialize() == null) {
            steps.add(new Action.RaceInitialize(sysid));
        } else if (!v.initialize().equals(sysid)) {
            if (!v.initialize().isEmpty()) {
                String msg = "bootstrap finished but the cluster was initialized by someone else (system id "
                        + v.initialize() + ", mine " + sysid + ")";
                return Decision.of(msg, new Action.Fence(), new Action.Fatal(msg));
            }
            steps.add(new Action.SetInitialize(sysid, v.initializeVersion()));
        }
        if (!v.isLeader(in.me())) {
            if (v.leader() != null) {
                String msg = "bootstrap finished but " + v.leader().holder() + " holds the leader lock";
                return Decision.of(msg, new Action.Fence(), new Action.Fatal(msg));
            }
            steps.add(new Action.AcquireLeader());
        }
        if (v.config().isAbsent()) {
            steps.add(new Action.WriteConfig(GlobalConfig.bootstrap(in.settings()), DcsVersion.ABSENT));
        }
        if (in.settings().synchronousMode() == SynchronousMode.ON && !in.me().equals(v.sync().leader())) {
            steps.add(new Action.WriteSync(new SyncState(in.me(), List.of(), v.sync().version()),
                    v.sync().version()));
        }
        return Decision.of("bootstrap finished: initializing cluster '" + in.settings().scope() + "' (system id "
                + sysid + ") and taking the leader lock", steps).soon();
    }

    // ------------------------------------------------------------------------------------------------ not running

    private static Decision notRunning(HaInput in, boolean holdLock, boolean paused) {
        ClusterView v = in.view();
        PgState pg = in.pg();
        if (paused) {
            if (!holdLock && v.isUnlocked() && in.memory().fencedWhilePaused() && pg.role() == Role.PRIMARY) {
                // Pause suspends automatic failover, not rule S1: the lease ran out (a store outage, say) and the
                // guard fenced us. Nobody can have been promoted automatically since; restart as soon as the lock
                // can be ours again rather than leaving the cluster without a primary until resume.
                String why = "paused: my lease ran out and postgres was fenced";
                LeaderRace.Verdict ok = LeaderRace.fencedPrimaryMayRestart(in);
                if (!ok.yes()) {
                    return Decision.of(why + "; not restarting it: " + ok.reason());
                }
                return Decision.of(why + "; the lock is free and " + ok.reason()
                        + ": taking the lock and restarting postgres as primary", new Action.AcquireLeader(),
                        new Action.StartPrimary());
            }
            return holdLock
                    ? releaseFenced(in, "paused: postgres is not running; releasing the lock, not starting it")
                    : Decision.of("paused: postgres is not running; not starting it");
        }
        String state = pg.run() == PgState.Run.CRASHED ? "crashed" : "stopped";
        if (holdLock) {
            Duration timeout = in.settings().primaryStartTimeout();
            Long down = in.memory().primaryDownSince();
            boolean timedOut = timeout.isZero() || (down != null && in.nowNanos() - down > timeout.toNanos());
            if (timedOut) {
                LeaderRace.Verdict other = LeaderRace.failoverPossible(in, null, v.status().optime());
                if (other.yes()) {
                    return Decision.of("postgres " + state + " and primaryStartTimeout "
                            + Durations.format(timeout) + (timeout.isZero() ? "" : " passed")
                            + ": releasing the lock for a failover (" + other.reason() + ")",
                            new Action.Fence(), new Action.ReleaseLeader());
                }
            }
            if (pg.role() == Role.PRIMARY) {
                return Decision.of("postgres " + state + ": restarting the primary in place, keeping the lock",
                        new Action.RenewLeader(), new Action.StartPrimary());
            }
            return Decision.of("postgres " + state + ": holding the lock, starting read-only to promote",
                    new Action.RenewLeader(), new Action.StartReplica(null));
        }
        if (v.leader() == null) {
            return Decision.of("postgres " + state + ", no leader: starting read-only to take part in the race",
                    new Action.StartReplica(null));
        }
        return FollowRules.rejoin(in, "postgres " + state);
    }

    // ------------------------------------------------------------------------------------------------ no leader

    private static Decision noLeader(HaInput in, boolean paused) {
        ClusterView v = in.view();
        PgState pg = in.pg();
        HaSettings s = in.settings();
        NodeMemory mem = in.memory();
        if (s.failsafeMode() && mem.failsafePingCounts(in.me(), in.nowNanos(), s.ttl())) {
            return Decision.of("no leader key, but " + mem.failsafeLeader()
                    + " confirmed it runs as primary (failsafe mode): not racing");
        }
        if (pg.run() == PgState.Run.STARTING) {
            return Decision.of("no leader: postgres is still starting");
        }
        LeaderRace.Verdict verdict = LeaderRace.isHealthiest(in);
        if (!verdict.yes()) {
            if (pg.isRunningPrimary() && !paused) {
                return Decision.of("no leader and I may not take the lock (" + verdict.reason()
                        + "): fencing the primary", new Action.Fence()).soon();
            }
            return Decision.of("no leader; not racing: " + verdict.reason());
        }
        List<Action> steps = new ArrayList<>();
        steps.add(new Action.AcquireLeader());
        // The failover request is cleared only once it has been acted on (so a failed promotion can retry it).
        Action clearFailover = !v.failover().isEmpty() || v.failover().version() != DcsVersion.ABSENT
                ? new Action.ClearFailover(v.failover().version(), "taken over") : null;
        if (pg.isRunningPrimary()) {
            if (s.synchronousMode() == SynchronousMode.ON && !in.me().equals(v.sync().leader())) {
                steps.add(new Action.WriteSync(new SyncState(in.me(), List.of(), v.sync().version()),
                        v.sync().version()));
            }
            steps.add(new Action.WriteStatus());
            if (clearFailover != null) {
                steps.add(clearFailover);
            }
            return Decision.of("taking the free lock: " + verdict.reason(), steps).soon();
        }
        int next = nextTimeline(in);
        steps.add(new Action.AnnounceTimeline(next));
        steps.addAll(SyncPlanner.beforePromotion(in));
        steps.add(new Action.Promote(next));
        steps.add(new Action.WriteStatus());
        if (clearFailover != null) {
            steps.add(clearFailover);
        }
        return Decision.of("leader lock free; promoting: " + verdict.reason(), steps).soon();
    }

    // ------------------------------------------------------------------------------------------------ leader

    private static Decision leader(HaInput in, boolean paused) {
        ClusterView v = in.view();
        PgState pg = in.pg();
        HaSettings s = in.settings();
        if (paused && !pg.isRunningPrimary()) {
            if (in.me().equals(v.failover().candidate())) {
                return Decision.of("paused: holding the lock, waiting to be promoted by hand",
                        new Action.RenewLeader());
            }
            return releaseFenced(in, "paused and postgres is not a primary: releasing the lock");
        }
        if (in.memory().lostRace() instanceof Action.RenewLeader) {
            return Decision.of("the leader key names me but the renewal was refused: fencing",
                    new Action.Fence()).soon();
        }
        List<Action> steps = new ArrayList<>();
        steps.add(new Action.RenewLeader());
        if (pg.run() == PgState.Run.STARTING) {
            return Decision.of("holding the lock while postgres is starting", steps);
        }
        if (!pg.isRunningPrimary()) {
            // We hold the lock but run read-only: the promotion after winning the race, or after a crash restart.
            if (UndecodableKeys.historyUnknown(v)) {
                return Decision.of("holding the lock, not promoting: " + UndecodableKeys.HISTORY_UNKNOWN, steps);
            }
            int next = nextTimeline(in);
            steps.add(new Action.AnnounceTimeline(next));
            steps.addAll(SyncPlanner.beforePromotion(in));
            steps.add(new Action.Promote(next));
            steps.add(new Action.WriteStatus());
            return Decision.of("holding the lock: promoting", steps).soon();
        }
        if (s.useSlots()) {
            steps.add(new Action.KeepSlots(true));
        }
        steps.add(new Action.WriteStatus());
        Optional<Decision> manual = SwitchoverRules.asLeader(in, steps);
        if (manual.isPresent()) {
            return manual.get();
        }
        if (s.failsafeMode()) {
            Map<String, String> members = failsafeMembers(v, in.me());
            if (!members.equals(v.failsafe())) {
                steps.add(new Action.WriteFailsafe(members));
            }
        } else if (v.failsafe() != null) {
            steps.add(new Action.WriteFailsafe(Map.of()));
        }
        int tl = pg.timeline();
        if (tl > 1 && (in.memory().historyRecordedFor() != tl
                || v.history().entries().stream().noneMatch(e -> e.timeline() == tl - 1))) {
            // Our lineage is not merged into the key yet: right after our promotion, after an agent restart, or
            // someone dropped our entry (the key keeps every other entry, announced numbers included).
            steps.add(new Action.WriteHistory());
        }
        steps.addAll(SyncPlanner.plan(in));
        return Decision.of("no action: I am the leader with the lock", steps);
    }

    /**
     * A timeline number no member has used or announced (rule S4): one above mine, the cluster's (the history key
     * keeps every number ever announced) and every timeline a member publishes.
     */
    private static int nextTimeline(HaInput in) {
        int highest = Math.max(in.pg().timeline(), in.view().history().clusterTimeline());
        for (Member m : in.view().members().values()) {
            highest = Math.max(highest, m.timeline());
        }
        return highest + 1;
    }

    private static Map<String, String> failsafeMembers(ClusterView v, String me) {
        Map<String, String> m = new TreeMap<>();
        for (Member member : v.members().values()) {
            if (member.apiUrl() != null) {
                m.put(member.name(), member.apiUrl());
            }
        }
        return m;
    }
}
