package io.pgha.core.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.config.SynchronousMode;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The {@code config} key: Patroni's dynamic (cluster-wide) configuration.
 *
 * <p>The whole JSON document is kept, unknown keys included, so that a read-modify-write (e.g. {@code PATCH /config})
 * never drops what another tool wrote. The settings pgha interprets are parsed when the value is built: a value of
 * the wrong type is an {@link IllegalArgumentException} naming the field, which the codec turns into an error naming
 * the DCS key. Every setting is optional: absent means "use the member's own setting".
 */
public final class GlobalConfig {

    public static final GlobalConfig ABSENT = new GlobalConfig(JsonNodeFactory.instance.objectNode(), DcsVersion.ABSENT);

    private final ObjectNode json;
    private final long version;

    private final Optional<Duration> ttl;
    private final Optional<Duration> loopWait;
    private final Optional<Duration> retryTimeout;
    private final Optional<Long> maximumLagOnFailover;
    private final Optional<Duration> primaryStartTimeout;
    private final Optional<SynchronousMode> synchronousMode;
    private final Optional<Boolean> synchronousModeStrict;
    private final Optional<Integer> synchronousNodeCount;
    private final Optional<Boolean> failsafeMode;
    private final Optional<Boolean> checkTimeline;
    private final Optional<Boolean> usePgRewind;
    private final Optional<Boolean> useSlots;
    private final boolean pause;

    public GlobalConfig(ObjectNode json, long version) {
        this.json = json.deepCopy();
        this.version = version;
        this.ttl = seconds("ttl");
        this.loopWait = seconds("loop_wait");
        this.retryTimeout = seconds("retry_timeout");
        this.maximumLagOnFailover = integer("maximum_lag_on_failover").map(Long::valueOf);
        Optional<Duration> pst = seconds("primary_start_timeout");
        this.primaryStartTimeout = pst.isPresent() ? pst : seconds("master_start_timeout");
        this.synchronousMode = syncMode(json.get("synchronous_mode"));
        this.synchronousModeStrict = bool(json, "synchronous_mode_strict", "");
        this.synchronousNodeCount = integer("synchronous_node_count").map(Math::toIntExact);
        this.failsafeMode = bool(json, "failsafe_mode", "");
        this.checkTimeline = bool(json, "check_timeline", "");
        this.pause = bool(json, "pause", "").orElse(false);
        JsonNode pg = json.get("postgresql");
        if (pg != null && !pg.isNull() && !pg.isObject()) {
            throw new IllegalArgumentException("postgresql: expected an object, got " + pg.getNodeType());
        }
        this.usePgRewind = pg == null || pg.isNull() ? Optional.empty() : bool(pg, "use_pg_rewind", "postgresql.");
        this.useSlots = pg == null || pg.isNull() ? Optional.empty() : bool(pg, "use_slots", "postgresql.");
    }

    /** A config holding just these entries (values as JSON-compatible Java objects). */
    public static GlobalConfig of(Map<String, ?> values) {
        return new GlobalConfig(io.pgha.core.spi.PatroniJson.MAPPER.valueToTree(values), DcsVersion.ABSENT);
    }

    /** The complete JSON document (a copy). */
    public ObjectNode json() {
        return json.deepCopy();
    }

    public long version() {
        return version;
    }

    public boolean isAbsent() {
        return version == DcsVersion.ABSENT && json.isEmpty();
    }

    public GlobalConfig withVersion(long v) {
        return new GlobalConfig(json, v);
    }

    /**
     * Applies a JSON merge patch (RFC 7396, as Patroni's {@code PATCH /config}): {@code null} removes a key,
     * objects merge recursively, anything else replaces. The result keeps this config's version for the CAS write.
     */
    public GlobalConfig mergePatch(JsonNode patch) {
        if (!patch.isObject()) {
            throw new IllegalArgumentException("a config patch must be a JSON object, got " + patch.getNodeType());
        }
        ObjectNode merged = json.deepCopy();
        merge(merged, (ObjectNode) patch);
        return new GlobalConfig(merged, version);
    }

    private static void merge(ObjectNode target, ObjectNode patch) {
        for (Iterator<Map.Entry<String, JsonNode>> it = patch.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (v == null || v.isNull()) {
                target.remove(e.getKey());
            } else if (v.isObject() && target.get(e.getKey()) instanceof ObjectNode existing) {
                merge(existing, (ObjectNode) v);
            } else {
                target.set(e.getKey(), v.deepCopy());
            }
        }
    }

    public Optional<Duration> ttl() {
        return ttl;
    }

    public Optional<Duration> loopWait() {
        return loopWait;
    }

    public Optional<Duration> retryTimeout() {
        return retryTimeout;
    }

    /** {@code maximum_lag_on_failover} in bytes. */
    public Optional<Long> maximumLagOnFailover() {
        return maximumLagOnFailover;
    }

    public Optional<Duration> primaryStartTimeout() {
        return primaryStartTimeout;
    }

    public Optional<SynchronousMode> synchronousMode() {
        return synchronousMode;
    }

    public Optional<Boolean> synchronousModeStrict() {
        return synchronousModeStrict;
    }

    public Optional<Integer> synchronousNodeCount() {
        return synchronousNodeCount;
    }

    public Optional<Boolean> failsafeMode() {
        return failsafeMode;
    }

    public Optional<Boolean> checkTimeline() {
        return checkTimeline;
    }

    public Optional<Boolean> usePgRewind() {
        return usePgRewind;
    }

    public Optional<Boolean> useSlots() {
        return useSlots;
    }

    /** Maintenance mode: {@code pause: true}. */
    public boolean pause() {
        return pause;
    }

    /** {@code postgresql.parameters} as strings (numbers and booleans are written the way PostgreSQL accepts them). */
    public Map<String, String> postgresParameters() {
        JsonNode params = json.path("postgresql").path("parameters");
        Map<String, String> out = new LinkedHashMap<>();
        if (params.isObject()) {
            params.fields().forEachRemaining(e -> {
                JsonNode v = e.getValue();
                if (!v.isNull()) {
                    out.put(e.getKey(), v.isBoolean() ? (v.booleanValue() ? "on" : "off") : v.asText());
                }
            });
        }
        return out;
    }

    /** Seconds as Patroni writes them (an integer), or a decimal for sub-second timings. */
    private Optional<Duration> seconds(String field) {
        JsonNode v = json.get(field);
        if (v != null && (v.isFloatingPointNumber() || v.isBigDecimal())) {
            if (v.doubleValue() < 0) {
                throw new IllegalArgumentException(field + ": expected a number of seconds >= 0, got " + v);
            }
            return Optional.of(Duration.ofMillis(Math.round(v.doubleValue() * 1000)));
        }
        return integer(field).map(Duration::ofSeconds);
    }

    private Optional<Long> integer(String field) {
        JsonNode v = json.get(field);
        if (v == null || v.isNull()) {
            return Optional.empty();
        }
        if (v.isIntegralNumber()) {
            return Optional.of(v.longValue());
        }
        if (v.isTextual()) {
            try {
                return Optional.of(Long.parseLong(v.textValue().trim()));
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException(field + ": expected an integer, got " + v);
    }

    private static Optional<Boolean> bool(JsonNode obj, String field, String prefix) {
        JsonNode v = obj.get(field);
        if (v == null || v.isNull()) {
            return Optional.empty();
        }
        if (v.isBoolean()) {
            return Optional.of(v.booleanValue());
        }
        if (v.isTextual()) {
            switch (v.textValue().trim().toLowerCase(Locale.ROOT)) {
                case "true", "on", "yes", "1":
                    return Optional.of(true);
                case "false", "off", "no", "0":
                    return Optional.of(false);
                default:
                    break;
            }
        }
        throw new IllegalArgumentException(prefix + field + ": expected true or false, got " + v);
    }

    private static Optional<SynchronousMode> syncMode(JsonNode v) {
        if (v == null || v.isNull()) {
            return Optional.empty();
        }
        if (v.isBoolean()) {
            return Optional.of(v.booleanValue() ? SynchronousMode.ON : SynchronousMode.OFF);
        }
        if (v.isTextual()) {
            switch (v.textValue().trim().toLowerCase(Locale.ROOT)) {
                case "on", "true":
                    return Optional.of(SynchronousMode.ON);
                case "off", "false":
                    return Optional.of(SynchronousMode.OFF);
                case "quorum":
                    throw new IllegalArgumentException(
                            "synchronous_mode: 'quorum' is not supported by pgha yet (use on or off)");
                default:
                    break;
            }
        }
        throw new IllegalArgumentException("synchronous_mode: expected on, off, true or false, got " + v);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GlobalConfig g && g.version == version && g.json.equals(json);
    }

    @Override
    public int hashCode() {
        return json.hashCode() * 31 + Long.hashCode(version);
    }

    @Override
    public String toString() {
        return "GlobalConfig" + json + "@" + version;
    }
}
