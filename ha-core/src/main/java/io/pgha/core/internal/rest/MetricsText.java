package io.pgha.core.internal.rest;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.ServerFacts;
import io.pgha.core.config.RestSettings;
import io.pgha.core.internal.ha.HaMetrics;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

/**
 * {@code GET /metrics}: the Prometheus text exposition format 0.0.4, written by hand (docs/decisions 0508).
 *
 * <p>The {@code patroni_*} families carry the names, types and help texts of the Patroni API level pgha answers in
 * ({@link RestSettings#PATRONI_API_LEVEL}: no {@code patroni_master}, dropped in Patroni 4.0), each sample labelled
 * {@code {scope="...",name="..."}}, so dashboards and alerts written for Patroni work unchanged. Their values come
 * from the same {@link NodeStatus} as {@code GET /patroni}, so the two never disagree. Then pgha's own version
 * ({@code pgha_version_info}) and its {@code pgha_*} families, the latter when the HA loop's counters are wired in.
 */
final class MetricsText {

    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final StringBuilder out = new StringBuilder(4096);
    private final String labels;

    private MetricsText(NodeStatus s) {
        labels = "scope=\"" + escapeLabel(s.settings().scope()) + "\",name=\"" + escapeLabel(s.name()) + "\"";
    }

    /**
     * @param s       this member now
     * @param version pgha's own version (the {@code pgha.version} of {@code GET /patroni})
     * @param ha      the HA loop's counters; null leaves out the {@code pgha_*} families
     */
    static String render(NodeStatus s, String version, HaMetrics.Snapshot ha) {
        MetricsText m = new MetricsText(s);
        m.patroni(s);
        m.header("pgha_version_info", "pgha's own version, as the version label; patroni_version is the Patroni API"
                + " level pgha answers in.", "gauge");
        m.sample("pgha_version_info", ",version=\"" + escapeLabel(version) + "\"", "1");
        if (ha != null) {
            m.pgha(ha);
        }
        return m.out.toString();
    }

    private void patroni(NodeStatus s) {
        PgState pg = s.pg();
        String role = StatusJson.role(s);
        boolean positions = StatusJson.reportsPosition(s);
        boolean primary = role.equals(Role.PRIMARY.json());
        boolean replica = role.equals(Role.REPLICA.json());
        gauge("patroni_version", "Patroni semver without periods.", paddedVersion(RestSettings.PATRONI_API_LEVEL));
        gauge("patroni_postgres_running", "Value is 1 if Postgres is running, 0 otherwise.",
                flag(s.state().equals("running")));
        ServerFacts facts = s.running() ? pg.server() : ServerFacts.NONE;
        gauge("patroni_postmaster_start_time", "Epoch seconds since Postgres started.",
                epochSeconds(facts.postmasterStartTime()));
        gauge("patroni_primary", "Value is 1 if this node is the leader, 0 otherwise.", flag(primary));
        counter("patroni_xlog_location",
                "Current location of the Postgres transaction log, 0 if this node is not the leader.",
                lsn(positions && primary ? pg.walPosition() : null));
        // pgha runs no standby clusters, so it never is a standby leader.
        gauge("patroni_standby_leader", "Value is 1 if this node is the standby_leader, 0 otherwise.", "0");
        gauge("patroni_replica", "Value is 1 if this node is a replica, 0 otherwise.", flag(replica));
        gauge("patroni_sync_standby", "Value is 1 if this node is a sync standby replica, 0 otherwise.",
                flag(s.syncStandby()));
        boolean replicaPositions = positions && pg.role() == Role.REPLICA;
        counter("patroni_xlog_received_location",
                "Current location of the received Postgres transaction log, 0 if this node is not a replica.",
                lsn(replicaPositions ? pg.receiveLsn() : null));
        counter("patroni_xlog_replayed_location",
                "Current location of the replayed Postgres transaction log, 0 if this node is not a replica.",
                lsn(replicaPositions ? (pg.replayLsn() != null ? pg.replayLsn() : pg.walPosition()) : null));
        gauge("patroni_xlog_replayed_timestamp",
                "Current timestamp of the replayed Postgres transaction log, 0 if null.",
                epochSeconds(replicaPositions ? facts.lastReplayTimestamp() : null));
        gauge("patroni_xlog_paused", "Value is 1 if the Postgres xlog is paused, 0 otherwise.",
                flag(replicaPositions && pg.replayPaused()));
        gauge("patroni_postgres_streaming", "Value is 1 if Postgres is streaming, 0 otherwise.",
                flag(replicaPositions && pg.streamingAndReplaying()));
        // GET /patroni never reports "in archive recovery" (a replica either streams or reports no state).
        gauge("patroni_postgres_in_archive_recovery",
                "Value is 1 if Postgres is replicating from archive, 0 otherwise.", "0");
        gauge("patroni_postgres_server_version", "Version of Postgres (if running), 0 otherwise.",
                Integer.toString(facts.serverVersion()));
        gauge("patroni_cluster_unlocked", "Value is 1 if the cluster is unlocked, 0 if locked.",
                flag(s.clusterUnlocked()));
        gauge("patroni_failsafe_mode_is_active", "Value is 1 if failsafe mode is active, 0 if inactive.",
                flag(s.failsafeActive()));
        counter("patroni_postgres_timeline", "Postgres timeline of this node (if running), 0 otherwise.",
                Integer.toString(positions ? Math.max(0, pg.timeline()) : 0));
        gauge("patroni_dcs_last_seen", "Epoch timestamp when DCS was last contacted successfully by Patroni.",
                Long.toString(s.dcsLastSeen() == null ? 0 : s.dcsLastSeen().getEpochSecond()));
        gauge("patroni_pending_restart", "Value is 1 if the node needs a restart, 0 otherwise.",
                flag(pg.pendingRestart()));
        gauge("patroni_is_paused", "Value is 1 if auto failover is disabled, 0 otherwise.", flag(s.paused()));
    }

    private void pgha(HaMetrics.Snapshot ha) {
        counter("pgha_ha_cycles_total", "HA cycles the loop ran, failed ones included.", Long.toString(ha.cycles()));
        header("pgha_ha_cycle_duration_seconds", "How long the last HA cycle took (absent before the first).",
                "gauge");
        if (ha.lastCycle() != null) {
            sample("pgha_ha_cycle_duration_seconds", "", seconds(ha.lastCycle()));
        }
        gauge("pgha_lease_remaining_seconds", "Time left on this member's leader lease, -1 while it holds none.",
                ha.leaseRemaining() == null ? "-1" : seconds(ha.leaseRemaining()));
        header("pgha_ha_decisions_total",
                "Steps the HA loop decided, by kind; a decision without steps counts as kind none.", "counter");
        for (Map.Entry<String, Long> e : ha.decisions().entrySet()) {
            sample("pgha_ha_decisions_total", ",kind=\"" + escapeLabel(e.getKey()) + "\"",
                    Long.toString(e.getValue()));
        }
        counter("pgha_fences_total", "Times PostgreSQL was fenced: stopped at once because the lease ran out or"
                + " another member leads.", Long.toString(ha.fences()));
    }

    // ------------------------------------------------------------------------------------------------ format

    private void gauge(String name, String help, String value) {
        header(name, help, "gauge");
        sample(name, "", value);
    }

    private void counter(String name, String help, String value) {
        header(name, help, "counter");
        sample(name, "", value);
    }

    private void header(String name, String help, String type) {
        out.append("# HELP ").append(name).append(' ').append(escapeHelp(help)).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private void sample(String name, String extraLabels, String value) {
        out.append(name).append('{').append(labels).append(extraLabels).append("} ").append(value).append('\n');
    }

    private static String flag(boolean b) {
        return b ? "1" : "0";
    }

    private static String lsn(Lsn l) {
        return l == null ? "0" : Long.toUnsignedString(l.value());
    }

    /** Exact decimal seconds, never exponent notation. */
    static String seconds(Duration d) {
        return BigDecimal.valueOf(d.getSeconds()).add(BigDecimal.valueOf(d.getNano(), 9)).stripTrailingZeros()
                .toPlainString();
    }

    /**
     * Patroni's form: each dot-separated part zero-padded to two digits ({@code 3.0.2} → {@code 030002}). A part's
     * leading digits count ({@code 0.1.0-SNAPSHOT} → {@code 000100}); a part without any counts as 0.
     */
    static String paddedVersion(String version) {
        StringBuilder b = new StringBuilder();
        for (String part : version.split("\\.")) {
            int end = 0;
            while (end < part.length() && Character.isDigit(part.charAt(end))) {
                end++;
            }
            String digits = end == 0 ? "0" : part.substring(0, end);
            b.append(digits.length() < 2 ? "0" + digits : digits);
        }
        return b.length() == 0 ? "0" : b.toString();
    }

    /** Label values escape backslash, double quote and line feed (the text format's rule). */
    static String escapeLabel(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    /** Help texts escape backslash and line feed. */
    static String escapeHelp(String v) {
        return v.replace("\\", "\\\\").replace("\n", "\\n");
    }

    /** Epoch seconds with microseconds, as Patroni writes timestamps; 0 for unknown. */
    static String epochSeconds(Instant t) {
        if (t == null) {
            return "0";
        }
        return BigDecimal.valueOf(t.getEpochSecond()).add(BigDecimal.valueOf(t.getNano(), 9))
                .stripTrailingZeros().toPlainString();
    }
}
