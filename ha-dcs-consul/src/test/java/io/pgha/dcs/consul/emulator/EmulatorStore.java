package io.pgha.dcs.consul.emulator;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The state of the emulated Consul server (one server that is also the agent): the KV table with its tombstones,
 * sessions with their TTL timers, lock delays, and the Raft-like index. Everything is guarded by one lock; a
 * condition wakes blocking queries on every change.
 *
 * <p>Semantics follow Consul's state store as documented and as its source shows (kvs.go, session.go, txn.go,
 * session_ttl.go): see the comments on each operation.
 */
final class EmulatorStore {

    /** An error Consul reports with an HTTP status and a plain-text body. */
    static final class ConsulError extends Exception {
        private static final long serialVersionUID = 1L;
        final int status;

        ConsulError(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    /** One KV entry; {@code session} is null when no session holds it. */
    record Entry(String key, byte[] value, long flags, String session, long lockIndex, long createIndex,
            long modifyIndex) {

        /** Consul skips a write that changes nothing (DirEntry.Equal ignores the indexes). */
        boolean sameContent(Entry o) {
            return o != null && key.equals(o.key) && Arrays.equals(value, o.value) && flags == o.flags
                    && Objects.equals(session, o.session) && lockIndex == o.lockIndex;
        }
    }

    record Session(String id, String name, String node, long lockDelayNanos, String behavior, String ttl,
            long ttlNanos, List<String> nodeChecks, long createIndex, long modifyIndex) {}

    /** The KV table and its tombstones; copied for a transaction, swapped in when it commits. */
    static final class Kv {
        final TreeMap<String, Entry> entries;
        final TreeMap<String, Long> tombstones;
        long tableIndex;

        Kv() {
            this(new TreeMap<>(), new TreeMap<>(), 0);
        }

        private Kv(TreeMap<String, Entry> entries, TreeMap<String, Long> tombstones, long tableIndex) {
            this.entries = entries;
            this.tombstones = tombstones;
            this.tableIndex = tableIndex;
        }

        Kv copy() {
            return new Kv(new TreeMap<>(entries), new TreeMap<>(tombstones), tableIndex);
        }

        void put(Entry e, long idx) {
            entries.put(e.key(), e);
            tombstones.remove(e.key());
            tableIndex = Math.max(tableIndex, idx);
        }

        boolean delete(String key, long idx) {
            if (entries.remove(key) == null) {
                return false;
            }
            tombstones.put(key, idx);
            tableIndex = Math.max(tableIndex, idx);
            return true;
        }

        List<Entry> under(String prefix) {
            return new ArrayList<>(entries.subMap(prefix, true, prefix + Character.MAX_VALUE, false).values());
        }

        /** The highest index of anything under {@code prefix}, live or deleted (Consul's list index). */
        long maxIndexUnder(String prefix) {
            long max = 0;
            for (Entry e : under(prefix)) {
                max = Math.max(max, e.modifyIndex());
            }
            for (long t : tombstones.subMap(prefix, true, prefix + Character.MAX_VALUE, false).values()) {
                max = Math.max(max, t);
            }
            return max;
        }

        /** Changes whenever the key is written or deleted: what a blocking query on one key waits for. */
        long lastChange(String key) {
            Entry e = entries.get(key);
            return e != null ? e.modifyIndex() : tombstones.getOrDefault(key, 0L);
        }
    }

    private static final long MAX_LOCK_DELAY = Duration.ofSeconds(60).toNanos();
    private static final long SESSION_TTL_MAX = Duration.ofHours(24).toNanos();

    final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ScheduledExecutorService timers;
    private final long sessionTtlMinNanos;
    private final double ttlMultiplier;
    private final String node;

    // Guarded by lock.
    private long raftIndex = 10;
    private Kv kv = new Kv();
    private long sessionsIndex = 1;
    private final LinkedHashMap<String, Session> sessions = new LinkedHashMap<>();
    private final Map<String, ScheduledFuture<?>> sessionTimers = new HashMap<>();
    private final Map<String, Long> timerGeneration = new HashMap<>();
    private final Map<String, Long> lastRenewedNanos = new HashMap<>();
    private final Map<String, Long> lockDelayUntil = new HashMap<>();
    private boolean serving = true;
    private long generations;

    EmulatorStore(ScheduledExecutorService timers, Duration sessionTtlMin, double ttlMultiplier, String node) {
        this.timers = timers;
        this.sessionTtlMinNanos = sessionTtlMin.toNanos();
        this.ttlMultiplier = ttlMultiplier;
        this.node = node;
    }

    Duration sessionTtlMin() {
        return Duration.ofNanos(sessionTtlMinNanos);
    }

    String node() {
        return node;
    }

    long nextIndex() {
        return ++raftIndex;
    }

    long raftIndex() {
        lock.lock();
        try {
            return raftIndex;
        } finally {
            lock.unlock();
        }
    }

    Kv kv() {
        return kv;
    }

    void commit(Kv next) {
        kv = next;
        changed.signalAll();
    }

    void signal() {
        changed.signalAll();
    }

    // ------------------------------------------------------------------------------------------------ KV operations
    // All of them run with the lock held, on the live table or on a transaction's copy.

    /** A plain set keeps the holder but not the LockIndex (Consul's kvsSetTxn carries only Session and CreateIndex). */
    static void set(Kv t, long idx, String key, byte[] value, long flags) {
        Entry ex = t.entries.get(key);
        Entry e = new Entry(key, value, flags, ex == null ? null : ex.session(), 0,
                ex == null ? idx : ex.createIndex(), idx);
        if (!e.sameContent(ex)) {
            t.put(e, idx);
        }
    }

    /** cas=0: only if absent; cas=N: only if the key exists with ModifyIndex N. */
    static boolean cas(Kv t, long idx, String key, byte[] value, long flags, long casIndex) {
        Entry ex = t.entries.get(key);
        if (casIndex == 0 && ex != null) {
            return false;
        }
        if (casIndex != 0 && (ex == null || ex.modifyIndex() != casIndex)) {
            return false;
        }
        set(t, idx, key, value, flags);
        return true;
    }

    /** Consul's kvsLockTxn; the lock-delay check is done before, as Consul does it outside Raft. */
    boolean lockKey(Kv t, long idx, String key, byte[] value, long flags, String session) throws ConsulError {
        if (session == null || session.isEmpty()) {
            throw new ConsulError(500, "missing session");
        }
        if (!sessions.containsKey(session)) {
            throw new ConsulError(500, "invalid session " + quote(session));
        }
        Entry ex = t.entries.get(key);
        long lockIndex;
        long createIndex;
        if (ex != null) {
            if (session.equals(ex.session())) {
                lockIndex = ex.lockIndex();
            } else if (ex.session() != null) {
                return false;
            } else {
                lockIndex = ex.lockIndex() + 1;
            }
            createIndex = ex.createIndex();
        } else {
            lockIndex = 1;
            createIndex = idx;
        }
        Entry e = new Entry(key, value, flags, session, lockIndex, createIndex, idx);
        if (!e.sameContent(ex)) {
            t.put(e, idx);
        }
        return true;
    }

    /** Consul's kvsUnlockTxn: the holder clears the session; the body becomes the value; LockIndex stays. */
    static boolean unlockKey(Kv t, long idx, String key, byte[] value, long flags, String session) throws ConsulError {
        if (session == null || session.isEmpty()) {
            throw new ConsulError(500, "missing session");
        }
        Entry ex = t.entries.get(key);
        if (ex == null || !session.equals(ex.session())) {
            return false;
        }
        t.put(new Entry(key, value, flags, null, ex.lockIndex(), ex.createIndex(), idx), idx);
        return true;
    }

    /** Consul's kvsDeleteCASTxn: a key that does not exist counts as deleted (true). */
    static boolean deleteCas(Kv t, long idx, String key, long casIndex) {
        Entry ex = t.entries.get(key);
        if (ex == null || ex.modifyIndex() != casIndex) {
            return ex == null;
        }
        t.delete(key, idx);
        return true;
    }

    static void deleteTree(Kv t, long idx, String prefix) {
        for (Entry e : t.under(prefix)) {
            t.delete(e.key(), idx);
        }
    }

    /** True while a lock delay set by an invalidated session forbids locking {@code key}. */
    boolean inLockDelay(String key) {
        Long until = lockDelayUntil.get(key);
        if (until == null) {
            return false;
        }
        if (System.nanoTime() - until >= 0) {
            lockDelayUntil.remove(key);
            return false;
        }
        return true;
    }

    boolean sessionExists(String id) {
        return sessions.containsKey(id);
    }

    // ------------------------------------------------------------------------------------------------ sessions

    /** Session.Apply(create) with Consul's validation; fields already decoded by the HTTP layer. */
    Session createSession(String name, String nodeName, List<String> checks, String behavior, long lockDelayNanos,
            String ttl) throws ConsulError {
        lock.lock();
        try {
            if (!node.equals(nodeName)) {
                throw new ConsulError(500, "Missing node registration");
            }
            for (String c : checks) {
                if (!c.equals("serfHealth")) {
                    throw new ConsulError(500, "Missing check '" + c + "' registration");
                }
            }
            String b = behavior == null || behavior.isEmpty() ? "release" : behavior;
            if (!b.equals("release") && !b.equals("delete")) {
                throw new ConsulError(500, "Invalid Behavior setting '" + behavior + "'");
            }
            long ttlNanos = 0;
            String ttlText = ttl == null ? "" : ttl;
            if (!ttlText.isEmpty()) {
                try {
                    ttlNanos = GoDurations.parse(ttlText).toNanos();
                } catch (IllegalArgumentException e) {
                    throw new ConsulError(500, "Session TTL '" + ttlText + "' invalid: " + e.getMessage());
                }
                if (ttlNanos != 0 && (ttlNanos < sessionTtlMinNanos || ttlNanos > SESSION_TTL_MAX)) {
                    throw new ConsulError(500, "Invalid Session TTL '" + ttlNanos + "', must be between ["
                            + GoDurations.format(Duration.ofNanos(sessionTtlMinNanos)) + "="
                            + GoDurations.format(Duration.ofNanos(SESSION_TTL_MAX)) + "]");
                }
            }
            long idx = nextIndex();
            Session s = new Session(UUID.randomUUID().toString(), name == null ? "" : name, nodeName,
                    lockDelayNanos, b, ttlText, ttlNanos, List.copyOf(checks), idx, idx);
            sessions.put(s.id(), s);
            sessionsIndex = idx;
            lastRenewedNanos.put(s.id(), System.nanoTime());
            resetTimer(s);
            changed.signalAll();
            return s;
        } finally {
            lock.unlock();
        }
    }

    /** Session.Renew: restarts the TTL timer; null when the session does not exist. */
    Session renew(String id) {
        lock.lock();
        try {
            Session s = sessions.get(id);
            if (s != null) {
                lastRenewedNanos.put(id, System.nanoTime());
                resetTimer(s);
            }
            return s;
        } finally {
            lock.unlock();
        }
    }

    Session session(String id) {
        lock.lock();
        try {
            return sessions.get(id);
        } finally {
            lock.unlock();
        }
    }

    List<Session> sessions() {
        lock.lock();
        try {
            return List.copyOf(sessions.values());
        } finally {
            lock.unlock();
        }
    }

    long sessionsIndex() {
        return sessionsIndex;
    }

    Long lastRenewedNanos(String id) {
        lock.lock();
        try {
            return lastRenewedNanos.get(id);
        } finally {
            lock.unlock();
        }
    }

    /** Session.Apply(destroy) and TTL expiry: Consul's deleteSessionTxn. */
    boolean invalidate(String id) {
        lock.lock();
        try {
            Session s = sessions.remove(id);
            if (s == null) {
                return false;
            }
            ScheduledFuture<?> f = sessionTimers.remove(id);
            if (f != null) {
                f.cancel(false);
            }
            timerGeneration.remove(id);
            lastRenewedNanos.remove(id);
            long idx = nextIndex();
            sessionsIndex = idx;
            long delay = Math.min(s.lockDelayNanos(), MAX_LOCK_DELAY);
            long now = System.nanoTime();
            for (Entry e : new ArrayList<>(kv.entries.values())) {
                if (!id.equals(e.session())) {
                    continue;
                }
                if (s.behavior().equals("delete")) {
                    kv.delete(e.key(), idx);
                } else {
                    kv.put(new Entry(e.key(), e.value(), e.flags(), null, e.lockIndex(), e.createIndex(), idx), idx);
                }
                if (delay > 0) {
                    lockDelayUntil.put(e.key(), now + delay);
                }
            }
            changed.signalAll();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Every session of the node: what a graceful agent leave does (the node is deregistered). */
    int invalidateNodeSessions() {
        int n = 0;
        for (Session s : sessions()) {
            if (s.node().equals(node) && invalidate(s.id())) {
                n++;
            }
        }
        return n;
    }

    /** Every session that depends on {@code check}: what a check turning critical does. */
    int invalidateSessionsWithCheck(String check) {
        int n = 0;
        for (Session s : sessions()) {
            if (s.nodeChecks().contains(check) && invalidate(s.id())) {
                n++;
            }
        }
        return n;
    }

    /**
     * Consul's leader runs one timer per session: TTL x multiplier after creation or the last renewal (session_ttl.go).
     * Locking a key does not touch it.
     */
    private void resetTimer(Session s) {
        ScheduledFuture<?> old = sessionTimers.remove(s.id());
        if (old != null) {
            old.cancel(false);
        }
        if (s.ttlNanos() == 0 || !serving) {
            return;
        }
        long generation = ++generations;
        timerGeneration.put(s.id(), generation);
        long after = (long) (s.ttlNanos() * ttlMultiplier);
        sessionTimers.put(s.id(), timers.schedule(() -> expire(s.id(), generation), after, TimeUnit.NANOSECONDS));
    }

    private void expire(String id, long generation) {
        lock.lock();
        try {
            // A renewal between the timer firing and this lock replaced the timer: this one is stale.
            if (!Objects.equals(timerGeneration.get(id), generation)) {
                return;
            }
            invalidate(id);
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------------------------------------ lifecycle

    /** The server stops: no leader runs session timers, blocking queries end. */
    void stopServing() {
        lock.lock();
        try {
            serving = false;
            for (ScheduledFuture<?> f : sessionTimers.values()) {
                f.cancel(false);
            }
            sessionTimers.clear();
            timerGeneration.clear();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** A new leader resets every session's timer to a full TTL x multiplier (initializeSessionTimers). */
    void startServing() {
        lock.lock();
        try {
            serving = true;
            for (Session s : sessions.values()) {
                resetTimer(s);
            }
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------------------------------------ blocking

    /** One evaluation of a query: its index (X-Consul-Index), its answer, and what a change of the data looks like. */
    record Result<T>(long index, T value, long watchToken) {}

    @FunctionalInterface
    interface Query<T> {
        Result<T> run() throws ConsulError;
    }

    /**
     * Consul's blockingQuery: answer at once when no index was given or the result's index is past it; otherwise wait
     * until the watched data changes (then evaluate again) or the deadline passes (then answer what there is).
     */
    <T> Result<T> blocking(long minIndex, long deadlineNanos, Query<T> q) throws ConsulError, InterruptedException {
        lock.lock();
        try {
            while (true) {
                Result<T> r = q.run();
                if (minIndex == 0 || r.index() > minIndex || !serving) {
                    return r;
                }
                while (true) {
                    long left = deadlineNanos - System.nanoTime();
                    if (left <= 0 || !serving) {
                        return q.run();
                    }
                    changed.awaitNanos(left);
                    if (q.run().watchToken() != r.watchToken()) {
                        break;
                    }
                }
            }
        } finally {
            lock.unlock();
        }
    }

    static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
