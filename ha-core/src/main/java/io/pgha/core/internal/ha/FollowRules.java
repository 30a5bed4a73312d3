package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.PgState;
import io.pgha.core.config.HaSettings;
import io.pgha.core.spi.DivergenceCheck;
import io.pgha.core.spi.StopMode;
import io.pgha.core.spi.Upstream;
import java.util.Optional;

/**
 * Following another leader (rule S4: never stream from a diverged history): follow a new leader only when the
 * divergence check says this node's WAL is a prefix of the leader's history; otherwise stop, and rejoin through
 * pg_rewind or a re-clone (a fork on the same timeline number, or a data directory a pg_rewind left half rewritten,
 * only through a re-clone). Pure functions of the {@link HaInput}, called by {@link HaDecider} in its decision order.
 */
final class FollowRules {

    private FollowRules() {}

    static Decision follower(HaInput in, boolean paused) {
        ClusterView v = in.view();
        PgState pg = in.pg();
        String leaderName = v.leader().holder();
        if (pg.isRunningPrimary()) {
            if (paused) {
                return Decision.of("paused: running as primary although " + leaderName + " holds the lock");
            }
            return Decision.of("demoting: " + leaderName + " holds the lock but I run as primary",
                    new Action.Fence()).soon();
        }
        if (pg.run() == PgState.Run.STARTING) {
            return Decision.of("postgres is starting; leader is " + leaderName);
        }
        Optional<Upstream> lead = v.leaderMember().flatMap(Upstream::of);
        if (lead.isEmpty()) {
            return Decision.of("following: waiting for the leader " + leaderName + " to publish its address");
        }
        Upstream leader = lead.get();
        DivergenceCheck d = in.divergence();
        if (leader.address().equals(pg.upstream())) {
            if (!pg.streaming() && d != null && d.result() == DivergenceCheck.Result.DIVERGED && !paused) {
                return Decision.of("not streaming from the leader " + leaderName + ": diverged (" + d.detail()
                        + "); stopping to rejoin", new Action.Stop(StopMode.FAST)).soon();
            }
            String why = pg.streaming() ? "no action: streaming from the leader " + leaderName
                    : "following the leader " + leaderName + " (not streaming yet)";
            // A slot left from this member's time as a primary would pin WAL here (the keeper looks once a start).
            return in.settings().useSlots() ? Decision.of(why, new Action.KeepSlots(false)) : Decision.of(why);
        }
        if (paused) {
            return Decision.of("paused: not following the new leader " + leaderName + " on my own");
        }
        if (d == null || d.result() == DivergenceCheck.Result.UNKNOWN) {
            return Decision.of("cannot tell whether I diverged from the new leader " + leaderName
                    + (d == null ? "" : " (" + d.detail() + ")") + "; waiting");
        }
        if (d.result() == DivergenceCheck.Result.DIVERGED) {
            return Decision.of("diverged from the new leader " + leaderName + " (" + d.detail()
                    + "): stopping to rejoin", new Action.Stop(StopMode.FAST)).soon();
        }
        return Decision.of("following the new leader " + leaderName, new Action.Follow(leader));
    }

    /** Start a stopped node under another leader: straight away, after pg_rewind, or after a re-clone (rule S4). */
    static Decision rejoin(HaInput in, String state) {
        ClusterView v = in.view();
        HaSettings s = in.settings();
        String leaderName = v.leader().holder();
        Optional<Upstream> lead = v.leaderMember().flatMap(Upstream::of);
        if (lead.isEmpty()) {
            return Decision.of(state + ": waiting for the leader " + leaderName + " to publish its address");
        }
        Upstream leader = lead.get();
        if (in.memory().rewindFailed()) {
            if (s.allowReclone()) {
                return Decision.of(state + ": pg_rewind failed earlier; re-cloning from " + leaderName,
                        new Action.RecloneAndFollow(cloneSource(in).orElse(leader), leader));
            }
            return Decision.of(state + ": pg_rewind failed and allowReclone is off: not following " + leaderName
                    + " (re-initialize this member)");
        }
        DivergenceCheck d = in.divergence();
        if (d == null || d.result() == DivergenceCheck.Result.UNKNOWN) {
            return Decision.of(state + ": cannot tell whether I diverged from " + leaderName
                    + (d == null ? "" : " (" + d.detail() + ")") + "; waiting");
        }
        if (d.result() == DivergenceCheck.Result.DIVERGED) {
            if (s.usePgRewind() && d.rewindable()) {
                return Decision.of(state + ": diverged from " + leaderName + " (" + d.detail() + "): rewinding",
                        new Action.RewindAndFollow(leader));
            }
            String why = d.rewindable() ? "pg_rewind is off" : "pg_rewind cannot undo a fork on the same timeline"
                    + " number";
            if (s.allowReclone()) {
                return Decision.of(state + ": diverged from " + leaderName + " (" + d.detail() + ") and " + why
                        + ": re-cloning", new Action.RecloneAndFollow(cloneSource(in).orElse(leader), leader));
            }
            return Decision.of(state + ": diverged from " + leaderName + " (" + d.detail() + "), " + why
                    + " and allowReclone is off: not following (re-initialize this member)");
        }
        return Decision.of(state + ": starting as a replica of " + leaderName, new Action.StartReplica(leader));
    }

    /**
     * A pg_rewind left the data directory half rewritten (known from disk, so also after an agent restart): it must
     * not start, race, or be compared for divergence (its files may mix two histories). Only a re-clone helps.
     */
    static Decision rewindIncomplete(HaInput in, boolean holdLock, boolean paused) {
        ClusterView v = in.view();
        String why = in.pg().detail() + ": the data directory may be half rewritten";
        if (holdLock) {
            return HaDecider.releaseFenced(in, why + "; releasing the lock");
        }
        if (paused) {
            return Decision.of("paused: " + why + "; not acting");
        }
        if (in.pg().isRunning()) {
            return Decision.of(why + " but postgres runs: fencing it", new Action.Fence());
        }
        Optional<Upstream> lead = v.leaderMember().flatMap(Upstream::of);
        if (lead.isEmpty()) {
            return Decision.of(why + "; waiting for a leader to re-clone from");
        }
        if (!in.settings().allowReclone()) {
            return Decision.of(why + "; allowReclone is off: re-clone this member by hand (not starting it; empty"
                    + " its data directory and it clones itself from the leader)");
        }
        return Decision.of(why + ": re-cloning from " + lead.get().member(),
                new Action.RecloneAndFollow(cloneSource(in).orElse(lead.get()), lead.get()));
    }

    /** A running replica tagged {@code clonefrom}, else empty (clone from the leader). */
    static Optional<Upstream> cloneSource(HaInput in) {
        ClusterView v = in.view();
        return v.members().values().stream()
                .filter(m -> m.tags().clonefrom() && m.isRunning() && !v.isLeader(m.name())
                        && !m.name().equals(in.me()))
                .map(Upstream::of).flatMap(Optional::stream).findFirst();
    }
}
