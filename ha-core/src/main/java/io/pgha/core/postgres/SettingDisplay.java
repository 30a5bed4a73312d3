package io.pgha.core.postgres;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A parameter value as written in a configuration file, shown the way PostgreSQL shows the value in force
 * ({@code current_setting}): {@code shared_buffers = 3072} and {@code '24576kB'} both read {@code 24MB}, a boolean
 * {@code on} or {@code off}. So the value a restart brings and the one in force can be compared by eye, as Patroni's
 * {@code pending_restart_reason} shows them. Display only: a value PostgreSQL would refuse is returned as written.
 */
final class SettingDisplay {

    /** Memory units in bytes and time units in microseconds, largest first: PostgreSQL shows the largest exact one. */
    private static final Map<String, Long> MEMORY = units("TB", 1L << 40, "GB", 1L << 30, "MB", 1L << 20,
            "kB", 1L << 10, "B", 1L);
    private static final Map<String, Long> TIME = units("d", 86_400_000_000L, "h", 3_600_000_000L,
            "min", 60_000_000L, "s", 1_000_000L, "ms", 1_000L, "us", 1L);

    /** A number, optionally followed by a unit (PostgreSQL allows blanks in between). */
    private static final Pattern VALUE = Pattern.compile(
            "\\s*([-+]?(?:0[xX][0-9a-fA-F]+|[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?|[0-9]+\\.))\\s*([A-Za-z]*)\\s*");
    /** pg_settings.unit: the base unit, possibly with a multiple ({@code 8kB} for blocks). */
    private static final Pattern BASE = Pattern.compile("([0-9]*)([A-Za-z]+)");

    private SettingDisplay() {}

    /**
     * @param configured the value as configured (already unquoted)
     * @param vartype    {@code pg_settings.vartype}
     * @param unit       {@code pg_settings.unit}, or null
     */
    static String of(String configured, String vartype, String unit) {
        if (configured == null) {
            return "";
        }
        String shown = switch (vartype == null ? "" : vartype) {
            case "bool" -> bool(configured);
            case "integer" -> number(configured, unit, true);
            case "real" -> unit == null || unit.isEmpty() ? null : number(configured, unit, false);
            default -> null;
        };
        return shown == null ? configured : shown;
    }

    private static String bool(String v) {
        String s = v.trim().toLowerCase(Locale.ROOT);
        if (s.isEmpty()) {
            return null;
        }
        // PostgreSQL takes any unambiguous prefix of true/yes/false/no, and "on"/"off" from two letters on.
        if ("true".startsWith(s) || "yes".startsWith(s) || s.equals("on") || s.equals("1")) {
            return "on";
        }
        if ("false".startsWith(s) || "no".startsWith(s) || (s.length() >= 2 && "off".startsWith(s)) || s.equals("0")) {
            return "off";
        }
        return null;
    }

    private static String number(String v, String unit, boolean integer) {
        Matcher m = VALUE.matcher(v);
        if (!m.matches()) {
            return null;
        }
        double n;
        try {
            n = parse(m.group(1));
        } catch (NumberFormatException e) {
            return null;
        }
        boolean hasBase = unit != null && !unit.isEmpty();
        String given = m.group(2);
        if (!hasBase) {
            if (!given.isEmpty() || !integer) {
                return null;
            }
            return Long.toString((long) Math.rint(n));
        }
        Matcher b = BASE.matcher(unit);
        if (!b.matches()) {
            return null;
        }
        Map<String, Long> table = MEMORY.containsKey(b.group(2)) ? MEMORY
                : TIME.containsKey(b.group(2)) ? TIME : null;
        if (table == null || (!given.isEmpty() && !table.containsKey(given))) {
            return null;
        }
        long baseSize = table.get(b.group(2)) * (b.group(1).isEmpty() ? 1 : Long.parseLong(b.group(1)));
        double inBase = given.isEmpty() ? n : n * table.get(given) / baseSize;
        return integer ? integer(Math.rint(inBase), baseSize, table) : real(inBase * baseSize, table);
    }

    /** As C's strtol with base 0 (decimal, 0x hex, leading-0 octal) or, with a fraction or exponent, strtod. */
    private static double parse(String s) {
        String t = s.startsWith("+") ? s.substring(1) : s;
        boolean hex = t.toLowerCase(Locale.ROOT).matches("-?0x[0-9a-f]+");
        if (hex || t.matches("-?[0-9]+")) {
            return Long.decode(t);
        }
        return Double.parseDouble(t);
    }

    /** The largest unit the value is a whole multiple of; zero and negative values bare, as PostgreSQL shows them. */
    private static String integer(double inBase, long baseSize, Map<String, Long> table) {
        long value = (long) inBase;
        if (value <= 0) {
            return Long.toString(value);
        }
        long size = value * baseSize;
        for (Map.Entry<String, Long> u : table.entrySet()) {
            if (size % u.getValue() == 0) {
                return size / u.getValue() + u.getKey();
            }
        }
        return Long.toString(value);
    }

    /** The first unit giving a whole number, else the smallest, with six significant digits as C's %g. */
    private static String real(double size, Map<String, Long> table) {
        String last = null;
        double shown = size;
        for (Map.Entry<String, Long> u : table.entrySet()) {
            shown = size / u.getValue();
            last = u.getKey();
            if (shown > 0 && Math.abs(Math.rint(shown) / shown - 1.0) <= 1e-8) {
                break;
            }
        }
        BigDecimal d = new BigDecimal(shown).round(new MathContext(6)).stripTrailingZeros();
        return d.toPlainString() + last;
    }

    private static Map<String, Long> units(Object... pairs) {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put((String) pairs[i], (Long) pairs[i + 1]);
        }
        return m;
    }
}
