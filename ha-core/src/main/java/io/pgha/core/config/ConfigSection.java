package io.pgha.core.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * One section of a Patroni-style configuration (a YAML mapping read into Java maps), read with typed accessors
 * whose errors name the full key, e.g. {@code postgresql.listen: expected host:port, got 'x'}. Keys that were never
 * read are reported by {@link #unusedKeys()}, so a misspelt setting becomes a warning instead of silently nothing.
 */
public final class ConfigSection {

    private final String path;
    private final Map<String, Object> values;
    private final Set<String> read = new TreeSet<>();
    private final Map<String, ConfigSection> children = new LinkedHashMap<>();

    public ConfigSection(String path, Map<String, ?> values) {
        this.path = path;
        this.values = new LinkedHashMap<>(values == null ? Map.of() : values);
    }

    /** The dotted path of a key in this section, for messages. */
    public String key(String name) {
        return path.isEmpty() ? name : path + "." + name;
    }

    public boolean has(String name) {
        return values.get(name) != null;
    }

    /** A nested mapping; empty when absent. Asking twice gives the same section (reads are tracked on it). */
    public ConfigSection section(String name) {
        ConfigSection known = children.get(name);
        if (known != null) {
            return known;
        }
        Object v = values.get(name);
        read.add(name);
        if (v != null && !(v instanceof Map)) {
            throw new IllegalArgumentException(key(name) + ": expected a mapping, got " + describe(v));
        }
        @SuppressWarnings("unchecked")
        ConfigSection s = new ConfigSection(key(name), v == null ? Map.of() : (Map<String, Object>) v);
        children.put(name, s);
        return s;
    }

    public String string(String name, String dflt) {
        Object v = values.get(name);
        read.add(name);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Map || v instanceof List) {
            throw new IllegalArgumentException(key(name) + ": expected a value, got " + describe(v));
        }
        return v.toString();
    }

    public String requiredString(String name) {
        String s = string(name, null);
        if (s == null || s.isBlank()) {
            throw new IllegalArgumentException(key(name) + " is required");
        }
        return s;
    }

    public boolean bool(String name, boolean dflt) {
        Object v = values.get(name);
        read.add(name);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        switch (v.toString().trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true", "on", "yes", "1":
                return true;
            case "false", "off", "no", "0":
                return false;
            default:
                throw new IllegalArgumentException(key(name) + ": expected true or false, got " + describe(v));
        }
    }

    public long integer(String name, long dflt) {
        Object v = values.get(name);
        read.add(name);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number n && n.doubleValue() == n.longValue()) {
            return n.longValue();
        }
        try {
            return Long.parseLong(v.toString().trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key(name) + ": expected an integer, got " + describe(v), e);
        }
    }

    /** Seconds, as Patroni writes them (an integer, or a decimal for sub-second timings); null when absent. */
    public Duration seconds(String name) {
        Object v = values.get(name);
        read.add(name);
        if (v == null) {
            return null;
        }
        try {
            double d = v instanceof Number n ? n.doubleValue() : Double.parseDouble(v.toString().trim());
            if (d < 0) {
                throw new NumberFormatException("negative");
            }
            return Duration.ofMillis(Math.round(d * 1000));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key(name) + ": expected a number of seconds, got " + describe(v), e);
        }
    }

    /** A list of strings; a single string is split on commas (Patroni accepts both for host lists). */
    public List<String> strings(String name) {
        Object v = values.get(name);
        read.add(name);
        List<String> out = new ArrayList<>();
        if (v == null) {
            return out;
        }
        if (v instanceof List<?> l) {
            for (Object o : l) {
                if (o instanceof Map || o instanceof List) {
                    throw new IllegalArgumentException(key(name) + ": expected a list of values, got " + describe(v));
                }
                out.add(o.toString().trim());
            }
            return out;
        }
        if (v instanceof Map) {
            throw new IllegalArgumentException(key(name) + ": expected a list, got " + describe(v));
        }
        for (String part : v.toString().split(",")) {
            if (!part.isBlank()) {
                out.add(part.trim());
            }
        }
        return out;
    }

    /** A mapping of scalar values as strings (e.g. {@code postgresql.parameters}). */
    public Map<String, String> stringMap(String name) {
        Object v = values.get(name);
        read.add(name);
        Map<String, String> out = new LinkedHashMap<>();
        if (v == null) {
            return out;
        }
        if (!(v instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException(key(name) + ": expected a mapping, got " + describe(v));
        }
        m.forEach((k, x) -> {
            if (x != null) {
                out.put(k.toString(), x instanceof Boolean b ? (b ? "on" : "off") : x.toString());
            }
        });
        return out;
    }

    /** {@code host:port}; null when absent. */
    public io.pgha.core.config.HostPort hostPort(String name) {
        String s = string(name, null);
        if (s == null) {
            return null;
        }
        int colon = s.lastIndexOf(':');
        try {
            if (colon <= 0) {
                throw new NumberFormatException("no port");
            }
            String host = s.substring(0, colon).replace("[", "").replace("]", "");
            return new io.pgha.core.config.HostPort(host, Integer.parseInt(s.substring(colon + 1).trim()));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(key(name) + ": expected host:port, got '" + s + "'", e);
        }
    }

    /** The raw value (for sections passed on as they are). */
    public Object raw(String name) {
        read.add(name);
        return values.get(name);
    }

    /** Every key of this section and its read subsections that nothing asked for, as full dotted paths. */
    public List<String> unusedKeys() {
        List<String> out = new ArrayList<>();
        for (String k : values.keySet()) {
            if (!read.contains(k)) {
                out.add(key(k));
            }
        }
        for (ConfigSection c : children.values()) {
            out.addAll(c.unusedKeys());
        }
        return out;
    }

    /** Marks keys as deliberately ignored (accepted for Patroni compatibility, no effect in pgha). */
    public void ignore(String... names) {
        read.addAll(List.of(names));
    }

    private static String describe(Object v) {
        if (v instanceof Map) {
            return "a mapping";
        }
        if (v instanceof List) {
            return "a list";
        }
        return "'" + v + "'";
    }
}
