package io.pgha.core.internal.rest;

import static io.pgha.core.internal.rest.RestFixture.M3_POSITION;
import static io.pgha.core.internal.rest.RestFixture.OPTIME;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.RestSettings;
import io.pgha.core.config.Tags;
import io.pgha.core.internal.ha.FailsafePingVerdict;
import io.pgha.core.internal.ha.FailsafeRound;
import io.pgha.core.internal.ha.PeerStatus;
import io.pgha.core.testkit.TcpProxy;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link HttpPeerClient} against real {@link RestApi} instances on loopback, with proxies for the faults. */
class HttpPeerClientTest {

    private final RestFixture fx = new RestFixture().standard();
    private final List<AutoCloseable> closing = new ArrayList<>();
    private final HttpPeerClient client = new HttpPeerClient("demo", "m1", RestFixture.CREDENTIALS, null);

    @AfterEach
    void close() throws Exception {
        client.close();
        for (AutoCloseable c : closing) {
            c.close();
        }
        fx.close();
    }

    private RestApi serve(NodeStatus s, RestSettings.Builder b) {
        return fx.serve(fx.backend(s), b);
    }

    private RestApi serve(TestBackend backend) {
        return fx.serve(backend, RestFixture.rest());
    }

    /** The member as others see it in the DCS, with its api_url pointing at {@code port}. */
    private static Member at(String name, int port) {
        Member m = RestFixture.member(name, Role.REPLICA, null, Tags.DEFAULT);
        return new Member(name, m.connUrl(), "http://127.0.0.1:" + port + "/patroni", m.state(), m.role(), null,
                null, null, null, 0, Tags.DEFAULT, false, false, Map.of(), -1);
    }

    private TcpProxy proxyTo(RestApi api) throws IOException {
        TcpProxy p = TcpProxy.start("127.0.0.1", api.address().getPort());
        closing.add(p);
        return p;
    }

    @Test
    void fetchesEveryMembersPositionAsTheRaceNeedsIt() {
        HaSettings tagged = HaSettings.builder("demo", "m3")
                .tags(Tags.DEFAULT.withNofailover(true).withFailoverPriority(3)).build();
        RestApi m1 = serve(fx.primary(), RestFixture.rest());
        RestApi m2 = serve(fx.replica("m2", OPTIME), RestFixture.rest());
        RestApi m3 = serve(Snap.of(fx.replica("m3", M3_POSITION)).settings(tagged).build(), RestFixture.rest());

        Map<String, PeerStatus> s = client.fetchStatus(List.of(at("m1", m1.address().getPort()),
                at("m2", m2.address().getPort()), at("m3", m3.address().getPort())), Duration.ofSeconds(5));

        assertThat(s).containsOnlyKeys("m1", "m2", "m3");
        assertThat(s.get("m1")).isEqualTo(new PeerStatus("m1", true, false, OPTIME, 2, false, 1));
        assertThat(s.get("m2")).isEqualTo(new PeerStatus("m2", true, true, OPTIME, 2, false, 1));
        assertThat(s.get("m3")).isEqualTo(new PeerStatus("m3", true, true, M3_POSITION, 2, true, 3));
    }

    @Test
    void aStoppedMemberAnswersAsNotRunningWithoutAPosition() {
        RestApi m2 = serve(Snap.of(fx.replica("m2", OPTIME)).pg(RestFixture.stoppedPg(Role.REPLICA)).build(),
                RestFixture.rest());

        PeerStatus p = client.fetchStatus(List.of(at("m2", m2.address().getPort())), Duration.ofSeconds(5)).get("m2");

        assertThat(p.running()).isFalse();
        assertThat(p.walPosition()).isNull();
    }

    @Test
    void blackholedPeersCostOneTimeoutTogetherAndAreAbsent() throws IOException {
        RestApi m1 = serve(fx.primary(), RestFixture.rest());
        RestApi m2 = serve(fx.replica("m2", OPTIME), RestFixture.rest());
        RestApi m3 = serve(fx.replica("m3", M3_POSITION), RestFixture.rest());
        RestApi m4 = serve(fx.replica("m3", M3_POSITION), RestFixture.rest());
        TcpProxy p2 = proxyTo(m2);
        TcpProxy p3 = proxyTo(m3);
        TcpProxy p4 = proxyTo(m4);
        List<Member> all = List.of(at("m1", m1.address().getPort()), at("m2", p2.port()), at("m3", p3.port()),
                at("m4", p4.port()));
        assertThat(client.fetchStatus(all, Duration.ofSeconds(5))).as("all reachable first").hasSize(4);

        p2.blackhole();
        p3.blackhole();
        p4.blackhole();
        Duration timeout = Duration.ofMillis(800);
        long start = System.nanoTime();
        Map<String, PeerStatus> s = client.fetchStatus(all, timeout);
        Duration took = Duration.ofNanos(System.nanoTime() - start);

        assertThat(s).containsOnlyKeys("m1");
        assertThat(took).as("one overall timeout, not one per peer").isBetween(timeout.minusMillis(50),
                timeout.multipliedBy(2));

        p2.heal();
        assertThat(client.fetchStatus(all.subList(0, 2), Duration.ofSeconds(5))).containsOnlyKeys("m1", "m2");
    }

    @Test
    void membersWithoutAUsableApiOrAStatusAreAbsent() {
        RestApi m1 = serve(fx.primary(), RestFixture.rest());
        Member noApi = new Member("m5", null, null, "running", Role.REPLICA, null, null, null, null, 0,
                Tags.DEFAULT, false, false, Map.of(), -1);
        Member bad = new Member("m6", null, "not a url at all", "running", Role.REPLICA, null, null, null, null,
                0, Tags.DEFAULT, false, false, Map.of(), -1);
        Member wrongPath = new Member("m7", null, "http://127.0.0.1:" + m1.address().getPort() + "/nope", "running",
                Role.REPLICA, null, null, null, null, 0, Tags.DEFAULT, false, false, Map.of(), -1);
        Member refused = at("m8", closedPort());

        Map<String, PeerStatus> s = client.fetchStatus(List.of(noApi, bad, wrongPath, refused,
                at("m1", m1.address().getPort())), Duration.ofSeconds(5));

        assertThat(s).containsOnlyKeys("m1");
    }

    @Test
    void failsafeCountsOnlyAnExplicit200() throws IOException {
        HaSettings fs2 = HaSettings.builder("demo", "m2").failsafeMode(true).build();
        HaSettings fs3 = HaSettings.builder("demo", "m3").failsafeMode(true).build();
        TestBackend replica = fx.backend(Snap.of(fx.replica("m2", OPTIME)).settings(fs2).build());
        TestBackend otherPrimary = fx.backend(Snap.of(fx.primary()).settings(fs3).build());
        TestBackend failsafeOff = fx.backend(fx.replica("m3", M3_POSITION));
        TestBackend silent = fx.backend(Snap.of(fx.replica("m3", M3_POSITION)).settings(fs3).build());
        TestBackend unconvinced = fx.backend(Snap.of(fx.replica("m3", M3_POSITION)).settings(fs3).build());
        unconvinced.failsafeVerdict(sender -> FailsafePingVerdict.refused("m3 has not seen a leader yet"));
        RestApi a2 = serve(replica);
        RestApi a3 = serve(otherPrimary);
        RestApi a4 = serve(failsafeOff);
        RestApi a6 = serve(unconvinced);
        TcpProxy blackholed = proxyTo(serve(silent));
        blackholed.blackhole();
        Member self = RestFixture.member("m1", Role.PRIMARY, OPTIME, Tags.DEFAULT);
        Member noApi = new Member("m9", null, null, "running", Role.REPLICA, null, null, null, null, 0,
                Tags.DEFAULT, false, false, Map.of(), -1);

        FailsafeRound round = client.confirmFailsafe(List.of(at("m2", a2.address().getPort()),
                at("m3", a3.address().getPort()), at("m4", a4.address().getPort()), at("m5", blackholed.port()),
                at("m6", a6.address().getPort()), noApi), self, 12345L, Duration.ofMillis(800));

        assertThat(round.sentAtNanos()).isEqualTo(12345L);
        assertThat(round.asked()).containsExactly("m2", "m3", "m4", "m5", "m6", "m9");
        assertThat(round.refused()).containsExactly("m3", "m4", "m5", "m6", "m9");
        assertThat(round.allConfirmed()).isFalse();
        assertThat(replica.failsafePings).containsExactly("m1");
        assertThat(otherPrimary.failsafePings).isEmpty();
        assertThat(silent.failsafePings).as("nothing reached it").isEmpty();

        FailsafeRound ok = client.confirmFailsafe(List.of(at("m2", a2.address().getPort())), self, 1L,
                Duration.ofSeconds(5));
        assertThat(ok.allConfirmed()).isTrue();
        assertThat(ok.asked()).containsExactly("m2");
    }

    @Test
    void peerRequestsCarryTheConfiguredCredentials() {
        Credentials creds = new Credentials("peer", "pw");
        HaSettings fs2 = HaSettings.builder("demo", "m2").failsafeMode(true).build();
        TestBackend replica = fx.backend(Snap.of(fx.replica("m2", OPTIME)).settings(fs2).build());
        RestApi a2 = fx.serve(replica, RestFixture.rest().credentials(creds));
        Member self = RestFixture.member("m1", Role.PRIMARY, OPTIME, Tags.DEFAULT);
        List<Member> peers = List.of(at("m2", a2.address().getPort()));

        assertThat(client.confirmFailsafe(peers, self, 0L, Duration.ofSeconds(5)).refused())
                .as("other credentials").containsExactly("m2");
        try (HttpPeerClient anonymous = new HttpPeerClient("demo", "m1", null, null)) {
            assertThat(anonymous.confirmFailsafe(peers, self, 0L, Duration.ofSeconds(5)).refused())
                    .containsExactly("m2");
            assertThat(anonymous.fetchStatus(peers, Duration.ofSeconds(5))).as("GET stays open").containsKey("m2");
        }
        assertThat(replica.failsafePings).isEmpty();

        try (HttpPeerClient withCreds = new HttpPeerClient("demo", "m1", creds, null)) {
            assertThat(withCreds.confirmFailsafe(peers, self, 0L, Duration.ofSeconds(5)).allConfirmed()).isTrue();
            assertThat(withCreds.toString()).doesNotContain("pw");
        }
        assertThat(replica.failsafePings).containsExactly("m1");
    }

    @Test
    void callThreadsLiveOnlyWhileCallsRunAndCloseEndsThem() throws Exception {
        RestApi m1 = serve(fx.primary(), RestFixture.rest());
        RestApi m2 = serve(fx.replica("m2", OPTIME), RestFixture.rest());
        List<Member> peers = List.of(at("m1", m1.address().getPort()), at("m2", m2.address().getPort()));
        try (HttpPeerClient c = new HttpPeerClient("demo", "idle", null, null, Duration.ofMillis(200))) {
            assertThat(c.callThreads()).as("none before the first call").isZero();
            assertThat(peerThreads("idle")).isEmpty();

            assertThat(c.fetchStatus(peers, Duration.ofSeconds(5))).containsOnlyKeys("m1", "m2");
            assertThat(peerThreads("idle")).as("one thread per peer asked at once, named for the member")
                    .isNotEmpty().allMatch(n -> n.matches("pgha-peers-idle-\\d+"));

            long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (c.callThreads() > 0 && System.nanoTime() < until) {
                Thread.sleep(20);
            }
            assertThat(c.callThreads()).as("idle threads end").isZero();
            assertThat(c.fetchStatus(peers, Duration.ofSeconds(5))).as("and come back for the next round")
                    .containsOnlyKeys("m1", "m2");
        }
        long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (!peerThreads("idle").isEmpty() && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        assertThat(peerThreads("idle")).as("closed: no thread left").isEmpty();
    }

    @Test
    void closingEndsACallInFlightAndLaterCallsAreNotSent() throws Exception {
        RestApi m2 = serve(fx.replica("m2", OPTIME), RestFixture.rest());
        TcpProxy p2 = proxyTo(m2);
        p2.blackhole();
        List<Member> peers = List.of(at("m2", p2.port()));
        HttpPeerClient c = new HttpPeerClient("demo", "m1", null, null);
        java.util.concurrent.CompletableFuture<Map<String, PeerStatus>> round = java.util.concurrent.CompletableFuture
                .supplyAsync(() -> c.fetchStatus(peers, Duration.ofSeconds(30)));
        Thread.sleep(300);
        c.close();
        assertThat(round.get(5, java.util.concurrent.TimeUnit.SECONDS)).isEmpty();
        p2.heal();
        assertThat(c.fetchStatus(List.of(at("m2", m2.address().getPort())), Duration.ofSeconds(5))).isEmpty();
    }

    @Test
    void aPeersConnectionIsKeptForItsNextCallWhateverThePath() throws IOException {
        HaSettings fs2 = HaSettings.builder("demo", "m2").failsafeMode(true).build();
        TcpProxy p2 = proxyTo(serve(fx.backend(Snap.of(fx.replica("m2", OPTIME)).settings(fs2).build())));
        List<Member> peers = List.of(at("m2", p2.port()));
        Member self = RestFixture.member("m1", Role.PRIMARY, OPTIME, Tags.DEFAULT);

        assertThat(client.fetchStatus(peers, Duration.ofSeconds(5))).containsOnlyKeys("m2");
        assertThat(client.confirmFailsafe(peers, self, 0L, Duration.ofSeconds(5)).allConfirmed()).isTrue();
        assertThat(client.fetchStatus(peers, Duration.ofSeconds(5))).containsOnlyKeys("m2");

        assertThat(p2.acceptedConnections()).as("GET /patroni and POST /failsafe on one kept connection")
                .isEqualTo(1);
    }

    private static List<String> peerThreads(String member) {
        return Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
                .filter(n -> n.startsWith("pgha-peers-" + member + "-")).toList();
    }

    /** A port nothing listens on (bound, then released). */
    private static int closedPort() {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
