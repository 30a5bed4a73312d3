package io.pgha.dcs.zookeeper;

import io.pgha.core.config.Durations;
import io.pgha.core.spi.DaemonThreadFactory;
import io.pgha.core.spi.DcsCallGuard;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.IdleLeaseRule;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.BackgroundCallback;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.client.ZKClientConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connection of one member to ZooKeeper: one Curator client at a time, the session it holds (the member's lease,
 * docs/decisions 0203), and the way every operation is sent and awaited.
 *
 * <ul>
 *   <li>An operation runs in the background and the caller waits for it until its deadline. It fails at once while
 *       the connection is not usable (SUSPENDED, LOST), and as soon as it is suspended while waiting (docs/decisions
 *       0202). Curator never retries.</li>
 *   <li>A session becomes usable only after {@link Listener#beforeUse} ran for it, so a watch set there is
 *       registered before any call of the member can reach the server.</li>
 *   <li><b>Idle rule.</b> Curator's heartbeats keep a session alive for as long as the process lives, so a member
 *       whose HA loop hangs would keep its ephemeral leader key forever. Once the session holds keys
 *       ({@link #holdsLease()}), a daemon thread checks every ttl/5 whether the member made no call for longer than
 *       its ttl (or the negotiated session timeout, if longer: the lease may end no earlier than
 *       {@code leaseGuarantee()} promised). If so it closes the client, so the server deletes the session's leader
 *       and member keys, as an etcd lease or a Consul session runs out when its renewals pause. The next call opens a
 *       new session.</li>
 * </ul>
 */
final class ZooKeeperConnection implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ZooKeeperConnection.class);

    /** What the adapter does when sessions come and go. */
    interface Listener {
        /**
         * A session is about to become usable; nothing of the member's has been sent on it yet. Runs on Curator's
         * event thread and must not block.
         *
         * @param first the first session of this member since it was opened
         */
        void beforeUse(CuratorFramework client, boolean first);

        /** Something may have changed unseen: a reconnect, a lost or replaced session. */
        void mayHaveChanged();
    }

    /** One Curator operation, submitted in the background with {@code callback}. */
    @FunctionalInterface
    interface Submit {
        void to(CuratorFramework client, BackgroundCallback callback) throws Exception;
    }

    /** One Curator client and the session it holds. */
    private static final class Client {
        final CuratorFramework curator;
        final CountDownLatch firstConnection = new CountDownLatch(1);
        final Set<CompletableFuture<?>> inFlight = ConcurrentHashMap.newKeySet();
        /** Null until the first connection. */
        volatile ConnectionState state;

        Client(CuratorFramework curator) {
            this.curator = curator;
        }

        boolean usable() {
            ConnectionState s = state;
            return (s == ConnectionState.CONNECTED || s == ConnectionState.RECONNECTED)
                    && curator.getZookeeperClient().isConnected();
        }
    }

    private final ZooKeeperSettings settings;
    private final DcsContext context;
    private final DcsCallGuard calls;
    private final Listener listener;
    private final String log;
    private final String scopePath;
    private final Duration requestedSessionTimeout;
    private final Duration connectionTimeout;
    private final DaemonThreadFactory curatorThreads;
    private final IdleLeaseRule idleRule;
    private final ScheduledExecutorService idleCheck;
    private final AtomicBoolean idleCheckScheduled = new AtomicBoolean();
    /** Guards replacing the client, and a session becoming usable against {@link #whenUsable}. */
    private final Object lock = new Object();

    /** Null after an idle close, until the next call. */
    private volatile Client client;
    private volatile boolean everConnected;
    private volatile boolean leaseInUse;
    private volatile long sessionId;
    /** Every session this connection has had: keys bound to them are this member's (docs/decisions 0011). */
    private final Set<Long> ownSessions = ConcurrentHashMap.newKeySet();
    private volatile Duration negotiatedSessionTimeout = Duration.ZERO;

    ZooKeeperConnection(ZooKeeperSettings settings, DcsContext context, DcsCallGuard calls, String scopePath,
            String log, Listener listener) {
        this.settings = settings;
        this.context = context;
        this.calls = calls;
        this.scopePath = scopePath;
        this.log = log;
        this.listener = listener;
        this.requestedSessionTimeout = settings.sessionTimeoutFor(context);
        this.connectionTimeout = settings.connectionTimeoutFor(context);
        String threads = "pgha-zk-" + context.layout().scope() + "-" + context.memberName();
        this.curatorThreads = new DaemonThreadFactory(threads);
        this.idleRule = new IdleLeaseRule(calls, this::idleLimit, log);
        this.idleCheck = Executors.newSingleThreadScheduledExecutor(new DaemonThreadFactory(threads + "-idle"));
        LOG.info("{}connecting to ZooKeeper {} (session timeout requested {} ms, retryTimeout {} ms{})", log,
                settings.connectString(), requestedSessionTimeout.toMillis(), context.retryTimeout().toMillis(),
                settings.auth() == null ? "" : ", digest auth as " + settings.auth().user());
        start();
    }

    // ------------------------------------------------------------------------------------------------ state

    Duration requestedSessionTimeout() {
        return requestedSessionTimeout;
    }

    Duration negotiatedSessionTimeout() {
        return negotiatedSessionTimeout;
    }

    long sessionId() {
        return sessionId;
    }

    /**
     * Whether {@code id} is a session of this member's: the current one or one it had before (lost, or closed for
     * idleness while the server still held it). Any other live session is another process's.
     */
    boolean isOwnSession(long id) {
        return id != 0 && ownSessions.contains(id);
    }

    /** The lease of the current session, or of the requested timeout before the server granted one. */
    SessionExpiryBound leaseBound() {
        Duration granted = negotiatedSessionTimeout;
        return settings.bound(granted.isZero() ? requestedSessionTimeout : granted);
    }

    /** The Curator state of the current client; null before its first connection and after an idle close. */
    ConnectionState state() {
        Client c = client;
        return c == null ? null : c.state;
    }

    /** The current Curator client, for tests (null after an idle close). */
    CuratorFramework curator() {
        Client c = client;
        return c == null ? null : c.curator;
    }

    /**
     * Runs {@code action} with the client now if its session is usable, never between a connect and its
     * {@link Listener#beforeUse}; false when it did not run.
     */
    boolean whenUsable(Consumer<CuratorFramework> action) {
        synchronized (lock) {
            Client c = client;
            if (c == null || !c.usable() || calls.isClosed()) {
                return false;
            }
            action.accept(c.curator);
            return true;
        }
    }

    /**
     * The member is about to create an ephemeral key: from now on the session is a lease the idle rule watches.
     * Called before the create is sent, so a create whose answer is lost is covered too.
     */
    void holdsLease() {
        leaseInUse = true;
        if (idleCheckScheduled.compareAndSet(false, true)) {
            long period = Math.max(TimeUnit.MILLISECONDS.toNanos(100), context.ttl().toNanos() / 5);
            try {
                idleCheck.scheduleWithFixedDelay(this::closeIfIdle, period, period, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException e) {
                // closed meanwhile
            }
        }
    }

    /** The session the member's last call was served by. */
    long currentSession(String what) throws DcsUnavailableException {
        try {
            long id = zooKeeper().getSessionId();
            if (id != 0) {
                ownSessions.add(id);
            }
            return id;
        } catch (Exception e) {
            throw new DcsUnavailableException(what + ": no ZooKeeper session (" + e + ")", e);
        }
    }

    /**
     * The lease now rests on the session that served the call: take its granted timeout (the connection listener
     * may not have seen a brand-new session yet). Returns that session's id.
     */
    long noteLease() {
        try {
            ZooKeeper zk = zooKeeper();
            negotiatedSessionTimeout = Duration.ofMillis(zk.getSessionTimeout());
            ownSessions.add(zk.getSessionId());
            return zk.getSessionId();
        } catch (Exception e) {
            // The listener records the same values when it runs.
            return sessionId;
        }
    }

    private ZooKeeper zooKeeper() throws Exception {
        Client c = client;
        if (c == null) {
            throw new IllegalStateException("no ZooKeeper client");
        }
        return c.curator.getZookeeperClient().getZooKeeper();
    }

    // ------------------------------------------------------------------------------------------------ calls

    /**
     * Runs one Curator operation in the background and waits for its answer until {@code deadline}. Fails at once
     * when the connection is not usable, and as soon as it is suspended while waiting.
     */
    CuratorEvent op(String what, String path, long deadline, Submit submit) throws DcsUnavailableException {
        Client c = usable(what, path, deadline);
        CompletableFuture<CuratorEvent> f = new CompletableFuture<>();
        c.inFlight.add(f);
        try {
            try {
                submit.to(c.curator, (cf, event) -> f.complete(event));
            } catch (Exception e) {
                throw new DcsUnavailableException(what + " " + path + ": the ZooKeeper client refused the call ("
                        + e + ")", e);
            }
            return await(f, what, path, deadline);
        } finally {
            c.inFlight.remove(f);
        }
    }

    /**
     * One multi: reads are all served by the same server at the same point of its history; writes (and checks) are
     * applied all together or not at all. A failed multi still returns one result per op, the failed op's with its
     * error code ({@link #firstError}).
     */
    List<OpResult> multi(String what, List<Op> ops, long deadline) throws DcsUnavailableException {
        Client c = usable(what, scopePath, deadline);
        CompletableFuture<List<OpResult>> f = new CompletableFuture<>();
        c.inFlight.add(f);
        try {
            ZooKeeper zk;
            try {
                zk = c.curator.getZookeeperClient().getZooKeeper();
            } catch (Exception e) {
                throw new DcsUnavailableException(what + ": no ZooKeeper connection (" + e + ")", e);
            }
            try {
                // With per-op errors the callback's rc is the first error, but every result is still there.
                zk.multi(ops, (rc, p, ctx, results) -> {
                    if (results != null && results.size() == ops.size()) {
                        f.complete(results);
                    } else {
                        f.completeExceptionally(failure(what, scopePath, Code.get(rc)));
                    }
                }, null);
            } catch (RuntimeException e) {
                throw new DcsUnavailableException(what + ": the ZooKeeper client refused the call (" + e + ")", e);
            }
            return await(f, what, scopePath, deadline);
        } finally {
            c.inFlight.remove(f);
        }
    }

    static Code code(CuratorEvent e) {
        return Code.get(e.getResultCode());
    }

    /** A read of a multi that did not succeed: fine if the node does not exist, a failure otherwise. */
    void requireNoNode(String what, String path, OpResult r) throws DcsUnavailableException {
        Code c = Code.get(((OpResult.ErrorResult) r).getErr());
        if (c != Code.NONODE) {
            throw failure(what, path, c);
        }
    }

    /** The index of the op a failed multi failed on, or -1 when every op succeeded. */
    static int firstError(List<OpResult> results) {
        for (int i = 0; i < results.size(); i++) {
            if (results.get(i) instanceof OpResult.ErrorResult e) {
                Code c = Code.get(e.getErr());
                if (c != Code.OK && c != Code.RUNTIMEINCONSISTENCY) {
                    return i;
                }
            }
        }
        return -1;
    }

    DcsUnavailableException failure(String what, String path, Code code) {
        String why = switch (code) {
            case CONNECTIONLOSS -> "the connection to ZooKeeper (" + settings.connectString() + ") was lost";
            case SESSIONEXPIRED -> "the ZooKeeper session expired (this member's leader and member keys are gone)";
            case OPERATIONTIMEOUT, REQUESTTIMEOUT -> "ZooKeeper did not answer in time";
            case SESSIONMOVED -> "the session moved to another ZooKeeper server";
            case NOAUTH -> "not authorized: check the digest credentials and the ACLs of " + scopePath;
            case AUTHFAILED -> "ZooKeeper rejected the credentials";
            default -> "ZooKeeper answered " + code;
        };
        return new DcsUnavailableException(what + " " + path + ": " + why);
    }

    private <T> T await(CompletableFuture<T> f, String what, String path, long deadline)
            throws DcsUnavailableException {
        try {
            return f.get(Math.max(0, calls.remainingNanos(deadline)), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new DcsUnavailableException(what + " " + path + ": no answer from ZooKeeper ("
                    + settings.connectString() + ") within retryTimeout " + context.retryTimeout().toMillis()
                    + " ms; the outcome is unknown");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw new DcsUnavailableException(cause.getMessage(), cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DcsUnavailableException(what + " " + path + ": interrupted while waiting for ZooKeeper", e);
        }
    }

    /** The client for an operation, connected; a new one when the last was closed for idleness. */
    private Client usable(String what, String path, long deadline) throws DcsUnavailableException {
        calls.requireOpen(what + " " + path);
        Client c = client;
        if (c == null) {
            c = reopen(what + " " + path);
        }
        if (c.state == null) {
            long waitNanos = Math.min(calls.remainingNanos(deadline), connectionTimeout.toNanos());
            try {
                if (waitNanos <= 0 || !c.firstConnection.await(waitNanos, TimeUnit.NANOSECONDS)) {
                    throw new DcsUnavailableException(what + " " + path + ": not connected to ZooKeeper ("
                            + settings.connectString() + ") yet");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DcsUnavailableException(what + " " + path + ": interrupted while connecting", e);
            }
        }
        ConnectionState s = c.state;
        if (s != ConnectionState.CONNECTED && s != ConnectionState.RECONNECTED) {
            throw new DcsUnavailableException(what + " " + path + ": the ZooKeeper connection ("
                    + settings.connectString() + ") is " + s + "; calls fail until it reconnects");
        }
        if (!c.curator.getZookeeperClient().isConnected()) {
            throw new DcsUnavailableException(what + " " + path + ": disconnected from ZooKeeper ("
                    + settings.connectString() + ")");
        }
        return c;
    }

    // ------------------------------------------------------------------------------------------------ clients

    /** Builds and starts a new client and makes it the current one (first, so its events are not taken as old). */
    private Client start() {
        ZKClientConfig zkConfig = new ZKClientConfig();
        // Only digest auth is offered; without this the client probes for a JAAS config and logs a warning.
        zkConfig.setProperty(ZKClientConfig.ENABLE_CLIENT_SASL_KEY, "false");
        // Bounds the synchronous calls ZooKeeper makes on close (closeSession) when the server stays silent.
        zkConfig.setProperty(ZKClientConfig.ZOOKEEPER_REQUEST_TIMEOUT,
                Long.toString(context.retryTimeout().toMillis()));
        CuratorFrameworkFactory.Builder b = CuratorFrameworkFactory.builder()
                .connectString(settings.connectString())
                .sessionTimeoutMs((int) requestedSessionTimeout.toMillis())
                .connectionTimeoutMs((int) connectionTimeout.toMillis())
                // No retries inside Curator: a call must fail while SUSPENDED instead of waiting for a reconnect
                // (Patroni #1981), and a retried write landing after the caller gave up would surprise it.
                .retryPolicy((retryCount, elapsedMs, sleeper) -> false)
                // The connect string is authoritative: the tracker would replace it with the server list found in
                // /zookeeper/config and bypass proxies and load balancers in front of ZooKeeper.
                .ensembleTracker(false)
                .zkClientConfig(zkConfig)
                .threadFactory(curatorThreads);
        if (settings.auth() != null) {
            b.authorization("digest", settings.auth().authBytes());
        }
        Client c = new Client(b.build());
        c.curator.getConnectionStateListenable().addListener((cf, s) -> onConnectionState(c, s));
        client = c;
        c.curator.start();
        return c;
    }

    /** After an idle close: the next call opens a new session. */
    private Client reopen(String what) throws DcsUnavailableException {
        synchronized (lock) {
            calls.requireOpen(what);
            Client c = client;
            if (c == null) {
                LOG.info("{}the member calls again: opening a new ZooKeeper session", log);
                c = start();
            }
            return c;
        }
    }

    private void closeIfIdle() {
        if (!leaseInUse || calls.isClosed()) {
            return;
        }
        Client c;
        synchronized (lock) {
            c = client;
            if (c == null || !idleRule.isIdle("closing ZooKeeper session 0x" + Long.toHexString(sessionId)
                    + ", so the server deletes this member's leader and member keys; the next call opens a new "
                    + "session")) {
                return;
            }
            client = null;
            leaseInUse = false;
        }
        closeClient(c, "the ZooKeeper session was closed: the member made no call for longer than its ttl");
        listener.mayHaveChanged();
    }

    /** The lease may end no earlier than promised: the ttl, or the negotiated session timeout if that is longer. */
    private Duration idleLimit() {
        Duration granted = negotiatedSessionTimeout;
        return granted.compareTo(context.ttl()) > 0 ? granted : context.ttl();
    }

    private static void failInFlight(Client c, String why) {
        for (CompletableFuture<?> f : c.inFlight) {
            f.completeExceptionally(new DcsUnavailableException(why + "; the outcome is unknown"));
        }
    }

    private void closeClient(Client c, String why) {
        failInFlight(c, why);
        try {
            c.curator.close();
        } catch (RuntimeException e) {
            LOG.warn("{}closing the ZooKeeper client failed: {}", log, e.toString());
        }
    }

    /**
     * Closes the session, so the server deletes this member's leader and member keys at once, and releases the
     * client. If the server cannot be reached the keys stay until the session times out, as after a crash.
     */
    @Override
    public void close() {
        idleCheck.shutdownNow();
        Client c;
        synchronized (lock) {
            c = client;
            client = null;
        }
        if (c == null) {
            LOG.info("{}closed (no ZooKeeper session was open)", log);
            return;
        }
        boolean wasConnected = c.usable();
        closeClient(c, "the ZooKeeper client was closed");
        if (wasConnected) {
            LOG.info("{}closed ZooKeeper session 0x{}: the server deletes its leader and member keys when the close "
                    + "reaches it, or after {} ms if it does not", log, Long.toHexString(sessionId),
                    negotiatedSessionTimeout.toMillis());
        } else {
            LOG.info("{}closed the ZooKeeper client while disconnected: session 0x{} and its keys expire after {} ms",
                    log, Long.toHexString(sessionId), negotiatedSessionTimeout.toMillis());
        }
    }

    // ------------------------------------------------------------------------------------------------ events

    private void onConnectionState(Client c, ConnectionState s) {
        if (c != client) {
            // A client closed for idleness or on close: its news is old.
            return;
        }
        switch (s) {
            case CONNECTED, RECONNECTED -> onConnected(c, s);
            case SUSPENDED -> {
                c.state = s;
                failInFlight(c, "the ZooKeeper connection was suspended while waiting for the answer");
                LOG.warn("{}ZooKeeper connection suspended: DCS calls fail until it reconnects, so a leader cannot "
                        + "renew its lease", log);
            }
            case LOST -> {
                c.state = s;
                failInFlight(c, "the ZooKeeper session was lost while waiting for the answer");
                LOG.warn("{}ZooKeeper session 0x{} lost: this member's leader and member keys are gone", log,
                        Long.toHexString(sessionId));
                listener.mayHaveChanged();
            }
            default -> {
                // READ_ONLY is never requested (canBeReadOnly is off); treat anything else as unusable.
                c.state = s;
                failInFlight(c, "the ZooKeeper connection became " + s);
            }
        }
    }

    private void onConnected(Client c, ConnectionState s) {
        long id;
        int timeout;
        try {
            ZooKeeper zk = c.curator.getZookeeperClient().getZooKeeper();
            id = zk.getSessionId();
            timeout = zk.getSessionTimeout();
        } catch (Exception e) {
            LOG.warn("{}ZooKeeper reported {} but the session cannot be read: {}", log, s, e.toString());
            return;
        }
        boolean newSession = id != sessionId;
        sessionId = id;
        ownSessions.add(id);
        negotiatedSessionTimeout = Duration.ofMillis(timeout);
        if (newSession) {
            SessionExpiryBound lease = settings.bound(Duration.ofMillis(timeout));
            LOG.info("{}ZooKeeper session 0x{} established with {}: session timeout requested {} ms, negotiated {} ms;"
                    + " lease guarantee {}", log, Long.toHexString(id), settings.connectString(),
                    requestedSessionTimeout.toMillis(), timeout, lease.explain());
            if (lease.guarantee().compareTo(context.retryTimeout()) <= 0) {
                LOG.warn("{}the negotiated session timeout leaves a lease guarantee of {}, not longer than retryTimeout"
                        + " {}: this member refuses to take the leader key", log,
                        Durations.format(lease.guarantee()), Durations.format(context.retryTimeout()));
            }
            if (timeout < requestedSessionTimeout.toMillis()) {
                LOG.warn("{}ZooKeeper granted a session timeout of {} ms, shorter than the {} ms requested (server "
                        + "maxSessionTimeout): the leader lease is shortened to match", log, timeout,
                        requestedSessionTimeout.toMillis());
            } else if (timeout > requestedSessionTimeout.toMillis()) {
                LOG.warn("{}ZooKeeper granted a session timeout of {} ms, longer than the {} ms requested (server "
                        + "minSessionTimeout): a crashed leader keeps its key that long", log, timeout,
                        requestedSessionTimeout.toMillis());
            }
        } else {
            LOG.info("{}reconnected to ZooKeeper, session 0x{} kept", log, Long.toHexString(id));
        }
        boolean first = !everConnected;
        synchronized (lock) {
            // The listener's requests (the leader watch) are queued on this connection before any call's: the server
            // handles one session's requests in order, so the watch is in place before the member's next call.
            listener.beforeUse(c.curator, first);
            everConnected = true;
            c.state = s;
        }
        c.firstConnection.countDown();
        // Whatever happened while we were away (or without a session) is news to the watcher.
        if (!first) {
            listener.mayHaveChanged();
        }
    }
}
