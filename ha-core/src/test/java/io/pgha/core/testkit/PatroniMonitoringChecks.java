package io.pgha.core.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A monitoring client written for Patroni, in Java: the rules of Dalibo's {@code check_patroni} (2.x, as its README
 * documents them) plus the shape each status endpoint has at the Patroni release a member reports in
 * {@code patroni.version}. Tests run it against a pgha member's REST API, the way such a client would.
 *
 * <p>Why not the real tool: {@code check_patroni} ships only on PyPI, which this project's machines do not reach; it
 * is in neither Debian nor npm. So its documented rules are encoded here, read from its README, not copied:
 * <ul>
 *   <li>The state names depend on {@code patroni.version} from {@code GET /patroni}: from 3.0.4 on a replica is
 *   {@code streaming} or {@code in archive recovery}, before that {@code running}.</li>
 *   <li>{@code cluster_has_replica}: a healthy replica has role {@code replica} or {@code sync_standby}, a known lag
 *   (at most {@code --max-lag}), the leader's timeline, and one of the state names above.</li>
 *   <li>{@code cluster_node_count}: healthy members are a {@code running} leader and replicas (or standby leaders)
 *   in {@code running} (before 3.0.4) or {@code streaming} (from 3.0.4 on); {@code in archive recovery} never
 *   counts there.</li>
 *   <li>{@code cluster_has_leader}: a member with role {@code leader} and state {@code running}.</li>
 *   <li>The node services: {@code node_is_primary} ({@code /primary} answers 200), {@code node_is_replica}
 *   ({@code /replica}), {@code node_is_leader} ({@code /leader}), {@code node_is_alive} ({@code /liveness}),
 *   {@code node_is_pending_restart} ({@code pending_restart} of {@code /patroni}), {@code node_tl_has_changed}
 *   ({@code timeline}), {@code node_patroni_version} ({@code patroni.version}).</li>
 * </ul>
 */
public final class PatroniMonitoringChecks {

    /** One HTTP answer. */
    public record Answer(int status, String body) {}

    /** GET of a path on one member's REST API. */
    @FunctionalInterface
    public interface Api {
        Answer get(String path) throws IOException;
    }

    /** A Nagios plugin's verdict. */
    public enum Verdict { OK, WARNING, CRITICAL }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([^}]*)})? (\\S+)$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

    /** The families Patroni 4.0 writes in {@code GET /metrics} (its 3.x set less {@code patroni_master}). */
    static final Set<String> METRICS_4_0 = Set.of("patroni_version", "patroni_postgres_running",
            "patroni_postmaster_start_time", "patroni_primary", "patroni_xlog_location", "patroni_standby_leader",
            "patroni_replica", "patroni_sync_standby", "patroni_xlog_received_location",
            "patroni_xlog_replayed_location", "patroni_xlog_replayed_timestamp", "patroni_xlog_paused",
            "patroni_postgres_streaming", "patroni_postgres_in_archive_recovery", "patroni_postgres_server_version",
            "patroni_cluster_unlocked", "patroni_failsafe_mode_is_active", "patroni_postgres_timeline",
            "patroni_dcs_last_seen", "patroni_pending_restart", "patroni_is_paused");

    private final Api api;

    /** @param api the member this client asks (check_patroni's {@code -e}) */
    public PatroniMonitoringChecks(Api api) {
        this.api = api;
    }

    // ------------------------------------------------------------------------------------------------ version

    /** {@code patroni.version} of {@code GET /patroni}, as numbers ({@code 4.0.7} → [4, 0, 7]). */
    public int[] patroniVersion() {
        return parseVersion(json("/patroni").path("patroni").path("version").asText());
    }

    /** check_patroni's reading: "3.0.4" → [3, 0, 4]; a part that is not a number fails, as its int() does. */
    public static int[] parseVersion(String v) {
        String[] parts = v.split("\\.", 3);
        int[] out = new int[3];
        for (int i = 0; i < parts.length; i++) {
            out[i] = Integer.parseInt(parts[i]);
        }
        return out;
    }

    /** Whether {@code version} is at least {@code major.minor.patch}. */
    public static boolean atLeast(int[] version, int major, int minor, int patch) {
        int[] want = {major, minor, patch};
        for (int i = 0; i < 3; i++) {
            if (version[i] != want[i]) {
                return version[i] > want[i];
            }
        }
        return true;
    }

    /** Replicas say {@code streaming} / {@code in archive recovery} from Patroni 3.0.4 on, {@code running} before. */
    public boolean detailedReplicaStates() {
        return atLeast(patroniVersion(), 3, 0, 4);
    }

    // ------------------------------------------------------------------------------------------------ cluster services

    /** {@code cluster_has_replica}'s {@code healthy_replica} count; {@code maxLagBytes} null = no lag limit. */
    public int healthyReplicas(Long maxLagBytes) {
        boolean detailed = detailedReplicaStates();
        JsonNode members = json("/cluster").path("members");
        Integer leaderTimeline = null;
        for (JsonNode m : members) {
            if (m.path("role").asText().equals("leader") && m.has("timeline")) {
                leaderTimeline = m.get("timeline").asInt();
            }
        }
        int healthy = 0;
        for (JsonNode m : members) {
            String role = m.path("role").asText();
            if (!role.equals("replica") && !role.equals("sync_standby")) {
                continue;
            }
            JsonNode lag = m.path("lag");
            if (!lag.isNumber()) {
                continue; // "unknown"
            }
            String state = m.path("state").asText();
            boolean stateOk = detailed ? state.equals("streaming") || state.equals("in archive recovery")
                    : state.equals("running");
            boolean timelineOk = leaderTimeline != null && m.path("timeline").asInt(-1) == leaderTimeline;
            boolean lagOk = maxLagBytes == null || lag.asLong() <= maxLagBytes;
            if (stateOk && timelineOk && lagOk) {
                healthy++;
            }
        }
        return healthy;
    }

    /** {@code cluster_node_count}'s {@code healthy_members} count. */
    public int healthyMembers() {
        boolean detailed = detailedReplicaStates();
        int healthy = 0;
        for (JsonNode m : json("/cluster").path("members")) {
            String role = m.path("role").asText();
            String state = m.path("state").asText();
            if (role.equals("leader")) {
                healthy += state.equals("running") ? 1 : 0;
            } else if (Set.of("replica", "sync_standby", "standby_leader").contains(role)) {
                healthy += state.equals(detailed ? "streaming" : "running") ? 1 : 0;
            }
        }
        return healthy;
    }

    /** {@code cluster_node_count}'s {@code members} count. */
    public int members() {
        return json("/cluster").path("members").size();
    }

    /** {@code cluster_has_leader}: a member with role {@code leader} whose state is {@code running}. */
    public boolean hasRunningLeader() {
        for (JsonNode m : json("/cluster").path("members")) {
            if (m.path("role").asText().equals("leader") && m.path("state").asText().equals("running")) {
                return true;
            }
        }
        return false;
    }

    /** {@code cluster_is_in_maintenance}. */
    public boolean inMaintenance() {
        return json("/cluster").path("pause").asBoolean(false);
    }

    /**
     * A count checked the Nagios way with thresholds {@code warning:} and {@code critical:} (OK at or above each):
     * {@code cluster_has_replica --warning 2: --critical 1:}.
     */
    public static Verdict atLeast(int value, int warningMin, int criticalMin) {
        return value < criticalMin ? Verdict.CRITICAL : value < warningMin ? Verdict.WARNING : Verdict.OK;
    }

    // ------------------------------------------------------------------------------------------------ node services

    public boolean isPrimary() {
        return status("/primary") == 200;
    }

    public boolean isLeader() {
        return status("/leader") == 200;
    }

    public boolean isReplica() {
        return status("/replica") == 200;
    }

    public boolean isAlive() {
        return status("/liveness") == 200;
    }

    public boolean isPendingRestart() {
        return json("/patroni").path("pending_restart").asBoolean(false);
    }

    public int timeline() {
        return json("/patroni").path("timeline").asInt();
    }

    // ------------------------------------------------------------------------------------------------ shapes

    /**
     * What in this member's answers does not have the shape Patroni has at the version the member reports:
     * {@code /patroni}, {@code /cluster}, {@code /history}, {@code /config} and {@code /metrics}, each checked on its
     * own and against the others (a replica's state in {@code /cluster} is what its level says). Empty when all fit.
     */
    public List<String> shapeViolations() {
        List<String> out = new ArrayList<>();
        JsonNode me = json("/patroni");
        int[] level = parseVersion(me.path("patroni").path("version").asText());
        boolean detailed = atLeast(level, 3, 0, 4);
        boolean v4 = atLeast(level, 4, 0, 0);

        // GET /patroni
        requireText(out, me, "state", "/patroni");
        String role = me.path("role").asText();
        Set<String> roles = v4 ? Set.of("primary", "replica", "standby_leader", "uninitialized", "demoted", "promoted")
                : Set.of("master", "replica", "standby_leader", "uninitialized", "demoted", "promoted");
        if (!roles.contains(role)) {
            out.add("/patroni role '" + role + "' is not a role of Patroni " + String.join(".", str(level)));
        }
        JsonNode patroni = me.path("patroni");
        for (String f : List.of("version", "scope", "name")) {
            requireText(out, patroni, f, "/patroni patroni");
        }
        if (me.path("state").asText().equals("running")) {
            requireInt(out, me, "server_version", "/patroni");
            requireInt(out, me, "timeline", "/patroni");
            JsonNode xlog = me.path("xlog");
            if (role.equals(v4 ? "primary" : "master")) {
                requireInt(out, xlog, "location", "/patroni xlog");
            } else if (role.equals("replica")) {
                requireInt(out, xlog, "received_location", "/patroni xlog");
                requireInt(out, xlog, "replayed_location", "/patroni xlog");
                if (!xlog.has("replayed_timestamp")) {
                    out.add("/patroni xlog has no replayed_timestamp (null allowed)");
                }
                if (!xlog.path("paused").isBoolean()) {
                    out.add("/patroni xlog.paused is not a boolean: " + xlog.path("paused"));
                }
            }
        }
        if (me.has("replication_state")) {
            String rs = me.get("replication_state").asText();
            if (!detailed || !Set.of("streaming", "in archive recovery").contains(rs)) {
                out.add("/patroni replication_state '" + rs + "' at Patroni " + String.join(".", str(level)));
            }
        }
        if (me.has("dcs_last_seen") && !me.get("dcs_last_seen").canConvertToLong()) {
            out.add("/patroni dcs_last_seen is not epoch seconds: " + me.get("dcs_last_seen"));
        }
        for (String flag : List.of("pending_restart", "pause", "cluster_unlocked", "failsafe_mode_is_active")) {
            if (me.has(flag) && !me.get(flag).isBoolean()) {
                out.add("/patroni " + flag + " is not a boolean: " + me.get(flag));
            }
        }

        // GET /cluster, and this member's own entry against its /patroni
        JsonNode cluster = json("/cluster");
        requireText(out, cluster, "scope", "/cluster");
        Set<String> clusterRoles = v4 ? Set.of("leader", "replica", "sync_standby", "standby_leader",
                "quorum_standby") : Set.of("leader", "replica", "sync_standby", "standby_leader");
        if (!cluster.path("members").isArray() || cluster.path("members").isEmpty()) {
            out.add("/cluster has no members array");
        }
        for (JsonNode m : cluster.path("members")) {
            String where = "/cluster member " + m.path("name").asText("?");
            requireText(out, m, "name", where);
            requireText(out, m, "state", where);
            requireText(out, m, "api_url", where);
            requireText(out, m, "host", where);
            requireInt(out, m, "port", where);
            String r = m.path("role").asText();
            if (!clusterRoles.contains(r)) {
                out.add(where + " role '" + r + "'");
            }
            if (!r.equals("leader")) {
                JsonNode lag = m.path("lag");
                if (!lag.canConvertToLong() && !lag.asText().equals("unknown")) {
                    out.add(where + " lag is neither bytes nor 'unknown': " + lag);
                }
            }
            String state = m.path("state").asText();
            if (!r.equals("leader") && !detailed && Set.of("streaming", "in archive recovery").contains(state)) {
                out.add(where + " state '" + state + "' before Patroni 3.0.4 (a client expects 'running')");
            }
            if (m.path("name").asText().equals(patroni.path("name").asText()) && !r.equals("leader")
                    && me.path("state").asText().equals("running") && detailed) {
                String expected = me.has("replication_state") ? me.get("replication_state").asText() : "running";
                if (!state.equals(expected)) {
                    out.add(where + " state '" + state + "' but its /patroni says '" + expected + "'");
                }
            }
        }

        // GET /history
        JsonNode history = json("/history");
        if (!history.isArray()) {
            out.add("/history is not an array");
        }
        for (JsonNode row : history) {
            if (!row.isArray() || row.size() < 3 || !row.get(0).canConvertToInt() || !row.get(1).canConvertToLong()
                    || !row.get(2).isTextual()) {
                out.add("/history row " + row + " is not [timeline, lsn, reason, ...]");
                continue;
            }
            if (row.size() >= 4 && !row.get(3).isNull()) {
                try {
                    OffsetDateTime.parse(row.get(3).asText(), DateTimeFormatter.ISO_OFFSET_DATE_TIME);
                } catch (DateTimeParseException e) {
                    out.add("/history row " + row + ": the timestamp is not ISO 8601 with an offset");
                }
            }
            if (row.size() >= 5 && !row.get(4).isTextual()) {
                out.add("/history row " + row + ": the new leader is not a name");
            }
        }

        // GET /config
        Answer config = get("/config");
        if (config.status() == 200) {
            if (!parse("/config", config.body()).isObject()) {
                out.add("/config is not a JSON object");
            }
        } else if (config.status() != 502) {
            out.add("/config answered " + config.status() + " (200, or 502 without a config key)");
        }

        // GET /metrics
        Answer metrics = get("/metrics");
        if (metrics.status() != 200) {
            out.add("/metrics answered " + metrics.status());
        } else {
            Map<String, Map<String, String>> samples = samples(metrics.body());
            for (String family : METRICS_4_0) {
                if (!samples.containsKey(family)) {
                    out.add("/metrics has no " + family);
                } else if (!samples.get(family).containsKey("scope") || !samples.get(family).containsKey("name")) {
                    out.add("/metrics " + family + " is not labelled {scope, name}");
                }
            }
            if (v4 && samples.containsKey("patroni_master")) {
                out.add("/metrics has patroni_master, which Patroni 4.0 dropped");
            }
            String padded = String.format("%02d%02d%02d", level[0], level[1], level[2]);
            Map<String, String> v = samples.get("patroni_version");
            if (v != null && Long.parseLong(v.get("")) != Long.parseLong(padded)) {
                out.add("/metrics patroni_version " + v.get("") + " but /patroni says " + padded);
            }
        }
        return out;
    }

    /** Each sample's labels and, under the key "", its value (one sample per family is all Patroni writes). */
    static Map<String, Map<String, String>> samples(String text) {
        Map<String, Map<String, String>> out = new HashMap<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            if (!m.matches()) {
                throw new IllegalArgumentException("not a sample line: " + line);
            }
            Map<String, String> labels = new HashMap<>();
            if (m.group(3) != null) {
                Matcher l = LABEL.matcher(m.group(3));
                while (l.find()) {
                    labels.put(l.group(1), l.group(2));
                }
            }
            labels.put("", m.group(4));
            out.put(m.group(1), labels);
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------------ plumbing

    private static void requireText(List<String> out, JsonNode o, String field, String where) {
        if (!o.path(field).isTextual() || o.path(field).asText().isEmpty()) {
            out.add(where + " has no " + field + " string: " + o.path(field));
        }
    }

    private static void requireInt(List<String> out, JsonNode o, String field, String where) {
        if (!o.path(field).isIntegralNumber()) {
            out.add(where + " has no integer " + field + ": " + o.path(field));
        }
    }

    private static String[] str(int[] v) {
        return new String[] {Integer.toString(v[0]), Integer.toString(v[1]), Integer.toString(v[2])};
    }

    private int status(String path) {
        return get(path).status();
    }

    private JsonNode json(String path) {
        Answer a = get(path);
        if (a.status() != 200) {
            throw new IllegalStateException("GET " + path + " answered " + a.status() + ": " + a.body());
        }
        return parse(path, a.body());
    }

    private static JsonNode parse(String path, String body) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new IllegalStateException("GET " + path + " is not JSON: " + body, e);
        }
    }

    private Answer get(String path) {
        try {
            return api.get(path);
        } catch (IOException e) {
            throw new UncheckedIOException("GET " + path, e);
        }
    }
}
