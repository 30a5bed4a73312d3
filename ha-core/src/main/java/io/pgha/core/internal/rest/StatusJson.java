package io.pgha.core.internal.rest;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.ParameterChange;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.ReplicationRow;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.RestSettings;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * The status document of {@code GET /patroni} (and the body of every health check), in Patroni's shape.
 *
 * <p>Peers read it during a leader race: {@code xlog.location} (or role {@code primary}) means "not in recovery",
 * otherwise the position is max(received, replayed). A member whose PostgreSQL does not answer reports no
 * {@code xlog} at all, which Patroni's race reads as "unreachable" — so a stopped or starting member never
 * counts with a stale position.
 */
final class StatusJson {

    /** Patroni's form of a server timestamp (a Python datetime with its offset): 2023-08-18 11:03:37.966359+00:00. */
    private static final DateTimeFormatter SERVER_TIME =
            DateTimeFormatter.ofPattern("uuuu-MM-dd HH:mm:ss.SSSSSSxxx").withZone(ZoneOffset.UTC);

    private StatusJson() {}

    /** Patroni's {@code role}: what PostgreSQL says it is (the lease decides the health checks, not this). */
    static String role(NodeStatus s) {
        return s.pg().dataDir() == PgState.DataDir.EMPTY ? Role.UNINITIALIZED.json() : s.pg().role().json();
    }

    /** Positions, timeline and replication are reported only while PostgreSQL answers and its role is known. */
    static boolean reportsPosition(NodeStatus s) {
        return s.running() && s.pg().role() != Role.UNKNOWN;
    }

    /**
     * @param version pgha's own version ({@code pgha.version}); {@code patroni.version} is the API level pgha
     *                answers in ({@link RestSettings#PATRONI_API_LEVEL})
     */
    static ObjectNode of(NodeStatus s, String version) {
        ObjectNode o = RestJson.MAPPER.createObjectNode();
        PgState pg = s.pg();
        o.put("state", s.state());
        if (s.running() && pg.server().postmasterStartTime() != null) {
            o.put("postmaster_start_time", SERVER_TIME.format(pg.server().postmasterStartTime()));
        }
        o.put("role", role(s));
        if (s.running() && pg.server().serverVersion() > 0) {
            o.put("server_version", pg.server().serverVersion());
        }
        if (reportsPosition(s)) {
            ObjectNode xlog = o.putObject("xlog");
            if (pg.role() == Role.PRIMARY) {
                if (pg.walPosition() != null) {
                    xlog.put("location", pg.walPosition().value());
                }
            } else {
                if (pg.receiveLsn() != null) {
                    xlog.put("received_location", pg.receiveLsn().value());
                }
                if (pg.replayLsn() != null) {
                    xlog.put("replayed_location", pg.replayLsn().value());
                } else if (pg.walPosition() != null) {
                    xlog.put("replayed_location", pg.walPosition().value());
                }
                Instant replayed = pg.server().lastReplayTimestamp();
                if (replayed == null) {
                    xlog.putNull("replayed_timestamp");
                } else {
                    xlog.put("replayed_timestamp", SERVER_TIME.format(replayed));
                }
                xlog.put("paused", pg.replayPaused());
            }
            if (pg.timeline() > 0) {
                o.put("timeline", pg.timeline());
            }
            if (pg.streamingAndReplaying()) {
                o.put("replication_state", "streaming");
            }
            if (!pg.replication().isEmpty()) {
                ArrayNode rows = o.putArray("replication");
                for (ReplicationRow r : pg.replication()) {
                    ObjectNode row = rows.addObject();
                    row.put("application_name", r.applicationName());
                    row.put("state", r.state());
                    row.put("sync_state", r.syncState());
                }
            }
            if (s.syncStandby()) {
                o.put("sync_standby", true);
            }
            if (pg.systemId() != null) {
                o.put("database_system_identifier", pg.systemId());
            }
            if (pg.pendingRestart()) {
                o.put("pending_restart", true);
                if (!pg.server().pendingRestartReason().isEmpty()) {
                    o.set("pending_restart_reason", RestJson.MAPPER.valueToTree(
                            ParameterChange.patroniJson(pg.server().pendingRestartReason())));
                }
            }
        }
        if (s.paused()) {
            o.put("pause", true);
        }
        if (s.clusterUnlocked()) {
            o.put("cluster_unlocked", true);
        }
        if (s.failsafeActive()) {
            o.put("failsafe_mode_is_active", true);
        }
        if (s.dcsLastSeen() != null) {
            o.put("dcs_last_seen", s.dcsLastSeen().getEpochSecond());
        }
        ObjectNode tags = RestJson.MAPPER.valueToTree(s.settings().tags().toPatroni());
        if (!tags.isEmpty()) {
            o.set("tags", tags);
        }
        ObjectNode patroni = o.putObject("patroni");
        patroni.put("version", RestSettings.PATRONI_API_LEVEL);
        patroni.put("scope", s.settings().scope());
        patroni.put("name", s.name());
        // pgha's own version apart: monitoring clients choose state names by patroni.version (decision 0511).
        o.putObject("pgha").put("version", version);
        return o;
    }
}
