package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.config.Durations;
import io.pgha.core.spi.StopMode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A planned switchover, seen from the leader that steps down: when a {@code failover} request applies to it, when it
 * waits (a scheduled time, the drain window of a cooperative switchover: decision 0012) and how it hands over
 * (checkpoint, clean stop, release, rule S1). Who may take over is {@link LeaderRace#failoverPossible}'s question;
 * the candidate's side is {@link LeaderRace#isHealthiest}. Pure functions of the {@link HaInput}, called by
 * {@link HaDecider} for a running primary that holds the lock.
 */
final class SwitchoverRules {

    private SwitchoverRules() {}

    /**
     * Leader side of the failover key, as Patroni's {@code process_manual_failover_from_leader}: a request naming
     * another leader, or this member as candidate, is cleared; a scheduled one waits for its time (and is cleared
     * when more than 1.5 x loopWait late); otherwise the leader checks that someone can take over, then
     * checkpoints, stops cleanly and releases the lock. Steps so far: renew and status; the end of a drain whose
     * request is gone is added to them, since it holds whatever the rest of the leader's cycle decides.
     */
    static Optional<Decision> asLeader(HaInput in, List<Action> steps) {
        ClusterView v = in.view();
        FailoverRequest f = v.failover();
        NodeMemory.Draining draining = in.memory().draining();
        if (draining != null && draining.request() != f.version()) {
            // The request we drained for is gone (cancelled, refused, replaced): serve clients again.
            steps.add(new Action.Drain(-1));
        }
        if (f.isEmpty()) {
            return Optional.empty();
        }
        boolean paused = v.config().pause();
        List<Action> out = new ArrayList<>(steps);
        String me = in.me();
        if (me.equals(f.candidate()) || (f.leader() != null && !me.equals(f.leader()))) {
            out.add(new Action.ClearFailover(f.version(), "request does not apply to the current leader"));
            return Optional.of(Decision.of("clearing a failover request for leader " + f.leader() + " / candidate "
                    + f.candidate() + ": I am the leader", out));
        }
        if (f.scheduledAt() != null) {
            if (paused) {
                out.add(new Action.ClearFailover(f.version(), "scheduled switchover while paused"));
                return Optional.of(Decision.of("clearing a scheduled switchover: not allowed while paused", out));
            }
            Instant at = f.scheduledAt().toInstant();
            Duration loopWait = in.settings().loopWait();
            Duration until = Duration.between(in.wallNow(), at);
            if (until.compareTo(Duration.ZERO) > 0) {
                Decision wait = Decision.of("switchover scheduled at " + f.scheduledAt() + " (in "
                        + Durations.format(until.withNanos(0)) + ")", out);
                return Optional.of(until.compareTo(loopWait) <= 0 ? wait.after(until) : wait);
            }
            if (until.negated().toMillis() > loopWait.toMillis() * 3 / 2) {
                out.add(new Action.ClearFailover(f.version(), "stale"));
                return Optional.of(Decision.of("clearing a stale scheduled switchover (" + f.scheduledAt() + ")",
                        out));
            }
        }
        if (paused && f.candidate() == null) {
            return Optional.of(Decision.of("paused: a switchover needs a named candidate; ignoring the request", out));
        }
        LeaderRace.Verdict possible = LeaderRace.failoverPossible(in, f.candidate(), in.pg().walPosition());
        if (!possible.yes()) {
            out.add(new Action.ClearFailover(f.version(), possible.reason()));
            return Optional.of(Decision.of("switchover refused: " + possible.reason(), out));
        }
        String to = f.candidate() == null ? "" : " to " + f.candidate();
        Duration drain = in.settings().switchoverDrain();
        if (drain.compareTo(Duration.ZERO) > 0) {
            // Cooperative switchover: the member key says "draining" first, so that routing clients stop borrowing
            // from this primary and let running transactions end; the demotion follows once the window is over.
            if (draining == null || draining.request() != f.version()) {
                out.add(new Action.Drain(f.version()));
                return Optional.of(Decision.of("switchover" + to + ": draining clients for " + Durations.format(drain)
                        + " before demoting (" + possible.reason() + ")", out).after(drain));
            }
            Duration left = drain.minusNanos(in.nowNanos() - draining.since());
            if (left.compareTo(Duration.ZERO) > 0) {
                return Optional.of(Decision.of("switchover" + to + ": draining clients, demoting in "
                        + Durations.format(left) + " (" + possible.reason() + ")", out).after(left));
            }
        }
        // Graceful demotion: checkpoint, clean stop (replicas receive the shutdown checkpoint), then release.
        // The failover key stays so that the candidate knows it is meant.
        out.add(new Action.Checkpoint());
        out.add(new Action.Stop(StopMode.FAST));
        out.add(new Action.ReleaseLeader());
        out.add(new Action.Drain(-1));
        return Optional.of(Decision.of("switchover" + to + ": demoting (" + possible.reason() + ")", out).soon());
    }
}
