package io.pgha.core.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A member's tags, published in its member key (Patroni's {@code tags}).
 *
 * @param nofailover        never take part in a leader race
 * @param failoverPriority  among members at the same WAL position the higher wins; {@code <= 0} acts like nofailover
 * @param nosync            never chosen as a synchronous standby
 * @param noloadbalance     {@code GET /replica} answers 503
 * @param clonefrom         preferred source for other members' base backups
 * @param custom            any other tags, published as given
 */
public record Tags(
        boolean nofailover,
        int failoverPriority,
        boolean nosync,
        boolean noloadbalance,
        boolean clonefrom,
        Map<String, String> custom) {

    public static final Tags DEFAULT = new Tags(false, 1, false, false, false, Map.of());

    public Tags {
        custom = Map.copyOf(Objects.requireNonNullElse(custom, Map.of()));
    }

    /** True when this member may never be promoted automatically. */
    public boolean neverPromote() {
        return nofailover || failoverPriority <= 0;
    }

    public Tags withNofailover(boolean v) {
        return new Tags(v, failoverPriority, nosync, noloadbalance, clonefrom, custom);
    }

    public Tags withFailoverPriority(int v) {
        return new Tags(nofailover, v, nosync, noloadbalance, clonefrom, custom);
    }

    public Tags withNosync(boolean v) {
        return new Tags(nofailover, failoverPriority, v, noloadbalance, clonefrom, custom);
    }

    public Tags withNoloadbalance(boolean v) {
        return new Tags(nofailover, failoverPriority, nosync, v, clonefrom, custom);
    }

    public Tags withClonefrom(boolean v) {
        return new Tags(nofailover, failoverPriority, nosync, noloadbalance, v, custom);
    }

    public Tags withCustom(String key, String value) {
        Map<String, String> m = new TreeMap<>(custom);
        m.put(key, value);
        return new Tags(nofailover, failoverPriority, nosync, noloadbalance, clonefrom, m);
    }

    /**
     * The tags as Patroni publishes them: only the flags that are on, the failover priority when it is not the
     * default 1, and the custom tags.
     */
    public Map<String, Object> toPatroni() {
        Map<String, Object> o = new LinkedHashMap<>();
        if (nofailover) {
            o.put("nofailover", true);
        }
        if (failoverPriority != 1) {
            o.put("failover_priority", failoverPriority);
        }
        if (nosync) {
            o.put("nosync", true);
        }
        if (noloadbalance) {
            o.put("noloadbalance", true);
        }
        if (clonefrom) {
            o.put("clonefrom", true);
        }
        o.putAll(new TreeMap<>(custom));
        return o;
    }

    /**
     * Reads Patroni's {@code tags} object (as JDK values: strings, numbers, booleans, maps, lists). Flags accept
     * booleans, {@code "true"/"on"/"yes"/"1"} and non-zero numbers; other tags are kept as text (nested values as
     * JSON).
     *
     * @throws IllegalArgumentException when {@code failover_priority} is not an integer
     */
    public static Tags fromPatroni(Map<String, ?> tags) {
        if (tags == null) {
            return DEFAULT;
        }
        Map<String, String> custom = new TreeMap<>();
        boolean nofailover = false;
        boolean nosync = false;
        boolean noloadbalance = false;
        boolean clonefrom = false;
        int priority = 1;
        for (Map.Entry<String, ?> e : tags.entrySet()) {
            Object v = e.getValue();
            switch (e.getKey()) {
                case "nofailover" -> nofailover = truthy(v);
                case "nosync" -> nosync = truthy(v);
                case "noloadbalance" -> noloadbalance = truthy(v);
                case "clonefrom" -> clonefrom = truthy(v);
                case "failover_priority" -> priority = priority(v);
                default -> custom.put(e.getKey(), v instanceof String str ? str : json(v));
            }
        }
        return new Tags(nofailover, priority, nosync, noloadbalance, clonefrom, custom);
    }

    private static boolean truthy(Object v) {
        if (v instanceof Boolean b) {
            return b;
        }
        if (v instanceof String s) {
            String t = s.trim().toLowerCase(Locale.ROOT);
            return t.equals("true") || t.equals("on") || t.equals("yes") || t.equals("1");
        }
        if (v instanceof Number n) {
            return n.intValue() != 0;
        }
        return false;
    }

    private static int priority(Object v) {
        if (v == null) {
            return 1;
        }
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            return ((Number) v).intValue();
        }
        if (v instanceof String s) {
            try {
                return Integer.parseInt(s.trim());
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        throw new IllegalArgumentException("failover_priority: expected an integer, got " + json(v));
    }

    /** A JSON rendering of a JDK value, for tags whose values are not plain strings. */
    private static String json(Object v) {
        if (v == null || v instanceof Boolean || v instanceof Number) {
            return String.valueOf(v);
        }
        if (v instanceof Map<?, ?> m) {
            StringBuilder b = new StringBuilder("{");
            m.forEach((k, x) -> b.append(b.length() > 1 ? "," : "").append(json(String.valueOf(k))).append(':')
                    .append(json(x)));
            return b.append('}').toString();
        }
        if (v instanceof List<?> l) {
            StringBuilder b = new StringBuilder("[");
            l.forEach(x -> b.append(b.length() > 1 ? "," : "").append(json(x)));
            return b.append(']').toString();
        }
        StringBuilder b = new StringBuilder("\"");
        for (char c : v.toString().toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> b.append(c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c));
            }
        }
        return b.append('"').toString();
    }
}
