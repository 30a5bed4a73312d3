package io.pgha.examples.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.cluster.FailoverRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Patroni's own {@code patronictl} (Debian's 3.0.2) drives the member operations of issue 12 on a live three-member
 * pgha cluster (agents as processes, real PostgreSQL, a real store): {@code restart} (now, {@code --pending},
 * {@code --scheduled}), {@code flush ... restart}, {@code reinit}, {@code reload}, {@code failover --candidate},
 * {@code switchover --scheduled} and {@code flush ... switchover}, {@code topology}, {@code dsn}, {@code query}. Each
 * step checks what changed in the cluster (the postmaster's start time, the leader key, the failover key, a marker
 * file in the data directory, a setting, which server a connection reached), not only patronictl's output. One
 * cluster per store, the steps in order (a bootstrap costs more than a step); each step starts from a healthy
 * cluster. Every member runs Patroni's {@code postgresql.callbacks} (a shell script that appends its arguments to a
 * file): the restart and reload steps check that {@code on_restart} and {@code on_reload} ran, and nothing else.
 * A reload is also sent as SIGHUP to the agent's PID. A store's subclass picks its operations ({@link #operations()},
 * the others reported as skipped): ZooKeeper and etcd run all of them, the Consul emulator the quick ones that go
 * through the store.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 4, unit = TimeUnit.MINUTES)
abstract class PatroniCtlOperationsScenarios {

    /** What a store's subclass runs: one per test, in their order. */
    enum Op {
        RESTART_LEADER, RESTART_PENDING, RESTART_SCHEDULED, REINIT, LEADER_REFUSES_REINIT, RELOAD, SIGHUP_RELOAD,
        FAILOVER, SWITCHOVER_SCHEDULED_SOON, SWITCHOVER_SCHEDULED_FAR_AND_FLUSH, TOPOLOGY, DSN, QUERY, REINIT_FORCE
    }

    E2eCluster cluster;
    PatroniCtl ctl;
    /** The operation the current test runs; null before {@link #runs(Op)} let it run. */
    Op running;

    abstract StoreUnderTest startStore(Path dir) throws Exception;

    /** The operations this store runs; the others are reported as skipped. */
    Set<Op> operations() {
        return EnumSet.allOf(Op.class);
    }

    private void runs(Op op) {
        Assumptions.assumeTrue(operations().contains(op), () -> cluster.store.section() + " does not run " + op
                + " (stores run subsets to keep the suite within its time budget: docs/decisions/0701)");
        running = op;
    }

    @RegisterExtension
    final TestWatcher reportOnFailure = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            if (cluster != null) {
                System.out.println(cluster.diagnostics());
            }
        }
    };

    @BeforeAll
    void startCluster() throws Exception {
        cluster = E2eCluster.onNewStore("pgha-ops", "ops-", this::startStore);
        ctl = new PatroniCtl(cluster);
        addCallbacks();
        cluster.startAll();
        AgentProcess leader = cluster.awaitHealthy(Duration.ofSeconds(150));
        Sql.createTable(leader);
    }

    /** Every callback of every member appends "{@code <action> <role> <scope>}" to callbacks/{@code <member>}.log. */
    @SuppressWarnings("unchecked")
    private void addCallbacks() throws Exception {
        Path dir = cluster.base.resolve("callbacks");
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        for (AgentProcess m : cluster.members) {
            Path script = dir.resolve(m.name + ".sh");
            Files.writeString(script, "#!/bin/sh\necho \"$@\" >> " + callbackLog(m) + "\n");
            Files.setPosixFilePermissions(script, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            Map<String, Object> y = AgentProcess.YAML.readValue(m.config.toFile(), Map.class);
            Map<String, Object> pg = new java.util.LinkedHashMap<>((Map<String, Object>) y.get("postgresql"));
            Map<String, Object> callbacks = new java.util.LinkedHashMap<>();
            for (String event : List.of("on_start", "on_stop", "on_role_change", "on_restart", "on_reload")) {
                callbacks.put(event, script.toString());
            }
            pg.put("callbacks", callbacks);
            y.put("postgresql", pg);
            AgentProcess.YAML.writeValue(m.config.toFile(), y);
        }
    }

    private Path callbackLog(AgentProcess m) {
        return cluster.base.resolve("callbacks").resolve(m.name + ".log");
    }

    private List<String> callbackLines(AgentProcess m) throws java.io.IOException {
        Path log = callbackLog(m);
        return Files.exists(log) ? Files.readAllLines(log) : List.of();
    }

    /** Waits for {@code expected} to be the callbacks {@code m} runs after the {@code before} ones, and no more. */
    private void awaitCallbacks(AgentProcess m, List<String> before, String... expected) throws Exception {
        List<String> want = List.of(expected);
        await("callbacks of " + m.name + ": " + want).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                .until(() -> callbackLines(m).size() >= before.size() + want.size());
        Thread.sleep(1000); // none after them either
        List<String> all = callbackLines(m);
        assertThat(all.subList(0, before.size())).isEqualTo(before);
        assertThat(all.subList(before.size(), all.size())).as("callbacks of " + m.name).isEqualTo(want);
    }

    @AfterAll
    void stopEverything() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @BeforeEach
    void announce(TestInfo info) {
        running = null;
        System.out.println("==== ops " + getClass().getSimpleName() + ": " + info.getDisplayName() + " ====");
    }

    // ------------------------------------------------------------------------------------------------ restart

    @Test
    @Order(1)
    void restartOfTheLeaderKeepsTheLeaderKeyAndStartsANewPostmaster() throws Exception {
        runs(Op.RESTART_LEADER);
        AgentProcess leader = cluster.ensureHealthy();
        Instant before = postmasterStart(leader);
        List<String> callbacksBefore = callbackLines(leader);
        assertThat(callbacksBefore).as("the leader's postgres started (callbacks run: on_start)")
                .contains("on_start primary " + cluster.scope);
        try (LeaderKeyWatch keys = new LeaderKeyWatch(cluster)) {
            PatroniCtl.Run r = ctl.run("restart", cluster.scope, leader.name, "--force");
            assertThat(r.ok().output()).contains("Success: restart on member " + leader.name);
            // As in Patroni: on_restart, and not the restart's own on_stop and on_start.
            awaitCallbacks(leader, callbacksBefore, "on_restart primary " + cluster.scope);
            // patronictl returns once the member answered: PostgreSQL runs again by then.
            assertThat(postmasterStart(leader)).as("postmaster start time of " + leader.name).isAfter(before);
            assertThat(Sql.isPrimary(leader)).as(leader.name + " is primary again").isTrue();
            assertThat(keys.holders()).as("leader key holders seen during the restart").containsExactly(leader.name);
        }
        assertThat(cluster.awaitHealthy(Duration.ofSeconds(90))).isEqualTo(leader);
        writeReachesEveryReplica(leader, "after-leader-restart-");
    }

    @Test
    @Order(2)
    void restartPendingRestartsOnlyTheMemberWithAPendingRestart() throws Exception {
        runs(Op.RESTART_PENDING);
        AgentProcess leader = cluster.ensureHealthy();
        AgentProcess pending = cluster.others(leader).get(0);
        Map<AgentProcess, Instant> before = new java.util.HashMap<>();
        for (AgentProcess m : cluster.members) {
            before.put(m, postmasterStart(m));
        }
        String sharedBuffers = Sql.setting(pending, "shared_buffers");
        // A setting that needs a restart, changed on one replica only: PostgreSQL marks it pending_restart.
        exec(pending, "ALTER SYSTEM SET shared_buffers = '24MB'");
        exec(pending, "SELECT pg_reload_conf()");
        try {
            await(pending.name + " reports pending_restart").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                    .until(() -> pending.status().path("pending_restart").asBoolean());
            // Why, as Patroni 3.3+ says it: the value in force and the one the restart brings.
            JsonNode reason = pending.status().path("pending_restart_reason");
            assertThat(reason.toString()).as("pending_restart_reason").isEqualTo("{\"shared_buffers\":{\"old_value\":\""
                    + sharedBuffers + "\",\"new_value\":\"24MB\"}}");
            await("GET /cluster lists " + pending.name + "'s reason").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                    .until(() -> {
                        for (JsonNode m : leader.get("/cluster").json().path("members")) {
                            if (m.path("name").asText().equals(pending.name)) {
                                return m.path("pending_restart_reason");
                            }
                        }
                        return null;
                    }, reason::equals);
            PatroniCtl.Run r = ctl.run("restart", cluster.scope, "--pending", "--force").ok();
            assertThat(r.output()).contains("Success: restart on member " + pending.name);
            for (AgentProcess m : cluster.others(pending)) {
                assertThat(r.output()).contains("Failed: restart for member " + m.name + ", status code=503,"
                        + " (restart conditions are not satisfied)");
            }
            assertThat(postmasterStart(pending)).as("postmaster start time of " + pending.name)
                    .isAfter(before.get(pending));
            assertThat(Sql.setting(pending, "shared_buffers")).isEqualTo("24MB");
            for (AgentProcess m : cluster.others(pending)) {
                assertThat(postmasterStart(m)).as("postmaster start time of " + m.name).isEqualTo(before.get(m));
            }
            await(pending.name + " no longer pending").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                    .until(() -> !pending.status().path("pending_restart").asBoolean());
        } finally {
            exec(pending, "ALTER SYSTEM RESET shared_buffers");
        }
        assertThat(cluster.awaitHealthy(Duration.ofSeconds(90))).isEqualTo(leader);
    }

    @Test
    @Order(3)
    void aScheduledRestartHappensAfterItsTimeAndCanBeFlushedBefore() throws Exception {
        runs(Op.RESTART_SCHEDULED);
        AgentProcess leader = cluster.ensureHealthy();
        AgentProcess replica = cluster.others(leader).get(0);

        // One far ahead, shown by patronictl list from the member key, then flushed (DELETE /restart).
        OffsetDateTime far = OffsetDateTime.now(ZoneOffset.UTC).plusHours(2).truncatedTo(ChronoUnit.SECONDS);
        assertThat(ctl.run("restart", cluster.scope, replica.name, "--scheduled", far.toString(), "--force").ok()
                .output()).contains("Success: restart scheduled on member " + replica.name);
        JsonNode row = await("patronictl list shows the scheduled restart").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofSeconds(1))
                .until(() -> listRow(replica), r -> r.isPresent() && !r.get().path("Scheduled restart").asText()
                        .isEmpty()).orElseThrow();
        assertThat(OffsetDateTime.parse(row.path("Scheduled restart").asText()).toInstant())
                .isEqualTo(far.toInstant());
        assertThat(ctl.run("flush", cluster.scope, replica.name, "restart", "--force").ok().output())
                .contains("Success: flush scheduled restart for member " + replica.name);
        assertThat(replica.status().has("scheduled_restart")).as("scheduled_restart after the flush").isFalse();

        // One soon: nothing happens before its time, the restart does after it.
        Instant before = postmasterStart(replica);
        OffsetDateTime soon = OffsetDateTime.now(ZoneOffset.UTC).plusSeconds(20).truncatedTo(ChronoUnit.SECONDS);
        assertThat(ctl.run("restart", cluster.scope, replica.name, "--scheduled", soon.toString(), "--force").ok()
                .output()).contains("Success: restart scheduled on member " + replica.name);
        assertThat(replica.status().path("scheduled_restart").path("schedule").asText()).isNotEmpty();
        while (Instant.now().isBefore(soon.toInstant().minusSeconds(2))) {
            assertThat(postmasterStart(replica)).as("postmaster start before the scheduled time").isEqualTo(before);
            Thread.sleep(1000);
        }
        Instant restarted = await("the scheduled restart of " + replica.name).atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                .until(() -> postmasterStart(replica), t -> t.isAfter(before));
        assertThat(restarted).as("postmaster start time").isAfterOrEqualTo(soon.toInstant());
        await("scheduled_restart cleared").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                .ignoreExceptions().until(() -> !replica.status().has("scheduled_restart"));
        assertThat(cluster.awaitHealthy(Duration.ofSeconds(90))).isEqualTo(leader);
    }

    // ------------------------------------------------------------------------------------------------ reinit

    @Test
    @Order(4)
    void reinitOfAReplicaReclonesItsDataDirectoryAndItStreamsAgain() throws Exception {
        runs(Op.REINIT);
        AgentProcess leader = cluster.ensureHealthy();
        AgentProcess replica = cluster.others(leader).get(0);
        String sysid = Sql.systemId(leader);
        Path marker = replica.dataDir.resolve("pgha-e2e-marker");
        Files.writeString(marker, "left by the test: a re-clone removes it");

        // patronictl itself sends reinit to replicas only; the leader's own refusal is checked over REST below.
        assertThat(ctl.run("reinit", cluster.scope, leader.name, "--force").output())
                .contains("No replica among provided members");

        PatroniCtl.Run r = ctl.run("reinit", cluster.scope, replica.name, "--force", "--wait").ok();
        assertThat(r.output()).contains("Success: reinitialize for member " + replica.name);
        assertThat(r.output()).contains("Reinitialize is completed on: " + replica.name);
        assertThat(marker).as("the marker in " + replica.name + "'s data directory").doesNotExist();
        assertThat(cluster.awaitHealthy(Duration.ofSeconds(120))).isEqualTo(leader);
        assertThat(Sql.systemId(replica)).isEqualTo(sysid);
        assertThat(replica.logSince(0)).contains("reinitializing as the operator asked");
        String note = "after-reinit-" + UUID.randomUUID();
        Sql.insert(leader, note);
        awaitReplicated(note, List.of(replica));
    }

    @Test
    @Order(5)
    void theLeaderRefusesReinitialize() throws Exception {
        runs(Op.LEADER_REFUSES_REINIT);
        AgentProcess leader = cluster.ensureHealthy();
        AgentProcess.Reply r = leader.post("/reinitialize", "{\"force\": true}");
        assertThat(r.status()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("I am the leader, can not reinitialize");
        assertThat(cluster.leaderName()).contains(leader.name);
    }

    // ------------------------------------------------------------------------------------------------ reload

    @Test
    @Order(6)
    void reloadMakesPostgresReadAChangedSetting() throws Exception {
        runs(Op.RELOAD);
        AgentProcess leader = cluster.ensureHealthy();
        AgentProcess replica = cluster.others(leader).get(0);
        String old = Sql.setting(replica, "work_mem");
        assertThat(old).isNotEqualTo("7MB");
        // Written but not read: only a reload (SIGHUP) makes the server take it.
        exec(replica, "ALTER SYSTEM SET work_mem = '7MB'");
        try {
            Thread.sleep(2000);
            assertThat(Sql.setting(replica, "work_mem")).as("before the reload").isEqualTo(old);
            List<String> callbacksBefore = callbackLines(replica);
            PatroniCtl.Run r = ctl.run("reload", cluster.scope, replica.name, "--force").ok();
            assertThat(r.output()).contains("Reload request received for member " + replica.name);
            awaitCallbacks(replica, callbacksBefore, "on_reload replica " + cluster.scope);
            await("work_mem on " + replica.name + " after the reload").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                    .until(() -> Sql.setting(replica, "work_mem"), "7MB"::equals);
            for (AgentProcess m : cluster.others(replica)) {
                assertThat(Sql.setting(m, "work_mem")).as("work_mem on " + m.name).isEqualTo(old);
            }
        } finally {
            exec(replica, "ALTER SYSTEM RESET work_mem");
            exec(replica, "SELECT pg_reload_conf()");
        }
        reloadReReadsTheMembersYaml(replica);
        reloadMovesTheRestApi(replica);
    }

    /**
     * Issue 12: as Patroni's, the reload takes a changed {@code restapi.listen} and {@code connect_address}: the
     * member's API moves to the new port (the old one stops answering) and its {@code api_url} follows in the member
     * key and in {@code GET /cluster}; patronictl, which finds a member by its {@code api_url}, reaches it there, and
     * its reload of the restored file moves the API back.
     */
    @SuppressWarnings("unchecked")
    private void reloadMovesTheRestApi(AgentProcess member) throws Exception {
        String original = Files.readString(member.config);
        String home = "http://127.0.0.1:" + member.restPort + "/patroni";
        int port = io.pgha.core.testkit.TestPorts.freePort();
        String moved = "http://localhost:" + port + "/patroni";
        AgentProcess other = cluster.others(member).get(0);
        try {
            Map<String, Object> y = AgentProcess.YAML.readValue(original, Map.class);
            Map<String, Object> rest = new java.util.LinkedHashMap<>((Map<String, Object>) y.get("restapi"));
            rest.put("listen", "127.0.0.1:" + port);
            rest.put("connect_address", "localhost:" + port);
            y.put("restapi", rest);
            Files.writeString(member.config, AgentProcess.YAML.writeValueAsString(y));
            long mark = member.logMark();

            ctl.run("reload", cluster.scope, member.name, "--force").ok();
            await("the api_url in " + member.name + "'s member key").atMost(Duration.ofSeconds(20))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> moved.equals(cluster.view().members().get(member.name).apiUrl()));
            assertThat(restStatus(port)).as("GET /patroni on the new port").isEqualTo(200);
            // A kept-alive connection to the old port may be served for the old server's grace period (5 s).
            await("the old port answers no more").atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(300))
                    .until(() -> member.status() == null);
            assertThat(apiUrlInCluster(other, member.name)).as("GET /cluster on " + other.name).isEqualTo(moved);
            assertThat(member.logSince(mark)).contains("REST API now listening on /127.0.0.1:" + port);

            Files.writeString(member.config, original);
            ctl.run("reload", cluster.scope, member.name, "--force").ok();
            await(member.name + "'s API back home").atMost(Duration.ofSeconds(20))
                    .pollInterval(Duration.ofMillis(200)).until(() -> member.status() != null
                            && home.equals(cluster.view().members().get(member.name).apiUrl()));
        } finally {
            Files.writeString(member.config, original);
            if (!home.equals(cluster.view().members().get(member.name).apiUrl())) {
                sighup(member);
                await(member.name + "'s API back home after SIGHUP").atMost(Duration.ofSeconds(20))
                        .pollInterval(Duration.ofMillis(200)).until(() -> member.status() != null
                                && home.equals(cluster.view().members().get(member.name).apiUrl()));
            }
        }
    }

    /** The status of {@code GET /patroni} on loopback {@code port}; 0 when nothing answers there. */
    private static int restStatus(int port) throws InterruptedException {
        try {
            return E2eKit.HTTP.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:"
                    + port + "/patroni")).timeout(Duration.ofSeconds(5)).GET().build(),
                    java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    /** The {@code api_url} that {@code GET /cluster} on {@code at} shows for member {@code name}. */
    private static String apiUrlInCluster(AgentProcess at, String name) throws Exception {
        for (JsonNode m : at.get("/cluster").json().path("members")) {
            if (name.equals(m.path("name").asText())) {
                return m.path("api_url").asText(null);
            }
        }
        return null;
    }

    /**
     * Issue 12: as Patroni's, the reload re-reads the member's YAML file: its own parameters and its tags change while
     * it runs (the parameter on its server only, the tag in its member key), and go back when the file does.
     */
    @SuppressWarnings("unchecked")
    private void reloadReReadsTheMembersYaml(AgentProcess member) throws Exception {
        String original = Files.readString(member.config);
        assertThat(Sql.setting(member, "log_min_duration_statement")).isEqualTo("-1");
        try {
            Map<String, Object> y = AgentProcess.YAML.readValue(original, Map.class);
            Map<String, Object> pg = (Map<String, Object>) y.get("postgresql");
            Map<String, Object> params = new java.util.LinkedHashMap<>(
                    (Map<String, Object>) pg.getOrDefault("parameters", Map.of()));
            params.put("log_min_duration_statement", 250);
            pg.put("parameters", params);
            Map<String, Object> tags = new java.util.LinkedHashMap<>(
                    (Map<String, Object>) y.getOrDefault("tags", Map.of()));
            tags.put("rack", "r7");
            y.put("tags", tags);
            Files.writeString(member.config, AgentProcess.YAML.writeValueAsString(y));

            ctl.run("reload", cluster.scope, member.name, "--force").ok();
            await("log_min_duration_statement on " + member.name + " from its YAML").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                    .until(() -> Sql.setting(member, "log_min_duration_statement"), "250ms"::equals);
            await("the rack tag in " + member.name + "'s member key").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(500)).until(() -> "r7".equals(
                            cluster.view().members().get(member.name).tags().custom().get("rack")));
            for (AgentProcess m : cluster.others(member)) {
                assertThat(Sql.setting(m, "log_min_duration_statement")).as(m.name).isEqualTo("-1");
            }
        } finally {
            Files.writeString(member.config, original);
            ctl.run("reload", cluster.scope, member.name, "--force").ok();
        }
        await("log_min_duration_statement on " + member.name + " back").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                .until(() -> Sql.setting(member, "log_min_duration_statement"), "-1"::equals);
        await("the rack tag gone").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                .until(() -> !cluster.view().members().get(member.name).tags().custom().containsKey("rack"));
    }

    /**
     * Issue 12: SIGHUP to the agent's PID is a reload, as in Patroni (a systemd unit's {@code ExecReload}): the
     * member's edited YAML is taken (a {@code nofailover} tag, shown by {@code GET /patroni}; a new {@code on_reload}
     * script, which that reload's own {@code on_reload} already runs); a file that does not parse fails the reload
     * with the reason in the log, and the member keeps its settings, its callbacks and its process (the JVM's own
     * action on SIGHUP is to exit).
     */
    @Test
    @Order(7)
    @SuppressWarnings("unchecked")
    void sighupReloadsTheMembersYamlWithItsCallbacks() throws Exception {
        runs(Op.SIGHUP_RELOAD);
        AgentProcess leader = cluster.ensureHealthy();
        AgentProcess replica = cluster.others(leader).get(0);
        long pid = replica.pid();
        String original = Files.readString(replica.config);
        Path script = cluster.base.resolve("callbacks").resolve(replica.name + "-sighup.sh");
        Files.writeString(script, "#!/bin/sh\necho \"sighup-script $@\" >> " + callbackLog(replica) + "\n");
        Files.setPosixFilePermissions(script, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        assertThat(tags(replica).has("nofailover")).as("nofailover before").isFalse();
        try {
            Map<String, Object> y = AgentProcess.YAML.readValue(original, Map.class);
            Map<String, Object> tags = new java.util.LinkedHashMap<>(
                    (Map<String, Object>) y.getOrDefault("tags", Map.of()));
            tags.put("nofailover", true);
            y.put("tags", tags);
            Map<String, Object> pg = (Map<String, Object>) y.get("postgresql");
            Map<String, Object> callbacks = new java.util.LinkedHashMap<>((Map<String, Object>) pg.get("callbacks"));
            callbacks.put("on_reload", script.toString());
            pg.put("callbacks", callbacks);
            Files.writeString(replica.config, AgentProcess.YAML.writeValueAsString(y));

            List<String> before = callbackLines(replica);
            long mark = replica.logMark();
            sighup(replica);
            awaitCallbacks(replica, before, "sighup-script on_reload replica " + cluster.scope);
            await("nofailover in " + replica.name + "'s GET /patroni").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(300)).until(() -> tags(replica).path("nofailover").asBoolean());
            assertThat(replica.logSince(mark)).contains("SIGHUP: reload scheduled");

            Files.writeString(replica.config, "scope: [unclosed");
            before = callbackLines(replica);
            long badMark = replica.logMark();
            sighup(replica);
            await("the failed reload in " + replica.name + "'s log").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(300)).until(() -> replica.logSince(badMark).lines().anyMatch(
                            l -> l.contains("reload failed") && l.contains("not valid YAML")));
            Thread.sleep(1000);
            assertThat(callbackLines(replica)).as("no on_reload for a reload that failed").isEqualTo(before);
            assertThat(tags(replica).path("nofailover").asBoolean()).as("nofailover kept").isTrue();
            assertThat(replica.isAlive()).as(replica.name + " alive after three SIGHUPs").isTrue();
            assertThat(replica.pid()).isEqualTo(pid);
        } finally {
            Files.writeString(replica.config, original);
        }
        List<String> before = callbackLines(replica);
        sighup(replica);
        awaitCallbacks(replica, before, "on_reload replica " + cluster.scope);
        await("nofailover gone from " + replica.name).atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(300)).until(() -> !tags(replica).has("nofailover"));
        await("nofailover gone from " + replica.name + "'s member key").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(300))
                .until(() -> !cluster.view().members().get(replica.name).tags().nofailover());
    }

    /** The tags {@code GET /patroni} shows (an empty object when it shows none or does not answer). */
    private static JsonNode tags(AgentProcess m) {
        JsonNode status = m.status();
        return status == null ? AgentProcess.JSON.createObjectNode() : status.path("tags");
    }

    /** {@code kill -s HUP <pid>}, as systemd's {@code ExecReload} does. */
    private static void sighup(AgentProcess m) throws Exception {
        long pid = m.pid();
        assertThat(pid).as(m.name + "'s pid").isPositive();
        Process kill = new ProcessBuilder("kill", "-s", "HUP", Long.toString(pid)).redirectErrorStream(true).start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).as("kill -s HUP " + pid).isTrue();
        assertThat(kill.exitValue()).as("kill -s HUP " + pid + ": " + new String(kill.getInputStream().readAllBytes()))
                .isZero();
    }

    // ------------------------------------------------------------------------------------------------ failover

    @Test
    @Order(8)
    void failoverToANamedCandidateMakesItLeadAndTheOldLeaderFollows() throws Exception {
        runs(Op.FAILOVER);
        AgentProcess leader = cluster.ensureHealthy();
        AgentProcess candidate = cluster.others(leader).get(1);
        // Without --leader patronictl sends POST /failover naming the current leader; pgha (as Patroni) takes that
        // as a switchover to the candidate.
        PatroniCtl.Run r = ctl.run("failover", cluster.scope, "--candidate", candidate.name, "--force").ok();
        assertThat(r.output()).contains("Successfully failed over to \"" + candidate.name + "\"");
        assertThat(cluster.awaitHealthy(Duration.ofSeconds(90))).isEqualTo(candidate);
        assertThat(Sql.isPrimary(candidate)).as(candidate.name + " is primary").isTrue();
        assertThat(Sql.inRecovery(leader)).as("the old leader " + leader.name + " in recovery").isTrue();
        writeReachesEveryReplica(candidate, "after-failover-");
    }

    // ------------------------------------------------------------------------------------------------ switchover

    @Test
    @Order(9)
    void aSwitchoverScheduledShortlyAheadHappensAfterItsTime() throws Exception {
        runs(Op.SWITCHOVER_SCHEDULED_SOON);
        AgentProcess leader = cluster.ensureHealthy();
        AgentProcess candidate = cluster.others(leader).get(0);

        // One soon: the leader keeps the key until the time, the candidate leads after it.
        OffsetDateTime soon = OffsetDateTime.now(ZoneOffset.UTC).plusSeconds(20).truncatedTo(ChronoUnit.SECONDS);
        ctl.run("switchover", cluster.scope, "--candidate", candidate.name, "--scheduled", soon.toString(),
                "--force").ok();
        try {
            while (Instant.now().isBefore(soon.toInstant().minusSeconds(2))) {
                assertThat(cluster.leaderName()).as("leader before the scheduled time").contains(leader.name);
                assertThat(cluster.view().failover().scheduledAt()).as("scheduled_at in the failover key before"
                        + " the scheduled time").isNotNull();
                Thread.sleep(1000);
            }
            await("the scheduled switchover to " + candidate.name).atMost(Duration.ofSeconds(90))
                    .pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                    .until(() -> cluster.leaderName().orElse("").equals(candidate.name));
        } catch (AssertionError | RuntimeException e) {
            // The agents' logs go with the cluster's directory: keep what the leader decided about the request.
            leader.logSince(0).lines().filter(l -> l.contains("switchover") || l.contains("failover"))
                    .forEach(l -> System.out.println("ops: " + leader.name + ": " + l));
            throw e;
        }
        assertThat(Instant.now()).as("when the candidate took the key").isAfterOrEqualTo(soon.toInstant());
        assertThat(cluster.awaitHealthy(Duration.ofSeconds(90))).isEqualTo(candidate);
        assertThat(Sql.inRecovery(leader)).as("the old leader " + leader.name + " in recovery").isTrue();
        assertThat(cluster.view().failover().isEmpty()).as("the failover key after the switchover").isTrue();
    }

    /**
     * Flushed before its time. Runs after the scheduled switchover above: a DELETE /switchover from patronictl that
     * reached a member late (patronictl tries the next member when one does not answer in time) clears whatever
     * request the key holds then, in Patroni as here.
     */
    @Test
    @Order(10)
    void aSwitchoverScheduledFarAheadIsListedAndFlushed() throws Exception {
        runs(Op.SWITCHOVER_SCHEDULED_FAR_AND_FLUSH);
        AgentProcess leader = cluster.ensureHealthy();
        AgentProcess candidate = cluster.others(leader).get(0);

        // One far ahead: in the failover key, shown by patronictl list, removed by flush (DELETE /switchover).
        OffsetDateTime far = OffsetDateTime.now(ZoneOffset.UTC).plusHours(2).truncatedTo(ChronoUnit.SECONDS);
        PatroniCtl.Run r = ctl.run("switchover", cluster.scope, "--candidate", candidate.name, "--scheduled",
                far.toString(), "--force").ok();
        assertThat(r.output()).contains("Switchover scheduled").doesNotContain("failed, details");
        FailoverRequest stored = cluster.view().failover();
        assertThat(stored.scheduledAt()).as("scheduled_at in the failover key").isNotNull();
        assertThat(stored.scheduledAt().toInstant()).isEqualTo(far.toInstant());
        assertThat(stored.candidate()).isEqualTo(candidate.name);
        assertThat(ctl.run("list").ok().output()).contains("Switchover scheduled at:");
        assertThat(ctl.run("flush", cluster.scope, "switchover", "--force").ok().output())
                .startsWith("Success: ");
        assertThat(cluster.view().failover().isEmpty()).as("the failover key after the flush").isTrue();
        assertThat(ctl.run("flush", cluster.scope, "switchover", "--force").ok().output())
                .contains("No pending scheduled switchover");
    }

    // ---------------------------------------------------------------------------------------- topology, dsn, query

    @Test
    @Order(11)
    void topologyShowsTheLeaderWithItsReplicasUnderIt() throws Exception {
        runs(Op.TOPOLOGY);
        AgentProcess leader = cluster.ensureHealthy();
        List<String> lines = ctl.run("topology", cluster.scope).ok().output().lines().toList();
        int leaderLine = indexOf(lines, "| " + leader.name + " ");
        assertThat(leaderLine).as("the leader's row in\n" + String.join("\n", lines)).isNotNegative();
        assertThat(lines.get(leaderLine)).contains("Leader");
        for (AgentProcess replica : cluster.others(leader)) {
            int row = indexOf(lines, "| + " + replica.name + " ");
            assertThat(row).as(replica.name + " under the leader in\n" + String.join("\n", lines))
                    .isGreaterThan(leaderLine);
            // patronictl 3.0.2 shows the member key's state: "running" for a replica (streaming only from 3.0.4).
            assertThat(lines.get(row)).contains("Replica").containsAnyOf("| running ", "| streaming ");
        }
    }

    @Test
    @Order(12)
    void dsnReachesTheLeader() throws Exception {
        runs(Op.DSN);
        AgentProcess leader = cluster.ensureHealthy();
        String dsn = ctl.run("dsn", cluster.scope).ok().output().trim();
        Map<String, String> kv = new java.util.HashMap<>();
        for (String pair : dsn.split("\\s+")) {
            String[] p = pair.split("=", 2);
            kv.put(p[0], p.length > 1 ? p[1] : "");
        }
        assertThat(kv).as("patronictl dsn printed " + dsn).containsKeys("host", "port");
        java.util.Properties props = new java.util.Properties();
        props.setProperty("user", "postgres");
        props.setProperty("password", leader.superuserPassword());
        try (Connection c = java.sql.DriverManager.getConnection("jdbc:postgresql://" + kv.get("host") + ":"
                + kv.get("port") + "/postgres", props); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery(), inet_server_port()")) {
            rs.next();
            assertThat(rs.getBoolean(1)).as("pg_is_in_recovery() through " + dsn).isFalse();
            assertThat(rs.getInt(2)).as("the server reached through " + dsn).isEqualTo(leader.pgPort);
        }
    }

    @Test
    @Order(13)
    void queryRunsOnTheLeader() throws Exception {
        runs(Op.QUERY);
        AgentProcess leader = cluster.ensureHealthy();
        String note = "by-patronictl-query-" + UUID.randomUUID();
        PatroniCtl.Run r = ctl.run(Map.of("PGPASSWORD", leader.superuserPassword()), "query", cluster.scope,
                "-U", "postgres", "-d", "postgres", "--format", "json", "-c",
                "SELECT pg_is_in_recovery() AS rec, inet_server_port() AS port, '" + note + "' AS note").ok();
        JsonNode rows = r.json();
        assertThat(rows.size()).as("rows from " + r.output()).isEqualTo(1);
        assertThat(rows.get(0).path("rec").asBoolean(true)).as("pg_is_in_recovery() in " + r.output()).isFalse();
        assertThat(rows.get(0).path("port").asInt()).as("server port in " + r.output()).isEqualTo(leader.pgPort);
        assertThat(rows.get(0).path("note").asText()).isEqualTo(note);
    }

    // ------------------------------------------------------------------------------------------------ reinit --force

    /**
     * Patroni's {@code force}: a reinitialize whose base backup crawls (the leader's PostgreSQL reached through a
     * proxy that holds every 16 KiB for 300 ms) is cut short by {@code patronictl reinit --force}: its pg_basebackup
     * is killed, the action ends as cancelled (not failed) and the forced reinitialize clones the replica again.
     */
    @Test
    @Order(14)
    void reinitForceCancelsAReinitWhoseBaseBackupCrawls() throws Exception {
        runs(Op.REINIT_FORCE);
        AgentProcess leader = cluster.ensureHealthy();
        AgentProcess replica = cluster.others(leader).get(0);
        long logFrom = replica.logMark();
        try {
            leader.pgProxy.latency(Duration.ofMillis(300));
            AgentProcess.Reply slow = replica.post("/reinitialize", "{}");
            assertThat(slow.status()).as(slow.body()).isEqualTo(200);
            await("a pg_basebackup runs on " + replica.name).atMost(Duration.ofSeconds(15))
                    .pollInterval(Duration.ofMillis(200)).until(() -> basebackupRunning(replica));
            assertThat(replica.status().path("state").asText()).isEqualTo("creating replica");
            AgentProcess.Reply refused = replica.post("/reinitialize", "{}");
            assertThat(refused.status()).isEqualTo(503);
            assertThat(refused.body()).isEqualTo("re-clone already in progress");

            PatroniCtl.Run r = ctl.run("reinit", cluster.scope, replica.name, "--force").ok();
            assertThat(r.output()).contains("Success: reinitialize for member " + replica.name);
            assertThat(replica.logSince(logFrom)).contains("re-clone cancelled for the operator's forced reinitialize")
                    .doesNotContain("re-clone failed");
        } finally {
            leader.pgProxy.latency(Duration.ZERO);
        }
        assertThat(cluster.awaitHealthy(Duration.ofSeconds(120))).isEqualTo(leader);
        String note = "after-forced-reinit-" + UUID.randomUUID();
        Sql.insert(leader, note);
        awaitReplicated(note, List.of(replica));
        assertThat(replica.logSince(logFrom).split("reinitializing as the operator asked", -1).length - 1)
                .as("reinitializations begun").isGreaterThanOrEqualTo(2);
    }

    /** A pg_basebackup writing into {@code m}'s data directory runs now. */
    private static boolean basebackupRunning(AgentProcess m) {
        return ProcessHandle.allProcesses().anyMatch(h -> h.info().commandLine()
                .map(c -> c.contains("pg_basebackup") && c.contains(m.dataDir.toString())).orElse(false));
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static int indexOf(List<String> lines, String fragment) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains(fragment)) {
                return i;
            }
        }
        return -1;
    }

    private Optional<JsonNode> listRow(AgentProcess m) throws Exception {
        for (JsonNode row : ctl.run("list", "-f", "json").ok().json()) {
            if (row.path("Member").asText().equals(m.name)) {
                return Optional.of(row);
            }
        }
        return Optional.empty();
    }

    private static Instant postmasterStart(PgServer m) throws SQLException {
        try (Connection c = m.sql(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT pg_postmaster_start_time()")) {
            rs.next();
            return rs.getTimestamp(1).toInstant();
        }
    }

    private static void exec(PgServer m, String sql) throws SQLException {
        try (Connection c = m.sql(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    /** A row committed on {@code primary} shows on every other member: they all follow it. */
    private void writeReachesEveryReplica(AgentProcess primary, String notePrefix) throws SQLException {
        String note = notePrefix + UUID.randomUUID();
        Sql.insert(primary, note);
        awaitReplicated(note, cluster.others(primary));
    }

    private static void awaitReplicated(String note, List<AgentProcess> replicas) {
        for (AgentProcess r : replicas) {
            await(note + " on " + r.name).atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                    .ignoreExceptions().until(() -> Sql.hasNote(r, note));
        }
    }

    /** Reads the leader key every 100 ms while open: every holder seen, "(none)" for a moment without one. */
    private static final class LeaderKeyWatch implements AutoCloseable {
        private final Set<String> holders = java.util.Collections.synchronizedSet(new LinkedHashSet<>());
        private final List<String> errors = new ArrayList<>();
        private final AtomicBoolean stop = new AtomicBoolean();
        private final Thread thread;

        LeaderKeyWatch(E2eCluster cluster) {
            thread = new Thread(() -> {
                while (!stop.get()) {
                    try {
                        holders.add(cluster.leaderName().orElse("(none)"));
                    } catch (Exception e) {
                        synchronized (errors) {
                            errors.add(e.toString());
                        }
                    }
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "ops-leader-key-watch");
            thread.setDaemon(true);
            thread.start();
        }

        Set<String> holders() {
            return Set.copyOf(holders);
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join(5000);
            if (!errors.isEmpty()) {
                System.out.println("ops: leader key reads that failed: " + errors);
            }
        }
    }
}
