package io.pgha.core.spi;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.cluster.ClusterStatus;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.Tags;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Encodes and decodes the DCS values in Patroni's JSON shapes, so Patroni's own tools can read a pgha cluster and
 * pgha can read a Patroni one.
 *
 * <p>Decoding is tolerant where Patroni is (unknown fields kept, legacy forms accepted) and strict where a wrong
 * value would mislead the HA loop: a field of the wrong type is an {@link IllegalArgumentException} naming the field.
 * {@link ClusterViewDecoder} adds the key and keeps the HA loop running.
 */
public final class PatroniJson {

    /** Configured once, never mutated afterwards, never handed out: Jackson stays inside the codec. */
    private static final ObjectMapper MAPPER =
            new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() {};

    private static final Set<String> MEMBER_FIELDS = Set.of("conn_url", "api_url", "state", "role", "xlog_location",
            "receive_lsn", "replay_lsn", "replication_state", "timeline", "tags", "pending_restart", "pause",
            "pgha_draining");

    private PatroniJson() {}

    // ------------------------------------------------------------------------------------------------ members

    public static byte[] encodeMember(Member m) {
        ObjectNode o = MAPPER.createObjectNode();
        putIfNotNull(o, "conn_url", m.connUrl());
        putIfNotNull(o, "api_url", m.apiUrl());
        o.put("state", m.state());
        o.put("role", m.role().json());
        if (m.xlogLocation() != null) {
            o.put("xlog_location", m.xlogLocation().value());
        }
        if (m.receiveLsn() != null) {
            o.put("receive_lsn", m.receiveLsn().value());
        }
        if (m.replayLsn() != null) {
            o.put("replay_lsn", m.replayLsn().value());
        }
        putIfNotNull(o, "replication_state", m.replicationState());
        if (m.timeline() > 0) {
            o.put("timeline", m.timeline());
        }
        Map<String, Object> tags = m.tags().toPatroni();
        if (!tags.isEmpty()) {
            o.set("tags", MAPPER.valueToTree(tags));
        }
        if (m.pendingRestart()) {
            o.put("pending_restart", true);
        }
        if (m.paused()) {
            o.put("pause", true);
        }
        if (m.draining()) {
            o.put("pgha_draining", true);
        }
        m.extra().forEach((k, v) -> {
            if (!o.has(k)) {
                o.set(k, MAPPER.valueToTree(v));
            }
        });
        return bytes(o);
    }

    public static Member decodeMember(String name, String text, long version) {
        String s = text.trim();
        if (s.startsWith("postgres://") || s.startsWith("postgresql://")) {
            // Legacy form: a bare connection URL, optionally with ?application_name=<api_url>.
            String conn = s;
            String api = null;
            int q = s.indexOf("?application_name=");
            if (q >= 0) {
                conn = s.substring(0, q);
                api = s.substring(q + "?application_name=".length());
            }
            return new Member(name, conn, api, "unknown", Role.UNKNOWN, null, null, null, null, 0, Tags.DEFAULT,
                    false, false, Map.of(), version);
        }
        JsonNode n = parseObject(s);
        Map<String, Object> extra = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!MEMBER_FIELDS.contains(e.getKey())) {
                extra.put(e.getKey(), MAPPER.convertValue(e.getValue(), Object.class));
            }
        }
        return new Member(
                name,
                text(n, "conn_url"),
                text(n, "api_url"),
                text(n, "state"),
                Role.fromJson(text(n, "role")),
                lsn(n, "xlog_location"),
                lsn(n, "receive_lsn"),
                lsn(n, "replay_lsn"),
                text(n, "replication_state"),
                (int) integer(n, "timeline", 0),
                decodeTags(n.get("tags")),
                bool(n, "pending_restart"),
                bool(n, "pause"),
                bool(n, "pgha_draining"),
                extra,
                version);
    }

    private static Tags decodeTags(JsonNode t) {
        if (t == null || t.isNull()) {
            return Tags.DEFAULT;
        }
        if (!t.isObject()) {
            throw new IllegalArgumentException("tags: expected an object, got " + t.getNodeType());
        }
        return Tags.fromPatroni(MAPPER.convertValue(t, MAP));
    }

    // ------------------------------------------------------------------------------------------------ config

    public static byte[] encodeConfig(GlobalConfig c) {
        return bytes(MAPPER.valueToTree(c.json()));
    }

    public static GlobalConfig decodeConfig(String text, long version) {
        if (text.isBlank()) {
            return GlobalConfig.ABSENT.withVersion(version);
        }
        return GlobalConfig.lenient(MAPPER.convertValue(parseObject(text), MAP), version);
    }

    // ------------------------------------------------------------------------------------------------ sync

    public static byte[] encodeSync(SyncState s) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("leader", s.leader());
        if (s.standbys().isEmpty()) {
            o.putNull("sync_standby");
        } else {
            o.put("sync_standby", String.join(",", s.standbys()));
        }
        return bytes(o);
    }

    public static SyncState decodeSync(String text, long version) {
        if (text.isBlank()) {
            return SyncState.ABSENT.withVersion(version);
        }
        JsonNode n = parseObject(text);
        JsonNode ss = n.get("sync_standby");
        List<String> standbys = new ArrayList<>();
        if (ss != null && !ss.isNull()) {
            if (ss.isTextual()) {
                Arrays.stream(ss.textValue().split(",")).map(String::trim).filter(x -> !x.isEmpty())
                        .forEach(standbys::add);
            } else if (ss.isArray()) {
                ss.forEach(x -> standbys.add(x.asText()));
            } else {
                throw new IllegalArgumentException("sync_standby: expected a string or a list, got " + ss.getNodeType());
            }
        }
        return new SyncState(text(n, "leader"), standbys, version);
    }

    // ------------------------------------------------------------------------------------------------ failover

    public static byte[] encodeFailover(FailoverRequest f) {
        ObjectNode o = MAPPER.createObjectNode();
        putIfNotNull(o, "leader", f.leader());
        putIfNotNull(o, "member", f.candidate());
        if (f.scheduledAt() != null) {
            o.put("scheduled_at", f.scheduledAt().toString());
        }
        return bytes(o);
    }

    public static FailoverRequest decodeFailover(String text, long version) {
        String s = text.trim();
        if (s.isEmpty()) {
            return FailoverRequest.ABSENT.withVersion(version);
        }
        if (!s.startsWith("{")) {
            // Legacy "leader:candidate" form.
            int colon = s.indexOf(':');
            String leader = colon < 0 ? s : s.substring(0, colon);
            String candidate = colon < 0 ? null : s.substring(colon + 1);
            return new FailoverRequest(blankToNull(leader), blankToNull(candidate), null, version);
        }
        JsonNode n = parseObject(s);
        String candidate = text(n, "member");
        if (candidate == null) {
            candidate = text(n, "candidate");
        }
        OffsetDateTime at = null;
        String when = text(n, "scheduled_at");
        if (when != null) {
            try {
                at = OffsetDateTime.parse(when.replace(' ', 'T'));
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException(
                        "scheduled_at: expected an ISO-8601 time with a time zone, got '" + when + "'", e);
            }
        }
        return new FailoverRequest(text(n, "leader"), candidate, at, version);
    }

    // ------------------------------------------------------------------------------------------------ history

    public static byte[] encodeHistory(TimelineHistory h) {
        ArrayNode a = MAPPER.createArrayNode();
        for (TimelineHistory.Entry e : h.entries()) {
            ArrayNode row = a.addArray();
            row.add(e.timeline());
            row.add(e.switchLsn().value());
            row.add(e.reason() == null ? "" : e.reason());
            if (e.timestamp() != null || e.newLeader() != null) {
                row.add(e.timestamp());
                row.add(e.newLeader());
            }
        }
        return bytes(a);
    }

    public static TimelineHistory decodeHistory(String text, long version) {
        if (text.isBlank()) {
            return TimelineHistory.ABSENT;
        }
        JsonNode n = parse(text);
        if (!n.isArray()) {
            throw new IllegalArgumentException("expected a list of [timeline, lsn, reason, timestamp, leader], got "
                    + n.getNodeType());
        }
        List<TimelineHistory.Entry> entries = new ArrayList<>();
        int i = 0;
        for (JsonNode row : n) {
            if (!row.isArray() || row.size() < 2) {
                throw new IllegalArgumentException("entry " + i + ": expected [timeline, lsn, ...], got " + row);
            }
            JsonNode tl = row.get(0);
            JsonNode lsn = row.get(1);
            if (!tl.isIntegralNumber()) {
                throw new IllegalArgumentException("entry " + i + ": timeline must be an integer, got " + tl);
            }
            Lsn switchLsn = lsn.isIntegralNumber() ? Lsn.of(lsn.longValue()) : Lsn.parse(lsn.asText());
            entries.add(new TimelineHistory.Entry(tl.intValue(), switchLsn,
                    row.size() > 2 && !row.get(2).isNull() ? row.get(2).asText() : null,
                    row.size() > 3 && !row.get(3).isNull() ? row.get(3).asText() : null,
                    row.size() > 4 && !row.get(4).isNull() ? row.get(4).asText() : null));
            i++;
        }
        return new TimelineHistory(entries, version);
    }

    // ------------------------------------------------------------------------------------------------ status

    public static byte[] encodeStatus(ClusterStatus s) {
        ObjectNode o = MAPPER.createObjectNode();
        if (s.optime() != null) {
            o.put("optime", s.optime().value());
        }
        ObjectNode slots = o.putObject("slots");
        new TreeMap<>(s.slots()).forEach((k, v) -> slots.put(k, v.value()));
        ArrayNode retain = o.putArray("retain_slots");
        s.retainSlots().forEach(retain::add);
        return bytes(o);
    }

    public static ClusterStatus decodeStatus(String text, long version) {
        if (text.isBlank()) {
            return ClusterStatus.ABSENT;
        }
        JsonNode n = parse(text);
        if (n.isIntegralNumber()) {
            return new ClusterStatus(Lsn.of(n.longValue()), Map.of(), List.of(), version);
        }
        if (!n.isObject()) {
            throw new IllegalArgumentException("expected an object with optime, got " + n.getNodeType());
        }
        Map<String, Lsn> slots = new LinkedHashMap<>();
        JsonNode s = n.get("slots");
        if (s != null && s.isObject()) {
            s.fields().forEachRemaining(e -> {
                if (e.getValue().isIntegralNumber()) {
                    slots.put(e.getKey(), Lsn.of(e.getValue().longValue()));
                }
            });
        }
        List<String> retain = new ArrayList<>();
        JsonNode r = n.get("retain_slots");
        if (r != null && r.isArray()) {
            r.forEach(x -> retain.add(x.asText()));
        }
        return new ClusterStatus(lsn(n, "optime"), slots, retain, version);
    }

    // ------------------------------------------------------------------------------------------------ failsafe

    public static byte[] encodeFailsafe(Map<String, String> members) {
        ObjectNode o = MAPPER.createObjectNode();
        new TreeMap<>(members).forEach(o::put);
        return bytes(o);
    }

    public static Map<String, String> decodeFailsafe(String text) {
        if (text.isBlank()) {
            return Map.of();
        }
        JsonNode n = parseObject(text);
        Map<String, String> out = new TreeMap<>();
        n.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static byte[] bytes(JsonNode n) {
        try {
            return MAPPER.writeValueAsBytes(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + n.getNodeType(), e);
        }
    }

    public static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    static JsonNode parse(String text) {
        try {
            return MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not valid JSON (" + e.getOriginalMessage() + ")", e);
        }
    }

    static JsonNode parseObject(String text) {
        JsonNode n = parse(text);
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("expected a JSON object, got "
                    + (n == null ? "nothing" : n.getNodeType().toString().toLowerCase()));
        }
        return n;
    }

    private static void putIfNotNull(ObjectNode o, String k, String v) {
        if (v != null) {
            o.put(k, v);
        }
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isValueNode()) {
            throw new IllegalArgumentException(field + ": expected a string, got " + v.getNodeType());
        }
        return v.asText();
    }

    private static boolean bool(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v != null && truthy(v);
    }

    private static boolean truthy(JsonNode v) {
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        if (v.isTextual()) {
            String s = v.textValue().trim().toLowerCase();
            return s.equals("true") || s.equals("on") || s.equals("yes") || s.equals("1");
        }
        if (v.isNumber()) {
            return v.intValue() != 0;
        }
        return false;
    }

    private static long integer(JsonNode n, String field, long dflt) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (v.isIntegralNumber()) {
            return v.longValue();
        }
        if (v.isTextual()) {
            try {
                return Long.parseLong(v.textValue().trim());
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        throw new IllegalArgumentException(field + ": expected an integer, got " + v);
    }

    private static Lsn lsn(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.isIntegralNumber()) {
            if (v.longValue() < 0) {
                throw new IllegalArgumentException(field + ": a WAL position cannot be negative, got " + v);
            }
            return Lsn.of(v.longValue());
        }
        if (v.isTextual()) {
            try {
                return Lsn.parse(v.textValue());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(field + ": expected a WAL position, got " + v, e);
            }
        }
        throw new IllegalArgumentException(field + ": expected a WAL position (integer), got " + v);
    }
}
