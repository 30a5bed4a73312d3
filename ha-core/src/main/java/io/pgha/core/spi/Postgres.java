package io.pgha.core.spi;

import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.ReplicationSlot;
import io.pgha.core.cluster.TimelineHistory;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The local PostgreSQL instance, as the HA loop drives it. {@code LocalPostgres} controls a real one;
 * {@code FakePostgres} in the test kit models one for the simulation. A shared contract test keeps them honest.
 *
 * <p>Every method but {@link #probe}, {@link #fence} and {@link #unfence} may block for as long as the operation
 * takes (bounded by the implementation's own timeouts) and reports failure as a {@link PostgresException} whose
 * message names the operation and the cause.
 *
 * <h2>Fencing (rule S1)</h2>
 * {@link #fence()} may be called from any thread at any time, also while another method is in progress. When it
 * returns, no postmaster of this instance runs, and until {@link #unfence()} every {@link #startPrimary()} and
 * {@link #promote(int)} fails. So a primary whose lease ran out cannot come back writable by a start or promote that
 * was already under way.
 */
public interface Postgres {

    /** Looks at the instance: data directory, process, role, positions. Never throws. */
    PgState probe();

    /**
     * Creates a new cluster: initdb, start as primary, create the replication and rewind roles. Leaves it running as
     * a primary. Requires an empty data directory.
     */
    void bootstrap() throws PostgresException;

    /**
     * Copies the data directory from {@code source} (pg_basebackup) and configures this node as its standby; leaves
     * it stopped. Requires an empty data directory.
     */
    void createReplica(Upstream source) throws PostgresException;

    /** Starts read-write (a former primary's data directory, no standby configuration). */
    void startPrimary() throws PostgresException;

    /** Starts as a standby streaming from {@code upstream}, or with no upstream when it is null. */
    void startReplica(Upstream upstream) throws PostgresException;

    void stop(StopMode mode) throws PostgresException;

    /**
     * Ends recovery; returns when the server accepts writes. The new timeline gets a number of at least
     * {@code minTimeline} (numbers in between are skipped), so that no two members ever create different timelines
     * with the same number (rule S4): the HA loop passes one more than any timeline the cluster has announced.
     */
    void promote(int minTimeline) throws PostgresException;

    /**
     * {@link #promote(int)} with the timeline the caller's probe just found ({@code 0}: unknown), so that the usual
     * promotion onto the next number needs no probe of its own: the path from the won lock to the promotion should
     * hold nothing that can wait.
     */
    default void promote(int minTimeline, int probedTimeline) throws PostgresException {
        promote(minTimeline);
    }

    /** Points a running standby at a new upstream (changes its {@code primary_conninfo}) without a re-clone. */
    void follow(Upstream upstream) throws PostgresException;

    /** Compares this node's history with {@code leader}'s. Never throws: failures are {@code UNKNOWN}. */
    DivergenceCheck checkDivergence(Upstream leader);

    /**
     * Rewinds this (stopped) node onto {@code source}'s history with pg_rewind and configures it as its standby;
     * leaves it stopped.
     */
    void rewind(Upstream source) throws PostgresException;

    /**
     * Replaces this node's data directory with a fresh copy of {@code source}'s. Refuses unless the implementation
     * was configured to allow removing data.
     */
    void reclone(Upstream source) throws PostgresException;

    /**
     * The operator's re-initialization (Patroni's {@code reinitialize}): like {@link #reclone} but asked for by name,
     * so a setting that guards automatic re-clones should not apply (the default is {@link #reclone}; an
     * implementation with such a guard overrides this). Leaves the node stopped.
     */
    default void reinitialize(Upstream source) throws PostgresException {
        reclone(source);
    }

    /**
     * Cuts short the operation {@code worker} runs on this instance now (a clone, a rewind, a start or a stop), for
     * the operator's forced reinitialize: the child process it waits for is killed by its PID, the server of this
     * data directory, if one runs, is shut down immediately (its data is about to be replaced), and that operation,
     * like any later one on {@code worker}, throws a {@link PostgresException} instead of going on. Other threads'
     * operations (the HA loop's probes) are not touched. Returns within a few seconds: it waits only for the killed
     * processes to exit.
     *
     * @return whether this implementation can cut operations short; the default cannot (false), and the operation
     *         then runs to its end
     */
    default boolean cancel(Thread worker) {
        return false;
    }

    /** Makes the running server re-read its configuration (SIGHUP). */
    default void reload() throws PostgresException {
        throw new PostgresException("reload is not supported by " + getClass().getSimpleName());
    }

    /** The running server's {@code server_version_num} (e.g. 150004). */
    default int serverVersion() throws PostgresException {
        throw new PostgresException("the server version is not known to " + getClass().getSimpleName());
    }

    void setSynchronousStandbyNames(String value) throws PostgresException;

    void checkpoint() throws PostgresException;

    /** The current timeline's history: one entry per earlier timeline, oldest first. */
    List<TimelineHistory.Entry> timelineHistory() throws PostgresException;

    /** {@link #timelineHistory()} of {@code probedTimeline}, the timeline the caller's probe just found (no probe). */
    default List<TimelineHistory.Entry> timelineHistory(int probedTimeline) throws PostgresException {
        return timelineHistory();
    }

    /**
     * The cluster-wide server parameters (the DCS {@code config} key's {@code postgresql.parameters}), handed over by
     * the HA loop when they change and before the first start. An implementation that writes PostgreSQL's config
     * applies them under the member's own parameters (except the must-match ones, see
     * {@code io.pgha.core.config.ServerParameters}) and reloads a running server; a changed parameter that needs a
     * restart then shows as {@link PgState#pendingRestart()} in the next probe. The default ignores them (an
     * implementation that does not manage the server's configuration).
     *
     * @return whether a running server was reloaded (the agent's {@code on_reload} callback fires then)
     */
    default boolean useClusterParameters(Map<String, String> parameters) throws PostgresException {
        return false;
    }

    /**
     * The cluster-wide client authentication files (the {@code config} key's {@code postgresql.pg_hba} and
     * {@code postgresql.pg_ident}, one line each; empty when the key has none), handed over by the HA loop when they
     * change and before the first start. An implementation that writes PostgreSQL's files uses them where the
     * member has none of its own and reloads a running server when a file it writes changed. The default ignores
     * them.
     *
     * @return whether a running server was reloaded (the agent's {@code on_reload} callback fires then)
     */
    default boolean useClusterAuthFiles(List<String> pgHba, List<String> pgIdent) throws PostgresException {
        return false;
    }

    /**
     * The member's own server parameters, pg_hba and pg_ident lines as a reload re-read them from the member's
     * settings (Patroni's reload of its YAML): used from the next {@link #reload()} or start on, in place of the
     * ones the implementation was built with. The default ignores them (an implementation that does not manage the
     * server's configuration).
     *
     * @throws IllegalArgumentException a value the implementation's settings refuse: nothing taken
     */
    default void useMemberSettings(Map<String, String> parameters, List<String> pgHba, List<String> pgIdent)
            throws PostgresException {}

    /**
     * Whether this node, as a replica, streams through its own physical slot ({@code primary_slot_name} = its slot
     * name): the cluster-wide {@code postgresql.use_slots}, handed over by the HA loop before the first start and
     * whenever it changes, so that replicas and the leader, which keeps the slots, agree. Takes effect at the next
     * start or {@link #follow}. The default ignores it (an implementation that never sets a slot).
     */
    default void useReplicationSlots(boolean on) {}

    /**
     * The running server's replication slots ({@code pg_replication_slots}), read with one query; the HA loop calls
     * this once per cycle on the leader, so an implementation should not open a new session for it.
     */
    default List<ReplicationSlot> replicationSlots() throws PostgresException {
        throw new PostgresException("replication slots are not supported by " + getClass().getSimpleName());
    }

    /** Creates a persistent physical slot that reserves WAL at once; an existing slot of that name stays. */
    default void createPhysicalSlot(String name) throws PostgresException {
        throw new PostgresException("replication slots are not supported by " + getClass().getSimpleName());
    }

    /** Drops a slot; a missing one is not an error, an active one is (PostgreSQL refuses). */
    default void dropSlot(String name) throws PostgresException {
        throw new PostgresException("replication slots are not supported by " + getClass().getSimpleName());
    }

    /** Stops the postmaster at once and blocks writable starts until {@link #unfence()}. See the class comment. */
    void fence();

    /** Allows {@link #startPrimary()} and {@link #promote(int)} again. */
    void unfence();

    /**
     * Unfences only if {@code stillAllowed} holds, evaluated atomically with respect to {@link #fence()} (under the
     * lock the fence takes). The HA loop passes its lease check, so a fence that lands between the check and the
     * unfence cannot be undone by it (rule S1).
     *
     * @return whether the instance is unfenced now
     */
    boolean unfenceIf(BooleanSupplier stillAllowed);
}
