package io.pgha.core.cluster;

import io.pgha.core.config.DataSize;
import io.pgha.core.config.Durations;
import io.pgha.core.config.DynamicSettings;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.SynchronousMode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The {@code config} key: Patroni's dynamic (cluster-wide) configuration.
 *
 * <p>The whole JSON document is kept, unknown keys included, as a tree of JDK values (maps, lists, strings, numbers,
 * booleans, nulls), so that a read-modify-write (e.g. {@code PATCH /config}) never drops what another tool wrote. The
 * settings pgha interprets are parsed when the value is built: a value of the wrong type is an
 * {@link IllegalArgumentException} naming the field, which the codec turns into an error naming the DCS key. Every
 * setting is optional: absent means "use the member's own setting".
 */
public final class GlobalConfig {

    public static final GlobalConfig ABSENT = new GlobalConfig(Map.of(), DcsVersion.ABSENT);

    private final Map<String, Object> json;
    private final long version;
    private final DynamicSettings dynamic;
    private final Map<String, String> malformed;

    /**
     * @param json    the document: maps with string keys, lists, strings, numbers, booleans and nulls
     * @param version the DCS version it was read at
     * @throws IllegalArgumentException when a setting pgha interprets has the wrong type, naming it
     */
    public GlobalConfig(Map<String, ?> json, long version) {
        this(json, version, true);
    }

    private GlobalConfig(Map<String, ?> json, long version, boolean strict) {
        this.json = freezeMap(json, "");
        this.version = version;
        Map<String, String> bad = new LinkedHashMap<>();
        Object pg = this.json.get("postgresql");
        if (pg != null && !(pg instanceof Map)) {
            String why = "postgresql: expected an object, got " + kind(pg);
            bad.put("postgresql", why);
            // Its settings are unusable, not absent: absent would mean "the member's own".
            bad.put("postgresql.use_pg_rewind", why);
            bad.put("postgresql.use_slots", why);
            bad.put("postgresql.parameters", why);
            bad.put("postgresql.pg_hba", why);
            bad.put("postgresql.pg_ident", why);
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> pgSection = pg instanceof Map ? (Map<String, Object>) pg : Map.of();
        Object params = pgSection.get("parameters");
        if (params != null && !(params instanceof Map)) {
            bad.put("postgresql.parameters", "postgresql.parameters: expected an object, got " + kind(params));
        }
        parsed(bad, "postgresql.pg_hba", () -> lines(pgSection, "pg_hba"));
        parsed(bad, "postgresql.pg_ident", () -> lines(pgSection, "pg_ident"));
        Duration pst = parsed(bad, "primary_start_timeout", () -> seconds("primary_start_timeout").orElse(null));
        if (pst == null && !bad.containsKey("primary_start_timeout")) {
            pst = parsed(bad, "master_start_timeout", () -> seconds("master_start_timeout").orElse(null));
        }
        this.dynamic = new DynamicSettings(
                parsed(bad, "ttl", () -> seconds("ttl").orElse(null)),
                parsed(bad, "loop_wait", () -> seconds("loop_wait").orElse(null)),
                parsed(bad, "retry_timeout", () -> seconds("retry_timeout").orElse(null)),
                parsed(bad, "maximum_lag_on_failover",
                        () -> integer("maximum_lag_on_failover").map(DataSize::ofBytes).orElse(null)),
                pst,
                parsed(bad, "synchronous_mode", () -> syncMode(this.json.get("synchronous_mode")).orElse(null)),
                parsed(bad, "synchronous_mode_strict",
                        () -> bool(this.json, "synchronous_mode_strict", "").orElse(null)),
                parsed(bad, "synchronous_node_count",
                        () -> integer("synchronous_node_count").map(Math::toIntExact).orElse(null)),
                parsed(bad, "failsafe_mode", () -> bool(this.json, "failsafe_mode", "").orElse(null)),
                parsed(bad, "check_timeline", () -> bool(this.json, "check_timeline", "").orElse(null)),
                parsed(bad, "postgresql.use_pg_rewind",
                        () -> bool(pgSection, "use_pg_rewind", "postgresql.").orElse(null)),
                parsed(bad, "postgresql.use_slots", () -> bool(pgSection, "use_slots", "postgresql.").orElse(null)),
                parsed(bad, "member_slots_ttl", () -> withUnit("member_slots_ttl").orElse(null)),
                parsed(bad, "pause", () -> bool(this.json, "pause", "").orElse(null)));
        if (strict && !bad.isEmpty()) {
            throw new IllegalArgumentException(bad.values().iterator().next());
        }
        this.malformed = Collections.unmodifiableMap(bad);
    }

    /**
     * The document as read from the store: a setting pgha interprets whose value has the wrong type (Patroni's tools
     * do not check types: {@code ttl: soon} can be stored) is left out of {@link #dynamic()} and named in
     * {@link #malformed()}, instead of making the whole key unusable. The HA loop keeps that setting's last applied
     * value and applies the rest (docs/decisions 0020).
     */
    public static GlobalConfig lenient(Map<String, ?> json, long version) {
        return new GlobalConfig(json, version, false);
    }

    /**
     * The settings whose stored value has the wrong type (only a {@link #lenient} config has any): Patroni's key
     * ({@code ttl}, {@code postgresql.use_slots}, ...) to the message naming it and what was expected.
     */
    public Map<String, String> malformed() {
        return malformed;
    }

    private static <T> T parsed(Map<String, String> bad, String key, java.util.function.Supplier<T> parse) {
        try {
            return parse.get();
        } catch (IllegalArgumentException e) {
            bad.put(key, e.getMessage());
            return null;
        } catch (ArithmeticException e) {
            bad.put(key, key + ": out of range");
            return null;
        }
    }

    /** A config holding just these entries (values as JSON-compatible Java objects). */
    public static GlobalConfig of(Map<String, ?> values) {
        return new GlobalConfig(values, DcsVersion.ABSENT);
    }

    /**
     * The document the first member writes at bootstrap: its {@link HaSettings#bootstrapConfig()} (Patroni's
     * {@code bootstrap.dcs}, copied whole) with its dynamic settings over it, in Patroni's names and units.
     */
    public static GlobalConfig bootstrap(HaSettings s) {
        DynamicSettings d = s.dynamic();
        Map<String, Object> m = new LinkedHashMap<>(s.bootstrapConfig());
        m.put("ttl", Durations.toSeconds(d.ttl()));
        m.put("loop_wait", Durations.toSeconds(d.loopWait()));
        m.put("retry_timeout", Durations.toSeconds(d.retryTimeout()));
        m.put("maximum_lag_on_failover", d.maximumLagOnFailover().bytes());
        m.put("primary_start_timeout", Durations.toSeconds(d.primaryStartTimeout()));
        m.put("synchronous_mode", d.synchronousMode() == SynchronousMode.ON);
        m.put("synchronous_mode_strict", d.synchronousModeStrict());
        m.put("synchronous_node_count", d.synchronousNodeCount());
        m.put("failsafe_mode", d.failsafeMode());
        m.put("check_timeline", d.checkTimeline());
        if (Boolean.TRUE.equals(d.pause())) {
            m.put("pause", true);
        }
        Map<String, Object> pg = new LinkedHashMap<>();
        if (m.get("postgresql") instanceof Map<?, ?> given) {
            given.forEach((k, v) -> pg.put(String.valueOf(k), v));
        }
        pg.put("use_pg_rewind", d.usePgRewind());
        pg.put("use_slots", d.useSlots());
        m.put("postgresql", pg);
        m.put("member_slots_ttl", Durations.toSeconds(d.memberSlotsTtl()));
        return of(m);
    }

    /** The complete document: unmodifiable maps and lists. */
    public Map<String, Object> json() {
        return json;
    }

    public long version() {
        return version;
    }

    public boolean isAbsent() {
        return version == DcsVersion.ABSENT && json.isEmpty();
    }

    public GlobalConfig withVersion(long v) {
        return new GlobalConfig(json, v, malformed.isEmpty());
    }

    /** The settings pgha interprets, as read from the document. */
    public DynamicSettings dynamic() {
        return dynamic;
    }

    /**
     * Applies a JSON merge patch (RFC 7396, as Patroni's {@code PATCH /config}): {@code null} removes a key,
     * objects merge recursively, anything else replaces. The result keeps this config's version for the CAS write.
     */
    public GlobalConfig mergePatch(Map<String, ?> patch) {
        Map<String, Object> merged = new LinkedHashMap<>(json);
        merge(merged, patch);
        // Lenient: a wrong-typed value already stored must not block an unrelated patch (pause, say); the caller
        // refuses a patch that adds one (ClusterAdmin).
        return new GlobalConfig(merged, version, false);
    }

    @SuppressWarnings("unchecked")
    private static void merge(Map<String, Object> target, Map<String, ?> patch) {
        for (Map.Entry<String, ?> e : patch.entrySet()) {
            Object v = e.getValue();
            if (v == null) {
                target.remove(e.getKey());
            } else if (v instanceof Map<?, ?> m && target.get(e.getKey()) instanceof Map<?, ?> existing) {
                Map<String, Object> copy = new LinkedHashMap<>((Map<String, Object>) existing);
                merge(copy, (Map<String, ?>) m);
                target.put(e.getKey(), copy);
            } else {
                target.put(e.getKey(), v);
            }
        }
    }

    public Optional<Duration> ttl() {
        return Optional.ofNullable(dynamic.ttl());
    }

    public Optional<Duration> loopWait() {
        return Optional.ofNullable(dynamic.loopWait());
    }

    public Optional<Duration> retryTimeout() {
        return Optional.ofNullable(dynamic.retryTimeout());
    }

    /** {@code maximum_lag_on_failover} in bytes. */
    public Optional<Long> maximumLagOnFailover() {
        return Optional.ofNullable(dynamic.maximumLagOnFailover()).map(DataSize::bytes);
    }

    public Optional<Duration> primaryStartTimeout() {
        return Optional.ofNullable(dynamic.primaryStartTimeout());
    }

    public Optional<SynchronousMode> synchronousMode() {
        return Optional.ofNullable(dynamic.synchronousMode());
    }

    public Optional<Boolean> synchronousModeStrict() {
        return Optional.ofNullable(dynamic.synchronousModeStrict());
    }

    public Optional<Integer> synchronousNodeCount() {
        return Optional.ofNullable(dynamic.synchronousNodeCount());
    }

    public Optional<Boolean> failsafeMode() {
        return Optional.ofNullable(dynamic.failsafeMode());
    }

    public Optional<Boolean> checkTimeline() {
        return Optional.ofNullable(dynamic.checkTimeline());
    }

    public Optional<Boolean> usePgRewind() {
        return Optional.ofNullable(dynamic.usePgRewind());
    }

    public Optional<Boolean> useSlots() {
        return Optional.ofNullable(dynamic.useSlots());
    }

    public Optional<Duration> memberSlotsTtl() {
        return Optional.ofNullable(dynamic.memberSlotsTtl());
    }

    /** Maintenance mode: {@code pause: true}. */
    public boolean pause() {
        return Boolean.TRUE.equals(dynamic.pause());
    }

    /** {@code postgresql.parameters} as strings (numbers and booleans are written the way PostgreSQL accepts them). */
    public Map<String, String> postgresParameters() {
        Map<String, String> out = new LinkedHashMap<>();
        if (json.get("postgresql") instanceof Map<?, ?> pg && pg.get("parameters") instanceof Map<?, ?> params) {
            params.forEach((k, v) -> {
                if (v != null) {
                    out.put(k.toString(), v instanceof Boolean b ? (b ? "on" : "off") : plain(v));
                }
            });
        }
        return out;
    }

    /**
     * {@code postgresql.pg_hba}: the cluster's {@code pg_hba.conf}, one line each; empty when absent or unusable
     * ({@link #malformed()} tells which). A member's own {@code pg_hba} wins over it, as in Patroni.
     */
    public List<String> postgresHba() {
        return linesOrEmpty("pg_hba");
    }

    /** {@code postgresql.pg_ident}: the cluster's {@code pg_ident.conf}, as {@link #postgresHba()}. */
    public List<String> postgresIdent() {
        return linesOrEmpty("pg_ident");
    }

    private List<String> linesOrEmpty(String field) {
        if (malformed.containsKey("postgresql." + field) || !(json.get("postgresql") instanceof Map<?, ?> pg)) {
            return List.of();
        }
        @SuppressWarnings("unchecked")
        List<String> l = lines((Map<String, Object>) pg, field);
        return l;
    }

    // ------------------------------------------------------------------------------------------------ parsing

    /** A list of one-line strings (Patroni's {@code pg_hba} and {@code pg_ident}); absent is empty. */
    private static List<String> lines(Map<String, Object> section, String field) {
        Object v = section.get(field);
        if (v == null) {
            return List.of();
        }
        if (!(v instanceof List<?> l)) {
            throw new IllegalArgumentException("postgresql." + field + ": expected a list of lines, got " + kind(v));
        }
        List<String> out = new ArrayList<>();
        for (Object line : l) {
            if (!(line instanceof String str) || str.indexOf('\n') >= 0 || str.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("postgresql." + field + ": expected a list of lines, got the entry "
                        + show(line));
            }
            out.add(str);
        }
        return List.copyOf(out);
    }

    /** Seconds as Patroni writes them (an integer), or a decimal for sub-second timings. */
    private Optional<Duration> seconds(String field) {
        Object v = json.get(field);
        if (v instanceof Double || v instanceof Float || v instanceof BigDecimal) {
            double d = ((Number) v).doubleValue();
            if (d < 0) {
                throw new IllegalArgumentException(field + ": expected a number of seconds >= 0, got " + plain(v));
            }
            return Optional.of(Duration.ofMillis(Math.round(d * 1000)));
        }
        return integer(field).map(Duration::ofSeconds);
    }

    /**
     * A time as Patroni accepts it for {@code member_slots_ttl}: a number of seconds, or a string with a unit
     * ({@code 100ms}, {@code 30s}, {@code 30min}, {@code 1h}, {@code 1d}).
     */
    private Optional<Duration> withUnit(String field) {
        Object v = json.get(field);
        if (v instanceof String str) {
            return Optional.of(Durations.parseWithUnit(str).orElseThrow(() -> new IllegalArgumentException(field
                    + ": expected seconds or a number with a unit (ms, s, min, h, d), got " + show(v))));
        }
        Optional<Duration> d = seconds(field);
        if (d.isPresent() && d.get().isNegative()) {
            throw new IllegalArgumentException(field + ": expected a time >= 0, got " + show(v));
        }
        return d;
    }

    private Optional<Long> integer(String field) {
        Object v = json.get(field);
        if (v == null) {
            return Optional.empty();
        }
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            return Optional.of(((Number) v).longValue());
        }
        if (v instanceof BigInteger b && b.bitLength() < 64) {
            return Optional.of(b.longValue());
        }
        if (v instanceof String s) {
            try {
                return Optional.of(Long.parseLong(s.trim()));
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        throw new IllegalArgumentException(field + ": expected an integer, got " + show(v));
    }

    private static Optional<Boolean> bool(Map<String, ?> obj, String field, String prefix) {
        Object v = obj.get(field);
        if (v == null) {
            return Optional.empty();
        }
        if (v instanceof Boolean b) {
            return Optional.of(b);
        }
        if (v instanceof String s) {
            switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "true", "on", "yes", "1":
                    return Optional.of(true);
                case "false", "off", "no", "0":
                    return Optional.of(false);
                default:
                    break;
            }
        }
        throw new IllegalArgumentException(prefix + field + ": expected true or false, got " + show(v));
    }

    private static Optional<SynchronousMode> syncMode(Object v) {
        if (v == null) {
            return Optional.empty();
        }
        if (v instanceof Boolean b) {
            return Optional.of(b ? SynchronousMode.ON : SynchronousMode.OFF);
        }
        if (v instanceof String s) {
            switch (s.trim().toLowerCase(Locale.ROOT)) {
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
        throw new IllegalArgumentException("synchronous_mode: expected on, off, true or false, got " + show(v));
    }

    // ------------------------------------------------------------------------------------------------ the tree

    private static Map<String, Object> freezeMap(Map<String, ?> m, String path) {
        Map<String, Object> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(k, freeze(v, path + k)));
        return Collections.unmodifiableMap(out);
    }

    @SuppressWarnings("unchecked")
    private static Object freeze(Object v, String path) {
        if (v == null || v instanceof String || v instanceof Boolean || v instanceof Number) {
            return v;
        }
        if (v instanceof Map<?, ?> m) {
            for (Object k : m.keySet()) {
                if (!(k instanceof String)) {
                    throw new IllegalArgumentException(path + ": object keys must be strings, got " + show(k));
                }
            }
            return freezeMap((Map<String, ?>) m, path + ".");
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            for (Object x : l) {
                out.add(freeze(x, path + "[]"));
            }
            return Collections.unmodifiableList(out);
        }
        throw new IllegalArgumentException(path + ": not a JSON value: " + v.getClass().getName());
    }

    /** A value as JSON would print it, for messages: strings quoted, numbers and booleans plain. */
    private static String show(Object v) {
        return v instanceof String s ? "\"" + s + "\"" : v instanceof Map ? "an object" : v instanceof List ? "a list"
                : plain(v);
    }

    private static String plain(Object v) {
        return v instanceof BigDecimal b ? b.toPlainString() : String.valueOf(v);
    }

    private static String kind(Object v) {
        return v instanceof Map ? "OBJECT" : v instanceof List ? "ARRAY" : v instanceof String ? "STRING"
                : v instanceof Number ? "NUMBER" : v instanceof Boolean ? "BOOLEAN" : "NULL";
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
