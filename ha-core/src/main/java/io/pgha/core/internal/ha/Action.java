package io.pgha.core.internal.ha;

import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.spi.StopMode;
import io.pgha.core.spi.Upstream;
import java.time.Duration;
import java.util.Map;

/**
 * One step the HA loop carries out for a {@link Decision}. Steps run in the order listed; each record states the
 * ordering rule it relies on. A compare-and-set or compare-and-create step that loses its race ends the list: no
 * later step runs (so "promote only after the lock was won" holds by construction). A step that fails ends the list
 * too.
 *
 * <p>Steps marked <em>long</em> run on the loop's action thread while cycles continue; a decision lists at most
 * one, as its last step.
 */
sealed interface Action {

    /** Short name for logs and traces. */
    default String describe() {
        return toString();
    }

    /** Which long action this is, or null for a short step. */
    default LongAction longAction() {
        return null;
    }

    /** Runs on the action thread while HA cycles continue. */
    default boolean isLong() {
        return longAction() != null;
    }

    // ------------------------------------------------------------------------------------ DCS: the leader lock

    /**
     * Create the leader key (compare-and-create). Later steps run only if it was won; the lease deadline starts at the
     * moment the request was sent.
     */
    record AcquireLeader() implements Action {}

    /** Refresh the leader key (compare-and-set on our name). Later steps run only if it is still ours. */
    record RenewLeader() implements Action {}

    /**
     * Delete the leader key (compare-and-set on our name). Rule: runs only after PostgreSQL stopped being a primary
     * (a demote or fence earlier in the same list), never while we still accept writes.
     */
    record ReleaseLeader() implements Action {}

    // ------------------------------------------------------------------------------------ DCS: other keys

    /** Compare-and-create of {@code initialize} (the bootstrap race writes ""; adoption writes the system id). */
    record RaceInitialize(String value) implements Action {}

    /** Compare-and-set of {@code initialize} to the system identifier after a successful bootstrap. */
    record SetInitialize(String systemId, long expectedVersion) implements Action {}

    /** Compare-and-set delete of {@code initialize} after a failed bootstrap, so another member may try. */
    record DeleteInitialize(long expectedVersion) implements Action {}

    /** Compare-and-set of {@code config}; {@code ABSENT} version = only if no config exists yet. */
    record WriteConfig(GlobalConfig config, long expectedVersion) implements Action {}

    /**
     * Compare-and-set of {@code sync}. Rule S3: a standby is added only once PostgreSQL reports it synchronous and
     * caught up; standbys are removed here before {@link SetSyncStandbyNames} stops waiting for them.
     */
    record WriteSync(SyncState state, long expectedVersion) implements Action {}

    /** Compare-and-set delete of {@code sync} (synchronous mode turned off; runs after ssn was cleared). */
    record DeleteSync(long expectedVersion) implements Action {}

    /** Compare-and-set delete of {@code failover} once the request is done or refused. */
    record ClearFailover(long expectedVersion, String why) implements Action {}

    /** Best effort: the leader's WAL position in {@code status} (the reference for replicas' lag). */
    record WriteStatus() implements Action {}

    /**
     * Best effort: bring the replication slots in line with {@link SlotPlanner}'s plan (the leader: member,
     * retained and permanent slots; a replica: none of its own). A failure is logged and the cycle goes on.
     */
    record KeepSlots(boolean asLeader) implements Action {}

    /** Best effort: rewrite {@code history} from PostgreSQL's timeline history after a promotion. */
    record WriteHistory() implements Action {}

    /**
     * Write {@code history} announcing the timeline number this member is about to create, before promoting. Rule S4:
     * every later promotion then picks a higher number, so no two members create different timelines with the same
     * number (which no divergence check could tell apart), even if this one dies right after promoting. Must succeed
     * before {@link Promote} runs (not best effort).
     */
    record AnnounceTimeline(int timeline) implements Action {}

    /** Best effort: the {@code failsafe} key listing every member's REST API (empty: delete it). */
    record WriteFailsafe(Map<String, String> members) implements Action {
        public WriteFailsafe {
            members = Map.copyOf(members);
        }
    }

    /**
     * Keep leading through a DCS outage: every member confirmed over REST (failsafe mode). Extends the lease deadline
     * from the moment the confirmation round was sent.
     */
    record KeepLeadingInFailsafe() implements Action {}

    // ------------------------------------------------------------------------------------ PostgreSQL

    /** initdb, start as primary, create roles. Long. Requires that this member won {@link RaceInitialize}. */
    record Bootstrap() implements Action {
        @Override
        public LongAction longAction() {
            return LongAction.BOOTSTRAP;
        }
    }

    /** pg_basebackup from {@code source}, then start as a standby of {@code leader}. Long. */
    record CreateReplica(Upstream source, Upstream leader) implements Action {
        @Override
        public LongAction longAction() {
            return LongAction.CREATE_REPLICA;
        }
    }

    /**
     * Start read-write after a crash, keeping the lock. Long. Rule S1: runs only with an unexpired lease (the loop
     * checks, and a fence during the start makes it fail).
     */
    record StartPrimary() implements Action {
        @Override
        public LongAction longAction() {
            return LongAction.START_PRIMARY;
        }
    }

    /** Start as a standby of {@code upstream} (null: no upstream, read-only). Long. */
    record StartReplica(Upstream upstream) implements Action {
        @Override
        public LongAction longAction() {
            return LongAction.START_REPLICA;
        }
    }

    /** pg_rewind onto {@code source}, then start as its standby. Long. Rule S4: the only way a diverged node rejoins. */
    record RewindAndFollow(Upstream source) implements Action {
        @Override
        public LongAction longAction() {
            return LongAction.REWIND;
        }
    }

    /** Wipe and clone from {@code source}, then start as a standby of {@code leader}. Long. Needs allowReclone. */
    record RecloneAndFollow(Upstream source, Upstream leader) implements Action {
        @Override
        public LongAction longAction() {
            return LongAction.RECLONE;
        }
    }

    /**
     * The operator's restart: stop (fast), then start again in the same role, a primary under the lease it keeps
     * renewing meanwhile (rule S1, as {@link StartPrimary}). {@code belowVersion} > 0: first check the running
     * server's version is lower, else end without restarting. {@code startTimeout}: the operator's own limit for a
     * primary to be up again (null = primaryStartTimeout). Long.
     */
    record Restart(long requestId, boolean primary, Upstream upstream, int belowVersion, Duration startTimeout)
            implements Action {
        @Override
        public LongAction longAction() {
            return LongAction.RESTART;
        }
    }

    /**
     * The operator's re-initialization of a replica: wipe, clone from {@code source}, start as a standby of
     * {@code leader}. Long. Unlike {@link RecloneAndFollow} it does not need allowReclone: it was asked for by name.
     */
    record Reinitialize(long requestId, Upstream source, Upstream leader) implements Action {
        @Override
        public LongAction longAction() {
            return LongAction.RECLONE;
        }
    }

    /** The operator's reload: PostgreSQL re-reads its configuration. */
    record ReloadPostgres(long requestId) implements Action {}

    /**
     * Cut short the long action {@code running} on this non-leader member (the operator's forced reinitialize): its
     * child process is killed and its thread ends with a cancellation; the reinitialize is taken up once it ended.
     */
    record CancelLongAction(LongAction running) implements Action {}

    /** An operator's request ends here without being carried out (its conditions do not hold), with this answer. */
    record EndRequest(long requestId, boolean ok, String message) implements Action {}

    /** Stop PostgreSQL in the given mode. */
    record Stop(StopMode mode) implements Action {}

    /**
     * Stop at once and refuse writable starts (see {@code Postgres.fence}). Used when another member holds the lock
     * while we run as a primary, and by the lease guard.
     */
    record Fence() implements Action {}

    /**
     * End recovery onto a timeline numbered at least {@code minTimeline} (the one announced just before): we become
     * the writable primary. Rule S1: only after {@link AcquireLeader} or {@link RenewLeader} succeeded in this list,
     * and only while the lease deadline has not passed.
     */
    record Promote(int minTimeline) implements Action {}

    /** Point the running standby at a new leader. Rule S4: only when the divergence check found no divergence. */
    record Follow(Upstream leader) implements Action {}

    /**
     * Set {@code synchronous_standby_names}. The loop records the primary's WAL position once it is in force: a
     * newly named standby counts as confirmed only when it has flushed past that position.
     */
    record SetSyncStandbyNames(String value) implements Action {}

    /** CHECKPOINT, before a graceful demotion so the shutdown is quick. */
    record Checkpoint() implements Action {}

    /**
     * Stay out of the leader race for {@code duration}: after giving up the lock for failing to become primary, so
     * that a healthy member wins the next race instead of this one again.
     */
    record SitOut(java.time.Duration duration) implements Action {}

    /**
     * Before this synchronous standby restarts: publish a nosync tag for at most {@code upTo}, so that the leader
     * names another standby and a strict or busy primary does not wait for this one while it is down.
     */
    record ReleaseSync(java.time.Duration upTo) implements Action {}

    /**
     * Start ({@code request} = the failover key's version) or stop ({@code request} < 0) publishing that this leader
     * drains before a planned switchover; the member key written at the end of the cycle says so.
     */
    record Drain(long request) implements Action {}

    /** Something is wrong that the agent cannot fix (e.g. system identifier mismatch): stop acting. */
    record Fatal(String message) implements Action {}
}
