package io.pgha.core.cluster;

import io.pgha.core.config.HaSettings;
import io.pgha.core.config.SynchronousMode;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * What one member knows about itself and its cluster at one instant: published by its HA loop after every cycle
 * and read by everything that reports or routes (the REST API, {@code HaCluster}, the routing DataSource). An
 * immutable value, so every answer computed from it is computed from one consistent picture.
 *
 * @param settings       effective settings (local ones with the DCS config applied)
 * @param role           the member's role for the service: {@link Role#PRIMARY} only with an unexpired lease
 * @param pg             the local PostgreSQL as probed
 * @param busy           the long action in flight (bootstrap, clone, start, rewind), or null
 * @param view           the last cluster view read successfully; null before the first
 * @param dcsReachable   the last read of the DCS succeeded
 * @param dcsLastSeen    wall time of the last successful DCS read; null before the first
 * @param holdsLease     this member holds the leader lock with a lease that has not run out
 * @param failsafeActive failsafe mode is in force: as primary, every member confirmed it during a DCS outage; as a
 *                       replica, a primary pinged it ({@code POST /failsafe}) less than ttl ago
 * @param decision       the last cycle's decision, as its log line says it; null before the first cycle
 * @param sinceLastCycle time since the HA loop last completed a cycle (since it was built, before the first)
 * @param wallNow        wall-clock time of this status
 */
public record NodeStatus(
        HaSettings settings,
        Role role,
        PgState pg,
        LongAction busy,
        ClusterView view,
        boolean dcsReachable,
        Instant dcsLastSeen,
        boolean holdsLease,
        boolean failsafeActive,
        String decision,
        Duration sinceLastCycle,
        Instant wallNow) {

    public NodeStatus {
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(role, "role");
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
        return busy == null ? pg.patroniState() : busy.patroniState();
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
