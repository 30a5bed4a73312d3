package io.pgha.dcs.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.config.Tags;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.MemberNameTakenException;
import io.pgha.core.testkit.TcpProxy;
import io.pgha.core.testkit.TestPorts;
import io.pgha.core.time.SystemHaClock;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingCluster;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/** What the Dcs contract cannot express: ZooKeeper sessions, Curator connection states, ACLs, a real quorum. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ZooKeeperDcsTest {

    private static final Duration TTL = Duration.ofSeconds(5);
    private static final Duration RETRY = Duration.ofSeconds(2);
    private static final Duration SLACK = Duration.ofSeconds(3);

    private TestingServer server;
    private final AtomicInteger clusters = new AtomicInteger();
    /** Everything a test opened, closed in reverse order even when the test fails. */
    private final Deque<AutoCloseable> opened = new ArrayDeque<>();

    @BeforeAll
    void startZooKeeper() throws Exception {
        server = ZkTestServers.standalone(Duration.ofSeconds(60));
    }

    @AfterAll
    void stopZooKeeper() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @AfterEach
    void closeAll() {
        while (!opened.isEmpty()) {
            try {
                opened.pop().close();
            } catch (Exception e) {
                // keep closing the rest
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ session

    @Test
    void theNegotiatedSessionTimeoutBoundsTheLeaseGuarantee() throws Exception {
        TestingServer stingy = track(ZkTestServers.standalone(Duration.ofSeconds(3)));
        ZooKeeperDcs clamped = open(newLayout(), "a", ZkTestServers.settings(stingy.getConnectString()).build());
        assertThat(clamped.leaseGuarantee()).as("before the first session: what the requested ttl would give")
                .isEqualTo(Duration.ofMillis(4950));
        assertThat(clamped.acquireLeader()).isTrue();
        assertThat(clamped.requestedSessionTimeout()).isEqualTo(TTL);
        assertThat(clamped.negotiatedSessionTimeout()).as("server maxSessionTimeout").isEqualTo(Duration.ofSeconds(3));
        assertThat(clamped.leaseGuarantee()).as("never more than the server granted, less the clock allowance")
                .isEqualTo(Duration.ofMillis(2970));

        ZooKeeperDcs fromTtl = open(newLayout(), "a", ZkTestServers.settings(server.getConnectString()).build());
        assertThat(fromTtl.acquireLeader()).isTrue();
        assertThat(fromTtl.leaseGuarantee()).as("session timeout derived from the ttl").isEqualTo(Duration.ofMillis(4950));

        ZooKeeperDcs overridden = open(newLayout(), "a",
                ZkTestServers.settings(server.getConnectString()).sessionTimeout(Duration.ofSeconds(4)).build());
        assertThat(overridden.renewLeader()).isFalse();
        assertThat(overridden.acquireLeader()).isTrue();
        assertThat(overridden.requestedSessionTimeout()).isEqualTo(Duration.ofSeconds(4));
        assertThat(overridden.leaseGuarantee()).isEqualTo(Duration.ofMillis(3960));
    }

    @Test
    void aSuspendedConnectionFailsEveryCallAtOnce() throws Exception {
        TcpProxy proxy = proxy();
        ZooKeeperDcs a = open(newLayout(), "a", Duration.ofSeconds(6), Duration.ofSeconds(4),
                ZkTestServers.settings(proxy.address()).build());
        assertThat(a.acquireLeader()).isTrue();

        proxy.reset();
        await().atMost(Duration.ofSeconds(5)).until(() -> a.connectionState() == ConnectionState.SUSPENDED);
        List<Call> calls = List.of(Dcs::read, Dcs::renewLeader, Dcs::acquireLeader, Dcs::releaseLeader,
                d -> d.writeConfig(GlobalConfig.of(Map.of("ttl", 30)), DcsVersion.ABSENT),
                d -> {
                    d.touchMember(member("a"));
                    return null;
                });
        for (Call c : calls) {
            long start = System.nanoTime();
            assertThatThrownBy(() -> c.call(a)).isInstanceOf(DcsUnavailableException.class)
                    .hasMessageContaining("SUSPENDED");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("no waiting for a reconnect (Patroni #1981)")
                    .isLessThan(Duration.ofSeconds(1));
        }

        proxy.heal();
        await().atMost(Duration.ofSeconds(10)).until(() -> a.connectionState() == ConnectionState.RECONNECTED);
        assertThat(a.renewLeader()).as("same session after a short outage: the key is still ours").isTrue();
    }

    @Test
    void aCallWaitingForAnAnswerFailsAsSoonAsTheConnectionDrops() throws Exception {
        TcpProxy proxy = proxy();
        // Session 6 s: the client gives up on a silent server after at most 2/3 of it (4 s), before retryTimeout.
        Duration retry = Duration.ofMillis(5_500);
        ZooKeeperDcs a = open(newLayout(), "a", Duration.ofSeconds(6), retry,
                ZkTestServers.settings(proxy.address()).build());
        a.read();

        proxy.blackhole();
        long start = System.nanoTime();
        // Either ZooKeeper fails the request when it drops the silent connection, or the SUSPENDED listener fails
        // the waiting call; both come before the retryTimeout would.
        assertThatThrownBy(a::read).isInstanceOf(DcsUnavailableException.class)
                .hasMessageMatching(".*(connection to ZooKeeper .* was lost|suspended while waiting).*");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(retry);
        proxy.heal();
    }

    @Test
    void aRestartedProcessLeavesTheKeysOfItsPredecessorsSessionAlone() throws Exception {
        KeyLayout layout = newLayout();
        TcpProxy proxy1 = proxy();
        ZooKeeperDcs before = open(layout, "a", ZkTestServers.settings(proxy1.address()).build());
        assertThat(before.acquireLeader()).isTrue();
        before.touchMember(member("a"));
        long oldSession = before.sessionId();

        // The process dies; its session (and both keys) live on in the server until the session times out.
        proxy1.reset();
        before.close();

        // The new process cannot tell that session from another live process using the name (docs/decisions 0011).
        ZooKeeperDcs after = open(layout, "a", ZkTestServers.settings(server.getConnectString()).build());
        Stat leader = stat(layout.leader());
        assertThat(leader.getEphemeralOwner()).isEqualTo(oldSession);
        assertThat(after.acquireLeader()).as("the key exists, bound to the old session").isFalse();
        assertThat(after.renewLeader()).as("not re-bound to the new session").isFalse();
        assertThat(after.releaseLeader()).isFalse();
        assertThatThrownBy(() -> after.touchMember(member("a"))).isInstanceOf(MemberNameTakenException.class)
                .hasMessageContaining("session 0x" + Long.toHexString(oldSession))
                .hasMessageContaining(server.getConnectString());
        after.deleteMember();
        assertThat(stat(layout.leader())).as("the leader key is untouched").isEqualTo(leader);
        assertThat(stat(layout.member("a")).getEphemeralOwner()).isEqualTo(oldSession);

        // When the old session expires its keys go; then the name is free for the new process.
        await().atMost(TTL.plus(TTL).plus(SLACK)).until(() -> {
            ClusterView v = after.read();
            return v.leader() == null && !v.members().containsKey("a");
        });
        after.touchMember(member("a"));
        assertThat(stat(layout.member("a")).getEphemeralOwner()).isEqualTo(after.sessionId());
        assertThat(after.acquireLeader()).isTrue();
    }

    @Test
    void aSessionTheClientDroppedIsStillItsOwnAndItsKeysAreReBound() throws Exception {
        KeyLayout layout = newLayout();
        TcpProxy proxy = proxy();
        // A longer session than usual: the old one must outlive the reconnect below even on a loaded machine.
        ZooKeeperDcs a = open(layout, "a", Duration.ofSeconds(10), RETRY,
                ZkTestServers.settings(proxy.address()).build());
        assertThat(a.acquireLeader()).isTrue();
        a.touchMember(member("a"));
        long oldSession = a.sessionId();
        long oldEpoch = a.read().leader().epoch();

        // Curator's verdict after a long SUSPENDED: the client gives up its session and starts a new one while the
        // server still holds the old one, and the key. The link is cut first so that nothing (not even a
        // closeSession from the discarded handle) reaches the server, as in a real outage.
        proxy.reset();
        await().atMost(Duration.ofSeconds(5)).until(() -> a.connectionState() == ConnectionState.SUSPENDED);
        a.curator().getZookeeperClient().getZooKeeper().getTestable().injectSessionExpiration();
        await().atMost(Duration.ofSeconds(5)).until(() -> a.connectionState() == ConnectionState.LOST);
        proxy.heal();
        await().atMost(Duration.ofSeconds(10)).until(() -> a.sessionId() != oldSession
                && a.connectionState() == ConnectionState.RECONNECTED);
        assertThat(stat(layout.leader()).getEphemeralOwner()).as("the old session still holds the key")
                .isEqualTo(oldSession);

        assertThat(a.renewLeader()).isTrue();
        assertThat(stat(layout.leader()).getEphemeralOwner()).isEqualTo(a.sessionId());
        assertThat(a.read().leader().epoch()).isNotEqualTo(oldEpoch);
        // The member key, too, belongs to a session of this very client: re-bound, not refused.
        assertThat(stat(layout.member("a")).getEphemeralOwner()).isEqualTo(oldSession);
        a.touchMember(member("a"));
        assertThat(stat(layout.member("a")).getEphemeralOwner()).isEqualTo(a.sessionId());
    }

    // ------------------------------------------------------------------------------------------------ versions

    @Test
    void aKeyDeletedAndCreatedAgainBetweenTheReadAndTheWriteOfACompareAndSetIsNotWritten() throws Exception {
        KeyLayout layout = newLayout();
        ZooKeeperDcs a = open(layout, "a", ZkTestServers.settings(server.getConnectString()).build());
        ZooKeeperDcs b = open(layout, "b", ZkTestServers.settings(server.getConnectString()).build());
        assertThat(a.writeSync(new SyncState("a", List.of("b"), DcsVersion.ABSENT), DcsVersion.ABSENT)).isTrue();
        long version = a.read().sync().version();
        assertThat(stat(layout.key(KeyLayout.SYNC)).getVersion()).as("the znode's own version").isZero();

        // Between a's read (the zxid still matches) and its write, b deletes the key and creates it again: the new
        // znode's own version is 0 again, as the one a read.
        a.beforeConditionalWrite(() -> {
            a.beforeConditionalWrite(null);
            try {
                assertThat(b.deleteSync(b.read().sync().version())).isTrue();
                assertThat(b.writeSync(new SyncState("b", List.of("c"), DcsVersion.ABSENT), DcsVersion.ABSENT))
                        .isTrue();
            } catch (DcsUnavailableException e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(a.writeSync(new SyncState("a", List.of("d"), DcsVersion.ABSENT), version))
                .as("the write raced with a delete and a create").isFalse();
        assertThat(stat(layout.key(KeyLayout.SYNC)).getVersion()).isZero();
        assertThat(a.read().sync().leader()).isEqualTo("b");
    }

    @Test
    void aKeyWrittenByAnotherClientWithoutAGuardIsStillCompareAndSet() throws Exception {
        KeyLayout layout = newLayout();
        // As Patroni writes it: no pgha guard znode exists for it.
        ZkTestServers.put(server.getConnectString(), layout.key(KeyLayout.FAILOVER), "{\"leader\": \"a\"}");
        ZooKeeperDcs a = open(layout, "a", ZkTestServers.settings(server.getConnectString()).build());
        long version = a.read().failover().version();
        assertThat(a.writeFailover(new FailoverRequest("a", "b", null, DcsVersion.ABSENT), version)).isTrue();
        assertThat(a.writeFailover(new FailoverRequest("a", "c", null, DcsVersion.ABSENT), version))
                .as("stale version").isFalse();
        assertThat(a.clearFailover(a.read().failover().version())).isTrue();
        assertThat(a.read().hasFailoverRequest()).isFalse();
    }

    @Test
    void closeWhileUnreachableReturnsPromptlyAndTheKeysExpire() throws Exception {
        KeyLayout layout = newLayout();
        TcpProxy proxy = proxy();
        ZooKeeperDcs a = open(layout, "a", ZkTestServers.settings(proxy.address()).build());
        ZooKeeperDcs b = open(layout, "b", ZkTestServers.settings(server.getConnectString()).build());
        assertThat(a.acquireLeader()).isTrue();

        proxy.blackhole();
        long start = System.nanoTime();
        a.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThanOrEqualTo(RETRY.plus(SLACK));
        await().atMost(TTL.plus(SLACK)).ignoreExceptionsInstanceOf(DcsUnavailableException.class)
                .until(() -> b.read().leader() == null);
        assertThatThrownBy(a::read).isInstanceOf(DcsUnavailableException.class).hasMessageContaining("closed");
    }

    @Test
    void theLeaderWatchIsArmedAgainInANewSession() throws Exception {
        KeyLayout layout = newLayout();
        ZooKeeperDcs a = open(layout, "a", ZkTestServers.settings(server.getConnectString()).build());
        ZooKeeperDcs b = open(layout, "b", ZkTestServers.settings(server.getConnectString()).build());
        AtomicInteger calls = new AtomicInteger();
        b.watchLeader(calls::incrementAndGet);
        b.read();
        expireAndAwaitANewSession(b);
        int before = calls.get();
        assertThat(a.acquireLeader()).isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> calls.get() > before);
    }

    @Test
    void theMemberWatchIsAddedAgainInANewSession() throws Exception {
        KeyLayout layout = newLayout();
        ZooKeeperDcs a = open(layout, "a", ZkTestServers.settings(server.getConnectString()).build());
        ZooKeeperDcs b = open(layout, "b", ZkTestServers.settings(server.getConnectString()).build());
        AtomicInteger calls = new AtomicInteger();
        b.watchMembers(calls::incrementAndGet);
        b.read();
        expireAndAwaitANewSession(b);
        // Woken once the watch is back (a key may have changed while there was none); then quiet.
        AtomicInteger seen = new AtomicInteger(-1);
        await().atMost(Duration.ofSeconds(10)).pollDelay(Duration.ofMillis(500)).pollInterval(Duration.ofMillis(500))
                .until(() -> calls.get() > 0 && seen.getAndSet(calls.get()) == calls.get());
        int before = calls.get();
        a.touchMember(member("a"));
        await().atMost(Duration.ofSeconds(10)).until(() -> calls.get() > before);
    }

    private void expireAndAwaitANewSession(ZooKeeperDcs member) throws Exception {
        long oldSession = member.sessionId();
        ZkTestServers.expireSession(server.getConnectString(), member);
        await().atMost(Duration.ofSeconds(10)).until(() -> member.sessionId() != oldSession
                && member.connectionState() == ConnectionState.RECONNECTED);
    }

    @Test
    void theSessionHoldsTheKeysWhileTheLoopCallsAndIsClosedWhenOnlyReadsCome() throws Exception {
        KeyLayout layout = newLayout();
        ZooKeeperDcs a = open(layout, "a", ZkTestServers.settings(server.getConnectString()).build());
        ZooKeeperDcs b = open(layout, "b", ZkTestServers.settings(server.getConnectString()).build());
        AtomicInteger wakeups = new AtomicInteger();
        a.watchLeader(wakeups::incrementAndGet);
        assertThat(a.acquireLeader()).isTrue();
        a.touchMember(member("a"));
        long firstSession = a.sessionId();
        // The HA loop cycling, for twice the ttl: the member key published every cycle, no renew. The session
        // alone keeps the keys.
        long until = System.nanoTime() + TTL.multipliedBy(2).toNanos();
        await().atMost(TTL.multipliedBy(2).plus(SLACK)).pollInterval(Duration.ofMillis(300)).until(() -> {
            a.touchMember(member("a"));
            return System.nanoTime() > until;
        });
        assertThat(b.read().leaderName()).as("the leader key outlived two ttls").contains("a");
        assertThat(b.read().members()).containsKey("a");
        assertThat(a.sessionId()).isEqualTo(firstSession);

        // a's loop hangs; only reads come through a (its REST API, a user's query): no sign of life, so after one
        // ttl its session is closed, and the keys go with it.
        long idleFrom = System.nanoTime();
        await().atMost(TTL.multipliedBy(2).plus(SLACK)).pollInterval(Duration.ofMillis(100))
                .until(() -> a.read() != null && b.read().leader() == null);
        assertThat(Duration.ofNanos(System.nanoTime() - idleFrom)).isGreaterThanOrEqualTo(TTL);
        assertThat(b.read().members()).doesNotContainKey("a");

        // a calls again: a new session, which holds nothing; the key is free to race for, and the watch works.
        assertThat(a.renewLeader()).as("the lease ended").isFalse();
        assertThat(a.sessionId()).isNotEqualTo(firstSession);
        assertThat(a.acquireLeader()).isTrue();
        assertThat(stat(layout.leader()).getEphemeralOwner()).isEqualTo(a.sessionId());
        int before = wakeups.get();
        assertThat(b.read().leaderName()).contains("a");
        assertThat(a.releaseLeader()).isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> wakeups.get() > before);
    }

    @Test
    void aReadOnlyMemberKeepsItsSessionAndWatchWhenIdle() throws Exception {
        KeyLayout layout = newLayout();
        ZooKeeperDcs a = open(layout, "a", ZkTestServers.settings(server.getConnectString()).build());
        ZooKeeperDcs reader = open(layout, "reader", ZkTestServers.settings(server.getConnectString()).build());
        AtomicInteger wakeups = new AtomicInteger();
        reader.watchLeader(wakeups::incrementAndGet);
        reader.read();
        long session = reader.sessionId();
        // The reader holds no keys, so its session is no lease: idle for longer than the ttl, it keeps the session
        // and with it the watch (a routing client reads seldom but must hear of a new leader).
        Thread.sleep(TTL.plus(Duration.ofSeconds(2)).toMillis());
        assertThat(a.acquireLeader()).isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> wakeups.get() > 0);
        assertThat(reader.sessionId()).isEqualTo(session);
    }

    // ------------------------------------------------------------------------------------------------ ACLs

    @Test
    void digestAuthKeepsUnauthenticatedClientsFromWriting() throws Exception {
        // A namespace of its own: /service may already exist with an open ACL from other tests.
        KeyLayout layout = new KeyLayout("/secured-" + clusters.incrementAndGet(), "orders");
        ZooKeeperSettings auth = ZkTestServers.settings(server.getConnectString())
                .digestAuth("pgha", "s3cret").build();
        ZooKeeperDcs a = open(layout, "a", auth);
        ZooKeeperDcs b = open(layout, "b", auth);
        assertThat(a.acquireLeader()).isTrue();
        a.touchMember(member("a"));
        assertThat(a.writeConfig(GlobalConfig.of(Map.of("ttl", 30)), DcsVersion.ABSENT)).isTrue();

        CuratorFramework intruder = track(ZkTestServers.admin(server.getConnectString()));
        String leader = layout.leader();
        assertThat(new String(intruder.getData().forPath(leader), StandardCharsets.UTF_8))
                .as("world-readable by default").isEqualTo("a");
        assertThatThrownBy(() -> intruder.setData().forPath(leader, bytes("intruder")))
                .isInstanceOf(KeeperException.NoAuthException.class);
        assertThatThrownBy(() -> intruder.delete().forPath(leader))
                .as("deletes are checked against the scope node").isInstanceOf(KeeperException.NoAuthException.class);
        assertThatThrownBy(() -> intruder.setData().forPath(layout.key(KeyLayout.CONFIG), bytes("{}")))
                .isInstanceOf(KeeperException.NoAuthException.class);
        assertThatThrownBy(() -> intruder.create().forPath(layout.key("extra"), bytes("x")))
                .isInstanceOf(KeeperException.NoAuthException.class);
        assertThat(perms(intruder.getACL().forPath(leader)))
                .containsExactlyInAnyOrder("digest:" + ZooDefs.Perms.ALL, "world:" + ZooDefs.Perms.READ);
        assertThat(perms(intruder.getACL().forPath(layout.namespace())))
                .as("the namespace lets other clusters create their scope, nothing more")
                .containsExactlyInAnyOrder("digest:" + ZooDefs.Perms.ALL,
                        "world:" + (ZooDefs.Perms.READ | ZooDefs.Perms.CREATE));
        assertThat(a.releaseLeader()).isTrue();
        assertThatThrownBy(() -> intruder.create().withMode(CreateMode.EPHEMERAL).forPath(leader, bytes("intruder")))
                .as("nobody unauthenticated may take a free leader key")
                .isInstanceOf(KeeperException.NoAuthException.class);

        ZooKeeperDcs wrongPassword = open(layout, "c",
                ZkTestServers.settings(server.getConnectString()).digestAuth("pgha:wrong").build());
        assertThat(wrongPassword.read().config().ttl()).contains(Duration.ofSeconds(30));
        assertThatThrownBy(wrongPassword::acquireLeader).isInstanceOf(DcsUnavailableException.class)
                .hasMessageContaining("not authorized");
        ZooKeeperDcs anonymous = open(layout, "d", ZkTestServers.settings(server.getConnectString()).build());
        assertThatThrownBy(() -> anonymous.writeConfig(GlobalConfig.of(Map.of("ttl", 40)), Dcs.ANY_VERSION))
                .isInstanceOf(DcsUnavailableException.class).hasMessageContaining("not authorized");

        assertThat(b.acquireLeader()).as("members sharing the credentials can").isTrue();
        assertThat(b.writeConfig(GlobalConfig.of(Map.of("ttl", 40)), b.read().config().version())).isTrue();
    }

    @Test
    void withoutWorldReadOnlyTheCredentialsCanRead() throws Exception {
        KeyLayout layout = new KeyLayout("/secured-" + clusters.incrementAndGet(), "orders");
        ZooKeeperDcs a = open(layout, "a", ZkTestServers.settings(server.getConnectString())
                .digestAuth("pgha", "s3cret").worldReadable(false).build());
        assertThat(a.acquireLeader()).isTrue();
        assertThat(a.read().leaderName()).contains("a");

        CuratorFramework intruder = track(ZkTestServers.admin(server.getConnectString()));
        assertThatThrownBy(() -> intruder.getData().forPath(layout.leader()))
                .isInstanceOf(KeeperException.NoAuthException.class);
        ZooKeeperDcs anonymous = open(layout, "b", ZkTestServers.settings(server.getConnectString()).build());
        assertThatThrownBy(anonymous::read).isInstanceOf(DcsUnavailableException.class)
                .hasMessageContaining("not authorized");
    }

    // ------------------------------------------------------------------------------------------------ quorum

    @Test
    void survivesLosingItsServerAndFailsFastWithoutAQuorum() throws Exception {
        List<InstanceSpec> specs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            specs.add(new InstanceSpec(null, TestPorts.freePort(), TestPorts.freePort(), TestPorts.freePort(), true, -1, ZkTestServers.TICK_MS, -1,
                    Map.of("maxSessionTimeout", "60000")));
        }
        TestingCluster cluster = track(new TestingCluster(specs));
        cluster.start();
        KeyLayout layout = newLayout();
        // curator-test's quorum config has syncLimit 5.
        ZooKeeperSettings ensemble = ZooKeeperSettings.builder(cluster.getConnectString())
                .tickTime(Duration.ofMillis(ZkTestServers.TICK_MS)).syncLimit(5).build();
        ZooKeeperDcs a = open(layout, "a", ensemble);
        ZooKeeperDcs b = open(layout, "b", ensemble);
        await().atMost(Duration.ofSeconds(20)).ignoreExceptionsInstanceOf(DcsUnavailableException.class)
                .until(() -> a.acquireLeader());
        long session = a.sessionId();

        InstanceSpec connectedTo = cluster.findConnectionInstance(a.curator().getZookeeperClient().getZooKeeper());
        assertThat(cluster.killServer(connectedTo)).isTrue();
        await().atMost(Duration.ofSeconds(15)).ignoreExceptionsInstanceOf(DcsUnavailableException.class)
                .until(a::renewLeader);
        assertThat(a.sessionId()).as("the session moved to another server").isEqualTo(session);
        await().atMost(Duration.ofSeconds(15)).ignoreExceptionsInstanceOf(DcsUnavailableException.class)
                .until(() -> b.read().leaderName().orElse("").equals("a"));

        InstanceSpec second = specs.stream().filter(s -> !s.equals(connectedTo)).findFirst().orElseThrow();
        assertThat(cluster.killServer(second)).isTrue();
        // One server of three cannot serve: every call fails, none hangs.
        await().atMost(Duration.ofSeconds(15)).until(() -> {
            long start = System.nanoTime();
            try {
                a.renewLeader();
                return false;
            } catch (DcsUnavailableException e) {
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThanOrEqualTo(RETRY.plus(SLACK));
                return true;
            }
        });

        assertThat(cluster.restartServer(second)).isTrue();
        await().atMost(Duration.ofSeconds(30)).ignoreExceptionsInstanceOf(DcsUnavailableException.class)
                .until(() -> a.renewLeader() || a.acquireLeader());
        await().atMost(Duration.ofSeconds(30)).ignoreExceptionsInstanceOf(DcsUnavailableException.class)
                .until(() -> b.read().leaderName().orElse("").equals("a"));
    }

    // ------------------------------------------------------------------------------------------------ helpers

    @FunctionalInterface
    private interface Call {
        Object call(Dcs d) throws Exception;
    }

    private KeyLayout newLayout() {
        return KeyLayout.of("zk-" + clusters.incrementAndGet());
    }

    private ZooKeeperDcs open(KeyLayout layout, String member, ZooKeeperSettings settings) {
        return open(layout, member, TTL, RETRY, settings);
    }

    private ZooKeeperDcs open(KeyLayout layout, String member, Duration ttl, Duration retry,
            ZooKeeperSettings settings) {
        return track(ZooKeeperDcs.open(settings,
                new DcsContext(layout, member, ttl, retry, SystemHaClock.INSTANCE)));
    }

    private TcpProxy proxy() throws Exception {
        return track(TcpProxy.start("127.0.0.1", server.getPort()));
    }

    private <T extends AutoCloseable> T track(T c) {
        opened.push(c);
        return c;
    }

    private Stat stat(String path) throws Exception {
        try (CuratorFramework admin = ZkTestServers.admin(server.getConnectString())) {
            return admin.checkExists().forPath(path);
        }
    }

    private static List<String> perms(List<ACL> acl) {
        return acl.stream().map(x -> x.getId().getScheme() + ":" + x.getPerms()).toList();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static Member member(String name) {
        return new Member(name, "postgres://" + name + ":5432/postgres", "http://" + name + ":8008/patroni",
                "running", Role.REPLICA, Lsn.of(1), null, null, null, 1, Tags.DEFAULT, false, false, Map.of(),
                DcsVersion.ABSENT);
    }
}
