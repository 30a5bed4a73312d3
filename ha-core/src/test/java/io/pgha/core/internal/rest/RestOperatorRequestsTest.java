package io.pgha.core.internal.rest;

import static io.pgha.core.internal.rest.RestFixture.OPTIME;
import static io.pgha.core.internal.rest.RestFixture.map;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.Role;
import io.pgha.core.internal.ha.MemberRequest;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /restart}, {@code DELETE /restart}, {@code POST /reinitialize}, {@code POST /reload} over real HTTP, with
 * the real {@code ClusterAdmin} and the HA loop's part played by {@link FakeMemberOperations} (a fake): Patroni's body
 * fields, status codes and messages.
 */
class RestOperatorRequestsTest {

    private final RestFixture fx = new RestFixture().standard();

    @AfterEach
    void close() {
        fx.close();
    }

    private Http serve(TestBackend b) {
        return Http.to(fx.serve(b, RestFixture.rest()));
    }

    private static String future() {
        return OffsetDateTime.now(ZoneOffset.UTC).plusHours(1).truncatedTo(ChronoUnit.SECONDS).toString();
    }

    // ------------------------------------------------------------------------------------------------ restart

    @Test
    void restartWithoutConditionsWaitsForTheLoopAndAnswers200() {
        TestBackend b = fx.backend(fx.primary());
        Http.Resp r = serve(b).post("/restart", "{}");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("restarted successfully");
        assertThat(b.ops.submitted).singleElement().isInstanceOfSatisfying(MemberRequest.Restart.class, q -> {
            assertThat(q.schedule()).isNull();
            assertThat(q.role()).isNull();
            assertThat(q.belowVersion()).isZero();
            assertThat(q.pendingOnly()).isFalse();
        });
    }

    @Test
    void patronisConditionsReachTheRequest() {
        TestBackend b = fx.backend(fx.primary());
        Http.Resp r = serve(b).post("/restart",
                "{\"restart_pending\": true, \"role\": \"master\", \"postgres_version\": \"15.9\"}");
        assertThat(r.status()).isEqualTo(200);
        MemberRequest.Restart q = (MemberRequest.Restart) b.ops.submitted.get(0);
        assertThat(q.pendingOnly()).isTrue();
        assertThat(q.role()).isEqualTo(Role.PRIMARY);
        assertThat(q.belowVersion()).isEqualTo(150009);
        assertThat(q.timeout()).as("no timeout given: primaryStartTimeout applies").isNull();
    }

    @Test
    void patronisRestartTimeoutReachesTheRequestInSecondsOrWithAUnit() {
        for (Object[] c : new Object[][] {{"30", Duration.ofSeconds(30)}, {"\"45s\"", Duration.ofSeconds(45)},
                {"\"2min\"", Duration.ofMinutes(2)}, {"1.5", Duration.ofMillis(1500)}}) {
            TestBackend b = fx.backend(fx.primary());
            Http.Resp r = serve(b).post("/restart", "{\"timeout\": " + c[0] + "}");
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            assertThat(((MemberRequest.Restart) b.ops.submitted.get(0)).timeout()).as("timeout " + c[0])
                    .isEqualTo(c[1]);
        }
        Http http = serve(fx.backend(fx.primary()));
        assertThat(http.post("/restart", "{\"timeout\": \"soon\"}")).satisfies(r -> {
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.body()).startsWith("timeout: expected seconds or a number with a unit");
        });
        assertThat(http.post("/restart", "{\"timeout\": 0}")).satisfies(r -> {
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.body()).isEqualTo("timeout must be > 0 (got 0s)");
        });
    }

    @Test
    void unmetConditionsAre503WithPatronisMessage() {
        TestBackend b = fx.backend(fx.primary());
        b.ops.loop = q -> new MemberRequest.Outcome(q.id(), false, "restart conditions are not satisfied");
        Http.Resp r = serve(b).post("/restart", "{\"restart_pending\": true}");
        assertThat(r.status()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("restart conditions are not satisfied");
    }

    @Test
    void badFieldsAre400() {
        Http http = serve(fx.backend(fx.primary()));
        assertThat(http.post("/restart", "{\"role\": \"leader\"}")).satisfies(r -> {
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.body()).isEqualTo("PostgreSQL role should be either primary or replica");
        });
        assertThat(http.post("/restart", "{\"postgres_version\": \"10\"}").body())
                .isEqualTo("Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: 10");
        assertThat(http.post("/restart", "{\"postgres_version\": \"a.b\"}").body())
                .isEqualTo("Invalid PostgreSQL version: a.b");
        assertThat(http.post("/restart", "{\"when\": \"now\"}")).satisfies(r -> {
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.body()).isEqualTo("Unknown filter for the scheduled restart: when");
        });
    }

    @Test
    void aRestartWhileALongActionRunsIs503() {
        TestBackend b = fx.backend(fx.primary());
        b.ops.busy = LongAction.RECLONE;
        Http.Resp r = serve(b).post("/restart", "{}");
        assertThat(r.status()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("re-clone already in progress");
        assertThat(b.ops.submitted).isEmpty();
    }

    @Test
    void aScheduledRestartIsShownOnceAndCanBeDeleted() {
        TestBackend b = fx.backend(fx.primary());
        Http http = serve(b);
        String at = future();
        Http.Resp r = http.post("/restart", "{\"schedule\": \"" + at + "\", \"postgres_version\": \"99.0\"}");
        assertThat(r.status()).isEqualTo(202);
        assertThat(r.body()).isEqualTo("Restart scheduled");
        assertThat(http.post("/restart", "{\"schedule\": \"" + at + "\"}")).satisfies(again -> {
            assertThat(again.status()).isEqualTo(409);
            assertThat(again.body()).isEqualTo("Another restart is already scheduled");
        });
        var shown = http.get("/patroni").json().get("scheduled_restart");
        assertThat(OffsetDateTime.parse(shown.get("schedule").asText()).toInstant())
                .isEqualTo(OffsetDateTime.parse(at).toInstant());
        assertThat(shown.get("postgres_version").asText()).isEqualTo("99.0");

        assertThat(http.delete("/restart")).satisfies(d -> {
            assertThat(d.status()).isEqualTo(200);
            assertThat(d.body()).isEqualTo("scheduled restart deleted");
        });
        assertThat(http.get("/patroni").json().has("scheduled_restart")).isFalse();
        assertThat(http.delete("/restart")).satisfies(d -> {
            assertThat(d.status()).isEqualTo(404);
            assertThat(d.body()).isEqualTo("no restarts are scheduled");
        });
    }

    @Test
    void aScheduleMustHaveAZoneLieAheadAndNotBePaused() {
        Http http = serve(fx.backend(fx.primary()));
        assertThat(http.post("/restart", "{\"schedule\": \"2020-01-01T00:00:00+00:00\"}")).satisfies(r -> {
            assertThat(r.status()).isEqualTo(422);
            assertThat(r.body()).isEqualTo("Cannot schedule restart in the past");
        });
        assertThat(http.post("/restart", "{\"schedule\": \"2099-01-01T00:00:00\"}")).satisfies(r -> {
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.body()).isEqualTo("Timezone information is mandatory for the scheduled restart");
        });
        fx.config(map("pause", true));
        Http paused = serve(fx.backend(fx.primary()));
        assertThat(paused.post("/restart", "{\"schedule\": \"" + future() + "\"}")).satisfies(r -> {
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.body()).isEqualTo("Can't schedule restart in the paused state");
        });
    }

    @Test
    void restartNeedsTheCredentials() {
        TestBackend b = fx.backend(fx.primary());
        Http anonymous = Http.anonymous(fx.serve(b, RestFixture.rest()));
        assertThat(anonymous.post("/restart", "{}").status()).isEqualTo(401);
        assertThat(anonymous.delete("/restart").status()).isEqualTo(401);
        assertThat(anonymous.post("/reinitialize", "{}").status()).isEqualTo(401);
        assertThat(anonymous.post("/reload", "").status()).isEqualTo(401);
        assertThat(b.ops.submitted).isEmpty();
    }

    // ------------------------------------------------------------------------------------------------ reinitialize

    @Test
    void theLeaderRefusesToReinitialize() {
        TestBackend b = fx.backend(fx.primary());
        Http.Resp r = serve(b).post("/reinitialize", "{\"force\": true}");
        assertThat(r.status()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("I am the leader, can not reinitialize");
        assertThat(b.ops.submitted).isEmpty();
    }

    @Test
    void aReplicaStartsReinitializing() {
        TestBackend b = fx.backend(fx.replica("m2", OPTIME));
        // The loop takes the request up (it leaves the queue) and the clone runs on.
        b.ops.loop = q -> new MemberRequest.Outcome(q.id(), true, "taken");
        Http.Resp r = serve(b).post("/reinitialize", "");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("reinitialize started");
        assertThat(b.ops.submitted).singleElement().isInstanceOf(MemberRequest.Reinitialize.class);
    }

    @Test
    void anotherLongActionRefusesReinitializeUnlessForced() {
        TestBackend b = fx.backend(fx.replica("m2", OPTIME));
        b.ops.busy = LongAction.START_REPLICA;
        b.ops.loop = q -> new MemberRequest.Outcome(q.id(), true, "taken");
        Http http = serve(b);
        Http.Resp r = http.post("/reinitialize", "{\"force\": false}");
        assertThat(r.status()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("start replica already in progress");
        assertThat(b.ops.submitted).isEmpty();
        assertThat(http.post("/reinitialize", "{\"force\": true}").status()).isEqualTo(200);
        assertThat(b.ops.submitted).hasSize(1);
    }

    @Test
    void aRefusalFromTheLoopIs503() {
        TestBackend b = fx.backend(fx.replica("m2", OPTIME));
        b.ops.loop = q -> new MemberRequest.Outcome(q.id(), false, "postgres runs as a primary, can not reinitialize");
        Http.Resp r = serve(b).post("/reinitialize", "{}");
        assertThat(r.status()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("postgres runs as a primary, can not reinitialize");
    }

    // ------------------------------------------------------------------------------------------------ reload

    @Test
    void reloadIsQueuedAndAnswered202() {
        TestBackend b = fx.backend(fx.replica("m2", OPTIME));
        b.ops.loop = q -> null;
        Http.Resp r = serve(b).post("/reload", "");
        assertThat(r.status()).isEqualTo(202);
        assertThat(r.body()).isEqualTo("reload scheduled");
        assertThat(b.ops.submitted).singleElement().isInstanceOf(MemberRequest.Reload.class);
    }

    @Test
    void theVerbsAreNoLongerNotImplemented() {
        Http http = serve(fx.backend(fx.primary()));
        assertThat(http.get("/restart").status()).isEqualTo(405);
        assertThat(http.get("/reinitialize").status()).isEqualTo(405);
        assertThat(http.get("/reload").status()).isEqualTo(405);
    }
}
