package io.pgha.core.spi;

import io.pgha.core.cluster.ClusterStatus;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.cluster.TimelineHistory;
import java.time.Duration;
import java.util.Map;

/**
 * The distributed configuration store, as one member sees it: Patroni's {@code AbstractDCS} contract.
 *
 * <p>One instance belongs to one member of one cluster ({@link DcsContext}). It owns that member's <em>lease</em>
 * (etcd lease, ZooKeeper session, Consul session): the leader key and the member key are bound to it and vanish
 * when it expires. The lease is created lazily, so a read-only user (the routing DataSource) never holds one.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li><b>Results.</b> A compare-and-create or compare-and-set that loses (the key exists, or its version or value
 *       differs) returns {@code false}. An unreachable or unanswering store throws {@link DcsUnavailableException};
 *       after that the outcome of a write is unknown. No method blocks longer than the context's
 *       {@code retryTimeout}.</li>
 *   <li><b>Compare-and-create:</b> {@link #initialize}, {@link #acquireLeader}. Atomic; an existing key is never
 *       overwritten.</li>
 *   <li><b>Compare-and-set:</b> {@link #renewLeader}, {@link #releaseLeader} (on the key's value = this member);
 *       {@link #setInitialize}, {@link #deleteInitialize}, {@link #writeConfig}, {@link #writeSync},
 *       {@link #deleteSync}, {@link #writeFailover}, {@link #clearFailover}, {@link #writeStatus},
 *       {@link #writeHistory} (on the version read; a version of {@link io.pgha.core.cluster.DcsVersion#ABSENT}
 *       means "only if absent").</li>
 *   <li><b>Best effort:</b> {@link #touchMember}, {@link #writeFailsafe}. Last writer wins.</li>
 *   <li><b>Reads:</b> {@link #read} returns every key under the cluster prefix, from one consistent read where the
 *       store allows it (linearizable, not a stale follower read).</li>
 *   <li><b>Watches:</b> {@link #watchLeader} calls back whenever the leader key changes or disappears;
 *       {@link #watchMembers} whenever a key under {@code members/} is created, changed or deleted (by anyone). Both
 *       also call back after a watch was re-established (something may have changed unseen). Callbacks are hints to
 *       read again: they run on a thread of the adapter's, never the caller's, may be duplicated or merged, and must
 *       not block. Watching is read-only: it creates no lease and writes nothing.</li>
 *   <li><b>Lease guarantee:</b> after {@link #acquireLeader} or {@link #renewLeader} returned {@code true}, no other
 *       member can create the leader key before {@code sentAt + }{@link #leaseGuarantee()}, where {@code sentAt} is
 *       the monotonic time taken just before the call. The HA loop fences PostgreSQL before that moment (rule S1).</li>
 *   <li><b>One process per member name</b> (docs/decisions 0011). <em>Our</em> leases are the ones this instance
 *       created (the current one and earlier ones it lost, e.g. after a session expired and the same process
 *       reconnected). A key bound to no lease at all (written by hand) counts as ours too. A key bound to any other
 *       live lease belongs to another process, even when it holds our name: {@link #touchMember} then throws
 *       {@link MemberNameTakenException} and writes nothing; {@link #renewLeader} and {@link #releaseLeader} return
 *       {@code false} and {@link #deleteMember} does nothing, so such a key is never re-bound, changed or
 *       deleted.</li>
 * </ul>
 */
public interface Dcs extends AutoCloseable {

    /** The member this instance acts for. */
    String memberName();

    // ------------------------------------------------------------------------------------------------ reads

    /** Reads the whole cluster prefix. */
    ClusterView read() throws DcsUnavailableException;

    // ------------------------------------------------------------------------------------------------ compare-and-create

    /**
     * Creates {@code initialize} with {@code value} if it is absent. The bootstrap race writes {@code ""} (a
     * bootstrap is running); a member adopting an existing data directory writes its system identifier.
     *
     * @return true if this call created the key
     */
    boolean initialize(String value) throws DcsUnavailableException;

    /**
     * Creates the leader key holding this member's name, bound to this member's lease, if it is absent.
     *
     * @return true if this member now holds the lock
     */
    boolean acquireLeader() throws DcsUnavailableException;

    // ------------------------------------------------------------------------------------------------ compare-and-set

    /**
     * Refreshes the leader key if it holds this member's name under one of our leases, refreshing its lease; if the
     * key was bound to an earlier lease of this instance (a session lost and opened anew) or to none, it is re-bound
     * to the current one.
     *
     * @return false if the key is absent, holds another name, or is bound to a lease that is not ours (another
     *         process with our name, or an earlier process of this member that has not expired yet)
     */
    boolean renewLeader() throws DcsUnavailableException;

    /** Deletes the leader key if it holds this member's name under one of our leases (or none). */
    boolean releaseLeader() throws DcsUnavailableException;

    /** Replaces {@code initialize} if its version is still {@code expectedVersion}. */
    boolean setInitialize(String sysid, long expectedVersion) throws DcsUnavailableException;

    /** Deletes {@code initialize} if its version is still {@code expectedVersion} (a failed bootstrap). */
    boolean deleteInitialize(long expectedVersion) throws DcsUnavailableException;

    /**
     * Writes {@code config}. {@code expectedVersion} = {@link io.pgha.core.cluster.DcsVersion#ABSENT}: create only;
     * {@link #ANY_VERSION}: unconditional replace ({@code PUT /config}).
     */
    boolean writeConfig(GlobalConfig config, long expectedVersion) throws DcsUnavailableException;

    /** Writes {@code sync} if its version is still {@code expectedVersion}. */
    boolean writeSync(SyncState state, long expectedVersion) throws DcsUnavailableException;

    /** Deletes {@code sync} if its version is still {@code expectedVersion}. */
    boolean deleteSync(long expectedVersion) throws DcsUnavailableException;

    /** Writes {@code failover} if its version is still {@code expectedVersion}. */
    boolean writeFailover(FailoverRequest request, long expectedVersion) throws DcsUnavailableException;

    /** Deletes {@code failover} if its version is still {@code expectedVersion}. */
    boolean clearFailover(long expectedVersion) throws DcsUnavailableException;

    /** Marker for an unconditional write where the method allows one. */
    long ANY_VERSION = -2L;

    // ------------------------------------------------------------------------------------------------ best effort

    /**
     * Publishes this member's key, bound to its current lease; a key left by an earlier lease of this instance (or by
     * none) is re-bound. The first call registers the member name.
     *
     * @throws MemberNameTakenException when the key is bound to a live lease that is not ours: another process runs
     *                                  with this member's name. Nothing was written.
     */
    void touchMember(Member data) throws DcsUnavailableException, MemberNameTakenException;

    /**
     * The HA loop's sign of life for a cycle whose member key would be written unchanged (docs/decisions/0013): writes
     * nothing, but counts as a lease call as {@link #touchMember} does ({@link DcsCallGuard#beginLeaseCall}, so the
     * idle rule keeps the lease), and renews the lease where the store's lease is renewed by the member's calls.
     *
     * <p>The default vouches for nothing, so the loop writes the member key every cycle, as it always did.
     *
     * @return true when the member key this instance last published with {@link #touchMember} was written under the
     *         lease this instance holds now (that lease was never lost or replaced since): then it is still there, and
     *         no other process can have taken the name. False: publish it again with {@link #touchMember}.
     */
    default boolean memberKeyHeld() throws DcsUnavailableException {
        return false;
    }

    /** Deletes this member's key (clean shutdown) if it is bound to one of our leases (or none); never another's. */
    void deleteMember() throws DcsUnavailableException;

    /**
     * Writes {@code status} if its version is still {@code expectedVersion}: a deposed leader's late write must not
     * overwrite its successor's position, the reference for every replica's lag (rule S2).
     */
    boolean writeStatus(ClusterStatus status, long expectedVersion) throws DcsUnavailableException;

    /**
     * Writes {@code history} if its version is still {@code expectedVersion}: a write built on an older read would
     * drop the numbers announced since, and the key must only grow (rule S4).
     */
    boolean writeHistory(TimelineHistory history, long expectedVersion) throws DcsUnavailableException;

    /** Writes the {@code failsafe} key (member name to api_url); an empty map deletes it. */
    void writeFailsafe(Map<String, String> members) throws DcsUnavailableException;

    // ------------------------------------------------------------------------------------------------ lease & watch

    /** See the class contract: how long a successful acquire or renew keeps others from taking the lock. */
    Duration leaseGuarantee();

    /** Registers a callback for changes of the leader key. */
    void watchLeader(Runnable onChange);

    /**
     * Registers a callback for changes of any member key ({@code members/*}: created, changed, deleted, by any member),
     * e.g. a leader publishing {@code pgha_draining} before a planned switchover. Read-only, like {@link #read}: it
     * creates no lease and writes nothing, so a routing client may use it (docs/decisions 0808). Member keys are
     * rewritten every HA cycle, so expect about one callback per member per cycle.
     */
    void watchMembers(Runnable onChange);

    /** Ends the lease (the member's keys go with it, as after a crash but at once) and releases resources. */
    @Override
    void close();
}
