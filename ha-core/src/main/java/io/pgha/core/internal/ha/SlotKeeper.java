package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.ReplicationSlot;
import io.pgha.core.cluster.SlotConfig;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.time.HaClock;
import io.pgha.core.time.Wakeup;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries out {@link SlotPlanner}'s plan against PostgreSQL: one query for the slots there are, then a create or
 * drop for each difference. A run goes to a thread of its own, so the cycle never waits for it: a slow or hung slot
 * call cannot hold up the HA loop (nor, through it, the lease keeper, which renews only while the loop shows
 * progress). A cycle whose previous run has not ended starts none. Every failure is logged once and swallowed, and
 * the steps of one run stop once they have taken longer than retryTimeout; the rest waits for the next cycle.
 *
 * <p>It keeps what the plan needs across cycles: the retention clock of member slots while this member leads, and on
 * a replica the postmaster start it last cleaned up for (a replica's slots can only come from an earlier life as a
 * primary, so it looks once per start, not every cycle).
 */
final class SlotKeeper {

    private static final Logger LOG = LoggerFactory.getLogger(SlotKeeper.class);

    /** What the leader publishes in {@code status}: slot positions and the member slots it retains. */
    record Published(Map<String, Lsn> slots, List<String> retain) {
        Published {
            slots = Map.copyOf(slots);
            retain = List.copyOf(retain);
        }
    }

    private final Postgres postgres;
    private final HaClock clock;
    private final String prefix;
    private final String threadName;
    private final AtomicBoolean running = new AtomicBoolean();
    private final Wakeup requested;
    /** The run handed over and not yet taken; guarded by this. */
    private Run next;
    /** Set by the HA loop's thread when it starts the worker, cleared by the worker when it ends (for any reason). */
    private volatile boolean workerStarted;
    private volatile boolean closed;
    /** Set by {@link #newTerm} (the loop thread), taken by the next run. */
    private final AtomicBoolean termEnded = new AtomicBoolean();

    // Touched only by the run in progress (one at a time).
    private boolean leading;
    private Map<String, Long> lastSeen = Map.of();
    private Instant cleanedFor;
    private volatile Published published;
    private List<String> lastProblems = List.of();
    private List<String> lastSlotProblems = List.of();
    private String lastFailure;

    SlotKeeper(Postgres postgres, HaClock clock, String member, String prefix) {
        this.postgres = postgres;
        this.clock = clock;
        this.prefix = prefix;
        this.threadName = "pgha-slots-" + member;
        this.requested = clock.newWakeup();
    }

    /** What the leader's last run found, for the {@code status} key; null when it has not run in this term. */
    Published published() {
        return published;
    }

    /** A new term (a promotion) starts from nothing: what an earlier term published is no longer true. */
    void newTerm() {
        termEnded.set(true);
        published = null;
    }

    /**
     * Hands one run to the keeper's thread (started by the first run, kept after: a thread per cycle was churn)
     * unless a run is still going; never throws, never waits.
     */
    void keep(HaInput in, boolean asLeader) {
        if (closed) {
            return;
        }
        if (!running.compareAndSet(false, true)) {
            LOG.debug("{}replication slots: the previous run has not ended; none this cycle", prefix);
            return;
        }
        synchronized (this) {
            next = new Run(in, asLeader);
        }
        try {
            if (!workerStarted) {
                clock.startThread(threadName, this::work);
                workerStarted = true;
            }
            requested.signal();
        } catch (RuntimeException e) {
            synchronized (this) {
                next = null;
            }
            running.set(false);
            LOG.warn("{}replication slots not kept this cycle: {}", prefix, e.toString());
        }
    }

    /** Ends the keeper's thread after its current run (the member's HA loop closes). */
    void close() {
        closed = true;
        requested.signal();
    }

    private void work() {
        try {
            workLoop();
        } finally {
            workerStarted = false;
        }
    }

    private void workLoop() {
        while (!closed) {
            Run r;
            synchronized (this) {
                r = next;
                next = null;
            }
            if (r == null) {
                try {
                    requested.awaitUntil(clock.nanoTime() + Duration.ofHours(1).toNanos());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                continue;
            }
            try {
                runOnce(r.in(), r.asLeader());
            } finally {
                running.set(false);
            }
        }
    }

    private record Run(HaInput in, boolean asLeader) {}

    /** One run on the calling thread; never throws. */
    void runOnce(HaInput in, boolean asLeader) {
        if (termEnded.getAndSet(false)) {
            leading = false;
        }
        try {
            run(in, asLeader);
            if (lastFailure != null) {
                LOG.info("{}replication slots kept again", prefix);
                lastFailure = null;
            }
        } catch (PostgresException | RuntimeException e) {
            String why = Objects.toString(e.getMessage(), e.toString());
            // Once per distinct failure: a leader whose slot query fails every cycle should not flood the log.
            if (!why.equals(lastFailure)) {
                LOG.warn("{}replication slots not kept this cycle (the HA loop goes on): {}", prefix, why);
            } else {
                LOG.debug("{}replication slots still not kept: {}", prefix, why);
            }
            lastFailure = why;
        }
    }

    /** One create or drop. */
    private interface SlotStep {
        void apply(String slot) throws PostgresException;
    }

    /**
     * Applies {@code step} to each slot until the run's time is up; a slot that fails is logged and the rest go on.
     * Returns false when time ran out.
     */
    private boolean each(List<String> slots, long budget, String verb, SlotStep step,
            java.util.function.Function<String, String> why) {
        for (String name : slots) {
            if (clock.nanoTime() > budget) {
                LOG.warn("{}replication slots: out of time this cycle, the rest waits for the next", prefix);
                return false;
            }
            try {
                step.apply(name);
                LOG.info("{}{} replication slot {} ({})", prefix, verb.equals("create") ? "created" : "dropped", name,
                        why.apply(name));
            } catch (PostgresException e) {
                LOG.warn("{}could not {} replication slot {}: {}", prefix, verb, name, e.getMessage());
            }
        }
        return true;
    }

    private void run(HaInput in, boolean asLeader) throws PostgresException {
        ClusterView v = in.view();
        SlotConfig config = SlotConfig.of(v.config());
        if (!config.problems().equals(lastProblems)) {
            config.problems().forEach(p -> LOG.warn("{}config: {}", prefix, p));
            lastProblems = config.problems();
        }
        long now = clock.nanoTime();
        SlotPlanner.Wanted wanted;
        Instant started = in.pg().server().postmasterStartTime();
        if (asLeader) {
            boolean newTerm = !leading;
            wanted = SlotPlanner.wanted(in.me(), v.members().keySet(), config, v.status().retainSlots(), lastSeen,
                    newTerm, now, in.settings().memberSlotsTtl());
            leading = true;
            lastSeen = wanted.lastSeen();
        } else {
            leading = false;
            lastSeen = Map.of();
            published = null;
            if (started != null && started.equals(cleanedFor)) {
                return;
            }
            wanted = SlotPlanner.Wanted.NONE;
        }
        List<ReplicationSlot> actual = postgres.replicationSlots();
        SlotPlanner.Changes c = SlotPlanner.changes(wanted, actual, config, v.config().pause());
        if (!c.problems().equals(lastSlotProblems)) {
            c.problems().forEach(p -> LOG.warn("{}{}", prefix, p));
            lastSlotProblems = c.problems();
        }
        SlotPlanner.Wanted w = wanted;
        long budget = now + in.settings().retryTimeout().toNanos();
        boolean inTime = each(c.create(), budget, "create", postgres::createPhysicalSlot,
                name -> w.permanent().contains(name) ? "permanent" : "for member " + name);
        if (inTime) {
            each(c.drop(), budget, "drop", postgres::dropSlot, name -> asLeader
                    ? "no member, permanent slot or retention wants it" : "a replica keeps no slots");
        }
        if (asLeader) {
            List<String> retain = wanted.memberSlots().stream().filter(s -> !wanted.permanent().contains(s)).toList();
            published = new Published(c.positions(), retain);
        } else {
            cleanedFor = started;
        }
    }
}
