package io.pgha.core.internal.rest;

import static io.pgha.core.internal.rest.RestFixture.M3_POSITION;
import static io.pgha.core.internal.rest.RestFixture.OPTIME;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.ServerFacts;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.RestSettings;
import io.pgha.core.config.Tags;
import io.pgha.core.testkit.PatroniMonitoringChecks;
import io.pgha.core.testkit.PatroniMonitoringChecks.Verdict;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 12, "monitoring clients see a healthy cluster as healthy": a client written for Patroni (check_patroni's
 * documented rules, {@link PatroniMonitoringChecks}) reads {@code patroni.version} to know the state names to expect,
 * then checks the cluster. Against the fixture's healthy cluster (m1 leads, m2 and m3 stream) it must count both
 * replicas healthy and find every endpoint in the shape of the level pgha reports. The end-to-end scenario
 * {@code MONITORING} runs the same client against real members on etcd.
 */
@Timeout(120)
class RestPatroniApiLevelTest {

    private final RestFixture fx = new RestFixture().standard();

    @AfterEach
    void close() {
        fx.close();
    }

    private PatroniMonitoringChecks client(NodeStatus s) {
        Http http = Http.to(fx.serve(fx.backend(s), RestFixture.rest()));
        return new PatroniMonitoringChecks(path -> {
            Http.Resp r = http.get(path);
            return new PatroniMonitoringChecks.Answer(r.status(), r.body());
        });
    }

    @Test
    void theReportedLevelIsPatroni4WithDetailedReplicaStates() {
        PatroniMonitoringChecks m1 = client(fx.primary());

        assertThat(m1.patroniVersion()).containsExactly(4, 0, 7);
        assertThat(RestSettings.PATRONI_API_LEVEL).isEqualTo("4.0.7");
        assertThat(m1.detailedReplicaStates()).isTrue();
    }

    @Test
    void aHealthyClusterIsHealthyToCheckPatroniRules() {
        PatroniMonitoringChecks m1 = client(fx.primary());

        // cluster_has_replica --warning 2: --critical 1: (two streaming replicas)
        assertThat(m1.healthyReplicas(null)).isEqualTo(2);
        assertThat(PatroniMonitoringChecks.atLeast(m1.healthyReplicas(null), 2, 1)).isEqualTo(Verdict.OK);
        // --max-lag 1MB: m3 streams 3 MiB behind
        assertThat(m1.healthyReplicas(1024L * 1024)).isEqualTo(1);
        // cluster_node_count: the running leader and both streaming replicas
        assertThat(m1.members()).isEqualTo(3);
        assertThat(m1.healthyMembers()).isEqualTo(3);
        assertThat(m1.hasRunningLeader()).isTrue();
        assertThat(m1.inMaintenance()).isFalse();
        // node services on the leader and on a replica
        assertThat(m1.isPrimary()).isTrue();
        assertThat(m1.isLeader()).isTrue();
        assertThat(m1.isReplica()).isFalse();
        assertThat(m1.isPendingRestart()).isFalse();
        assertThat(m1.timeline()).isEqualTo(2);
        PatroniMonitoringChecks m2 = client(fx.replica("m2", OPTIME));
        assertThat(m2.isReplica()).isTrue();
        assertThat(m2.isPrimary()).isFalse();
        assertThat(m2.healthyReplicas(null)).isEqualTo(2);
    }

    /** The fixture's state with the server facts a real probe reads ({@code server_version} and its like). */
    private static PgState probed(PgState p) {
        return new PgState(p.dataDir(), p.run(), p.role(), p.systemId(), p.timeline(), p.walPosition(),
                p.receiveLsn(), p.replayLsn(), p.upstream(), p.streaming(), p.replication(),
                p.synchronousStandbyNames(), p.pendingRestart(), p.detail(), false,
                new ServerFacts(Instant.parse("2026-12-06T04:48:02.123456Z"), 150004, null));
    }

    @Test
    void everyEndpointHasTheShapeOfTheReportedLevel() {
        assertThat(client(fx.snapshot("m1", probed(RestFixture.primaryPg(OPTIME)), true)).shapeViolations())
                .as("m1 (primary)").isEmpty();
        assertThat(client(fx.snapshot("m2", probed(RestFixture.replicaPg(OPTIME, true)), false)).shapeViolations())
                .as("m2 (replica, level)").isEmpty();
        assertThat(client(fx.snapshot("m3", probed(RestFixture.replicaPg(M3_POSITION, true)), false))
                .shapeViolations()).as("m3 (replica, 3 MiB behind)").isEmpty();
    }

    @Test
    void aStoppedReplicaIsNotHealthy() {
        fx.touch(new Member("m3", "postgres://10.0.0.3:5432/postgres", "http://10.0.0.3:8008/patroni", "stopped",
                Role.REPLICA, null, null, null, null, 0, Tags.DEFAULT, false, false, Map.of(), DcsVersion.ABSENT));
        PatroniMonitoringChecks m1 = client(fx.primary());

        assertThat(m1.healthyReplicas(null)).isEqualTo(1);
        assertThat(PatroniMonitoringChecks.atLeast(m1.healthyReplicas(null), 2, 1)).isEqualTo(Verdict.WARNING);
        assertThat(m1.healthyMembers()).isEqualTo(2);
    }

    /**
     * What issue 12 found: the same streaming replicas under {@code patroni.version} 0.1.0 (pgha's own version, as
     * pgha reported before) are not healthy to such a client, and the shapes contradict the version.
     */
    @Test
    void underAPre304VersionTheSameReplicasLookUnhealthy() {
        Http http = Http.to(fx.serve(fx.backend(fx.primary()), RestFixture.rest()));
        PatroniMonitoringChecks old = new PatroniMonitoringChecks(path -> {
            Http.Resp r = http.get(path);
            String body = path.equals("/patroni") ? r.body().replace("\"version\":\"4.0.7\"", "\"version\":\"0.1.0\"")
                    : r.body();
            return new PatroniMonitoringChecks.Answer(r.status(), body);
        });

        assertThat(old.patroniVersion()).containsExactly(0, 1, 0);
        assertThat(old.healthyReplicas(null)).isZero();
        assertThat(PatroniMonitoringChecks.atLeast(old.healthyReplicas(null), 2, 1)).isEqualTo(Verdict.CRITICAL);
        assertThat(old.shapeViolations()).anyMatch(v -> v.contains("before Patroni 3.0.4"));
    }
}
