package io.pgha.core.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.ParameterChange;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.SynchronousMode;
import io.pgha.core.config.Tags;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Patroni's DCS values, as Patroni 3.x and 4.x write them, read and written back. */
class PatroniJsonTest {

    private static final KeyLayout LAYOUT = KeyLayout.of("batman");

    /** A member key written by Patroni 4.1 (abridged from a live cluster's shape). */
    private static final String PATRONI_MEMBER = """
            {"conn_url":"postgres://10.0.0.2:5432/postgres","api_url":"http://10.0.0.2:8008/patroni",\
            "state":"running","role":"replica","version":"4.1.4","xlog_location":50331968,\
            "receive_lsn":50331968,"replay_lsn":50331800,"replication_state":"streaming","timeline":3,\
            "tags":{"nofailover":false,"clonefrom":true,"failover_priority":2,"datacenter":"eu-1"},\
            "pending_restart":true,"pending_restart_reason":{"max_connections":{"old_value":"100","new_value":"200"}}}""";

    @Test
    void aPatroniMemberKeyIsReadWithUnknownFieldsKept() {
        Member m = PatroniJson.decodeMember("postgresql1", PATRONI_MEMBER, 7);
        assertThat(m.name()).isEqualTo("postgresql1");
        assertThat(m.role()).isEqualTo(Role.REPLICA);
        assertThat(m.isRunning()).isTrue();
        assertThat(m.xlogLocation()).isEqualTo(Lsn.of(50331968));
        assertThat(m.replayLsn()).isEqualTo(Lsn.of(50331800));
        assertThat(m.timeline()).isEqualTo(3);
        assertThat(m.tags().clonefrom()).isTrue();
        assertThat(m.tags().failoverPriority()).isEqualTo(2);
        assertThat(m.tags().custom()).containsEntry("datacenter", "eu-1");
        assertThat(m.pendingRestart()).isTrue();
        assertThat(m.extra()).containsKeys("version", "pending_restart_reason");
        assertThat(m.postgresAddress()).hasValueSatisfying(a -> assertThat(a.toString()).isEqualTo("10.0.0.2:5432"));
        assertThat(m.version()).isEqualTo(7);
    }

    @Test
    void aMemberRoundTripsThroughOurEncoder() {
        Member m = PatroniJson.decodeMember("p1", PATRONI_MEMBER, 7);
        Member back = PatroniJson.decodeMember("p1", PatroniJson.text(PatroniJson.encodeMember(m)), 7);
        assertThat(back).isEqualTo(m);
    }

    /** Issue 12: what pgha writes as the reason is Patroni's shape, which Patroni's patronictl (3.3+) lists. */
    @Test
    void aPendingRestartReasonIsWrittenInPatronisShape() {
        Map<String, ParameterChange> reason = new TreeMap<>(Map.of(
                "shared_buffers", new ParameterChange("128MB", "24MB"),
                "max_connections", new ParameterChange("100", "200")));
        Member m = new Member("p1", "postgres://10.0.0.1:5432/postgres", null, "running", Role.REPLICA, null, null,
                null, null, 2, Tags.DEFAULT, true, false,
                Map.of("pending_restart_reason", ParameterChange.patroniJson(reason)), 1);

        String text = PatroniJson.text(PatroniJson.encodeMember(m));
        assertThat(text).contains("\"pending_restart\":true,\"pending_restart_reason\":"
                + "{\"max_connections\":{\"old_value\":\"100\",\"new_value\":\"200\"},"
                + "\"shared_buffers\":{\"old_value\":\"128MB\",\"new_value\":\"24MB\"}}");
        Member back = PatroniJson.decodeMember("p1", text, 1);
        assertThat(back).as("read back equal, so the key is not rewritten every cycle").isEqualTo(m);
        assertThat(PatroniJson.decodeMember("p1", PATRONI_MEMBER, 7).extra().get("pending_restart_reason"))
                .as("Patroni's own, read the same way")
                .isEqualTo(ParameterChange.patroniJson(Map.of("max_connections", new ParameterChange("100", "200"))));
    }

    @Test
    void aDrainingLeaderSaysSoInItsOwnFieldAndOnlyWhenItDrains() {
        Member m = PatroniJson.decodeMember("p1", PATRONI_MEMBER, 7);
        assertThat(m.draining()).as("Patroni never writes it").isFalse();
        assertThat(PatroniJson.text(PatroniJson.encodeMember(m))).doesNotContain("pgha_draining");
        String text = PatroniJson.text(PatroniJson.encodeMember(m.withDraining(true)));
        assertThat(text).contains("\"pgha_draining\":true");
        Member back = PatroniJson.decodeMember("p1", text, 7);
        assertThat(back.draining()).isTrue();
        assertThat(back.extra()).as("interpreted, not kept as an unknown field").doesNotContainKey("pgha_draining");
    }

    @Test
    void patroni3MasterRoleIsReadAsPrimary() {
        Member m = PatroniJson.decodeMember("p1", "{\"role\":\"master\",\"state\":\"running\"}", 1);
        assertThat(m.role()).isEqualTo(Role.PRIMARY);
    }

    @Test
    void theLegacyBareUrlMemberFormIsRead() {
        Member m = PatroniJson.decodeMember("p1",
                "postgres://10.0.0.1:5432/postgres?application_name=http://10.0.0.1:8008/patroni", 1);
        assertThat(m.connUrl()).isEqualTo("postgres://10.0.0.1:5432/postgres");
        assertThat(m.apiUrl()).isEqualTo("http://10.0.0.1:8008/patroni");
    }

    @Test
    void aPatroniConfigIsReadAndKeepsWhatPghaDoesNotInterpret() {
        GlobalConfig c = PatroniJson.decodeConfig("""
                {"ttl":30,"loop_wait":10,"retry_timeout":10,"maximum_lag_on_failover":1048576,\
                "master_start_timeout":300,"synchronous_mode":"on","synchronous_mode_strict":false,\
                "postgresql":{"use_pg_rewind":true,"use_slots":true,"parameters":{"max_connections":100,\
                "wal_log_hints":"on","hot_standby":true}},"slots":{"perm":{"type":"physical"}}}""", 4);
        assertThat(c.ttl()).contains(Duration.ofSeconds(30));
        assertThat(c.primaryStartTimeout()).as("the pre-4.0 alias").contains(Duration.ofSeconds(300));
        assertThat(c.synchronousMode()).contains(SynchronousMode.ON);
        assertThat(c.usePgRewind()).contains(true);
        assertThat(c.postgresParameters()).containsEntry("max_connections", "100").containsEntry("hot_standby", "on");
        assertThat(c.json()).containsKey("slots");
        assertThat(PatroniJson.decodeConfig(PatroniJson.text(PatroniJson.encodeConfig(c)), 4)).isEqualTo(c);
    }

    @Test
    void aConfigPatchMergesLikePatroni() {
        GlobalConfig c = GlobalConfig.of(java.util.Map.of("ttl", 30, "pause", true,
                "postgresql", java.util.Map.of("parameters", java.util.Map.of("a", 1, "b", 2))));
        GlobalConfig p = c.mergePatch(java.util.Map.of(
                "postgresql", java.util.Map.of("parameters", java.util.Map.of("a", 9))));
        assertThat(p.postgresParameters()).containsEntry("a", "9").containsEntry("b", "2");
        java.util.Map<String, Object> unpause = new java.util.HashMap<>();
        unpause.put("pause", null);
        assertThat(p.mergePatch(unpause).pause()).isFalse();
    }

    @Test
    void quorumSynchronousModeIsRejectedClearly() {
        assertThat(PatroniJson.decodeConfig("{\"synchronous_mode\":\"quorum\"}", 1).malformed().get("synchronous_mode"))
                .as("read from the store: the setting is unusable (the last value stays), the key is not")
                .contains("synchronous_mode").contains("quorum");
        assertThatThrownBy(() -> GlobalConfig.of(java.util.Map.of("synchronous_mode", "quorum")))
                .hasMessageContaining("synchronous_mode").hasMessageContaining("quorum");
    }

    @Test
    void theSyncKeyInBothShapes() {
        SyncState s = PatroniJson.decodeSync("{\"leader\":\"a\",\"sync_standby\":\"b,c\",\"quorum\":0}", 3);
        assertThat(s.leader()).isEqualTo("a");
        assertThat(s.standbys()).containsExactly("b", "c");
        assertThat(PatroniJson.decodeSync("{\"leader\":\"a\",\"sync_standby\":null}", 3).standbys()).isEmpty();
        assertThat(PatroniJson.decodeSync(PatroniJson.text(PatroniJson.encodeSync(s)), 3)).isEqualTo(s);
    }

    @Test
    void theFailoverKeyInAllItsForms() {
        FailoverRequest f = PatroniJson.decodeFailover(
                "{\"leader\":\"a\",\"member\":\"b\",\"scheduled_at\":\"2026-03-01T10:00:00+01:00\"}", 2);
        assertThat(f.leader()).isEqualTo("a");
        assertThat(f.candidate()).isEqualTo("b");
        assertThat(f.scheduledAt().toString()).isEqualTo("2026-03-01T10:00+01:00");
        assertThat(PatroniJson.decodeFailover("a:b", 2).candidate()).isEqualTo("b");
        assertThat(PatroniJson.decodeFailover("{}", 2).isEmpty()).isTrue();
        assertThat(PatroniJson.decodeFailover(PatroniJson.text(PatroniJson.encodeFailover(f)), 2)).isEqualTo(f);
        assertThatThrownBy(() -> PatroniJson.decodeFailover("{\"scheduled_at\":\"tomorrow\"}", 2))
                .hasMessageContaining("scheduled_at");
    }

    @Test
    void theHistoryKeyWithThreeAndFiveColumns() {
        TimelineHistory h = PatroniJson.decodeHistory("""
                [[1,25165984,"no recovery target specified"],\
                [2,50331968,"no recovery target specified","2026-01-01T10:00:00+00:00","postgresql1"]]""", 5);
        assertThat(h.entries()).hasSize(2);
        assertThat(h.entries().get(1).newLeader()).isEqualTo("postgresql1");
        assertThat(h.clusterTimeline()).isEqualTo(3);
        assertThat(PatroniJson.decodeHistory(PatroniJson.text(PatroniJson.encodeHistory(h)), 5)).isEqualTo(h);
    }

    @Test
    void theStatusKeyAndItsLegacyForm() {
        assertThat(PatroniJson.decodeStatus("{\"optime\":123,\"slots\":{\"s\":99},\"retain_slots\":[\"x\"]}", 1)
                .optime()).isEqualTo(Lsn.of(123));
        assertThat(PatroniJson.decodeStatus("456", 1).optime()).isEqualTo(Lsn.of(456));
    }

    @Test
    void malformedValuesNameTheirKeyAndLeaveTheRestOfTheViewIntact() {
        ClusterView v = ClusterViewDecoder.decode(LAYOUT, List.of(
                RawNode.of("leader", "postgresql0", 1),
                RawNode.of("members/postgresql0", "{\"state\":\"running\",\"timeline\":\"three\"}", 2),
                RawNode.of("members/postgresql1", PATRONI_MEMBER, 3),
                RawNode.of("config", "{\"ttl\": \"thirty\", \"loop_wait\": 5}", 4),
                RawNode.of("history", "{\"not\":\"a list\"}", 5),
                RawNode.of("failover", "{broken", 6),
                RawNode.of("some/citus/group/key", "whatever", 7)));
        assertThat(v.leaderName()).contains("postgresql0");
        assertThat(v.members()).containsOnlyKeys("postgresql1");
        assertThat(v.problems()).hasSize(3);
        assertThat(v.problems()).anySatisfy(p -> assertThat(p).startsWith("malformed value at /service/batman/members/"
                + "postgresql0").contains("timeline"));
        assertThat(v.problems()).anySatisfy(p -> assertThat(p).contains("/service/batman/history"));
        assertThat(v.problems()).anySatisfy(p -> assertThat(p).contains("/service/batman/failover"));
        // A wrong-typed setting leaves the rest of the config usable (the HA loop keeps that setting's last value).
        assertThat(v.config().malformed()).containsOnlyKeys("ttl");
        assertThat(v.config().loopWait()).contains(java.time.Duration.ofSeconds(5));
    }

    @Test
    void theLegacyOptimeKeyIsUsedWhenStatusIsAbsent() {
        ClusterView v = ClusterViewDecoder.decode(LAYOUT, List.of(RawNode.of("optime/leader", "777", 1)));
        assertThat(v.status().optime()).isEqualTo(Lsn.of(777));
    }

    @Test
    void keyLayoutIsPatronis() {
        assertThat(LAYOUT.leader()).isEqualTo("/service/batman/leader");
        assertThat(new KeyLayout("custom/", "x").member("a")).isEqualTo("/custom/x/members/a");
        assertThat(LAYOUT.relative("/service/batman/members/a")).isEqualTo("members/a");
        assertThatThrownBy(() -> KeyLayout.of("a/b")).hasMessageContaining("scope");
    }
}
