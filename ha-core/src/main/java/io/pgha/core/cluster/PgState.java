package io.pgha.core.cluster;

import io.pgha.core.config.HostPort;
import java.util.List;
import java.util.Objects;

/**
 * What a probe of the local PostgreSQL found. Probing never fails: what could not be determined is reported as
 * unknown ({@code null}, {@code 0}, {@link Role#UNKNOWN}) with a {@link #detail()}.
 *
 * @param dataDir                 whether there is a data directory to run
 * @param run                     whether a postmaster runs and answers
 * @param role                    {@link Role#PRIMARY}, {@link Role#REPLICA} or {@link Role#UNKNOWN}; for a stopped
 *                                server, what its control file says it was
 * @param systemId                {@code Database system identifier}; null when unknown
 * @param timeline                current timeline; 0 when unknown
 * @param walPosition             flush position on a primary, max(received, replayed) on a replica, the last
 *                                checkpoint's position when stopped; null when unknown
 * @param receiveLsn              replica: last received position
 * @param replayLsn               replica: last replayed position
 * @param upstream                replica: the address in its {@code primary_conninfo}; null if none
 * @param streaming               replica: its WAL receiver is streaming
 * @param replication             primary: {@code pg_stat_replication}
 * @param synchronousStandbyNames the {@code synchronous_standby_names} in force
 * @param pendingRestart          a changed parameter waits for a restart
 * @param detail                  a sentence for logs when something is wrong or unknown; empty otherwise
 * @param replayPaused            replica: WAL replay is paused ({@code pg_wal_replay_pause()}), so its replayed
 *                                position is all it is known to hold and it stays out of leader races
 */
public record PgState(
        DataDir dataDir,
        Run run,
        Role role,
        String systemId,
        int timeline,
        Lsn walPosition,
        Lsn receiveLsn,
        Lsn replayLsn,
        HostPort upstream,
        boolean streaming,
        List<ReplicationRow> replication,
        String synchronousStandbyNames,
        boolean pendingRestart,
        String detail,
        boolean replayPaused,
        ServerFacts server) {

    public enum DataDir {
        /** No data directory, or an empty one: bootstrap or clone. */
        EMPTY,
        /** A data directory PostgreSQL can run. */
        VALID,
        /** Something is there but it is not a usable data directory (see detail). */
        INVALID,
        /**
         * The probe itself failed (an I/O error, too many open files, ...): nothing is known, not even whether a
         * postmaster runs. Never to be read as "not running" or "invalid": a primary may be serving writes.
         */
        UNKNOWN,
        /**
         * A pg_rewind started on this data directory and did not complete (it failed, or the agent died during it):
         * files may be half rewritten. It must not be started, race or be compared for divergence; only a re-clone
         * (or a rewind that completes) makes it usable again. Known from a marker on disk, so it survives restarts.
         */
        REWIND_INCOMPLETE
    }

    public enum Run {
        /** Not running after a clean shutdown (or never started). */
        STOPPED,
        /** Not running after an unclean end: killed, crashed, or stopped in immediate mode. */
        CRASHED,
        /** The postmaster runs but does not accept connections yet (recovery, startup). */
        STARTING,
        /** Running and answering queries. */
        RUNNING
    }


    public PgState {
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(run, "run");
        role = Objects.requireNonNullElse(role, Role.UNKNOWN);
        replication = List.copyOf(Objects.requireNonNullElse(replication, List.of()));
        synchronousStandbyNames = Objects.requireNonNullElse(synchronousStandbyNames, "");
        detail = Objects.requireNonNullElse(detail, "");
        server = Objects.requireNonNullElse(server, ServerFacts.NONE);
    }

    /** A state without {@link ServerFacts} (everything but a probe that reached a running server). */
    public PgState(DataDir dataDir, Run run, Role role, String systemId, int timeline, Lsn walPosition,
            Lsn receiveLsn, Lsn replayLsn, HostPort upstream, boolean streaming, List<ReplicationRow> replication,
            String synchronousStandbyNames, boolean pendingRestart, String detail, boolean replayPaused) {
        this(dataDir, run, role, systemId, timeline, walPosition, receiveLsn, replayLsn, upstream, streaming,
                replication, synchronousStandbyNames, pendingRestart, detail, replayPaused, ServerFacts.NONE);
    }

    /** A state whose WAL replay is not paused (every primary, and most replicas). */
    public PgState(DataDir dataDir, Run run, Role role, String systemId, int timeline, Lsn walPosition,
            Lsn receiveLsn, Lsn replayLsn, HostPort upstream, boolean streaming, List<ReplicationRow> replication,
            String synchronousStandbyNames, boolean pendingRestart, String detail) {
        this(dataDir, run, role, systemId, timeline, walPosition, receiveLsn, replayLsn, upstream, streaming,
                replication, synchronousStandbyNames, pendingRestart, detail, false);
    }

    /** A postmaster process exists (starting or answering). */
    public boolean isRunning() {
        return run == Run.RUNNING || run == Run.STARTING;
    }

    public boolean isRunningPrimary() {
        return run == Run.RUNNING && role == Role.PRIMARY;
    }

    public boolean isRunningReplica() {
        return run == Run.RUNNING && role == Role.REPLICA;
    }

    /** What a probe that failed reports: nothing is known ({@link DataDir#UNKNOWN}), with the reason. */
    public static PgState unknown(String detail) {
        return new PgState(DataDir.UNKNOWN, Run.STOPPED, Role.UNKNOWN, null, 0, null, null, null, null, false,
                List.of(), "", false, detail);
    }

    /**
     * PostgreSQL is known not to accept writes: a running replica, or a data directory that is there (or empty) with
     * no postmaster. Anything else (a primary, a server starting up, a failed probe) may be writable.
     */
    public boolean knownNotWritable() {
        if (dataDir == DataDir.UNKNOWN) {
            return false;
        }
        return isRunningReplica() || run == Run.STOPPED || run == Run.CRASHED;
    }

    /** A state for a node with nothing on disk. */
    public static PgState empty() {
        return new PgState(DataDir.EMPTY, Run.STOPPED, Role.UNKNOWN, null, 0, null, null, null, null, false,
                List.of(), "", false, "");
    }

    /**
     * A replica that streams and replays: what is published as {@code replication_state: streaming}. A replica whose
     * replay paused — by an operator, or by PostgreSQL itself because its settings are lower than the primary's
     * ("insufficient parameter settings", e.g. after a promotion of a member with a higher max_connections) — is not
     * reported streaming however much WAL it receives: it does not keep up.
     */
    public boolean streamingAndReplaying() {
        return role == Role.REPLICA && streaming && !replayPaused;
    }

    /** Patroni's member {@code state} value for this state. */
    public String patroniState() {
        if (dataDir == DataDir.UNKNOWN) {
            return "unknown";
        }
        return switch (run) {
            case RUNNING -> "running";
            case STARTING -> "starting";
            case CRASHED -> "crashed";
            case STOPPED -> "stopped";
        };
    }
}
