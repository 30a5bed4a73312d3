package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.ReloadableSettings;
import io.pgha.core.config.RestEndpoint;
import io.pgha.core.config.WatchdogMode;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.StopMode;
import io.pgha.core.time.HaClock;
import io.pgha.core.time.Wakeup;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HA loop of one member: <b>gather</b> ({@link Gatherer}) → <b>decide</b> ({@link HaDecider}, pure) →
 * <b>act</b> ({@link ActionRunner}), then publish one {@link NodeStatus} ({@link StatusPublisher}). This class only
 * schedules: it owns the loop thread and decides when the next cycle runs.
 *
 * <p>Three kinds of threads, all made by the {@link HaClock} (so the simulation can schedule them):
 * <ul>
 *   <li>the <em>loop</em> thread runs a cycle every {@code loopWait}, earlier when the leader key changes (for a
 *       member that does not lead) or when {@link #wakeup()} is called;</li>
 *   <li>the <em>lease keeper</em> ({@link LeaseKeeper}) renews the leader lease between cycles on a short schedule
 *       of its own, so a slow probe or peer call in a cycle does not delay the renewal (decision 0016);</li>
 *   <li>the <em>lease guard</em> ({@link LeaseGuard}) fences PostgreSQL when the lease deadline passes without a
 *       confirmed renewal, even while the loop thread hangs in a DCS call (rule S1);</li>
 *   <li>an <em>action</em> thread runs long steps (bootstrap, clone, start, rewind) while cycles go on.</li>
 * </ul>
 *
 * <p>With a watchdog ({@link LeaseWatchdog}) the leader also keeps a device alive after each confirmed renewal, for
 * what no thread of this JVM can cover: a pause of the whole JVM, or an agent that died while PostgreSQL outlives it.
 *
 * <p>Nothing is decided on a view of the cluster before this member's key is registered under its own lease
 * ({@link NameClaim}): a member name that another live process holds stops the loop (docs/decisions 0011).
 */
public final class HaLoop implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(HaLoop.class);

    private final HaSettings localSettings;
    private final Dcs dcs;
    private final Postgres postgres;
    private final HaClock clock;
    private final HaObserver observer;
    private final String prefix;
    private final MemoryCell memory = new MemoryCell();
    private final OperatorRequestQueue operations;
    private final LeaseGuard lease;
    private final ProbeWorker probes;
    private final LeaseWatchdog watchdog;
    private final Gatherer gatherer;
    private final ActionRunner runner;
    private final NameClaim claim;
    private final LeaseKeeper keeper;
    private final long createdAt;

    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean loopRunning = new AtomicBoolean();
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean wakeRequested = new AtomicBoolean();
    private final AtomicBoolean leaderChanged = new AtomicBoolean();
    private final Wakeup loopWakeup;
    private final MemberSettingsReload memberReload;
    private final StatusPublisher statuses;

    /** When the loop last showed progress (a cycle began or ended): the keeper renews only while it does. */
    private volatile long loopProgressAt;

    /** A loop without a watchdog ({@link WatchdogMode#OFF}). */
    public HaLoop(HaSettings settings, Dcs dcs, Postgres postgres, PeerClient peers, HaClock clock,
            MemberEndpoints endpoints, HaObserver observer) {
        this(settings, dcs, postgres, peers, clock, endpoints, observer, Watchdog.OFF, WatchdogMode.OFF);
    }

    /**
     * @param watchdog     the device the leader keeps alive ({@link Watchdog#OFF} with mode off); the HA loop decides
     *                     when to arm and disarm it (decision 0010)
     * @param watchdogMode {@code AUTOMATIC}: dropped with a warning when it breaks a timing rule or fails;
     *                     {@code REQUIRED}: the start fails, or the member stops leading, instead
     */
    public HaLoop(HaSettings settings, Dcs dcs, Postgres postgres, PeerClient peers, HaClock clock,
            MemberEndpoints endpoints, HaObserver observer, Watchdog watchdog, WatchdogMode watchdogMode) {
        this.localSettings = Objects.requireNonNull(settings, "settings");
        this.dcs = Objects.requireNonNull(dcs, "dcs");
        this.postgres = Objects.requireNonNull(postgres, "postgres");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.observer = Objects.requireNonNullElse(observer, HaObserver.NONE);
        this.prefix = settings.scope() + "/" + settings.name() + " - ";
        this.operations = new OperatorRequestQueue(memory, this::wakeup, prefix);
        this.loopWakeup = clock.newWakeup();
        this.createdAt = clock.nanoTime();
        this.lease = new LeaseGuard(clock, postgres, this::onLeaseRanOut, prefix);
        this.probes = new ProbeWorker(postgres, clock);
        this.watchdog = new LeaseWatchdog(watchdog, watchdogMode, clock, lease, prefix);
        this.gatherer = new Gatherer(settings, dcs, postgres, Objects.requireNonNull(peers, "peers"), clock,
                Objects.requireNonNull(endpoints, "endpoints"), memory, lease, probes, this.watchdog,
                () -> observer().reloaded(), prefix);
        this.runner = new ActionRunner(settings.name(), dcs, postgres, clock, lease, this.watchdog, memory,
                new ActionRunner.Events() {
                    @Override
                    public void promoted() {
                        observer().promoted();
                        statuses.publishRole(Role.PRIMARY);
                    }

                    @Override
                    public void fenced(String why) {
                        onFenced(why);
                    }

                    @Override
                    public void longActionEnded() {
                        wakeup();
                    }

                    @Override
                    public void restartBegan() {
                        observer().restartBegan();
                    }

                    @Override
                    public void restartEnded(boolean ok) {
                        if (ok) {
                            // A cycle that ran while the server was down published it stopped: the restart's end
                            // (what on_restart is given) and the role listeners get the role it runs as now.
                            statuses.publish(statuses.liveStatus());
                        }
                        observer().restartEnded(ok);
                    }

                    @Override
                    public void reloaded() {
                        observer().reloaded();
                    }
                }, prefix);
        this.memberReload = new MemberSettingsReload(postgres, gatherer::useLocalTags,
                ReloadableSettings.of(settings, null), prefix);
        runner.useMemberReload(memberReload);
        this.claim = new NameClaim(dcs, clock);
        this.loopProgressAt = createdAt;
        this.keeper = new LeaseKeeper(dcs, clock, lease, gatherer::effectiveSettings, () -> loopProgressAt,
                runner::keepaliveOrStepDownQuietly, this::wakeup, prefix);
        lease.onRenewable(keeper::wake);
        this.statuses = new StatusPublisher(gatherer, memory, lease, postgres, clock, this.observer, createdAt);
    }

    private HaObserver observer() {
        return observer;
    }

    // ------------------------------------------------------------------------------------------------ lifecycle

    /**
     * Why {@code settings} cannot run on a store that guarantees {@code guarantee} after a renewal ({@code store}
     * says whose and how), or null when they fit or the guarantee is not known yet (zero): rule S1 against the
     * store's real guarantee (docs/decisions 0003).
     */
    public static String timingProblem(HaSettings settings, Duration guarantee, String store) {
        return LeaseGuard.problem(settings, guarantee, store);
    }

    /** Starts the loop and lease-guard threads. A second call is an error. */
    public void start() {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("HaLoop for " + prefix + "already started");
        }
        String problem = LeaseGuard.problem(localSettings, dcs.leaseGuarantee(), dcs.getClass().getSimpleName());
        if (problem != null) {
            throw new IllegalStateException(problem);
        }
        watchdog.checkAtStart(localSettings, dcs.leaseGuarantee(), dcs.getClass().getSimpleName());
        dcs.watchLeader(() -> {
            leaderChanged.set(true);
            loopWakeup.signal();
        });
        loopRunning.set(true);
        loopProgressAt = clock.nanoTime();
        clock.startThread("pgha-loop-" + localSettings.name(), () -> {
            try {
                runLoop();
            } finally {
                loopRunning.set(false);
            }
        });
        lease.start("pgha-lease-guard-" + localSettings.name());
        keeper.start("pgha-lease-keeper-" + localSettings.name());
        probes.start("pgha-probe-" + localSettings.name());
    }

    /**
     * Where the operator's reload re-reads this member's own settings (the agent's YAML file), and what they are
     * now: set before {@link #start()}. Without it a reload only makes PostgreSQL re-read its files.
     */
    public void reloadSettingsFrom(Supplier<ReloadableSettings> source, ReloadableSettings current) {
        memberReload.source(source, current);
    }

    /**
     * Also re-read on the operator's reload: {@code step} reads something again (the REST API's certificates) and
     * says what, or returns null; an {@link IllegalArgumentException} keeps the current ones, with a warning.
     */
    public void alsoRereadOnReload(Supplier<String> step) {
        memberReload.alsoReread(step);
    }

    /**
     * What the operator's reload does with re-read REST settings ({@link ReloadableSettings#rest()}): {@code apply}
     * takes them and says what changed, or returns null; it reports its own failures in what it returns. Set before
     * {@link #start()}; without it re-read REST settings are ignored.
     */
    public void reloadRestWith(Function<RestEndpoint, String> apply) {
        memberReload.restReload(apply);
    }

    /** The api_url this member publishes from its next member-key write on (its REST API moved). */
    public void useApiUrl(String apiUrl) {
        gatherer.useApiUrl(apiUrl);
    }

    /** Runs a cycle now instead of waiting for the next one (after a REST request, say). */
    public void wakeup() {
        wakeRequested.set(true);
        loopWakeup.signal();
    }

    /**
     * Stops the threads after their current step. Leaves PostgreSQL, the DCS session and an armed watchdog as they
     * are: like an agent that died, so a primary left running is still reset by the device.
     */
    @Override
    public void close() {
        stopLoop();
        keeper.close();
        lease.close();
    }

    /** The loop (and the probe thread) stop after their current step; the lease guard keeps watching. */
    private void stopLoop() {
        if (closed.compareAndSet(false, true)) {
            loopWakeup.signal();
            probes.close();
            runner.close();
        }
    }

    /**
     * The orderly end of this member's part in the cluster, in the only safe order (rule S1): no cycle or long
     * action may start anything writable any more (the lease is given up locally at once, so a promotion or primary
     * start in flight fails its lease check); the loop and action threads are waited for (up to {@code wait});
     * PostgreSQL is stopped (fast: replicas get the shutdown checkpoint) and fenced, so that a start racing this
     * close cannot bring it back; and only then is the leader key released and the member key deleted.
     *
     * <p>{@code leaveReplicaRunning}: a replica that is running, with no action in flight, is left running. A
     * primary is always stopped: without its lease another member will be promoted.
     */
    public void shutdown(boolean leaveReplicaRunning, Duration wait) {
        lease.relinquish();
        stopLoop();
        boolean quiet = awaitQuiet(wait);
        PgState pg = postgres.probe();
        if (!leaveReplicaRunning || !quiet || !pg.isRunningReplica()) {
            try {
                postgres.stop(StopMode.FAST);
            } catch (PostgresException | RuntimeException e) {
                LOG.warn("{}stopping PostgreSQL on shutdown failed ({}); fencing it", prefix, e.getMessage());
            }
            postgres.fence();
        }
        // Nothing writable is left (stopped and fenced, or a replica): the device may stop counting.
        watchdog.close();
        lease.clear();
        close();
        try {
            // Only now, with PostgreSQL stopped, may another member take over: release, then leave.
            dcs.releaseLeader();
            dcs.deleteMember();
        } catch (DcsUnavailableException | RuntimeException e) {
            LOG.info("{}could not clean up the DCS keys on shutdown ({}); they expire with the session", prefix,
                    e.getMessage());
        }
    }

    /** Waits until the loop and any long action have ended (polling on the clock, so it works simulated too). */
    private boolean awaitQuiet(Duration wait) {
        long deadline = clock.nanoTime() + wait.toNanos();
        while (loopRunning.get() || runner.longActionRunning()) {
            if (clock.nanoTime() >= deadline) {
                LOG.warn("{}shutdown: the {} still runs after {}", prefix, loopRunning.get() ? "HA loop" : "long action",
                        io.pgha.core.config.Durations.format(wait));
                return false;
            }
            try {
                clock.sleep(Duration.ofMillis(20).toNanos());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    public boolean isClosed() {
        return closed.get();
    }

    /**
     * A member told us over REST that it still runs as primary (failsafe mode). Counted only when it is the member we
     * last saw holding the lock; then we do not race while it keeps telling us.
     */
    public FailsafePingVerdict onFailsafePing(String sender) {
        long now = clock.nanoTime();
        String me = gatherer.effectiveSettings().name();
        AtomicReference<String> refusal = new AtomicReference<>();
        memory.update(m -> {
            String why = m.failsafePingRefusal(sender, me);
            refusal.set(why);
            return why == null ? m.withFailsafePing(sender, now) : m;
        });
        if (refusal.get() == null) {
            return FailsafePingVerdict.ACCEPTED;
        }
        LOG.warn("{}failsafe ping from {} refused: {}", prefix, sender, refusal.get());
        return FailsafePingVerdict.refused(refusal.get());
    }

    // ------------------------------------------------------------------------------------------- operator requests

    /** Where the operator's restart, reinitialize and reload requests for this member wait for the loop. */
    public MemberOperations operations() {
        return operations;
    }

    // ------------------------------------------------------------------------------------------------ status

    /** The status published after the last cycle (or event: a promotion, a fence). */
    public NodeStatus status() {
        return statuses.status();
    }

    /**
     * The published status brought up to this instant: PostgreSQL probed now, the lease and failsafe state as they
     * are now. What a health check must answer from (the lease, not the last cycle, decides who is primary).
     */
    public NodeStatus liveStatus() {
        return statuses.liveStatus();
    }

    /** Time left on this member's lease now; null while it holds none (metrics, docs/decisions 0508). */
    public Duration leaseRemaining() {
        return lease.holds() ? Duration.ofNanos(Math.max(0, lease.remainingNanos())) : null;
    }

    /** Local settings with the DCS config applied (as of the last cycle). */
    public HaSettings effectiveSettings() {
        return gatherer.effectiveSettings();
    }

    /** True while this member holds a lease that has not run out. */
    boolean holdsLease() {
        return lease.holds();
    }

    CycleReport lastReport() {
        return statuses.lastReport();
    }

    /**
     * The guard fenced because the lease ran out. In a paused cluster (a DCS outage during store maintenance, say)
     * nobody is promoted automatically, so this member may restart as primary once the store is back and the lock
     * is still free (see {@code HaDecider}).
     */
    private void onLeaseRanOut(String why) {
        ClusterView last = gatherer.lastView();
        if (last != null && last.config().pause()) {
            memory.update(m -> m.withFencedWhilePaused(true));
        }
        onFenced(why);
    }

    /** Both the lease guard's fence and the Fence step end here, with PostgreSQL stopped. */
    private void onFenced(String why) {
        watchdog.disarmUnlessLeased("postgres was fenced: " + why);
        observer.fenced(why);
        statuses.publishRole(Role.STOPPED);
    }

    // ------------------------------------------------------------------------------------------------ the loop

    private void runLoop() {
        while (!closed.get()) {
            long start = clock.nanoTime();
            Duration next = gatherer.effectiveSettings().loopWait();
            try {
                CycleReport r = runCycle();
                if (r.decision().nextCycle() != null) {
                    next = r.decision().nextCycle();
                }
            } catch (RuntimeException e) {
                LOG.error("{}HA cycle failed", prefix, e);
                observer.cycleFailed(e);
            }
            observer.cycleTimed(Duration.ofNanos(clock.nanoTime() - start));
            // The lease does not set the pace: the keeper renews it between cycles (decision 0016).
            long deadline = start + next.toNanos();
            try {
                while (!closed.get()) {
                    loopWakeup.awaitUntil(deadline);
                    if (closed.get() || clock.nanoTime() >= deadline || wakeRequested.getAndSet(false)) {
                        break;
                    }
                    // The leader renews its own key each cycle: that change must not make it spin.
                    if (leaderChanged.getAndSet(false) && !lease.holds()) {
                        break;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Runs one HA cycle on the calling thread (the loop thread; tests may call it directly). */
    public CycleReport runCycle() {
        loopProgressAt = clock.nanoTime();
        CycleReport report = null;
        for (int attempt = 0; attempt < 2; attempt++) {
            Gatherer.Gathered g = gatherer.gather();
            if (g.input().view() != null && !g.input().view().config().pause()) {
                memory.update(m -> m.withFencedWhilePaused(false));
            }
            if (g.input().view() == null) {
                claim.storeUnreachable();
            } else if (!claim.registered()) {
                CycleReport held = register(g);
                if (held != null) {
                    return held;
                }
            }
            Decision d = HaDecider.decide(g.input());
            LOG.info("{}{}", prefix, d.reason());
            ActionRunner.Outcome o = runner.act(d, g.input());
            report = new CycleReport(g.input().view(), g.input().pg(), d, o.kind(), o.detail());
            NameClaim.Outcome touched = touchMember(g);
            if (touched != null && touched.kind() == NameClaim.Kind.TAKEN) {
                return nameTaken(g, touched);
            }
            statuses.reported(report);
            observer.cycleCompleted(report);
            statuses.publishCycle(report);
            if (o.kind() == CycleReport.Outcome.LOST_RACE && attempt == 0) {
                LOG.info("{}lost: {}; deciding again at once", prefix, o.detail());
                memory.update(m -> m.withLostRace(o.lost()));
                continue;
            }
            break;
        }
        memory.update(m -> m.withLostRace(null));
        cycleEnded();
        return report;
    }

    /** The regular publication of the member key after a cycle's actions; null when the store was not read. */
    private NameClaim.Outcome touchMember(Gatherer.Gathered g) {
        if (g.input().view() == null) {
            return null;
        }
        if (runner.renewalDue(g.input())) {
            LOG.warn("{}not updating the member key: the next renewal of the lease is due (a slow DCS?)", prefix);
            return null;
        }
        // Published after this cycle's actions: a leader that started draining says so in this very write.
        Member self = g.self().withDraining(memory.get().draining() != null && lease.holds());
        if (memory.get().releasingSyncUntil() != null && !self.tags().nosync()) {
            // The one place the release tag is added: after the actions, so the cycle that starts a release says so.
            self = self.withTags(self.tags().withNosync(true));
        }
        NameClaim.Outcome o = claim.touch(self, listed(g.input()), patience(g.input().settings()));
        if (o.kind() == NameClaim.Kind.UNAVAILABLE) {
            LOG.debug("{}could not update the member key: {}", prefix, o.detail());
        }
        return o;
    }

    /**
     * The first publication of the member key, before anything is decided on the view. Returns null once registered
     * (the cycle goes on); otherwise the cycle ends here, having made sure this member cannot be a writable primary:
     * without its name it cannot hold the leader lock.
     */
    private CycleReport register(Gatherer.Gathered g) {
        HaInput in = g.input();
        NameClaim.Outcome o = claim.touch(g.self(), listed(in), patience(in.settings()));
        switch (o.kind()) {
            case REGISTERED -> {
                LOG.info("{}registered member key {}", prefix, in.settings().name());
                // The start-time check may have run before the store granted its lease: check what it granted.
                String tooShort = LeaseGuard.problem(localSettings, dcs.leaseGuarantee(),
                        dcs.getClass().getSimpleName());
                if (tooShort != null) {
                    return leaseTooShort(g, tooShort);
                }
                observer.registered();
                return null;
            }
            case TAKEN -> {
                return nameTaken(g, o);
            }
            default -> {
                String why = o.kind() == NameClaim.Kind.WAITING ? o.detail()
                        : "cannot register the member key yet: " + o.detail();
                // A primary left running by an earlier run of this member must not stay writable while its old lease
                // runs out and another member takes over.
                List<Action> steps = in.pg().isRunningPrimary() ? List.of(new Action.Fence()) : List.of();
                Duration next = in.settings().loopWait().compareTo(Duration.ofSeconds(1)) < 0
                        ? in.settings().loopWait() : Duration.ofSeconds(1);
                Decision d = new Decision(steps, "not acting before the member key is registered: " + why, next);
                LOG.warn("{}{}", prefix, d.reason());
                ActionRunner.Outcome acted = runner.act(d, in);
                return finish(new CycleReport(in.view(), in.pg(), d, acted.kind(), acted.detail()), Role.STARTING);
            }
        }
    }

    /**
     * Another live process holds this member's name: stop leading (fence PostgreSQL, then give up a leader key this
     * member's own lease may hold) and end the loop for good.
     */
    private CycleReport nameTaken(Gatherer.Gathered g, NameClaim.Outcome o) {
        String why = claim.registered() ? "another process took this member's name: " + o.detail()
                : "refusing to start: " + o.detail();
        LOG.error("{}{}; the HA loop stops", prefix, why);
        lease.relinquish();
        postgres.fence();
        // Nothing writable is left: the watchdog, if the leader had armed it, may stop counting.
        watchdog.close();
        lease.clear();
        try {
            dcs.releaseLeader();
        } catch (DcsUnavailableException | RuntimeException e) {
            LOG.info("{}could not release a leader key of this member's lease ({}); it expires with the lease", prefix,
                    e.getMessage());
        }
        close();
        CycleReport r = new CycleReport(g.input().view(), postgres.probe(), Decision.of(why),
                CycleReport.Outcome.FAILED, why);
        finish(r, Role.STOPPED);
        observer.nameTaken(o.refusal());
        return r;
    }

    /** This member's key in the view read this cycle, or null. */
    private static Member listed(HaInput in) {
        return in.view().member(in.settings().name()).orElse(null);
    }

    /** The store's lease cannot hold these timings: stop before deciding anything, as a start that failed. */
    private CycleReport leaseTooShort(Gatherer.Gathered g, String problem) {
        String why = "the lease the DCS granted is too short for this member: " + problem;
        LOG.error("{}{}; the HA loop stops", prefix, why);
        close();
        CycleReport r = new CycleReport(g.input().view(), g.input().pg(), Decision.of(why),
                CycleReport.Outcome.FAILED, why);
        finish(r, Role.STOPPED);
        observer.leaseTooShort(why);
        return r;
    }

    /** How long a refused first registration waits for the holder's lease to end (see {@link NameClaim}). */
    private static Duration patience(HaSettings s) {
        return s.ttl().plus(s.retryTimeout());
    }

    private CycleReport finish(CycleReport r, Role role) {
        statuses.reported(r);
        observer.cycleCompleted(r);
        statuses.publishCycle(r, role);
        memory.update(m -> m.withLostRace(null));
        cycleEnded();
        return r;
    }

    /** The cycle is over: its status counts its age from now, and the loop showed progress. */
    private void cycleEnded() {
        long now = clock.nanoTime();
        statuses.cycleEndedAt(now);
        loopProgressAt = now;
    }

    /**
     * Test hook (the simulation's broken variant): a change of the config key no longer reaches the settings; they
     * stay as resolved from the key's first read.
     */
    void neverInvalidateResolvedConfig() {
        gatherer.neverInvalidateResolvedConfig();
    }

    /** The last view read successfully, or null. */
    public ClusterView lastView() {
        return gatherer.lastView();
    }
}
