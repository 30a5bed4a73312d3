package io.pgha.core.internal.rest;

import static io.pgha.core.internal.rest.RestFixture.M3_POSITION;
import static io.pgha.core.internal.rest.RestFixture.OPTIME;
import static io.pgha.core.internal.rest.RestFixture.map;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.ParameterChange;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.ServerFacts;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.RestSettings;
import io.pgha.core.config.SynchronousMode;
import io.pgha.core.config.Tags;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The read-only endpoints over real HTTP: status JSON, health checks, cluster, history, config, failsafe. */
class RestStatusEndpointsTest {

    private final RestFixture fx = new RestFixture().standard();

    @AfterEach
    void close() {
        fx.close();
    }

    private Http serve(NodeStatus s) {
        return Http.to(fx.serve(fx.backend(s), RestFixture.rest()));
    }

    private static void expect(Http http, int status, String... paths) {
        for (String p : paths) {
            assertThat(http.get(p).status()).as("GET " + p).isEqualTo(status);
        }
    }

    // ------------------------------------------------------------------------------------------------ /patroni

    @Test
    void primaryStatusCarriesLocationTimelineReplicationAndIdentity() {
        JsonNode j = serve(fx.primary()).get("/patroni").json();

        assertThat(j.get("state").asText()).isEqualTo("running");
        assertThat(j.get("role").asText()).isEqualTo("primary");
        assertThat(j.get("xlog").get("location").asLong()).isEqualTo(OPTIME.value());
        assertThat(j.get("xlog").has("received_location")).isFalse();
        assertThat(j.get("timeline").asInt()).isEqualTo(2);
        assertThat(j.get("replication")).hasSize(2);
        assertThat(j.get("replication").get(0).get("application_name").asText()).isEqualTo("m2");
        assertThat(j.get("replication").get(0).get("state").asText()).isEqualTo("streaming");
        assertThat(j.get("database_system_identifier").asText()).isEqualTo(RestFixture.SYSID);
        assertThat(j.get("dcs_last_seen").asLong()).isPositive();
        assertThat(j.get("patroni").get("scope").asText()).isEqualTo("demo");
        assertThat(j.get("patroni").get("name").asText()).isEqualTo("m1");
        // The Patroni API level clients choose state names by, and pgha's own version in a field of its own.
        assertThat(j.get("patroni").get("version").asText()).isEqualTo("4.0.7");
        assertThat(j.get("pgha").get("version").asText()).isEqualTo(RestSettings.PGHA_VERSION);
        assertThat(j.has("cluster_unlocked")).isFalse();
        assertThat(j.has("pause")).isFalse();
        assertThat(j.has("failsafe_mode_is_active")).isFalse();
    }

    @Test
    void replicaStatusCarriesReceivedAndReplayedPositions() {
        JsonNode j = serve(fx.replica("m3", M3_POSITION)).get("/patroni").json();

        assertThat(j.get("role").asText()).isEqualTo("replica");
        assertThat(j.get("xlog").has("location")).isFalse();
        assertThat(j.get("xlog").get("received_location").asLong()).isEqualTo(M3_POSITION.value());
        assertThat(j.get("xlog").get("replayed_location").asLong()).isEqualTo(M3_POSITION.value());
        assertThat(j.get("xlog").get("paused").asBoolean()).isFalse();
        assertThat(j.get("xlog").has("replayed_timestamp")).isTrue();
        assertThat(j.get("replication_state").asText()).isEqualTo("streaming");
        assertThat(j.has("replication")).isFalse();
    }

    /**
     * Issue 12: a replica whose replay PostgreSQL paused (its settings lower than the new primary's) still receives
     * WAL; it must not be reported streaming, nor ready.
     */
    @Test
    void aReplicaWhoseReplayPausedIsNotReportedStreaming() {
        PgState r = RestFixture.replicaPg(OPTIME, true);
        PgState paused = new PgState(r.dataDir(), r.run(), r.role(), r.systemId(), r.timeline(), r.walPosition(),
                r.receiveLsn(), r.replayLsn(), r.upstream(), true, r.replication(), r.synchronousStandbyNames(),
                r.pendingRestart(), r.detail(), true);
        Http http = serve(Snap.of(fx.replica("m2", OPTIME)).pg(paused).build());

        JsonNode j = http.get("/patroni").json();
        assertThat(j.get("xlog").get("paused").asBoolean()).isTrue();
        assertThat(j.has("replication_state")).as("replication_state of " + j).isFalse();
        expect(http, 503, "/readiness", "/replica?replication_state=streaming");
        assertThat(http.get("/metrics").body()).contains("patroni_postgres_streaming{scope=\"demo\",name=\"m2\"} 0");
    }

    /**
     * Issue 12: Patroni 3.3+'s {@code pending_restart_reason} next to the flag, one object per parameter with the
     * value in force and the one a restart brings, both as PostgreSQL shows them.
     */
    @Test
    void aPendingRestartSaysWhichParametersWaitWithTheirOldAndNewValues() {
        PgState r = RestFixture.replicaPg(OPTIME, true);
        Map<String, ParameterChange> reason = Map.of("shared_buffers", new ParameterChange("128MB", "24MB"),
                "max_connections", new ParameterChange("100", "200"));
        PgState pending = new PgState(r.dataDir(), r.run(), r.role(), r.systemId(), r.timeline(), r.walPosition(),
                r.receiveLsn(), r.replayLsn(), r.upstream(), r.streaming(), r.replication(),
                r.synchronousStandbyNames(), true, r.detail(), false, new ServerFacts(null, 150004, null, reason));

        JsonNode j = serve(Snap.of(fx.replica("m2", OPTIME)).pg(pending).build()).get("/patroni").json();
        assertThat(j.get("pending_restart").asBoolean()).isTrue();
        JsonNode shown = j.get("pending_restart_reason");
        assertThat(shown.toString()).isEqualTo("{\"max_connections\":{\"old_value\":\"100\",\"new_value\":\"200\"},"
                + "\"shared_buffers\":{\"old_value\":\"128MB\",\"new_value\":\"24MB\"}}");

        JsonNode none = serve(fx.replica("m2", OPTIME)).get("/patroni").json();
        assertThat(none.has("pending_restart")).isFalse();
        assertThat(none.has("pending_restart_reason")).isFalse();
    }

    @Test
    void stoppedNodeReportsOnlyStateRoleAndFlags() {
        NodeStatus s = Snap.of(fx.primary()).pg(RestFixture.stoppedPg(Role.REPLICA)).holdsLease(false)
                .build();
        Http http = serve(s);
        Http.Resp r = http.get("/patroni");

        assertThat(r.status()).isEqualTo(200);
        JsonNode j = r.json();
        assertThat(j.get("state").asText()).isEqualTo("stopped");
        assertThat(j.get("role").asText()).isEqualTo("replica");
        assertThat(j.has("xlog")).isFalse();
        assertThat(j.has("timeline")).isFalse();
        assertThat(j.has("database_system_identifier")).isFalse();
        assertThat(j.get("patroni").get("name").asText()).isEqualTo("m1");
        expect(http, 503, "/primary", "/leader", "/replica", "/read-only", "/health");
    }

    @Test
    void aLongActionShowsAsTheMemberStateAndIsNotHealthy() {
        Http http = serve(Snap.of(fx.replica("m2", OPTIME)).busy(LongAction.CREATE_REPLICA).build());

        JsonNode j = http.get("/patroni").json();
        assertThat(j.get("state").asText()).isEqualTo("creating replica");
        assertThat(j.has("xlog")).isFalse();
        expect(http, 503, "/health", "/replica");
    }

    @Test
    void emptyDataDirectoryIsUninitialized() {
        JsonNode j = serve(Snap.of(fx.replica("m2", OPTIME)).pg(PgState.empty()).build()).get("/patroni").json();
        assertThat(j.get("role").asText()).isEqualTo("uninitialized");
        assertThat(j.get("state").asText()).isEqualTo("stopped");
    }

    @Test
    void flagsForUnlockedPausedAndFailsafe() {
        fx.config(map("pause", true));
        NodeStatus s = Snap.of(fx.replica("m2", OPTIME)).view(fx.store.peek().withLeader(null))
                .failsafeActive(true).build();
        JsonNode j = serve(s).get("/patroni").json();

        assertThat(j.get("pause").asBoolean()).isTrue();
        assertThat(j.get("cluster_unlocked").asBoolean()).isTrue();
        assertThat(j.get("failsafe_mode_is_active").asBoolean()).isTrue();
    }

    @Test
    void tagsArePublishedAsPatroniDoes() {
        NodeStatus s = Snap.of(fx.replica("m2", OPTIME)).settings(HaSettings.builder("demo", "m2")
                .tags(Tags.DEFAULT.withNofailover(true).withCustom("zone", "EU")).build()).build();
        JsonNode tags = serve(s).get("/patroni").json().get("tags");
        assertThat(tags.get("nofailover").asBoolean()).isTrue();
        assertThat(tags.get("zone").asText()).isEqualTo("EU");
    }

    // ------------------------------------------------------------------------------------------------ health checks

    @Test
    void primaryWithLeaseAnswersTheWriteChecks() {
        Http http = serve(fx.primary());

        expect(http, 200, "/", "/primary", "/primary/", "/read-write", "/master", "/leader", "/read-only",
                "/read-only-sync", "/health");
        expect(http, 503, "/replica", "/sync", "/synchronous", "/async", "/asynchronous", "/standby-leader",
                "/standby_leader");
        Http.Resp r = http.get("/primary");
        assertThat(r.json().get("role").asText()).as("health checks carry the status JSON").isEqualTo("primary");
        assertThat(http.get("/replica").json().get("role").asText()).isEqualTo("primary");
    }

    @Test
    void primaryWhoseLeaseRanOutIsNotWritableAlthoughPostgresStillRuns() {
        Http http = serve(Snap.of(fx.primary()).holdsLease(false).build());

        expect(http, 503, "/", "/primary", "/read-write", "/leader", "/read-only");
        expect(http, 200, "/health", "/patroni");
    }

    @Test
    void replicaAnswersTheReadChecks() {
        Http http = serve(fx.replica("m2", OPTIME));

        expect(http, 200, "/replica", "/read-only", "/async", "/asynchronous", "/health");
        expect(http, 503, "/", "/primary", "/leader", "/sync", "/read-only-sync");
    }

    @Test
    void replicaLagFilterComparesWithTheLeadersPublishedPosition() {
        Http m3 = serve(fx.replica("m3", M3_POSITION));

        expect(m3, 200, "/replica", "/replica?lag=4MB", "/replica?lag=3145728", "/read-only?lag=4MB",
                "/async?lag=10MB");
        expect(m3, 503, "/replica?lag=1MB", "/replica?lag=3145727", "/replica?lag=16kB", "/read-only?lag=1MB",
                "/async?lag=1MB");
        assertThat(m3.get("/replica?lag=lots").status()).isEqualTo(400);
        assertThat(m3.get("/replica?lag=lots").body()).contains("lag");
    }

    @Test
    void tagFiltersAndNoloadbalance() {
        HaSettings tagged = HaSettings.builder("demo", "m2")
                .tags(Tags.DEFAULT.withCustom("zone", "EU").withClonefrom(true)).build();
        Http http = serve(Snap.of(fx.replica("m2", OPTIME)).settings(tagged).build());

        expect(http, 200, "/replica?tag_zone=EU", "/replica?tag_clonefrom=true", "/replica?tag_zone=EU&lag=1MB");
        expect(http, 503, "/replica?tag_zone=US", "/replica?tag_zone=eu", "/replica?tag_rack=1",
                "/replica?tag_clonefrom=false");

        HaSettings nolb = HaSettings.builder("demo", "m3")
                .tags(Tags.DEFAULT.withNoloadbalance(true)).build();
        Http m3 = serve(Snap.of(fx.replica("m3", M3_POSITION)).settings(nolb).build());
        expect(m3, 503, "/replica", "/read-only", "/async");
        expect(m3, 200, "/health");
    }

    @Test
    void synchronousStandbyAnswersSyncChecks() {
        fx.config(map("synchronous_mode", true)).sync("m1", "m2");
        HaSettings sync = HaSettings.builder("demo", "m2")
                .synchronousMode(SynchronousMode.ON).build();
        Http m2 = serve(Snap.of(fx.replica("m2", OPTIME)).settings(sync).view(fx.store.peek()).build());

        expect(m2, 200, "/sync", "/synchronous", "/read-only-sync", "/replica");
        expect(m2, 503, "/async", "/asynchronous");
        assertThat(m2.get("/patroni").json().get("sync_standby").asBoolean()).isTrue();

        HaSettings sync3 = HaSettings.builder("demo", "m3")
                .synchronousMode(SynchronousMode.ON).build();
        Http m3 = serve(Snap.of(fx.replica("m3", M3_POSITION)).settings(sync3).view(fx.store.peek()).build());
        expect(m3, 503, "/sync", "/read-only-sync");
        expect(m3, 200, "/async");
        assertThat(m3.get("/patroni").json().has("sync_standby")).isFalse();
    }

    @Test
    void headAndOptionsAnswerTheCodeWithoutABody() {
        Http primary = serve(fx.primary());
        for (String path : List.of("/primary", "/replica", "/patroni", "/liveness", "/cluster")) {
            Http.Resp head = primary.head(path);
            Http.Resp get = primary.get(path);
            Http.Resp options = primary.options(path);
            assertThat(head.status()).as("HEAD " + path).isEqualTo(get.status());
            assertThat(options.status()).as("OPTIONS " + path).isEqualTo(get.status());
            assertThat(head.body()).as("HEAD " + path).isEmpty();
            assertThat(options.body()).as("OPTIONS " + path).isEmpty();
        }
        assertThat(primary.head("/primary").status()).isEqualTo(200);
        assertThat(primary.options("/replica").status()).isEqualTo(503);
    }

    @Test
    void livenessFollowsTheHaLoopWithTtlOnThePrimaryAndTwiceTtlOnReplicas() {
        Http fresh = serve(fx.primary());
        Http.Resp r = fresh.get("/liveness");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).isEmpty();

        Http stalePrimary = serve(Snap.of(fx.primary()).sinceLastCycle(Duration.ofSeconds(31)).build());
        assertThat(stalePrimary.get("/liveness").status()).isEqualTo(503);

        Http slowReplica = serve(Snap.of(fx.replica("m2", OPTIME)).sinceLastCycle(Duration.ofSeconds(31)).build());
        assertThat(slowReplica.get("/liveness").status()).isEqualTo(200);

        Http staleReplica = serve(Snap.of(fx.replica("m2", OPTIME)).sinceLastCycle(Duration.ofSeconds(61)).build());
        assertThat(staleReplica.get("/liveness").status()).isEqualTo(503);
    }

    @Test
    void readinessNeedsTheLockOrAStreamingReplicaWithinTheLag() {
        expect(serve(fx.primary()), 200, "/readiness");

        Http m2 = serve(fx.replica("m2", OPTIME));
        expect(m2, 200, "/readiness", "/readiness?mode=write", "/readiness?lag=0");
        assertThat(m2.get("/readiness").body()).isEmpty();
        assertThat(m2.get("/readiness?mode=replay").status()).isEqualTo(400);

        Http m3 = serve(fx.replica("m3", M3_POSITION));
        expect(m3, 503, "/readiness", "/readiness?lag=1MB");
        expect(m3, 200, "/readiness?lag=4MB");

        Http notStreaming = serve(Snap.of(fx.replica("m2", OPTIME)).pg(RestFixture.replicaPg(OPTIME, false)).build());
        expect(notStreaming, 503, "/readiness");
        expect(notStreaming, 200, "/replica");
    }

    @Test
    void pausedClusterIsAliveAndFallsBackToTheLocalRoleWithoutTheDcs() {
        fx.config(map("pause", true));
        NodeStatus paused = Snap.of(fx.primary()).view(fx.store.peek()).dcsReachable(false).holdsLease(false)
                .sinceLastCycle(Duration.ofMinutes(5)).build();
        Http http = serve(paused);

        expect(http, 200, "/liveness", "/primary", "/leader");
        assertThat(http.get("/patroni").json().get("pause").asBoolean()).isTrue();
    }

    @Test
    void dcsUnreachable() {
        NodeStatus cutOff = Snap.of(fx.primary()).dcsReachable(false).holdsLease(false).build();
        Http http = serve(cutOff);
        fx.store.outage(true);

        assertThat(http.get("/patroni").status()).isEqualTo(200);
        expect(http, 503, "/primary", "/leader");
        Http.Resp cluster = http.get("/cluster");
        assertThat(cluster.status()).isEqualTo(503);
        assertThat(cluster.body()).contains("DCS is not accessible");
        expect(http, 503, "/config", "/history");
    }

    // ------------------------------------------------------------------------------------------------ cluster info

    @Test
    void clusterListsTheLeaderFirstWithRolesStatesAndLag() {
        JsonNode j = serve(fx.replica("m2", OPTIME)).get("/cluster").json();

        assertThat(j.get("scope").asText()).isEqualTo("demo");
        JsonNode ms = j.get("members");
        assertThat(ms).hasSize(3);
        assertThat(ms.get(0).get("name").asText()).isEqualTo("m1");
        assertThat(ms.get(0).get("role").asText()).isEqualTo("leader");
        assertThat(ms.get(0).get("state").asText()).isEqualTo("running");
        assertThat(ms.get(0).has("lag")).isFalse();
        assertThat(ms.get(0).get("host").asText()).isEqualTo("10.0.0.1");
        assertThat(ms.get(0).get("port").asInt()).isEqualTo(5432);
        assertThat(ms.get(0).get("api_url").asText()).isEqualTo("http://10.0.0.1:8008/patroni");
        assertThat(ms.get(0).get("timeline").asInt()).isEqualTo(2);
        assertThat(ms.get(1).get("name").asText()).isEqualTo("m2");
        assertThat(ms.get(1).get("role").asText()).isEqualTo("replica");
        assertThat(ms.get(1).get("state").asText()).isEqualTo("streaming");
        assertThat(ms.get(1).get("lag").asLong()).isZero();
        assertThat(ms.get(2).get("lag").asLong()).isEqualTo(3L * 1024 * 1024);
        assertThat(j.has("pause")).isFalse();
        assertThat(j.has("scheduled_switchover")).isFalse();
    }

    @Test
    void clusterMarksALeaderThatDrainsBeforeAPlannedSwitchover() {
        Member m1 = RestFixture.member("m1", Role.PRIMARY, OPTIME, Tags.DEFAULT);
        fx.touch(new Member(m1.name(), m1.connUrl(), m1.apiUrl(), m1.state(), m1.role(), m1.xlogLocation(), null,
                null, null, m1.timeline(), m1.tags(), false, false, true, Map.of(), DcsVersion.ABSENT));
        JsonNode ms = serve(fx.replica("m2", OPTIME)).get("/cluster").json().get("members");

        assertThat(ms.get(0).get("name").asText()).isEqualTo("m1");
        assertThat(ms.get(0).get("pgha_draining").asBoolean()).isTrue();
        assertThat(ms.get(1).has("pgha_draining")).isFalse();
    }

    @Test
    void clusterListsAMembersScheduledRestartAsItsMemberKeyHoldsIt() {
        Member m3 = RestFixture.member("m3", Role.REPLICA, M3_POSITION, Tags.DEFAULT);
        Map<String, Object> scheduled = Map.of("schedule", "2099-01-02T03:04:05+00:00", "postgres_version", "99.0");
        fx.touch(new Member(m3.name(), m3.connUrl(), m3.apiUrl(), m3.state(), m3.role(), m3.xlogLocation(), null,
                null, null, m3.timeline(), m3.tags(), false, false, Map.of("scheduled_restart", scheduled), -1));
        JsonNode ms = serve(fx.replica("m2", OPTIME)).get("/cluster").json().get("members");

        JsonNode shown = null;
        for (JsonNode m : ms) {
            assertThat(m.has("scheduled_restart")).as(m.get("name").asText()).isEqualTo(m.get("name").asText()
                    .equals("m3"));
            shown = m.get("name").asText().equals("m3") ? m.get("scheduled_restart") : shown;
        }
        assertThat(shown.get("schedule").asText()).isEqualTo("2099-01-02T03:04:05+00:00");
        assertThat(shown.get("postgres_version").asText()).isEqualTo("99.0");
    }

    @Test
    void clusterListsAMembersPendingRestartReasonAsItsMemberKeyHoldsIt() {
        Member m3 = RestFixture.member("m3", Role.REPLICA, M3_POSITION, Tags.DEFAULT);
        Map<String, Object> reason = ParameterChange.patroniJson(
                Map.of("shared_buffers", new ParameterChange("128MB", "24MB")));
        fx.touch(new Member(m3.name(), m3.connUrl(), m3.apiUrl(), m3.state(), m3.role(), m3.xlogLocation(), null,
                null, null, m3.timeline(), m3.tags(), true, false, Map.of("pending_restart_reason", reason), -1));
        JsonNode ms = serve(fx.replica("m2", OPTIME)).get("/cluster").json().get("members");

        JsonNode shown = null;
        for (JsonNode m : ms) {
            boolean isM3 = m.get("name").asText().equals("m3");
            assertThat(m.has("pending_restart")).as(m.get("name").asText()).isEqualTo(isM3);
            assertThat(m.has("pending_restart_reason")).as(m.get("name").asText()).isEqualTo(isM3);
            shown = isM3 ? m.get("pending_restart_reason") : shown;
        }
        assertThat(shown.toString())
                .isEqualTo("{\"shared_buffers\":{\"old_value\":\"128MB\",\"new_value\":\"24MB\"}}");
    }

    @Test
    void clusterShowsSyncStandbysPauseScheduledSwitchoverAndUnknownLag() {
        fx.config(map("synchronous_mode", true, "pause", true)).sync("m1", "m2");
        OffsetDateTime at = OffsetDateTime.of(2099, 1, 2, 3, 4, 5, 0, ZoneOffset.UTC);
        fx.store.adminWriteFailover(new FailoverRequest("m1", "m2", at, -1));
        fx.touch(new Member("m3", "postgres://10.0.0.3:5432/postgres", null, "starting",
                Role.REPLICA, null, null, null, null, 0, Tags.DEFAULT, false, false, Map.of(), -1));
        HaSettings sync = HaSettings.builder("demo", "m2")
                .synchronousMode(SynchronousMode.ON).build();
        JsonNode j = serve(Snap.of(fx.replica("m2", OPTIME)).settings(sync).build()).get("/cluster").json();

        assertThat(j.get("members").get(1).get("role").asText()).isEqualTo("sync_standby");
        assertThat(j.get("members").get(2).get("role").asText()).isEqualTo("replica");
        assertThat(j.get("members").get(2).get("lag").asText()).isEqualTo("unknown");
        assertThat(j.get("members").get(2).get("state").asText()).isEqualTo("starting");
        assertThat(j.get("pause").asBoolean()).isTrue();
        assertThat(j.get("scheduled_switchover").get("at").asText()).isEqualTo(at.toString());
        assertThat(j.get("scheduled_switchover").get("from").asText()).isEqualTo("m1");
        assertThat(j.get("scheduled_switchover").get("to").asText()).isEqualTo("m2");
    }

    @Test
    void historyConfigAndFailsafe() {
        Http http = serve(fx.replica("m2", OPTIME));

        JsonNode h = http.get("/history").json();
        assertThat(h).hasSize(1);
        assertThat(h.get(0).get(0).asInt()).isEqualTo(1);
        assertThat(h.get(0).get(1).asLong()).isEqualTo(0x3000000L);
        assertThat(h.get(0).get(4).asText()).isEqualTo("m1");

        JsonNode c = http.get("/config").json();
        assertThat(c.get("ttl").asInt()).isEqualTo(30);
        assertThat(c.get("maximum_lag_on_failover").asLong()).isEqualTo(1048576L);

        Http.Resp off = http.get("/failsafe");
        assertThat(off.status()).isEqualTo(502);
        assertThat(off.body()).contains("failsafe mode is not enabled");

        NodeStatus on = Snap.of(fx.replica("m2", OPTIME)).settings(HaSettings
                .builder("demo", "m2").failsafeMode(true).build())
                .view(fx.store.peek().withFailsafe(Map.of("m1", "http://10.0.0.1:8008/patroni",
                        "m2", "http://10.0.0.2:8008/patroni"))).build();
        JsonNode fs = serve(on).get("/failsafe").json();
        assertThat(fs.get("m1").asText()).isEqualTo("http://10.0.0.1:8008/patroni");
        assertThat(fs.size()).isEqualTo(2);
    }

    @Test
    void configIsBadGatewayWhenTheKeyIsMissing() {
        try (RestFixture empty = new RestFixture()) {
            RestApi api = empty.serve(empty.backend(empty.snapshot("m1", RestFixture.primaryPg(OPTIME), false)),
                    RestFixture.rest());
            Http.Resp r = Http.to(api).get("/config");
            assertThat(r.status()).isEqualTo(502);
            assertThat(Http.to(api).get("/history").json()).isEmpty();
        }
    }

    @Test
    void unknownAndUnsupportedEndpoints() {
        Http http = serve(fx.primary());

        assertThat(http.get("/nope").status()).isEqualTo(404);
        assertThat(http.post("/patroni", "{}").status()).isEqualTo(405);
        assertThat(http.post("/citus", "{}").status()).isEqualTo(501);
        assertThat(http.post("/metrics", "{}").status()).isEqualTo(405);
        assertThat(http.send("TRACE", "/patroni", null).status()).isEqualTo(405);
    }
}
