package io.pgha.examples.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.testkit.TcpProxy;
import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Issue 12, "Mixed clusters": two pgha agents ({@link AgentProcess}) and one real Patroni 3.0.2 member
 * ({@link PatroniMember}, Debian's {@code /usr/bin/patroni}) in one scope on one store, as a Patroni user migrating
 * member by member would run them. The Patroni member's YAML shares the agents' scope, namespace, store, credentials,
 * bootstrap.dcs and pg_hba. The steps run in order on one cluster; each checks the effect on the cluster, and every
 * acknowledged row is checked on the final leader. A subclass per store says which store: {@link MixedClusterEtcdTest},
 * {@link MixedClusterZooKeeperTest}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 6, unit = TimeUnit.MINUTES)
abstract class MixedClusterScenarios {

    /** Starts the store the agents and the Patroni member share. */
    abstract StoreUnderTest startStore(Path dir) throws Exception;

    /** The scope's prefix (one cluster per test class). */
    String scopePrefix() {
        return "mixed-";
    }

    static final String PATRONI = "pt3";
    static final Duration WAIT = Duration.ofSeconds(90);

    E2eCluster cluster;
    PatroniMember patroni;
    /** The Patroni member's connect_address, so that a step can cut its outgoing replication. */
    private TcpProxy patroniProxy;
    PatroniCtl ctl;
    /** Every row the leader acknowledged, in order. */
    private final List<String> written = new ArrayList<>();
    /** A step failed: the later ones build on it, so they are skipped rather than failed after long waits. */
    private volatile boolean failed;

    @RegisterExtension
    final TestWatcher diagnostics = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            failed = true;
            if (cluster != null) {
                System.out.println(cluster.diagnostics());
            }
            if (patroni != null) {
                System.out.println("---------- " + PATRONI + ": patroni " + (patroni.isAlive() ? "alive (pid "
                        + patroni.pid() + ")" : "not running") + "\nGET /patroni: " + patroni.get("/patroni")
                        + "\npatroni log tail:\n" + patroni.logTail(80));
            }
        }
    };

    /** One member of either kind, as the checks see it. */
    record Node(String name, PgServer pg, Supplier<JsonNode> status) {
        @Override
        public String toString() {
            return name;
        }
    }

    @BeforeAll
    void start() throws Exception {
        cluster = E2eCluster.onNewStore("pgha-mixed", scopePrefix(), this::startStore, 2,
                PatroniCluster.TIMINGS);
        try {
            for (AgentProcess m : cluster.members) {
                clusterWideParameters(m.config, m.name.equals("pg1"));
            }
            Path dir = cluster.base.resolve(PATRONI);
            Files.createDirectories(dir);
            patroni = new PatroniMember(PATRONI, dir, TestPorts.freePort(), TestPorts.freePort(),
                    cluster.members.get(0).superuserPassword());
            patroniProxy = TcpProxy.start("127.0.0.1", patroni.pgPort, 64);
            patroni.writeConfig(patroniConfig(cluster.members.get(0).config, patroni));
            if (PatroniMember.AS_ROOT) {
                PatroniCluster.ownedByPostgres(dir);
            }
            ctl = new PatroniCtl(cluster);
        } catch (Exception | Error e) {
            stop();
            throw e;
        }
    }

    @BeforeEach
    void onlyAfterTheStepsBefore() {
        Assumptions.assumeFalse(failed, "an earlier step failed");
    }

    @AfterAll
    void stop() {
        if (patroni != null) {
            patroni.stop();
            E2eKit.keepLogs(cluster.scope, Map.of(PATRONI + "-patroni.log", patroni.log));
        }
        if (patroniProxy != null) {
            patroniProxy.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    /**
     * The must-match parameters in bootstrap.dcs, so that they are in the config key Patroni reads too; and pg1
     * {@code nofailover}, so that each kill of a leader leaves exactly one candidate, of the other kind.
     */
    @SuppressWarnings("unchecked")
    private static void clusterWideParameters(Path config, boolean nofailover) throws IOException {
        Map<String, Object> y = AgentProcess.YAML.readValue(config.toFile(), Map.class);
        if (nofailover) {
            y.put("tags", Map.of("nofailover", true));
        }
        Map<String, Object> bootstrap = new LinkedHashMap<>((Map<String, Object>) y.get("bootstrap"));
        Map<String, Object> dcs = new LinkedHashMap<>((Map<String, Object>) bootstrap.get("dcs"));
        dcs.put("postgresql", Map.of("use_pg_rewind", true, "use_slots", true,
                "parameters", Map.of("max_connections", 40, "wal_keep_size", "64MB")));
        bootstrap.put("dcs", dcs);
        y.put("bootstrap", bootstrap);
        AgentProcess.YAML.writeValue(config.toFile(), y);
    }

    /** Patroni's YAML for the mixed member: what the agents' YAML says for the cluster, its own addresses. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> patroniConfig(Path agentConfig, PatroniMember m) throws IOException {
        Map<String, Object> a = AgentProcess.YAML.readValue(agentConfig.toFile(), Map.class);
        Map<String, Object> agentPg = (Map<String, Object>) a.get("postgresql");
        Map<String, Object> y = new LinkedHashMap<>();
        y.put("scope", cluster.scope);
        y.put("namespace", "/service/");
        y.put("name", m.name);
        y.put("restapi", Map.of("listen", "127.0.0.1:" + m.restPort, "connect_address", "127.0.0.1:" + m.restPort,
                "authentication", ((Map<String, Object>) a.get("restapi")).get("authentication")));
        // Patroni's etcd3 and zookeeper sections both take a hosts list; it talks to the store straight (no proxy).
        y.put(cluster.store.section(), Map.of("hosts", List.of(cluster.store.host() + ":" + cluster.store.port())));
        y.put("bootstrap", a.get("bootstrap"));
        Map<String, Object> pg = new LinkedHashMap<>();
        pg.put("listen", "127.0.0.1:" + m.pgPort);
        pg.put("connect_address", patroniProxy.address());
        pg.put("data_dir", m.dataDir.toString());
        pg.put("bin_dir", io.pgha.core.testkit.TestFiles.postgresBinDir().toString());
        pg.put("pgpass", m.dir.resolve("pgpass").toString());
        pg.put("authentication", agentPg.get("authentication"));
        Map<String, Object> parameters = new LinkedHashMap<>((Map<String, Object>) agentPg.get("parameters"));
        parameters.put("unix_socket_directories", m.dir.toString());
        pg.put("parameters", parameters);
        // What the agents write by default: SCRAM passwords only, on loopback and the socket.
        pg.put("pg_hba", List.of("local all all scram-sha-256", "local replication all scram-sha-256",
                "host all all 127.0.0.1/32 scram-sha-256", "host replication all 127.0.0.1/32 scram-sha-256"));
        y.put("postgresql", pg);
        return y;
    }

    // ------------------------------------------------------------------------------------------------ steps

    @Test
    @Order(1)
    void bootstrapAndCloneThroughSlots() throws Exception {
        bootstrap();
    }

    /** A pgha agent bootstraps, the Patroni member clones from it through its slot. */
    void bootstrap() throws Exception {
        cluster.startAll();
        AgentProcess leader = cluster.awaitHealthy(WAIT);
        Sql.createTable(leader);
        write(leader, "before-patroni");
        patroni.start();
        Node l = awaitHealthy(WAIT);
        assertThat(l.name()).isEqualTo(leader.name);
        assertThat(Sql.systemId(patroni)).isEqualTo(Sql.systemId(leader));
        assertThat(Sql.slots(leader)).as("the pgha leader keeps a slot per member").containsKeys(PATRONI);
        assertThat(Sql.setting(patroni, "primary_slot_name")).isEqualTo(PATRONI);
        assertThat(Sql.setting(patroni, "max_connections")).isEqualTo("40");
        assertThat(Sql.hasNote(patroni, "before-patroni")).isTrue();
    }

    @Test
    @Order(2)
    void patronictlListsOneLeaderAndTwoStreamingReplicas() throws Exception {
        Node leader = awaitHealthy(WAIT);
        JsonNode list = await("patronictl list: one Leader, two replicas with no lag").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(500)).until(() -> ctl.run("list", "-f", "json").ok().json(),
                        l -> l.size() == 3 && rows(l, "Leader") == 1 && rows(l, "Replica") == 2
                                && allReplicasCaughtUp(l));
        for (JsonNode row : list) {
            String name = row.path("Member").asText();
            assertThat(row.path("Role").asText()).as("role of " + name)
                    .isEqualTo(name.equals(leader.name()) ? "Leader" : "Replica");
            assertThat(row.path("State").asText()).as("state of " + name)
                    .isIn(name.equals(leader.name()) ? Set.of("running") : Set.of("streaming", "running"));
        }
    }

    @Test
    @Order(3)
    void aRowWrittenOnTheLeaderReachesEveryMember() throws Exception {
        Node leader = awaitHealthy(WAIT);
        String note = write(leader.pg(), "row-on-" + leader.name());
        awaitEverywhere(note);
    }

    @Test
    @Order(4)
    void switchoverToThePatroniMemberAndThePghaMembersFollowThroughTheirSlots() throws Exception {
        Node leader = awaitHealthy(WAIT);
        PatroniCtl.Run sw = ctl.run("switchover", "--leader", leader.name(), "--candidate", PATRONI, "--force");
        assertThat(sw.ok().output()).contains("Successfully switched over to \"" + PATRONI + "\"");
        Node now = awaitHealthy(WAIT);
        assertThat(now.name()).isEqualTo(PATRONI);
        Map<String, String> slots = Sql.slots(patroni);
        for (AgentProcess m : cluster.members) {
            assertThat(slots).as("the Patroni leader keeps a slot per pgha member").containsKey(m.name);
            assertThat(Sql.setting(m, "primary_slot_name")).as(m.name + " streams through its slot")
                    .isEqualTo(m.name);
        }
        awaitEverywhere(write(patroni, "row-on-patroni"));
    }

    @Test
    @Order(5)
    void switchoverBackToAPghaMember() throws Exception {
        assertThat(awaitHealthy(WAIT).name()).isEqualTo(PATRONI);
        AgentProcess target = cluster.members.get(1);
        PatroniCtl.Run sw = ctl.run("switchover", "--leader", PATRONI, "--candidate", target.name, "--force");
        assertThat(sw.ok().output()).contains("Successfully switched over to \"" + target.name + "\"");
        assertThat(awaitHealthy(WAIT).name()).isEqualTo(target.name);
        awaitEverywhere(write(target, "row-after-switchback"));
    }

    @Test
    @Order(6)
    void killOfThePghaLeaderIsTakenOverByThePatroniMemberAndTheOldLeaderRejoinsByRewind() throws Exception {
        AgentProcess old = cluster.member(awaitHealthy(WAIT).name());
        write(old, "row-before-kill-of-" + old.name);
        awaitEverywhere(written.get(written.size() - 1));
        // A last row the replicas never get (its replication is cut first): the old leader's timeline now forks
        // from the new one, so it can only rejoin through pg_rewind.
        old.pgProxy.reset();
        Sql.insert(old, "unreplicated-on-" + old.name);
        old.crash();
        old.pgProxy.heal();
        Node next = awaitNewLeader(old.name);
        assertThat(next.name()).as("pg1 is nofailover: the Patroni member is the only candidate").isEqualTo(PATRONI);
        write(next.pg(), "row-after-kill-on-" + next.name());
        long mark = old.logMark();
        old.start();
        assertThat(awaitHealthy(WAIT).name()).isEqualTo(PATRONI);
        assertThat(old.logSince(mark)).as(old.name + "'s log after its restart").contains("pg_rewind");
        assertThat(Sql.hasNote(old, "unreplicated-on-" + old.name)).as("the rewind undid the forked row").isFalse();
        assertThat(Sql.slots(patroni)).as("the Patroni leader's slots").containsKeys("pg1", "pg2");
    }

    @Test
    @Order(7)
    void killOfThePatroniLeaderIsTakenOverByAPghaMemberAndPatroniRejoinsByRewind() throws Exception {
        assertThat(awaitHealthy(WAIT).name()).isEqualTo(PATRONI);
        write(patroni, "row-before-kill-of-" + PATRONI);
        awaitEverywhere(written.get(written.size() - 1));
        patroniProxy.reset();
        Sql.insert(patroni, "unreplicated-on-" + PATRONI);
        patroni.crash();
        patroniProxy.heal();
        Node next = awaitNewLeader(PATRONI);
        assertThat(next.name()).as("pg1 is nofailover: pg2 is the only candidate").isEqualTo("pg2");
        write(next.pg(), "row-after-kill-on-" + next.name());
        long mark = Files.size(patroni.log);
        patroni.start();
        assertThat(awaitHealthy(WAIT).name()).isEqualTo("pg2");
        String after = Files.readString(patroni.log, java.nio.charset.StandardCharsets.ISO_8859_1)
                .substring((int) mark);
        assertThat(after).as(PATRONI + "'s log after its restart").contains("pg_rewind");
        assertThat(Sql.hasNote(patroni, "unreplicated-on-" + PATRONI)).as("the rewind undid the forked row").isFalse();
        assertThat(Sql.slots(cluster.member("pg2"))).as("the pgha leader's slots").containsKeys("pg1", PATRONI);
    }

    // ------------------------------------------------------------------------------------------ synchronous mode

    /**
     * Whether the synchronous-mode steps run in this class. They need pg2 (pgha) leading after the steps before, and
     * they check what differs by the leading kind, not by the store or by who bootstrapped.
     */
    boolean runsSynchronousSteps() {
        return true;
    }

    /**
     * {@code patronictl edit-config} turns synchronous mode on under the pgha leader pg2. Its only candidate is the
     * Patroni member (pg1 is nofailover, which Patroni's rules and pgha's put last), so the sync key both kinds read
     * names pt3; a switchover hands the leadership to pt3, which may promote because the sync key named it.
     */
    @Test
    @Order(9)
    void synchronousModeUnderAPghaLeaderNamesThePatroniMemberAndASwitchoverGoesToIt() throws Exception {
        Assumptions.assumeTrue(runsSynchronousSteps(), "synchronous mode runs on etcd pgha-first and ZooKeeper");
        Node leader = awaitHealthy(WAIT);
        assertThat(leader.name()).isEqualTo("pg2");
        ctl.run("edit-config", "--force", "--set", "synchronous_mode=true").ok();
        awaitSynchronous(leader, PATRONI);
        commitReachesTheSynchronousStandbyAtOnce(leader, PATRONI);
        switchoverInSynchronousMode(leader, PATRONI);
    }

    /**
     * Under the Patroni leader the sync key names pg2 (written by Patroni, read by pgha), and a switchover back to pg2
     * in synchronous mode is allowed because of it.
     */
    @Test
    @Order(10)
    void synchronousModeUnderThePatroniLeaderNamesAPghaMemberAndASwitchoverGoesBackToIt() throws Exception {
        Assumptions.assumeTrue(runsSynchronousSteps(), "synchronous mode runs on etcd pgha-first and ZooKeeper");
        Node leader = awaitHealthy(WAIT);
        assertThat(leader.name()).isEqualTo(PATRONI);
        awaitSynchronous(leader, "pg2");
        commitReachesTheSynchronousStandbyAtOnce(leader, "pg2");
        switchoverInSynchronousMode(leader, "pg2");
    }

    /** Synchronous mode off again: the pgha leader drops the sync key and stops making commits wait. */
    @Test
    @Order(11)
    void synchronousModeOffAgain() throws Exception {
        Assumptions.assumeTrue(runsSynchronousSteps(), "synchronous mode runs on etcd pgha-first and ZooKeeper");
        Node leader = awaitHealthy(WAIT);
        ctl.run("edit-config", "--force", "--set", "synchronous_mode=false").ok();
        await("synchronous replication ends on " + leader).atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(250)).ignoreExceptions()
                .until(() -> cluster.view().sync().version() == DcsVersion.ABSENT
                        && Sql.setting(leader.pg(), "synchronous_standby_names").isEmpty()
                        && syncStates(leader.pg()).values().stream().noneMatch("sync"::equals));
        awaitEverywhere(write(leader.pg(), "row-after-synchronous-mode"));
    }

    /**
     * The sync key names exactly {@code standby} under {@code leader}, as pgha reads it and as Patroni reads it
     * ({@code patronictl list} says "Sync Standby"), and the leader's PostgreSQL waits for it: it is in
     * {@code synchronous_standby_names} and {@code pg_stat_replication} says {@code sync}.
     */
    private void awaitSynchronous(Node leader, String standby) throws IOException, InterruptedException {
        await(standby + " the synchronous standby of " + leader).atMost(Duration.ofSeconds(45))
                .pollInterval(Duration.ofMillis(250)).ignoreExceptions().until(() -> {
                    SyncState sync = cluster.view().sync();
                    return leader.name().equals(sync.leader()) && sync.standbys().equals(List.of(standby))
                            && Sql.setting(leader.pg(), "synchronous_standby_names").replace("\"", "")
                                    .equals(standby)
                            && "sync".equals(syncStates(leader.pg()).get(standby));
                });
        JsonNode list = ctl.run("list", "-f", "json").ok().json();
        for (JsonNode row : list) {
            String name = row.path("Member").asText();
            String role = name.equals(leader.name()) ? "Leader" : name.equals(standby) ? "Sync Standby" : "Replica";
            assertThat(row.path("Role").asText()).as("patronictl list: role of " + name).isEqualTo(role);
        }
    }

    /**
     * A commit with {@code synchronous_commit = remote_apply} returns only once the synchronous standby applied it,
     * so the row is readable there straight after, without waiting.
     */
    private void commitReachesTheSynchronousStandbyAtOnce(Node leader, String standby) throws SQLException {
        String note = "synchronous-row-on-" + leader.name();
        try (Connection c = leader.pg().sql(); Statement st = c.createStatement()) {
            st.execute("SET synchronous_commit = remote_apply");
            Sql.insert(c, note);
        }
        written.add(note);
        Node s = nodes().stream().filter(n -> n.name().equals(standby)).findFirst().orElseThrow();
        assertThat(Sql.hasNote(s.pg(), note)).as(note + " on " + standby + " right after the commit").isTrue();
    }

    /**
     * patronictl switchover from {@code leader} to {@code target}, which the sync key names as the synchronous
     * standby (checked just before); the new leader takes the sync key over and the old leader becomes its synchronous
     * standby (the only candidate: pg1 is nofailover).
     */
    private void switchoverInSynchronousMode(Node leader, String target) throws Exception {
        assertThat(cluster.view().sync().standbys()).as("the sync key before the switchover").containsExactly(target);
        PatroniCtl.Run sw = ctl.run("switchover", "--leader", leader.name(), "--candidate", target, "--force");
        assertThat(sw.ok().output()).contains("Successfully switched over to \"" + target + "\"");
        Node now = awaitHealthy(WAIT);
        assertThat(now.name()).isEqualTo(target);
        awaitSynchronous(now, leader.name());
        awaitEverywhere(write(now.pg(), "row-after-synchronous-switchover-to-" + target));
    }

    /** {@code application_name -> sync_state} of the server's {@code pg_stat_replication}. */
    private static Map<String, String> syncStates(PgServer primary) throws SQLException {
        Map<String, String> out = new LinkedHashMap<>();
        try (Connection c = primary.sql(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT application_name, sync_state FROM pg_stat_replication")) {
            while (rs.next()) {
                out.put(rs.getString(1), rs.getString(2));
            }
        }
        return out;
    }

    @Test
    @Order(20)
    void noAcknowledgedRowIsLost() throws Exception {
        Node leader = awaitHealthy(WAIT);
        awaitEverywhere(write(leader.pg(), "last-row"));
        assertThat(Sql.notes(leader.pg(), "")).containsAll(written);
    }

    // ------------------------------------------------------------------------------------------------ checks

    String write(PgServer primary, String note) throws SQLException {
        Sql.insert(primary, note);
        written.add(note);
        return note;
    }

    private List<Node> nodes() {
        List<Node> out = new ArrayList<>();
        for (AgentProcess m : cluster.members) {
            out.add(new Node(m.name, m, m::status));
        }
        out.add(new Node(PATRONI, patroni, () -> patroni.get("/patroni")));
        return out;
    }

    private void awaitEverywhere(String note) {
        for (Node n : nodes()) {
            await(note + " on " + n).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                    .ignoreExceptions().until(() -> Sql.hasNote(n.pg(), note));
        }
    }

    private Node awaitNewLeader(String old) {
        return await("a new leader after " + old).atMost(WAIT).pollInterval(Duration.ofMillis(250))
                .ignoreExceptions().until(this::primaryLeader, o -> o.filter(n -> !n.name().equals(old)).isPresent())
                .orElseThrow();
    }

    private Optional<Node> primaryLeader() throws Exception {
        Optional<String> name = cluster.leaderName();
        if (name.isEmpty()) {
            return Optional.empty();
        }
        Node leader = nodes().stream().filter(n -> n.name().equals(name.get())).findFirst().orElse(null);
        return leader != null && Sql.isPrimary(leader.pg()) ? Optional.of(leader) : Optional.empty();
    }

    /**
     * The leader of a healthy mixed cluster: it holds the leader key and runs as a primary, and each other member
     * streams from it by name ({@code pg_stat_replication}) and says it is a replica in {@code GET /patroni}.
     */
    Node awaitHealthy(Duration timeout) {
        return await("a healthy mixed cluster").atMost(timeout).pollInterval(Duration.ofMillis(250))
                .ignoreExceptions().failFast("the Patroni process exited", () -> !patroni.isAlive())
                .until(this::healthyLeader, Optional::isPresent).orElseThrow();
    }

    private Optional<Node> healthyLeader() throws Exception {
        Optional<Node> leader = primaryLeader();
        if (leader.isEmpty()) {
            return leader;
        }
        Set<String> streaming = Sql.streamingStandbys(leader.get().pg());
        for (Node n : nodes()) {
            if (n.name().equals(leader.get().name())) {
                continue;
            }
            JsonNode s = n.status().get();
            if (!streaming.contains(n.name()) || s == null || !"replica".equals(s.path("role").asText())) {
                return Optional.empty();
            }
        }
        return leader;
    }

    private static long rows(JsonNode list, String role) {
        long n = 0;
        for (JsonNode row : list) {
            n += role.equals(row.path("Role").asText()) ? 1 : 0;
        }
        return n;
    }

    private static boolean allReplicasCaughtUp(JsonNode list) {
        for (JsonNode row : list) {
            if ("Replica".equals(row.path("Role").asText()) && row.path("Lag in MB").asLong(-1) != 0) {
                return false;
            }
        }
        return true;
    }
}
