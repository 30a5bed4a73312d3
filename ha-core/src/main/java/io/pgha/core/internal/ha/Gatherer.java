package io.pgha.core.internal.ha;

import io.pgha.core.cluster.ClusterStatus;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.ParameterChange;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.DynamicSettings;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.Tags;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.DivergenceCheck;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.Upstream;
import io.pgha.core.time.HaClock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The <b>gather</b> step of a cycle: everything one decision is made from. Reads the cluster prefix from the DCS
 * (one call), applies its dynamic config, probes PostgreSQL, asks peers only when their answer can matter (a free
 * lock, a failover request, a down primary), checks divergence only when about to follow a leader, and runs the
 * failsafe round only as a primary cut off from the DCS. Also builds the member key this member publishes.
 *
 * <p>Used by the loop thread only; what it learns for others (the last view, the effective settings) it publishes
 * through volatile fields.
 */
final class Gatherer {

    private static final Logger LOG = LoggerFactory.getLogger(Gatherer.class);

    /** What a cycle decides from, and the member key it publishes afterwards. */
    record Gathered(HaInput input, Member self) {}

    private volatile HaSettings localSettings;
    private final Dcs dcs;
    private final Postgres postgres;
    private final PeerClient peers;
    private final HaClock clock;
    /** Its api_url changes with a reload of the REST API's address or published host. */
    private volatile MemberEndpoints endpoints;
    private final MemoryCell memory;
    private final LeaseGuard lease;
    private final ProbeWorker probes;
    private final LeaseWatchdog watchdog;
    private final String prefix;
    private long previousGatherAt = Long.MIN_VALUE;

    private volatile HaSettings effective;
    private volatile ClusterView lastView;
    private volatile Instant dcsLastSeen;
    /** The settings applied from the config key so far (before the watchdog mark); valid by every rule. */
    private HaSettings applied;
    private Map<String, String> lastKept = Map.of();
    private boolean lastPaused;
    /** The cluster-wide server parameters PostgreSQL took last; null before the first hand-over. */
    private Map<String, String> clusterParameters;
    private List<String> clusterHba;
    private List<String> clusterIdent;
    private Map<String, String> lastBadPostgresConfig = Map.of();
    /** The config read (and the member's own settings) last handed to PostgreSQL without a failure; null: none. */
    private GlobalConfig postgresConfigDone;
    private HaSettings postgresConfigDoneFor;
    /** Told when new cluster-wide parameters made a running server reload (Patroni's on_reload fires then too). */
    private final Runnable reloaded;
    private List<String> lastProblems = List.of();
    /** The last resolution of the stored config and what it was computed from (see {@link #resolved}). */
    private ResolveInputs lastResolveInputs;
    private DynamicConfigRules.Resolved lastResolved;
    /**
     * A deliberately broken cache for the simulation's checker (never set in production): a changed config key does
     * not invalidate it, so the settings resolved from the first read stay whatever the key says later. Read only on
     * a cache miss, so it costs nothing when off.
     */
    private volatile boolean configNeverInvalidates;
    /** With {@link #configNeverInvalidates}: the config key as first resolved. */
    private GlobalConfig firstResolvedConfig;
    private final String storeName;
    private GlobalConfig lastGoodConfig;
    private String lastBadPause;
    private TimelineHistory lastGoodHistory = TimelineHistory.ABSENT;
    private ClusterStatus lastGoodStatus = ClusterStatus.ABSENT;

    Gatherer(HaSettings localSettings, Dcs dcs, Postgres postgres, PeerClient peers, HaClock clock,
            MemberEndpoints endpoints, MemoryCell memory, LeaseGuard lease, ProbeWorker probes,
            LeaseWatchdog watchdog, Runnable reloaded, String prefix) {
        this.localSettings = localSettings;
        this.reloaded = reloaded;
        this.effective = localSettings;
        this.applied = localSettings;
        this.lastPaused = localSettings.pause();
        this.dcs = dcs;
        this.postgres = postgres;
        this.peers = peers;
        this.clock = clock;
        this.endpoints = endpoints;
        this.memory = memory;
        this.lease = lease;
        this.probes = probes;
        this.watchdog = watchdog;
        this.prefix = prefix;
        this.storeName = dcs.getClass().getSimpleName();
    }

    /** Local settings with the DCS config applied, as of the last successful read. */
    HaSettings effectiveSettings() {
        return effective;
    }

    /** The member's tags as a reload re-read them: in force at once, published with the next member-key write. */
    void useLocalTags(Tags tags) {
        localSettings = localSettings.withTags(tags);
        applied = applied.withTags(tags);
        effective = markedIfWatchdogFailed(effective.withTags(tags));
    }

    /**
     * Test hook (the simulation's broken variant): a change of the config key no longer invalidates the cache, so
     * the settings resolved from the first read stay in force.
     */
    void neverInvalidateResolvedConfig() {
        configNeverInvalidates = true;
    }

    /** The member's api_url as a reload changed it: published with the next member-key write. */
    void useApiUrl(String apiUrl) {
        endpoints = new MemberEndpoints(endpoints.connUrl(), apiUrl);
    }

    /** The last view read successfully, or null. */
    ClusterView lastView() {
        return lastView;
    }

    /** Wall-clock time of the last successful DCS read, or null. */
    Instant dcsLastSeen() {
        return dcsLastSeen;
    }

    Gathered gather() {
        long notBefore = previousGatherAt;
        previousGatherAt = clock.nanoTime();
        ClusterView view = null;
        String dcsError = null;
        try {
            view = dcs.read();
        } catch (DcsUnavailableException e) {
            dcsError = e.getMessage();
        }
        if (view != null) {
            view = withLastGoodValues(view);
            lastView = view;
            dcsLastSeen = clock.wallTime();
            effective = effectiveSettings(view);
            usePostgresConfig(view);
            // Replicas stream through their slot exactly when the leader keeps one for them: both read use_slots here.
            postgres.useReplicationSlots(effective.useSlots());
            if (!view.problems().equals(lastProblems)) {
                // Once per change: every cycle's line says which keys are undecodable until they are repaired.
                for (String p : view.problems()) {
                    LOG.warn("{}{}", prefix, p);
                }
                lastProblems = view.problems();
            }
        }
        HaSettings s = effective;
        PgState pg = probe(s, notBefore, view == null);
        long now = clock.nanoTime();
        String me = s.name();
        noteObservations(view, pg, me, now);

        Map<String, PeerStatus> peerStatus = Map.of();
        if (view != null && shouldAskPeers(view, pg, me)
                && !LeaderRace.candidateDecidesAlone(view, pg, me, clock.wallTime(), s.loopWait())) {
            List<Member> others = view.members().values().stream()
                    .filter(m -> !m.name().equals(me) && m.apiUrl() != null).toList();
            if (!others.isEmpty()) {
                peerStatus = peers.fetchStatus(others, PeerClient.timeoutFor(s));
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
        Member self = selfMember(view, pg, s, memory.get().busy(), memory.get().scheduledRestart());
        FailsafeRound failsafe = null;
        ClusterView last = lastView;
        if (view == null && s.failsafeMode() && pg.isRunningPrimary() && last != null) {
            failsafe = peers.confirmFailsafe(failsafeAudience(last, me), self, clock.nanoTime(),
                    PeerClient.timeoutFor(s));
        }
        HaInput input = new HaInput(s, view, dcsError, last, pg, peerStatus, divergence, failsafe, memory.get(),
                clock.nanoTime(), clock.wallTime(), lease.renewTerm() >= 0);
        return new Gathered(input, self);
    }

    /**
     * PostgreSQL as a probe finds it, waited for no longer than the lease allows: a lock holder keeps the time its
     * renewal may take (retryTimeout), so a slow probe costs it a cycle that reads "unknown" (and renews), not its
     * lease. Without a lease the wait is bounded by ttl.
     *
     * <p>When this cycle's store read already failed there is no renewal to keep time for, but a failsafe round
     * (one peer timeout) may follow: keeping retryTimeout back there left no time at all after a read that failed
     * only after the whole retryTimeout (the default timings), so the primary read as unknown, no member was asked,
     * and the guard fenced a primary failsafe mode should have kept.
     */
    private PgState probe(HaSettings s, long notBefore, boolean storeReadFailed) {
        Duration keepBack = storeReadFailed ? PeerClient.timeoutFor(s) : s.retryTimeout();
        Duration budget = lease.holds()
                ? Duration.ofNanos(Math.max(0, lease.remainingNanos() - keepBack.toNanos()))
                : s.ttl();
        PgState pg;
        try {
            pg = probes.probe(budget, notBefore);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return PgState.unknown("interrupted while probing");
        }
        // Slow is not failed: a probe still running counts as a failed one only once it has run for ttl.
        long pending = pg.dataDir() == PgState.DataDir.UNKNOWN ? probes.pendingNanos() : 0;
        long slow = pending > 0 && pending < s.ttl().toNanos() ? pending : 0;
        memory.update(m -> m.withProbePendingFor(slow));
        return pg;
    }

    /**
     * Bookkeeping the decision reads: since when a lock holder's PostgreSQL is down, how many probes in a row failed,
     * failed starts forgotten once the lock is someone else's, a bootstrap already published, the last lock holder
     * seen (whose failsafe pings alone count).
     */
    private void noteObservations(ClusterView view, PgState pg, String me, long now) {
        boolean unknown = pg.dataDir() == PgState.DataDir.UNKNOWN && memory.get().probePendingFor() == 0;
        memory.update(m -> unknown ? m.withUnknownProbes(m.unknownProbes() + 1)
                : m.unknownProbes() == 0 ? m : m.withUnknownProbes(0));
        if (view != null && !view.isLeader(me)) {
            memory.update(NodeMemory::withStartsReset);
        }
        if (view != null && view.isLeader(me) && !pg.isRunning() && memory.get().busy() == null) {
            memory.update(m -> m.primaryDownSince() == null ? m.withPrimaryDownSince(now) : m);
        } else if (pg.run() == PgState.Run.RUNNING && memory.get().busy() == null) {
            // Not while it is still starting, nor while a start or restart is in flight (this cycle's probe may
            // predate the restart's stop): primaryStartTimeout covers the whole start, its recovery included.
            memory.update(m -> m.primaryDownSince() == null ? m : m.withPrimaryDownSince(null));
        }
        if (view != null) {
            view.leaderName().ifPresent(l -> memory.update(m -> l.equals(m.lastLeader()) ? m : m.withLastLeader(l)));
        }
        String bootstrapped = memory.get().bootstrappedSystemId();
        if (view != null && bootstrapped != null && bootstrapped.equals(view.initialize()) && view.isLeader(me)
                && !view.config().isAbsent()) {
            memory.update(m -> m.withBootstrappedSystemId(null));
        }
    }

    /**
     * An undecodable key is a state of its own, never "absent" (issue: a malformed {@code config} read as absent
     * unpaused the cluster and stuck the leader on a create-only write; a malformed {@code history} let numbers be
     * reused). The view keeps each one marked in {@link ClusterView#undecodable()}, with the key's version for the
     * repair write, and in its place holds: for {@code config}, {@code history} and {@code status}, the last value
     * this member decoded (the best guess at what the key held: the cluster stays paused, no timeline number goes
     * back, the lag reference does not drop to "none"); for {@code sync} and {@code failover}, nothing, with the bad
     * key's version (the decision core takes the cautious side for those: see {@code UndecodableKeys.blindSpot}).
     */
    private ClusterView withLastGoodValues(ClusterView v) {
        if (v.isUndecodable(KeyLayout.CONFIG)) {
            long bad = v.undecodable().get(KeyLayout.CONFIG);
            GlobalConfig good = lastGoodConfig != null ? lastGoodConfig : GlobalConfig.bootstrap(localSettings);
            v = v.withConfig(good.withVersion(bad));
        } else {
            String badPause = v.config().malformed().get("pause");
            if (badPause != null) {
                // Maintenance mode stays as it was rather than ending (or starting) on a value nobody can read.
                boolean paused = lastGoodConfig != null ? lastGoodConfig.pause() : lastPaused;
                if (!badPause.equals(lastBadPause)) {
                    LOG.warn("{}config: keeping pause = {}, the stored value is unusable: {}", prefix, paused,
                            badPause);
                }
                v = v.withConfig(v.config().mergePatch(Map.of("pause", paused)));
            }
            lastBadPause = badPause;
            lastGoodConfig = v.config();
        }
        if (v.isUndecodable(KeyLayout.HISTORY)) {
            v = v.withHistory(new TimelineHistory(lastGoodHistory.entries(), v.undecodable().get(KeyLayout.HISTORY)));
        } else if (v.history().clusterTimeline() >= lastGoodHistory.clusterTimeline()) {
            lastGoodHistory = v.history();
        }
        if (v.isUndecodable(KeyLayout.SYNC)) {
            v = v.withSync(SyncState.ABSENT.withVersion(v.undecodable().get(KeyLayout.SYNC)));
        }
        if (v.isUndecodable(KeyLayout.STATUS)) {
            v = v.withStatus(new ClusterStatus(lastGoodStatus.optime(), lastGoodStatus.slots(),
                    lastGoodStatus.retainSlots(), v.undecodable().get(KeyLayout.STATUS)));
        } else {
            lastGoodStatus = v.status();
        }
        if (v.isUndecodable(KeyLayout.FAILOVER)) {
            v = v.withFailover(FailoverRequest.ABSENT.withVersion(v.undecodable().get(KeyLayout.FAILOVER)));
        }
        return v;
    }

    /**
     * Everyone who might race if we kept leading without the DCS: every member in the last view and every entry of
     * the failsafe key (the key may already list a member the view read before our last write did not show yet).
     */
    private static List<Member> failsafeAudience(ClusterView last, String me) {
        Map<String, Member> audience = new TreeMap<>(last.members());
        if (last.failsafe() != null) {
            last.failsafe().forEach((name, api) -> audience.putIfAbsent(name, stub(name, api)));
        }
        audience.remove(me);
        return List.copyOf(audience.values());
    }

    private static Member stub(String name, String apiUrl) {
        return new Member(name, null, apiUrl, null, null, null, null, null, null, 0, null, false, false, null, -1);
    }

    /**
     * Peers are asked only when their answer can matter: a free lock, a failover request, a primary down or still
     * starting (a start that outlasts primaryStartTimeout fails over only if a peer can take over).
     */
    private static boolean shouldAskPeers(ClusterView v, PgState pg, String me) {
        return v.isUnlocked() || v.hasFailoverRequest() || (v.isLeader(me) && pg.run() != PgState.Run.RUNNING);
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
     * The settings this cycle runs with: the stored config applied setting by setting ({@link DynamicConfigRules}),
     * an offending value warned about once per change and replaced by its last applied one, every applied change
     * logged once.
     */
    private HaSettings effectiveSettings(ClusterView view) {
        DynamicConfigRules.Resolved r = resolved(view.config());
        if (!r.kept().equals(lastKept)) {
            r.kept().forEach((key, why) -> {
                if (!why.equals(lastKept.get(key))) {
                    LOG.warn("{}config: {}", prefix, why);
                }
            });
            lastKept = r.kept();
        }
        String changes = r.settings() == applied ? "" : DynamicConfigRules.changes(applied, r.settings());
        if (!changes.isEmpty()) {
            LOG.info("{}config applied: {}", prefix, changes);
        }
        boolean paused = view.config().pause();
        if (paused != lastPaused) {
            LOG.info("{}config applied: pause {} -> {}", prefix, lastPaused, paused);
            lastPaused = paused;
        }
        applied = r.settings();
        return markedIfWatchdogFailed(applied);
    }

    /**
     * Everything {@link DynamicConfigRules#resolve} reads: the member's own settings, those applied so far, the stored
     * settings with the ones of the wrong type, and what the further rules depend on (the store's lease guarantee,
     * whether a watchdog is in use; the store's name and the device are fixed for the loop's life).
     */
    private record ResolveInputs(HaSettings local, HaSettings applied, DynamicSettings stored,
            Map<String, String> malformed, Duration guarantee, boolean watchdogInUse) {}

    /**
     * The stored config resolved against the settings applied so far; the last result again when none of its inputs
     * changed. The config key seldom changes, and a resolution builds and checks several settings objects (a fifth
     * of an idle cycle, issue 11). Every input is in the key, so a changed ttl, loop_wait, pause or watchdog state
     * is seen by the very cycle that reads it. A result equal to the settings applied is those settings themselves,
     * so that the next cycle finds the same inputs.
     */
    private DynamicConfigRules.Resolved resolved(GlobalConfig config) {
        Duration guarantee = dcs.leaseGuarantee();
        ResolveInputs in = new ResolveInputs(localSettings, applied, config.dynamic(), config.malformed(), guarantee,
                watchdog.isInUse());
        if (in.equals(lastResolveInputs)) {
            return lastResolved;
        }
        GlobalConfig stored = config;
        if (configNeverInvalidates) {
            if (firstResolvedConfig == null) {
                firstResolvedConfig = config;
            }
            stored = firstResolvedConfig;
        }
        DynamicConfigRules.Resolved r = DynamicConfigRules.resolve(localSettings, applied, stored,
                s -> {
                    String p = LeaseGuard.problem(s, guarantee, storeName);
                    return p != null ? p : watchdog.problem(s, guarantee, storeName);
                });
        if (r.settings().equals(applied)) {
            r = new DynamicConfigRules.Resolved(applied, r.kept());
        }
        lastResolveInputs = in;
        lastResolved = r;
        return r;
    }

    /**
     * Hands the config key's {@code postgresql.parameters}, {@code pg_hba} and {@code pg_ident} to PostgreSQL when
     * they change (before the first start too: with no config key yet, the ones this member would write at
     * bootstrap). One of them stored with the wrong type keeps what was last handed over (with one warning per
     * change), as every other setting does (docs/decisions 0020). A failure is retried next cycle.
     */
    private void usePostgresConfig(ClusterView view) {
        if (view.config().equals(postgresConfigDone) && localSettings == postgresConfigDoneFor) {
            // The same key as last time, handed over in full: there is nothing new to hand over (issue 11).
            return;
        }
        GlobalConfig config = view.config().isAbsent() ? bootstrapConfig() : view.config();
        Map<String, String> bad = new LinkedHashMap<>();
        for (String key : List.of("postgresql.parameters", "postgresql.pg_hba", "postgresql.pg_ident")) {
            String why = config.malformed().get(key);
            if (why != null) {
                bad.put(key, why);
            }
        }
        if (!bad.equals(lastBadPostgresConfig)) {
            bad.forEach((key, why) -> LOG.warn("{}config: keeping {} as last applied, the stored value is unusable: {}",
                    prefix, key, why.startsWith(key + ": ") ? why.substring(key.length() + 2) : why));
            lastBadPostgresConfig = bad;
        }
        // No last value yet (the first read found it unusable): what this member would write at bootstrap.
        Map<String, String> parameters = !bad.containsKey("postgresql.parameters") ? config.postgresParameters()
                : clusterParameters != null ? clusterParameters : bootstrapConfig().postgresParameters();
        List<String> hba = !bad.containsKey("postgresql.pg_hba") ? config.postgresHba()
                : clusterHba != null ? clusterHba : bootstrapConfig().postgresHba();
        List<String> ident = !bad.containsKey("postgresql.pg_ident") ? config.postgresIdent()
                : clusterIdent != null ? clusterIdent : bootstrapConfig().postgresIdent();
        boolean reloadedNow = false;
        postgresConfigDone = null;
        try {
            if (!parameters.equals(clusterParameters)) {
                reloadedNow = postgres.useClusterParameters(parameters);
                clusterParameters = parameters;
            }
            if (!hba.equals(clusterHba) || !ident.equals(clusterIdent)) {
                reloadedNow |= postgres.useClusterAuthFiles(hba, ident);
                clusterHba = hba;
                clusterIdent = ident;
            }
            postgresConfigDone = view.config();
            postgresConfigDoneFor = localSettings;
        } catch (PostgresException e) {
            LOG.warn("{}applying the cluster's postgresql section failed (retried next cycle): {}", prefix,
                    e.getMessage());
        }
        if (reloadedNow) {
            reloaded.run();
        }
    }

    private GlobalConfig bootstrapConfig() {
        return GlobalConfig.bootstrap(localSettings);
    }

    /**
     * A member whose required watchdog failed must not lead, and its peers must not wait for it in a race (Patroni
     * publishes {@code watchdog_failed}; pgha publishes the nofailover tag, which every member already honours).
     */
    private HaSettings markedIfWatchdogFailed(HaSettings s) {
        return watchdog.failure() == null || s.tags().nofailover() ? s : s.withTags(s.tags().withNofailover(true));
    }

    /**
     * The member key this member publishes: Patroni's fields from the probe, the long action as its state, a
     * scheduled restart as Patroni's {@code scheduled_restart} (patronictl lists it from there).
     */
    private Member selfMember(ClusterView view, PgState pg, HaSettings s, LongAction busy,
            MemberRequest.Restart scheduled) {
        String state = busy == null ? pg.patroniState() : busy.patroniState();
        Role role = pg.dataDir() == PgState.DataDir.EMPTY ? Role.UNINITIALIZED
                : pg.role() == Role.PRIMARY || pg.role() == Role.REPLICA ? pg.role() : Role.UNKNOWN;
        boolean paused = view != null && view.config().pause();
        boolean replica = pg.role() == Role.REPLICA;
        MemberEndpoints at = endpoints;
        return new Member(s.name(), at.connUrl(), at.apiUrl(), state, role,
                pg.role() == Role.PRIMARY ? pg.walPosition() : Lsn.max(pg.receiveLsn(), pg.replayLsn()),
                replica ? pg.receiveLsn() : null, replica ? pg.replayLsn() : null,
                pg.streamingAndReplaying() ? "streaming" : null,
                pg.timeline(), s.tags(), pg.pendingRestart(), paused, memberExtra(pg, scheduled), -1);
    }

    /**
     * Patroni's fields pgha writes but does not read back: a scheduled restart, and why a restart is pending (which
     * Patroni 3.3+ and its patronictl show next to the flag).
     */
    private static Map<String, Object> memberExtra(PgState pg, MemberRequest.Restart scheduled) {
        boolean reason = pg.pendingRestart() && !pg.server().pendingRestartReason().isEmpty();
        if (scheduled == null && !reason) {
            return Map.of();
        }
        Map<String, Object> extra = new LinkedHashMap<>();
        if (scheduled != null) {
            extra.put("scheduled_restart", scheduled.patroniJson());
        }
        if (reason) {
            extra.put("pending_restart_reason", ParameterChange.patroniJson(pg.server().pendingRestartReason()));
        }
        return extra;
    }
}
