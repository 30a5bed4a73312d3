package io.pgha.core.internal.rest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.RestSettings;
import io.pgha.core.internal.admin.ClusterAdmin;
import io.pgha.core.internal.ha.HaLoop;
import io.pgha.core.internal.ha.HaMetrics;
import io.pgha.core.internal.ha.MemberEndpoints;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DivergenceCheck;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.StopMode;
import io.pgha.core.spi.Upstream;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.FakePostgresNetwork;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.time.SystemHaClock;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Three members wired as in production — {@link HaLoop} on the real clock, {@link RestApi} and {@link HttpPeerClient}
 * on loopback — over an in-memory DCS and fake PostgreSQL instances. Every member-to-member question (leader race,
 * switchover candidate check, failsafe) and every operator request goes over real HTTP.
 */
class RestLiveClusterTest {

    private static final String SCOPE = "live";
    private static final KeyLayout LAYOUT = KeyLayout.of(SCOPE);
    private static final Duration TTL = Duration.ofSeconds(6);
    private static final Duration LOOP_WAIT = Duration.ofMillis(500);
    private static final Duration RETRY = Duration.ofSeconds(1);
    private static final Duration CONVERGE = Duration.ofSeconds(40);
    private static final Credentials CREDENTIALS = new Credentials("live", "live-secret");
    private static final FakePostgres.Timings QUICK = new FakePostgres.Timings(Duration.ofMillis(50),
            Duration.ofMillis(100), Duration.ofMillis(50), Duration.ofMillis(50), Duration.ofMillis(100),
            Duration.ofMillis(150), Duration.ofMillis(100), Duration.ofSeconds(1));

    /**
     * The fakes were written for the simulation, where one thread runs at a time; under real threads their locks
     * can be taken in opposite orders (a probe locks the server then the network, a tick the reverse). One lock
     * around every call into them restores the one-at-a-time world.
     */
    private final Object world = new Object();
    private final InMemoryDcs store = new InMemoryDcs(LAYOUT, SystemHaClock.INSTANCE, TTL);
    private final FakePostgresNetwork net = new FakePostgresNetwork(SystemHaClock.INSTANCE, 7);
    private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "live-wal-ticker");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, Node> nodes = new LinkedHashMap<>();

    /** One member: its PostgreSQL, DCS session, HA loop, REST API and peer client. */
    private final class Node {
        final String name;
        final FakePostgres pg;
        final Postgres serialized;
        final InMemoryDcs.Session dcs;
        final RestApi api;
        final HttpPeerClient peers;
        final HaLoop loop;
        final HaMetrics metrics = new HaMetrics();
        final Http http;
        boolean stopped;

        Node(String name, int index, boolean failsafe) throws IOException {
            this.name = name;
            HaSettings s = HaSettings.builder(SCOPE, name).ttl(TTL).loopWait(LOOP_WAIT).retryTimeout(RETRY)
                    .failsafeMode(failsafe).build();
            pg = net.create(name, new HostPort("10.0.0." + index, 5432), QUICK, false);
            serialized = new Serialized(pg);
            dcs = store.open(new DcsContext(LAYOUT, name, TTL, RETRY, SystemHaClock.INSTANCE));
            api = RestApi.bind(RestSettings.builder().listen("127.0.0.1", 0).credentials(CREDENTIALS)
                    .switchoverPoll(Duration.ofMillis(50)).build());
            peers = new HttpPeerClient(SCOPE, name, CREDENTIALS, null);
            loop = new HaLoop(s, dcs, serialized, peers, SystemHaClock.INSTANCE,
                    new MemberEndpoints("postgres://10.0.0." + index + ":5432/postgres", api.apiUrl("127.0.0.1")),
                    metrics);
            RestSettings rs = api.settings();
            api.start(RestBackend.of(loop, new ClusterAdmin(SCOPE + "/" + name + " - ", dcs, loop::liveStatus, peers, s,
                    loop::wakeup, SystemHaClock.INSTANCE, rs.switchoverPoll(), rs.switchoverTimeout()), metrics));
            http = Http.to(api);
        }

        int status(String path) {
            return http.get(path).status();
        }

        /** The process dies: loop, API and peer client gone, PostgreSQL killed, the DCS lease left to expire. */
        void kill() {
            stopped = true;
            loop.close();
            api.close();
            peers.close();
            dcs.abandon();
            synchronized (world) {
                pg.crash();
            }
        }

        void close() {
            if (!stopped) {
                stopped = true;
                loop.close();
                api.close();
                peers.close();
                dcs.close();
            }
        }
    }

    private void startCluster(boolean failsafe) throws IOException {
        for (int i = 1; i <= 3; i++) {
            nodes.put("m" + i, new Node("m" + i, i, failsafe));
        }
        ticker.scheduleAtFixedRate(() -> {
            synchronized (world) {
                net.tick();
            }
        }, 20, 20, TimeUnit.MILLISECONDS);
        nodes.values().forEach(n -> n.loop.start());
        await("one primary and two streaming replicas, seen over HTTP").atMost(CONVERGE)
                .pollInterval(Duration.ofMillis(100)).until(this::healthy);
    }

    /** A healthy cluster in failsafe mode whose leader has published the failsafe member list; its primary. */
    private Node startFailsafeCluster() throws IOException {
        startCluster(true);
        Node leader = primary();
        await("the leader published the failsafe member list").atMost(CONVERGE)
                .until(() -> store.peek().failsafe() != null && store.peek().failsafe().size() == 3);
        return leader;
    }

    @AfterEach
    void close() {
        nodes.values().forEach(Node::close);
        ticker.shutdownNow();
        store.outage(false);
    }

    /** Exactly one {@code /primary}, every other live member a ready {@code /replica}. */
    private boolean healthy() {
        List<Node> live = nodes.values().stream().filter(n -> !n.stopped).toList();
        long primaries = live.stream().filter(n -> n.status("/primary") == 200).count();
        long replicas = live.stream().filter(n -> n.status("/replica") == 200 && n.status("/readiness") == 200)
                .count();
        return primaries == 1 && replicas == live.size() - 1;
    }

    private Node primary() {
        List<Node> p = nodes.values().stream().filter(n -> !n.stopped && n.status("/primary") == 200).toList();
        assertThat(p).hasSize(1);
        return p.get(0);
    }

    private Node anyReplicaBut(Node primary) {
        return nodes.values().stream().filter(n -> n != primary && !n.stopped).findFirst().orElseThrow();
    }

    @Test
    void switchoverRoundTripOverHttp() throws IOException {
        startCluster(false);
        Node old = primary();
        Node candidate = anyReplicaBut(old);

        Http.Resp r = old.http.post("/switchover", "{\"leader\":\"" + old.name + "\",\"candidate\":\""
                + candidate.name + "\"}");

        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("Successfully switched over to \"" + candidate.name + "\"");
        assertThat(store.leaderHeldBy(candidate.name)).isTrue();
        await("the candidate serves writes, the old primary rejoins as a replica").atMost(CONVERGE)
                .pollInterval(Duration.ofMillis(100))
                .until(() -> candidate.status("/primary") == 200 && healthy());
        assertThat(old.status("/primary")).isEqualTo(503);
        synchronized (world) {
            assertThat(candidate.pg.isWritablePrimary()).isTrue();
            assertThat(old.pg.isWritablePrimary()).isFalse();
        }

        JsonNode cluster = old.http.get("/cluster").json();
        assertThat(cluster.get("members").get(0).get("name").asText()).isEqualTo(candidate.name);
        assertThat(cluster.get("members").get(0).get("role").asText()).isEqualTo("leader");
        JsonNode history = candidate.http.get("/history").json();
        assertThat(history.get(history.size() - 1).get(4).asText()).isEqualTo(candidate.name);
        assertThat(store.peek().failover().isEmpty()).as("the request was cleared").isTrue();
    }

    @Test
    void metricsFollowTheLiveLoops() throws IOException {
        startCluster(false);
        Node leader = primary();
        Node replica = anyReplicaBut(leader);
        await("the leader renewed its lease at least once").atMost(CONVERGE).until(() -> PrometheusTextParser
                .parse(leader.http.get("/metrics").body()).get("pgha_ha_decisions").toString()
                .contains("renew_leader"));

        Map<String, JsonNode> l = PrometheusTextParser.parse(leader.http.get("/metrics").body());
        assertThat(l.get("patroni_primary").get("samples").get(0).get("value").asDouble()).isEqualTo(1);
        assertThat(l.get("pgha_ha_cycles").get("samples").get(0).get("value").asDouble()).isPositive();
        assertThat(l.get("pgha_ha_cycle_duration_seconds").get("samples")).hasSize(1);
        assertThat(l.get("pgha_lease_remaining_seconds").get("samples").get(0).get("value").asDouble())
                .isPositive().isLessThanOrEqualTo(TTL.toSeconds());
        assertThat(l.get("pgha_fences").get("samples").get(0).get("value").asDouble()).isZero();

        Map<String, JsonNode> r = PrometheusTextParser.parse(replica.http.get("/metrics").body());
        assertThat(r.get("patroni_replica").get("samples").get(0).get("value").asDouble()).isEqualTo(1);
        assertThat(r.get("patroni_primary").get("samples").get(0).get("value").asDouble()).isZero();
        assertThat(r.get("pgha_lease_remaining_seconds").get("samples").get(0).get("value").asDouble())
                .isEqualTo(-1);
    }

    @Test
    void switchoverToAMemberThatCannotTakeOverIsRefusedUpFront() throws IOException {
        startCluster(false);
        Node leader = primary();
        Node replica = anyReplicaBut(leader);
        replica.kill();
        await().atMost(CONVERGE).until(() -> !store.peek().members().containsKey(replica.name));

        Http.Resp gone = leader.http.post("/switchover", "{\"leader\":\"" + leader.name + "\",\"candidate\":\""
                + replica.name + "\"}");
        assertThat(gone.status()).isEqualTo(412);
        assertThat(gone.body()).contains("candidate does not exists");
        assertThat(store.leaderHeldBy(leader.name)).isTrue();
    }

    @Test
    void deadPrimaryIsReplacedThroughARaceOverHttp() throws IOException {
        startCluster(false);
        Node old = primary();

        old.kill();

        await("a replica wins the race after the lease expires").atMost(CONVERGE)
                .pollInterval(Duration.ofMillis(100)).until(this::healthy);
        Node now = primary();
        assertThat(now).isNotSameAs(old);
        assertThat(store.leaderHeldBy(now.name)).isTrue();
        assertThat(now.http.get("/patroni").json().get("timeline").asInt()).isEqualTo(2);
    }

    @Test
    void failsafeKeepsThePrimaryThroughADcsOutage() throws IOException {
        Node leader = startFailsafeCluster();

        store.outage(true);

        await("every replica confirmed the primary over POST /failsafe").atMost(CONVERGE)
                .pollInterval(Duration.ofMillis(100))
                .until(() -> leader.http.get("/patroni").json().path("failsafe_mode_is_active").asBoolean());
        Node replica = anyReplicaBut(leader);
        assertThat(replica.http.get("/patroni").json().path("failsafe_mode_is_active").asBoolean()).isTrue();
        // Longer than a lease: without the confirmations the primary would have demoted by now.
        await("the primary keeps its writes through more than a ttl without the DCS").during(TTL.plusSeconds(2))
                .atMost(TTL.plusSeconds(10)).pollInterval(Duration.ofMillis(200))
                .until(() -> leader.status("/primary") == 200);

        store.outage(false);
        await("back to normal with the same leader").atMost(CONVERGE).until(() -> healthy()
                && !leader.http.get("/patroni").json().path("failsafe_mode_is_active").asBoolean());
        assertThat(store.leaderHeldBy(leader.name)).isTrue();
    }

    @Test
    void failsafePingsFromAMemberThatDoesNotHoldTheLockDoNotHoldBackTheRace() throws Exception {
        Node old = startFailsafeCluster();
        List<Node> replicas = nodes.values().stream().filter(n -> n != old).toList();
        Node a = replicas.get(0);
        Node b = replicas.get(1);

        old.kill();
        // Each replica is told, over and over and with valid credentials, that the other one still runs as primary.
        // Were that believed, neither would race for the lock the dead primary leaves behind.
        Map<String, Set<Integer>> answers = Map.of(a.name, ConcurrentHashMap.newKeySet(), b.name,
                ConcurrentHashMap.newKeySet());
        ScheduledExecutorService spoofer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "live-failsafe-spoofer");
            t.setDaemon(true);
            return t;
        });
        try {
            spoofer.scheduleWithFixedDelay(() -> {
                // Once one of them holds the lock, a ping in its name is no longer spoofed: stop counting then.
                boolean spoofed = !store.leaderHeldBy(a.name) && !store.leaderHeldBy(b.name);
                int toA = a.http.post("/failsafe", "{\"name\":\"" + b.name + "\"}").status();
                int toB = b.http.post("/failsafe", "{\"name\":\"" + a.name + "\"}").status();
                if (spoofed && !store.leaderHeldBy(a.name) && !store.leaderHeldBy(b.name)) {
                    answers.get(a.name).add(toA);
                    answers.get(b.name).add(toB);
                }
            }, 0, 200, TimeUnit.MILLISECONDS);

            await("a replica wins the race despite the pings").atMost(CONVERGE).pollInterval(Duration.ofMillis(100))
                    .until(this::healthy);
            assertThat(primary()).isIn(a, b);
            // While neither holds the lock: 409 (the sender never held it), or 500 from one that runs as primary
            // itself; never 200.
            assertThat(answers.get(a.name)).contains(409).isSubsetOf(409, 500);
            assertThat(answers.get(b.name)).contains(409).isSubsetOf(409, 500);
        } finally {
            spoofer.shutdownNow();
            assertThat(spoofer.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    /** Every call into the fake under the world lock (see the field comment). */
    private final class Serialized implements Postgres {
        private final FakePostgres pg;

        Serialized(FakePostgres pg) {
            this.pg = pg;
        }

        @Override
        public PgState probe() {
            synchronized (world) {
                return pg.probe();
            }
        }

        @Override
        public void bootstrap() throws PostgresException {
            synchronized (world) {
                pg.bootstrap();
            }
        }

        @Override
        public void createReplica(Upstream source) throws PostgresException {
            synchronized (world) {
                pg.createReplica(source);
            }
        }

        @Override
        public void startPrimary() throws PostgresException {
            synchronized (world) {
                pg.startPrimary();
            }
        }

        @Override
        public void startReplica(Upstream upstream) throws PostgresException {
            synchronized (world) {
                pg.startReplica(upstream);
            }
        }

        @Override
        public void stop(StopMode mode) throws PostgresException {
            synchronized (world) {
                pg.stop(mode);
            }
        }

        @Override
        public void promote(int minTimeline) throws PostgresException {
            synchronized (world) {
                pg.promote(minTimeline);
            }
        }

        @Override
        public void follow(Upstream upstream) throws PostgresException {
            synchronized (world) {
                pg.follow(upstream);
            }
        }

        @Override
        public DivergenceCheck checkDivergence(Upstream leader) {
            synchronized (world) {
                return pg.checkDivergence(leader);
            }
        }

        @Override
        public void rewind(Upstream source) throws PostgresException {
            synchronized (world) {
                pg.rewind(source);
            }
        }

        @Override
        public void reclone(Upstream source) throws PostgresException {
            synchronized (world) {
                pg.reclone(source);
            }
        }

        @Override
        public void setSynchronousStandbyNames(String value) throws PostgresException {
            synchronized (world) {
                pg.setSynchronousStandbyNames(value);
            }
        }

        @Override
        public void checkpoint() throws PostgresException {
            synchronized (world) {
                pg.checkpoint();
            }
        }

        @Override
        public List<TimelineHistory.Entry> timelineHistory() throws PostgresException {
            synchronized (world) {
                return new ArrayList<>(pg.timelineHistory());
            }
        }

        @Override
        public void fence() {
            synchronized (world) {
                pg.fence();
            }
        }

        @Override
        public void unfence() {
            synchronized (world) {
                pg.unfence();
            }
        }

        @Override
        public boolean unfenceIf(java.util.function.BooleanSupplier stillAllowed) {
            synchronized (world) {
                return pg.unfenceIf(stillAllowed);
            }
        }
    }
}
