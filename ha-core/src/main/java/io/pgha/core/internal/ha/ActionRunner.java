package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterStatus;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.HaSettings;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.time.HaClock;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The <b>act</b> step of a cycle: runs a {@link Decision}'s steps in order against the DCS and PostgreSQL. A
 * compare-and-set that loses ends the list (so "promote only after the lock was won" holds by construction), a step
 * that fails ends it too; best-effort writes do not. A long step (bootstrap, clone, start, rewind) is handed to
 * {@link LongActions}, which runs it on a thread of its own and reports back through {@link NodeMemory}.
 */
final class ActionRunner {

    private static final Logger LOG = LoggerFactory.getLogger(ActionRunner.class);

    /** How carrying out a decision went; {@code lost} is the step that lost its race, if one did. */
    record Outcome(CycleReport.Outcome kind, Action lost, String detail) {
        static final Outcome DONE = new Outcome(CycleReport.Outcome.DONE, null, null);
    }

    /** What the runner tells the loop about. */
    interface Events {
        /** PostgreSQL was promoted by this member. */
        void promoted();

        /** PostgreSQL was fenced because another member leads or the lock was lost. */
        void fenced(String why);

        /** A long action ended: the loop should decide again soon. */
        void longActionEnded();

        /** The operator's restart begins. */
        default void restartBegan() {}

        /** The operator's restart ended, successfully or not. */
        default void restartEnded(boolean ok) {}

        /** PostgreSQL re-read its configuration on the operator's request. */
        default void reloaded() {}
    }

    private final String member;
    private final Dcs dcs;
    private final Postgres postgres;
    private final HaClock clock;
    private final LeaseGuard lease;
    private final LeaseWatchdog watchdog;
    private final MemoryCell memory;
    private final Events events;
    private final String prefix;
    private final SlotKeeper slots;
    private final LongActions longActions;
    private volatile long lastRenewalSentAt;
    /** Re-reads the member's own settings on the operator's reload; null (a runner on its own, in tests): nothing. */
    private MemberSettingsReload memberReload;

    ActionRunner(String member, Dcs dcs, Postgres postgres, HaClock clock, LeaseGuard lease, LeaseWatchdog watchdog,
            MemoryCell memory, Events events, String prefix) {
        this.member = member;
        this.dcs = dcs;
        this.postgres = postgres;
        this.clock = clock;
        this.lease = lease;
        this.watchdog = watchdog;
        this.memory = memory;
        this.events = events;
        this.prefix = prefix;
        this.slots = new SlotKeeper(postgres, clock, member, prefix);
        this.longActions = new LongActions(member, postgres, clock, memory, events, prefix, this::unfenceUnderLease);
    }

    /** Ends the slot keeper's thread (the HA loop closes). */
    void close() {
        slots.close();
    }

    /** What the operator's reload re-reads the member's own settings with (set once, before the loop starts). */
    void useMemberReload(MemberSettingsReload r) {
        memberReload = java.util.Objects.requireNonNull(r, "memberReload");
    }

    /**
     * What the steps of one decision learn from each other: the history key as last written, and whether its
     * version is still the one read (after this decision's own write it is not known, see {@link #recordHistory}).
     */
    private static final class Progress {
        TimelineHistory history;
        boolean historyWritten;

        Progress(HaInput in) {
            history = in.view() == null ? TimelineHistory.ABSENT : in.view().history();
        }
    }

    Outcome act(Decision d, HaInput in) {
        Progress progress = new Progress(in);
        for (Action a : d.actions()) {
            if (a.isLong()) {
                longActions.start(a);
                return Outcome.DONE;
            }
            if (isBestEffort(a) && renewalDue(in)) {
                LOG.warn("{}skipping {}: the next renewal of the lease is due (a slow DCS?)", prefix, a.describe());
                continue;
            }
            try {
                if (!execute(a, in, progress)) {
                    return new Outcome(CycleReport.Outcome.LOST_RACE, a, a.getClass().getSimpleName());
                }
            } catch (DcsUnavailableException e) {
                if (isBestEffort(a)) {
                    // Not silent: a status that stops moving freezes the reference for every replica's lag.
                    LOG.warn("{}{} failed: {}", prefix, a.describe(), e.getMessage());
                    continue;
                }
                LOG.warn("{}{} failed: DCS unreachable ({})", prefix, a.describe(), e.getMessage());
                return new Outcome(CycleReport.Outcome.FAILED, null, a.describe() + ": " + e.getMessage());
            } catch (PostgresException | RuntimeException e) {
                LOG.error("{}{} failed: {}", prefix, a.describe(), e.getMessage());
                return new Outcome(CycleReport.Outcome.FAILED, null, a.describe() + ": " + e.getMessage());
            }
        }
        return Outcome.DONE;
    }

    /**
     * A slow store eats the time between renewals: when more than retryTimeout has passed since this cycle's renewal
     * was sent and the lease has less left than a best-effort write, the next cycle's read and its renewal may each
     * take (3 x retryTimeout), the write is skipped: it must not cost the renewal (and so needlessly a fence). A fast
     * store never skips, however tight the settings.
     */
    boolean renewalDue(HaInput in) {
        long rt = in.settings().retryTimeout().toNanos();
        return lease.holds() && clock.nanoTime() - lastRenewalSentAt > rt && lease.remainingNanos() < 3 * rt;
    }

    /**
     * A renewal confirmed in the open term was sent less than half the keeper's interval before {@code now}: the
     * cycle's own renewal would repeat it. Not after the term ended (a refusal, a release, a fence): then the cycle
     * asks the store itself.
     */
    private boolean renewedJustNow(HaSettings s, long now) {
        if (lease.renewTerm() < 0) {
            return false;
        }
        long interval = Math.max(LeaseGuard.MIN_RENEW_INTERVAL.toNanos(),
                LeaseGuard.renewInterval(s, dcs.leaseGuarantee()).toNanos());
        long last = lease.lastSentAt();
        return last != Long.MIN_VALUE && now - last < interval / 2;
    }

    private static boolean isBestEffort(Action a) {
        return a instanceof Action.WriteStatus || a instanceof Action.WriteHistory
                || a instanceof Action.WriteFailsafe || a instanceof Action.KeepSlots;
    }

    /** Runs one short step; false when a compare-and-set was lost. */
    private boolean execute(Action a, HaInput in, Progress progress) throws DcsUnavailableException,
            PostgresException {
        if (a instanceof Action.AcquireLeader) {
            // The start-time check may have run before the store knew its guarantee (zero: not granted yet).
            String problem = LeaseGuard.problem(in.settings(), dcs.leaseGuarantee(), dcs.getClass().getSimpleName());
            if (problem != null) {
                throw new IllegalStateException("not taking the leader lock: " + problem);
            }
            watchdog.checkBeforeAcquire(in.settings(), dcs.leaseGuarantee(), dcs.getClass().getSimpleName());
            long sentAt = clock.nanoTime();
            boolean won = dcs.acquireLeader();
            if (won) {
                lease.extend(sentAt, dcs.leaseGuarantee());
                lastRenewalSentAt = sentAt;
                keepaliveOrStepDown();
            }
            return won;
        } else if (a instanceof Action.RenewLeader) {
            long sentAt = clock.nanoTime();
            if (renewedJustNow(in.settings(), sentAt)) {
                // The keeper's renewal, confirmed less than half an interval ago, asked the store the same question
                // (is the key ours under our lease?) and extended the guard from its own send time; another would
                // only double the leader's store traffic, as it did at idle (the keeper fired just before each cycle).
                lastRenewalSentAt = lease.lastSentAt();
                keepaliveOrStepDown();
                return true;
            }
            boolean ok = dcs.renewLeader();
            if (ok) {
                lease.extend(sentAt, dcs.leaseGuarantee());
                lastRenewalSentAt = sentAt;
                keepaliveOrStepDown();
            }
            return ok;
        } else if (a instanceof Action.ReleaseLeader) {
            // The keeper stops first: a renewal of it still in flight must not extend the lease after the release.
            lease.endTerm();
            boolean ok = dcs.releaseLeader();
            lease.clear();
            watchdog.disarmUnlessLeased("the leader lock was released");
            memory.update(NodeMemory::withStartsReset);
            return ok;
        } else if (a instanceof Action.RaceInitialize r) {
            return dcs.initialize(r.value());
        } else if (a instanceof Action.SetInitialize r) {
            return dcs.setInitialize(r.systemId(), r.expectedVersion());
        } else if (a instanceof Action.DeleteInitialize r) {
            return dcs.deleteInitialize(r.expectedVersion());
        } else if (a instanceof Action.WriteConfig r) {
            return dcs.writeConfig(r.config(), r.expectedVersion());
        } else if (a instanceof Action.WriteSync r) {
            return dcs.writeSync(r.state(), r.expectedVersion());
        } else if (a instanceof Action.DeleteSync r) {
            return dcs.deleteSync(r.expectedVersion());
        } else if (a instanceof Action.ClearFailover r) {
            LOG.info("{}clearing the failover request: {}", prefix, r.why());
            return dcs.clearFailover(r.expectedVersion());
        } else if (a instanceof Action.WriteStatus) {
            writeStatus(in);
            return true;
        } else if (a instanceof Action.WriteHistory) {
            recordHistory(in, progress);
            return true;
        } else if (a instanceof Action.KeepSlots r) {
            slots.keep(in, r.asLeader());
            return true;
        } else if (a instanceof Action.AnnounceTimeline r) {
            TimelineHistory h = announceTimeline(in.pg(), progress.history, r.timeline());
            if (h == null) {
                return false;
            }
            progress.history = h;
            progress.historyWritten = true;
            return true;
        } else if (a instanceof Action.WriteFailsafe r) {
            dcs.writeFailsafe(r.members());
            return true;
        } else if (a instanceof Action.KeepLeadingInFailsafe) {
            lease.extend(in.failsafe().sentAtNanos(), in.settings().ttl());
            keepaliveOrStepDown();
            return true;
        } else if (a instanceof Action.Stop r) {
            postgres.stop(r.mode());
            return true;
        } else if (a instanceof Action.Fence) {
            lease.clear();
            postgres.fence();
            events.fenced("another member leads or the lock was lost");
            return true;
        } else if (a instanceof Action.Promote r) {
            promote(r, in.pg().timeline());
            return true;
        } else if (a instanceof Action.Drain r) {
            NodeMemory.Draining d = r.request() < 0 ? null : new NodeMemory.Draining(clock.nanoTime(), r.request());
            memory.update(m -> m.withDraining(d));
            return true;
        } else if (a instanceof Action.ReleaseSync r) {
            long until = clock.nanoTime() + r.upTo().toNanos();
            memory.update(m -> m.withReleasingSyncUntil(until));
            return true;
        } else if (a instanceof Action.SitOut r) {
            long until = clock.nanoTime() + r.duration().toNanos();
            memory.update(m -> m.withSitOutUntil(until));
            return true;
        } else if (a instanceof Action.Follow r) {
            postgres.follow(r.leader());
            return true;
        } else if (a instanceof Action.SetSyncStandbyNames r) {
            postgres.setSynchronousStandbyNames(r.value());
            Lsn at = postgres.probe().walPosition();
            memory.update(m -> m.withSsn(r.value(), at));
            return true;
        } else if (a instanceof Action.Checkpoint) {
            postgres.checkpoint();
            return true;
        } else if (a instanceof Action.ReloadPostgres r) {
            // The request ends either way: a reload that fails is reported, not retried every cycle.
            String reread = null;
            try {
                reread = memberReload == null ? null : memberReload.reload();
                postgres.reload();
                LOG.info("{}postgres reloaded its configuration (requested by the operator){}", prefix,
                        reread == null ? "" : "; " + reread);
                String done = reread == null ? "reloaded" : "reloaded; " + reread;
                memory.update(m -> m.withRequestDone(r.requestId(), true, done));
                events.reloaded();
            } catch (PostgresException | RuntimeException e) {
                // Re-read member settings stay taken (the tags are in force): the answer says so.
                String failed = "reload failed: " + e.getMessage() + (reread == null ? "" : " (" + reread + ", taken)");
                LOG.warn("{}{}", prefix, failed);
                memory.update(m -> m.withRequestDone(r.requestId(), false, failed));
            }
            return true;
        } else if (a instanceof Action.CancelLongAction r) {
            longActions.cancel(r.running());
            return true;
        } else if (a instanceof Action.EndRequest r) {
            memory.update(m -> m.withRequestDone(r.requestId(), r.ok(), r.message()));
            return true;
        } else if (a instanceof Action.Fatal r) {
            LOG.error("{}{} - the HA loop stops acting until restarted", prefix, r.message());
            memory.update(m -> m.withFatal(r.message()));
            return true;
        }
        throw new IllegalStateException("not a short action: " + a);
    }

    /** Promotes, counting a failure against the attempts a lock holder gets (decided by the caller's rules). */
    private void promote(Action.Promote r, int probedTimeline) throws PostgresException {
        try {
            unfenceUnderLease("promote");
            slots.newTerm();
            postgres.promote(r.minTimeline(), probedTimeline);
        } catch (PostgresException | RuntimeException e) {
            memory.update(m -> m.withFailedStart("promote: " + e.getMessage()));
            throw e;
        }
        memory.update(NodeMemory::withStartsReset);
        LOG.info("{}promoted", prefix);
        events.promoted();
    }

    /**
     * Allows writable starts again, checking the lease in the same step as the unfence (under the fence's lock): a
     * fence by the lease guard in between cannot be undone (rule S1). A required watchdog must be armed too.
     */
    private void unfenceUnderLease(String what) {
        if (!postgres.unfenceIf(() -> lease.holds() && watchdog.readyForWritable())) {
            throw new IllegalStateException("not allowed to " + what + ": " + (!watchdog.readyForWritable()
                    ? "the watchdog is required but not armed (" + (watchdog.failure() != null ? watchdog.failure()
                            : "no keepalive was safe since the lock was taken") + ")"
                    : "the lease has run out"));
        }
    }

    /**
     * The watchdog keepalive after a confirmed renewal. A required watchdog that failed means a leader the device
     * could not reset: it stops being writable and gives the lock up (the member then stays out of elections).
     */
    private void keepaliveOrStepDown() {
        if (!keepaliveOrStepDownQuietly()) {
            throw new IllegalStateException("gave up the leader lock: the watchdog is required but "
                    + watchdog.failure());
        }
    }

    /** {@link #keepaliveOrStepDown} for the {@link LeaseKeeper}'s thread: false when the member stepped down. */
    boolean keepaliveOrStepDownQuietly() {
        if (watchdog.keepaliveIfSafe()) {
            return true;
        }
        lease.clear();
        postgres.fence();
        events.fenced("the required watchdog failed");
        memory.update(NodeMemory::withStartsReset);
        try {
            dcs.releaseLeader();
        } catch (DcsUnavailableException e) {
            LOG.warn("{}could not release the leader lock ({}); it expires with the lease", prefix, e.getMessage());
        }
        return false;
    }

    /**
     * The leader's WAL position in {@code status}, the reference for replicas' lag; written only when it moved, and
     * only over the version this cycle read, so that a deposed leader's late write cannot replace its successor's.
     */
    private void writeStatus(HaInput in) throws DcsUnavailableException {
        // The cycle's own probe: probing again here could hold the loop (and the next renewal) up on a slow host.
        Lsn pos = in.pg().walPosition();
        ClusterStatus old = in.view() == null ? ClusterStatus.ABSENT : in.view().status();
        // Slot positions and retained member slots as this term's last slot run found them (Patroni 4's status).
        SlotKeeper.Published p = in.settings().useSlots() ? slots.published() : new SlotKeeper.Published(Map.of(),
                List.of());
        Map<String, Lsn> slotPositions = p == null ? old.slots() : p.slots();
        List<String> retain = p == null ? old.retainSlots() : p.retain();
        if (pos != null && (!pos.equals(old.optime()) || !slotPositions.equals(old.slots())
                || !retain.equals(old.retainSlots()))
                && !dcs.writeStatus(new ClusterStatus(pos, slotPositions, retain, old.version()), old.version())) {
            LOG.warn("{}status not written: the key changed since this cycle read it (another member wrote it);"
                    + " writing again next cycle", prefix);
        }
    }

    /**
     * The leader merges its own lineage (PostgreSQL's history file: the real switch points) into the key, over the
     * version this cycle read. Right after this decision's own announcement that version is unknown, so the next
     * cycle does it (the announcement already holds every number, which is what rule S4 needs).
     */
    private void recordHistory(HaInput in, Progress progress) throws DcsUnavailableException, PostgresException {
        if (progress.historyWritten) {
            return;
        }
        TimelineHistory key = progress.history;
        TimelineHistory h = TimelineHistories.merge(key, postgres.timelineHistory(), member,
                TimelineHistory.timestamp(clock.wallTime()));
        if (!h.entries().equals(key.entries()) && !dcs.writeHistory(h, key.version())) {
            LOG.warn("{}history not written: the key changed since this cycle read it; merging again next cycle",
                    prefix);
            return;
        }
        int timeline = in.pg().timeline();
        memory.update(m -> m.withHistoryRecordedFor(timeline));
    }

    /**
     * Announces {@code timeline} before promoting onto it: one entry for each number up to it that the key lacks,
     * added to what the key holds (which is never dropped), so every later promotion picks a higher number. Null
     * when the key changed since this cycle read it: then nobody promotes on this read.
     */
    private TimelineHistory announceTimeline(PgState now, TimelineHistory key, int timeline)
            throws DcsUnavailableException, PostgresException {
        Lsn at = now.walPosition() != null ? now.walPosition() : Lsn.ZERO;
        TimelineHistory known = TimelineHistories.merge(key, postgres.timelineHistory(now.timeline()), null, null);
        TimelineHistory h = TimelineHistories.announce(known, now.timeline(), timeline, at,
                "pgha: " + member + " promoting onto timeline " + timeline, TimelineHistory.timestamp(clock.wallTime()), member);
        return dcs.writeHistory(h, key.version()) ? h : null;
    }

    /** True while a long action's thread runs. */
    boolean longActionRunning() {
        return longActions.running();
    }
}
