package io.pgha.core.internal.ha;

import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.HaSettings;
import io.pgha.core.spi.Postgres;
import io.pgha.core.time.HaClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What a member publishes about itself ({@link NodeStatus}, docs/decisions 0009): the status after each cycle and
 * after an event between cycles (a promotion, a fence), and the live status a health check answers from. The HA
 * loop says when; this class says what, from the loop's collaborators and the last cycle's report.
 *
 * <p>Read from any thread (REST, the admin, the facade) and published from the loop's threads (a promotion or a
 * fence publishes on the thread it happens on): the published status is an atomic reference, the last report and the
 * end of the last cycle are volatile, written by the loop thread only.
 */
final class StatusPublisher {

    private final Gatherer gatherer;
    private final MemoryCell memory;
    private final LeaseGuard lease;
    private final Postgres postgres;
    private final HaClock clock;
    private final HaObserver observer;
    /** When the loop was made: how old the status is before the first cycle ended. */
    private final long createdAt;

    private final AtomicReference<NodeStatus> status = new AtomicReference<>();
    private volatile CycleReport lastReport;
    private volatile long lastCycleAt = Long.MIN_VALUE;

    /** Starts with a {@link Role#STARTING} status that nothing is known in yet (not published). */
    StatusPublisher(Gatherer gatherer, MemoryCell memory, LeaseGuard lease, Postgres postgres, HaClock clock,
            HaObserver observer, long createdAt) {
        this.gatherer = gatherer;
        this.memory = memory;
        this.lease = lease;
        this.postgres = postgres;
        this.clock = clock;
        this.observer = observer;
        this.createdAt = createdAt;
        this.status.set(statusOf(PgState.empty(), null, Role.STARTING));
    }

    /** The status published last. */
    NodeStatus status() {
        return status.get();
    }

    /** The report of the last cycle, or null before the first. */
    CycleReport lastReport() {
        return lastReport;
    }

    /** A cycle ended with {@code r}: a live status takes the failsafe state from it. */
    void reported(CycleReport r) {
        lastReport = r;
    }

    /** The cycle ended at {@code nanoTime}: a live status counts its age from it. */
    void cycleEndedAt(long nanoTime) {
        lastCycleAt = nanoTime;
    }

    /** The published status brought up to this instant ({@link HaLoop#liveStatus()}). */
    NodeStatus liveStatus() {
        // Read the loop's state before probing: a probe can take a while, and the lease must not look fresher
        // than the PostgreSQL state it is paired with.
        NodeStatus last = status.get();
        long lastCycle = lastCycleAt;
        boolean holds = lease.holds();
        PgState pg = postgres.probe();
        long now = clock.nanoTime();
        HaSettings s = gatherer.effectiveSettings();
        return new NodeStatus(s, derivedRole(pg, holds), pg, memory.get().busy(), gatherer.lastView(),
                last.dcsReachable(), gatherer.dcsLastSeen(), holds, failsafeActive(s, lastReport, now),
                last.decision(), Duration.ofNanos(Math.max(0, now - (lastCycle == Long.MIN_VALUE ? createdAt
                        : lastCycle))), clock.wallTime());
    }

    /** After a cycle: the role the service sees follows PostgreSQL and the lease. */
    void publishCycle(CycleReport r) {
        publishCycle(r, derivedRole(r.pg(), lease.holds()));
    }

    /** After a cycle that ended early (not registered, name taken, lease too short): the role is {@code role}. */
    void publishCycle(CycleReport r, Role role) {
        publish(statusOf(r.pg(), r, role));
    }

    /** Between cycles (a promotion, a fence): the last status with the new role and the lease as it is now. */
    void publishRole(Role role) {
        NodeStatus s = status.get();
        publish(new NodeStatus(s.settings(), role, s.pg(), s.busy(), s.view(), s.dcsReachable(), s.dcsLastSeen(),
                lease.holds(), s.failsafeActive(), s.decision(), s.sinceLastCycle(), clock.wallTime()));
    }

    /** Publishes {@code s} as it is (the operator's restart ended: the live status). */
    void publish(NodeStatus s) {
        status.set(s);
        observer.published(s);
    }

    private NodeStatus statusOf(PgState pg, CycleReport r, Role role) {
        HaSettings s = gatherer.effectiveSettings();
        return new NodeStatus(s, role, pg, memory.get().busy(), gatherer.lastView(), r != null && r.view() != null,
                gatherer.dcsLastSeen(), lease.holds(), failsafeActive(s, r, clock.nanoTime()),
                r == null ? null : r.decision().reason(), Duration.ZERO, clock.wallTime());
    }

    /** The role the service sees: primary only with an unexpired lease. */
    private static Role derivedRole(PgState pg, boolean holdsLease) {
        if (pg.dataDir() == PgState.DataDir.EMPTY) {
            return Role.UNINITIALIZED;
        }
        if (pg.isRunningPrimary() && holdsLease) {
            return Role.PRIMARY;
        }
        return pg.isRunningReplica() ? Role.REPLICA : Role.STOPPED;
    }

    /**
     * As primary: the last cycle kept leading through a DCS outage because every member confirmed. As a replica: a
     * primary pinged us less than ttl ago.
     */
    private boolean failsafeActive(HaSettings s, CycleReport r, long now) {
        if (!s.failsafeMode()) {
            return false;
        }
        if (r != null && r.view() == null && r.outcome() == CycleReport.Outcome.DONE
                && r.decision().actions().contains(new Action.KeepLeadingInFailsafe())) {
            return true;
        }
        return memory.get().failsafePingCounts(s.name(), now, s.ttl());
    }
}
