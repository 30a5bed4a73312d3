package io.pgha.dcs.zookeeper;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Member;
import io.pgha.core.spi.ClusterViewDecoder;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.KeyValueDcs;
import io.pgha.core.spi.PatroniJson;
import io.pgha.core.spi.RawNode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.BackgroundCallback;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Dcs} port on Apache ZooKeeper through Curator, with Patroni's key layout and values, so a pgha member
 * and a Patroni member can share one cluster.
 *
 * <ul>
 *   <li>The member's <b>lease is its ZooKeeper session</b>. The session timeout requested is the member's
 *       {@code ttl} (or {@link ZooKeeperSettings#sessionTimeout()}); the value the server negotiated is logged and
 *       is what {@link #leaseGuarantee()} returns (docs/decisions 0203).</li>
 *   <li>The <b>leader key</b> is an EPHEMERAL znode holding the member name, created only by
 *       {@link #acquireLeader()}; {@link #renewLeader()} checks its value and its {@code ephemeralOwner} (docs/decisions
 *       0201). No Curator recipe touches it: a recipe that recreates nodes on reconnect would let a fenced leader
 *       re-assert itself.</li>
 *   <li>A <b>SUSPENDED or LOST connection is "unavailable"</b>: every call then fails at once with
 *       {@link DcsUnavailableException}, and calls waiting for an answer are failed as soon as the connection is
 *       suspended (docs/decisions 0202). Curator does not retry; the HA loop is the retry loop. Every call is bounded
 *       by the member's {@code retryTimeout}.</li>
 *   <li>Reads are linearizable: a {@code sync} and then one multi-read of every value, served atomically by one
 *       server (docs/decisions 0204).</li>
 *   <li>With digest auth every znode it creates is writable only with the credentials (docs/decisions 0205).</li>
 * </ul>
 *
 * <p>Thread-safe. {@link #watchLeader} callbacks run on one daemon thread owned by this instance.
 */
public final class ZooKeeperDcs extends KeyValueDcs {

    private static final Logger LOG = LoggerFactory.getLogger(ZooKeeperDcs.class);

    /** Keys read by {@link #read()} besides the members; unknown children (e.g. Citus groups) are skipped. */
    private static final List<String> VALUE_KEYS = List.of(KeyLayout.LEADER, KeyLayout.CONFIG, KeyLayout.SYNC,
            KeyLayout.FAILOVER, KeyLayout.HISTORY, KeyLayout.INITIALIZE, KeyLayout.STATUS, KeyLayout.FAILSAFE);
    private static final String MEMBERS_DIR = "members";
    private static final String LEGACY_OPTIME_DIR = "optime";
    /** A key that keeps changing between our read and our write is given up after this many rounds. */
    private static final int MAX_ROUNDS = 3;

    private final ZooKeeperSettings settings;
    private final DcsContext context;
    private final KeyLayout layout;
    private final String log;
    private final String scopePath;
    private final String membersPath;
    private final String leaderPath;
    private final String memberPath;
    private final byte[] nameBytes;
    private final Duration requestedSessionTimeout;
    private final Duration connectionTimeout;
    private final long retryTimeoutNanos;
    private final List<ACL> keyAcl;
    private final List<ACL> namespaceAcl;
    private final CuratorFramework client;

    private final CountDownLatch firstConnection = new CountDownLatch(1);
    private final Set<CompletableFuture<?>> inFlight = ConcurrentHashMap.newKeySet();
    private final List<Runnable> leaderCallbacks = new CopyOnWriteArrayList<>();
    private final AtomicBoolean notifyPending = new AtomicBoolean();
    private final ThreadPoolExecutor callbackThread;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Watcher leaderWatcher = this::onLeaderEvent;

    /** Null until the first connection. */
    private volatile ConnectionState state;
    private volatile long sessionId;
    private volatile Duration negotiatedSessionTimeout = Duration.ZERO;

    // ------------------------------------------------------------------------------------------------ factories

    /** A factory for members connecting to {@code connectString} with default settings. */
    public static DcsFactory connect(String connectString) {
        return connect(ZooKeeperSettings.builder(connectString).build());
    }

    /** A factory for members connecting with {@code settings}. */
    public static DcsFactory connect(ZooKeeperSettings settings) {
        Objects.requireNonNull(settings, "settings");
        return context -> open(settings, context);
    }

    /**
     * Opens the session of one member. Returns at once: the connection is made in the background, and the first
     * call waits for it (at most {@code connectionTimeout}, never past its own {@code retryTimeout}).
     */
    public static ZooKeeperDcs open(ZooKeeperSettings settings, DcsContext context) {
        return new ZooKeeperDcs(settings, context);
    }

    private ZooKeeperDcs(ZooKeeperSettings settings, DcsContext context) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.context = Objects.requireNonNull(context, "context");
        String name = context.memberName();
        this.layout = context.layout();
        this.log = layout.scope() + "/" + name + " - ";
        String prefix = layout.prefix();
        this.scopePath = prefix.substring(0, prefix.length() - 1);
        this.membersPath = layout.key(MEMBERS_DIR);
        this.leaderPath = layout.leader();
        this.memberPath = layout.member(name);
        this.nameBytes = name.getBytes(StandardCharsets.UTF_8);
        this.requestedSessionTimeout = settings.sessionTimeoutFor(context);
        this.connectionTimeout = settings.connectionTimeoutFor(context);
        this.retryTimeoutNanos = context.retryTimeout().toNanos();
        this.keyAcl = keyAcl(settings);
        this.namespaceAcl = namespaceAcl(settings);
        this.callbackThread = new ThreadPoolExecutor(0, 1, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                daemonThreads("pgha-zk-watch-" + layout.scope() + "-" + name));

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
                .threadFactory(daemonThreads("pgha-zk-" + layout.scope() + "-" + name));
        if (settings.auth() != null) {
            b.authorization("digest", settings.auth().authBytes());
        }
        this.client = b.build();
        this.client.getConnectionStateListenable().addListener((c, s) -> onConnectionState(s));
        LOG.info("{}connecting to ZooKeeper {} (session timeout requested {} ms, retryTimeout {} ms{})", log,
                settings.connectString(), requestedSessionTimeout.toMillis(), context.retryTimeout().toMillis(),
                settings.auth() == null ? "" : ", digest auth as " + settings.auth().user());
        this.client.start();
    }

    // ------------------------------------------------------------------------------------------------ identity

    @Override
    public String memberName() {
        return context.memberName();
    }

    /** The settings this member was opened with. */
    public ZooKeeperSettings settings() {
        return settings;
    }

    /** The session timeout requested from the server. */
    public Duration requestedSessionTimeout() {
        return requestedSessionTimeout;
    }

    /** The session timeout the server granted for the current session; zero before the first connection. */
    public Duration negotiatedSessionTimeout() {
        return negotiatedSessionTimeout;
    }

    /** The current session id; 0 before the first connection. */
    public long sessionId() {
        return sessionId;
    }

    /** The Curator connection state as last reported; null before the first connection. */
    public ConnectionState connectionState() {
        return state;
    }

    /** The underlying client, for tests in this package (forcing session expiry). */
    CuratorFramework curator() {
        return client;
    }

    // ------------------------------------------------------------------------------------------------ reads

    @Override
    public ClusterView read() throws DcsUnavailableException {
        long deadline = deadline();
        String what = "read the cluster";
        // A server answers reads from its own copy; sync first so we see every write committed before this call.
        Code synced = code(op(what, scopePath, deadline, cb -> client.sync().inBackground(cb).forPath(scopePath)));
        if (synced != Code.OK && synced != Code.NONODE) {
            throw failure(what, scopePath, synced);
        }
        List<OpResult> dirs = multiRead(what, List.of(Op.getChildren(scopePath), Op.getChildren(membersPath)),
                deadline);
        List<String> top = children(what, scopePath, dirs.get(0));
        if (top == null) {
            return ClusterViewDecoder.decode(layout, List.of());
        }
        List<String> keys = new ArrayList<>();
        for (String k : VALUE_KEYS) {
            if (top.contains(k)) {
                keys.add(k);
            }
        }
        List<String> members = children(what, membersPath, dirs.get(1));
        if (members != null) {
            members.stream().sorted().forEach(m -> keys.add(KeyLayout.MEMBERS + m));
        }
        if (top.contains(LEGACY_OPTIME_DIR)) {
            keys.add(KeyLayout.LEGACY_OPTIME);
        }
        if (keys.isEmpty()) {
            return ClusterViewDecoder.decode(layout, List.of());
        }
        List<Op> gets = keys.stream().map(k -> Op.getData(layout.key(k))).toList();
        List<OpResult> values = multiRead(what, gets, deadline);
        List<RawNode> nodes = new ArrayList<>(keys.size());
        for (int i = 0; i < keys.size(); i++) {
            String key = keys.get(i);
            OpResult r = values.get(i);
            if (r instanceof OpResult.GetDataResult d) {
                Stat st = d.getStat();
                long epoch = key.equals(KeyLayout.LEADER) ? st.getCzxid() : 0;
                nodes.add(new RawNode(key, d.getData(), st.getVersion(), epoch));
            } else if (r instanceof OpResult.ErrorResult e && Code.get(e.getErr()) != Code.NONODE) {
                throw failure(what, layout.key(key), Code.get(e.getErr()));
            }
            // NONODE: deleted between listing and reading; it is simply absent from this view.
        }
        return ClusterViewDecoder.decode(layout, nodes);
    }

    private List<String> children(String what, String path, OpResult r) throws DcsUnavailableException {
        if (r instanceof OpResult.GetChildrenResult c) {
            return c.getChildren();
        }
        Code c = Code.get(((OpResult.ErrorResult) r).getErr());
        if (c == Code.NONODE) {
            return null;
        }
        throw failure(what, path, c);
    }

    // ------------------------------------------------------------------------------------------------ leader key

    @Override
    public boolean acquireLeader() throws DcsUnavailableException {
        long deadline = deadline();
        String what = "acquire the leader key";
        Code c = create(what, leaderPath, nameBytes, CreateMode.EPHEMERAL, deadline);
        if (c == Code.OK) {
            long session = noteLease();
            LOG.info("{}acquired the leader key {} (session 0x{})", log, leaderPath, Long.toHexString(session));
            return true;
        }
        if (c != Code.NODEEXISTS) {
            throw failure(what, leaderPath, c);
        }
        // Our own earlier attempt may have created it before its answer was lost: that still counts as ours.
        Node n = get(what, leaderPath, deadline);
        if (n != null && n.holds(nameBytes) && n.stat.getEphemeralOwner() == currentSession(what)) {
            noteLease();
            return true;
        }
        return false;
    }

    @Override
    public boolean renewLeader() throws DcsUnavailableException {
        long deadline = deadline();
        String what = "renew the leader key";
        // Linearizable: a lagging server must not confirm a key that the quorum already deleted.
        Code synced = code(op(what, leaderPath, deadline, cb -> client.sync().inBackground(cb).forPath(leaderPath)));
        if (synced != Code.OK && synced != Code.NONODE) {
            throw failure(what, leaderPath, synced);
        }
        Node n = get(what, leaderPath, deadline);
        if (n == null || !n.holds(nameBytes)) {
            return false;
        }
        long session = currentSession(what);
        if (n.stat.getEphemeralOwner() == session) {
            // The read itself kept the session alive: no write, so replicas watching the key are not woken.
            noteLease();
            return true;
        }
        // Our name, but bound to an earlier session (a restarted process) or to no session at all: rebind it to
        // this session, or it would vanish when that session expires. Losing either step to someone else = lost.
        Code deleted = code(op(what, leaderPath, deadline,
                cb -> client.delete().withVersion(n.stat.getVersion()).inBackground(cb).forPath(leaderPath)));
        if (deleted == Code.BADVERSION || deleted == Code.NONODE) {
            return false;
        }
        if (deleted != Code.OK) {
            throw failure(what, leaderPath, deleted);
        }
        Code created = create(what, leaderPath, nameBytes, CreateMode.EPHEMERAL, deadline);
        if (created == Code.NODEEXISTS) {
            LOG.warn("{}lost the leader key while re-creating it under session 0x{}", log, Long.toHexString(session));
            return false;
        }
        if (created != Code.OK) {
            throw failure(what, leaderPath, created);
        }
        noteLease();
        LOG.info("{}re-created the leader key under the current session 0x{} (it was owned by session 0x{})", log,
                Long.toHexString(session), Long.toHexString(n.stat.getEphemeralOwner()));
        return true;
    }

    @Override
    public boolean releaseLeader() throws DcsUnavailableException {
        long deadline = deadline();
        String what = "release the leader key";
        Node n = get(what, leaderPath, deadline);
        if (n == null || !n.holds(nameBytes)) {
            return false;
        }
        Code c = code(op(what, leaderPath, deadline,
                cb -> client.delete().withVersion(n.stat.getVersion()).inBackground(cb).forPath(leaderPath)));
        if (c == Code.OK) {
            LOG.info("{}released the leader key {}", log, leaderPath);
            return true;
        }
        if (c == Code.BADVERSION || c == Code.NONODE) {
            return false;
        }
        throw failure(what, leaderPath, c);
    }

    @Override
    public Duration leaseGuarantee() {
        return negotiatedSessionTimeout;
    }

    @Override
    public void watchLeader(Runnable onChange) {
        Objects.requireNonNull(onChange, "onChange");
        leaderCallbacks.add(onChange);
        armLeaderWatch();
    }

    // ------------------------------------------------------------------------------------------------ CAS keys

    // ------------------------------------------------------------------------------------------------ best effort

    @Override
    public void touchMember(Member data) throws DcsUnavailableException {
        Objects.requireNonNull(data, "data");
        if (!data.name().equals(memberName())) {
            throw new IllegalArgumentException("touchMember: member '" + data.name()
                    + "' is not the member this session acts for ('" + memberName() + "')");
        }
        long deadline = deadline();
        String what = "publish the member key";
        byte[] bytes = PatroniJson.encodeMember(data);
        for (int round = 0; round < MAX_ROUNDS; round++) {
            CuratorEvent e = op(what, memberPath, deadline,
                    cb -> client.setData().inBackground(cb).forPath(memberPath, bytes));
            Code c = code(e);
            if (c == Code.OK) {
                long session = currentSession(what);
                Stat st = e.getStat();
                if (st.getEphemeralOwner() == session) {
                    return;
                }
                // Left by an earlier session of ours (or written by hand): rebind it, or it vanishes when that
                // session expires while we are alive.
                Code d = code(op(what, memberPath, deadline,
                        cb -> client.delete().withVersion(st.getVersion()).inBackground(cb).forPath(memberPath)));
                if (d != Code.OK && d != Code.NONODE && d != Code.BADVERSION) {
                    throw failure(what, memberPath, d);
                }
                if (d == Code.BADVERSION) {
                    continue;
                }
            } else if (c != Code.NONODE) {
                throw failure(what, memberPath, c);
            }
            Code created = create(what, memberPath, bytes, CreateMode.EPHEMERAL, deadline);
            if (created == Code.OK) {
                return;
            }
            if (created != Code.NODEEXISTS) {
                throw failure(what, memberPath, created);
            }
        }
        throw new DcsUnavailableException(what + " " + memberPath + ": the key changed under us " + MAX_ROUNDS
                + " times in a row; giving up for this cycle");
    }

    @Override
    public void deleteMember() throws DcsUnavailableException {
        long deadline = deadline();
        String what = "delete the member key";
        Code c = code(op(what, memberPath, deadline, cb -> client.delete().inBackground(cb).forPath(memberPath)));
        if (c != Code.OK && c != Code.NONODE) {
            throw failure(what, memberPath, c);
        }
    }

    // ------------------------------------------------------------------------------------------------ close

    /**
     * Closes the session, so the server deletes this member's leader and member keys at once, and releases the
     * client. If the server cannot be reached the keys stay until the session times out, as after a crash.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        boolean wasConnected = isConnected();
        failInFlight("the ZooKeeper client was closed");
        callbackThread.shutdownNow();
        try {
            client.close();
        } catch (RuntimeException e) {
            LOG.warn("{}closing the ZooKeeper client failed: {}", log, e.toString());
        }
        if (wasConnected) {
            LOG.info("{}closed ZooKeeper session 0x{}: the server deletes its leader and member keys when the close "
                    + "reaches it, or after {} ms if it does not", log, Long.toHexString(sessionId),
                    negotiatedSessionTimeout.toMillis());
        } else {
            LOG.info("{}closed the ZooKeeper client while disconnected: session 0x{} and its keys expire after {} ms",
                    log, Long.toHexString(sessionId), negotiatedSessionTimeout.toMillis());
        }
    }

    @Override
    public String toString() {
        return "ZooKeeperDcs[" + layout.scope() + "/" + memberName() + " @ " + settings.connectString() + "]";
    }

    // ------------------------------------------------------------------------------------------------ CAS helpers

    @Override
    protected boolean compareAndSet(String what, String key, byte[] data, long expected)
            throws DcsUnavailableException {
        long deadline = deadline();
        String path = layout.key(key);
        if (expected == DcsVersion.ABSENT) {
            Code c = create(what, path, data, CreateMode.PERSISTENT, deadline);
            if (c == Code.OK || c == Code.NODEEXISTS) {
                return c == Code.OK;
            }
            throw failure(what, path, c);
        }
        if (expected == ANY_VERSION) {
            upsert(what, key, data, deadline);
            return true;
        }
        int version = zkVersion(what, expected);
        Code c = code(op(what, path, deadline,
                cb -> client.setData().withVersion(version).inBackground(cb).forPath(path, data)));
        if (c == Code.OK) {
            return true;
        }
        if (c == Code.BADVERSION || c == Code.NONODE) {
            return false;
        }
        throw failure(what, path, c);
    }

    @Override
    protected boolean compareAndDelete(String what, String key, long expected) throws DcsUnavailableException {
        long deadline = deadline();
        String path = layout.key(key);
        if (expected == DcsVersion.ABSENT) {
            // "Delete it if it is absent": true exactly when there is nothing to delete.
            Code c = code(op(what, path, deadline, cb -> client.checkExists().inBackground(cb).forPath(path)));
            if (c == Code.OK || c == Code.NONODE) {
                return c == Code.NONODE;
            }
            throw failure(what, path, c);
        }
        int version = expected == ANY_VERSION ? -1 : zkVersion(what, expected);
        Code c = code(op(what, path, deadline,
                cb -> client.delete().withVersion(version).inBackground(cb).forPath(path)));
        if (c == Code.OK) {
            return true;
        }
        if (c == Code.NONODE) {
            return expected == ANY_VERSION;
        }
        if (c == Code.BADVERSION) {
            return false;
        }
        throw failure(what, path, c);
    }

    /** Last writer wins: replace, or create when absent. */
    private void upsert(String what, String key, byte[] data, long deadline) throws DcsUnavailableException {
        String path = layout.key(key);
        for (int round = 0; round < MAX_ROUNDS; round++) {
            Code c = code(op(what, path, deadline, cb -> client.setData().inBackground(cb).forPath(path, data)));
            if (c == Code.OK) {
                return;
            }
            if (c != Code.NONODE) {
                throw failure(what, path, c);
            }
            Code created = create(what, path, data, CreateMode.PERSISTENT, deadline);
            if (created == Code.OK) {
                return;
            }
            if (created != Code.NODEEXISTS) {
                throw failure(what, path, created);
            }
        }
        throw new DcsUnavailableException(what + " " + path + ": the key changed under us " + MAX_ROUNDS
                + " times in a row; giving up for this cycle");
    }

    /** ZooKeeper's -1 means "any version" to setData/delete, so a caller's version must never map to it by accident. */
    private static int zkVersion(String what, long expected) {
        if (expected < 0 || expected > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(what + ": expectedVersion must be a version read from ZooKeeper "
                    + "(0.." + Integer.MAX_VALUE + "), DcsVersion.ABSENT or Dcs.ANY_VERSION (got " + expected + ")");
        }
        return (int) expected;
    }

    /** Creates {@code path}, and its missing parents with the right ACLs if needed; returns the create's result. */
    private Code create(String what, String path, byte[] data, CreateMode mode, long deadline)
            throws DcsUnavailableException {
        List<ACL> acl = aclFor(path);
        Code c = code(op(what, path, deadline,
                cb -> client.create().withMode(mode).withACL(acl).inBackground(cb).forPath(path, data)));
        if (c != Code.NONODE) {
            return c;
        }
        createParents(what, path, deadline);
        return code(op(what, path, deadline,
                cb -> client.create().withMode(mode).withACL(acl).inBackground(cb).forPath(path, data)));
    }

    private void createParents(String what, String path, long deadline) throws DcsUnavailableException {
        int i = 0;
        while ((i = path.indexOf('/', i + 1)) > 0) {
            String parent = path.substring(0, i);
            List<ACL> acl = aclFor(parent);
            Code c = code(op(what, parent, deadline, cb -> client.create().withMode(CreateMode.PERSISTENT)
                    .withACL(acl).inBackground(cb).forPath(parent, new byte[0])));
            if (c != Code.OK && c != Code.NODEEXISTS) {
                throw failure(what, parent, c);
            }
        }
    }

    /** Nodes above the scope may be shared with other clusters, so they let anyone create (never delete) there. */
    private List<ACL> aclFor(String path) {
        return scopePath.startsWith(path + "/") ? namespaceAcl : keyAcl;
    }

    private static List<ACL> keyAcl(ZooKeeperSettings s) {
        if (s.auth() == null) {
            return ZooDefs.Ids.OPEN_ACL_UNSAFE;
        }
        List<ACL> acl = new ArrayList<>();
        acl.add(new ACL(ZooDefs.Perms.ALL, new Id("digest", s.auth().aclId())));
        if (s.worldReadable()) {
            acl.add(new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
        }
        return List.copyOf(acl);
    }

    private static List<ACL> namespaceAcl(ZooKeeperSettings s) {
        if (s.auth() == null) {
            return ZooDefs.Ids.OPEN_ACL_UNSAFE;
        }
        return List.of(new ACL(ZooDefs.Perms.ALL, new Id("digest", s.auth().aclId())),
                new ACL(ZooDefs.Perms.READ | ZooDefs.Perms.CREATE, ZooDefs.Ids.ANYONE_ID_UNSAFE));
    }

    // ------------------------------------------------------------------------------------------------ calls

    private record Node(byte[] data, Stat stat) {
        boolean holds(byte[] name) {
            return new String(data, StandardCharsets.UTF_8).trim().equals(new String(name, StandardCharsets.UTF_8));
        }
    }

    /** Reads a znode; null when it does not exist. */
    private Node get(String what, String path, long deadline) throws DcsUnavailableException {
        CuratorEvent e = op(what, path, deadline, cb -> client.getData().inBackground(cb).forPath(path));
        Code c = code(e);
        if (c == Code.NONODE) {
            return null;
        }
        if (c != Code.OK) {
            throw failure(what, path, c);
        }
        return new Node(e.getData() == null ? new byte[0] : e.getData(), e.getStat());
    }

    @FunctionalInterface
    private interface Submit {
        void to(BackgroundCallback callback) throws Exception;
    }

    /**
     * Runs one Curator operation in the background and waits for its answer until {@code deadline}. Fails at once
     * when the connection is not usable, and as soon as it is suspended while waiting.
     */
    private CuratorEvent op(String what, String path, long deadline, Submit submit) throws DcsUnavailableException {
        requireConnected(what, path, deadline);
        CompletableFuture<CuratorEvent> f = new CompletableFuture<>();
        inFlight.add(f);
        try {
            try {
                submit.to((c, event) -> f.complete(event));
            } catch (Exception e) {
                throw new DcsUnavailableException(what + " " + path + ": the ZooKeeper client refused the call ("
                        + e + ")", e);
            }
            return await(f, what, path, deadline);
        } finally {
            inFlight.remove(f);
        }
    }

    /** One multi-read: every result comes from the same server at the same point of its history. */
    private List<OpResult> multiRead(String what, List<Op> ops, long deadline) throws DcsUnavailableException {
        requireConnected(what, scopePath, deadline);
        CompletableFuture<List<OpResult>> f = new CompletableFuture<>();
        inFlight.add(f);
        try {
            ZooKeeper zk;
            try {
                zk = client.getZookeeperClient().getZooKeeper();
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
            inFlight.remove(f);
        }
    }

    private <T> T await(CompletableFuture<T> f, String what, String path, long deadline)
            throws DcsUnavailableException {
        try {
            return f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
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

    private void requireConnected(String what, String path, long deadline) throws DcsUnavailableException {
        if (closed.get()) {
            throw new DcsUnavailableException(what + " " + path + ": this ZooKeeper client is closed");
        }
        if (state == null) {
            long waitNanos = Math.min(deadline - System.nanoTime(), connectionTimeout.toNanos());
            try {
                if (waitNanos <= 0 || !firstConnection.await(waitNanos, TimeUnit.NANOSECONDS)) {
                    throw new DcsUnavailableException(what + " " + path + ": not connected to ZooKeeper ("
                            + settings.connectString() + ") yet");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DcsUnavailableException(what + " " + path + ": interrupted while connecting", e);
            }
        }
        ConnectionState s = state;
        if (s != ConnectionState.CONNECTED && s != ConnectionState.RECONNECTED) {
            throw new DcsUnavailableException(what + " " + path + ": the ZooKeeper connection ("
                    + settings.connectString() + ") is " + s + "; calls fail until it reconnects");
        }
        if (!client.getZookeeperClient().isConnected()) {
            throw new DcsUnavailableException(what + " " + path + ": disconnected from ZooKeeper ("
                    + settings.connectString() + ")");
        }
    }

    private boolean isConnected() {
        ConnectionState s = state;
        return (s == ConnectionState.CONNECTED || s == ConnectionState.RECONNECTED)
                && client.getZookeeperClient().isConnected();
    }

    private long currentSession(String what) throws DcsUnavailableException {
        try {
            return client.getZookeeperClient().getZooKeeper().getSessionId();
        } catch (Exception e) {
            throw new DcsUnavailableException(what + ": no ZooKeeper session (" + e + ")", e);
        }
    }

    /**
     * The lease now rests on the session that served the call: take its granted timeout (the connection listener
     * may not have seen a brand-new session yet). Returns that session's id.
     */
    private long noteLease() {
        try {
            ZooKeeper zk = client.getZookeeperClient().getZooKeeper();
            negotiatedSessionTimeout = Duration.ofMillis(zk.getSessionTimeout());
            return zk.getSessionId();
        } catch (Exception e) {
            // The listener records the same values when it runs.
            return sessionId;
        }
    }

    private long deadline() {
        return System.nanoTime() + retryTimeoutNanos;
    }

    private static Code code(CuratorEvent e) {
        return Code.get(e.getResultCode());
    }

    private DcsUnavailableException failure(String what, String path, Code code) {
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

    // ------------------------------------------------------------------------------------------------ events

    private void onConnectionState(ConnectionState s) {
        switch (s) {
            case CONNECTED, RECONNECTED -> onConnected(s);
            case SUSPENDED -> {
                state = s;
                failInFlight("the ZooKeeper connection was suspended while waiting for the answer");
                LOG.warn("{}ZooKeeper connection suspended: DCS calls fail until it reconnects, so a leader cannot "
                        + "renew its lease", log);
            }
            case LOST -> {
                state = s;
                failInFlight("the ZooKeeper session was lost while waiting for the answer");
                LOG.warn("{}ZooKeeper session 0x{} lost: this member's leader and member keys are gone", log,
                        Long.toHexString(sessionId));
                notifyLeaderChanged();
            }
            default -> {
                // READ_ONLY is never requested (canBeReadOnly is off); treat anything else as unusable.
                state = s;
                failInFlight("the ZooKeeper connection became " + s);
            }
        }
    }

    private void onConnected(ConnectionState s) {
        long id;
        int timeout;
        try {
            ZooKeeper zk = client.getZookeeperClient().getZooKeeper();
            id = zk.getSessionId();
            timeout = zk.getSessionTimeout();
        } catch (Exception e) {
            LOG.warn("{}ZooKeeper reported {} but the session cannot be read: {}", log, s, e.toString());
            return;
        }
        boolean newSession = id != sessionId;
        sessionId = id;
        negotiatedSessionTimeout = Duration.ofMillis(timeout);
        boolean first = state == null;
        state = s;
        firstConnection.countDown();
        if (newSession) {
            LOG.info("{}ZooKeeper session 0x{} established with {}: session timeout requested {} ms, negotiated {} ms "
                    + "(the leader lease)", log, Long.toHexString(id), settings.connectString(),
                    requestedSessionTimeout.toMillis(), timeout);
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
        if (first) {
            checkScopeAcl();
        }
        armLeaderWatch();
        // Whatever happened while we were away is news to the watcher.
        if (!first) {
            notifyLeaderChanged();
        }
    }

    private void failInFlight(String why) {
        for (CompletableFuture<?> f : inFlight) {
            f.completeExceptionally(new DcsUnavailableException(why + "; the outcome is unknown"));
        }
    }

    private void onLeaderEvent(WatchedEvent e) {
        if (e.getType() == Watcher.Event.EventType.None) {
            // Connection events reach every watcher; the state listener handles them.
            return;
        }
        notifyLeaderChanged();
        armLeaderWatch();
    }

    /** A one-shot exists-watch on the leader key, re-armed after each event and each reconnect. */
    private void armLeaderWatch() {
        if (leaderCallbacks.isEmpty() || closed.get() || !isConnected()) {
            return;
        }
        try {
            client.checkExists().usingWatcher(leaderWatcher).inBackground((c, ev) -> {
                Code code = code(ev);
                if (code != Code.OK && code != Code.NONODE) {
                    LOG.debug("{}arming the leader watch failed ({}); it is re-armed on reconnect", log, code);
                }
            }).forPath(leaderPath);
        } catch (Exception ex) {
            LOG.debug("{}arming the leader watch failed ({}); it is re-armed on reconnect", log, ex.toString());
        }
    }

    /** Runs the callbacks on our own thread; bursts of events collapse into one run. */
    private void notifyLeaderChanged() {
        if (leaderCallbacks.isEmpty() || closed.get() || !notifyPending.compareAndSet(false, true)) {
            return;
        }
        try {
            callbackThread.execute(() -> {
                notifyPending.set(false);
                for (Runnable r : leaderCallbacks) {
                    try {
                        r.run();
                    } catch (RuntimeException ex) {
                        LOG.warn("{}leader watch callback failed", log, ex);
                    }
                }
            });
        } catch (RejectedExecutionException ex) {
            notifyPending.set(false);
        }
    }

    /**
     * With digest auth the scope node must not let anyone else write: ZooKeeper checks deletes against the parent's
     * ACL, so an open scope node lets any client delete the leader key. Nodes we create are safe; warn about one
     * created earlier by someone else.
     */
    private void checkScopeAcl() {
        if (settings.auth() == null) {
            return;
        }
        try {
            client.getACL().inBackground((c, ev) -> {
                if (code(ev) != Code.OK || ev.getACLList() == null) {
                    return;
                }
                for (ACL a : ev.getACLList()) {
                    boolean anyone = a.getId().equals(ZooDefs.Ids.ANYONE_ID_UNSAFE);
                    if (anyone && (a.getPerms() & ~ZooDefs.Perms.READ) != 0) {
                        LOG.warn("{}{} lets unauthenticated clients change it (ACL {}): they can create or delete the "
                                + "leader key. It was created without these credentials; restrict it with setAcl.",
                                log, scopePath, ev.getACLList());
                        return;
                    }
                }
            }).forPath(scopePath);
        } catch (Exception e) {
            LOG.debug("{}could not check the ACL of {}: {}", log, scopePath, e.toString());
        }
    }

    private static ThreadFactory daemonThreads(String name) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
