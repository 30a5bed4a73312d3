package io.pgha.dcs.consul.emulator;

import java.math.BigDecimal;
import java.time.Duration;

/**
 * Go's {@code time.Duration} text form, as Consul parses and prints it. Written separately from the adapter's own
 * parser on purpose: the emulator shares no code with the client it checks.
 */
final class GoDurations {

    private GoDurations() {}

    /** {@code time.ParseDuration}: sign, then decimal numbers each with a unit; a bare "0" is zero. */
    static Duration parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("time: invalid duration \"\"");
        }
        String s = text;
        boolean neg = false;
        if (!s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+')) {
            neg = s.charAt(0) == '-';
            s = s.substring(1);
        }
        if (s.equals("0")) {
            return Duration.ZERO;
        }
        if (s.isEmpty()) {
            throw new IllegalArgumentException("time: invalid duration \"" + text + "\"");
        }
        BigDecimal total = BigDecimal.ZERO;
        int i = 0;
        while (i < s.length()) {
            int numStart = i;
            while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '.')) {
                i++;
            }
            if (numStart == i) {
                throw new IllegalArgumentException("time: invalid duration \"" + text + "\"");
            }
            BigDecimal n;
            try {
                n = new BigDecimal(s.substring(numStart, i));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("time: invalid duration \"" + text + "\"", e);
            }
            int unitStart = i;
            while (i < s.length() && !Character.isDigit(s.charAt(i)) && s.charAt(i) != '.') {
                i++;
            }
            String unit = s.substring(unitStart, i);
            long mult = switch (unit) {
                case "ns" -> 1L;
                case "us", "µs", "μs" -> 1_000L;
                case "ms" -> 1_000_000L;
                case "s" -> 1_000_000_000L;
                case "m" -> 60_000_000_000L;
                case "h" -> 3_600_000_000_000L;
                case "" -> throw new IllegalArgumentException("time: missing unit in duration \"" + text + "\"");
                default -> throw new IllegalArgumentException("time: unknown unit \"" + unit + "\" in duration \""
                        + text + "\"");
            };
            total = total.add(n.multiply(BigDecimal.valueOf(mult)));
        }
        Duration d = Duration.ofNanos(total.longValue());
        return neg ? d.negated() : d;
    }

    /** {@code Duration.String()}: "0s", "500ms", "1.5s", "1m30s", "24h0m0s". */
    static String format(Duration d) {
        long ns = d.toNanos();
        if (ns == 0) {
            return "0s";
        }
        String sign = ns < 0 ? "-" : "";
        ns = Math.abs(ns);
        if (ns < 1_000_000_000L) {
            if (ns < 1_000L) {
                return sign + ns + "ns";
            }
            if (ns < 1_000_000L) {
                return sign + frac(ns, 1_000L) + "µs";
            }
            return sign + frac(ns, 1_000_000L) + "ms";
        }
        long h = ns / 3_600_000_000_000L;
        long rest = ns % 3_600_000_000_000L;
        long m = rest / 60_000_000_000L;
        rest = rest % 60_000_000_000L;
        String sec = frac(rest, 1_000_000_000L) + "s";
        if (h > 0) {
            return sign + h + "h" + m + "m" + sec;
        }
        if (m > 0) {
            return sign + m + "m" + sec;
        }
        return sign + sec;
    }

    private static String frac(long v, long unit) {
        return new BigDecimal(v).divide(BigDecimal.valueOf(unit)).stripTrailingZeros().toPlainString();
    }
}
