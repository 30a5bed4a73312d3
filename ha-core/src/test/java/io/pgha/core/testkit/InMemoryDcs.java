package io.pgha.core.testkit;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Member;
import io.pgha.core.spi.ChangeDispatcher;
import io.pgha.core.spi.ClusterViewDecoder;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.KeyValueDcs;
import io.pgha.core.spi.MemberNameTakenException;
import io.pgha.core.spi.PatroniJson;
import io.pgha.core.spi.RawNode;
import io.pgha.core.time.HaClock;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * <b>Test fake.</b> An in-memory DCS with etcd-like semantics: one revision counter, keys optionally bound to a
 * lease that expires {@code ttl} after its last refresh, compare-and-set on revisions, watches on the leader key
 * and the member keys.
 * Each {@link Session} owns the leases it created: a key bound to another session's live lease is never changed by it,
 * even when it holds its member name (two sessions with one name: docs/decisions 0011).
 *
 * <p>Faults are injected per member session ({@link #partition}, {@link #setLatency}) or for the whole store
 * ({@link #outage}). A partitioned member's calls hang for {@code retryTimeout} and then fail; a slow call is applied
 * after its request delay (even if the caller gives up waiting for the answer), like a real network. During an
 * outage no lease expires, and when it ends every lease gets a full ttl again, as etcd and ZooKeeper do after a
 * quorum loss.
 *
 * <p>Like the real adapters ({@code IdleLeaseRule}), a session's background keep-alives stop once its member has made
 * no lease call (acquire, renew, publish its member key) for longer than ttl: a hung HA loop loses its keys, reads
 * or not. {@link #serverSideExpiryEarlier} models a store whose server may end a lease before the client's view
 * does (a ZooKeeper ensemble whose follower relays session pings late), with the guarantee the adapter declares.
 *
 * <p>Calls from threads scheduled by a {@link ManualClock} take virtual time; a fake for the simulation, not a store.
 */
public final class InMemoryDcs implements DcsFactory {

    private final KeyLayout layout;
    private final HaClock clock;
    private final Duration ttl;
    private final Map<String, Entry> keys = new TreeMap<>();
    private final Map<Long, Lease> leases = new HashMap<>();
    private final Set<String> partitioned = new HashSet<>();
    private final Map<String, Duration[]> latency = new HashMap<>();
    private final List<Session> sessions = new CopyOnWriteArrayList<>();
    private long revision;
    private long nextLease = 1;
    private final Map<String, Long> putsPerKey = new HashMap<>();
    private boolean outage;
    private volatile boolean nameOwnershipIgnored;
    private Duration defaultLatency = Duration.ZERO;
    private Duration leaseGuaranteeOverride;
    /** Extra delays for a member's leader renewals only (request, response), on top of {@link #latency}. */
    private final Map<String, Duration[]> renewalLatency = new HashMap<>();
    /** Members whose leader renewals fail at once (connection refused) without reaching the store. */
    private final Set<String> refusedRenewals = new HashSet<>();
    /** Members whose reads of the cluster get no answer (their renewals and writes answer as usual). */
    private final Set<String> stalledReads = new HashSet<>();
    /** One-shot hooks run right after a member's next leader renewal was applied (before its answer travels). */
    private final Map<String, Runnable> afterNextRenewal = new HashMap<>();
    private boolean guaranteeFromAnswer;
    private boolean raceBeforeKeyGone;
    private Duration declaredEarlyExpiry = Duration.ZERO;
    private boolean lieAboutSync;
    private Duration actualEarlyExpiry = Duration.ZERO;
    private java.util.concurrent.ScheduledExecutorService reaper;
    private ClusterView cachedView;
    // The adapters' decoder, memo included: the simulation reads through it as a real store's members do.
    private ClusterViewDecoder decoder;
    private long cachedRevision = -1;

    private record Entry(byte[] value, long modRevision, long createRevision, long lease) {}

    private static final class Lease {
        final String owner;
        long expiresAt;

        Lease(String owner, long expiresAt) {
            this.owner = owner;
            this.expiresAt = expiresAt;
        }
    }

    public InMemoryDcs(KeyLayout layout, HaClock clock, Duration ttl) {
        this.layout = layout;
        this.decoder = new ClusterViewDecoder(layout);
        this.clock = clock;
        this.ttl = ttl;
    }

    @Override
    public Session open(DcsContext context) {
        if (!context.layout().equals(layout)) {
            throw new IllegalArgumentException("this store holds " + layout.prefix() + ", not " + context.layout().prefix());
        }
        Session s = new Session(context);
        sessions.add(s);
        return s;
    }

    // ------------------------------------------------------------------------------------------------ faults

    /** The member's calls hang for retryTimeout and fail; it gets no watch events. */
    public synchronized void partition(String member, boolean cut) {
        expireLeases(); // keep-alives counted up to now, then they stop reaching the store
        if (cut) {
            partitioned.add(member);
            leases.values().stream().filter(l -> l.owner.equals(member))
                    .forEach(l -> scheduleExpiryCheck(l.expiresAt));
        } else {
            partitioned.remove(member);
        }
    }

    public synchronized boolean isPartitioned(String member) {
        return outage || partitioned.contains(member);
    }

    /** The whole store is down: every call hangs and fails; leases are frozen. */
    public synchronized void outage(boolean down) {
        if (outage && !down) {
            long now = clock.nanoTime();
            for (Lease l : leases.values()) {
                l.expiresAt = Math.max(l.expiresAt, now + leaseNanos());
            }
        }
        outage = down;
    }

    /**
     * Leases end up to {@code actual} before ttl after their last refresh, server side; the sessions promise a lease
     * guarantee of {@code ttl - declared}. {@code actual <= declared} is a store whose adapter states its worst case;
     * more is a broken adapter (a simulation variant).
     */
    public synchronized void serverSideExpiryEarlier(Duration declared, Duration actual) {
        declaredEarlyExpiry = declared;
        actualEarlyExpiry = actual;
    }

    /** How long a lease lasts after a refresh, server side. */
    private long leaseNanos() {
        return ttl.toNanos() - actualEarlyExpiry.toNanos();
    }

    /** Delays for a member's requests (applied after {@code request}) and answers ({@code response}). */
    public synchronized void setLatency(String member, Duration request, Duration response) {
        if (request.isZero() && response.isZero()) {
            latency.remove(member);
        } else {
            latency.put(member, new Duration[] {request, response});
        }
    }

    /**
     * Delays for a member's leader renewals only ({@code renewLeader}), on top of its other latency: a renewal that
     * is slow while the rest of the store answers. Zero and zero resets them.
     */
    public synchronized void setRenewalLatency(String member, Duration request, Duration response) {
        if (request.isZero() && response.isZero()) {
            renewalLatency.remove(member);
        } else {
            renewalLatency.put(member, new Duration[] {request, response});
        }
    }

    /** The member's leader renewals fail at once without reaching the store (a refused connection), or not. */
    public synchronized void refuseRenewals(String member, boolean refuse) {
        if (refuse) {
            refusedRenewals.add(member);
        } else {
            refusedRenewals.remove(member);
        }
    }

    /**
     * The member's reads of the whole cluster get no answer within retryTimeout, while its renewals and writes are
     * answered as usual (a range request stuck behind a slow etcd apply or a big snapshot), or not.
     */
    public synchronized void stallReads(String member, boolean stall) {
        if (stall) {
            stalledReads.add(member);
        } else {
            stalledReads.remove(member);
        }
    }

    /**
     * Runs {@code hook} (under the store's lock) right after the member's next leader renewal was applied, before
     * its answer travels back: to cut a member off between a renewal and its confirmation. Null removes it.
     */
    public synchronized void afterNextRenewal(String member, Runnable hook) {
        if (hook == null) {
            afterNextRenewal.remove(member);
        } else {
            afterNextRenewal.put(member, hook);
        }
    }

    /**
     * <b>Broken on purpose</b> (a simulation variant): each session's lease guarantee counts from the answer of its
     * last acquire or renewal instead of from its send time (it adds that call's round trip), so the lease guard's
     * deadline ends up {@code answer + guarantee - margin}: "the renewal deadline too late".
     */
    public synchronized void guaranteeFromAnswer() {
        guaranteeFromAnswer = true;
    }

    /**
     * <b>Broken on purpose</b> (a simulation variant): a leader key whose lease has less than half the ttl left reads
     * as absent, and an acquire takes it over from its holder: "the race before the key is gone".
     */
    public synchronized void raceBeforeKeyGone() {
        raceBeforeKeyGone = true;
    }

    /** For {@link #raceBeforeKeyGone}: the leader key's lease ends within half a ttl, and is not {@code member}'s. */
    private boolean leaderLooksGone(String member) {
        Entry held = keys.get(KeyLayout.LEADER);
        Lease l = held == null ? null : leases.get(held.lease);
        return raceBeforeKeyGone && l != null && !l.owner.equals(member)
                && l.expiresAt - clock.nanoTime() < ttl.toNanos() / 2;
    }

    /** A small delay on every call, so that members' threads interleave. */
    public synchronized void setDefaultLatency(Duration d) {
        defaultLatency = d;
    }

    /**
     * Sessions report this lease guarantee instead of the real ttl: a store that promises more than it keeps (the
     * <b>broken variant</b> for the checker's own tests), less than the ttl, or nothing yet (zero); null resets it.
     */
    public synchronized void overrideLeaseGuarantee(Duration d) {
        leaseGuaranteeOverride = d;
    }

    /** Writes raw bytes under a key (relative to the prefix), e.g. to plant a malformed value. */
    public synchronized void putRaw(String relativeKey, String value) {
        put(relativeKey, value.getBytes(StandardCharsets.UTF_8), 0);
    }

    /** The raw value of a key, bypassing faults; null when absent. */
    public synchronized String peekRaw(String relativeKey) {
        Entry e = keys.get(relativeKey);
        return e == null ? null : new String(e.value, StandardCharsets.UTF_8);
    }

    /**
     * <b>Broken on purpose</b> (a simulation variant): every session treats keys holding its member name as its own,
     * whoever's lease they are bound to, as the adapters did before docs/decisions 0011.
     */
    public synchronized void ignoreNameOwnership() {
        nameOwnershipIgnored = true;
    }

    /** An operator deletes a key, bypassing faults. */
    public synchronized void adminDelete(String relativeKey) {
        delete(relativeKey);
    }

    /** An operator's write of the failover key (patronictl switchover), bypassing faults. */
    public synchronized void adminWriteFailover(FailoverRequest request) {
        put(KeyLayout.FAILOVER, PatroniJson.encodeFailover(request), 0);
    }

    /** An operator's {@code PATCH /config}: merges {@code patch} into the config key, bypassing faults. */
    public synchronized void adminPatchConfig(Map<String, Object> patch) {
        GlobalConfig old = view().config();
        GlobalConfig merged = old.mergePatch(patch);
        put(KeyLayout.CONFIG, PatroniJson.encodeConfig(merged), 0);
    }

    /** The store as it is now, without faults or latency (for invariant checks). */
    public synchronized ClusterView peek() {
        expireLeases();
        return view();
    }

    /**
     * The leader named in the {@code sync} key, or null (cheap: decodes that key only).
     *
     * @throws IllegalArgumentException when the key holds an undecodable value (see {@link #putRaw})
     */
    public synchronized String peekSyncLeader() {
        Entry e = keys.get(KeyLayout.SYNC);
        return e == null ? null : PatroniJson.decodeSync(new String(e.value, StandardCharsets.UTF_8), 0).leader();
    }

    /** The {@code sync} key's standbys (empty when absent); throws IllegalArgumentException when undecodable. */
    public synchronized List<String> peekSyncStandbys() {
        Entry e = keys.get(KeyLayout.SYNC);
        return e == null ? List.of()
                : PatroniJson.decodeSync(new String(e.value, StandardCharsets.UTF_8), 0).standbys();
    }

    /**
     * <b>Broken variant:</b> every member but the lock holder reads the {@code sync} key as naming it (and every
     * other member) a synchronous standby, so it believes it may be promoted without losing a commit.
     */
    public synchronized void lieAboutSyncToNonHolders(boolean lie) {
        lieAboutSync = lie;
    }

    /** The {@code status} key's optime, or null when absent or undecodable (cheap: decodes that key only). */
    public synchronized io.pgha.core.cluster.Lsn peekOptime() {
        Entry e = keys.get(KeyLayout.STATUS);
        try {
            return e == null ? null : PatroniJson.decodeStatus(new String(e.value, StandardCharsets.UTF_8), 0)
                    .optime();
        } catch (IllegalArgumentException bad) {
            return null;
        }
    }

    /** The leader key's holder, or null. */
    /** How many times {@code relativeKey} was put so far, by any session or admin call. */
    public synchronized long writesOf(String relativeKey) {
        return putsPerKey.getOrDefault(relativeKey, 0L);
    }

        public synchronized String peekLeader() {
        expireLeases();
        return text(KeyLayout.LEADER);
    }

    /** Whether the leader key is bound to a live lease of {@code member}. */
    public synchronized boolean leaderHeldBy(String member) {
        expireLeases();
        Entry e = keys.get(KeyLayout.LEADER);
        return e != null && new String(e.value, StandardCharsets.UTF_8).equals(member);
    }

    /** Reads through {@code d} from now on (the simulation's broken decoder variant). */
    public synchronized void decodeWith(ClusterViewDecoder d) {
        decoder = d;
        cachedView = null;
    }

    /** The keys as a store adapter reads them, before decoding (for measuring the decoding, issue 11). */
    public synchronized List<RawNode> rawNodes() {
        expireLeases();
        return raw();
    }

    // ------------------------------------------------------------------------------------------------ internals

    private ClusterView view() {
        // Views are immutable: decode once per revision, however many members read it.
        if (cachedView != null && cachedRevision == revision) {
            return cachedView;
        }
        cachedView = decoder.view(raw());
        cachedRevision = revision;
        return cachedView;
    }

    private List<RawNode> raw() {
        List<RawNode> raw = new ArrayList<>();
        keys.forEach((k, e) -> raw.add(new RawNode(k, e.value, e.modRevision, e.createRevision)));
        return raw;
    }

    private void put(String key, byte[] value, long lease) {
        Entry old = keys.get(key);
        revision++;
        putsPerKey.merge(key, 1L, Long::sum);
        keys.put(key, new Entry(value, revision, old == null ? revision : old.createRevision, lease));
        notifyWatchers(key);
    }

    private void delete(String key) {
        if (keys.remove(key) != null) {
            revision++;
            notifyWatchers(key);
        }
    }

    private void expireLeases() {
        if (outage) {
            return;
        }
        long now = clock.nanoTime();
        // A live client keeps its lease alive in the background (ZooKeeper heartbeats, etcd keepalives, Consul
        // renewals) while its member calls; once the member has made no lease call for ttl (its loop hangs), the
        // keep-alives stop (IdleLeaseRule) and the lease runs out.
        for (Session s : sessions) {
            Lease l = leases.get(s.lease);
            if (l != null && !s.closed && !partitioned.contains(s.member)) {
                long keptUntil = s.lastLeaseCall + ttl.toNanos();
                long refreshed = Math.min(now, keptUntil) + leaseNanos();
                if (refreshed > l.expiresAt) {
                    l.expiresAt = refreshed;
                    if (now >= keptUntil) {
                        scheduleExpiryCheck(refreshed);
                    }
                }
            }
        }
        List<Long> dead = new ArrayList<>();
        leases.forEach((id, l) -> {
            if (l.expiresAt <= now) {
                dead.add(id);
            }
        });
        for (long id : dead) {
            endLease(id);
        }
    }

    /** Leases expire lazily on every call; this makes them expire (and fire watches) on time without calls. */
    private void scheduleExpiryCheck(long at) {
        Runnable reap = () -> {
            synchronized (InMemoryDcs.this) {
                expireLeases();
            }
        };
        if (clock instanceof ManualClock mc) {
            mc.at(at, reap);
        } else {
            if (reaper == null) {
                reaper = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "in-memory-dcs-reaper");
                    t.setDaemon(true);
                    return t;
                });
            }
            reaper.schedule(reap, Math.max(0, at - clock.nanoTime()) + 1_000_000,
                    java.util.concurrent.TimeUnit.NANOSECONDS);
        }
    }

    /**
     * Ends the leases of every session of {@code member} now, as a server-side session expiry would: their bound keys
     * vanish. {@link Session#expireLease()} ends one session's.
     */
    public synchronized void expire(String member) {
        List<Long> ids = new ArrayList<>();
        leases.forEach((id, l) -> {
            if (l.owner.equals(member)) {
                ids.add(id);
            }
        });
        for (long id : ids) {
            endLease(id);
        }
    }

    private void endLease(long id) {
        leases.remove(id);
        List<String> bound = new ArrayList<>();
        keys.forEach((k, e) -> {
            if (e.lease == id) {
                bound.add(k);
            }
        });
        bound.forEach(this::delete);
    }

    /** Stops the real-time reaper, if one was started (stores on a {@link ManualClock} have none). */
    public synchronized void shutdown() {
        if (reaper != null) {
            reaper.shutdownNow();
        }
    }

    private void notifyWatchers(String key) {
        boolean leader = key.equals(KeyLayout.LEADER);
        boolean member = key.startsWith(KeyLayout.MEMBERS);
        for (Session s : sessions) {
            if (s.closed || isPartitioned(s.member)) {
                continue;
            }
            Runnable w = s.watcher;
            if (leader && w != null) {
                w.run();
            }
            if (member) {
                // On the session's own thread, as the adapters do (the simulation never watches member keys).
                s.memberChanges.changed();
            }
        }
    }

    private String text(String key) {
        Entry e = keys.get(key);
        return e == null ? null : new String(e.value, StandardCharsets.UTF_8);
    }

    private long versionOf(String key) {
        Entry e = keys.get(key);
        return e == null ? DcsVersion.ABSENT : e.modRevision;
    }

    /** One member's session: the {@link Dcs} the HA loop uses. */
    public final class Session extends KeyValueDcs {
        private final String member;
        private final Duration retryTimeout;
        /** Every lease this session created: the current one and those it lost (guarded by the store). */
        private final Set<Long> ownLeases = new HashSet<>();
        private long lease;
        /** The lease the member key was last written under; 0 before the first write. */
        private long memberLease;
        private long lastLeaseCall;
        /** How long the last acquire or renewal took (for {@link #guaranteeFromAnswer}). */
        private volatile long lastRoundTrip;
        private volatile Runnable watcher;
        private final ChangeDispatcher memberChanges;
        private volatile boolean closed;

        private Session(DcsContext ctx) {
            this.member = ctx.memberName();
            this.memberChanges = new ChangeDispatcher("in-memory-dcs-" + member + "-members", member + " - ",
                    "member watch");
            this.retryTimeout = ctx.retryTimeout();
            this.lastLeaseCall = clock.nanoTime();
        }

        @Override
        public String memberName() {
            return member;
        }

        /** Runs {@code op} against the store with this member's faults and delays. */
        private <T> T call(String what, Op<T> op) throws DcsUnavailableException {
            return call(what, op, false);
        }

        /** {@link #call}; for a leader renewal ({@code renewal}) with the renewal-only faults as well. */
        private <T> T call(String what, Op<T> op, boolean renewal) throws DcsUnavailableException {
            if (closed) {
                // As every adapter does after close() (DcsCallGuard): a loop thread that resumes after its member
                // was closed (a stall outlasting the shutdown's wait) gets an unavailable store, not a crash.
                throw new DcsUnavailableException(what + ": the session of " + member + " is closed");
            }
            Duration request;
            Duration response;
            boolean cut;
            boolean refused;
            synchronized (InMemoryDcs.this) {
                Duration[] l = latency.get(member);
                request = l == null ? defaultLatency : l[0];
                response = l == null ? Duration.ZERO : l[1];
                Duration[] r = renewal ? renewalLatency.get(member) : null;
                if (r != null) {
                    request = request.plus(r[0]);
                    response = response.plus(r[1]);
                }
                cut = isPartitioned(member);
                refused = renewal && refusedRenewals.contains(member);
            }
            long start = clock.nanoTime();
            long giveUp = start + retryTimeout.toNanos();
            if (refused && !cut) {
                sleepUntil(start + defaultLatency.toNanos());
                throw new DcsUnavailableException(what + ": connection refused");
            }
            if (cut) {
                sleepUntil(giveUp);
                throw new DcsUnavailableException(what + ": no answer from the store within "
                        + retryTimeout.toMillis() + " ms");
            }
            if (!request.isZero()) {
                sleepUntil(Math.min(giveUp, start + request.toNanos()));
            }
            if (clock.nanoTime() >= giveUp) {
                throw new DcsUnavailableException(what + ": request timed out");
            }
            T result;
            synchronized (InMemoryDcs.this) {
                if (isPartitioned(member)) {
                    cut = true;
                    result = null;
                } else {
                    expireLeases();
                    result = op.apply();
                    Runnable hook = renewal && Boolean.TRUE.equals(result) ? afterNextRenewal.remove(member) : null;
                    if (hook != null) {
                        hook.run();
                    }
                }
            }
            if (cut) {
                sleepUntil(giveUp);
                throw new DcsUnavailableException(what + ": connection lost");
            }
            if (!response.isZero()) {
                long answerAt = clock.nanoTime() + response.toNanos();
                if (answerAt >= giveUp) {
                    sleepUntil(giveUp);
                    throw new DcsUnavailableException(what + ": answer timed out (the request may have been applied)");
                }
                sleepUntil(answerAt);
            }
            return result;
        }

        private void sleepUntil(long t) {
            try {
                clock.sleepUntil(t);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** This session's lease, created or revived as needed; its expiry pushed to now + ttl. */
        private long refreshLease() {
            Lease l = leases.get(lease);
            lastLeaseCall = clock.nanoTime();
            long expires = lastLeaseCall + leaseNanos();
            if (l == null) {
                lease = nextLease++;
                ownLeases.add(lease);
                l = new Lease(member, expires);
                leases.put(lease, l);
            }
            l.expiresAt = expires;
            scheduleExpiryCheck(expires);
            return lease;
        }

        @Override
        public ClusterView read() throws DcsUnavailableException {
            boolean stalled;
            synchronized (InMemoryDcs.this) {
                stalled = stalledReads.contains(member);
            }
            if (stalled && !closed) {
                sleepUntil(clock.nanoTime() + retryTimeout.toNanos());
                throw new DcsUnavailableException("read: no answer from the store within " + retryTimeout.toMillis()
                        + " ms");
            }
            ClusterView v = call("read", () -> leaderLooksGone(member) ? view().withLeader(null) : view());
            if (lieAboutSync && v.sync().isActive() && !v.isLeader(member)) {
                List<String> all = new ArrayList<>(v.members().keySet());
                all.remove(v.sync().leader());
                return v.withSync(new io.pgha.core.cluster.SyncState(v.sync().leader(), all, v.sync().version()));
            }
            return v;
        }

        @Override
        public boolean acquireLeader() throws DcsUnavailableException {
            long sent = clock.nanoTime();
            boolean won = acquire();
            lastRoundTrip = clock.nanoTime() - sent;
            return won;
        }

        private boolean acquire() throws DcsUnavailableException {
            return call("acquire leader", () -> {
                Entry held = keys.get(KeyLayout.LEADER);
                if (held != null && leaderLooksGone(member)) {
                    put(KeyLayout.LEADER, bytes(member), refreshLease());
                    return true;
                }
                if (held != null) {
                    // Ours already under this very lease: the acquire that timed out on its answer had won.
                    return member.equals(text(KeyLayout.LEADER)) && held.lease == lease && leases.containsKey(lease);
                }
                put(KeyLayout.LEADER, bytes(member), refreshLease());
                return true;
            });
        }

        @Override
        public boolean renewLeader() throws DcsUnavailableException {
            long sent = clock.nanoTime();
            boolean ok = renew();
            lastRoundTrip = clock.nanoTime() - sent;
            return ok;
        }

        private boolean renew() throws DcsUnavailableException {
            return call("renew leader", () -> {
                if (!member.equals(text(KeyLayout.LEADER)) || !ours(keys.get(KeyLayout.LEADER))) {
                    return false;
                }
                long id = refreshLease();
                Entry e = keys.get(KeyLayout.LEADER);
                if (e.lease != id) {
                    put(KeyLayout.LEADER, bytes(member), id);
                } else {
                    // etcd's keepalive refreshes the lease without touching the key: no revision, no watch event
                }
                return true;
            }, true);
        }

        @Override
        public boolean releaseLeader() throws DcsUnavailableException {
            return call("release leader", () -> {
                if (!member.equals(text(KeyLayout.LEADER)) || !ours(keys.get(KeyLayout.LEADER))) {
                    return false;
                }
                delete(KeyLayout.LEADER);
                return true;
            });
        }

        @Override
        protected boolean compareAndSet(String what, String key, byte[] value, long expected)
                throws DcsUnavailableException {
            return call(what, () -> {
                if (expected != ANY_VERSION && versionOf(key) != expected) {
                    return false;
                }
                put(key, value, 0);
                return true;
            });
        }

        @Override
        protected boolean compareAndDelete(String what, String key, long expected)
                throws DcsUnavailableException {
            return call(what, () -> {
                long v = versionOf(key);
                if (v == DcsVersion.ABSENT || (expected != ANY_VERSION && v != expected)) {
                    return false;
                }
                delete(key);
                return true;
            });
        }

        @Override
        public void touchMember(Member data) throws DcsUnavailableException, MemberNameTakenException {
            Long foreign = call("touch member", () -> {
                Entry e = keys.get(KeyLayout.MEMBERS + member);
                if (!ours(e)) {
                    return e.lease;
                }
                memberLease = refreshLease();
                put(KeyLayout.MEMBERS + member, PatroniJson.encodeMember(data), memberLease);
                return null;
            });
            if (foreign != null) {
                throw new MemberNameTakenException(member, layout.scope(), "the in-memory test store",
                        "lease " + foreign);
            }
        }

        /** A lease call that writes nothing: the lease is kept as by a touch, if it still lives. */
        @Override
        public boolean memberKeyHeld() throws DcsUnavailableException {
            return call("keep the member key", () -> {
                if (!leases.containsKey(lease)) {
                    lastLeaseCall = clock.nanoTime();
                    return false;
                }
                return refreshLease() == memberLease;
            });
        }

        @Override
        public void deleteMember() throws DcsUnavailableException {
            call("delete member", () -> {
                if (ours(keys.get(KeyLayout.MEMBERS + member))) {
                    delete(KeyLayout.MEMBERS + member);
                }
                return null;
            });
        }

        /** Absent, bound to no lease, or to one this session created (a live lease of another is someone else's). */
        private boolean ours(Entry e) {
            return e == null || e.lease == 0 || ownLeases.contains(e.lease) || nameOwnershipIgnored;
        }

        /** Whether this session ever created a lease. */
        public boolean createdLease() {
            synchronized (InMemoryDcs.this) {
                return !ownLeases.isEmpty();
            }
        }

        /** Ends this session's lease now, as a server-side expiry would; the next write creates a new one. */
        public void expireLease() {
            synchronized (InMemoryDcs.this) {
                if (leases.containsKey(lease)) {
                    endLease(lease);
                }
            }
        }

        @Override
        public Duration leaseGuarantee() {
            synchronized (InMemoryDcs.this) {
                Duration g = leaseGuaranteeOverride != null ? leaseGuaranteeOverride : ttl.minus(declaredEarlyExpiry);
                return guaranteeFromAnswer ? g.plusNanos(lastRoundTrip) : g;
            }
        }

        @Override
        public void watchLeader(Runnable onChange) {
            watcher = onChange;
        }

        @Override
        public void watchMembers(Runnable onChange) {
            memberChanges.add(onChange);
        }

        /** A clean close: the lease is revoked, so this member's keys vanish at once. */
        @Override
        public void close() {
            synchronized (InMemoryDcs.this) {
                if (closed) {
                    return;
                }
                closed = true;
                memberChanges.close();
                Lease l = leases.remove(lease);
                if (l != null) {
                    List<String> bound = new ArrayList<>();
                    keys.forEach((k, e) -> {
                        if (e.lease == lease) {
                            bound.add(k);
                        }
                    });
                    bound.forEach(InMemoryDcs.this::delete);
                }
                sessions.remove(this);
            }
        }

        /** The process died: no clean close, the lease simply stops being refreshed and expires. */
        public void abandon() {
            synchronized (InMemoryDcs.this) {
                expireLeases(); // its last keep-alive was now
                closed = true;
                watcher = null;
                memberChanges.close();
                sessions.remove(this);
                Lease l = leases.get(lease);
                if (l != null) {
                    scheduleExpiryCheck(l.expiresAt);
                }
            }
        }
    }

    @FunctionalInterface
    private interface Op<T> {
        T apply();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
