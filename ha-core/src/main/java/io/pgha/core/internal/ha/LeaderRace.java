package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.PgState;
import io.pgha.core.config.Durations;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.SynchronousMode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Who may take the free leader lock (Patroni's {@code is_healthiest_node}) and whether anyone else could take over
 * ({@code is_failover_possible}). Pure functions of the {@link HaInput}.
 *
 * <p>Rule S2: a member more than {@code maximumLagOnFailover} behind the leader's last published position, or behind
 * any reachable peer that could itself be promoted, does not race. The only exception is a manual failover naming
 * this member. Rule S3: with synchronous mode active only the {@code sync} leader and its standbys race.
 */
final class LeaderRace {

    /** A yes or no with the reason, for the cycle's log line. */
    record Verdict(boolean yes, String reason) {
        static Verdict yes(String reason) {
            return new Verdict(true, reason);
        }

        static Verdict no(String reason) {
            return new Verdict(false, reason);
        }
    }

    private LeaderRace() {}

    static Verdict isHealthiest(HaInput in) {
        ClusterView v = in.view();
        PgState pg = in.pg();
        boolean paused = v.config().pause();
        if (pg.run() == PgState.Run.STARTING) {
            return Verdict.no("postgres is still starting");
        }
        Long sitOut = in.memory().sitOutUntil();
        if (sitOut != null && in.nowNanos() < sitOut) {
            return Verdict.no("sitting out the race for " + Durations.format(Duration.ofNanos(sitOut - in.nowNanos())
                    .withNanos(0)) + " more, after failing to become primary (" + in.memory().lastStartFailure()
                    + ")");
        }
        if (pg.isRunningPrimary()) {
            if (paused) {
                boolean mine = v.initialize() == null || v.initialize().isEmpty()
                        || v.initialize().equals(pg.systemId());
                return mine ? Verdict.yes("running as primary (paused)")
                        : Verdict.no("running as primary of another cluster (system id " + pg.systemId() + ")");
            }
            int clusterTl = v.history().clusterTimeline();
            if (clusterTl > 0 && pg.timeline() < clusterTl) {
                return Verdict.no("running as primary on timeline " + pg.timeline() + ", behind the cluster's "
                        + clusterTl);
            }
            // A primary that lost its lock (a stall, a partition) may have been replaced meanwhile: it re-takes the
            // lock only under the rules a replica races by, and nobody may be ahead of it at all (it cannot catch
            // up; whatever a successor wrote would be lost).
            Verdict eligible = eligibility(in);
            if (!eligible.yes()) {
                return Verdict.no("running as primary, but " + eligible.reason());
            }
            Verdict peers = compareWithPeers(in, null, true, true);
            return peers.yes() ? Verdict.yes("running as primary, " + peers.reason())
                    : Verdict.no("running as primary, but " + peers.reason());
        }
        FailoverRequest f = v.failover();
        if (!f.isEmpty() && due(f, in)) {
            return manualFailoverWithoutLeader(in, f);
        }
        if (paused) {
            return Verdict.no("paused: no automatic failover");
        }
        Verdict eligible = eligibility(in);
        if (!eligible.yes()) {
            return eligible;
        }
        return compareWithPeers(in, null, true, false);
    }

    /**
     * May the former leader whose primary the lease guard fenced during a pause take the free lock back and restart
     * it? Only if the cluster went on without it: nobody runs as primary, its timeline is still the cluster's, it may
     * lead at all, and no peer holds WAL beyond the position it last published (which it wrote itself: its stopped
     * server's own position is only known up to its last checkpoint). Every member must have answered.
     */
    static Verdict fencedPrimaryMayRestart(HaInput in) {
        ClusterView v = in.view();
        PgState pg = in.pg();
        int clusterTl = v.history().clusterTimeline();
        if (clusterTl > 0 && pg.timeline() < clusterTl) {
            return Verdict.no("my timeline " + pg.timeline() + " is behind the cluster's " + clusterTl);
        }
        Verdict eligible = eligibility(in);
        if (!eligible.yes()) {
            return eligible;
        }
        Lsn published = v.status().optime();
        List<String> silent = new ArrayList<>();
        for (Member m : v.members().values()) {
            String name = m.name();
            if (name.equals(in.me())) {
                continue;
            }
            PeerStatus p = in.peers().get(name);
            if (p == null) {
                silent.add(name);
                continue;
            }
            if (p.running() && !p.inRecovery()) {
                return Verdict.no(name + " runs as primary");
            }
            if (p.timeline() > pg.timeline()) {
                return Verdict.no(name + " is on a newer timeline " + p.timeline());
            }
            if (published == null || p.position().isAfter(published)) {
                return Verdict.no(name + " is at " + p.position() + ", beyond my last published position "
                        + published);
            }
        }
        if (!silent.isEmpty()) {
            return Verdict.no(silent + " did not answer");
        }
        return Verdict.yes("no member is ahead of my last published position " + published);
    }

    /** Tags, failsafe list and the synchronous set: may this member race at all? */
    private static Verdict eligibility(HaInput in) {
        HaSettings s = in.settings();
        ClusterView v = in.view();
        if (s.tags().nofailover()) {
            return Verdict.no("tagged nofailover");
        }
        if (s.tags().failoverPriority() <= 0) {
            return Verdict.no("failover priority " + s.tags().failoverPriority() + " <= 0");
        }
        if (in.pg().replayPaused()) {
            return Verdict.no("WAL replay is paused (resume it with pg_wal_replay_resume() to take part)");
        }
        if (outsideFailsafeList(in)) {
            return Verdict.no("not in the failsafe member list");
        }
        if (syncActive(in) && !v.sync().mayPromote(in.me())) {
            return Verdict.no("not a synchronous standby (sync leader " + v.sync().leader() + ", standbys "
                    + v.sync().standbys() + ")");
        }
        String blocked = in.pg().isRunningPrimary() ? null : UndecodableKeys.promotionBlocker(in);
        if (blocked != null) {
            return Verdict.no(blocked);
        }
        return Verdict.yes("eligible");
    }

    /**
     * In failsafe mode a primary cut off from the store keeps running while every member of the failsafe key
     * confirms it; a member outside that list was never asked, so it may not take over at all.
     */
    private static boolean outsideFailsafeList(HaInput in) {
        ClusterView v = in.view();
        return in.settings().failsafeMode() && v.failsafe() != null && !v.failsafe().isEmpty()
                && !v.failsafe().containsKey(in.me());
    }

    /**
     * An unscheduled request, or a scheduled one whose time has come: a leader that stepped down for a scheduled
     * switchover did so at its time, and the named candidate must then be the one to take over. A request scheduled
     * for later (the leader crashed before it) does not steer an automatic failover. The leader's clock decided
     * the time: one loop_wait of slack covers members whose clocks are a little behind it.
     */
    private static boolean due(FailoverRequest f, HaInput in) {
        return due(f, in.wallNow(), in.settings().loopWait());
    }

    private static boolean due(FailoverRequest f, Instant wallNow, Duration loopWait) {
        return f.scheduledAt() == null || !f.scheduledAt().toInstant().isAfter(wallNow.plus(loopWait));
    }

    /**
     * Whether this member's race is decided without its peers' answers: with the lock free, the candidate named by
     * a due failover request that runs as a replica decides on its own state and the store's keys alone
     * ({@link #manualFailoverWithoutLeader}: eligibility, lag against the published position, the synchronous set),
     * as Patroni's candidate does. Asking them would only delay its promotion: in a switchover the old leader is
     * stopping and restarting just then, and answers its status probe late (100-300 ms measured, issue 11).
     */
    static boolean candidateDecidesAlone(ClusterView v, PgState pg, String me, Instant wallNow, Duration loopWait) {
        FailoverRequest f = v.failover();
        return v.isUnlocked() && !f.isEmpty() && me.equals(f.candidate()) && due(f, wallNow, loopWait)
                && pg.run() == PgState.Run.RUNNING && !pg.isRunningPrimary();
    }

    private static Verdict manualFailoverWithoutLeader(HaInput in, FailoverRequest f) {
        ClusterView v = in.view();
        boolean paused = v.config().pause();
        String me = in.me();
        if (f.candidate() != null) {
            if (f.candidate().equals(me)) {
                if (in.settings().tags().neverPromote()) {
                    return Verdict.no("manual failover names me, but I am tagged nofailover");
                }
                if (f.leader() != null) {
                    // A switchover whose leader is gone without handing over: the candidate is preferred over its
                    // peers, but still has to be eligible and within maximumLagOnFailover (rule S2). Only an
                    // explicit failover (no leader named) overrides the lag limit.
                    Verdict eligible = eligibility(in);
                    if (!eligible.yes()) {
                        return Verdict.no("switchover names me, but " + eligible.reason());
                    }
                    Verdict lag = lagWithinLimit(in, effectivePosition(v, in.pg().timeline(), in.pg().walPosition()));
                    return lag.yes() ? Verdict.yes("switchover: I am the candidate (" + lag.reason() + ")")
                            : Verdict.no("switchover names me, but " + lag.reason());
                }
                if (outsideFailsafeList(in)) {
                    // The old primary may still run in failsafe mode, kept alive by the confirmations of exactly
                    // the members in the list; one outside it was never asked (rule S1, simulation seed 13554 of
                    // the 2026-12-05 nightly run: a member back from a host crash promoted next to it).
                    return Verdict.no("manual failover names me, but I am not in the failsafe member list");
                }
                String blocked = UndecodableKeys.promotionBlocker(in);
                if (blocked != null) {
                    return Verdict.no("manual failover names me, but " + blocked);
                }
                if (syncActive(in) && !v.sync().mayPromote(me)) {
                    // Rule S3 holds against the operator too (as in Patroni): only turning synchronous mode off
                    // lets a member outside the synchronous set be promoted.
                    return Verdict.no("manual failover names me, but I am not a synchronous standby (sync leader "
                            + v.sync().leader() + ", standbys " + v.sync().standbys() + ")");
                }
                return Verdict.yes("manual failover: I am the candidate");
            }
            if (paused) {
                return Verdict.no("paused: waiting for the failover candidate " + f.candidate());
            }
            if (candidateCanTakeOver(in, f.candidate())) {
                return Verdict.no("letting the failover candidate " + f.candidate() + " take over");
            }
            // The candidate is gone or may not be promoted: the others race as usual, the old leader excepted,
            // lag check included.
        } else {
            if (paused) {
                return Verdict.no("paused: a switchover needs a named candidate");
            }
            if (me.equals(f.leader())) {
                Verdict other = failoverPossible(in, null, in.pg().walPosition());
                if (other.yes()) {
                    return Verdict.no("stepping down: " + other.reason());
                }
                // Taking over again after all: under the same rules as anyone (the request may be stale, and this
                // member may have been a replica since).
                Verdict eligible = eligibility(in);
                if (!eligible.yes()) {
                    return Verdict.no("stepping down; no other member can take over, but " + eligible.reason());
                }
                Verdict peers = compareWithPeers(in, null, true, false);
                return peers.yes() ? Verdict.yes("stepping down, but no other member can take over; " + peers.reason())
                        : Verdict.no("stepping down; no other member can take over, but " + peers.reason());
            }
        }
        Verdict eligible = eligibility(in);
        if (!eligible.yes()) {
            return eligible;
        }
        return compareWithPeers(in, f.leader(), true, false);
    }

    /** The named candidate answers, runs, and could itself win the race (else deferring to it would stall). */
    private static boolean candidateCanTakeOver(HaInput in, String candidate) {
        PeerStatus p = in.peers().get(candidate);
        return p != null && p.running() && peerMayRace(in, candidate, p) == null
                && lagWithinLimit(in, effectivePosition(in.view(), p.timeline(), p.position())).yes();
    }

    /**
     * Why a peer could not win a race, as far as the DCS and its answer tell; null if it could. A peer that could
     * not win must not make others hold back either, or the cluster stalls with nobody racing.
     */
    private static String peerMayRace(HaInput in, String name, PeerStatus p) {
        ClusterView v = in.view();
        HaSettings s = in.settings();
        Member m = v.members().get(name);
        if (m == null || m.apiUrl() == null) {
            return "no member key with a REST API";
        }
        if (m.tags().neverPromote() || (p != null && p.nofailover())) {
            return "nofailover";
        }
        if (p != null && p.replayPaused()) {
            return "WAL replay paused";
        }
        if (p != null && p.paused() && !v.config().pause()) {
            // Its view of the config differs (an undecodable key it substitutes with an older value, say): it will
            // not race, so waiting for it would leave the cluster without a leader.
            return "believes the cluster is paused";
        }
        if (syncActive(in) && !v.sync().mayPromote(name)) {
            return "not a synchronous standby";
        }
        if (s.failsafeMode() && v.failsafe() != null && !v.failsafe().isEmpty() && !v.failsafe().containsKey(name)) {
            return "not in the failsafe member list";
        }
        return null;
    }

    /**
     * How much of the cluster's history a node holds: its LSN, but on a timeline older than the cluster's only up to
     * where the cluster left that timeline (what lies beyond is a dead branch, whatever its LSN says).
     */
    static Lsn effectivePosition(ClusterView v, int timeline, Lsn position) {
        if (position == null) {
            return null;
        }
        for (io.pgha.core.cluster.TimelineHistory.Entry e : v.history().entries()) {
            if (e.timeline() == timeline) {
                return position.isAfter(e.switchLsn()) ? e.switchLsn() : position;
            }
        }
        return position;
    }

    /**
     * {@code position} (already an {@link #effectivePosition}) is no more than maximumLagOnFailover behind the
     * leader's last published position.
     */
    private static Verdict lagWithinLimit(HaInput in, Lsn position) {
        if (position == null) {
            return Verdict.no("WAL position unknown");
        }
        long maxLag = in.settings().maximumLagOnFailover().bytes();
        Lsn optime = in.view().status().optime();
        long lag = optime == null ? 0 : Math.max(0, optime.minus(position));
        return lag > maxLag
                ? Verdict.no("lag " + lag + " B behind the leader's last position " + optime
                        + " > maximumLagOnFailover " + maxLag + " B")
                : Verdict.yes("lag " + lag + " B");
    }


    /** A running primary's position against the last published one: behind means another primary wrote since. */
    private static Verdict notBehindPublished(HaInput in, Lsn position) {
        Lsn optime = in.view().status().optime();
        if (optime != null && optime.isAfter(position)) {
            return Verdict.no("the cluster's last published position " + optime + " is ahead of mine " + position
                    + ": another primary wrote after me");
        }
        return Verdict.yes("not behind the last published position");
    }

    /**
     * Lag against the leader's last published position, then every reachable peer that could itself be promoted:
     * still a primary, further ahead, or as far ahead with a higher failover priority means "not me". For a running
     * primary ({@code primary}) any distance behind the published position is too much, and a tie is its to keep.
     */
    static Verdict compareWithPeers(HaInput in, String exclude, boolean checkLag, boolean primary) {
        HaSettings s = in.settings();
        ClusterView v = in.view();
        PgState pg = in.pg();
        Lsn mine = effectivePosition(v, pg.timeline(), pg.walPosition());
        if (mine == null) {
            return Verdict.no("my WAL position is unknown");
        }
        if (v.history().skipped(pg.timeline())) {
            // A promotion went past this number from an older timeline: our timeline is a branch the cluster left,
            // and where it forked off is not known, so no part of our WAL beyond the fork can be counted (rule S2).
            return Verdict.no("my timeline " + pg.timeline() + " is a branch the cluster left (the history key says"
                    + " its number was skipped by a later promotion)");
        }
        String blind = UndecodableKeys.blindSpot(in);
        if (blind != null) {
            List<String> silent = v.members().values().stream()
                    .map(Member::name)
                    .filter(n -> !n.equals(in.me()) && !n.equals(exclude) && !in.peers().containsKey(n))
                    .toList();
            if (!silent.isEmpty()) {
                return Verdict.no(blind + " and " + silent + " did not answer: cannot confirm that no member is ahead"
                        + " of me");
            }
        }
        Verdict lagOk = primary ? notBehindPublished(in, mine) : lagWithinLimit(in, mine);
        if (checkLag && !lagOk.yes()) {
            return lagOk;
        }
        int clusterTl = v.history().clusterTimeline();
        if (s.checkTimeline() && clusterTl > 0 && pg.timeline() < clusterTl) {
            return Verdict.no("timeline " + pg.timeline() + " is behind the cluster's " + clusterTl);
        }
        boolean syncActive = syncActive(in);
        List<String> checked = new ArrayList<>();
        for (Member m : v.members().values()) {
            String name = m.name();
            PeerStatus p = in.peers().get(name);
            if (name.equals(in.me()) || name.equals(exclude) || p == null) {
                continue;
            }
            if (p.running() && !p.inRecovery()) {
                return Verdict.no(name + " still runs as primary");
            }
            // Only peers that could win themselves are compared (a peer on an older timeline, say, holds a dead
            // branch whose higher LSN is not "ahead"); with a blind spot, everyone who answered is checked for being
            // ahead, but only those who could win can claim a tie by priority.
            boolean couldWin = peerMayRace(in, name, p) == null;
            if (blind == null && !couldWin) {
                continue;
            }
            checked.add(name);
            Lsn theirs = effectivePosition(v, p.timeline(), p.position());
            if (theirs.isAfter(mine)) {
                if (syncActive && name.equals(v.sync().leader())) {
                    // The former sync leader's extra WAL was never acknowledged: it may be ahead.
                    continue;
                }
                return Verdict.no(name + " is ahead (" + theirs + " > my " + mine + ")");
            }
            if (!primary && couldWin && theirs.equals(mine) && p.failoverPriority() > s.tags().failoverPriority()) {
                return Verdict.no(name + " is as far and has a higher failover priority ("
                        + p.failoverPriority() + " > " + s.tags().failoverPriority() + ")");
            }
        }
        return Verdict.yes("healthiest (" + lagOk.reason() + ", peers compared: " + (checked.isEmpty() ? "none reachable"
                : String.join(", ", checked)) + ")");
    }

    /**
     * Could some member other than this one take over now? Candidates: reachable replicas that may be promoted
     * (tags; the synchronous set when active; only {@code candidate} when named) and lag no more than
     * {@code maximumLagOnFailover} behind {@code reference} (skipped when null).
     */
    static Verdict failoverPossible(HaInput in, String candidate, Lsn reference) {
        ClusterView v = in.view();
        long maxLag = in.settings().maximumLagOnFailover().bytes();
        List<String> why = new ArrayList<>();
        for (Member m : v.members().values()) {
            String name = m.name();
            if (name.equals(in.me()) || (candidate != null && !candidate.equals(name))) {
                continue;
            }
            PeerStatus p = in.peers().get(name);
            String cannot = peerMayRace(in, name, p);
            if (cannot != null) {
                why.add(name + ": " + cannot);
                continue;
            }
            if (p == null) {
                why.add(name + ": unreachable");
                continue;
            }
            if (!p.running() || !p.inRecovery()) {
                why.add(name + ": " + (p.running() ? "runs as primary" : "not running"));
                continue;
            }
            Lsn theirs = effectivePosition(v, p.timeline(), p.position());
            if (reference != null && reference.minus(theirs) > maxLag) {
                why.add(name + ": lags " + reference.minus(theirs) + " B > " + maxLag + " B");
                continue;
            }
            return Verdict.yes(name + " can take over");
        }
        if (candidate != null && !v.members().containsKey(candidate)) {
            why.add(candidate + ": no such member");
        }
        return Verdict.no("no member can take over" + (why.isEmpty() ? "" : " (" + String.join("; ", why) + ")"));
    }

    static boolean syncActive(HaInput in) {
        return in.settings().synchronousMode() == SynchronousMode.ON && in.view().sync().isActive();
    }
}
