package io.pgha.core.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pgha.core.cluster.ClusterStatus;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.LeaderLock;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.Tags;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.MemberNameTakenException;
import io.pgha.core.time.SystemHaClock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * The {@link Dcs} contract, run against a real store. Every adapter extends this class once; the tests use the port
 * only, so what passes here holds for the HA loop whatever the store.
 *
 * <h2>Hooks</h2>
 * <ul>
 *   <li>{@link #factory()}: opens members against the store under test. Called for every member; each test uses
 *       its own cluster scope, so a store may be shared by all tests of a class.</li>
 *   <li>Or, for a store reached over TCP, {@link #proxiedStore()}: each member then reaches the store through its own
 *       {@link TcpProxy}, and the factory, {@link #crash}, {@link #makeUnreachable} and {@link #heal} default to it
 *       (reset and close, blackhole, heal); the kit closes the members and then the proxies after each test.</li>
 *   <li>{@link #crash(Dcs)}: the member's process dies. Its client must stop without ending its lease (no session
 *       close, no lease revoke), so the lease runs out after the ttl. The kit may still call {@code close()} on it
 *       afterwards; that must be harmless.</li>
 *   <li>{@link #writeRaw(KeyLayout, String, String)}: writes a value without the adapter's encoder, to plant a
 *       malformed one.</li>
 *   <li>Optional, each behind a {@link Capability} in {@link #capabilities()} (tests without it are skipped, not
 *       passed): {@link #expireLease(Dcs)} ends the member's lease on the server side now;
 *       {@link #stopServer()}/{@link #startServer()} restart the store keeping its data;
 *       {@link #makeUnreachable(Dcs)}/{@link #heal(Dcs)} cut one member off from the store silently (no reset: a
 *       {@link TcpProxy#blackhole()} between that member and the store) and reconnect it;
 *       {@link #holdsLease(Dcs)} tells whether a client created a lease or owns a key bound to one.</li>
 * </ul>
 *
 * <p>How adapters implement them: an in-memory store implements crash as "forget the member, keep its lease
 * ticking", expiry as "end the lease", restart and partition as flags that make the affected calls throw
 * {@link DcsUnavailableException}. etcd: crash = stop the member's keepalives and drop its client without revoking the
 * lease; expiry = revoke the lease with an admin client; restart = kill and restart the etcd process on the same data
 * dir; partition = the member's client talks to etcd through a {@link TcpProxy}. Consul: the same, with the session
 * destroyed for expiry. ZooKeeper: see {@code ZooKeeperDcsContractTest}.
 *
 * <p>Timing: {@link #ttl()} is short (5 s) so the expiry tests stay quick; every bound is generous (behaviour, not
 * speed) and every wait is bounded.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
public abstract class DcsContractTest {

    /** Optional fault hooks an adapter's test supports. */
    public enum Capability {
        EXPIRE_LEASE,
        SERVER_RESTART,
        PARTITION,
        /** {@link #holdsLease(Dcs)} can tell whether a client created a lease. */
        INSPECT_LEASE
    }

    /** Slack on top of a bound that a correct store must meet; covers a loaded CI machine. */
    private static final Duration SLACK = Duration.ofSeconds(3);

    private final AtomicInteger clusters = new AtomicInteger();
    private final List<Dcs> opened = new CopyOnWriteArrayList<>();
    private KeyLayout layout;

    // ------------------------------------------------------------------------------------------------ hooks

    /**
     * A store that each member reaches through its own {@link TcpProxy}; null (the default) when the adapter's test
     * overrides {@link #factory()}, {@link #crash} and the partition hooks itself.
     */
    protected ProxiedStore proxiedStore() {
        return null;
    }

    /** Opens members against the store under test; by default through {@link #proxiedStore()}. */
    protected DcsFactory factory() {
        return requireProxiedStore("factory").factory();
    }

    /**
     * The member's process dies: its lease must run out after the ttl, not at once (see the class comment). By
     * default its proxy resets its connections and its client is closed ({@link ProxiedStore#crash}).
     */
    protected void crash(Dcs member) throws Exception {
        requireProxiedStore("crash").crash(member);
    }

    /** Writes {@code value} at {@code layout.key(key)} directly, bypassing the adapter's encoding. */
    protected abstract void writeRaw(KeyLayout layout, String key, String value) throws Exception;

    /** How the adapter names its store in error messages (e.g. "ZooKeeper"): a refusal must say where it looked. */
    protected abstract String storeName();

    /** The optional hooks this store supports; all of them by default. */
    protected Set<Capability> capabilities() {
        return EnumSet.allOf(Capability.class);
    }

    /** Ends the member's lease on the server side now (ZooKeeper session expiry, etcd lease revoke). */
    protected void expireLease(Dcs member) throws Exception {
        throw new UnsupportedOperationException("expireLease");
    }

    /** Stops the store, keeping its data. */
    protected void stopServer() throws Exception {
        throw new UnsupportedOperationException("stopServer");
    }

    /** Starts the store stopped by {@link #stopServer()}. */
    protected void startServer() throws Exception {
        throw new UnsupportedOperationException("startServer");
    }

    /** Silently cuts {@code member} off from the store: its requests get no answer. By default its proxy blackholes. */
    protected void makeUnreachable(Dcs member) throws Exception {
        requireProxiedStore("makeUnreachable").blackhole(member);
    }

    /**
     * Whether {@code member}'s client created a lease (etcd lease, Consul session) or owns a key bound to one
     * (ZooKeeper: an ephemeral znode of its session), as the store or the client's own record says.
     */
    protected boolean holdsLease(Dcs member) throws Exception {
        throw new UnsupportedOperationException("holdsLease");
    }

    /** Undoes {@link #makeUnreachable(Dcs)}. */
    protected void heal(Dcs member) throws Exception {
        requireProxiedStore("heal").heal(member);
    }

    private ProxiedStore requireProxiedStore(String hook) {
        ProxiedStore p = proxiedStore();
        if (p == null) {
            throw new UnsupportedOperationException(hook + ": override it, or proxiedStore()");
        }
        return p;
    }

    /** The lease ttl members are opened with. */
    protected Duration ttl() {
        return Duration.ofSeconds(5);
    }

    /** The retryTimeout members are opened with: the bound on every call. */
    protected Duration retryTimeout() {
        return Duration.ofSeconds(2);
    }

    // ------------------------------------------------------------------------------------------------ lifecycle

    @BeforeEach
    final void newCluster(TestInfo info) {
        String test = info.getTestMethod().map(m -> m.getName()).orElse("test");
        layout = KeyLayout.of("contract-" + clusters.incrementAndGet() + "-" + test);
    }

    @AfterEach
    final void closeMembers() {
        for (Dcs d : opened) {
            try {
                d.close();
            } catch (RuntimeException e) {
                // a crashed member may object; nothing else to clean
            }
        }
        opened.clear();
        ProxiedStore p = proxiedStore();
        if (p != null) {
            p.close();
        }
    }

    /** Opens a member of this test's cluster; it is closed after the test. */
    protected final Dcs open(String member) {
        Dcs d = factory().open(new DcsContext(layout, member, ttl(), retryTimeout(), SystemHaClock.INSTANCE));
        opened.add(d);
        return d;
    }

    protected final KeyLayout layout() {
        return layout;
    }

    // ------------------------------------------------------------------------------------------------ races

    @Test
    void initializeRaceHasExactlyOneWinner() throws Exception {
        List<Dcs> members = members(5);
        List<Boolean> won = race(members, Dcs::initialize, "");
        assertThat(won).as("winners of the initialize race").containsOnlyOnce(true);
        ClusterView v = members.get(0).read();
        assertThat(v.initialize()).isEqualTo("");
        assertThat(members.get(1).initialize("other")).as("an existing initialize key is never overwritten").isFalse();
        assertThat(members.get(2).read().initialize()).isEqualTo("");
    }

    @Test
    void acquireLeaderRaceHasExactlyOneWinner() throws Exception {
        List<Dcs> members = members(5);
        List<Boolean> won = race(members, (d, ignored) -> d.acquireLeader(), null);
        assertThat(won).as("winners of the leader race").containsOnlyOnce(true);
        Dcs winner = members.get(won.indexOf(true));
        LeaderLock lock = members.get(0).read().leader();
        assertThat(lock).isNotNull();
        assertThat(lock.holder()).isEqualTo(winner.memberName());
        for (Dcs d : members) {
            assertThat(d.acquireLeader()).as("%s acquires a held key", d.memberName()).isEqualTo(d == winner);
        }
    }

    // ------------------------------------------------------------------------------------------------ leader key

    @Test
    void onlyTheHolderRenews() throws Exception {
        Dcs a = open("a");
        Dcs b = open("b");
        assertThat(a.renewLeader()).as("renew of an absent key").isFalse();
        assertThat(a.acquireLeader()).isTrue();
        assertThat(a.renewLeader()).isTrue();
        assertThat(a.renewLeader()).as("renew is repeatable").isTrue();
        assertThat(b.renewLeader()).as("renew by another member").isFalse();
        assertThat(b.read().leaderName()).contains("a");
        Duration g = a.leaseGuarantee();
        assertThat(g).as("lease guarantee after a renew").isPositive().isLessThanOrEqualTo(ttl());
    }

    @Test
    void onlyTheHolderReleases() throws Exception {
        Dcs a = open("a");
        Dcs b = open("b");
        assertThat(a.acquireLeader()).isTrue();
        assertThat(b.releaseLeader()).as("release by another member").isFalse();
        assertThat(b.read().leaderName()).contains("a");
        assertThat(a.releaseLeader()).isTrue();
        assertThat(b.read().leader()).isNull();
        assertThat(a.releaseLeader()).as("release of an absent key").isFalse();
        assertThat(a.renewLeader()).as("renew after release").isFalse();
        assertThat(b.acquireLeader()).as("a released key is free at once").isTrue();
    }

    @Test
    void leaderEpochChangesWhenTheKeyIsCreatedAnew() throws Exception {
        Dcs a = open("a");
        Dcs b = open("b");
        assertThat(a.acquireLeader()).isTrue();
        long first = b.read().leader().epoch();
        assertThat(a.renewLeader()).isTrue();
        assertThat(b.read().leader().epoch()).as("a renew keeps the epoch").isEqualTo(first);
        assertThat(a.releaseLeader()).isTrue();
        assertThat(b.acquireLeader()).isTrue();
        LeaderLock second = a.read().leader();
        assertThat(second.holder()).isEqualTo("b");
        assertThat(second.epoch()).as("epoch of a re-created key").isNotEqualTo(first);
        assertThat(b.releaseLeader()).isTrue();
        assertThat(a.acquireLeader()).isTrue();
        assertThat(b.read().leader().epoch()).isNotIn(first, second.epoch());
    }

    // ------------------------------------------------------------------------------------------------ CAS keys

    @Test
    void initializeIsCompareAndSet() throws Exception {
        Dcs a = open("a");
        assertThat(a.initialize("")).isTrue();
        long v0 = a.read().initializeVersion();
        assertThat(a.setInitialize("7000000000000000001", v0)).isTrue();
        assertThat(a.read().initialize()).isEqualTo("7000000000000000001");
        assertThat(a.setInitialize("7000000000000000002", v0)).as("write with a stale version").isFalse();
        assertThat(a.read().initialize()).isEqualTo("7000000000000000001");
        assertThat(a.deleteInitialize(v0)).as("delete with a stale version").isFalse();
        long v1 = a.read().initializeVersion();
        assertThat(a.deleteInitialize(v1)).isTrue();
        assertThat(a.read().initialize()).isNull();
        assertThat(a.setInitialize("7000000000000000003", v1)).as("write of a deleted key").isFalse();
        assertThat(a.setInitialize("7000000000000000003", DcsVersion.ABSENT)).as("ABSENT = create").isTrue();
        assertThat(a.setInitialize("7000000000000000004", DcsVersion.ABSENT)).as("ABSENT on an existing key").isFalse();
        assertThat(a.read().initialize()).isEqualTo("7000000000000000003");
    }

    @Test
    void configIsCompareAndSet() throws Exception {
        Dcs a = open("a");
        Dcs b = open("b");
        GlobalConfig c0 = GlobalConfig.of(Map.of("ttl", 30));
        GlobalConfig c1 = GlobalConfig.of(Map.of("ttl", 31));
        GlobalConfig c2 = GlobalConfig.of(Map.of("ttl", 32));
        GlobalConfig c3 = GlobalConfig.of(Map.of("ttl", 33));

        assertThat(a.writeConfig(c0, DcsVersion.ABSENT)).as("ABSENT on an absent key").isTrue();
        assertThat(b.writeConfig(c1, DcsVersion.ABSENT)).as("ABSENT on an existing key").isFalse();
        long v0 = b.read().config().version();
        assertThat(b.writeConfig(c1, v0)).isTrue();
        assertThat(a.writeConfig(c2, v0)).as("write with a stale version").isFalse();
        assertThat(a.read().config().json()).isEqualTo(c1.json());
        assertThat(a.writeConfig(c3, Dcs.ANY_VERSION)).as("ANY_VERSION").isTrue();
        ClusterView v = b.read();
        assertThat(v.config().json()).isEqualTo(c3.json());
        assertThat(v.config().version()).isNotEqualTo(v0);
    }

    @Test
    void anyVersionCreatesAnAbsentConfig() throws Exception {
        Dcs a = open("a");
        GlobalConfig c = GlobalConfig.of(Map.of("loop_wait", 7));
        assertThat(a.writeConfig(c, Dcs.ANY_VERSION)).isTrue();
        assertThat(a.read().config().json()).isEqualTo(c.json());
    }

    @Test
    void syncIsCompareAndSet() throws Exception {
        Dcs a = open("a");
        SyncState s1 = new SyncState("a", List.of("b"), DcsVersion.ABSENT);
        SyncState s2 = new SyncState("a", List.of("b", "c"), DcsVersion.ABSENT);
        assertThat(a.writeSync(s1, DcsVersion.ABSENT)).isTrue();
        assertThat(a.writeSync(s2, DcsVersion.ABSENT)).as("ABSENT on an existing key").isFalse();
        long v0 = a.read().sync().version();
        assertThat(a.writeSync(s2, v0)).isTrue();
        assertThat(a.writeSync(s1, v0)).as("write with a stale version").isFalse();
        assertThat(a.read().sync().standbys()).containsExactly("b", "c");
        assertThat(a.deleteSync(v0)).as("delete with a stale version").isFalse();
        assertThat(a.deleteSync(a.read().sync().version())).isTrue();
        assertThat(a.read().sync().isActive()).isFalse();
    }

    @Test
    void failoverIsCompareAndSet() throws Exception {
        Dcs a = open("a");
        FailoverRequest f1 = new FailoverRequest("a", "b", null, DcsVersion.ABSENT);
        FailoverRequest f2 = new FailoverRequest(null, "c", null, DcsVersion.ABSENT);
        assertThat(a.writeFailover(f1, DcsVersion.ABSENT)).isTrue();
        assertThat(a.writeFailover(f2, DcsVersion.ABSENT)).as("ABSENT on an existing key").isFalse();
        long v0 = a.read().failover().version();
        assertThat(a.writeFailover(f2, v0)).isTrue();
        assertThat(a.writeFailover(f1, v0)).as("write with a stale version").isFalse();
        assertThat(a.read().failover().candidate()).isEqualTo("c");
        assertThat(a.clearFailover(v0)).as("clear with a stale version").isFalse();
        assertThat(a.clearFailover(a.read().failover().version())).isTrue();
        assertThat(a.read().hasFailoverRequest()).isFalse();
    }

    @Test
    void statusAndHistoryAreCompareAndSet() throws Exception {
        // A deposed leader's late write built on an older read must not replace its successor's (rules S2, S4).
        Dcs a = open("a");
        Dcs b = open("b");
        ClusterStatus s1 = new ClusterStatus(Lsn.of(0x5000000L), Map.of(), List.of(), DcsVersion.ABSENT);
        ClusterStatus s2 = new ClusterStatus(Lsn.of(0x6000000L), Map.of(), List.of(), DcsVersion.ABSENT);
        assertThat(a.writeStatus(s1, DcsVersion.ABSENT)).isTrue();
        long stale = a.read().status().version();
        assertThat(b.writeStatus(s2, stale)).isTrue();
        assertThat(a.writeStatus(s1, stale)).as("status write with a stale version").isFalse();
        assertThat(a.read().status().optime()).isEqualTo(Lsn.of(0x6000000L));

        TimelineHistory h1 = new TimelineHistory(List.of(new TimelineHistory.Entry(1, Lsn.of(0x3000000L), "r",
                null, "a")), DcsVersion.ABSENT);
        TimelineHistory h2 = new TimelineHistory(List.of(new TimelineHistory.Entry(1, Lsn.of(0x3000000L), "r",
                null, "a"), new TimelineHistory.Entry(2, Lsn.of(0x4000000L), "r", null, "b")), DcsVersion.ABSENT);
        assertThat(a.writeHistory(h1, DcsVersion.ABSENT)).isTrue();
        assertThat(a.writeHistory(h1, DcsVersion.ABSENT)).as("ABSENT on an existing key").isFalse();
        long h0 = a.read().history().version();
        assertThat(b.writeHistory(h2, h0)).isTrue();
        assertThat(a.writeHistory(h1, h0)).as("history write with a stale version").isFalse();
        assertThat(a.read().history().entries()).hasSize(2);
    }

    /**
     * A key deleted and created anew must not accept the version its predecessor had: ZooKeeper's per-znode version
     * restarts at 0, so a stale compare-and-set read before the delete would land on the new key (ABA).
     */
    @Test
    void theVersionOfADeletedKeyDoesNotMatchTheKeyCreatedAfterIt() throws Exception {
        Dcs a = open("a");
        assertThat(a.writeSync(new SyncState("a", List.of("b"), DcsVersion.ABSENT), DcsVersion.ABSENT)).isTrue();
        long oldSync = a.read().sync().version();
        assertThat(a.deleteSync(oldSync)).isTrue();
        assertThat(a.writeSync(new SyncState("a", List.of("c"), DcsVersion.ABSENT), DcsVersion.ABSENT)).isTrue();
        assertThat(a.writeSync(new SyncState("x", List.of("d"), DcsVersion.ABSENT), oldSync))
                .as("sync written with the version of the deleted key").isFalse();
        assertThat(a.deleteSync(oldSync)).as("sync deleted with the version of the deleted key").isFalse();
        assertThat(a.read().sync().standbys()).containsExactly("c");

        assertThat(a.writeFailover(new FailoverRequest("a", "b", null, DcsVersion.ABSENT), DcsVersion.ABSENT)).isTrue();
        long oldFailover = a.read().failover().version();
        assertThat(a.clearFailover(oldFailover)).isTrue();
        assertThat(a.writeFailover(new FailoverRequest("a", "c", null, DcsVersion.ABSENT), DcsVersion.ABSENT)).isTrue();
        assertThat(a.writeFailover(new FailoverRequest(null, "d", null, DcsVersion.ABSENT), oldFailover))
                .as("failover written with the version of the deleted key").isFalse();
        assertThat(a.clearFailover(oldFailover)).as("failover cleared with the version of the deleted key").isFalse();
        assertThat(a.read().failover().candidate()).isEqualTo("c");

        assertThat(a.initialize("")).isTrue();
        long oldInitialize = a.read().initializeVersion();
        assertThat(a.deleteInitialize(oldInitialize)).isTrue();
        assertThat(a.initialize("")).isTrue();
        assertThat(a.setInitialize("7000000000000000001", oldInitialize))
                .as("initialize written with the version of the deleted key").isFalse();
        assertThat(a.deleteInitialize(oldInitialize)).as("initialize deleted with the version of the deleted key")
                .isFalse();
        assertThat(a.read().initialize()).isEqualTo("");
    }

    // ------------------------------------------------------------------------------------------------ one name, one process

    @Test
    void aSecondClientWithTheSameNameIsRefusedAndChangesNothing() throws Exception {
        Dcs first = open("m");
        first.touchMember(member("m", "running", Role.PRIMARY, 1));
        assertThat(first.acquireLeader()).isTrue();
        ClusterView before = first.read();

        Dcs second = open("m");
        assertThatThrownBy(() -> second.touchMember(member("m", "stopped", Role.UNINITIALIZED, 0)))
                .as("registering a name another live session holds")
                .isInstanceOf(MemberNameTakenException.class)
                .hasMessageContaining("'m'").hasMessageContaining("'" + layout().scope() + "'")
                .hasMessageContaining(storeName()).hasMessageContaining("another live session");
        assertThat(second.renewLeader()).as("renew by a session that does not own the leader key").isFalse();
        assertThat(second.releaseLeader()).as("release by a session that does not own the leader key").isFalse();
        assertThat(second.acquireLeader()).as("acquire of a held key").isFalse();
        second.deleteMember();
        assertSameKeys(before, first.read());

        // Its close ends its own lease, which holds nothing of the name.
        second.close();
        assertSameKeys(before, open("observer").read());
        assertThat(first.renewLeader()).as("the first client still holds the leader key").isTrue();
        first.touchMember(member("m", "running", Role.PRIMARY, 2));
        assertThat(first.read().members().get("m").xlogLocation()).isEqualTo(Lsn.of(2));
    }

    @Test
    void aCrashedProcessKeepsItsNameAndLeaderKeyUntilItsLeaseEnds() throws Exception {
        Dcs crashed = open("m");
        crashed.touchMember(member("m", "running", Role.PRIMARY, 1));
        assertThat(crashed.acquireLeader()).isTrue();
        crash(crashed);

        Dcs restarted = open("m");
        LeaderLock lock = restarted.read().leader();
        assertThat(lock).as("the crashed holder's lease still runs").isNotNull();
        assertThatThrownBy(() -> restarted.touchMember(member("m", "running", Role.PRIMARY, 1)))
                .as("a new process cannot tell itself from another one using the name: it waits for the lease")
                .isInstanceOf(MemberNameTakenException.class);
        assertThat(restarted.renewLeader()).as("renew of the predecessor's key").isFalse();
        assertThat(restarted.releaseLeader()).as("release of the predecessor's key").isFalse();
        restarted.deleteMember();
        LeaderLock after = restarted.read().leader();
        assertThat(after == null || after.equals(lock)).as("the leader key is untouched or expired, never re-bound: "
                + lock + " -> " + after).isTrue();

        awaitUntil(ttl().multipliedBy(2).plus(SLACK), () -> registers(restarted, member("m", "running", Role.PRIMARY,
                2)));
        assertThat(restarted.read().leader()).as("the leader key went with the crashed lease").isNull();
        assertThat(restarted.acquireLeader()).isTrue();
    }

    @Test
    void aMemberRegistersAgainAfterItsOwnLeaseEndedUnlessAnotherProcessTookTheName() throws Exception {
        assumeTrue(capabilities().contains(Capability.EXPIRE_LEASE), "store cannot expire a lease on demand");
        Dcs a = open("m");
        Dcs observer = open("observer");
        a.touchMember(member("m", "running", Role.REPLICA, 1));
        expireLease(a);
        awaitUntil(Duration.ofSeconds(10), () -> !observer.read().members().containsKey("m"));
        // The same client with a new lease (a session that expired and was opened anew): still this member.
        awaitUntil(ttl().plus(SLACK), () -> registers(a, member("m", "running", Role.REPLICA, 2)));
        assertThat(observer.read().members().get("m").xlogLocation()).isEqualTo(Lsn.of(2));

        // Its lease ends again, and another process registers the name before it comes back.
        expireLease(a);
        awaitUntil(Duration.ofSeconds(10), () -> !observer.read().members().containsKey("m"));
        Dcs b = open("m");
        b.touchMember(member("m", "running", Role.REPLICA, 3));
        // (a may need a moment to notice its lease ended and get a new one: unavailable meanwhile.)
        awaitUntil(ttl().plus(SLACK), () -> !registers(a, member("m", "running", Role.REPLICA, 4)));
        assertThat(observer.read().members().get("m").xlogLocation()).as("the name is now another live session's")
                .isEqualTo(Lsn.of(3));
    }

    @Test
    void aHeldMemberKeyStaysWithoutWritesWhileTheMemberCallsAndIsDisownedOnceItsLeaseEnds() throws Exception {
        Dcs a = open("a");
        Dcs observer = open("observer");
        assertThat(a.memberKeyHeld()).as("before the first publication").isFalse();
        a.touchMember(member("a", "running", Role.REPLICA, 1));
        long version = observer.read().members().get("a").version();
        assertThat(a.memberKeyHeld()).as("just published").isTrue();
        // For three ttls the member's only calls write nothing: they still count as its sign of life (idle rule), so
        // the lease and the key stay, unchanged.
        long end = System.nanoTime() + ttl().multipliedBy(3).toNanos();
        while (System.nanoTime() < end) {
            assertThat(a.memberKeyHeld()).as("held while the member calls").isTrue();
            Thread.sleep(ttl().toMillis() / 5);
        }
        assertThat(observer.read().members()).containsKey("a");
        assertThat(observer.read().members().get("a").version()).as("not rewritten").isEqualTo(version);

        assumeTrue(capabilities().contains(Capability.EXPIRE_LEASE), "store cannot expire a lease on demand");
        expireLease(a);
        awaitUntil(Duration.ofSeconds(10), () -> !observer.read().members().containsKey("a"));
        // The adapter learns that its lease ended (a background keepalive or renewal, a new session) and stops
        // vouching for a key that went with it.
        awaitUntil(ttl().plus(SLACK), () -> !heldOrUnavailable(a));
        // The next publication, retried as the HA loop's next cycle would: right after its session ended a client may
        // still be reconnecting (ZooKeeper reports LOST until the new session is there).
        awaitUntil(ttl().plus(SLACK), () -> {
            try {
                a.touchMember(member("a", "running", Role.REPLICA, 2));
                return true;
            } catch (DcsUnavailableException e) {
                return false;
            }
        });
        assertThat(observer.read().members()).containsKey("a");
        awaitUntil(ttl().plus(SLACK), () -> heldOrUnavailable(a));
    }

    private static boolean heldOrUnavailable(Dcs d) {
        try {
            return d.memberKeyHeld();
        } catch (DcsUnavailableException e) {
            return true;
        }
    }

    // ------------------------------------------------------------------------------------------------ view

    @Test
    void viewDecodesWhatWasWritten() throws Exception {
        Dcs a = open("a");
        Dcs b = open("b");
        GlobalConfig config = GlobalConfig.of(Map.of("ttl", 30, "loop_wait", 10,
                "postgresql", Map.of("use_pg_rewind", true)));
        SyncState sync = new SyncState("a", List.of("b"), DcsVersion.ABSENT);
        OffsetDateTime at = OffsetDateTime.parse("2030-01-02T03:04:05+01:00");
        FailoverRequest failover = new FailoverRequest("a", "b", at, DcsVersion.ABSENT);
        TimelineHistory history = new TimelineHistory(List.of(
                new TimelineHistory.Entry(1, Lsn.of(0x3000060L), "no recovery target specified",
                        "2030-01-01T10:00:00+00:00", "a")), DcsVersion.ABSENT);
        ClusterStatus status = new ClusterStatus(Lsn.of(0x5000028L), Map.of("permanent_1", Lsn.of(0x4000000L)),
                List.of("b"), DcsVersion.ABSENT);
        Map<String, String> failsafe = Map.of("a", "http://a:8008/patroni", "b", "http://b:8008/patroni");

        assertThat(a.initialize("7000000000000000001")).isTrue();
        assertThat(a.acquireLeader()).isTrue();
        assertThat(a.writeConfig(config, DcsVersion.ABSENT)).isTrue();
        assertThat(a.writeSync(sync, DcsVersion.ABSENT)).isTrue();
        assertThat(b.writeFailover(failover, DcsVersion.ABSENT)).isTrue();
        assertThat(a.writeHistory(history, DcsVersion.ABSENT)).isTrue();
        assertThat(a.writeStatus(status, DcsVersion.ABSENT)).isTrue();
        a.writeFailsafe(failsafe);
        a.touchMember(member("a", "running", Role.PRIMARY, 0x5000028L));
        b.touchMember(member("b", "streaming", Role.REPLICA, 0x5000000L));

        ClusterView v = b.read();
        assertThat(v.problems()).isEmpty();
        assertThat(v.initialize()).isEqualTo("7000000000000000001");
        assertThat(v.leaderName()).contains("a");
        assertThat(v.config().json()).isEqualTo(config.json());
        assertThat(v.config().ttl()).contains(Duration.ofSeconds(30));
        assertThat(v.sync().leader()).isEqualTo("a");
        assertThat(v.sync().standbys()).containsExactly("b");
        assertThat(v.failover().leader()).isEqualTo("a");
        assertThat(v.failover().candidate()).isEqualTo("b");
        assertThat(v.failover().scheduledAt()).isEqualTo(at);
        assertThat(v.history().entries()).isEqualTo(history.entries());
        assertThat(v.status().optime()).isEqualTo(status.optime());
        assertThat(v.status().slots()).isEqualTo(status.slots());
        assertThat(v.status().retainSlots()).containsExactly("b");
        assertThat(v.failsafe()).isEqualTo(failsafe);
        assertThat(v.members()).containsOnlyKeys("a", "b");
        Member ma = v.members().get("a");
        assertThat(ma.role()).isEqualTo(Role.PRIMARY);
        assertThat(ma.state()).isEqualTo("running");
        assertThat(ma.connUrl()).isEqualTo("postgres://a:5432/postgres");
        assertThat(ma.apiUrl()).isEqualTo("http://a:8008/patroni");
        assertThat(ma.xlogLocation()).isEqualTo(Lsn.of(0x5000028L));
        assertThat(ma.timeline()).isEqualTo(2);
        assertThat(v.members().get("b").role()).isEqualTo(Role.REPLICA);

        // Status writes replace by version; best-effort writes replace; an empty failsafe map deletes the key.
        assertThat(a.writeStatus(new ClusterStatus(Lsn.of(0x6000000L), Map.of(), List.of(), DcsVersion.ABSENT),
                v.status().version())).isTrue();
        a.writeFailsafe(Map.of());
        a.touchMember(member("a", "stopping", Role.PRIMARY, 0x6000000L));
        ClusterView w = b.read();
        assertThat(w.status().optime()).isEqualTo(Lsn.of(0x6000000L));
        assertThat(w.failsafe()).isNull();
        assertThat(w.members().get("a").state()).isEqualTo("stopping");
    }

    @Test
    void emptyClusterReadsAsEmpty() throws Exception {
        ClusterView v = open("a").read();
        assertThat(v.leader()).isNull();
        assertThat(v.members()).isEmpty();
        assertThat(v.initialize()).isNull();
        assertThat(v.config().isAbsent()).isTrue();
        assertThat(v.problems()).isEmpty();
    }

    @Test
    void malformedValuesAreReportedAndTheReadGoesOn() throws Exception {
        Dcs a = open("a");
        a.touchMember(member("a", "running", Role.PRIMARY, 1));
        writeRaw(layout, KeyLayout.CONFIG, "{not json");
        writeRaw(layout, KeyLayout.MEMBERS + "x", "{\"state\": \"running\", \"xlog_location\": \"not-a-position\"}");

        ClusterView v = a.read();
        assertThat(v.problems()).hasSize(2);
        assertThat(v.problems()).anySatisfy(p -> assertThat(p).contains(layout.key(KeyLayout.CONFIG)));
        assertThat(v.problems()).anySatisfy(p -> assertThat(p).contains(layout.member("x")));
        assertThat(v.config().isAbsent()).isTrue();
        assertThat(v.members()).containsOnlyKeys("a");
    }

    // ------------------------------------------------------------------------------------------------ leases

    @Test
    void memberKeysVanishWhenTheMemberCrashes() throws Exception {
        Dcs a = open("a");
        Dcs b = open("b");
        a.touchMember(member("a", "running", Role.PRIMARY, 1));
        b.touchMember(member("b", "running", Role.REPLICA, 1));
        assertThat(b.read().members()).containsOnlyKeys("a", "b");

        crash(a);
        long crashedAt = System.nanoTime();
        assertThat(b.read().members()).as("a crash is not a clean close: the key lives until the lease runs out")
                .containsKey("a");
        // b's loop goes on publishing its key meanwhile (reads alone are no sign of life: IdleLeaseRule).
        awaitUntil(ttl().plus(ttl()).plus(SLACK), () -> {
            b.touchMember(member("b", "running", Role.REPLICA, 1));
            return !b.read().members().containsKey("a");
        });
        assertThat(Duration.ofNanos(System.nanoTime() - crashedAt)).isLessThanOrEqualTo(ttl().multipliedBy(2).plus(SLACK));
        assertThat(b.read().members()).containsOnlyKeys("b");

        b.deleteMember();
        assertThat(b.read().members()).isEmpty();
    }

    @Test
    void leaderKeyOutlivesACrashedHolderForItsLeaseOnly() throws Exception {
        Dcs a = open("a");
        Dcs b = open("b");
        assertThat(a.acquireLeader()).isTrue();
        long sentAt = System.nanoTime();
        assertThat(a.renewLeader()).isTrue();
        Duration guarantee = a.leaseGuarantee();
        assertThat(guarantee).isPositive().isLessThanOrEqualTo(ttl());

        crash(a);
        assertThat(b.acquireLeader()).as("the crashed holder's lease still runs").isFalse();
        AtomicLong wonAt = new AtomicLong();
        awaitUntil(ttl().plus(ttl()).plus(SLACK), () -> {
            if (b.acquireLeader()) {
                wonAt.set(System.nanoTime());
                return true;
            }
            return false;
        });
        assertThat(Duration.ofNanos(wonAt.get() - sentAt))
                .as("no one may take the key before sentAt + leaseGuarantee() (rule S1)")
                .isGreaterThanOrEqualTo(guarantee);
        assertThat(b.read().leaderName()).contains("b");
    }

    @Test
    void closeEndsTheLeaseAtOnce() throws Exception {
        Dcs a = open("a");
        Dcs b = open("b");
        assertThat(a.acquireLeader()).isTrue();
        a.touchMember(member("a", "running", Role.PRIMARY, 1));
        long closedAt = System.nanoTime();
        a.close();
        // Well under the ttl: the keys must not merely expire.
        awaitUntil(ttl().dividedBy(2), () -> {
            ClusterView v = b.read();
            return v.leader() == null && !v.members().containsKey("a");
        });
        assertThat(Duration.ofNanos(System.nanoTime() - closedAt)).isLessThan(ttl());
        assertThat(b.acquireLeader()).isTrue();
    }

    @Test
    void watchWakesOnEveryLeaderChange() throws Exception {
        Dcs a = open("a");
        Dcs b = open("b");
        AtomicInteger calls = new AtomicInteger();
        b.watchLeader(calls::incrementAndGet);
        b.read();

        expectWakeUp(calls, () -> assertThat(a.acquireLeader()).isTrue());
        expectWakeUp(calls, () -> assertThat(a.releaseLeader()).isTrue());
        expectWakeUp(calls, () -> assertThat(a.acquireLeader()).isTrue());
        expectWakeUp(calls, a::close);
    }

    @Test
    void watchMembersWakesOnEveryMemberKeyChangeOfAnotherSession() throws Exception {
        Dcs w = open("w");
        AtomicInteger calls = new AtomicInteger();
        List<Thread> ranOn = new CopyOnWriteArrayList<>();
        w.watchMembers(() -> {
            ranOn.add(Thread.currentThread());
            calls.incrementAndGet();
        });
        w.read();
        // Before anyone wrote: the store may not even have a members/ directory yet.
        Dcs a = open("a");
        settle(calls);
        expectWakeUp(calls, () -> a.touchMember(member("a", "running", Role.REPLICA, 1)));
        settle(calls);
        expectWakeUp(calls, () -> a.touchMember(member("a", "running", Role.REPLICA, 2)));
        settle(calls);
        expectWakeUp(calls, a::deleteMember);
        a.touchMember(member("a", "running", Role.REPLICA, 3));
        settle(calls);
        expectWakeUp(calls, a::close); // the key goes with the lease
        assertThat(ranOn).as("callbacks run on the adapter's thread").doesNotContain(Thread.currentThread());
        assertThat(w.read().members()).as("the watcher wrote no member key").doesNotContainKey("w");
    }

    @Test
    void watchMembersIsReadOnly() throws Exception {
        assumeTrue(capabilities().contains(Capability.INSPECT_LEASE), "store cannot tell who holds a lease");
        Dcs w = open("w");
        Dcs a = open("a");
        AtomicInteger calls = new AtomicInteger();
        w.watchMembers(calls::incrementAndGet);
        w.watchLeader(calls::incrementAndGet);
        w.read();
        expectWakeUp(calls, () -> a.touchMember(member("a", "running", Role.PRIMARY, 1)));
        assertThat(a.acquireLeader()).isTrue();
        w.read();
        assertThat(holdsLease(a)).as("a member that wrote its key holds a lease (the check can fail)").isTrue();
        assertThat(holdsLease(w)).as("watching and reading created a lease").isFalse();
        ClusterView v = a.read();
        assertThat(v.members()).containsOnlyKeys("a");
        assertThat(v.leaderName()).contains("a");
    }

    @Test
    void forcedLeaseExpiryFreesTheLeaderKey() throws Exception {
        assumeTrue(capabilities().contains(Capability.EXPIRE_LEASE), "store cannot expire a lease on demand");
        Dcs a = open("a");
        Dcs b = open("b");
        assertThat(a.acquireLeader()).isTrue();
        a.touchMember(member("a", "running", Role.PRIMARY, 1));

        expireLease(a);
        awaitUntil(Duration.ofSeconds(10), () -> {
            ClusterView v = b.read();
            return v.leader() == null && !v.members().containsKey("a");
        });
        assertThat(renewOrUnavailable(a)).as("renew after the lease expired").isFalse();
        assertThat(b.acquireLeader()).isTrue();
        // a recovers (new lease) and sees that it lost.
        awaitUntil(ttl().plus(SLACK), () -> !renewOrUnavailable(a) && a.read().leaderName().orElse("").equals("b"));
        assertThat(a.acquireLeader()).isFalse();
    }

    @Test
    void serverRestartIsSurvived() throws Exception {
        assumeTrue(capabilities().contains(Capability.SERVER_RESTART), "store cannot be restarted by the test");
        Dcs a = open("a");
        Dcs b = open("b");
        AtomicInteger calls = new AtomicInteger();
        b.watchLeader(calls::incrementAndGet);
        assertThat(a.acquireLeader()).isTrue();
        a.touchMember(member("a", "running", Role.PRIMARY, 1));

        stopServer();
        try {
            assertUnavailableWithinRetryTimeout(a, "read", Dcs::read);
            assertThat(renewOrUnavailable(a)).as("renew while the store is down").isFalse();
        } finally {
            startServer();
        }
        awaitUntil(ttl().multipliedBy(3).plus(SLACK), () -> readsOk(a) && readsOk(b));
        awaitUntil(ttl().plus(SLACK), () -> a.renewLeader() || a.acquireLeader());
        assertThat(b.read().leaderName()).contains("a");
        assertThat(b.writeConfig(GlobalConfig.of(Map.of("ttl", 30)), DcsVersion.ABSENT)).isTrue();
        a.touchMember(member("a", "running", Role.PRIMARY, 2));
        assertThat(b.read().members()).containsKey("a");
        // The watch is armed again after the reconnect.
        expectWakeUp(calls, () -> assertThat(a.releaseLeader()).isTrue());
    }

    @Test
    void partitionedLeaderFailsFastAndLosesTheKey() throws Exception {
        assumeTrue(capabilities().contains(Capability.PARTITION), "store cannot be partitioned by the test");
        Dcs a = open("a");
        Dcs b = open("b");
        assertThat(a.acquireLeader()).isTrue();
        long sentAt = System.nanoTime();
        assertThat(a.renewLeader()).isTrue();
        Duration guarantee = a.leaseGuarantee();

        makeUnreachable(a);
        try {
            assertUnavailableWithinRetryTimeout(a, "read", Dcs::read);
            assertUnavailableWithinRetryTimeout(a, "renewLeader", Dcs::renewLeader);
            assertUnavailableWithinRetryTimeout(a, "writeConfig",
                    d -> d.writeConfig(GlobalConfig.of(Map.of("ttl", 30)), DcsVersion.ABSENT));
            assertUnavailableWithinRetryTimeout(a, "touchMember",
                    d -> {
                        d.touchMember(member("a", "running", Role.PRIMARY, 1));
                        return null;
                    });
            // The other side still works (a's key may already have expired: each failed call above may take up
            // to retryTimeout, and a blackholed HTTP client fails no faster).
            assertThat(b.read()).as("the other side still works").isNotNull();

            AtomicLong wonAt = new AtomicLong();
            awaitUntil(ttl().multipliedBy(2).plus(SLACK), () -> {
                if (b.acquireLeader()) {
                    wonAt.set(System.nanoTime());
                    return true;
                }
                return false;
            });
            assertThat(Duration.ofNanos(wonAt.get() - sentAt)).isGreaterThanOrEqualTo(guarantee);
            assertUnavailableWithinRetryTimeout(a, "acquireLeader", Dcs::acquireLeader);
        } finally {
            heal(a);
        }
        awaitUntil(ttl().multipliedBy(3).plus(SLACK), () -> readsOk(a));
        assertThat(renewOrUnavailable(a)).as("the old leader never gets its key back").isFalse();
        assertThat(a.read().leaderName()).contains("b");
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** A member key as HaLoop would publish it. */
    protected static Member member(String name, String state, Role role, long lsn) {
        return new Member(name, "postgres://" + name + ":5432/postgres", "http://" + name + ":8008/patroni", state,
                role, Lsn.of(lsn), null, null, null, 2, Tags.DEFAULT, false, false, Map.of(), DcsVersion.ABSENT);
    }

    private List<Dcs> members(int n) {
        List<Dcs> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(open("m" + i));
        }
        return out;
    }

    @FunctionalInterface
    protected interface DcsCall<A, R> {
        R call(Dcs dcs, A arg) throws Exception;
    }

    /** Runs {@code call} on every member at the same moment; results in member order. */
    private static <A> List<Boolean> race(List<Dcs> members, DcsCall<A, Boolean> call, A arg) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(members.size());
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Boolean>> futures = new ArrayList<>();
            for (Dcs d : members) {
                d.read(); // connected before the start signal, so the race is about the store, not connecting
                futures.add(pool.submit(() -> {
                    go.await();
                    return call.call(d, arg);
                }));
            }
            go.countDown();
            List<Boolean> out = new ArrayList<>();
            for (Future<Boolean> f : futures) {
                out.add(f.get(30, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    @FunctionalInterface
    protected interface Check {
        boolean test() throws Exception;
    }

    /** Waits until {@code check} holds; a store that is briefly unavailable meanwhile is tolerated. */
    protected static void awaitUntil(Duration atMost, Check check) {
        await().atMost(atMost)
                .pollInterval(Duration.ofMillis(100))
                .ignoreExceptionsInstanceOf(DcsUnavailableException.class)
                .until(check::test);
    }

    /** Whether {@code d} could publish its member key; false while another live session holds the name. */
    private static boolean registers(Dcs d, Member m) throws DcsUnavailableException {
        try {
            d.touchMember(m);
            return true;
        } catch (MemberNameTakenException e) {
            return false;
        }
    }

    /** The leader key and every member key as they were: same holder, value, version and epoch. */
    private static void assertSameKeys(ClusterView before, ClusterView after) {
        assertThat(after.leader()).as("the leader key (holder, version, epoch)").isEqualTo(before.leader());
        assertThat(after.members()).as("the member keys").isEqualTo(before.members());
    }

    /** False when the renew returned false or the store was unavailable: never a renew that succeeded. */
    private static boolean renewOrUnavailable(Dcs d) {
        try {
            return d.renewLeader();
        } catch (DcsUnavailableException e) {
            return false;
        }
    }

    private static boolean readsOk(Dcs d) {
        try {
            d.read();
            return true;
        } catch (DcsUnavailableException e) {
            return false;
        }
    }

    @FunctionalInterface
    private interface Call {
        Object call(Dcs d) throws Exception;
    }

    /** The call must throw DcsUnavailableException, and do so within retryTimeout (plus scheduling slack). */
    private void assertUnavailableWithinRetryTimeout(Dcs d, String name, Call call) {
        long start = System.nanoTime();
        assertThatThrownBy(() -> call.call(d)).as(name + " on an unreachable store")
                .isInstanceOf(DcsUnavailableException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as(name + " returned within retryTimeout")
                .isLessThanOrEqualTo(retryTimeout().plus(SLACK));
    }

    @FunctionalInterface
    private interface Action {
        void run() throws Exception;
    }

    private static void expectWakeUp(AtomicInteger calls, Action action) throws Exception {
        int before = calls.get();
        action.run();
        try {
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> calls.get() > before);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            fail("the watch did not fire within 10 s (callbacks so far: " + calls.get() + ")");
        }
    }

    /**
     * Waits until no callback came for 500 ms (at most 10 s), so a late wake-up from an earlier step (a watch being
     * armed, a merged burst) cannot pass for the next step's.
     */
    private static void settle(AtomicInteger calls) {
        AtomicInteger seen = new AtomicInteger(calls.get());
        AtomicLong since = new AtomicLong(System.nanoTime());
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> {
            int now = calls.get();
            if (seen.getAndSet(now) != now) {
                since.set(System.nanoTime());
            }
            return System.nanoTime() - since.get() >= TimeUnit.MILLISECONDS.toNanos(500);
        });
    }
}
