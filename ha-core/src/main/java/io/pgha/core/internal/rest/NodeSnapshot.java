package io.pgha.core.internal.rest;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.PgState;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.SynchronousMode;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * What the REST API knows about this member at one instant: an immutable value taken once per request, so every
 * answer is computed from one consistent picture and the REST code needs no locks, threads or clocks.
 *
 * @param settings       effective settings (local ones with the DCS config applied)
 * @param pg             the local PostgreSQL, probed for this snapshot
 * @param busy           the long action in flight (bootstrap, create replica, ...), or null
 * @param view           the last cluster view the HA loop read successfully; null before the first
 * @param dcsReachable   the HA loop's last read of the DCS succeeded
 * @param dcsLastSeen    wall time of the last successful DCS read; null before the first
 * @param holdsLease     this member holds the leader lock with a lease that has not run out
 * @param failsafeActive failsafe mode is in force: as primary, every member confirmed us during a DCS outage; as a
 *                       replica, a primary pinged us ({@code POST /failsafe}) less than ttl ago
 * @param sinceLastCycle time since the HA loop last completed a cycle (since it was built, before the first)
 * @param wallNow        wall-clock now, for scheduled switchovers
 */
public record NodeSnapshot(
        HaSettings settings,
        PgState pg,
        String busy,
        ClusterView view,
        boolean dcsReachable,
        Instant dcsLastSeen,
        boolean holdsLease,
        boolean failsafeActive,
        Duration sinceLastCycle,
        Instant wallNow) {

    public NodeSnapshot {
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(pg, "pg");
        Objects.requireNonNull(sinceLastCycle, "sinceLastCycle");
        Objects.requireNonNull(wallNow, "wallNow");
    }

    public String name() {
        return settings.name();
    }

    /** Maintenance mode, as of the last view. */
    public boolean paused() {
        return view != null && view.config().pause();
    }

    /** Patroni's member {@code state}: the long action in flight wins over what PostgreSQL says. */
    public String state() {
        if (busy == null) {
            return pg.patroniState();
        }
        // The mapping HaLoop uses for the member key, so that /patroni and /cluster agree.
        return switch (busy) {
            case "bootstrap" -> "initializing new cluster";
            case "create replica", "re-clone" -> "creating replica";
            case "start primary", "start replica", "rewind" -> "starting";
            default -> pg.patroniState();
        };
    }

    /** Patroni 4.x role names: {@code primary}, {@code replica}, {@code uninitialized}, or {@code unknown}. */
    public String role() {
        if (pg.dataDir() == PgState.DataDir.EMPTY) {
            return "uninitialized";
        }
        return switch (pg.role()) {
            case PRIMARY -> "primary";
            case REPLICA -> "replica";
            case UNKNOWN -> "unknown";
        };
    }

    /** PostgreSQL answers queries and no long action is rewriting it. */
    public boolean running() {
        return busy == null && pg.run() == PgState.Run.RUNNING;
    }

    /** The cluster is unlocked as far as this member knows (no view counts as unlocked). */
    public boolean clusterUnlocked() {
        return view == null || view.isUnlocked();
    }

    /** Synchronous replication is in force and lists this member as a synchronous standby. */
    public boolean syncStandby() {
        return view != null && settings.synchronousMode() == SynchronousMode.ON && view.sync().isActive()
                && view.sync().standbys().contains(name());
    }

    /** The leader's last published WAL position ({@code status.optime}), or null. */
    public Lsn optime() {
        return view == null ? null : view.status().optime();
    }
}
