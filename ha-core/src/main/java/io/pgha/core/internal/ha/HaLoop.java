package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterStatus;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.MemberRole;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.DivergenceCheck;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.Upstream;
import io.pgha.core.time.HaClock;
import io.pgha.core.time.Wakeup;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HA loop of one member: <b>gather</b> (DCS, local PostgreSQL, peers when needed) → <b>decide</b>
 * ({@link HaDecider}, pure) → <b>act</b> (the decision's steps, in order). It is the only place that sequences I/O.
 *
 * <p>Three kinds of threads, all made by the {@link HaClock} (so the simulation can schedule them):
 * <ul>
 *   <li>the <em>loop</em> thread runs a cycle every {@code loopWait}, earlier when the leader key changes (for a
 *       member that does not lead) or when {@link #wakeup()} is called;</li>
 *   <li>the <em>lease guard</em> fences PostgreSQL (immediate stop) when the lease deadline passes without a
 *       confirmed renewal, even while the loop thread hangs in a DCS call (rule S1);</li>
 *   <li>an <em>action</em> thread runs long steps (bootstrap, clone, start, rewind) while cycles go on.</li>
 * </ul>
 *
 * <p>The lease deadline is {@code sentAt + dcs.leaseGuarantee() - margin}, with {@code sentAt} read from the
 * monotonic clock just before the acquire or renew request was sent.
 */
public final class HaLoop implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(HaLoop.class);
    private static final long NO_LEASE = Long.MIN_VALUE;

    private final HaSettings localSettings;
    private final Dcs dcs;
    private final Postgres postgres;
    private final PeerClient peers;
    private final HaClock clock;
    private final MemberEndpoints endpoints;
    private final HaObserver observer;
    private final String prefix;

    private final AtomicReference<NodeMemory> memory = new AtomicReference<>(NodeMemory.INITIAL);
    private final AtomicLong leaseDeadline = new AtomicLong(NO_LEASE);
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean wakeRequested = new AtomicBoolean();
    private final AtomicBoolean leaderChanged = new AtomicBoolean();
    private final Wakeup loopWakeup;
    private final Wakeup guardWakeup;

    private volatile HaSettings effective;
    private volatile ClusterView lastView;
    private volatile CycleReport lastReport;
    private volatile String lastConfigProblem;
    private volatile long lastCycleAt = Long.MIN_VALUE;
    private volatile Instant dcsLastSeen;

    public HaLoop(HaSettings settings, Dcs dcs, Postgres postgres, PeerClient peers, HaClock clock,
            MemberEndpoints endpoints, HaObserver observer) {
        this.localSettings = Objects.requireNonNull(settings, "settings");
        this.effective = settings;
        this.dcs = Objects.requireNonNull(dcs, "dcs");
        this.postgres = Objects.requireNonNull(postgres, "postgres");
        this.peers = Objects.requireNonNull(peers, "peers");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.endpoints = Objects.requireNonNull(endpoints, "endpoints");
        this.observer = Objects.requireNonNullElse(observer, HaObserver.NONE);
        this.prefix = settings.scope() + "/" + settings.name() + " - ";
        this.loopWakeup = clock.newWakeup();
        this.guardWakeup = clock.newWakeup();
    }

    // ------------------------------------------------------------------------------------------------ lifecycle

    /** Starts the loop and lease-guard threads. A second call is an error. */
    public void start() {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("HaLoop for " + prefix + "already started");
        }
        String problem = leaseProblem(localSettings);
        if (problem != null) {
            throw new IllegalStateException(problem);
        }
        dcs.watchLeader(() -> {
            leaderChanged.set(true);
            loopWakeup.signal();
        });
        clock.startThread("pgha-loop-" + localSettings.name(), this::runLoop);
        clock.startThread("pgha-lease-guard-" + localSettings.name(), this::runGuard);
    }

    /** Runs a cycle now instead of waiting for the next one (after a REST request, say). */
    public void wakeup() {
        wakeRequested.set(true);
        loopWakeup.signal();
    }

    /** Stops the threads after their current step. Leaves PostgreSQL and the DCS session as they are. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            loopWakeup.signal();
            guardWakeup.signal();
        }
    }

    public boolean isClosed() {
        return closed.get();
    }

    /** A primary told us over REST that it still runs (failsafe mode): we do not race while it keeps telling us. */
    public void onFailsafePing(String leader) {
        long now = clock.nanoTime();
        update(m -> m.withFailsafePing(leader, now));
    }

    public NodeMemory memory() {
        return memory.get();
    }

    public CycleReport lastReport() {
        return lastReport;
    }

    /** The last view read successfully, or null. */
    public ClusterView lastView() {
        return lastView;
    }

    /** Local settings with the DCS config applied (as of the last cycle). */
    public HaSettings effectiveSettings() {
        return effective;
    }

    /** The settings this loop was built with, before the DCS config is applied. */
    public HaSettings localSettings() {
        return localSettings;
    }

    /** Monotonic time ({@link HaClock#nanoTime()}) the last cycle ended; {@code Long.MIN_VALUE} before the first. */
    public long lastCycleNanos() {
        return lastCycleAt;
    }

    /** Wall-clock time of the last successful DCS read, or null when there was none yet. */
    public Instant dcsLastSeen() {
        return dcsLastSeen;
    }

    /** True while this member holds a lease that has not run out (it may act as the writable primary). */
    public boolean holdsLease() {
        long d = leaseDeadline.get();
        return d != NO_LEASE && clock.nanoTime() < d;
    }

    private void runLoop() {
        while (!closed.get()) {
            long start = clock.nanoTime();
            Duration next = effective.loopWait();
            try {
                CycleReport r = runCycle();
                if (r.decision().nextCycle() != null) {
                    next = r.decision().nextCycle();
                }
            } catch (RuntimeException e) {
                LOG.error("{}HA cycle failed", prefix, e);
            }
            long deadline = start + next.toNanos();
            try {
                while (!closed.get()) {
                    loopWakeup.awaitUntil(deadline);
                    if (closed.get() || clock.nanoTime() >= deadline || wakeRequested.getAndSet(false)) {
                        break;
                    }
                    // The leader renews its own key each cycle: that change must not make it spin.
                    if (leaderChanged.getAndSet(false) && !holdsLease()) {
                        break;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void runGuard() {
        try {
            while (!closed.get()) {
                long d = leaseDeadline.get();
                if (d == NO_LEASE) {
                    guardWakeup.awaitUntil(clock.nanoTime() + Duration.ofHours(1).toNanos());
                    continue;
                }
                if (clock.nanoTime() < d) {
                    guardWakeup.awaitUntil(d);
                    continue;
                }
                if (leaseDeadline.compareAndSet(d, NO_LEASE)) {
                    LOG.warn("{}lease deadline passed without a confirmed renewal: fencing postgres", prefix);
                    postgres.fence();
                    observer.fenced("lease deadline passed without a confirmed renewal");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------------------------------------ one cycle

    /** Runs one HA cycle on the calling thread (the loop thread; tests may call it directly). */
    public CycleReport runCycle() {
        CycleReport report = null;
        for (int attempt = 0; attempt < 2; attempt++) {
            Gathered g = gather();
            Decision d = HaDecider.decide(g.input);
            LOG.info("{}{}", prefix, d.reason());
            Outcome o = act(d, g);
            touchMember(g);
            report = new CycleReport(g.input.view(), g.input.pg(), d, o.kind, o.detail);
            lastReport = report;
            observer.cycleCompleted(report);
            if (o.kind == CycleReport.Outcome.LOST_RACE && attempt == 0) {
                LOG.info("{}lost: {}; deciding again at once", prefix, o.detail);
                String lost = o.detail;
                update(m -> m.withLostRace(lost));
                continue;
            }
            break;
        }
        update(m -> m.withLostRace(null));
        lastCycleAt = clock.nanoTime();
        return report;
    }

    private record Gathered(HaInput input, Member self) {}

    private Gathered gather() {
        ClusterView view = null;
        String dcsError = null;
        try {
            view = dcs.read();
        } catch (DcsUnavailableException e) {
            dcsError = e.getMessage();
        }
        if (view != null) {
            lastView = view;
            dcsLastSeen = clock.wallTime();
            effective = effectiveSettings(view);
            for (String p : view.problems()) {
                LOG.warn("{}{}", prefix, p);
            }
        }
        HaSettings s = effective;
        PgState pg = postgres.probe();
        long now = clock.nanoTime();
        String me = s.name();

        // Observation bookkeeping the decision reads.
        if (view != null && view.isLeader(me) && !pg.isRunning() && memory.get().busy() == null) {
            update(m -> m.primaryDownSince() == null ? m.withPrimaryDownSince(now) : m);
        } else if (pg.isRunning()) {
            update(m -> m.primaryDownSince() == null ? m : m.withPrimaryDownSince(null));
        }
        if (view != null && memory.get().bootstrappedSystemId() != null
                && memory.get().bootstrappedSystemId().equals(view.initialize()) && view.isLeader(me)
                && !view.config().isAbsent()) {
            update(m -> m.withBootstrappedSystemId(null));
        }

        Map<String, PeerStatus> peerStatus = Map.of();
        if (view != null && shouldAskPeers(view, pg, me)) {
            List<Member> others = view.members().values().stream()
                    .filter(m -> !m.name().equals(me) && m.apiUrl() != null).toList();
            if (!others.isEmpty()) {
                peerStatus = peers.fetchStatus(others, peerTimeout(s));
            }
        }
        DivergenceCheck divergence = null;
        if (view != null && view.leader() != null && !view.isLeader(me) && pg.dataDir() == PgState.DataDir.VALID
                && memory.get().busy() == null) {
            Optional<Upstream> leader = view.leaderMember().flatMap(Upstream::of);
            if (leader.isPresent() && needsDivergenceCheck(pg, leader.get().address())) {
                divergence = postgres.checkDivergence(leader.get());
            }
        }
        Member self = selfMember(view, pg, s);
        FailsafeRound failsafe = null;
        ClusterView last = lastView;
        if (view == null && s.failsafeMode() && pg.isRunningPrimary() && last != null) {
            failsafe = peers.confirmFailsafe(failsafeAudience(last, me), self, clock.nanoTime(), peerTimeout(s));
        }
        HaInput input = new HaInput(s, view, dcsError, last, pg, peerStatus, divergence, failsafe, memory.get(),
                clock.nanoTime(), clock.wallTime());
        return new Gathered(input, self);
    }

    /**
     * Everyone who might race if we kept leading without the DCS: every member in the last view and every entry of
     * the failsafe key (the key may already list a member the view read before our last write did not show yet).
     */
    private static List<Member> failsafeAudience(ClusterView last, String me) {
        Map<String, Member> audience = new java.util.TreeMap<>();
        last.members().forEach((name, m) -> audience.put(name, m));
        if (last.failsafe() != null) {
            last.failsafe().forEach((name, api) -> audience.putIfAbsent(name, stub(name, api)));
        }
        audience.remove(me);
        return List.copyOf(audience.values());
    }

    private static Member stub(String name, String apiUrl) {
        return new Member(name, null, apiUrl, null, null, null, null, null, null, 0, null, false, false, null, -1);
    }

    private static Duration peerTimeout(HaSettings s) {
        Duration two = Duration.ofSeconds(2);
        return s.retryTimeout().compareTo(two) < 0 ? s.retryTimeout() : two;
    }

    /** Peers are asked only when their answer can matter: a free lock, a failover request, a down primary. */
    private static boolean shouldAskPeers(ClusterView v, PgState pg, String me) {
        return v.isUnlocked() || v.hasFailoverRequest() || (v.isLeader(me) && !pg.isRunning());
    }

    private static boolean needsDivergenceCheck(PgState pg, HostPort leader) {
        if (!pg.isRunning()) {
            return true;
        }
        if (pg.isRunningPrimary()) {
            return false;
        }
        return pg.run() == PgState.Run.RUNNING && (!leader.equals(pg.upstream()) || !pg.streaming());
    }

    /**
     * Rule S1 against what the store really grants (ZooKeeper may negotiate a shorter session than ttl; Consul
     * guarantees only ttl/2): a leader that cannot renew must demote before the store can give its lock away.
     */
    private String leaseProblem(HaSettings s) {
        Duration g = dcs.leaseGuarantee();
        if (g.isZero()) {
            // Unknown until the store's first grant (an etcd lease, a ZooKeeper session still connecting): nothing
            // to hold the settings against yet. The lease guard takes the real value from the first acquire on.
            return null;
        }
        Duration needed = s.loopWait().plus(s.retryTimeout().multipliedBy(2));
        if (g.compareTo(needed) < 0) {
            return "loopWait + 2*retryTimeout must be <= the DCS lease guarantee (got "
                    + io.pgha.core.config.Durations.format(s.loopWait()) + " + 2*"
                    + io.pgha.core.config.Durations.format(s.retryTimeout()) + " > "
                    + io.pgha.core.config.Durations.format(g) + ", what " + dcs.getClass().getSimpleName()
                    + " guarantees after a renewal)";
        }
        return null;
    }

    private HaSettings effectiveSettings(ClusterView view) {
        try {
            HaSettings s = localSettings.withDynamic(view.config());
            String problem = leaseProblem(s);
            if (problem != null) {
                throw new IllegalArgumentException("config: " + problem);
            }
            lastConfigProblem = null;
            return s;
        } catch (IllegalArgumentException e) {
            if (!e.getMessage().equals(lastConfigProblem)) {
                LOG.warn("{}ignoring the DCS config: {}", prefix, e.getMessage());
                lastConfigProblem = e.getMessage();
            }
            return effective;
        }
    }

    // ------------------------------------------------------------------------------------------------ act

    private record Outcome(CycleReport.Outcome kind, String detail) {
        static final Outcome DONE = new Outcome(CycleReport.Outcome.DONE, null);
    }

    private Outcome act(Decision d, Gathered g) {
        for (Action a : d.actions()) {
            if (a.isLong()) {
                startLongAction(a, g);
                return Outcome.DONE;
            }
            try {
                if (!execute(a, g)) {
                    return new Outcome(CycleReport.Outcome.LOST_RACE, lostName(a));
                }
            } catch (DcsUnavailableException e) {
                if (isBestEffort(a)) {
                    LOG.debug("{}{} failed: {}", prefix, a.describe(), e.getMessage());
                    continue;
                }
                LOG.warn("{}{} failed: DCS unreachable ({})", prefix, a.describe(), e.getMessage());
                return new Outcome(CycleReport.Outcome.FAILED, a.describe() + ": " + e.getMessage());
            } catch (PostgresException | RuntimeException e) {
                LOG.error("{}{} failed: {}", prefix, a.describe(), e.getMessage());
                return new Outcome(CycleReport.Outcome.FAILED, a.describe() + ": " + e.getMessage());
            }
        }
        return Outcome.DONE;
    }

    private static String lostName(Action a) {
        return a instanceof Action.RenewLeader ? "renew" : a.getClass().getSimpleName();
    }

    private static boolean isBestEffort(Action a) {
        return a instanceof Action.WriteStatus || a instanceof Action.WriteHistory
                || a instanceof Action.WriteFailsafe;
    }

    /** Runs one short step; false when a compare-and-set was lost. */
    private boolean execute(Action a, Gathered g) throws DcsUnavailableException, PostgresException {
        HaInput in = g.input;
        if (a instanceof Action.AcquireLeader) {
            // The start-time check may have run before the store knew its guarantee (zero: not granted yet).
            String problem = leaseProblem(effective);
            if (problem != null) {
                throw new IllegalStateException("not taking the leader lock: " + problem);
            }
            long sentAt = clock.nanoTime();
            boolean won = dcs.acquireLeader();
            if (won) {
                extendLease(sentAt, dcs.leaseGuarantee());
            }
            return won;
        } else if (a instanceof Action.RenewLeader) {
            long sentAt = clock.nanoTime();
            boolean ok = dcs.renewLeader();
            if (ok) {
                extendLease(sentAt, dcs.leaseGuarantee());
            }
            return ok;
        } else if (a instanceof Action.ReleaseLeader) {
            boolean ok = dcs.releaseLeader();
            leaseDeadline.set(NO_LEASE);
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
            PgState now = postgres.probe();
            Lsn pos = now.walPosition() != null ? now.walPosition() : in.pg().walPosition();
            ClusterStatus old = in.view() == null ? ClusterStatus.ABSENT : in.view().status();
            if (pos != null && !pos.equals(old.optime())) {
                dcs.writeStatus(new ClusterStatus(pos, old.slots(), old.retainSlots(), old.version()));
            }
            return true;
        } else if (a instanceof Action.WriteHistory) {
            dcs.writeHistory(historyForDcs(postgres.timelineHistory()));
            return true;
        } else if (a instanceof Action.AnnounceTimeline r) {
            // One entry per skipped number too, so the announced timeline is the cluster's next in the key.
            PgState now = postgres.probe();
            List<TimelineHistory.Entry> h = new ArrayList<>(postgres.timelineHistory());
            Lsn at = now.walPosition() != null ? now.walPosition() : Lsn.ZERO;
            for (int tl = now.timeline(); tl < r.timeline(); tl++) {
                h.add(new TimelineHistory.Entry(tl, at, "pgha: " + localSettings.name() + " promoting onto timeline "
                        + r.timeline(), clock.wallTime().toString(), localSettings.name()));
            }
            dcs.writeHistory(new TimelineHistory(h, -1));
            return true;
        } else if (a instanceof Action.WriteFailsafe r) {
            dcs.writeFailsafe(r.members());
            return true;
        } else if (a instanceof Action.KeepLeadingInFailsafe) {
            extendLease(in.failsafe().sentAtNanos(), effective.ttl());
            return true;
        } else if (a instanceof Action.Stop r) {
            postgres.stop(r.mode());
            return true;
        } else if (a instanceof Action.Fence) {
            leaseDeadline.set(NO_LEASE);
            postgres.fence();
            observer.fenced("another member leads or the lock was lost");
            return true;
        } else if (a instanceof Action.Promote r) {
            requireLease("promote");
            postgres.unfence();
            postgres.promote(r.minTimeline());
            LOG.info("{}promoted", prefix);
            observer.promoted();
            return true;
        } else if (a instanceof Action.Follow r) {
            postgres.follow(r.leader());
            return true;
        } else if (a instanceof Action.SetSyncStandbyNames r) {
            postgres.setSynchronousStandbyNames(r.value());
            Lsn at = postgres.probe().walPosition();
            update(m -> m.withSsn(r.value(), at));
            return true;
        } else if (a instanceof Action.Checkpoint) {
            postgres.checkpoint();
            return true;
        } else if (a instanceof Action.Fatal r) {
            LOG.error("{}{} - the HA loop stops acting until restarted", prefix, r.message());
            update(m -> m.withFatal(r.message()));
            return true;
        }
        throw new IllegalStateException("not a short action: " + a);
    }

    private void extendLease(long sentAt, Duration guarantee) {
        long margin = Math.min(Duration.ofSeconds(2).toNanos(), guarantee.toNanos() / 10);
        long deadline = sentAt + guarantee.toNanos() - margin;
        leaseDeadline.set(deadline);
        guardWakeup.signal();
    }

    private void requireLease(String what) {
        if (!holdsLease()) {
            throw new IllegalStateException("not allowed to " + what + ": the lease has run out");
        }
    }

    private TimelineHistory historyForDcs(List<TimelineHistory.Entry> fromPg) {
        List<TimelineHistory.Entry> out = new ArrayList<>(fromPg);
        if (!out.isEmpty()) {
            TimelineHistory.Entry lastEntry = out.get(out.size() - 1);
            if (lastEntry.newLeader() == null) {
                out.set(out.size() - 1, new TimelineHistory.Entry(lastEntry.timeline(), lastEntry.switchLsn(),
                        lastEntry.reason(), clock.wallTime().toString(), localSettings.name()));
            }
        }
        return new TimelineHistory(out, -1);
    }

    // ------------------------------------------------------------------------------------------------ long actions

    private void startLongAction(Action a, Gathered g) {
        String name = longName(a);
        update(m -> m.withBusy(name));
        clock.startThread("pgha-action-" + localSettings.name(), () -> {
            NodeMemory.LongActionResult result;
            try {
                runLong(a);
                result = new NodeMemory.LongActionResult(name, true, "");
            } catch (PostgresException | RuntimeException e) {
                LOG.error("{}{} failed: {}", prefix, name, e.getMessage());
                result = new NodeMemory.LongActionResult(name, false, e.getMessage());
            }
            NodeMemory.LongActionResult r = result;
            update(m -> m.withBusy(null).withLastLongAction(r));
            wakeup();
        });
    }

    static String longName(Action a) {
        if (a instanceof Action.Bootstrap) {
            return "bootstrap";
        } else if (a instanceof Action.CreateReplica) {
            return "create replica";
        } else if (a instanceof Action.StartPrimary) {
            return "start primary";
        } else if (a instanceof Action.StartReplica) {
            return "start replica";
        } else if (a instanceof Action.RewindAndFollow) {
            return "rewind";
        } else if (a instanceof Action.RecloneAndFollow) {
            return "re-clone";
        }
        return a.getClass().getSimpleName();
    }

    private void runLong(Action a) throws PostgresException {
        if (a instanceof Action.Bootstrap) {
            postgres.bootstrap();
            String sysid = postgres.probe().systemId();
            if (sysid == null) {
                throw new PostgresException("bootstrap finished but the system identifier cannot be read");
            }
            update(m -> m.withBootstrappedSystemId(sysid));
        } else if (a instanceof Action.CreateReplica r) {
            postgres.createReplica(r.source());
            postgres.startReplica(r.leader());
        } else if (a instanceof Action.StartPrimary) {
            requireLease("start as primary");
            postgres.unfence();
            postgres.startPrimary();
        } else if (a instanceof Action.StartReplica r) {
            postgres.startReplica(r.upstream());
        } else if (a instanceof Action.RewindAndFollow r) {
            try {
                postgres.rewind(r.source());
            } catch (PostgresException e) {
                update(m -> m.withRewindFailed(true));
                throw e;
            }
            postgres.startReplica(r.source());
        } else if (a instanceof Action.RecloneAndFollow r) {
            postgres.reclone(r.source());
            update(m -> m.withRewindFailed(false));
            postgres.startReplica(r.leader());
        } else {
            throw new IllegalStateException("not a long action: " + a);
        }
    }

    // ------------------------------------------------------------------------------------------------ member key

    private Member selfMember(ClusterView view, PgState pg, HaSettings s) {
        String busy = memory.get().busy();
        String state = busy == null ? pg.patroniState()
                : switch (busy) {
                    case "bootstrap" -> "initializing new cluster";
                    case "create replica", "re-clone" -> "creating replica";
                    case "start primary", "start replica", "rewind" -> "starting";
                    default -> pg.patroniState();
                };
        MemberRole role = pg.dataDir() == PgState.DataDir.EMPTY ? MemberRole.UNINITIALIZED
                : pg.role() == PgState.Role.PRIMARY ? MemberRole.PRIMARY
                : pg.role() == PgState.Role.REPLICA ? MemberRole.REPLICA
                : MemberRole.UNKNOWN;
        boolean paused = view != null && view.config().pause();
        return new Member(s.name(), endpoints.connUrl(), endpoints.apiUrl(), state, role,
                pg.role() == PgState.Role.PRIMARY ? pg.walPosition() : Lsn.max(pg.receiveLsn(), pg.replayLsn()),
                pg.role() == PgState.Role.REPLICA ? pg.receiveLsn() : null,
                pg.role() == PgState.Role.REPLICA ? pg.replayLsn() : null,
                pg.role() == PgState.Role.REPLICA && pg.streaming() ? "streaming" : null,
                pg.timeline(), s.tags(), pg.pendingRestart(), paused, Map.of(), -1);
    }

    private void touchMember(Gathered g) {
        if (g.input.view() == null) {
            return;
        }
        try {
            dcs.touchMember(g.self);
        } catch (DcsUnavailableException e) {
            LOG.debug("{}could not update the member key: {}", prefix, e.getMessage());
        }
    }

    private void update(UnaryOperator<NodeMemory> f) {
        memory.updateAndGet(f);
    }
}
