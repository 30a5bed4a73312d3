package io.pgha.core.internal.ha;

import io.pgha.core.cluster.LongAction;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.StopMode;
import io.pgha.core.time.HaClock;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The long steps of a decision (bootstrap, clone, start, restart, rewind, reinitialize): each runs on an action thread
 * of its own, one at a time, marks the member busy in {@link NodeMemory} while it runs and records how it ended (and
 * the operator's answer, for a requested one) when it ends. A forced reinitialize may cut one short
 * ({@link #cancel}, docs/decisions/0109). Split from {@link ActionRunner}, which hands these steps over.
 */
final class LongActions {

    /** Under ActionRunner's logger, as before the split: operators' log filters keep matching. */
    private static final Logger LOG = LoggerFactory.getLogger(ActionRunner.class);

    private final String member;
    private final Postgres postgres;
    private final HaClock clock;
    private final MemoryCell memory;
    private final ActionRunner.Events events;
    private final String prefix;
    /** Allows writable starts again under the lease, or throws why not (ActionRunner's check, rule S1). */
    private final Consumer<String> unfenceUnderLease;
    private final AtomicBoolean longRunning = new AtomicBoolean();
    /** The thread of the long action in flight (set and read on the loop's thread only), or null. */
    private Thread longThread;
    /** The long action in flight was told to stop: its failure is then a cancellation, not a crash. */
    private volatile boolean cancelRequested;
    /** A cancel of the long action in flight was tried (loop's thread only): it is tried once. */
    private boolean cancelTried;

    LongActions(String member, Postgres postgres, HaClock clock, MemoryCell memory, ActionRunner.Events events,
            String prefix, Consumer<String> unfenceUnderLease) {
        this.member = member;
        this.postgres = postgres;
        this.clock = clock;
        this.memory = memory;
        this.events = events;
        this.prefix = prefix;
        this.unfenceUnderLease = unfenceUnderLease;
    }

    /** True while a long action's thread runs. */
    boolean running() {
        return longRunning.get();
    }

    /** Starts {@code a} on the action thread; the loop's thread only, with no long action running. */
    void start(Action a) {
        LongAction kind = a.longAction();
        long request = requestOf(a);
        memory.update(m -> request < 0 ? m.withBusy(kind) : m.withBusy(kind).withRequestTaken(request));
        cancelRequested = false;
        cancelTried = false;
        longRunning.set(true);
        longThread = clock.startThread("pgha-action-" + member, () -> {
            NodeMemory.LongActionResult result;
            Answer answer;
            try {
                answer = runLong(a);
                result = new NodeMemory.LongActionResult(kind, true, "");
            } catch (PostgresException | RuntimeException e) {
                boolean cancelled = cancelRequested;
                if (cancelled) {
                    LOG.info("{}{} cancelled for the operator's forced reinitialize ({})", prefix, kind,
                            e.getMessage());
                } else {
                    LOG.error("{}{} failed: {}", prefix, kind, e.getMessage());
                }
                result = new NodeMemory.LongActionResult(kind, false, cancelled ? CANCELLED : e.getMessage());
                answer = cancelled ? new Answer(false, kind + " " + CANCELLED) : null;
            }
            NodeMemory.LongActionResult r = result;
            Answer said = answer != null ? answer
                    : new Answer(false, kind == LongAction.RESTART ? "restart failed"
                            : kind + " failed: " + r.detail());
            memory.update(m -> {
                NodeMemory n = m.withBusy(null).withLastLongAction(r);
                return request < 0 ? n : n.withRequestDone(request, said.ok(), said.message());
            });
            longRunning.set(false);
            events.longActionEnded();
        });
    }

    /** What a cancelled long action's result and answer say. */
    static final String CANCELLED = "cancelled by a forced reinitialize";

    /**
     * Cuts the long action in flight short (the decision checked that it may be): its PostgreSQL operation is told
     * to stop and its child process killed; the action's thread then ends as for a failure, marked cancelled, and
     * releases the busy mark itself. Repeated while the thread winds down, it does nothing more.
     */
    void cancel(LongAction running) {
        Thread t = longThread;
        if (!longRunning.get() || t == null || cancelTried || memory.get().busy() != running) {
            return;
        }
        cancelTried = true;
        // Set first: the thread may fail as soon as its process is killed, before cancel returns.
        cancelRequested = true;
        LOG.warn("{}cancelling the {} in progress: the operator forced a reinitialize", prefix, running);
        if (!postgres.cancel(t)) {
            cancelRequested = false;
            LOG.warn("{}{} cannot cut the {} short: the reinitialize follows it", prefix,
                    postgres.getClass().getSimpleName(), running);
        }
    }

    /** The operator's request a long action carries out, or -1. */
    private static long requestOf(Action a) {
        return a instanceof Action.Restart r ? r.requestId() : a instanceof Action.Reinitialize r ? r.requestId() : -1;
    }

    /** What an operator's request is answered when its long action did not fail. */
    private record Answer(boolean ok, String message) {}

    /** Runs a long action; the answer for the operator's request it carries out (if any). */
    private Answer runLong(Action a) throws PostgresException {
        if (a instanceof Action.Restart r) {
            return restart(r);
        }
        if (a instanceof Action.Reinitialize r) {
            postgres.reinitialize(r.source());
            memory.update(m -> m.withRewindFailed(false));
            postgres.startReplica(r.leader());
            return new Answer(true, "reinitialized from " + r.source().member());
        }
        runUnrequested(a);
        return new Answer(true, "done");
    }

    /**
     * Stop and start in the same role. A primary keeps its lock: the loop renews it while this runs, and the start is
     * a writable start under the lease like any other (rule S1). The time it may take is the primary start timeout,
     * counted from the stop, after which the loop fails over as for a crashed primary.
     */
    private Answer restart(Action.Restart r) throws PostgresException {
        if (r.belowVersion() > 0) {
            int running = postgres.serverVersion();
            if (running >= r.belowVersion()) {
                LOG.info("{}not restarting: the server runs version {}, not lower than {}", prefix, running,
                        r.belowVersion());
                return new Answer(false, "restart conditions are not satisfied");
            }
        }
        LOG.info("{}restarting postgres as {} (requested by the operator)", prefix, r.primary() ? "primary"
                : "replica");
        events.restartBegan();
        boolean ok = false;
        try {
            restartInRole(r);
            ok = true;
        } finally {
            events.restartEnded(ok);
        }
        return new Answer(true, "restarted successfully");
    }

    private void restartInRole(Action.Restart r) throws PostgresException {
        if (r.primary()) {
            long now = clock.nanoTime();
            memory.update(m -> m.withPrimaryDownSince(now).withRestartStartTimeout(r.startTimeout()));
        }
        postgres.stop(StopMode.FAST);
        if (r.primary()) {
            try {
                unfenceUnderLease.accept("restart as primary");
                postgres.startPrimary();
            } catch (PostgresException | RuntimeException e) {
                memory.update(m -> m.withFailedStart("restart as primary: " + e.getMessage()));
                throw e;
            }
        } else {
            postgres.startReplica(r.upstream());
        }
    }

    private void runUnrequested(Action a) throws PostgresException {
        if (a instanceof Action.Bootstrap) {
            postgres.bootstrap();
            String sysid = postgres.probe().systemId();
            if (sysid == null) {
                throw new PostgresException("bootstrap finished but the system identifier cannot be read");
            }
            memory.update(m -> m.withBootstrappedSystemId(sysid));
        } else if (a instanceof Action.CreateReplica r) {
            postgres.createReplica(r.source());
            postgres.startReplica(r.leader());
        } else if (a instanceof Action.StartPrimary) {
            try {
                unfenceUnderLease.accept("start as primary");
                postgres.startPrimary();
                memory.update(m -> m.withFencedWhilePaused(false));
            } catch (PostgresException | RuntimeException e) {
                memory.update(m -> m.withFailedStart("start as primary: " + e.getMessage()));
                throw e;
            }
        } else if (a instanceof Action.StartReplica r) {
            postgres.startReplica(r.upstream());
        } else if (a instanceof Action.RewindAndFollow r) {
            try {
                postgres.rewind(r.source());
            } catch (PostgresException e) {
                memory.update(m -> m.withRewindFailed(true));
                throw e;
            }
            postgres.startReplica(r.source());
        } else if (a instanceof Action.RecloneAndFollow r) {
            postgres.reclone(r.source());
            memory.update(m -> m.withRewindFailed(false));
            postgres.startReplica(r.leader());
        } else {
            throw new IllegalStateException("not a long action: " + a);
        }
    }
}
