package io.pgha.core.internal.rest;

import static io.pgha.core.internal.rest.RestFixture.M3_POSITION;
import static io.pgha.core.internal.rest.RestFixture.OPTIME;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.ServerFacts;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.RestSettings;
import io.pgha.core.internal.ha.CycleReport;
import io.pgha.core.internal.ha.Decision;
import io.pgha.core.internal.ha.HaMetrics;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code GET /metrics} over real HTTP, parsed by Prometheus' own text-format parser ({@link PrometheusTextParser}):
 * Patroni 3's families, types and {@code scope}/{@code name} labels with the member's values, and pgha's own.
 */
@Timeout(120)
class RestMetricsTest {

    /**
     * Every family Patroni 4.0 emits (3.0.2's set less {@code patroni_master}, plus streaming/archive recovery from
     * 3.0.4 on), with its type.
     */
    private static final Map<String, String> PATRONI = Map.ofEntries(
            Map.entry("patroni_version", "gauge"),
            Map.entry("patroni_postgres_running", "gauge"),
            Map.entry("patroni_postmaster_start_time", "gauge"),
            Map.entry("patroni_primary", "gauge"),
            Map.entry("patroni_xlog_location", "counter"),
            Map.entry("patroni_standby_leader", "gauge"),
            Map.entry("patroni_replica", "gauge"),
            Map.entry("patroni_sync_standby", "gauge"),
            Map.entry("patroni_xlog_received_location", "counter"),
            Map.entry("patroni_xlog_replayed_location", "counter"),
            Map.entry("patroni_xlog_replayed_timestamp", "gauge"),
            Map.entry("patroni_xlog_paused", "gauge"),
            Map.entry("patroni_postgres_streaming", "gauge"),
            Map.entry("patroni_postgres_in_archive_recovery", "gauge"),
            Map.entry("patroni_postgres_server_version", "gauge"),
            Map.entry("patroni_cluster_unlocked", "gauge"),
            Map.entry("patroni_failsafe_mode_is_active", "gauge"),
            Map.entry("patroni_postgres_timeline", "counter"),
            Map.entry("patroni_dcs_last_seen", "gauge"),
            Map.entry("patroni_pending_restart", "gauge"),
            Map.entry("patroni_is_paused", "gauge"));

    private final RestFixture fx = new RestFixture().standard();

    @AfterEach
    void close() {
        fx.close();
    }

    private Http.Resp scrape(RestBackend backend) {
        Http.Resp r = Http.anonymous(fx.serve(backend, RestFixture.rest())).get("/metrics");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
        return r;
    }

    private static double value(Map<String, JsonNode> families, String family) {
        JsonNode samples = families.get(family).get("samples");
        assertThat(samples).as(family).hasSize(1);
        return samples.get(0).get("value").asDouble();
    }

    @Test
    void primaryReportsPatroniFamiliesWithItsValuesAndLabels() {
        NodeStatus s = fx.primary();
        Http.Resp r = scrape(fx.backend(s));
        Map<String, JsonNode> f = PrometheusTextParser.parse(r.body());

        PATRONI.forEach((name, type) -> {
            assertThat(f).as("family " + name).containsKey(name);
            assertThat(f.get(name).get("type").asText()).as(name).isEqualTo(type);
            assertThat(f.get(name).get("help").asText()).as(name).isNotBlank();
            JsonNode labels = f.get(name).get("samples").get(0).get("labels");
            assertThat(labels.get("scope").asText()).as(name).isEqualTo("demo");
            assertThat(labels.get("name").asText()).as(name).isEqualTo("m1");
            assertThat(labels.size()).as(name).isEqualTo(2);
        });
        assertThat(value(f, "patroni_primary")).isEqualTo(1);
        assertThat(value(f, "patroni_replica")).isEqualTo(0);
        assertThat(value(f, "patroni_postgres_running")).isEqualTo(1);
        assertThat(value(f, "patroni_xlog_location")).isEqualTo(OPTIME.value());
        assertThat(value(f, "patroni_xlog_received_location")).isEqualTo(0);
        assertThat(value(f, "patroni_xlog_replayed_location")).isEqualTo(0);
        assertThat(value(f, "patroni_postgres_timeline")).isEqualTo(2);
        assertThat(value(f, "patroni_cluster_unlocked")).isEqualTo(0);
        assertThat(value(f, "patroni_is_paused")).isEqualTo(0);
        assertThat(value(f, "patroni_dcs_last_seen")).isEqualTo(s.dcsLastSeen().getEpochSecond());
        // The Patroni API level in Patroni's form (each part zero-padded to two digits); pgha's own version apart.
        assertThat(value(f, "patroni_version")).isEqualTo(40007);
        assertThat(f).as("Patroni 4.0 dropped patroni_master").doesNotContainKey("patroni_master");
        JsonNode info = f.get("pgha_version_info").get("samples").get(0);
        assertThat(info.get("labels").get("version").asText()).isEqualTo(RestSettings.PGHA_VERSION);
        assertThat(info.get("value").asDouble()).isEqualTo(1);
        // Positions are written as integers, as Patroni writes them (not 8.388608E7).
        assertThat(r.body()).contains("patroni_xlog_location{scope=\"demo\",name=\"m1\"} " + OPTIME.value() + "\n");
        // Without the HA loop's counters (this backend has none) the other pgha_* families are left out.
        assertThat(f.keySet()).allMatch(n -> n.startsWith("patroni_") || n.equals("pgha_version_info"));
    }

    @Test
    void serverFactsFromTheProbeAreReportedAsPatroniReportsThem() {
        java.time.Instant started = java.time.Instant.parse("2026-12-06T04:48:02.123456Z");
        java.time.Instant replayed = java.time.Instant.parse("2026-12-06T05:01:00.5Z");
        PgState p = RestFixture.primaryPg(OPTIME);
        PgState primary = new PgState(p.dataDir(), p.run(), p.role(), p.systemId(), p.timeline(), p.walPosition(),
                p.receiveLsn(), p.replayLsn(), p.upstream(), p.streaming(), p.replication(),
                p.synchronousStandbyNames(), p.pendingRestart(), p.detail(), false,
                new ServerFacts(started, 150004, null));
        RestApi api = fx.serve(fx.backend(fx.snapshot("m1", primary, true)), RestFixture.rest());
        Map<String, JsonNode> f = PrometheusTextParser.parse(Http.anonymous(api).get("/metrics").body());
        assertThat(value(f, "patroni_postmaster_start_time")).isEqualTo(1_796_532_482.123456);
        assertThat(value(f, "patroni_postgres_server_version")).isEqualTo(150004);
        assertThat(value(f, "patroni_xlog_replayed_timestamp")).isEqualTo(0);
        JsonNode j = Http.anonymous(api).get("/patroni").json();
        assertThat(j.get("postmaster_start_time").asText()).isEqualTo("2026-12-06 04:48:02.123456+00:00");
        assertThat(j.get("server_version").asInt()).isEqualTo(150004);

        PgState r = RestFixture.replicaPg(M3_POSITION, true);
        PgState replica = new PgState(r.dataDir(), r.run(), r.role(), r.systemId(), r.timeline(), r.walPosition(),
                r.receiveLsn(), r.replayLsn(), r.upstream(), r.streaming(), r.replication(),
                r.synchronousStandbyNames(), r.pendingRestart(), r.detail(), false,
                new ServerFacts(started, 150004, replayed));
        api = fx.serve(fx.backend(fx.snapshot("m3", replica, false)), RestFixture.rest());
        f = PrometheusTextParser.parse(Http.anonymous(api).get("/metrics").body());
        assertThat(value(f, "patroni_xlog_replayed_timestamp")).isEqualTo(1_796_533_260.5);
        assertThat(Http.anonymous(api).get("/patroni").json().get("xlog").get("replayed_timestamp").asText())
                .isEqualTo("2026-12-06 05:01:00.500000+00:00");
    }

    @Test
    void replicaReportsReceivedAndReplayedPositions() {
        Http.Resp r = scrape(fx.backend(fx.replica("m3", M3_POSITION)));
        Map<String, JsonNode> f = PrometheusTextParser.parse(r.body());

        assertThat(value(f, "patroni_primary")).isEqualTo(0);
        assertThat(value(f, "patroni_replica")).isEqualTo(1);
        assertThat(value(f, "patroni_xlog_location")).isEqualTo(0);
        assertThat(value(f, "patroni_xlog_received_location")).isEqualTo(M3_POSITION.value());
        assertThat(value(f, "patroni_xlog_replayed_location")).isEqualTo(M3_POSITION.value());
        assertThat(value(f, "patroni_postgres_streaming")).isEqualTo(1);
        assertThat(value(f, "patroni_xlog_paused")).isEqualTo(0);
        assertThat(value(f, "patroni_sync_standby")).isEqualTo(0);
        assertThat(f.get("patroni_replica").get("samples").get(0).get("labels").get("name").asText())
                .isEqualTo("m3");
        assertThat(r.body()).contains("patroni_xlog_received_location{scope=\"demo\",name=\"m3\"} "
                + M3_POSITION.value() + "\n");
    }

    @Test
    void stoppedPostgresAndPauseAndAnUnlockedClusterShowAsSuch() {
        fx.config(RestFixture.map("pause", true));
        NodeStatus stopped = Snap.of(fx.snapshot("m2", RestFixture.stoppedPg(io.pgha.core.cluster.Role.REPLICA),
                false)).view(fx.store.peek()).build();
        fx.store.adminDelete(io.pgha.core.cluster.KeyLayout.LEADER);
        NodeStatus unlocked = Snap.of(stopped).view(fx.store.peek()).build();
        RestApi api = fx.serve(fx.backend(unlocked), RestFixture.rest());
        Map<String, JsonNode> f = PrometheusTextParser.parse(Http.anonymous(api).get("/metrics").body());

        assertThat(value(f, "patroni_postgres_running")).isEqualTo(0);
        // The role is what PostgreSQL last was (its control file), as GET /patroni and Patroni report it.
        assertThat(Http.anonymous(api).get("/patroni").json().get("role").asText()).isEqualTo("replica");
        assertThat(value(f, "patroni_replica")).isEqualTo(1);
        assertThat(value(f, "patroni_xlog_received_location")).isEqualTo(0);
        assertThat(value(f, "patroni_postgres_timeline")).isEqualTo(0);
        assertThat(value(f, "patroni_is_paused")).isEqualTo(1);
        assertThat(value(f, "patroni_cluster_unlocked")).isEqualTo(1);
    }

    @Test
    void labelValuesAreEscaped() {
        String scope = "we\"ird\\scope";
        HaSettings odd = HaSettings.builder(scope, "m1").ttl(Duration.ofSeconds(30)).loopWait(Duration.ofSeconds(10))
                .retryTimeout(Duration.ofSeconds(10)).build();
        Http.Resp r = scrape(fx.backend(Snap.of(fx.primary()).settings(odd).build()));
        Map<String, JsonNode> f = PrometheusTextParser.parse(r.body());

        assertThat(r.body()).contains("scope=\"we\\\"ird\\\\scope\"");
        assertThat(f.get("patroni_primary").get("samples").get(0).get("labels").get("scope").asText())
                .isEqualTo(scope);
        assertThat(MetricsText.escapeLabel("a\nb")).isEqualTo("a\\nb");
    }

    @Test
    void pghaFamiliesCarryTheLoopsCounters() {
        HaMetrics m = new HaMetrics();
        m.cycleTimed(Duration.ofMillis(42));
        m.cycleTimed(Duration.ofMillis(7));
        m.cycleCompleted(new CycleReport(null, RestFixture.primaryPg(OPTIME), new Decision(List.of(), "following", null),
                CycleReport.Outcome.DONE, ""));
        m.fenced("lease ran out");
        TestBackend leased = fx.backend(fx.primary());
        Map<String, JsonNode> f = PrometheusTextParser.parse(scrape(new DelegatingBackend(leased,
                () -> m.snapshot(Duration.ofMillis(12_500)))).body());

        // Counters are named without _total by the parser (its model of the format).
        assertThat(f.get("pgha_ha_cycles").get("type").asText()).isEqualTo("counter");
        assertThat(value(f, "pgha_ha_cycles")).isEqualTo(2);
        assertThat(f.get("pgha_ha_cycle_duration_seconds").get("type").asText()).isEqualTo("gauge");
        assertThat(value(f, "pgha_ha_cycle_duration_seconds")).isEqualTo(0.007);
        assertThat(value(f, "pgha_lease_remaining_seconds")).isEqualTo(12.5);
        assertThat(value(f, "pgha_fences")).isEqualTo(1);
        JsonNode decisions = f.get("pgha_ha_decisions").get("samples");
        assertThat(decisions).hasSize(1);
        assertThat(decisions.get(0).get("labels").get("kind").asText()).isEqualTo("none");
        assertThat(decisions.get(0).get("labels").get("scope").asText()).isEqualTo("demo");
        assertThat(decisions.get(0).get("value").asDouble()).isEqualTo(1);

        Map<String, JsonNode> noLease = PrometheusTextParser.parse(scrape(new DelegatingBackend(leased,
                () -> m.snapshot(null))).body());
        assertThat(value(noLease, "pgha_lease_remaining_seconds")).isEqualTo(-1);
    }

    @Test
    void beforeTheFirstCycleTheDurationHasNoSample() {
        HaMetrics m = new HaMetrics();
        Map<String, JsonNode> f = PrometheusTextParser.parse(scrape(new DelegatingBackend(fx.backend(fx.primary()),
                () -> m.snapshot(null))).body());

        assertThat(f.get("pgha_ha_cycle_duration_seconds").get("samples")).isEmpty();
        assertThat(value(f, "pgha_ha_cycles")).isEqualTo(0);
        assertThat(f.get("pgha_ha_decisions").get("samples")).isEmpty();
    }

    @Test
    void versionIsPaddedAsPatroniDoes() {
        assertThat(MetricsText.paddedVersion("3.0.2")).isEqualTo("030002");
        assertThat(MetricsText.paddedVersion("0.1.0-SNAPSHOT")).isEqualTo("000100");
        assertThat(MetricsText.paddedVersion("12.3.45")).isEqualTo("120345");
        assertThat(MetricsText.seconds(Duration.ofNanos(1_500))).isEqualTo("0.0000015");
        assertThat(List.of(MetricsText.seconds(Duration.ofSeconds(3)))).containsExactly("3");
    }

    /** A test backend with pgha's counters added. */
    private record DelegatingBackend(TestBackend inner, java.util.function.Supplier<HaMetrics.Snapshot> metrics)
            implements RestBackend {
        @Override
        public NodeStatus status() {
            return inner.status();
        }

        @Override
        public io.pgha.core.internal.admin.ClusterAdmin admin() {
            return inner.admin();
        }

        @Override
        public io.pgha.core.internal.ha.FailsafePingVerdict failsafePing(String sender) {
            return inner.failsafePing(sender);
        }

        @Override
        public HaMetrics.Snapshot haMetrics() {
            return metrics.get();
        }
    }
}
