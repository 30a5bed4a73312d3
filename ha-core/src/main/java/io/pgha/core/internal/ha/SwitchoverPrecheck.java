package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.SynchronousMode;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Could a manual switchover or failover succeed now? The REST API asks before it writes the {@code failover} key.
 *
 * <p>It applies the very rules the leader applies before it steps down ({@link LeaderRace#failoverPossible}), so
 * a request the leader would drop is refused at once with the leader's own reason, instead of being written and
 * then cleared a cycle later. A failover on a cluster without a leader is the exception: as in Patroni, the named
 * candidate may then promote although it lags or is on an older timeline, so only "exists, may be promoted (tags,
 * and the synchronous set while synchronous mode is on: rule S3), answers, runs as a replica" is checked.
 */
public final class SwitchoverPrecheck {

    /** The answer, with the reason to show the operator. */
    public record Result(boolean possible, String reason) {
        public Result {
            Objects.requireNonNull(reason, "reason");
        }
    }

    private SwitchoverPrecheck() {}

    /**
     * @param settings       effective settings of the member asked (synchronous mode, maximumLagOnFailover)
     * @param view           the cluster as just read
     * @param peers          the candidates' answers to {@code GET /patroni}; missing = unreachable
     * @param leader         the member holding the lock, who would step down; null for a leaderless failover
     * @param leaderPosition the leader's WAL position, the reference for the lag limit; null to skip that check
     * @param leaderTimeline the leader's timeline, 0 when unknown
     * @param candidate      the named candidate, or null for "any member that qualifies"
     */
    public static Result check(HaSettings settings, ClusterView view, Map<String, PeerStatus> peers, String leader,
            Lsn leaderPosition, int leaderTimeline, String candidate) {
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(view, "view");
        HaInput in;
        Lsn reference;
        if (leader != null) {
            in = input(as(settings, leader, settings.synchronousMode()), view, peers, leaderTimeline);
            reference = leaderPosition;
        } else {
            // Leaderless failover: as in Patroni, the operator may promote a lagging candidate or one on an older
            // timeline; never one outside the synchronous set while synchronous mode is on (rule S3).
            in = input(as(settings, outsider(view), settings.synchronousMode()),
                    view.withHistory(TimelineHistory.ABSENT), peers, 0);
            reference = null;
        }
        LeaderRace.Verdict v = LeaderRace.failoverPossible(in, candidate, reference);
        return new Result(v.yes(), v.reason());
    }

    private static HaInput input(HaSettings s, ClusterView view, Map<String, PeerStatus> peers, int timeline) {
        // Only the timeline of "me" (the leader stepping down) is read by the check.
        PgState leaderPg = new PgState(PgState.DataDir.VALID, PgState.Run.RUNNING, Role.PRIMARY, null,
                Math.max(0, timeline), null, null, null, null, false, List.of(), "", false, "");
        return new HaInput(s, view, null, view, leaderPg, peers, null, null, NodeMemory.INITIAL, 0L,
                Instant.EPOCH);
    }

    /** The check skips "me": seen from the leader stepping down, or from nobody for a leaderless failover. */
    private static HaSettings as(HaSettings s, String name, SynchronousMode mode) {
        return new HaSettings(s.scope(), s.namespace(), name, s.ttl(), s.loopWait(), s.retryTimeout(),
                s.maximumLagOnFailover(), s.primaryStartTimeout(), mode, s.synchronousModeStrict(),
                s.synchronousNodeCount(), s.failsafeMode(), s.checkTimeline(), s.usePgRewind(), s.useSlots(),
                s.memberSlotsTtl(), s.allowReclone(),
                s.pause(), s.tags(), s.switchoverDrain(), s.bootstrapConfig());
    }

    /** A valid member name that no member of {@code view} has. */
    private static String outsider(ClusterView view) {
        String name = "pgha-precheck";
        for (int i = 1; view.members().containsKey(name); i++) {
            name = "pgha-precheck-" + i;
        }
        return name;
    }
}
