package io.pgha.dcs.consul;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.LeaderLock;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.Tags;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.MemberNameTakenException;
import io.pgha.core.testkit.TcpProxy;
import io.pgha.core.time.SystemHaClock;
import io.pgha.dcs.consul.emulator.ConsulEmulator.KvInfo;
import io.pgha.dcs.consul.emulator.ConsulEmulator;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the Dcs contract cannot express: Consul sessions (TTL, renewals, 404, agent leave, serfHealth), the minimum
 * ttl, ACL tokens, TLS, several agents, the datacenter. Against {@link ConsulEmulator}, an emulator of Consul's HTTP
 * API (not Consul), with {@code session_ttl_min = 1 s} unless a test says otherwise.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConsulDcsTest {

    private static final Duration TTL = Duration.ofSeconds(5);
    private static final Duration RETRY = Duration.ofSeconds(2);
    private static final Duration SLACK = Duration.ofSeconds(3);

    private ConsulEmulator consul;
    private final AtomicInteger clusters = new AtomicInteger();
    /** Everything a test opened, closed in reverse order even when the test fails. */
    private final Deque<AutoCloseable> opened = new ArrayDeque<>();

    @BeforeAll
    void startConsul() {
        consul = ConsulEmulator.builder().sessionTtlMin(Duration.ofSeconds(1)).start();
    }

    @AfterAll
    void stopConsul() {
        if (consul != null) {
            consul.close();
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

    private <T extends AutoCloseable> T track(T c) {
        opened.push(c);
        return c;
    }

    private KeyLayout newLayout() {
        return KeyLayout.of("consul-" + clusters.incrementAndGet());
    }

    private ConsulDcs open(KeyLayout layout, String name, String url, UnaryOperator<ConsulSettings.Builder> tweak) {
        ConsulSettings s = tweak.apply(ConsulSettings.builder(url).sessionTtlMin(Duration.ofSeconds(1))).build();
        return track(ConsulDcs.open(s, new DcsContext(layout, name, TTL, RETRY, SystemHaClock.INSTANCE)));
    }

    private ConsulDcs open(KeyLayout layout, String name) {
        return open(layout, name, consul.url().toString(), b -> b);
    }

    private static Member member(String name) {
        return new Member(name, "postgres://" + name + ":5432/postgres", "http://" + name + ":8008/patroni", "running",
                Role.REPLICA, Lsn.of(1), null, null, null, 1, Tags.DEFAULT, false, false, Map.of(),
                DcsVersion.ABSENT);
    }

    private static String key(ConsulDcs d, String rel) {
        return d.keyPrefix() + rel;
    }

    // ------------------------------------------------------------------------------------------------ timings

    @Test
    void ttlBelowTwiceTheMinimumSessionTtlIsRefusedNamingTheRule() {
        KeyLayout l = newLayout();
        ConsulSettings defaults = ConsulSettings.builder("127.0.0.1:8500").build();
        DcsContext ttl15 = new DcsContext(l, "a", Duration.ofSeconds(15), RETRY, SystemHaClock.INSTANCE);
        assertThatThrownBy(() -> ConsulDcs.open(defaults, ttl15))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ttl 15 s is too short for Consul")
                .hasMessageContaining("session TTL of ttl/2")
                .hasMessageContaining("up to twice its TTL")
                .hasMessageContaining("session_ttl_min (10 s)")
                .hasMessageContaining("at least 2 x 10 s = 20 s");

        DcsContext ttl20 = new DcsContext(l, "a", Duration.ofSeconds(20), RETRY, SystemHaClock.INSTANCE);
        try (ConsulDcs d = ConsulDcs.open(defaults, ttl20)) {
            assertThat(d.sessionTtl()).isEqualTo(Duration.ofSeconds(10));
            assertThat(d.leaseGuarantee()).as("the documented lower bound, not 2x").isEqualTo(Duration.ofSeconds(10));
        }

        DcsContext slowRetry = new DcsContext(l, "a", Duration.ofSeconds(20), Duration.ofSeconds(10),
                SystemHaClock.INSTANCE);
        assertThatThrownBy(() -> ConsulDcs.open(defaults, slowRetry))
                .hasMessageContaining("ttl/2 = 10 s")
                .hasMessageContaining("must be longer than retryTimeout (10 s)");
    }

    @Test
    void theSessionIsCreatedAsConfigured() throws Exception {
        KeyLayout l = newLayout();
        ConsulDcs a = open(l, "a");
        assertThat(a.sessionId()).as("no session before the first write").isNull();
        a.read();
        assertThat(a.sessionId()).as("a read needs no session").isNull();
        assertThat(a.acquireLeader()).isTrue();
        ConsulEmulator.SessionInfo s = consul.session(a.sessionId()).orElseThrow();
        assertThat(s.ttl()).isEqualTo("2500ms");
        assertThat(s.behavior()).isEqualTo("delete");
        assertThat(s.lockDelay()).isEqualTo(Duration.ofMillis(1));
        assertThat(s.checks()).as("no serfHealth").isEmpty();
        assertThat(s.name()).isEqualTo(l.scope() + "-a");
        KvInfo leader = consul.kv(key(a, "leader")).orElseThrow();
        assertThat(leader.session()).isEqualTo(a.sessionId());
        assertThat(a.read().leader().epoch()).as("the epoch is the key's CreateIndex").isEqualTo(leader.createIndex());
    }

    @Test
    void acquireAndRenewCountTheLeaseFromARenewalSentAfterTheirStart() throws Exception {
        ConsulDcs a = open(newLayout(), "a");
        a.touchMember(member("a"));
        String s = a.sessionId();
        long sentAt = System.nanoTime();
        assertThat(a.acquireLeader()).isTrue();
        assertThat(consul.session(s).orElseThrow().lastRenewedNanos())
                .as("Consul's timer restarts on a renewal, not on a lock: acquire renews first")
                .isGreaterThanOrEqualTo(sentAt);
        sentAt = System.nanoTime();
        assertThat(a.renewLeader()).isTrue();
        assertThat(consul.session(s).orElseThrow().lastRenewedNanos()).isGreaterThanOrEqualTo(sentAt);
    }

    @Test
    void renewalsKeepTheLockPastTheTtlWhileTheLoopCallsAndPauseWhenOnlyReadsCome() throws Exception {
        KeyLayout l = newLayout();
        ConsulDcs a = open(l, "a");
        ConsulDcs b = open(l, "b");
        assertThat(a.acquireLeader()).isTrue();
        a.touchMember(member("a"));
        // a's HA loop keeps cycling (it publishes its member key every cycle, and never renews here): the
        // background renewals keep the session well past 2 x its TTL.
        await().during(TTL.plus(Duration.ofSeconds(3))).atMost(TTL.plus(Duration.ofSeconds(6)))
                .pollInterval(Duration.ofMillis(250))
                .until(() -> {
                    a.touchMember(member("a"));
                    return b.read().leaderName().orElse("").equals("a");
                });

        long silentFrom = System.nanoTime();
        // Now a's loop hangs; only reads come through a (its REST API, a user's query): no sign of life, so after
        // ttl the renewals pause and Consul ends the session.
        await().atMost(TTL.plus(TTL).plus(SLACK)).pollInterval(Duration.ofMillis(100))
                .until(() -> a.read() != null && b.read().leader() == null);
        assertThat(Duration.ofNanos(System.nanoTime() - silentFrom)).isGreaterThanOrEqualTo(TTL);
        assertThat(b.read().members()).doesNotContainKey("a");
    }

    // ------------------------------------------------------------------------------------------------ lost sessions

    @Test
    void aSessionConsulLostIsReplacedAndTheMemberKeyReacquired() throws Exception {
        KeyLayout l = newLayout();
        ConsulDcs a = open(l, "a");
        assertThat(a.acquireLeader()).isTrue();
        a.touchMember(member("a"));
        String old = a.sessionId();
        assertThat(consul.destroySession(old)).isTrue();

        assertThat(a.renewLeader()).as("renew answered 404: the session and the key are gone").isFalse();
        String fresh = a.sessionId();
        assertThat(fresh).isNotNull().isNotEqualTo(old);
        a.touchMember(member("a"));
        assertThat(consul.kv(key(a, "members/a")).orElseThrow().session()).isEqualTo(fresh);
        assertThat(a.acquireLeader()).isTrue();
        assertThat(consul.kv(key(a, "leader")).orElseThrow().session()).isEqualTo(fresh);
    }

    @Test
    void aRestartedProcessLeavesTheKeysOfItsPredecessorsSessionAlone() throws Exception {
        KeyLayout l = newLayout();
        TcpProxy proxy = track(TcpProxy.start("127.0.0.1", consul.port()));
        ConsulDcs first = open(l, "a", "http://" + proxy.address(), b -> b);
        ConsulDcs other = open(l, "b");
        assertThat(first.acquireLeader()).isTrue();
        first.touchMember(member("a"));
        String oldSession = first.sessionId();
        proxy.reset();
        first.close();
        assertThat(consul.sessionIds()).as("a crash leaves the session running").contains(oldSession);

        // Same name, same session name: a new process cannot tell that session from another live process's
        // (docs/decisions 0011), so it re-binds nothing and registers nothing.
        ConsulDcs again = open(l, "a");
        LeaderLock lock = other.read().leader();
        assertThat(again.renewLeader()).as("our name under the predecessor's session: not re-bound").isFalse();
        assertThat(again.releaseLeader()).isFalse();
        assertThatThrownBy(() -> again.touchMember(member("a"))).isInstanceOf(MemberNameTakenException.class)
                .hasMessageContaining("session " + oldSession).hasMessageContaining("Consul");
        again.deleteMember();
        assertThat(other.read().leader()).isEqualTo(lock);
        assertThat(consul.kv(key(again, "members/a")).orElseThrow().session()).isEqualTo(oldSession);

        // Once the old session ends its keys go, and the name is the new process's.
        assertThat(consul.destroySession(oldSession)).isTrue();
        assertThat(other.read().leader()).isNull();
        again.touchMember(member("a"));
        assertThat(consul.kv(key(again, "members/a")).orElseThrow().session()).isEqualTo(again.sessionId());
        assertThat(again.acquireLeader()).isTrue();
    }

    @Test
    void aKeyWithOurNameHeldByAForeignSessionIsNotTaken() throws Exception {
        KeyLayout l = newLayout();
        ConsulDcs a = open(l, "a");
        ConsulDcs impostor = open(l, "b");
        assertThat(impostor.acquireLeader()).isTrue();
        // Someone else's session holding a leader key that says "a" (say, a misconfigured twin writing by hand).
        io.pgha.dcs.consul.emulator.RawConsul raw = new io.pgha.dcs.consul.emulator.RawConsul(consul.url(), null);
        assertThat(raw.put("/v1/kv/" + key(a, "leader") + "?acquire=" + impostor.sessionId(), "a").bool()).isTrue();
        assertThat(a.renewLeader()).isFalse();
        assertThat(a.acquireLeader()).isFalse();
        assertThat(consul.kv(key(a, "leader")).orElseThrow().session()).isEqualTo(impostor.sessionId());
    }

    @Test
    void aGracefulAgentLeaveEndsTheLeaseAndTheMemberRecovers() throws Exception {
        ConsulEmulator own = track(ConsulEmulator.builder().sessionTtlMin(Duration.ofSeconds(1)).start());
        KeyLayout l = newLayout();
        ConsulDcs a = open(l, "a", own.url().toString(), b -> b);
        ConsulDcs b = open(l, "b", own.url().toString(), x -> x);
        assertThat(a.acquireLeader()).isTrue();
        a.touchMember(member("a"));
        // patroni#2070: a clean agent shutdown invalidates every session created through it, checks or not.
        assertThat(own.agentLeave()).isEqualTo(1);
        assertThat(b.read().leader()).isNull();
        assertThat(a.renewLeader()).isFalse();
        a.touchMember(member("a"));
        assertThat(b.read().members()).containsKey("a");
    }

    @Test
    void aCriticalSerfHealthCheckDoesNotEndTheLease() throws Exception {
        ConsulEmulator own = track(ConsulEmulator.builder().sessionTtlMin(Duration.ofSeconds(1)).start());
        ConsulDcs a = open(newLayout(), "a", own.url().toString(), b -> b);
        assertThat(a.acquireLeader()).isTrue();
        assertThat(own.serfHealthCritical()).as("our session does not depend on serfHealth").isZero();
        assertThat(a.renewLeader()).isTrue();
    }

    // ------------------------------------------------------------------------------------------------ watch

    @Test
    void theWatchWakesOnLeaderChangesButNotOnOtherKeys() throws Exception {
        KeyLayout l = newLayout();
        ConsulDcs a = open(l, "a");
        ConsulDcs b = open(l, "b");
        assertThat(a.acquireLeader()).isTrue();
        AtomicInteger calls = new AtomicInteger();
        b.watchLeader(calls::incrementAndGet);

        assertThat(a.writeConfig(GlobalConfig.of(Map.of("ttl", 30)), DcsVersion.ABSENT)).isTrue();
        a.touchMember(member("a"));
        assertThat(a.renewLeader()).isTrue();
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3)).until(() -> calls.get() == 0);

        assertThat(a.releaseLeader()).isTrue();
        await().atMost(Duration.ofSeconds(5)).until(() -> calls.get() >= 1);
        int afterRelease = calls.get();
        assertThat(b.acquireLeader()).isTrue();
        await().atMost(Duration.ofSeconds(5)).until(() -> calls.get() > afterRelease);
    }

    // ------------------------------------------------------------------------------------------------ access

    @Test
    void theAclTokenIsSentAndItsAbsenceIsAnError() throws Exception {
        ConsulEmulator secured = track(ConsulEmulator.builder().sessionTtlMin(Duration.ofSeconds(1))
                .aclToken("pgha-token").start());
        KeyLayout l = newLayout();
        String url = secured.url().toString();
        ConsulDcs a = open(l, "a", url, b -> b.token("pgha-token"));
        assertThat(a.acquireLeader()).isTrue();
        a.touchMember(member("a"));
        assertThat(a.read().leaderName()).contains("a");
        assertThat(a.releaseLeader()).isTrue();

        ConsulDcs none = open(l, "b", url, b -> b);
        assertThatThrownBy(none::read).isInstanceOf(DcsUnavailableException.class)
                .hasMessageContaining("ACL token may not read");
        assertThatThrownBy(none::acquireLeader).isInstanceOf(DcsUnavailableException.class)
                .hasMessageContaining("403").hasMessageContaining("check the ACL token (none is set)");
        ConsulDcs wrong = open(l, "c", url, b -> b.token("guess"));
        assertThatThrownBy(wrong::read).isInstanceOf(DcsUnavailableException.class)
                .hasMessageContaining("ACL not found");
    }

    @Test
    void httpsWorksWithACustomTrustStoreAndFailsWithoutIt(@TempDir Path dir) throws Exception {
        Path server = dir.resolve("server.p12");
        Path trust = dir.resolve("trust.p12");
        keytool("-genkeypair", "-alias", "consul", "-keyalg", "EC", "-groupname", "secp256r1",
                "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1", "-validity", "2",
                "-keystore", server.toString(), "-storetype", "PKCS12", "-storepass", "changeit",
                "-keypass", "changeit");
        keytool("-exportcert", "-alias", "consul", "-keystore", server.toString(), "-storepass", "changeit",
                "-file", dir.resolve("server.crt").toString());
        keytool("-importcert", "-noprompt", "-alias", "consul", "-file", dir.resolve("server.crt").toString(),
                "-keystore", trust.toString(), "-storetype", "PKCS12", "-storepass", "changeit");

        ConsulEmulator tls = track(ConsulEmulator.builder().sessionTtlMin(Duration.ofSeconds(1))
                .https(serverContext(server)).start());
        assertThat(tls.url().getScheme()).isEqualTo("https");
        KeyLayout l = newLayout();
        ConsulDcs a = open(l, "a", tls.url().toString(), b -> b.trustStore(trust, "changeit".toCharArray()));
        assertThat(a.acquireLeader()).isTrue();
        assertThat(a.read().leaderName()).contains("a");

        ConsulDcs untrusting = open(l, "b", tls.url().toString(), b -> b);
        assertThatThrownBy(untrusting::read).isInstanceOf(DcsUnavailableException.class)
                .hasMessageContaining("SSLHandshakeException");
    }

    @Test
    void theNextAgentIsTriedWhenOneRefusesConnections() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        KeyLayout l = newLayout();
        ConsulSettings s = ConsulSettings.builder(List.of("http://127.0.0.1:" + closedPort, consul.url().toString()))
                .sessionTtlMin(Duration.ofSeconds(1)).build();
        ConsulDcs a = track(ConsulDcs.open(s, new DcsContext(l, "a", TTL, RETRY, SystemHaClock.INSTANCE)));
        assertThat(a.acquireLeader()).isTrue();
        assertThat(a.read().leaderName()).contains("a");
    }

    @Test
    void theDatacenterIsSentWithEveryRequestAndDefaultConsistencyReads() throws Exception {
        KeyLayout l = newLayout();
        ConsulDcs elsewhere = open(l, "a", consul.url().toString(), b -> b.datacenter("dc9"));
        assertThatThrownBy(elsewhere::read).isInstanceOf(DcsUnavailableException.class)
                .hasMessageContaining("No path to datacenter");
        ConsulDcs here = open(l, "b", consul.url().toString(),
                b -> b.datacenter("dc1").consistency(ConsulConsistency.DEFAULT));
        assertThat(here.acquireLeader()).isTrue();
        assertThat(here.read().leaderName()).contains("b");
    }

    @Test
    void anUnreachableAgentIsUnavailableWithinTheRetryTimeout() throws Exception {
        TcpProxy proxy = track(TcpProxy.start("127.0.0.1", consul.port()));
        ConsulDcs a = open(newLayout(), "a", "http://" + proxy.address(), b -> b);
        assertThat(a.acquireLeader()).isTrue();
        proxy.blackhole();
        long start = System.nanoTime();
        assertThatThrownBy(a::renewLeader).isInstanceOf(DcsUnavailableException.class)
                .hasMessageContaining("in time; the outcome is unknown");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(RETRY.plus(Duration.ofSeconds(1)));
        proxy.heal();
        await().atMost(Duration.ofSeconds(10)).ignoreExceptionsInstanceOf(DcsUnavailableException.class)
                .until(a::renewLeader);
    }

    @Test
    void aClosedMemberRefusesCallsAndItsKeysAreGone() throws Exception {
        KeyLayout l = newLayout();
        ConsulDcs a = open(l, "a");
        ConsulDcs b = open(l, "b");
        assertThat(a.acquireLeader()).isTrue();
        String s = a.sessionId();
        a.close();
        assertThat(consul.sessionIds()).doesNotContain(s);
        assertThat(b.read().leader()).isNull();
        assertThatThrownBy(a::read).isInstanceOf(DcsUnavailableException.class).hasMessageContaining("closed");
        a.close();
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static void keytool(String... args) throws IOException, InterruptedException {
        List<String> cmd = new java.util.ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("keytool finished").isTrue();
        assertThat(p.exitValue()).as("keytool " + String.join(" ", args) + ": " + out).isZero();
    }

    private static SSLContext serverContext(Path keyStore) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keyStore)) {
            ks.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "changeit".toCharArray());
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        return ctx;
    }
}
