package io.pgha.core.internal.rest;

import static io.pgha.core.internal.rest.RestFixture.M3_POSITION;
import static io.pgha.core.internal.rest.RestFixture.OPTIME;
import static io.pgha.core.internal.rest.RestFixture.map;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.RestSettings;
import io.pgha.core.config.SynchronousMode;
import io.pgha.core.internal.ha.FailsafePingVerdict;
import io.pgha.core.internal.ha.PeerStatus;
import io.pgha.core.spi.DcsUnavailableException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The mutating endpoints over real HTTP: authentication, config changes, switchover and failover, failsafe. */
class RestMutationsTest {

    private final RestFixture fx = new RestFixture().standard();

    @AfterEach
    void close() {
        fx.close();
    }

    private static PeerStatus replica(String name, Lsn at) {
        return new PeerStatus(name, true, true, at, 2, false, 1);
    }

    /** m1 (the primary) serving, with m2 and m3 answering as healthy replicas. */
    private TestBackend primaryBackend() {
        TestBackend b = fx.backend(fx.primary());
        b.peers(Map.of("m2", replica("m2", OPTIME), "m3", replica("m3", M3_POSITION)));
        return b;
    }

    private Http serve(TestBackend b) {
        return Http.to(fx.serve(b, RestFixture.rest().switchoverTimeout(Duration.ofSeconds(2))
                .switchoverPoll(Duration.ofMillis(20))));
    }

    // ------------------------------------------------------------------------------------------------ auth

    @Test
    void mutatingRequestsNeedTheCredentialsReadsDoNot() {
        Credentials creds = new Credentials("admin", "s3cret");
        RestApi api = fx.serve(primaryBackend(), RestFixture.rest().credentials(creds));
        Http anonymous = Http.anonymous(api);

        Http.Resp denied = anonymous.post("/switchover", "{\"leader\":\"m1\"}");
        assertThat(denied.status()).isEqualTo(401);
        assertThat(denied.header("WWW-Authenticate")).startsWith("Basic");
        assertThat(anonymous.patch("/config", "{\"loop_wait\":5}").status()).isEqualTo(401);
        assertThat(anonymous.put("/config", "{}").status()).isEqualTo(401);
        assertThat(anonymous.delete("/switchover").status()).isEqualTo(401);
        assertThat(anonymous.withAuth(new Credentials("admin", "wrong")).patch("/config", "{}").status())
                .isEqualTo(401);
        assertThat(anonymous.withAuth(new Credentials("admin2", "s3cret")).patch("/config", "{}").status())
                .isEqualTo(401);
        assertThat(anonymous.withAuthHeader("Bearer s3cret").patch("/config", "{}").status()).isEqualTo(401);
        assertThat(fx.store.peek().config().loopWait()).contains(Duration.ofSeconds(10));

        assertThat(anonymous.get("/patroni").status()).isEqualTo(200);
        assertThat(anonymous.get("/config").status()).isEqualTo(200);
        assertThat(anonymous.head("/primary").status()).isEqualTo(200);

        Http.Resp ok = anonymous.withAuth(creds).patch("/config", "{\"loop_wait\":5}");
        assertThat(ok.status()).isEqualTo(200);
        assertThat(fx.store.peek().config().loopWait()).contains(Duration.ofSeconds(5));
    }

    @Test
    void failoverNeedsTheRightCredentials() {
        TestBackend b = primaryBackend();
        b.afterFailoverWrite(() -> handOver("m2"));
        RestApi api = fx.serve(b, RestFixture.rest().switchoverPoll(Duration.ofMillis(20)));
        String body = "{\"candidate\":\"m2\"}";

        Http.Resp anonymous = Http.anonymous(api).post("/failover", body);
        assertThat(anonymous.status()).isEqualTo(401);
        assertThat(anonymous.header("WWW-Authenticate")).isEqualTo("Basic realm=\"pgha\"");
        Http.Resp wrong = Http.anonymous(api).withAuth(new Credentials(RestFixture.CREDENTIALS.username(), "guess"))
                .post("/failover", body);
        assertThat(wrong.status()).isEqualTo(401);
        assertThat(wrong.header("WWW-Authenticate")).startsWith("Basic");
        assertThat(fx.store.peek().failover().isEmpty()).as("nothing was written").isTrue();
        assertThat(fx.store.leaderHeldBy("m1")).isTrue();

        String lowerCaseScheme = "basic " + RestFixture.CREDENTIALS.header().substring("Basic ".length());
        Http.Resp ok = Http.anonymous(api).withAuthHeader(lowerCaseScheme).post("/failover", body);
        assertThat(ok.status()).as(ok.body()).isEqualTo(200);
        assertThat(ok.body()).isEqualTo("Successfully failed over to \"m2\"");
        assertThat(fx.store.leaderHeldBy("m2")).isTrue();
    }

    @Test
    void allowUnauthenticatedOpensTheMutatingEndpointsAndSaysSoAtStart() {
        TestBackend b = primaryBackend();
        b.afterFailoverWrite(() -> handOver("m2"));
        PrintStream stderr = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        RestApi api;
        // slf4j-simple writes to whatever System.err is at the time of the call.
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            api = fx.serve(b, RestSettings.builder().allowUnauthenticated().switchoverPoll(Duration.ofMillis(20)));
        } finally {
            System.setErr(stderr);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        assertThat(log).contains("WARN").contains("WITHOUT authentication").contains("POST /failover")
                .contains("PATCH /config").contains("POST /failsafe");

        Http.Resp r = Http.anonymous(api).post("/failover", "{\"candidate\":\"m2\"}");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(fx.store.leaderHeldBy("m2")).isTrue();
    }

    @Test
    void credentialsNeverShowTheirPassword() {
        assertThat(new Credentials("admin", "s3cret").toString()).doesNotContain("s3cret");
    }

    // ------------------------------------------------------------------------------------------------ config

    @Test
    void patchConfigMergesWritesWithCasAndWakesTheLoop() {
        TestBackend b = primaryBackend();
        Http http = serve(b);

        Http.Resp r = http.patch("/config",
                "{\"loop_wait\": 5, \"postgresql\": {\"parameters\": {\"work_mem\": \"8MB\"}}}");
        assertThat(r.status()).isEqualTo(200);
        JsonNode j = r.json();
        assertThat(j.get("loop_wait").asInt()).isEqualTo(5);
        assertThat(j.get("ttl").asInt()).as("untouched keys stay").isEqualTo(30);
        assertThat(j.get("postgresql").get("use_pg_rewind").asBoolean()).as("objects merge").isTrue();
        assertThat(fx.store.peek().config().postgresParameters()).containsEntry("work_mem", "8MB");
        assertThat(b.wakeups.get()).isEqualTo(1);

        Http.Resp removed = http.patch("/config", "{\"loop_wait\": null, \"pause\": true}");
        assertThat(removed.status()).isEqualTo(200);
        assertThat(fx.store.peek().config().loopWait()).isEmpty();
        assertThat(fx.store.peek().config().pause()).isTrue();
        assertThat(b.wakeups.get()).isEqualTo(2);
    }

    @Test
    void patchConfigLosingTheCompareAndSetIsAConflict() {
        TestBackend b = primaryBackend();
        b.beforeConfigWrite(() -> fx.store.adminPatchConfig(map("maximum_lag_on_failover", 2048)));
        Http.Resp r = serve(b).patch("/config", "{\"loop_wait\": 5}");

        assertThat(r.status()).isEqualTo(409);
        assertThat(fx.store.peek().config().loopWait()).as("ours was not written").contains(Duration.ofSeconds(10));
        assertThat(fx.store.peek().config().maximumLagOnFailover()).as("theirs stays").contains(2048L);
        assertThat(b.wakeups.get()).isZero();
    }

    @Test
    void patchConfigRefusesBadInput() {
        Http http = serve(primaryBackend());

        assertThat(http.patch("/config", "{not json").status()).isEqualTo(400);
        assertThat(http.patch("/config", "[1,2]").status()).isEqualTo(400);
        assertThat(http.patch("/config", "").status()).isEqualTo(400);
        Http.Resp type = http.patch("/config", "{\"ttl\": \"soon\"}");
        assertThat(type.status()).isEqualTo(400);
        assertThat(type.body()).contains("ttl");
        Http.Resp rule = http.patch("/config", "{\"loop_wait\": 25}");
        assertThat(rule.status()).as("loop_wait + 2*retry_timeout > ttl").isEqualTo(400);
        assertThat(rule.body()).contains("loopWait + 2*retryTimeout");
        assertThat(http.sendChunked("PATCH", "/config", "{\"loop_wait\": 5}").status()).isEqualTo(411);
        assertThat(fx.store.peek().config().loopWait()).contains(Duration.ofSeconds(10));
    }

    /**
     * Issue 12: a stored config that breaks a rule (Patroni's tools accept loop_wait 3 with ttl 10 and retry_timeout
     * 4) must not block pause, resume or unrelated changes; only a change that adds a broken setting is refused.
     */
    @Test
    void aStoredConfigThatBreaksARuleStillLetsPauseResumeAndOtherChangesThrough() {
        fx.config(map("ttl", 10, "loop_wait", 3, "retry_timeout", 4));
        Http http = serve(primaryBackend());

        Http.Resp pause = http.patch("/config", "{\"pause\": true}");
        assertThat(pause.status()).as(pause.body()).isEqualTo(200);
        assertThat(fx.store.peek().config().pause()).isTrue();
        assertThat(http.patch("/config", "{\"pause\": null}").status()).isEqualTo(200);
        assertThat(fx.store.peek().config().pause()).isFalse();
        assertThat(http.patch("/config", "{\"maximum_lag_on_failover\": 4096}").status()).isEqualTo(200);

        Http.Resp worse = http.patch("/config", "{\"synchronous_node_count\": 0}");
        assertThat(worse.status()).isEqualTo(400);
        assertThat(worse.body()).contains("synchronous_node_count").contains("synchronousNodeCount must be >= 1");
        Http.Resp repaired = http.patch("/config", "{\"ttl\": 30}");
        assertThat(repaired.status()).as("a repair gets through").isEqualTo(200);
    }

    /** Issue 12: a stored value of the wrong type (Patroni's tools store any) blocks nothing but a new one. */
    @Test
    void aStoredValueOfTheWrongTypeStillLetsPauseAndOtherChangesThrough() {
        fx.store.adminPatchConfig(map("ttl", "soon"));
        assertThat(fx.store.peek().config().malformed()).containsOnlyKeys("ttl");
        Http http = serve(primaryBackend());

        Http.Resp pause = http.patch("/config", "{\"pause\": true}");
        assertThat(pause.status()).as(pause.body()).isEqualTo(200);
        assertThat(fx.store.peek().config().pause()).isTrue();
        assertThat(http.patch("/config", "{\"maximum_lag_on_failover\": 4096}").status()).isEqualTo(200);

        Http.Resp worse = http.patch("/config", "{\"loop_wait\": \"ten\"}");
        assertThat(worse.status()).isEqualTo(400);
        assertThat(worse.body()).contains("loop_wait").contains("expected an integer");
        assertThat(http.patch("/config", "{\"ttl\": 30}").status()).as("a repair gets through").isEqualTo(200);
        assertThat(fx.store.peek().config().malformed()).isEmpty();
    }

    @Test
    void patchConfigWithoutAConfigKeyOrDcsIsUnavailable() {
        try (RestFixture empty = new RestFixture()) {
            TestBackend b = empty.backend(empty.snapshot("m1", RestFixture.primaryPg(OPTIME), false));
            Http http = Http.to(empty.serve(b, RestFixture.rest()));
            Http.Resp r = http.patch("/config", "{\"loop_wait\": 5}");
            assertThat(r.status()).isEqualTo(503);
            assertThat(r.body()).contains("config");
        }
        Http http = serve(primaryBackend());
        fx.store.outage(true);
        assertThat(http.patch("/config", "{\"loop_wait\": 5}").status()).isEqualTo(503);
    }

    @Test
    void putConfigReplacesTheWholeKey() {
        TestBackend b = primaryBackend();
        Http http = serve(b);

        Http.Resp r = http.put("/config", "{\"ttl\": 40, \"loop_wait\": 10, \"retry_timeout\": 10}");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.json().size()).isEqualTo(3);
        java.util.Map<String, Object> stored = fx.store.peek().config().json();
        assertThat(((Number) stored.get("ttl")).intValue()).isEqualTo(40);
        assertThat(stored.containsKey("maximum_lag_on_failover")).as("replaced, not merged").isFalse();
        assertThat(b.wakeups.get()).isEqualTo(1);
        assertThat(http.put("/config", "{\"ttl\": 10}").status()).as("breaks the timing rule").isEqualTo(400);

        fx.store.outage(true);
        assertThat(http.put("/config", "{\"ttl\": 40}").status()).isEqualTo(502);
    }

    // ------------------------------------------------------------------------------------------------ switchover

    @Test
    void switchoverAndFailoverValidation() {
        Http http = serve(primaryBackend());
        String future = OffsetDateTime.now(ZoneOffset.UTC).plusHours(1).toString();

        assertThat(http.post("/switchover", "{}").status()).isEqualTo(400);
        assertThat(http.post("/switchover", "{\"candidate\":\"m2\"}").status()).isEqualTo(400);
        assertThat(http.post("/failover", "{}").status()).isEqualTo(400);
        assertThat(http.post("/failover", "{\"candidate\":\"m2\",\"scheduled_at\":\"" + future + "\"}").status())
                .isEqualTo(400);
        assertThat(http.post("/switchover", "{\"leader\":\"m1\",\"candidate\":\"m1\"}").status()).isEqualTo(400);
        assertThat(http.post("/switchover", "{\"leader\":42}").status()).isEqualTo(400);
        assertThat(http.post("/switchover", "[\"m1\"]").status()).isEqualTo(400);
        assertThat(http.sendChunked("POST", "/switchover", "{\"leader\":\"m1\"}").status()).isEqualTo(411);

        Http.Resp past = http.post("/switchover", "{\"leader\":\"m1\",\"scheduled_at\":\"2020-01-01T00:00:00+00:00\"}");
        assertThat(past.status()).isEqualTo(422);
        assertThat(past.body()).contains("past");
        assertThat(http.post("/switchover", "{\"leader\":\"m1\",\"scheduled_at\":\"tomorrow\"}").status())
                .isEqualTo(422);
        Http.Resp noZone = http.post("/switchover", "{\"leader\":\"m1\",\"scheduled_at\":\"2099-01-01T00:00:00\"}");
        assertThat(noZone.status()).isEqualTo(400);
        assertThat(noZone.body()).contains("time zone");

        assertThat(fx.store.peek().failover().isEmpty()).as("nothing was written").isTrue();
    }

    @Test
    void pausedClusterNeedsANamedCandidateAndNoSchedule() {
        fx.config(map("pause", true));
        Http http = serve(primaryBackend());
        String future = OffsetDateTime.now(ZoneOffset.UTC).plusHours(1).toString();

        assertThat(http.post("/switchover", "{\"leader\":\"m1\"}").status()).isEqualTo(400);
        assertThat(http.post("/switchover", "{\"leader\":\"m1\",\"candidate\":\"m2\",\"scheduled_at\":\"" + future
                + "\"}").status()).isEqualTo(400);
    }

    @Test
    void preconditionsFailWith412AndTheReason() {
        TestBackend b = primaryBackend();
        Http http = serve(b);

        Http.Resp leader = http.post("/switchover", "{\"leader\":\"m9\"}");
        assertThat(leader.status()).isEqualTo(412);
        assertThat(leader.body()).contains("leader name does not match");

        Http.Resp candidate = http.post("/switchover", "{\"leader\":\"m1\",\"candidate\":\"m9\"}");
        assertThat(candidate.status()).isEqualTo(412);
        assertThat(candidate.body()).contains("candidate does not exists");

        Http.Resp lagging = http.post("/switchover", "{\"leader\":\"m1\",\"candidate\":\"m3\"}");
        assertThat(lagging.status()).isEqualTo(412);
        assertThat(lagging.body()).contains("no good candidates have been found").contains("m3").contains("lags");

        b.peers(Map.of());
        Http.Resp unreachable = http.post("/switchover", "{\"leader\":\"m1\"}");
        assertThat(unreachable.status()).isEqualTo(412);
        assertThat(unreachable.body()).contains("no good candidates have been found").contains("unreachable");
        assertThat(b.peerQuestions.get(b.peerQuestions.size() - 1)).containsExactly("m2", "m3");

        assertThat(fx.store.peek().failover().isEmpty()).isTrue();
        assertThat(b.wakeups.get()).isZero();
    }

    @Test
    void switchoverToAnAsyncMemberInSyncModeIsRefused() {
        Http.Resp r = serve(syncModeLeaderM1StandbyM2()).post("/switchover",
                "{\"leader\":\"m1\",\"candidate\":\"m3\"}");

        assertThat(r.status()).isEqualTo(412);
        assertThat(r.body()).contains("candidate name does not match with sync_standby");
    }

    @Test
    void s3_failoverToAnAsyncMemberInSyncModeIsRefused() {
        // Rule S3 holds for an explicit failover too (as in Patroni): turn synchronous mode off first.
        Http.Resp r = serve(syncModeLeaderM1StandbyM2()).post("/failover", "{\"candidate\":\"m3\"}");

        assertThat(r.status()).isEqualTo(412);
        assertThat(r.body()).contains("candidate name does not match with sync_standby");
        assertThat(fx.store.peek().failover().isEmpty()).as("nothing was written").isTrue();
    }

    /** Synchronous mode on, m1 the sync leader, m2 its standby, m3 asynchronous; every member answers. */
    private TestBackend syncModeLeaderM1StandbyM2() {
        fx.config(map("synchronous_mode", true)).sync("m1", "m2");
        NodeStatus s = Snap.of(fx.primary()).settings(HaSettings.builder("demo", "m1")
                .synchronousMode(SynchronousMode.ON).build()).build();
        TestBackend b = fx.backend(s);
        b.peers(Map.of("m2", replica("m2", OPTIME), "m3", replica("m3", OPTIME)));
        return b;
    }

    @Test
    void aClusterOfOneCannotSwitchOver() {
        try (RestFixture alone = new RestFixture()) {
            alone.standard();
            alone.session("m2").close();
            alone.session("m3").close();
            TestBackend b = alone.backend(alone.primary());
            Http.Resp r = Http.to(alone.serve(b, RestFixture.rest())).post("/switchover", "{\"leader\":\"m1\"}");
            assertThat(r.status()).isEqualTo(412);
            assertThat(r.body()).contains("cluster does not have members except leader");
        }
    }

    @Test
    void switchoverWaitsForTheNewLeader() {
        TestBackend b = primaryBackend();
        // Plays the HA loops: the old leader steps down, the candidate takes the lock and clears the request.
        b.afterFailoverWrite(() -> handOver("m2"));
        Http.Resp r = serve(b).post("/switchover", "{\"leader\":\"m1\",\"candidate\":\"m2\"}");

        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("Successfully switched over to \"m2\"");
        assertThat(b.wakeups.get()).isEqualTo(1);
    }

    @Test
    void switchoverReportsAnotherWinner() {
        TestBackend b = primaryBackend();
        b.peers(Map.of("m2", replica("m2", OPTIME), "m3", replica("m3", OPTIME)));
        b.afterFailoverWrite(() -> handOver("m3"));
        Http.Resp r = serve(b).post("/switchover", "{\"leader\":\"m1\",\"candidate\":\"m2\"}");

        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).contains("\"m3\" instead of \"m2\"");
    }

    @Test
    void switchoverDroppedByTheLeaderFails() {
        TestBackend b = primaryBackend();
        b.afterFailoverWrite(() -> {
            try {
                ClusterView v = fx.store.peek();
                fx.session("m1").clearFailover(v.failover().version());
            } catch (DcsUnavailableException e) {
                throw new IllegalStateException(e);
            }
        });
        Http.Resp r = serve(b).post("/switchover", "{\"leader\":\"m1\"}");

        assertThat(r.status()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("Switchover failed");
    }

    @Test
    void switchoverNobodyActsOnEndsUnknownAfterTheTimeout() {
        TestBackend b = primaryBackend();
        long start = System.nanoTime();
        Http.Resp r = serve(b).post("/failover", "{\"candidate\":\"m2\"}");

        assertThat(r.status()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("Failover status unknown");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofSeconds(2),
                Duration.ofSeconds(10));
        FailoverRequest written = fx.store.peek().failover();
        assertThat(written.candidate()).isEqualTo("m2");
        assertThat(written.leader()).isNull();
    }

    @Test
    void failoverNamingTheLeaderIsASwitchover() {
        TestBackend b = primaryBackend();
        b.afterFailoverWrite(() -> handOver("m2"));
        Http.Resp r = serve(b).post("/failover", "{\"leader\":\"m1\",\"member\":\"m2\"}");

        assertThat(r.status()).isEqualTo(200);
        // Checked as a switchover, answered in a failover's words as Patroni 3.0.2 does: patronictl failover
        // --candidate (which names the leader) prints this answer.
        assertThat(r.body()).isEqualTo("Successfully failed over to \"m2\"");
    }

    @Test
    void scheduledSwitchoverIsWrittenAndCanBeDeleted() {
        TestBackend b = primaryBackend();
        Http http = serve(b);
        OffsetDateTime at = OffsetDateTime.now(ZoneOffset.UTC).plusHours(2).withNano(0);

        Http.Resp wrongLeader = http.post("/switchover", "{\"leader\":\"m2\",\"scheduled_at\":\"" + at + "\"}");
        assertThat(wrongLeader.status()).isEqualTo(412);

        Http.Resp r = http.post("/switchover", "{\"leader\":\"m1\",\"candidate\":\"m2\",\"scheduled_at\":\"" + at
                + "\"}");
        assertThat(r.status()).isEqualTo(202);
        assertThat(r.body()).isEqualTo("Switchover scheduled");
        FailoverRequest f = fx.store.peek().failover();
        assertThat(f.scheduledAt()).isEqualTo(at);
        assertThat(f.leader()).isEqualTo("m1");
        assertThat(f.candidate()).isEqualTo("m2");
        assertThat(http.get("/cluster").json().get("scheduled_switchover").get("to").asText()).isEqualTo("m2");

        assertThat(http.delete("/switchover").status()).isEqualTo(200);
        assertThat(fx.store.peek().failover().isEmpty()).isTrue();
        Http.Resp none = http.delete("/switchover");
        assertThat(none.status()).isEqualTo(404);
        assertThat(none.body()).contains("no switchover is scheduled");
    }

    /** The candidate's and old leader's HA loops, condensed: lock handed over, request cleared. */
    private void handOver(String to) {
        try {
            fx.session("m1").releaseLeader();
            fx.session(to).acquireLeader();
            fx.session(to).clearFailover(fx.store.peek().failover().version());
        } catch (DcsUnavailableException e) {
            throw new IllegalStateException(e);
        }
    }

    // ------------------------------------------------------------------------------------------------ failsafe

    private NodeStatus withFailsafe(NodeStatus s) {
        return Snap.of(s).settings(HaSettings.builder("demo", s.name()).failsafeMode(true).build()).build();
    }

    @Test
    void aReplicaConfirmsAFailsafePingAndRemembersIt() {
        TestBackend b = fx.backend(withFailsafe(fx.replica("m2", OPTIME)));
        Http.Resp r = serve(b).post("/failsafe", "{\"name\":\"m1\",\"conn_url\":\"postgres://10.0.0.1:5432/postgres\","
                + "\"api_url\":\"http://10.0.0.1:8008/patroni\"}");

        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("Accepted");
        assertThat(r.header("lsn")).isEqualTo(Long.toString(OPTIME.value()));
        assertThat(b.failsafePings).containsExactly("m1");
    }

    @Test
    void aFailsafePingTheMemberDoesNotBelieveIsAConflictAndIsNotRemembered() {
        TestBackend b = fx.backend(withFailsafe(fx.replica("m2", OPTIME)));
        b.failsafeVerdict(sender -> FailsafePingVerdict.refused("m1 holds the lock as far as m2 knows, not " + sender));
        Http.Resp r = serve(b).post("/failsafe", "{\"name\":\"m3\"}");

        assertThat(r.status()).isEqualTo(409);
        assertThat(r.body()).isEqualTo("m1 holds the lock as far as m2 knows, not m3");
        assertThat(r.header("lsn")).isNull();
        assertThat(b.failsafePings).isEmpty();
    }

    @Test
    void aRunningPrimaryRefusesAFailsafePing() {
        TestBackend b = fx.backend(withFailsafe(fx.primary()));
        Http.Resp r = serve(b).post("/failsafe", "{\"name\":\"m2\"}");

        assertThat(r.status()).isEqualTo(500);
        assertThat(r.body()).isEqualTo("Running as a leader");
        assertThat(b.failsafePings).isEmpty();
    }

    @Test
    void failsafePingsNeedFailsafeModeAndAName() {
        TestBackend off = fx.backend(fx.replica("m2", OPTIME));
        assertThat(serve(off).post("/failsafe", "{\"name\":\"m1\"}").status()).isEqualTo(502);
        assertThat(off.failsafePings).isEmpty();

        TestBackend on = fx.backend(withFailsafe(fx.replica("m3", M3_POSITION)));
        Http http = serve(on);
        assertThat(http.post("/failsafe", "{}").status()).isEqualTo(400);
        assertThat(http.post("/failsafe", "{\"name\": 7}").status()).isEqualTo(400);
        assertThat(on.failsafePings).isEmpty();
    }
}
