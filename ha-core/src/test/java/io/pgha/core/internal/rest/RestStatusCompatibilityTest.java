package io.pgha.core.internal.rest;

import static io.pgha.core.internal.rest.RestFixture.M3_POSITION;
import static io.pgha.core.internal.rest.RestFixture.OPTIME;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.Role;
import io.pgha.core.internal.ha.PeerStatus;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The status JSON read the way Patroni's leader race reads it (is_healthiest_node, _is_healthiest_node), so a Patroni member racing against
 * pgha members, and pgha reading Patroni members, reach the same verdicts.
 */
class RestStatusCompatibilityTest {

    private final RestFixture fx = new RestFixture().standard();

    @AfterEach
    void close() {
        fx.close();
    }

    /** What Patroni's race takes from an answer: reachable or not, in recovery or not, and the position. */
    private record RaceReading(boolean reachable, boolean inRecovery, long lsn) {}

    /**
     * Patroni's reading, as its is_healthiest_node reads a peer's GET /patroni: the {@code wal} or else {@code xlog} object must be
     * there (otherwise the member counts as unreachable); a non-zero {@code location} or a primary role means "not
     * in recovery"; a member in recovery is at max(received, replayed), and 0 otherwise.
     */
    private static RaceReading patroniReads(JsonNode doc) {
        JsonNode wal = doc.hasNonNull("wal") ? doc.get("wal") : doc.get("xlog");
        if (wal == null || !wal.isObject()) {
            return new RaceReading(false, false, 0);
        }
        String role = doc.path("role").asText();
        boolean inRecovery = !(wal.path("location").asLong(0) != 0 || role.equals("master") || role.equals("primary"));
        long lsn = inRecovery ? Math.max(wal.path("received_location").asLong(0),
                wal.path("replayed_location").asLong(0)) : 0;
        return new RaceReading(true, inRecovery, lsn);
    }

    /** pgha's reading must lead {@code LeaderRace} to the same verdict as Patroni's reading leads Patroni. */
    private static void assertSameVerdict(String name, JsonNode doc) {
        RaceReading patroni = patroniReads(doc);
        Optional<PeerStatus> ours = HttpPeerClient.parseStatus(name, doc);
        assertThat(ours).as("a status document always parses").isPresent();
        PeerStatus p = ours.get();
        if (!patroni.reachable()) {
            // LeaderRace skips a member that does not run: the same as not hearing from it.
            assertThat(p.running()).as(name + " counts as not running").isFalse();
            assertThat(p.walPosition()).isNull();
            return;
        }
        assertThat(p.inRecovery()).as(name + " in recovery").isEqualTo(patroni.inRecovery());
        if (patroni.inRecovery()) {
            assertThat(p.position().value()).as(name + " position").isEqualTo(patroni.lsn());
        }
    }

    private JsonNode served(NodeStatus s) {
        return Http.to(fx.serve(fx.backend(s), RestFixture.rest())).get("/patroni").json();
    }

    @Test
    void ourDocumentsReadAlikeInBothRaces() {
        JsonNode primary = served(fx.primary());
        JsonNode replica = served(fx.replica("m3", M3_POSITION));
        JsonNode stopped = served(Snap.of(fx.primary()).pg(RestFixture.stoppedPg(Role.PRIMARY)).build());
        JsonNode starting = served(Snap.of(fx.replica("m2", OPTIME)).busy(LongAction.START_REPLICA).build());

        assertThat(patroniReads(primary)).isEqualTo(new RaceReading(true, false, 0));
        assertThat(patroniReads(replica)).isEqualTo(new RaceReading(true, true, M3_POSITION.value()));
        assertThat(patroniReads(stopped).reachable()).as("a stopped former primary is no obstacle").isFalse();
        assertThat(patroniReads(starting).reachable()).isFalse();
        for (Map.Entry<String, JsonNode> e : Map.of("primary", primary, "replica", replica, "stopped", stopped,
                "starting", starting).entrySet()) {
            assertSameVerdict(e.getKey(), e.getValue());
        }
        assertThat(HttpPeerClient.parseStatus("m1", primary).get().position()).isEqualTo(OPTIME);
    }

    @Test
    void patroniDocumentsReadAlike() throws Exception {
        List<String> docs = List.of(
                // Patroni 3.x primary
                "{\"state\":\"running\",\"role\":\"master\",\"xlog\":{\"location\":67108864},\"timeline\":3}",
                // 4.x replica, received ahead of replayed
                "{\"state\":\"running\",\"role\":\"replica\",\"xlog\":{\"received_location\":5000,"
                        + "\"replayed_location\":4000,\"replayed_timestamp\":null,\"paused\":false},\"timeline\":3,"
                        + "\"tags\":{\"failover_priority\":2}}",
                // replica whose receiver is gone: replayed only
                "{\"state\":\"running\",\"role\":\"replica\",\"xlog\":{\"replayed_location\":4000,\"paused\":true}}",
                // newer key name
                "{\"state\":\"running\",\"role\":\"replica\",\"wal\":{\"received_location\":7000}}",
                // PostgreSQL down
                "{\"state\":\"stopped\",\"role\":\"replica\",\"cluster_unlocked\":true}",
                // promoted but still reporting as a replica for a moment: a location wins
                "{\"state\":\"running\",\"role\":\"replica\",\"xlog\":{\"location\":9000}}");
        int i = 0;
        for (String d : docs) {
            assertSameVerdict("doc" + i++, RestJson.MAPPER.readTree(d));
        }
        PeerStatus r = HttpPeerClient.parseStatus("r", RestJson.MAPPER.readTree(docs.get(1))).get();
        assertThat(r.failoverPriority()).isEqualTo(2);
        assertThat(r.timeline()).isEqualTo(3);
        assertThat(HttpPeerClient.parseStatus("x", RestJson.MAPPER.readTree("[1]"))).isEmpty();
    }
}
