package io.pgha.core.testkit;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.DataSize;
import io.pgha.core.config.Durations;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.ReloadableSettings;
import io.pgha.core.config.SynchronousMode;
import io.pgha.core.config.Tags;
import io.pgha.core.internal.ha.BrokenVariants;
import io.pgha.core.internal.ha.CycleReport;
import io.pgha.core.internal.ha.FailsafeRound;
import io.pgha.core.internal.ha.HaLoop;
import io.pgha.core.internal.ha.HaObserver;
import io.pgha.core.internal.ha.MemberEndpoints;
import io.pgha.core.internal.ha.MemberOperations;
import io.pgha.core.internal.ha.MemberRequest;
import io.pgha.core.internal.ha.PeerClient;
import io.pgha.core.internal.ha.PeerStatus;
import io.pgha.core.spi.DcsContext;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

/**
 * <b>Deterministic simulation</b> (test kit): 3–5 members, each running the real {@link HaLoop} and decision core
 * against {@link InMemoryDcs} and {@link FakePostgres}, on one {@link ManualClock}, under a random fault schedule
 * drawn from the seed. After every event it checks the safety rules of ARCHITECTURE.md §4:
 * <ul>
 *   <li><b>S1</b> never two writable primaries at once;</li>
 *   <li><b>S2</b> a member promoted automatically is not more than {@code maximumLagOnFailover} behind the leader's
 *       last published position, nor behind a peer it could reach that could itself be promoted;</li>
 *   <li><b>S3</b> (synchronous mode) a promoted member holds every commit acknowledged while its predecessor held
 *       the {@code sync} key; at the end the leader holds them all;</li>
 *   <li><b>S4</b> no standby streams from an upstream whose history does not contain its own WAL;</li>
 *   <li><b>S5</b> after every fault healed: a leader within {@code ttl + loopWait} (plus the race's own time), and
 *       every member streaming from it a little later.</li>
 * </ul>
 * The same seed replays the same run, event for event.
 */
public final class Simulation {

    /** Deliberately broken variants, to prove the checker catches what it claims to catch. */
    public enum Variant {
        /** The real thing. */
        NONE,
        /** The store claims leases last 10× longer than they do: the lease guard fences far too late (S1). */
        LEASE_GUARD_TOO_LATE,
        /** Members run with an unlimited maximumLagOnFailover while the checker holds them to 1 MB (S2). */
        LAG_CHECK_DISABLED,
        /** The divergence check always says "not diverged": diverged members try to stream (S4/S5). */
        DIVERGENCE_UNCHECKED,
        /** A failed probe reads as "invalid, not running" while PostgreSQL keeps serving writes (S1). */
        FAILED_PROBE_LOOKS_INVALID,
        /**
         * Promotions ignore the announced timeline number and the divergence check trusts equal numbers: two members
         * can create different timelines with the same number, and one streams the other's (S4).
         */
        TIMELINE_NUMBERS_REUSED,
        /**
         * The store claims a lease a little longer than it is (the guard fences 2.25-2.5 s past the real expiry, just
         * after the quickest possible takeover; not 10x): S1.
         */
        LEASE_GUARD_JUST_TOO_LATE,
        /** The store ends leases earlier than its adapter declares (an ensemble's follower relays late): S1. */
        SERVER_EXPIRY_UNDECLARED,
        /**
         * Every member but the lock holder reads the {@code sync} key as naming it a synchronous standby, so a
         * non-synchronous standby may be promoted (S3).
         */
        SYNC_SET_IGNORED,
        /** PostgreSQL is not tied to the agent's JVM: an agent that dies leaves its primary running (S1). */
        NO_JVM_TIE,
        /**
         * Whole-JVM pauses (every thread of the agent, the lease guard's included) with no watchdog: the limit the
         * watchdog closes (S1).
         */
        JVM_PAUSE_WITHOUT_WATCHDOG,
        /**
         * The store re-binds and releases keys of another live session that hold the member's name (the adapters
         * before docs/decisions 0011): a second agent with a leader's name and an empty data directory releases the
         * leader key while the real leader still writes (S1).
         */
        NAME_OWNERSHIP_IGNORED,
        /**
         * The renewal deadline too late: the lease guarantee counts from a renewal's answer instead of its send
         * time, so the guard fences up to a round trip after the lease can end (a slow confirmation, then the
         * leader is cut off): S1.
         */
        RENEWAL_DEADLINE_FROM_ANSWER,
        /**
         * The race before the key is gone: members read the leader key as absent once its lease has less than half
         * the ttl left (an early signal, trusted instead of the key's deletion), and their acquire takes it over.
         * The old leader's guard has not fenced yet: S1.
         */
        RACE_BEFORE_KEY_GONE,
        /**
         * The operator's reload reads the member's file but the member keeps the tags it started with: tagged
         * {@code nofailover} in the file and reloaded, it can still be promoted (S2).
         */
        RELOADED_TAGS_IGNORED,
        /**
         * A stale config cache: a change of the {@code config} key never invalidates the loop's resolved settings, so
         * the lag limit, synchronous mode and node count first read stay in force (pause is read from each view, not
         * from the cache). A lag limit lowered at run time is not applied: S2.
         */
        CONFIG_CACHE_NEVER_INVALIDATED,
        /**
         * A stale decoder memo: the store's decoder reuses each key's first decoded value whatever its bytes and
         * version say later, so members keep reading the WAL positions and the optime they first saw.
         */
        DECODER_MEMO_NEVER_REFRESHED
    }

    /** Everything a run depends on; {@link #forSeed} draws it from the seed. */
    public record Config(long seed, int members, HaSettings template, boolean allowReclone, Duration faultWindow,
            Duration settle, Variant variant) {

        public static Config forSeed(long seed, Variant variant) {
            Random r = new Random(seed * 0x9E3779B97F4A7C15L + 17);
            int members = 3 + r.nextInt(3);
            long ttlMs;
            long loopWaitMs;
            long retryMs;
            if (r.nextInt(5) == 0) {
                // The short timings of the fast profiles (ttl 2 s on etcd and up), in steps of 50 ms.
                ttlMs = new long[] {2000, 2500, 3000, 5000}[r.nextInt(4)];
                loopWaitMs = 500 + 250L * r.nextInt(3);
                long maxRetry = (ttlMs - loopWaitMs) / 2;
                retryMs = 250 + 50L * r.nextInt((int) Math.max(1, (maxRetry - 250) / 50 + 1));
            } else {
                int ttl = new int[] {10, 15, 20, 30}[r.nextInt(4)];
                int loopWait = 1 + r.nextInt(Math.max(1, ttl / 3));
                ttlMs = ttl * 1000L;
                loopWaitMs = loopWait * 1000L;
                retryMs = 1000L * (1 + r.nextInt(Math.max(1, (ttl - loopWait) / 2)));
            }
            boolean sync = r.nextInt(10) < 3;
            HaSettings t = HaSettings.builder("sim", "template")
                    .ttl(Duration.ofMillis(ttlMs))
                    .loopWait(Duration.ofMillis(loopWaitMs))
                    .retryTimeout(Duration.ofMillis(retryMs))
                    .maximumLagOnFailover(DataSize.ofMegabytes(1))
                    .primaryStartTimeout(Duration.ofSeconds(new int[] {0, 10, 300}[r.nextInt(3)]))
                    .synchronousMode(sync ? SynchronousMode.ON : SynchronousMode.OFF)
                    .synchronousModeStrict(sync && r.nextBoolean())
                    .failsafeMode(r.nextInt(5) == 0)
                    .synchronousNodeCount(sync && members >= 4 && r.nextBoolean() ? 2 : 1)
                    .build();
            return new Config(seed, members, t, true, Duration.ofSeconds(200), Duration.ofSeconds(120), variant);
        }
    }

    /** How a run ended. */
    public record Result(long seed, long steps, List<String> violations, String trace, String summary, long s2Checks,
            long s3Checks) {
        public boolean ok() {
            return violations.isEmpty();
        }
    }

    private static final Duration TICK = Duration.ofMillis(250);
    private static final Duration BOOT = Duration.ofSeconds(30);

    private final Config cfg;
    private final Random rnd;
    private final ManualClock clock = new ManualClock();
    private final KeyLayout layout = KeyLayout.of("sim");
    private final InMemoryDcs store;
    private final FakePostgresNetwork net;
    private final Map<String, SimMember> members = new LinkedHashMap<>();
    /** Every host by its PostgreSQL address: the members' and those of impostors (second agents with their name). */
    private final Map<HostPort, SimMember> hosts = new LinkedHashMap<>();
    /** Live impostors by the member name they use. */
    private final Map<String, SimMember> impostors = new LinkedHashMap<>();
    private final List<String> violations = new ArrayList<>();
    private final Deque<String> trace = new ArrayDeque<>();
    private final List<String> schedule = new ArrayList<>();
    private final List<FakePostgresNetwork.Commit> syncAcked = new ArrayList<>();
    private final Map<String, Long> lastDisturbance = new HashMap<>();
    /** Hosts a watchdog reset, by when they are back (the reboot is scheduled, not yet done). */
    private final Map<String, Long> rebootingUntil = new LinkedHashMap<>();
    /** How long a member's supervisor waits before it starts an agent that exited again. */
    private static final Duration SUPERVISOR_RESTART = Duration.ofSeconds(5);
    /** Keys overwritten with {@link #GARBAGE}, with the value they held before (null: absent). */
    private final Map<String, String> corruptedKeys = new HashMap<>();
    private static final String GARBAGE = "{\"garbage\": ";
    /** The config values an operator plants (Patroni's tools store them unchecked), by what they break. */
    private static final int ODD_CONFIG_VALUES = 14;
    /** Planted config settings and the value each held before (null: absent), restored at the heal. */
    private final Map<String, Object> plantedConfig = new HashMap<>();
    private final Set<String> pausedNow = new HashSet<>();
    private long healAt;
    private long crashAfterPromotion;
    private String lastSyncLeader;
    private Lsn snapshotOptime;
    private FakePostgres snapshotHolder;
    private int snapshotRecords;
    private long snapshotLastId;
    private long promotions;
    private long commits;
    private long s2Checks;
    private long s3Checks;
    private boolean syncModeNow;
    private Duration declaredSkew = Duration.ZERO;
    private Duration actualSkew = Duration.ZERO;
    private Duration fenceLatency = Duration.ZERO;
    /** Replication slot upkeep's fault for this seed: none, every slot call failing, or every one slow. */
    private String slotFault = "none";
    private Duration watchdogTimeout;
    private String lastTrace = "";

    private final class SimMember {
        /** The member name it runs with (an impostor shares a real member's). */
        final String name;
        /** Its host: the node on the fake network, the clock group of its threads, the name of its PostgreSQL. */
        final String host;
        final boolean impostor;
        final HostPort address;
        final HaSettings settings;
        final FakePostgres pg;
        /** The host's watchdog device (replaced when the host is reset); null when the seed runs without one. */
        FakeWatchdog watchdog;
        InMemoryDcs.Session session;
        HaLoop loop;
        /** The tags in the member's file, as the operator edits them; read at an agent start and by a reload. */
        volatile Tags fileTags;
        /** The tags the member runs with, as far as the operator knows: the file's at its last start or reload. */
        volatile Tags tagsInForce;
        /** The tags the member's HA loop was handed (the same as tagsInForce, except in RELOADED_TAGS_IGNORED). */
        volatile Tags loopTags;
        /**
         * The epoch of the leader key this member held when its tags were last taken into force, or -1: a leader
         * tagged nofailover keeps leading (as in Patroni), and may bring its own server back as primary under that
         * same lock; it may not take a new one.
         */
        volatile long lockEpochWhenTagged = -1;
        /** The lag limit of the config its loop read in the last cycle it completed (see {@link #lagLimitIn}). */
        volatile long lagLimitLastCycle = cfg.template().maximumLagOnFailover().bytes();
        boolean agentAlive;
        volatile boolean shuttingDown;
        String lastReason = "";

        SimMember(String name, int index, HaSettings settings) {
            this(name, name, false, new HostPort("10.0.0." + (index + 1), 5432), settings);
        }

        SimMember(String name, String host, boolean impostor, HostPort address, HaSettings settings) {
            this.name = name;
            this.host = host;
            this.impostor = impostor;
            this.address = address;
            this.settings = settings;
            this.fileTags = settings.tags();
            this.pg = net.create(host, address, FakePostgres.Timings.DEFAULT, cfg.allowReclone());
            hosts.put(address, this);
        }

        void startAgent() {
            session = store.open(new DcsContext(layout, name, settings.ttl(), settings.retryTimeout(), clock));
            MemberEndpoints endpoints = new MemberEndpoints("postgres://" + address + "/postgres",
                    "http://" + address.host() + ":8008/patroni");
            // A starting agent reads its file: the tags the operator left there.
            HaSettings s = settings.withTags(fileTags);
            tagsInForce = fileTags;
            loopTags = fileTags;
            lockEpochWhenTagged = heldLockEpoch();
            loop = watchdog == null
                    ? new HaLoop(s, session, pg, new SimPeerClient(this), clock, endpoints, new Observer(this))
                    : new HaLoop(s, session, pg, new SimPeerClient(this), clock, endpoints, new Observer(this),
                            watchdog, io.pgha.core.config.WatchdogMode.REQUIRED);
            loop.reloadSettingsFrom(this::reloadedSettings, ReloadableSettings.of(s, null));
            if (cfg.variant() == Variant.CONFIG_CACHE_NEVER_INVALIDATED) {
                BrokenVariants.neverInvalidateConfigCache(loop);
            }
            agentAlive = true;
            clock.setDefaultGroup(host);
            loop.start();
            clock.setDefaultGroup("");
        }

        /** What the operator's reload reads from the member's file (on the loop's thread, when it runs). */
        ReloadableSettings reloadedSettings() {
            tagsInForce = fileTags;
            lockEpochWhenTagged = heldLockEpoch();
            if (cfg.variant() != Variant.RELOADED_TAGS_IGNORED) {
                loopTags = fileTags;
            }
            return new ReloadableSettings(loopTags, Map.of(), List.of(), List.of());
        }

        private long heldLockEpoch() {
            io.pgha.core.cluster.LeaderLock l = store.peek().leader();
            return l != null && l.holder().equals(name) ? l.epoch() : -1;
        }

        void killAgent() {
            clock.kill(host);
            loop.close();
            session.abandon();
            agentAlive = false;
            if (watchdog != null) {
                watchdog.processDied();
            }
        }

        /**
         * The embedding service closes the member (HaCluster.close()): at whatever point its loop or a long action
         * is; the shutdown itself runs on a thread of the member, so a later crash can cut it short.
         */
        void shutdownAgent(boolean leaveReplicaRunning) {
            agentAlive = false;
            HaLoop l = loop;
            InMemoryDcs.Session s = session;
            clock.setDefaultGroup(name);
            shuttingDown = true;
            clock.startThread("pgha-shutdown-" + name, () -> {
                l.shutdown(leaveReplicaRunning, settings.retryTimeout().multipliedBy(2));
                s.close();
                shuttingDown = false;
            });
            clock.setDefaultGroup("");
        }
    }

    private final class Observer implements HaObserver {
        private final SimMember m;

        Observer(SimMember m) {
            this.m = m;
        }

        @Override
        public void cycleCompleted(CycleReport r) {
            if (r.view() != null) {
                m.lagLimitLastCycle = lagLimitIn(r.view());
            }
            String line = r.decision().reason()
                    + (r.outcome() == CycleReport.Outcome.DONE ? "" : " [" + r.outcome() + ": " + r.detail() + "]");
            if (!line.equals(m.lastReason)) {
                m.lastReason = line;
                note(m.host, line);
            }
        }

        @Override
        public void fenced(String why) {
            note(m.host, "FENCED: " + why);
        }

        @Override
        public void nameTaken(io.pgha.core.spi.MemberNameTakenException e) {
            // The agent process exits (status 1). A member's supervisor (systemd's Restart=on-failure) starts it
            // again a little later; it registers once the other process's lease has ended. An impostor stays down.
            note(m.host, "STOPPED: the member name is taken (" + e.holder() + ")");
            m.agentAlive = false;
            if (!m.impostor) {
                clock.at(clock.nanoTime() + SUPERVISOR_RESTART.toNanos(), () -> {
                    if (!m.agentAlive) {
                        note(m.name, "the supervisor restarts the agent");
                        disturbed(m.name);
                        restartAgent(m.name);
                    }
                });
            }
        }

        @Override
        public void cycleFailed(RuntimeException e) {
            if (!(e instanceof InvariantViolated)) {
                violate("BUG the HA cycle of " + m.host + " threw " + e);
            }
        }
    }

    public Simulation(Config cfg) {
        this.cfg = cfg;
        this.rnd = new Random(cfg.seed());
        this.store = new InMemoryDcs(layout, clock, cfg.template().ttl());
        if (cfg.variant() == Variant.DECODER_MEMO_NEVER_REFRESHED) {
            store.decodeWith(io.pgha.core.spi.BrokenDecoders.reusingByKeyOnly(layout));
        }
        this.net = new FakePostgresNetwork(clock, cfg.seed());
        store.setDefaultLatency(Duration.ofMillis(Long.getLong("sim.latencyMs", 2)));
        Duration ttl = cfg.template().ttl();
        if (cfg.variant() == Variant.LEASE_GUARD_TOO_LATE) {
            store.overrideLeaseGuarantee(ttl.multipliedBy(10));
        }
        if (cfg.variant() == Variant.NAME_OWNERSHIP_IGNORED) {
            store.ignoreNameOwnership();
        }
        if (cfg.variant() == Variant.RENEWAL_DEADLINE_FROM_ANSWER) {
            store.guaranteeFromAnswer();
        }
        if (cfg.variant() == Variant.RACE_BEFORE_KEY_GONE) {
            store.raceBeforeKeyGone();
        }
        if (cfg.variant() == Variant.LEASE_GUARD_JUST_TOO_LATE) {
            // deadline = guarantee - margin(guarantee), between ttl + 2.25 s and ttl + 2.5 s: just after the
            // quickest takeover (a race that waits out one unreachable peer, at most 2 s, then promotes).
            store.overrideLeaseGuarantee(ttl.plus(Duration.ofMillis(2500)).plus(marginOf(ttl)));
        }
        // Server-side expiry earlier than the client's view, within what the adapter declares (a ZooKeeper ensemble).
        Duration slack = ttl.minus(cfg.template().loopWait()).minus(cfg.template().retryTimeout().multipliedBy(2));
        // ... and the lease keeper's rule with the guarantee left: (guarantee - margin - retryTimeout)/3 >= 50 ms
        // (the margin is 0.5 s for any guarantee under 5 s, where this bound is the tighter one).
        Duration keeperSlack = ttl.minusMillis(500 + 150).minus(cfg.template().retryTimeout());
        slack = slack.compareTo(keeperSlack) < 0 ? slack : keeperSlack;
        if (cfg.variant() == Variant.SERVER_EXPIRY_UNDECLARED) {
            actualSkew = marginOf(ttl).plus(Duration.ofMillis(500 + rnd.nextInt(2500)));
        } else if (rnd.nextInt(3) == 0 && slack.toMillis() >= 100) {
            declaredSkew = Duration.ofMillis(100 * (1 + rnd.nextInt((int) Math.min(30, slack.toMillis() / 100))));
            actualSkew = Duration.ofMillis((long) (declaredSkew.toMillis() * rnd.nextDouble()));
        }
        store.serverSideExpiryEarlier(declaredSkew, actualSkew);
        store.lieAboutSyncToNonHolders(cfg.variant() == Variant.SYNC_SET_IGNORED);
        // A fence takes up to 450 ms (SIGQUIT not taking, SIGKILL 300 ms later, the postmaster's own exit).
        fenceLatency = Duration.ofMillis(rnd.nextInt(451));
        syncModeNow = cfg.template().synchronousMode() == SynchronousMode.ON;
        // A watchdog on some seeds, its timeout anywhere the start-time rule allows:
        // loopWait + retryTimeout < timeout <= lease guarantee - margin - 1 s (Watchdog.timingProblem).
        Duration guarantee = ttl.minus(declaredSkew);
        long lowMs = cfg.template().loopWait().plus(cfg.template().retryTimeout()).toMillis() + 100;
        long highMs = guarantee.minus(marginOf(guarantee)).minusSeconds(1).toMillis();
        if (cfg.variant() != Variant.JVM_PAUSE_WITHOUT_WATCHDOG && rnd.nextInt(3) == 0 && highMs >= lowMs) {
            watchdogTimeout = Duration.ofMillis(lowMs + 100L * rnd.nextInt((int) ((highMs - lowMs) / 100) + 1));
        }
        int nofailover = rnd.nextInt(5) == 0 ? rnd.nextInt(cfg.members()) : -1;
        int nosync = syncModeNow && rnd.nextInt(4) == 0 ? rnd.nextInt(cfg.members()) : -1;
        net.setListener(new Checker());
        // Drawn from a generator of its own, so every seed keeps the fault schedule it had before slots were kept.
        Random slotRnd = new Random(cfg.seed() * 31 + 7);
        int slotKind = slotRnd.nextInt(6);
        Duration slotLatency = Duration.ofSeconds(2 + slotRnd.nextInt(40));
        slotFault = slotKind == 0 ? "every call fails" : slotKind == 1 ? "every call takes " + slotLatency.toSeconds()
                + " s" : "none";
        for (int i = 0; i < cfg.members(); i++) {
            String name = "m" + (i + 1);
            HaSettings.Builder b = HaSettings.builder("sim", name)
                    .ttl(cfg.template().ttl()).loopWait(cfg.template().loopWait())
                    .retryTimeout(cfg.template().retryTimeout())
                    .maximumLagOnFailover(cfg.variant() == Variant.LAG_CHECK_DISABLED
                            ? DataSize.ofGigabytes(1024) : cfg.template().maximumLagOnFailover())
                    .primaryStartTimeout(cfg.template().primaryStartTimeout())
                    .synchronousMode(cfg.template().synchronousMode())
                    .synchronousModeStrict(cfg.template().synchronousModeStrict())
                    .failsafeMode(cfg.template().failsafeMode())
                    .synchronousNodeCount(cfg.template().synchronousNodeCount())
                    .allowReclone(cfg.allowReclone())
                    .tags(Tags.DEFAULT.withFailoverPriority(1 + rnd.nextInt(2)).withNofailover(i == nofailover)
                            .withNosync(i == nosync));
            SimMember m = new SimMember(name, i, b.build());
            m.pg.fenceLatency(fenceLatency);
            if (slotKind == 0) {
                m.pg.failSlotCalls(true);
            } else if (slotKind == 1) {
                m.pg.slowSlotCalls(slotLatency);
            }
            if (watchdogTimeout != null) {
                m.watchdog = new FakeWatchdog(clock, watchdogTimeout);
            }
            if (cfg.variant() == Variant.DIVERGENCE_UNCHECKED) {
                m.pg.lieAboutDivergence(true);
            }
            if (cfg.variant() == Variant.FAILED_PROBE_LOOKS_INVALID) {
                m.pg.failedProbeLooksInvalid(true);
            }
            if (cfg.variant() == Variant.TIMELINE_NUMBERS_REUSED) {
                m.pg.reuseTimelineNumbers(true);
            }
            members.put(name, m);
        }
    }

    /** The lease guard's margin for a guarantee of {@code g} (LeaseGuard.margin, restated for the variants). */
    private static Duration marginOf(Duration g) {
        Duration tenth = g.dividedBy(10);
        Duration m = tenth.compareTo(Duration.ofSeconds(2)) < 0 ? tenth : Duration.ofSeconds(2);
        return m.compareTo(Duration.ofMillis(500)) > 0 ? m : Duration.ofMillis(500);
    }

    // ------------------------------------------------------------------------------------------------ run

    public Result run() {
        try {
            clock.afterEachEvent(this::checkS1);
            for (SimMember m : members.values()) {
                clock.at(Duration.ofMillis(rnd.nextInt(2000)).toNanos(), m::startAgent);
            }
            clock.at(TICK.toNanos(), this::tick);
            planFaults();
            healAt = BOOT.plus(cfg.faultWindow()).toNanos();
            clock.at(healAt, this::healAll);
            clock.at(healAt + leaderAfterDisturbance(), this::checkLeaderAfterHeal);
            long end = healAt + cfg.settle().toNanos();
            clock.runUntil(end);
            if (violations.isEmpty()) {
                checkEnd();
            }
        } catch (RuntimeException | Error e) {
            violations.add(at() + " simulation error: " + e);
            note("sim", "ERROR " + e);
        } finally {
            clock.killAll();
        }
        String summary = String.format(Locale.ROOT,
                "seed %d: %d members, ttl %s, loopWait %s, retryTimeout %s, sync %s%s (%d standbys), failsafe %s, "
                        + "primaryStartTimeout %s, server expiry up to %d ms early (declared %d ms), fence %d ms, "
                        + "tags %s, watchdog %s, slot calls: %s, variant %s; %d events, %d commits, %d promotions",
                cfg.seed(), cfg.members(), Durations.format(cfg.template().ttl()),
                Durations.format(cfg.template().loopWait()), Durations.format(cfg.template().retryTimeout()),
                cfg.template().synchronousMode(), cfg.template().synchronousModeStrict() ? " strict" : "",
                cfg.template().synchronousNodeCount(), cfg.template().failsafeMode(),
                cfg.template().primaryStartTimeout().toSeconds() + "s", actualSkew.toMillis(), declaredSkew.toMillis(),
                fenceLatency.toMillis(), tagSummary(), watchdogTimeout == null ? "off" : watchdogTimeout.toMillis() + " ms",
                slotFault, cfg.variant(), clock.events(), commits, promotions);
        StringBuilder t = new StringBuilder();
        t.append(summary).append('\n').append("fault schedule:\n");
        schedule.forEach(s -> t.append("  ").append(s).append('\n'));
        t.append("events (last ").append(trace.size()).append("):\n");
        trace.forEach(s -> t.append("  ").append(s).append('\n'));
        return new Result(cfg.seed(), clock.events(), List.copyOf(violations), t.toString(), summary, s2Checks,
                s3Checks);
    }

    private String tagSummary() {
        List<String> t = new ArrayList<>();
        for (SimMember m : members.values()) {
            if (m.settings.tags().nofailover()) {
                t.add(m.name + " nofailover");
            }
            if (m.settings.tags().nosync()) {
                t.add(m.name + " nosync");
            }
        }
        return t.isEmpty() ? "none" : String.join(", ", t);
    }

    /** Client writes and replication, four times a second. */
    private void tick() {
        for (SimMember m : members.values()) {
            if (m.pg.isWritablePrimary()) {
                int n = rnd.nextInt(50) == 0 ? 150 + rnd.nextInt(200) : 1;
                for (int i = 0; i < n; i++) {
                    if (net.commit(m.pg) != null) {
                        commits++;
                    }
                }
            }
        }
        net.tick();
        snapshotLeaderWal();
        checkNosyncNeverSynchronous();
        scheduleWatchdogResets();
        clock.after(TICK, this::tick);
    }

    /**
     * The WAL the leader's published position refers to: what a promoted member may not lose more than
     * maximumLagOnFailover of (S2), measured in records actually missing, whatever the LSNs say.
     */
    private void snapshotLeaderWal() {
        Lsn optime = store.peekOptime();
        if (optime == null || optime.equals(snapshotOptime)) {
            return;
        }
        String holder = store.peekLeader();
        SimMember m = holder == null ? null : hostPublishing(store.peek(), holder);
        if (m == null) {
            return;
        }
        int records = (int) ((optime.value() - FakePostgres.lsnOf(0).value()) / FakePostgres.RECORD_BYTES);
        if (records > 0 && records <= m.pg.walSize()) {
            // Remember where, not what: the WAL is read only at a promotion, if its prefix is still the same.
            snapshotOptime = optime;
            snapshotHolder = m.pg;
            snapshotRecords = records;
            snapshotLastId = m.pg.record(records - 1);
        }
    }

    /** The leader's WAL up to its last published position, or null if that prefix has changed since (rewound). */
    private long[] leaderWalAtOptime() {
        if (snapshotHolder == null || snapshotHolder.walSize() < snapshotRecords
                || snapshotHolder.record(snapshotRecords - 1) != snapshotLastId) {
            return null;
        }
        return java.util.Arrays.copyOf(snapshotHolder.walCopy(), snapshotRecords);
    }

    // ------------------------------------------------------------------------------------------------ faults

    private void planFaults() {
        int n = 3 + rnd.nextInt(7);
        long window = cfg.faultWindow().toNanos();
        long ttl = cfg.template().ttl().toNanos();
        List<String> names = new ArrayList<>(members.keySet());
        for (int i = 0; i < n; i++) {
            long start = BOOT.toNanos() + (long) (rnd.nextDouble() * window * 0.85);
            // Half the member faults hit whoever leads when the fault starts: that is where the danger is.
            Target m = rnd.nextBoolean() ? new Target(null) : new Target(names.get(rnd.nextInt(names.size())));
            long dur = Duration.ofSeconds(3 + rnd.nextInt(60)).toNanos();
            long end = Math.min(start + dur, BOOT.toNanos() + window);
            int kind = rnd.nextInt(32); // 0..30 by case, 31: the default
            switch (kind) {
                case 0, 1 -> fault(start, end, m, "host crash (agent and postgres)",
                        x -> {
                            SimMember sm = members.get(x);
                            if (sm.agentAlive) {
                                sm.killAgent();
                            }
                            sm.pg.crash();
                        },
                        this::restartAgent);
                case 2 -> fault(start, start, m, "postgres crash (kill -9 postmaster)",
                        x -> members.get(x).pg.crash(), null);
                case 3 -> fault(start, end, m, "cut off from the DCS",
                        x -> store.partition(x, true), x -> store.partition(x, false));
                case 4 -> fault(start, end, m, "cut off from all peers (replication and REST)",
                        x -> cutFromPeers(x, true), x -> cutFromPeers(x, false));
                case 5 -> fault(start, end, Target.ALL, "DCS outage", x -> store.outage(true),
                        x -> store.outage(false));
                case 6 -> {
                    long stall = ttl / 2 + (long) (rnd.nextDouble() * ttl * 2.5);
                    long stallEnd = Math.min(start + stall, BOOT.toNanos() + window);
                    fault(start, stallEnd, m, "HA loop stalled (GC pause / hung call)",
                            x -> {
                                clock.freeze(x, "pgha-loop", stallEnd);
                                clock.freeze(x, "pgha-action", stallEnd);
                            }, null);
                }
                case 7 -> {
                    String candidate = rnd.nextBoolean() ? null : names.get(rnd.nextInt(names.size()));
                    // Half of them scheduled (patronictl switchover --scheduled), up to three loop_waits + 5 s ahead.
                    Duration ahead = rnd.nextBoolean() ? null : Duration.ofMillis(rnd.nextInt((int)
                            cfg.template().loopWait().multipliedBy(3).plusSeconds(5).toMillis()));
                    fault(start, start, new Target(candidate == null ? "any" : candidate), ahead == null
                            ? "switchover request" : "switchover request scheduled " + ahead.toMillis() + " ms ahead",
                            x -> requestSwitchover(candidate, ahead), null);
                }
                case 8 -> fault(start, end, Target.ALL, "pause", x -> setPause(true), x -> setPause(false));
                case 9 -> {
                    Duration req = Duration.ofMillis(rnd.nextInt(6000));
                    Duration resp = Duration.ofMillis(rnd.nextInt(6000));
                    fault(start, end, m, "slow DCS (request " + req.toMillis() + " ms, answer " + resp.toMillis()
                            + " ms)", x -> store.setLatency(x, req, resp),
                            x -> store.setLatency(x, Duration.ZERO, Duration.ZERO));
                }
                case 10 -> {
                    boolean afterChanges = rnd.nextBoolean();
                    fault(start, start, m, afterChanges ? "next pg_rewind fails after changing files"
                            : "next pg_rewind fails", x -> {
                                if (afterChanges) {
                                    members.get(x).pg.failNextRewindAfterChanges();
                                } else {
                                    members.get(x).pg.failNextRewind();
                                }
                            }, null);
                }
                case 11 -> fault(start, end, m, "replication stalled (standby receives nothing)",
                        x -> net.setBandwidth(x, 0), x -> net.setBandwidth(x, 64));
                case 12 -> fault(start, end, m, "probes of postgres fail (I/O error)",
                        x -> members.get(x).pg.failProbes(true), x -> members.get(x).pg.failProbes(false));
                case 15 -> {
                    boolean leave = rnd.nextBoolean();
                    fault(start, end, m, "agent closed" + (leave ? " (leaving a replica running)" : ""),
                            x -> {
                                SimMember sm = members.get(x);
                                if (sm.agentAlive) {
                                    sm.shutdownAgent(leave);
                                }
                            }, this::restartAgent);
                }
                case 14 -> {
                    String key = List.of(KeyLayout.CONFIG, KeyLayout.SYNC, KeyLayout.STATUS, KeyLayout.HISTORY,
                            KeyLayout.FAILOVER).get(rnd.nextInt(5));
                    if (key.equals(KeyLayout.CONFIG) && rnd.nextBoolean()) {
                        Object[] odd = oddConfigValue(rnd.nextInt(ODD_CONFIG_VALUES));
                        fault(start, start, Target.ALL, "the operator stores " + odd[0] + " = " + odd[1]
                                + " in the config key (" + odd[2] + ")", x -> plantInConfig((String) odd[0], odd[1]),
                                null);
                        break;
                    }
                    fault(start, start, Target.ALL, "the " + key + " key is overwritten with invalid JSON", x -> {
                        if (!corruptedKeys.containsKey(key)) { // (putIfAbsent would replace a null: absent before)
                            corruptedKeys.put(key, store.peekRaw(key));
                        }
                        store.putRaw(key, GARBAGE);
                    }, null);
                }
                case 13 -> {
                    // The member that promotes next dies right after (before the others follow it), and comes back
                    // later: the timeline it created must never be created again by anyone else.
                    long down = Duration.ofSeconds(5 + rnd.nextInt(40)).toNanos();
                    fault(start, start, Target.ALL, "the next member to promote crashes right after (host crash, back"
                            + " " + fmt(down).trim() + " later)", x -> crashAfterPromotion = down, null);
                }
                case 16 -> fault(start, end, m, "isolated (cut off from the DCS and from all peers)",
                        x -> {
                            store.partition(x, true);
                            cutFromPeers(x, true);
                        }, x -> {
                            store.partition(x, false);
                            cutFromPeers(x, false);
                        });
                case 17 -> {
                    Duration latency = Duration.ofSeconds(2 + rnd.nextInt(40));
                    fault(start, end, m, "probes of postgres take " + latency.toSeconds() + " s (a loaded host)",
                            x -> members.get(x).pg.slowProbes(latency),
                            x -> endSlowProbes(members.get(x)));
                }
                case 18 -> {
                    Duration tie = Duration.ofMillis(rnd.nextInt(200));
                    boolean tied = cfg.variant() != Variant.NO_JVM_TIE;
                    fault(start, end, m, "agent process dies" + (tied ? " (postgres, tied to its JVM, stops "
                            + tie.toMillis() + " ms later)" : " (postgres keeps running)"), x -> {
                                SimMember sm = members.get(x);
                                if (sm.agentAlive) {
                                    sm.killAgent();
                                    if (tied) {
                                        clock.at(clock.nanoTime() + tie.toNanos(), sm.pg::crash);
                                    }
                                }
                            }, this::restartAgent);
                }
                case 19 -> {
                    String candidate = names.get(rnd.nextInt(names.size()));
                    fault(start, start, new Target(candidate), "manual failover to " + candidate
                            + " (no leader named)", x -> store.adminWriteFailover(
                                    new FailoverRequest(null, candidate, null, -1)), null);
                }
                case 20 -> {
                    if (cfg.template().synchronousMode() == SynchronousMode.ON) {
                        fault(start, end, Target.ALL, "synchronous_mode turned off at run time",
                                x -> setSynchronousMode(false), x -> setSynchronousMode(true));
                    } else {
                        fault(start, end, Target.ALL, "synchronous_mode turned on at run time",
                                x -> setSynchronousMode(true), x -> setSynchronousMode(false));
                    }
                }
                case 21 -> {
                    String key = rnd.nextBoolean() ? "maximum_lag_on_failover" : "synchronous_node_count";
                    boolean lag = key.equals("maximum_lag_on_failover");
                    // The lag limit lowered (8 KiB to 512 KiB, a record to 64) and left so until the heal: long
                    // enough to meet a failover, low enough that a member still applying the old one promotes
                    // further behind than the limit in force (S2).
                    Object value = lag ? (Object) (8192 << rnd.nextInt(7)) : (Object) (1 + rnd.nextInt(2));
                    long until = lag ? BOOT.toNanos() + window : end;
                    fault(start, until, Target.ALL, key + " set to " + value + " at run time", x -> {
                        Map<String, Object> patch = new HashMap<>();
                        patch.put(key, value);
                        store.adminPatchConfig(patch);
                    }, x -> {
                        Map<String, Object> patch = new HashMap<>();
                        patch.put(key, null);
                        store.adminPatchConfig(patch);
                    });
                }
                case 22 -> {
                    if (watchdogTimeout == null && cfg.variant() != Variant.JVM_PAUSE_WITHOUT_WATCHDOG) {
                        // Without a watchdog a whole-JVM pause is a known limit (decision 0003): not injected.
                        fault(start, end, m, "cut off from one peer", x -> cutOne(x, true), x -> cutOne(x, false));
                        break;
                    }
                    long pause = ttl / 2 + (long) (rnd.nextDouble() * ttl * 2.5);
                    long pauseEnd = Math.min(start + pause, BOOT.toNanos() + window);
                    fault(start, pauseEnd, m, "whole-JVM pause (every agent thread, the lease guard's too)", x -> {
                        clock.freeze(x, "pgha-", pauseEnd);
                        // The DCS client's own heartbeats stop as well.
                        store.partition(x, true);
                    }, x -> store.partition(x, false));
                }
                case 23 -> fault(start, end, m, "a second agent starts with this member's name (an empty data"
                        + " directory of its own)", this::startImpostor, this::stopImpostor);
                case 24 -> {
                    // Up to 1.5 retryTimeouts each way: some renewals answer late, some time out.
                    long rt = cfg.template().retryTimeout().toMillis();
                    Duration req = Duration.ofMillis(rnd.nextInt((int) (rt * 3 / 2)));
                    Duration resp = Duration.ofMillis(rnd.nextInt((int) (rt * 3 / 2)));
                    fault(start, end, m, "slow lease renewals (request " + req.toMillis() + " ms, answer "
                            + resp.toMillis() + " ms; other calls as usual)", x -> store.setRenewalLatency(x, req, resp),
                            x -> store.setRenewalLatency(x, Duration.ZERO, Duration.ZERO));
                }
                case 25 -> fault(start, end, m, "lease renewals refused (connection refused; other calls as usual)",
                        x -> store.refuseRenewals(x, true), x -> store.refuseRenewals(x, false));
                case 26 -> {
                    long stall = ttl / 2 + (long) (rnd.nextDouble() * ttl * 2.5);
                    long stallEnd = Math.min(start + stall, BOOT.toNanos() + window);
                    fault(start, stallEnd, m, "lease keeper thread stalled",
                            x -> clock.freeze(x, "pgha-lease-keeper", stallEnd), null);
                }
                case 27 -> {
                    // The renewal is applied at once and confirmed just within retryTimeout; the member is cut off
                    // in between: the lease can end a round trip before the confirmation arrives.
                    Duration resp = cfg.template().retryTimeout().minusMillis(200 + rnd.nextInt(300));
                    fault(start, end, m, "a lease renewal confirmed " + resp.toMillis() + " ms late, the member"
                            + " isolated (DCS and peers) as soon as the store applied it", x -> {
                                store.setRenewalLatency(x, Duration.ZERO, resp);
                                store.afterNextRenewal(x, () -> {
                                    store.partition(x, true);
                                    clock.at(clock.nanoTime(), () -> cutFromPeers(x, true));
                                });
                            }, x -> {
                                store.afterNextRenewal(x, null);
                                store.setRenewalLatency(x, Duration.ZERO, Duration.ZERO);
                                store.partition(x, false);
                                cutFromPeers(x, false);
                            });
                }
                case 28 -> fault(start, end, m, "reads of the cluster time out (renewals and writes answer as usual)",
                        x -> store.stallReads(x, true), x -> store.stallReads(x, false));
                case 29 -> {
                    int op = rnd.nextInt(4);
                    Duration ahead = Duration.ofMillis(rnd.nextInt(20_000));
                    // Half the immediate restarts with Patroni's timeout, 1-15 s (a leader then gives up the lock
                    // after it instead of primaryStartTimeout).
                    Duration timeout = rnd.nextBoolean() ? null : Duration.ofMillis(1000 + rnd.nextInt(14_000));
                    // Half of them hit a synchronous standby when there is one: it must leave the set first (S3).
                    boolean syncStandby = rnd.nextBoolean();
                    fault(start, start, m, switch (op) {
                        case 0 -> "the operator restarts postgres" + (timeout == null ? ""
                                : " (timeout " + timeout.toMillis() + " ms)");
                        case 1 -> "the operator schedules a restart " + ahead.toMillis() + " ms ahead";
                        case 2 -> "the operator reinitializes the member";
                        default -> "the operator restarts postgres, then forces a reinitialize "
                                + ahead.toMillis() / 40 + " ms later (cancelling the restart if it still runs)";
                    } + (syncStandby ? " (a synchronous standby, if any)" : ""),
                            x -> operatorRequest(syncStandby ? syncStandbyOr(x) : x, op, ahead, timeout), null);
                }
                case 30 -> {
                    Boolean[] before = new Boolean[1];
                    fault(start, end, m, "the operator flips nofailover in the member's file and reloads (put back"
                            + " at the heal)", x -> before[0] = setNofailover(x, !members.get(x).fileTags.nofailover()),
                            x -> {
                                if (before[0] != null) {
                                    setNofailover(x, before[0]);
                                }
                            });
                }
                default -> fault(start, end, m, "cut off from one peer",
                        x -> cutOne(x, true), x -> cutOne(x, false));
            }
        }
    }

    /** Who a fault hits: a named member, "all", or (name null) whoever leads when it starts. */
    private record Target(String name) {
        static final Target ALL = new Target("all");

        String describe() {
            return name == null ? "leader" : name;
        }
    }

    private String resolve(Target t) {
        if (t.name() != null) {
            return t.name();
        }
        ClusterView v = store.peek();
        if (v.leader() != null && members.containsKey(v.leader().holder())) {
            return v.leader().holder();
        }
        List<String> names = new ArrayList<>(members.keySet());
        return names.get(rnd.nextInt(names.size()));
    }

    private String onePeerOf(String m) {
        List<String> others = members.keySet().stream().filter(x -> !x.equals(m)).toList();
        return others.get((int) Math.floorMod(cfg.seed() + m.hashCode(), (long) others.size()));
    }

    private void cutOne(String m, boolean cut) {
        net.cut(m, onePeerOf(m), cut);
        disturbed(m);
        disturbed(onePeerOf(m));
    }

    private void fault(long start, long end, Target target, String what,
            java.util.function.Consumer<String> begin, java.util.function.Consumer<String> finish) {
        schedule.add(fmt(start) + (end > start ? ".." + fmt(end) : "") + " " + target.describe() + ": " + what);
        String[] hit = new String[1];
        clock.at(start, () -> {
            hit[0] = resolve(target);
            note(hit[0], "FAULT " + what);
            disturbed(hit[0]);
            begin.accept(hit[0]);
        });
        if (finish != null && end > start) {
            clock.at(end, () -> {
                note(hit[0], "HEAL " + what);
                disturbed(hit[0]);
                finish.accept(hit[0]);
            });
        }
    }

    /**
     * A disturbance now; one already known to last longer (a slow probe still in flight, {@link #endSlowProbes}) is
     * kept, even when another fault ends at the same instant (the heal).
     */
    private void disturbed(String who) {
        long now = clock.nanoTime();
        if (who.equals("all") || who.equals("any")) {
            members.keySet().forEach(n -> lastDisturbance.merge(n, now, Math::max));
        } else {
            lastDisturbance.merge(who, now, Math::max);
        }
    }

    /**
     * Probes answer quickly again, but one already running still takes its full latency: until it answers the member
     * knows nothing of its PostgreSQL (its peers, asking over REST, learn the state directly). S5 counts from then.
     */
    private void endSlowProbes(SimMember m) {
        long inFlightUntil = clock.nanoTime() + m.pg.probeLatency().toNanos();
        m.pg.slowProbes(Duration.ZERO);
        lastDisturbance.merge(m.name, inFlightUntil, Math::max);
    }

    private void restartAgent(String m) {
        SimMember x = members.get(m);
        if (!x.agentAlive) {
            // A shutdown still in progress belongs to the old process: it ends with it, keep-alives included, and
            // so does its postmaster, tied to that JVM.
            if (x.shuttingDown && cfg.variant() != Variant.NO_JVM_TIE) {
                x.pg.crash();
            }
            x.shuttingDown = false;
            clock.kill(m);
            x.session.abandon();
            x.startAgent();
        }
    }

    private void cutFromPeers(String m, boolean cut) {
        for (String o : members.keySet()) {
            if (!o.equals(m)) {
                net.cut(m, o, cut);
            }
        }
    }

    private void requestSwitchover(String candidate, Duration ahead) {
        ClusterView v = store.peek();
        if (v.leader() == null) {
            return;
        }
        OffsetDateTime at = ahead == null ? null
                : OffsetDateTime.ofInstant(clock.wallTime().plus(ahead), ZoneOffset.UTC);
        store.adminWriteFailover(new FailoverRequest(v.leader().holder(), candidate, at, -1));
    }

    /** The first standby the {@code sync} key lists now, or {@code x} when it lists none. */
    private String syncStandbyOr(String x) {
        List<String> standbys = store.peek().sync().standbys();
        return standbys.isEmpty() || !members.containsKey(standbys.get(0)) ? x : standbys.get(0);
    }

    /**
     * The operator sets {@code nofailover} in member {@code x}'s file and asks for a reload (Patroni's way to keep a
     * member out of failovers during maintenance). Two members stay able to take over, so the cluster can always
     * elect one; a member whose agent is down takes the file at its next start.
     *
     * @return the value it had, or null when it was left as it was
     */
    private Boolean setNofailover(String x, boolean on) {
        SimMember sm = members.get(x);
        boolean was = sm.fileTags.nofailover();
        long able = members.values().stream().filter(o -> !o.impostor && !o.fileTags.nofailover()).count();
        if (was == on || (on && (able <= 2 || namedInSync(x)))) {
            note(x, "nofailover left " + was + " in its file");
            return null;
        }
        sm.fileTags = sm.fileTags.withNofailover(on);
        note(x, "nofailover " + on + " in its file, reload requested");
        if (sm.agentAlive) {
            MemberOperations ops = sm.loop.operations();
            ops.submit(new MemberRequest.Reload(ops.newRequestId()));
        }
        return was;
    }

    /**
     * Whether synchronous mode names {@code x} in the {@code sync} key (leader or standby). An operator does not tag
     * such a member nofailover: should it then be lost, only members it names may promote (rule S3), none of them
     * could, and the cluster would wait for the operator (Patroni's too). The checker's S5 would take that for a
     * liveness failure of pgha's.
     */
    private boolean namedInSync(String x) {
        if (!syncModeNow) {
            return false;
        }
        try {
            return x.equals(store.peekSyncLeader()) || store.peekSyncStandbys().contains(x);
        } catch (IllegalArgumentException undecodable) {
            return true;
        }
    }

    /**
     * An operator's request on member {@code x}, as {@code MemberAdmin} hands it to the loop: a restart now, a restart
     * scheduled up to 20 s ahead, or a reinitialize, plain or forced (a forced one cancels a replica's restart, start,
     * rewind or clone in flight; the loop's own rules refuse both on a leader).
     */
    private void operatorRequest(String x, int kind, Duration ahead, Duration timeout) {
        SimMember sm = members.get(x);
        if (!sm.agentAlive) {
            return;
        }
        MemberOperations ops = sm.loop.operations();
        switch (kind) {
            case 0 -> ops.submit(new MemberRequest.Restart(ops.newRequestId(), null, null, 0, null, false, timeout));
            case 1 -> ops.schedule(new MemberRequest.Restart(ops.newRequestId(), clock.wallTime().plus(ahead), null, 0,
                    null, false));
            case 2 -> ops.submit(new MemberRequest.Reinitialize(ops.newRequestId()));
            default -> {
                // A forced reinitialize matters while a long action runs: a restart first, the force 0-0.5 s later,
                // asked again every 100 ms (up to 10 times) while the restart request still waits to be taken.
                ops.submit(new MemberRequest.Restart(ops.newRequestId(), null, null, 0, null, false, timeout));
                forceReinitialize(sm, clock.nanoTime() + ahead.toNanos() / 40, 10);
            }
        }
    }

    /** The operator's forced reinitialize on {@code sm} at {@code atNanos}, asked again while another request waits. */
    private void forceReinitialize(SimMember sm, long atNanos, int attempts) {
        clock.at(atNanos, () -> {
            if (!sm.agentAlive) {
                return;
            }
            MemberOperations ops = sm.loop.operations();
            if (ops.submit(new MemberRequest.Reinitialize(ops.newRequestId(), true)).isPresent() && attempts > 1) {
                forceReinitialize(sm, clock.nanoTime() + Duration.ofMillis(100).toNanos(), attempts - 1);
            }
        });
    }

    /**
     * Synchronous mode switched at run time. Commits acknowledged under it are protected by rule S3 only while it is
     * on: once it is off, only S2 (the lag limit) guards them, so the checker stops counting them.
     */
    private void setSynchronousMode(boolean on) {
        Map<String, Object> patch = new HashMap<>();
        patch.put("synchronous_mode", on);
        store.adminPatchConfig(patch);
        syncModeNow = on;
        if (!on) {
            syncAcked.clear();
        }
    }

    private void setPause(boolean on) {
        Map<String, Object> patch = new HashMap<>();
        patch.put("pause", on ? Boolean.TRUE : null);
        store.adminPatchConfig(patch);
        if (on) {
            pausedNow.add("all");
        } else {
            pausedNow.clear();
        }
    }

    private void healAll() {
        note("all", "HEAL everything");
        new ArrayList<>(impostors.keySet()).forEach(this::stopImpostor);
        store.outage(false);
        for (SimMember m : members.values()) {
            store.partition(m.name, false);
            store.setLatency(m.name, Duration.ZERO, Duration.ZERO);
            net.setBandwidth(m.name, 64);
            for (String o : members.keySet()) {
                net.cut(m.name, o, false);
            }
            m.pg.failProbes(false);
            endSlowProbes(m);
            clock.thaw(m.name);
            restartAgent(m.name);
            lastDisturbance.merge(m.name, clock.nanoTime(), Math::max);
        }
        // A key still garbled has had nobody to repair it (no leader: in synchronous mode an undecodable sync key
        // blocks every promotion): the operator restores the value it held before.
        corruptedKeys.forEach((key, before) -> {
            if (GARBAGE.equals(store.peekRaw(key))) {
                note("all", "operator restores the " + key + " key, still undecodable");
                if (before == null) {
                    store.adminDelete(key);
                } else {
                    store.putRaw(key, before);
                }
            }
        });
        corruptedKeys.clear();
        plantedConfig.forEach((key, before) -> {
            note("all", "operator restores " + key + " in the config key");
            Map<String, Object> patch = new HashMap<>();
            patch.put(key, before);
            store.adminPatchConfig(patch);
        });
        plantedConfig.clear();
        if (!pausedNow.isEmpty()) {
            setPause(false);
        }
        if (syncModeNow != (cfg.template().synchronousMode() == SynchronousMode.ON)) {
            setSynchronousMode(!syncModeNow);
        }
        operatorConfigLost();
    }

    /** Setting, value and what it breaks: a wrong type (the setting keeps its last value) or a rule (the same). */
    private Object[] oddConfigValue(int i) {
        Number ttl = io.pgha.core.config.Durations.toSeconds(cfg.template().ttl());
        return switch (i) {
            case 0 -> new Object[] {"ttl", "soon", "wrong type"};
            case 1 -> new Object[] {"loop_wait", "often", "wrong type"};
            case 2 -> new Object[] {"retry_timeout", "later", "wrong type"};
            case 3 -> new Object[] {"maximum_lag_on_failover", "lots", "wrong type"};
            case 4 -> new Object[] {"synchronous_mode", "sometimes", "wrong type"};
            case 5 -> new Object[] {"synchronous_mode", "quorum", "not supported"};
            case 6 -> new Object[] {"synchronous_node_count", "two", "wrong type"};
            case 7 -> new Object[] {"pause", "perhaps", "wrong type"};
            case 8 -> new Object[] {"postgresql", "off", "wrong type"};
            case 9 -> new Object[] {"failsafe_mode", "maybe", "wrong type"};
            case 10 -> new Object[] {"loop_wait", ttl, "breaks loopWait + 2*retryTimeout <= ttl"};
            case 11 -> new Object[] {"retry_timeout", ttl, "breaks loopWait + 2*retryTimeout <= ttl"};
            case 12 -> new Object[] {"synchronous_node_count", 0, "breaks synchronousNodeCount >= 1"};
            default -> new Object[] {"ttl", 1, "breaks the timing rules and the store's lease"};
        };
    }

    /** The operator's {@code patronictl edit-config --set key=value}: stored as given, no check. */
    private void plantInConfig(String key, Object value) {
        if (!plantedConfig.containsKey(key)) {
            Object before = store.peek().config().json().get(key);
            plantedConfig.put(key, before);
        }
        Map<String, Object> patch = new HashMap<>();
        patch.put(key, value);
        store.adminPatchConfig(patch);
    }

    /**
     * The operator's last word on the config key may have been lost: a leader that repairs an undecodable config key
     * writes the last value it decoded (decision 0005), which can predate an unpause or a sync-mode switch. Checked
     * at the heal, like an operator looking at {@code patronictl list}.
     */
    private void operatorConfigLost() {
        ClusterView v = store.peek();
        if (v.isUndecodable(KeyLayout.CONFIG)) {
            return;
        }
        if (v.config().pause()) {
            note("all", "operator: the cluster is still paused after the heal (the unpause was overwritten): unpausing");
            setPause(false);
        }
        SynchronousMode wanted = cfg.template().synchronousMode();
        if (v.config().synchronousMode().orElse(wanted) != wanted) {
            note("all", "operator: synchronous_mode is not as set after the heal: setting it again");
            setSynchronousMode(wanted == SynchronousMode.ON);
        }
    }

    // ------------------------------------------------------------------------------------------------ checks

    private void checkS1() {
        String first = null;
        for (SimMember m : hosts.values()) {
            if (m.pg.isWritablePrimary()) {
                if (first != null) {
                    violate("S1 two writable primaries: " + first + " and " + m.host);
                    return;
                }
                first = m.host;
            }
        }
    }

    /** The host whose PostgreSQL {@code p} is. */
    private SimMember hostOf(FakePostgres p) {
        return hosts.get(p.address());
    }

    /**
     * The host that publishes member {@code name}'s key: found by the address in the key (an impostor that took over
     * a free name is reached at its own), else the member of that name.
     */
    private SimMember hostPublishing(ClusterView v, String name) {
        Member key = v == null ? null : v.members().get(name);
        SimMember h = key == null ? null : hosts.get(addressIn(key.connUrl()));
        return h != null ? h : members.get(name);
    }

    private static HostPort addressIn(String connUrl) {
        if (connUrl == null || !connUrl.startsWith("postgres://")) {
            return null;
        }
        String rest = connUrl.substring("postgres://".length());
        int slash = rest.indexOf('/');
        String hp = slash < 0 ? rest : rest.substring(0, slash);
        int colon = hp.lastIndexOf(':');
        return colon < 0 ? null : new HostPort(hp.substring(0, colon), Integer.parseInt(hp.substring(colon + 1)));
    }

    /** A second agent with {@code name}'s member name and an empty data directory of its own starts. */
    private void startImpostor(String name) {
        if (impostors.containsKey(name)) {
            return;
        }
        SimMember real = members.get(name);
        SimMember imp = new SimMember(name, name + "'", true, new HostPort("10.0.1." + hosts.size(), 5432),
                real.settings);
        impostors.put(name, imp);
        imp.startAgent();
    }

    /** The operator stops the impostor of {@code name} (and its PostgreSQL, whatever it became). */
    private void stopImpostor(String name) {
        SimMember imp = impostors.remove(name);
        if (imp == null) {
            return;
        }
        if (imp.agentAlive) {
            imp.killAgent();
        } else {
            clock.kill(imp.host);
        }
        imp.pg.crash();
    }

    private final class Checker implements FakePostgresNetwork.Listener {
        @Override
        public void divergedStream(FakePostgres standby, FakePostgres upstream, String detail) {
            violate("S4 " + standby.name() + " streams from " + upstream.name() + " with a diverged history: "
                    + detail);
        }

        @Override
        public void acknowledged(FakePostgresNetwork.Commit c) {
            if (syncModeNow && c.primary.equals(syncLeader())) {
                c.underSyncMode = true;
                syncAcked.add(c);
            }
        }

        @Override
        public void promoted(FakePostgres p) {
            promotions++;
            long crashAt = clock.nanoTime() + Duration.ofMillis(rnd.nextInt(300)).toNanos();
            if (crashAfterPromotion > 0 && crashAt < healAt) {
                long back = Math.min(crashAt + crashAfterPromotion, healAt);
                crashAfterPromotion = 0;
                SimMember sm = members.get(hostOf(p).name);
                clock.at(crashAt, () -> {
                    note(sm.name, "FAULT host crash right after promoting");
                    disturbed(sm.name);
                    if (sm.agentAlive) {
                        sm.killAgent();
                    }
                    sm.pg.crash();
                });
                clock.at(back, () -> {
                    note(sm.name, "HEAL host back");
                    disturbed(sm.name);
                    restartAgent(sm.name);
                });
            }
            note(p.name(), "PROMOTED at " + FakePostgres.lsnOf(p.walSize()) + " timeline " + p.timeline());
            ClusterView v = store.peek();
            // An operator's failover (candidate named, no leader) may override the lag limit; a switchover may not.
            boolean named = p.name().equals(v.failover().candidate());
            boolean failover = named && v.failover().leader() == null;
            SimMember promoted = hostOf(p);
            // The limit in force as far as the member could know: what the config it read says, in the cycle that
            // promotes or the one before (it may have won the race on that read).
            long maxLag = Math.max(lagLimitIn(promoted.loop.lastView()), promoted.lagLimitLastCycle);
            long[] leaderWalAtOptime = failover ? null : leaderWalAtOptime();
            io.pgha.core.cluster.LeaderLock lock = v.leader();
            boolean sameLockAsWhenTagged = lock != null && lock.holder().equals(promoted.name)
                    && lock.epoch() == promoted.lockEpochWhenTagged;
            if (promoted.tagsInForce.nofailover() && !sameLockAsWhenTagged) {
                violate("S2 " + p.name() + " is tagged nofailover and was promoted");
            }
            if (leaderWalAtOptime != null) {
                s2Checks++;
                long[] mine = p.walCopy();
                int common = 0;
                int n = Math.min(mine.length, leaderWalAtOptime.length);
                while (common < n && mine[common] == leaderWalAtOptime[common]) {
                    common++;
                }
                long missing = (leaderWalAtOptime.length - common) * FakePostgres.RECORD_BYTES;
                if (missing > maxLag) {
                    violate("S2 " + p.name() + " promoted missing " + missing + " B of the WAL up to the leader's "
                            + "last position " + snapshotOptime + " (maximumLagOnFailover " + maxLag + " B)");
                }
            }
            if (!named) {
                checkNoReachablePeerAhead(p, v);
            }
            checkHasSyncAcked(p, "promoted");
        }
    }

    /**
     * The lag limit a member applies from {@code v}'s config: the stored value; when absent its own, the template's;
     * when unusable the template's too (the member keeps its last applied one, which is not above it). Never above
     * the template's: the operator only lowers it at run time, and a config bootstrapped by a member of
     * {@link Variant#LAG_CHECK_DISABLED} holds that member's unlimited value.
     */
    private long lagLimitIn(ClusterView v) {
        long template = cfg.template().maximumLagOnFailover().bytes();
        return v == null ? template : Math.min(template, v.config().maximumLagOnFailover().orElse(template));
    }

    /** A watchdog due before the next tick resets its host exactly on time (the device does not poll). */
    private void scheduleWatchdogResets() {
        long now = clock.nanoTime();
        for (SimMember m : members.values()) {
            FakeWatchdog wd = m.watchdog;
            if (wd == null) {
                continue;
            }
            long at = wd.resetAtNanos();
            if (at < now + TICK.toNanos()) {
                clock.at(Math.max(at, now), () -> {
                    if (m.watchdog == wd && wd.resetAtNanos() <= clock.nanoTime()) {
                        resetHost(m);
                    }
                });
            }
        }
    }

    /** The watchdog fired: the host resets at once (agent and postgres gone) and reboots a little later. */
    private void resetHost(SimMember m) {
        note(m.name, "WATCHDOG reset the host (no keepalive for " + watchdogTimeout.toMillis() + " ms)");
        disturbed(m.name);
        if (m.agentAlive) {
            m.killAgent();
        }
        m.shuttingDown = false;
        clock.kill(m.name);
        m.pg.crash();
        m.watchdog = new FakeWatchdog(clock, watchdogTimeout);
        store.partition(m.name, false);
        long back = clock.nanoTime() + Duration.ofSeconds(10 + rnd.nextInt(20)).toNanos();
        rebootingUntil.put(m.name, back);
        clock.at(back, () -> {
            rebootingUntil.remove(m.name);
            note(m.name, "host back after the watchdog reset");
            disturbed(m.name);
            restartAgent(m.name);
        });
    }

    /** S3 and tags: a member tagged nosync is never named a synchronous standby in the {@code sync} key. */
    private void checkNosyncNeverSynchronous() {
        java.util.List<String> standbys;
        try {
            standbys = store.peekSyncStandbys();
        } catch (IllegalArgumentException undecodable) {
            return;
        }
        for (String n : standbys) {
            SimMember m = members.get(n);
            if (m != null && m.settings.tags().nosync()) {
                violate("S3 " + n + " is tagged nosync but the sync key names it a synchronous standby");
            }
        }
    }

    /** The sync key's leader; while the key holds garbage, the last one it named (PostgreSQL still enforces it). */
    private String syncLeader() {
        try {
            lastSyncLeader = store.peekSyncLeader();
        } catch (IllegalArgumentException undecodable) {
            // keep the last one
        }
        return lastSyncLeader;
    }

    /** S2, second half: no peer the promoted member could see steadily, and that could be promoted, was ahead. */
    private void checkNoReachablePeerAhead(FakePostgres p, ClusterView v) {
        long now = clock.nanoTime();
        long steady = cfg.template().ttl().multipliedBy(2).toNanos();
        boolean syncActive = cfg.template().synchronousMode() == SynchronousMode.ON && v.sync().isActive();
        for (SimMember o : members.values()) {
            if (o.name.equals(p.name()) || !o.agentAlive || !o.pg.isReplicaRunning()
                    || !net.linked(p.name(), o.name)) {
                continue;
            }
            if (now - lastDisturbance.getOrDefault(o.name, 0L) < steady
                    || now - lastDisturbance.getOrDefault(p.name(), 0L) < steady) {
                continue;
            }
            if (o.settings.tags().neverPromote() || (syncActive && !v.sync().mayPromote(o.name))) {
                continue;
            }
            if (o.pg.timeline() < p.timeline() - 1 || o.pg.timeline() < v.history().clusterTimeline() - 1) {
                continue; // a dead branch: its positions are not comparable
            }
            if (syncActive && o.name.equals(v.sync().leader())) {
                continue;
            }
            Member key = v.members().get(o.name);
            if (key == null || key.apiUrl() == null || hostPublishing(v, o.name) != o) {
                continue;
            }
            s2Checks++;
            // p's own promotion added one record; compare with its position before that. Ahead means holding a
            // client's commit that p lacks: a peer that only got a checkpoint or end-of-recovery record meanwhile
            // (nightly seed 6488: m4 streamed the end-of-recovery record of m5's dead timeline 2 from m5, restarted
            // read-only, between m3's look at its peers and m3's promotion) lost no data to anyone.
            int before = p.walSize() - 1;
            if (o.pg.walSize() > before) {
                long missing = firstClientWriteMissing(o.pg, p);
                if (missing >= 0) {
                    violate("S2 " + p.name() + " promoted at " + FakePostgres.lsnOf(before) + " while the reachable "
                            + o.name + " was ahead at " + FakePostgres.lsnOf(o.pg.walSize()) + " (it holds commit "
                            + missing + ", which " + p.name() + " lacks)");
                }
            }
        }
    }

    /** The first client commit in {@code o}'s WAL that {@code p}'s lacks, or -1. */
    private long firstClientWriteMissing(FakePostgres o, FakePostgres p) {
        Set<Long> have = new HashSet<>();
        for (long id : p.walCopy()) {
            have.add(id);
        }
        for (long id : o.walCopy()) {
            if (!have.contains(id) && net.isClientWrite(id)) {
                return id;
            }
        }
        return -1;
    }

    /** S3: every commit acknowledged under synchronous replication is in {@code p}'s WAL. */
    private void checkHasSyncAcked(FakePostgres p, String when) {
        if (syncAcked.isEmpty()) {
            return;
        }
        s3Checks++;
        long[] wal = p.walCopy();
        Set<Long> ids = new HashSet<>(wal.length * 2);
        for (long id : wal) {
            ids.add(id);
        }
        for (FakePostgresNetwork.Commit c : syncAcked) {
            if (!ids.contains(c.id)) {
                violate("S3 " + p.name() + " " + when + " without commit " + c.id + " acknowledged by " + c.primary
                        + " at " + fmt(c.ackedAt) + " under synchronous mode");
                return;
            }
        }
    }

    private void checkLeaderAfterHeal() {
        if (!violations.isEmpty()) {
            return;
        }
        // A disturbance the faults leave behind after they healed (a watchdog resetting a host, its reboot) starts
        // the clock again: a leader's host that goes down costs its lease like any crash, since the restarted agent
        // cannot take over the lease of the process that died (docs/decisions 0011). checkEnd covers what is later.
        // A host still rebooting is a disturbance until it is back (its return is one too).
        long last = java.util.stream.Stream.concat(lastDisturbance.values().stream(), rebootingUntil.values().stream())
                .mapToLong(Long::longValue).max().orElse(healAt);
        long due = last + leaderAfterDisturbance();
        if (due > clock.nanoTime() && due < healAt + cfg.settle().toNanos()) {
            clock.at(due, this::checkLeaderAfterHeal);
            return;
        }
        ClusterView v = store.peek();
        SimMember leader = v.leader() == null ? null : members.get(v.leader().holder());
        if (leader == null || !leader.pg.isWritablePrimary()) {
            violate("S5 no leader running as primary " + fmt(clock.nanoTime() - healAt)
                    + " after all faults healed (ttl + loopWait + 12s after the last disturbance): leader key "
                    + (v.leader() == null ? "free" : "held by " + v.leader().holder()) + "; " + states());
        }
    }

    /** S5: how long after faults heal a leader must run as a writable primary: ttl + loopWait, plus the race. */
    private long leaderAfterDisturbance() {
        return cfg.template().ttl().plus(cfg.template().loopWait()).plusSeconds(12).toNanos();
    }

    private void checkEnd() {
        ClusterView v = store.peek();
        SimMember leader = v.leader() == null ? null : members.get(v.leader().holder());
        if (leader == null || !leader.pg.isWritablePrimary()) {
            violate("S5 no leader at the end: " + states());
            return;
        }
        for (SimMember m : members.values()) {
            if (m == leader) {
                continue;
            }
            if (!m.pg.isReplicaRunning() || !m.pg.isStreaming() || !leader.address.equals(m.pg.upstream())) {
                violate("S5 " + m.name + " is not streaming from the leader " + leader.name + " "
                        + fmt(cfg.settle().toNanos()) + " after all faults healed: " + states());
                return;
            }
        }
        if (slotFault.equals("none")) {
            // Slots converge too: the leader has one per other member, a replica none (its earlier life's are gone).
            java.util.Set<String> others = new java.util.TreeSet<>(members.keySet());
            others.remove(leader.name);
            for (SimMember m : members.values()) {
                java.util.Set<String> want = m == leader ? others : java.util.Set.of();
                if (!new java.util.TreeSet<>(m.pg.slotNames()).equals(want)) {
                    violate("S5 " + m.name + (m == leader ? " (leader)" : "") + " has replication slots "
                            + new java.util.TreeSet<>(m.pg.slotNames()) + ", not " + want + " "
                            + fmt(cfg.settle().toNanos()) + " after all faults healed");
                }
            }
        }
        checkHasSyncAcked(leader.pg, "is the final leader");
    }

    private String states() {
        StringBuilder b = new StringBuilder();
        for (SimMember m : members.values()) {
            b.append(m.name).append('=').append(m.pg).append(m.agentAlive ? "" : "(agent down)").append(' ');
        }
        return b.toString().trim();
    }

    private void violate(String what) {
        if (violations.isEmpty()) {
            note("CHECK", "VIOLATION " + what);
        }
        violations.add(at() + " " + what);
        throw new InvariantViolated(what);
    }

    /** Stops the run at the first violation (thrown through the driver). */
    static final class InvariantViolated extends RuntimeException {
        private static final long serialVersionUID = 1L;

        InvariantViolated(String what) {
            super(what, null, false, false);
        }
    }

    private void note(String who, String what) {
        String line = at() + " " + who + ": " + what;
        if (line.equals(lastTrace)) {
            return;
        }
        lastTrace = line;
        trace.addLast(line);
        if (trace.size() > 600) {
            trace.removeFirst();
        }
    }

    private String at() {
        return fmt(clock.nanoTime());
    }

    private static String fmt(long nanos) {
        return String.format(Locale.ROOT, "%8.3fs", nanos / 1e9);
    }

    // ------------------------------------------------------------------------------------------------ peers

    /** REST between simulated members: reachable when their link is up and the agent runs. */
    private final class SimPeerClient implements PeerClient {
        private final SimMember self;

        SimPeerClient(SimMember self) {
            this.self = self;
        }

        @Override
        public Map<String, PeerStatus> fetchStatus(Collection<Member> asked, Duration timeout) {
            boolean anyUnreachable = asked.stream().anyMatch(m -> !reachable(host(m)));
            sleep(anyUnreachable ? timeout : Duration.ofMillis(3));
            Map<String, PeerStatus> out = new TreeMap<>();
            for (Member m : asked) {
                SimMember o = host(m);
                if (reachable(o)) {
                    PgState s = o.pg.probeNow();
                    out.put(m.name(), new PeerStatus(m.name(), s.run() == PgState.Run.RUNNING,
                            s.role() != Role.PRIMARY, s.walPosition(), s.timeline(),
                            o.loopTags.nofailover(), o.loopTags.failoverPriority(),
                            s.replayPaused(), o.loop.lastView() != null && o.loop.lastView().config().pause()));
                }
            }
            return out;
        }

        @Override
        public FailsafeRound confirmFailsafe(Collection<Member> asked, Member me, long sentAtNanos,
                Duration timeout) {
            boolean anyUnreachable = asked.stream().anyMatch(m -> !reachable(host(m)));
            sleep(anyUnreachable ? timeout : Duration.ofMillis(3));
            List<String> refused = new ArrayList<>();
            for (Member m : asked) {
                SimMember o = host(m);
                if (!reachable(o) || o.pg.isWritablePrimary() || !o.loop.onFailsafePing(self.name).accepted()) {
                    refused.add(m.name());
                }
            }
            return new FailsafeRound(sentAtNanos, asked.stream().map(Member::name).toList(), refused);
        }

        /** Peers are asked at the address their member key gives, like the REST client does. */
        private SimMember host(Member m) {
            SimMember h = hosts.get(addressIn(m.connUrl()));
            return h != null ? h : members.get(m.name());
        }

        private boolean reachable(SimMember o) {
            return o != null && o != self && o.agentAlive && net.linked(self.host, o.host);
        }

        private void sleep(Duration d) {
            try {
                clock.sleep(d.toNanos());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
