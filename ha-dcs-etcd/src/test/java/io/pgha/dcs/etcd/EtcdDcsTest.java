package io.pgha.dcs.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.Tags;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.MemberNameTakenException;
import io.pgha.core.testkit.TcpProxy;
import io.pgha.core.time.SystemHaClock;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the Dcs contract cannot express: etcd restarts and what they do to leases, a 3-member etcd losing its leader,
 * watch compaction, auth, background keepalives. Real etcd processes throughout.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class EtcdDcsTest {

    private static final Duration TTL = Duration.ofSeconds(5);
    private static final Duration RETRY = Duration.ofSeconds(2);
    private static final Duration SLACK = Duration.ofSeconds(3);

    @TempDir
    static Path tmp;

    private EtcdServer server;
    private final AtomicInteger clusters = new AtomicInteger();
    /** Everything a test opened, closed in reverse order even when the test fails. */
    private final Deque<AutoCloseable> opened = new ArrayDeque<>();

    @BeforeAll
    void startEtcd() throws IOException {
        server = EtcdServer.start(tmp);
    }

    @AfterAll
    void stopEtcd() {
        if (server != null) {
            server.close();
        }
    }

    @AfterEach
    void closeAll() throws IOException {
        while (!opened.isEmpty()) {
            try {
                opened.pop().close();
            } catch (Exception e) {
                // keep closing the rest
            }
        }
        if (!server.running()) {
            server.start();
        }
    }

    // ------------------------------------------------------------------------------------------------ restarts

    /**
     * etcd 3.4 keeps leases across a restart, however long it was down, and starts their countdown again with the
     * full TTL when it is back (there is no lease checkpointing by default). So a crashed member's keys outlive an
     * etcd outage longer than their TTL by one more TTL after the restart; a live member just goes on.
     */
    @Test
    void leasesSurviveAnEtcdOutageLongerThanTheTtlAndRestartTheirCountdown() throws Exception {
        KeyLayout layout = newLayout();
        EtcdDcs crashed = open(layout, "a", server.clientUrl().toString());
        EtcdDcs live = open(layout, "b", server.clientUrl().toString());
        AtomicInteger wakeups = new AtomicInteger();
        live.watchLeader(wakeups::incrementAndGet);
        assertThat(crashed.acquireLeader()).isTrue();
        crashed.touchMember(member("a"));
        live.touchMember(member("b"));
        long crashedLease = crashed.leaseId();
        crashed.abandon();

        server.kill();
        long downAt = System.nanoTime();
        assertThatThrownBy(live::read).isInstanceOf(DcsUnavailableException.class);
        long failFastStart = System.nanoTime();
        assertThatThrownBy(live::renewLeader).isInstanceOf(DcsUnavailableException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - failFastStart)).as("a known outage fails fast")
                .isLessThan(RETRY);
        // Down for longer than the TTL (measured from the kill): without persistence every lease would be gone.
        await().atMost(TTL.plus(SLACK)).pollInterval(Duration.ofMillis(200))
                .until(() -> System.nanoTime() - downAt > TTL.plusSeconds(1).toNanos());
        server.start();
        long upAt = System.nanoTime();

        assertThat(server.leaseTimeToLive(crashedLease)).as("the crashed member's lease after the restart")
                .isGreaterThan(TTL.getSeconds() - 3);
        await().atMost(RETRY.plus(SLACK)).ignoreExceptionsInstanceOf(DcsUnavailableException.class)
                .until(() -> live.read().leaderName().orElse("").equals("a"));
        assertThat(live.read().members()).containsKeys("a", "b");
        assertThat(live.acquireLeader()).as("the key is still held by the crashed member's lease").isFalse();

        int before = wakeups.get();
        await().atMost(TTL.plus(SLACK)).pollInterval(Duration.ofMillis(100))
                .ignoreExceptionsInstanceOf(DcsUnavailableException.class)
                .until(() -> live.read().leader() == null);
        Duration afterRestart = Duration.ofNanos(System.nanoTime() - upAt);
        assertThat(afterRestart).as("the lease ran out one TTL after the restart, not at once")
                .isGreaterThanOrEqualTo(TTL.minusSeconds(2));
        assertThat(live.read().members()).as("the live member kept its lease through the outage").containsOnlyKeys("b");
        await().atMost(Duration.ofSeconds(10)).until(() -> wakeups.get() > before);
        assertThat(live.acquireLeader()).isTrue();
    }

    @Test
    void aLiveLeaderKeepsItsKeyAcrossAnEtcdRestart() throws Exception {
        KeyLayout layout = newLayout();
        EtcdDcs a = open(layout, "a", server.clientUrl().toString());
        assertThat(a.acquireLeader()).isTrue();
        long lease = a.leaseId();
        server.stop();
        assertThatThrownBy(a::renewLeader).isInstanceOf(DcsUnavailableException.class);
        server.start();
        await().atMost(TTL.plus(SLACK)).pollInterval(Duration.ofMillis(100))
                .ignoreExceptionsInstanceOf(DcsUnavailableException.class).until(a::renewLeader);
        assertThat(a.leaseId()).as("the same lease: etcd kept it").isEqualTo(lease);
        assertThat(a.leasesGranted()).isEqualTo(1);
        assertThat(a.read().leader().holder()).isEqualTo("a");
    }

    // ------------------------------------------------------------------------------------------------ 3 members

    @Test
    void operationsContinueWhenTheEtcdLeaderIsKilled() throws Exception {
        List<EtcdServer> cluster = EtcdServer.cluster(3, tmp);
        cluster.forEach(opened::push);
        EtcdServer leader = cluster.stream().filter(EtcdServer::isLeader).findFirst().orElseThrow();
        // The etcd leader first in the list, so the member's calls must fail over when it dies.
        List<String> endpoints = new java.util.ArrayList<>();
        endpoints.add(leader.clientUrl().toString());
        cluster.stream().filter(s -> s != leader).forEach(s -> endpoints.add(s.clientUrl().toString()));
        KeyLayout layout = newLayout();
        EtcdDcs a = open(layout, "a", endpoints.toArray(String[]::new));
        EtcdDcs b = open(layout, "b", endpoints.toArray(String[]::new));
        AtomicInteger wakeups = new AtomicInteger();
        b.watchLeader(wakeups::incrementAndGet);
        assertThat(a.acquireLeader()).isTrue();
        a.touchMember(member("a"));
        await().atMost(Duration.ofSeconds(10)).until(() -> b.leaderWatch().streamsOpened() > 0);
        assertThat(a.gateway().currentEndpoint()).isEqualTo(leader.clientUrl());

        leader.kill();
        // An election on the survivors; calls meanwhile may fail, never hang past retryTimeout.
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100))
                .ignoreExceptionsInstanceOf(DcsUnavailableException.class).until(a::renewLeader);
        assertThat(a.gateway().currentEndpoint()).isNotEqualTo(leader.clientUrl());
        assertThat(b.read().leaderName()).contains("a");
        assertThat(b.writeConfig(GlobalConfig.of(Map.of("ttl", 30)), DcsVersion.ABSENT)).isTrue();
        a.touchMember(member("a"));
        assertThat(b.read().members()).containsKey("a");
        assertThat(a.leasesGranted()).as("the lease lives on the surviving members").isEqualTo(1);

        int before = wakeups.get();
        assertThat(a.releaseLeader()).isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> wakeups.get() > before);
        assertThat(b.acquireLeader()).isTrue();
    }

    // ------------------------------------------------------------------------------------------------ watch

    @Test
    void theWatchSurvivesCompaction() throws Exception {
        KeyLayout layout = newLayout();
        TcpProxy proxy = TcpProxy.start("127.0.0.1", server.clientPort());
        opened.push(proxy);
        EtcdDcs a = open(layout, "a", server.clientUrl().toString());
        EtcdDcs b = open(layout, "b", "http://" + proxy.address());
        AtomicInteger wakeups = new AtomicInteger();
        b.watchLeader(wakeups::incrementAndGet);
        await().atMost(Duration.ofSeconds(10)).until(() -> b.leaderWatch().streamsOpened() == 1);

        // b's watch stream breaks and cannot come back while the leader key changes and etcd compacts its history.
        proxy.reset();
        for (int i = 0; i < 3; i++) {
            assertThat(a.acquireLeader()).isTrue();
            assertThat(a.releaseLeader()).isTrue();
        }
        server.compact(server.revision());
        int before = wakeups.get();
        proxy.heal();

        await().atMost(Duration.ofSeconds(15)).until(() -> b.leaderWatch().compactions() >= 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> wakeups.get() > before);
        // Watching again from the current revision: the next change still wakes b.
        await().atMost(Duration.ofSeconds(10)).until(() -> b.leaderWatch().streamsOpened() >= 3);
        int afterCompaction = wakeups.get();
        assertThat(a.acquireLeader()).isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> wakeups.get() > afterCompaction);
        assertThat(b.leaderWatch().compactions()).isEqualTo(1);
    }

    // ------------------------------------------------------------------------------------------------ auth

    @Test
    void authenticatedMembersWorkAndAUserWithoutWriteAccessFailsClearly() throws Exception {
        EtcdServer secured = EtcdServer.start(tmp);
        opened.push(secured);
        KeyLayout layout = newLayout();
        enableAuth(secured, layout);
        String url = secured.clientUrl().toString();

        EtcdDcs a = open(layout, "a", EtcdSettings.builder(url).auth("pgha", "pgha-secret").build());
        assertThat(a.acquireLeader()).isTrue();
        a.touchMember(member("a"));
        assertThat(a.read().leaderName()).contains("a");

        EtcdDcs reader = open(layout, "r", EtcdSettings.builder(url).auth("reader", "reader-secret").build());
        assertThat(reader.read().members()).as("read access is enough to read").containsKey("a");
        assertThatThrownBy(reader::acquireLeader).isInstanceOf(DcsUnavailableException.class)
                .hasMessageContaining("acquire the leader key")
                .hasMessageContaining("permission denied for etcd user 'reader'");

        EtcdDcs wrong = open(layout, "w", EtcdSettings.builder(url).auth("pgha", "not-the-password").build());
        assertThatThrownBy(wrong::read).isInstanceOf(DcsUnavailableException.class)
                .hasMessageContaining("refused to authenticate user 'pgha'");
        EtcdDcs anonymous = open(layout, "n", EtcdSettings.builder(url).build());
        assertThatThrownBy(anonymous::read).isInstanceOf(DcsUnavailableException.class)
                .hasMessageContaining("etcd requires authentication");

        // Simple tokens live in etcd's memory: after a restart the old token is rejected (by calls and by the watch)
        // and a new one obtained.
        AtomicInteger wakeups = new AtomicInteger();
        a.watchLeader(wakeups::incrementAndGet);
        await().atMost(Duration.ofSeconds(10)).until(() -> a.leaderWatch().streamsOpened() == 1);
        int tokens = a.gateway().authentications();
        secured.stop();
        secured.start();
        await().atMost(RETRY.plus(SLACK)).pollInterval(Duration.ofMillis(100))
                .ignoreExceptionsInstanceOf(DcsUnavailableException.class).until(a::renewLeader);
        assertThat(a.gateway().authentications()).as("authenticated again").isGreaterThan(tokens);
        assertThat(a.read().leaderName()).contains("a");
        await().atMost(Duration.ofSeconds(10)).until(() -> a.leaderWatch().streamsOpened() >= 2);
        int before = wakeups.get();
        assertThat(a.releaseLeader()).isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> wakeups.get() > before);
    }

    // ------------------------------------------------------------------------------------------------ keepalive

    @Test
    void backgroundKeepalivesHoldTheLeaseWhileTheLoopCallsAndStopWhenOnlyReadsCome() throws Exception {
        KeyLayout layout = newLayout();
        Duration ttl = Duration.ofSeconds(3);
        EtcdDcs a = open(layout, "a", ttl, Duration.ofSeconds(1), EtcdSettings.builder(server.clientUrl().toString())
                .build());
        EtcdDcs b = open(layout, "b", server.clientUrl().toString());
        a.touchMember(member("a"));
        // The HA loop cycling, for twice the ttl: a member key put every cycle (under the same lease, which a put
        // does not extend), no renew. Only the keepalive thread keeps the lease.
        long until = System.nanoTime() + ttl.multipliedBy(2).toNanos();
        await().atMost(ttl.multipliedBy(2).plus(SLACK)).pollInterval(Duration.ofMillis(300)).until(() -> {
            a.touchMember(member("a"));
            return System.nanoTime() > until;
        });
        assertThat(b.read().members()).as("the member key outlived two ttls").containsKey("a");
        assertThat(a.leasesGranted()).isEqualTo(1);

        // a's loop hangs; only reads come through a (its REST API, a user's query): no sign of life, so after one
        // ttl the keepalives pause and the lease runs out.
        long idleFrom = System.nanoTime();
        await().atMost(ttl.multipliedBy(2).plus(SLACK)).pollInterval(Duration.ofMillis(100))
                .until(() -> a.read() != null && !b.read().members().containsKey("a"));
        assertThat(Duration.ofNanos(System.nanoTime() - idleFrom)).isGreaterThanOrEqualTo(ttl);
    }

    @Test
    void beforeTheFirstLeaseTheGuaranteeIsTheTtlTheLeaseWillBeAskedFor() throws Exception {
        // HaLoop.start() checks loopWait + 2*retryTimeout against the guarantee before the member has written
        // anything; a zero here made every etcd member refuse to start (seen in the end-to-end suite).
        EtcdDcs a = open(newLayout(), "a", server.clientUrl().toString());
        assertThat(a.read().leader()).isNull();
        assertThat(a.leasesGranted()).isZero();
        assertThat(a.leaseGuarantee()).isEqualTo(TTL);
        assertThat(a.acquireLeader()).isTrue();
        assertThat(a.leaseGuarantee()).isEqualTo(TTL);
    }

    @Test
    void anEtcdReleaseThatCanEndLeasesEarlyIsWarnedAboutWhenTheMemberFirstCallsIt() throws Exception {
        EtcdDcs a = open(newLayout(), "a", server.clientUrl().toString());
        assertThat(a.gateway().versionWarning()).as("nothing asked yet").isNull();
        a.read();
        String version = server.post("/v3/maintenance/status", EtcdJson.MAPPER.createObjectNode()).path("version")
                .asText();
        String expected = EtcdJson.leaseRevocationWarning(version);
        System.out.println("etcd server " + version + ": " + (expected == null ? "no warning" : expected));
        assertThat(a.gateway().versionWarning()).isEqualTo(expected);
    }

    @Test
    void aTtlBelowEtcdsMinimumIsGrantedLongerButTheGuaranteeStaysAtTheTtl() throws Exception {
        // With --election-timeout=1000 and --heartbeat-interval=100 etcd's minimum lease TTL is 2 s.
        // A ttl of 1 s forces a retryTimeout under 1 s: on a busy machine a call may miss it, so retry (bounded).
        EtcdDcs a = open(newLayout(), "a", Duration.ofSeconds(1), Duration.ofMillis(900),
                EtcdSettings.builder(server.clientUrl().toString()).build());
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                .ignoreExceptionsInstanceOf(DcsUnavailableException.class).until(a::acquireLeader);
        assertThat(a.requestedLeaseTtlSeconds()).isEqualTo(1);
        assertThat(a.grantedLeaseTtlSeconds()).isEqualTo(2);
        assertThat(a.leaseGuarantee()).isEqualTo(Duration.ofSeconds(1));
    }

    @Test
    void aKeyOfAnotherLeaseIsNeverReboundButAKeyWithoutALeaseIs() throws Exception {
        KeyLayout layout = newLayout();
        String url = server.clientUrl().toString();
        EtcdDcs first = open(layout, "a", url);
        assertThat(first.acquireLeader()).isTrue();
        first.touchMember(member("a"));
        first.abandon();

        // The same name restarts with a new lease while the old one lives: it cannot tell that lease from another
        // live process's (docs/decisions 0011), so it changes nothing.
        EtcdDcs again = open(layout, "a", url);
        EtcdDcs other = open(layout, "b", url);
        ClusterView before = other.read();
        assertThat(again.acquireLeader()).as("our name, but another lease: not acquired").isFalse();
        assertThat(again.renewLeader()).as("not re-bound to the new lease").isFalse();
        assertThat(again.releaseLeader()).isFalse();
        assertThatThrownBy(() -> again.touchMember(member("a"))).isInstanceOf(MemberNameTakenException.class)
                .hasMessageContaining("lease " + Long.toHexString(first.leaseId())).hasMessageContaining(url);
        again.deleteMember();
        ClusterView after = other.read();
        assertThat(after.leader()).isEqualTo(before.leader());
        assertThat(after.members()).isEqualTo(before.members());
        server.revoke(first.leaseId());
        assertThat(other.read().leader()).as("gone with the old lease").isNull();
        assertThat(other.read().members()).doesNotContainKey("a");

        // A key with our name and no lease (written by hand) is ours to re-bind.
        server.put(layout.leader(), "a");
        long epoch = other.read().leader().epoch();
        assertThat(again.renewLeader()).isTrue();
        assertThat(other.read().leader().epoch()).as("re-binding keeps the epoch").isEqualTo(epoch);
        server.revoke(again.leaseId());
        assertThat(other.read().leader()).as("now attached to the lease").isNull();
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private KeyLayout newLayout() {
        return KeyLayout.of("etcd-" + clusters.incrementAndGet());
    }

    private EtcdDcs open(KeyLayout layout, String name, String... endpoints) {
        return open(layout, name, EtcdSettings.builder(endpoints).build());
    }

    private EtcdDcs open(KeyLayout layout, String name, EtcdSettings settings) {
        return open(layout, name, TTL, RETRY, settings);
    }

    private EtcdDcs open(KeyLayout layout, String name, Duration ttl, Duration retry, EtcdSettings settings) {
        EtcdDcs d = EtcdDcs.open(settings, new DcsContext(layout, name, ttl, retry, SystemHaClock.INSTANCE));
        opened.push(d);
        return d;
    }

    private static Member member(String name) {
        return new Member(name, "postgres://" + name + ":5432/postgres", "http://" + name + ":8008/patroni", "running",
                Role.REPLICA, Lsn.of(1), null, null, null, 1, Tags.DEFAULT, false, false, Map.of(),
                DcsVersion.ABSENT);
    }

    /**
     * Turns auth on: root (required by etcd), user pgha with read/write on the cluster prefix, user reader with read
     * only.
     */
    private static void enableAuth(EtcdServer s, KeyLayout layout) {
        s.post("/v3/auth/user/add", obj("name", "root", "password", "root-secret"));
        s.post("/v3/auth/role/add", obj("name", "root"));
        s.post("/v3/auth/user/grant", obj("user", "root", "role", "root"));
        grantPrefix(s, "pgha", "pgha-secret", "READWRITE", layout);
        grantPrefix(s, "reader", "reader-secret", "READ", layout);
        s.post("/v3/auth/enable", EtcdJson.MAPPER.createObjectNode());
    }

    private static void grantPrefix(EtcdServer s, String user, String password, String perm, KeyLayout layout) {
        s.post("/v3/auth/user/add", obj("name", user, "password", password));
        s.post("/v3/auth/role/add", obj("name", user));
        ObjectNode grant = obj("name", user);
        ObjectNode p = EtcdJson.rangePrefix(layout.prefix());
        p.put("permType", perm);
        grant.set("perm", p);
        s.post("/v3/auth/role/grant", grant);
        s.post("/v3/auth/user/grant", obj("user", user, "role", user));
    }

    private static ObjectNode obj(String... kv) {
        ObjectNode o = EtcdJson.MAPPER.createObjectNode();
        for (int i = 0; i < kv.length; i += 2) {
            o.put(kv[i], kv[i + 1]);
        }
        return o;
    }
}
