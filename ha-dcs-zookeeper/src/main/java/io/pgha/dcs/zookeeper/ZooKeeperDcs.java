package io.pgha.dcs.zookeeper;

import static io.pgha.dcs.zookeeper.ZooKeeperConnection.code;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Member;
import io.pgha.core.spi.ClusterViewDecoder;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsCallGuard;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.KeyValueDcs;
import io.pgha.core.spi.MemberNameTakenException;
import io.pgha.core.spi.PatroniJson;
import io.pgha.core.spi.RawNode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Dcs} port on Apache ZooKeeper through Curator, with Patroni's key layout and values, so a pgha member
 * and a Patroni member can share one cluster.
 *
 * <ul>
 *   <li>The member's <b>lease is its ZooKeeper session</b>. The session timeout requested is the member's
 *       {@code ttl} (or {@link ZooKeeperSettings#sessionTimeout()}); the value the server negotiated is logged.
 *       {@link #leaseGuarantee()} is what is left of it once a follower's relay to the ZooKeeper leader, the
 *       follower's link timeout and the clock-rate allowance are taken off, as the servers' declared
 *       {@code tickTime} and {@code syncLimit} give them (docs/decisions 0203).</li>
 *   <li>The <b>leader key</b> is an EPHEMERAL znode holding the member name, created only by
 *       {@link #acquireLeader()}; {@link #renewLeader()} checks its value and its {@code ephemeralOwner} (docs/decisions
 *       0201). No Curator recipe touches it: a recipe that recreates nodes on reconnect would let a fenced leader
 *       re-assert itself.</li>
 *   <li>Keys owned by a session this instance never had belong to another process, even under our name: the member
 *       key is then refused ({@link MemberNameTakenException}), the leader key neither renewed nor released
 *       (docs/decisions 0011).</li>
 *   <li><b>Versions are zxids</b> ({@code mzxid}), unique across deletions and re-creations, unlike a znode's own
 *       version; a compare-and-set checks the zxid and then writes on the znode's version in one multi together with
 *       a guard znode that every create and delete bumps ({@link GuardedKeys}, docs/decisions 0208).</li>
 *   <li>A <b>SUSPENDED or LOST connection is "unavailable"</b>: every call then fails at once with
 *       {@link DcsUnavailableException}, and calls waiting for an answer are failed as soon as the connection is
 *       suspended (docs/decisions 0202). Curator does not retry; the HA loop is the retry loop. Every call is bounded
 *       by the member's {@code retryTimeout}.</li>
 *   <li>Reads are linearizable: a {@code sync} and then one multi-read of every value, served atomically by one
 *       server (docs/decisions 0204).</li>
 *   <li>With digest auth every znode it creates is writable only with the credentials (docs/decisions 0205).</li>
 *   <li>A member that made no call for longer than its ttl (a hung HA loop) loses its lease: its session is closed,
 *       so the server deletes its leader and member keys, and the next call opens a new session
 *       ({@link ZooKeeperConnection}, docs/decisions 0207).</li>
 * </ul>
 *
 * <p>Thread-safe. {@link #watchLeader} and {@link #watchMembers} callbacks run on a daemon thread owned by this
 * instance, one per watch ({@link ZooKeeperWatches}).
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
    // Remembers each key's decoded value: an idle cluster's keys are read every cycle and rarely change.
    private final ClusterViewDecoder decoder;
    private final String log;
    private final String scopePath;
    private final String membersPath;
    private final String leaderPath;
    private final String memberPath;
    private final byte[] nameBytes;
    private final String store;
    private final ZooKeeperAcls acls;
    private final DcsCallGuard calls;
    private final ZooKeeperWatches watches;
    private final ZooKeeperConnection connection;
    private final GuardedKeys keys;
    /** The session the member key was last written in; 0 before the first publication or when not known. */
    private volatile long memberSession;

    // ------------------------------------------------------------------------------------------------ factories

    /** A factory for members connecting to {@code connectString} with default settings. */
    public static DcsFactory connect(String connectString) {
        return connect(ZooKeeperSettings.builder(connectString).build());
    }

    /**
     * A factory for members connecting with {@code settings}. It knows the lease guarantee before connecting (from
     * the requested session timeout and the servers' declared timing), so a member builder refuses timings that
     * cannot fit in it at once.
     */
    public static DcsFactory connect(ZooKeeperSettings settings) {
        Objects.requireNonNull(settings, "settings");
        return new DcsFactory() {
            @Override
            public Dcs open(DcsContext context) {
                return ZooKeeperDcs.open(settings, context);
            }

            @Override
            public Duration expectedLeaseGuarantee(DcsContext context) {
                return settings.bound(settings.sessionTimeoutFor(context)).guarantee();
            }

            @Override
            public String toString() {
                return "ZooKeeper (" + settings.bound(Duration.ZERO).rule() + ")";
            }
        };
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
        this.decoder = new ClusterViewDecoder(this.layout);
        this.log = layout.scope() + "/" + name + " - ";
        String prefix = layout.prefix();
        this.scopePath = prefix.substring(0, prefix.length() - 1);
        this.membersPath = layout.key(MEMBERS_DIR);
        this.leaderPath = layout.leader();
        this.memberPath = layout.member(name);
        this.nameBytes = name.getBytes(StandardCharsets.UTF_8);
        this.store = "ZooKeeper (" + settings.connectString() + ")";
        this.acls = new ZooKeeperAcls(settings, scopePath);
        this.calls = new DcsCallGuard(context, "this ZooKeeper client");
        this.watches = new ZooKeeperWatches(leaderPath, membersPath, "pgha-zk-" + layout.scope() + "-" + name, log,
                this::whenUsable);
        this.connection = new ZooKeeperConnection(settings, context, calls, scopePath, log,
                new ZooKeeperConnection.Listener() {
                    @Override
                    public void beforeUse(CuratorFramework client, boolean first) {
                        if (first) {
                            acls.warnIfTheScopeIsOpen(client, log);
                        }
                        watches.beforeUse(client);
                    }

                    @Override
                    public void mayHaveChanged() {
                        watches.mayHaveChanged();
                    }
                });
        this.keys = new GuardedKeys(connection, acls, layout, scopePath);
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
        return connection.requestedSessionTimeout();
    }

    /** The session timeout the server granted for the current session; zero before the first connection. */
    public Duration negotiatedSessionTimeout() {
        return connection.negotiatedSessionTimeout();
    }

    /** The current session id; 0 before the first connection. */
    public long sessionId() {
        return connection.sessionId();
    }

    /**
     * The Curator connection state as last reported, for tests in this package; null before the first connection
     * and while the session is closed for idleness.
     */
    ConnectionState connectionState() {
        return connection.state();
    }

    /** The underlying client, for tests in this package (forcing session expiry); null while closed for idleness. */
    CuratorFramework curator() {
        return connection.curator();
    }

    /** For tests in this package: {@code hook} runs between every compare-and-set's read and its write. */
    void beforeConditionalWrite(Runnable hook) {
        keys.beforeConditionalWrite(hook);
    }

    // ------------------------------------------------------------------------------------------------ reads

    @Override
    public ClusterView read() throws DcsUnavailableException {
        String what = "read the cluster";
        long deadline = calls.begin(what);
        // A server answers reads from its own copy; sync first so we see every write committed before this call.
        Code synced = code(connection.op(what, scopePath, deadline,
                (cf, cb) -> cf.sync().inBackground(cb).forPath(scopePath)));
        if (synced != Code.OK && synced != Code.NONODE) {
            throw connection.failure(what, scopePath, synced);
        }
        List<OpResult> dirs = connection.multi(what,
                List.of(Op.getChildren(scopePath), Op.getChildren(membersPath)), deadline);
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
        List<OpResult> values = connection.multi(what, gets, deadline);
        List<RawNode> nodes = new ArrayList<>(keys.size());
        for (int i = 0; i < keys.size(); i++) {
            String key = keys.get(i);
            OpResult r = values.get(i);
            if (r instanceof OpResult.GetDataResult d) {
                Stat st = d.getStat();
                long epoch = key.equals(KeyLayout.LEADER) ? st.getCzxid() : 0;
                // The zxid of the last change: unlike the znode's own version it never repeats, also not after the
                // key was deleted and created again (docs/decisions 0208).
                nodes.add(new RawNode(key, d.getData(), st.getMzxid(), epoch));
            } else if (r instanceof OpResult.ErrorResult e && Code.get(e.getErr()) != Code.NONODE) {
                throw connection.failure(what, layout.key(key), Code.get(e.getErr()));
            }
            // NONODE: deleted between listing and reading; it is simply absent from this view.
        }
        return decoder.view(nodes);
    }

    private List<String> children(String what, String path, OpResult r) throws DcsUnavailableException {
        if (r instanceof OpResult.GetChildrenResult c) {
            return c.getChildren();
        }
        connection.requireNoNode(what, path, r);
        return null;
    }

    // ------------------------------------------------------------------------------------------------ leader key

    @Override
    public boolean acquireLeader() throws DcsUnavailableException {
        String what = "acquire the leader key";
        long deadline = calls.beginLeaseCall(what);
        Code c = keys.create(what, leaderPath, nameBytes, CreateMode.EPHEMERAL, deadline);
        if (c == Code.OK) {
            long session = connection.noteLease();
            LOG.info("{}acquired the leader key {} (session 0x{})", log, leaderPath, Long.toHexString(session));
            return true;
        }
        if (c != Code.NODEEXISTS) {
            throw connection.failure(what, leaderPath, c);
        }
        // Our own earlier attempt may have created it before its answer was lost: that still counts as ours.
        Node n = get(what, leaderPath, deadline);
        if (n != null && n.holds(nameBytes) && n.stat.getEphemeralOwner() == connection.currentSession(what)) {
            connection.noteLease();
            return true;
        }
        return false;
    }

    @Override
    public boolean renewLeader() throws DcsUnavailableException {
        String what = "renew the leader key";
        long deadline = calls.beginLeaseCall(what);
        // Linearizable: a lagging server must not confirm a key that the quorum already deleted.
        Code synced = code(connection.op(what, leaderPath, deadline,
                (cf, cb) -> cf.sync().inBackground(cb).forPath(leaderPath)));
        if (synced != Code.OK && synced != Code.NONODE) {
            throw connection.failure(what, leaderPath, synced);
        }
        Node n = get(what, leaderPath, deadline);
        if (n == null || !n.holds(nameBytes)) {
            return false;
        }
        long session = connection.currentSession(what);
        if (n.stat.getEphemeralOwner() == session) {
            // The read itself kept the session alive: no write, so replicas watching the key are not woken.
            connection.noteLease();
            return true;
        }
        if (!ours(n.stat)) {
            LOG.warn("{}the leader key {} holds our name but belongs to session 0x{}, which is not ours (another "
                    + "process with this name, or an earlier one that has not expired yet): not renewing it", log,
                    leaderPath, Long.toHexString(n.stat.getEphemeralOwner()));
            return false;
        }
        // Our name, bound to an earlier session of ours (lost while the server kept it) or to no session at all:
        // rebind it to this session, or it would vanish when that session expires. Losing either step = lost.
        Code deleted = code(connection.op(what, leaderPath, deadline,
                (cf, cb) -> cf.delete().withVersion(n.stat.getVersion()).inBackground(cb).forPath(leaderPath)));
        if (deleted == Code.BADVERSION || deleted == Code.NONODE) {
            return false;
        }
        if (deleted != Code.OK) {
            throw connection.failure(what, leaderPath, deleted);
        }
        Code created = keys.create(what, leaderPath, nameBytes, CreateMode.EPHEMERAL, deadline);
        if (created == Code.NODEEXISTS) {
            LOG.warn("{}lost the leader key while re-creating it under session 0x{}", log, Long.toHexString(session));
            return false;
        }
        if (created != Code.OK) {
            throw connection.failure(what, leaderPath, created);
        }
        connection.noteLease();
        LOG.info("{}re-created the leader key under the current session 0x{} (it was owned by session 0x{})", log,
                Long.toHexString(session), Long.toHexString(n.stat.getEphemeralOwner()));
        return true;
    }

    @Override
    public boolean releaseLeader() throws DcsUnavailableException {
        String what = "release the leader key";
        long deadline = calls.begin(what);
        Node n = get(what, leaderPath, deadline);
        if (n == null || !n.holds(nameBytes) || !ours(n.stat)) {
            return false;
        }
        Code c = code(connection.op(what, leaderPath, deadline,
                (cf, cb) -> cf.delete().withVersion(n.stat.getVersion()).inBackground(cb).forPath(leaderPath)));
        if (c == Code.OK) {
            LOG.info("{}released the leader key {}", log, leaderPath);
            return true;
        }
        if (c == Code.BADVERSION || c == Code.NONODE) {
            return false;
        }
        throw connection.failure(what, leaderPath, c);
    }

    /**
     * What the servers' session expiry leaves of the granted session timeout (docs/decisions 0203): through a
     * follower much less than the timeout itself. Before the first session, what the requested timeout would give:
     * the HA loop checks its timings against it at start, and a server granting less is checked again then.
     */
    @Override
    public Duration leaseGuarantee() {
        return connection.leaseBound().guarantee();
    }

    @Override
    public void watchLeader(Runnable onChange) {
        Objects.requireNonNull(onChange, "onChange");
        watches.watchLeader(onChange);
    }

    /**
     * A persistent recursive watch on {@code members/} (ZooKeeper 3.6+; allowed before the znode exists): it stays
     * after each event, and is added again on each new session, before the member's calls can use it.
     */
    @Override
    public void watchMembers(Runnable onChange) {
        Objects.requireNonNull(onChange, "onChange");
        watches.watchMembers(onChange);
    }

    // ------------------------------------------------------------------------------------------------ best effort

    @Override
    public void touchMember(Member data) throws DcsUnavailableException, MemberNameTakenException {
        Objects.requireNonNull(data, "data");
        if (!data.name().equals(memberName())) {
            throw new IllegalArgumentException("touchMember: member '" + data.name()
                    + "' is not the member this session acts for ('" + memberName() + "')");
        }
        String what = "publish the member key";
        long deadline = calls.beginLeaseCall(what);
        byte[] bytes = PatroniJson.encodeMember(data);
        for (int round = 0; round < MAX_ROUNDS; round++) {
            // Read first: a blind setData would overwrite the member key of another process using our name.
            Node n = get(what, memberPath, deadline);
            if (n != null) {
                Stat st = n.stat;
                long session = connection.currentSession(what);
                if (st.getEphemeralOwner() == session) {
                    CuratorEvent e = connection.op(what, memberPath, deadline, (cf, cb) -> cf.setData()
                            .withVersion(st.getVersion()).inBackground(cb).forPath(memberPath, bytes));
                    Code c = code(e);
                    if (c == Code.OK) {
                        memberSession = session;
                        return;
                    }
                    if (c != Code.BADVERSION && c != Code.NONODE) {
                        throw connection.failure(what, memberPath, c);
                    }
                    continue;
                }
                if (!ours(st)) {
                    throw new MemberNameTakenException(memberName(), layout.scope(), store,
                            "session 0x" + Long.toHexString(st.getEphemeralOwner()));
                }
                // Left by an earlier session of ours (or written by hand): rebind it, or it vanishes when that
                // session expires while we are alive.
                Code d = code(connection.op(what, memberPath, deadline,
                        (cf, cb) -> cf.delete().withVersion(st.getVersion()).inBackground(cb).forPath(memberPath)));
                if (d != Code.OK && d != Code.NONODE && d != Code.BADVERSION) {
                    throw connection.failure(what, memberPath, d);
                }
                if (d == Code.BADVERSION) {
                    continue;
                }
            }
            long before = connection.currentSession(what);
            Code created = keys.create(what, memberPath, bytes, CreateMode.EPHEMERAL, deadline);
            if (created == Code.OK) {
                // The ephemeral belongs to the session that served the create: known only if none replaced it.
                // The session's granted timeout is read here too: the member's first registration is a lease use.
                memberSession = connection.noteLease() == before ? before : 0;
                return;
            }
            if (created != Code.NODEEXISTS) {
                throw connection.failure(what, memberPath, created);
            }
        }
        throw new DcsUnavailableException(what + " " + memberPath + ": the key changed under us " + MAX_ROUNDS
                + " times in a row; giving up for this cycle");
    }

    /**
     * Curator's heartbeats keep the session; this only counts as the member's call for the idle rule. The key is held
     * while the session it was written in is still the current one: a session that expired or was closed for
     * idleness took the ephemeral key with it.
     */
    @Override
    public boolean memberKeyHeld() throws DcsUnavailableException {
        String what = "keep the member key";
        calls.beginLeaseCall(what);
        long held = memberSession;
        return held != 0 && connection.currentSession(what) == held;
    }

        @Override
    public void deleteMember() throws DcsUnavailableException {
        String what = "delete the member key";
        long deadline = calls.begin(what);
        Node n = get(what, memberPath, deadline);
        if (n == null) {
            return;
        }
        if (!ours(n.stat)) {
            LOG.info("{}not deleting the member key {}: it belongs to session 0x{}, not to this member", log,
                    memberPath, Long.toHexString(n.stat.getEphemeralOwner()));
            return;
        }
        Code c = code(connection.op(what, memberPath, deadline,
                (cf, cb) -> cf.delete().withVersion(n.stat.getVersion()).inBackground(cb).forPath(memberPath)));
        if (c != Code.OK && c != Code.NONODE && c != Code.BADVERSION) {
            throw connection.failure(what, memberPath, c);
        }
    }

    /** Bound to one of this member's sessions, or to none (a persistent znode written by hand). */
    private boolean ours(Stat st) {
        return st.getEphemeralOwner() == 0 || connection.isOwnSession(st.getEphemeralOwner());
    }

    // ------------------------------------------------------------------------------------------------ close

    /**
     * Closes the session, so the server deletes this member's leader and member keys at once, and releases the
     * client. If the server cannot be reached the keys stay until the session times out, as after a crash.
     */
    @Override
    public void close() {
        if (!calls.close()) {
            return;
        }
        watches.close();
        connection.close();
    }

    @Override
    public String toString() {
        return "ZooKeeperDcs[" + layout.scope() + "/" + memberName() + " @ " + settings.connectString() + "]";
    }

    // ------------------------------------------------------------------------------------------------ CAS keys

    @Override
    protected boolean compareAndSet(String what, String key, byte[] data, long expected)
            throws DcsUnavailableException {
        return keys.compareAndSet(what, key, data, expected, calls.begin(what));
    }

    @Override
    protected boolean compareAndDelete(String what, String key, long expected) throws DcsUnavailableException {
        return keys.compareAndDelete(what, key, expected, calls.begin(what));
    }

    // ------------------------------------------------------------------------------------------------ calls

    private record Node(byte[] data, Stat stat) {
        boolean holds(byte[] name) {
            return new String(data, StandardCharsets.UTF_8).trim().equals(new String(name, StandardCharsets.UTF_8));
        }
    }

    /** Reads a znode; null when it does not exist. */
    private Node get(String what, String path, long deadline) throws DcsUnavailableException {
        CuratorEvent e = connection.op(what, path, deadline, (cf, cb) -> cf.getData().inBackground(cb).forPath(path));
        Code c = code(e);
        if (c == Code.NONODE) {
            return null;
        }
        if (c != Code.OK) {
            throw connection.failure(what, path, c);
        }
        return new Node(e.getData() == null ? new byte[0] : e.getData(), e.getStat());
    }

    /**
     * The watches reach the connection through this: they are made before it, since its listener arms them from the
     * first session on.
     */
    private boolean whenUsable(Consumer<CuratorFramework> action) {
        return connection.whenUsable(action);
    }
}
