package io.pgha.core.config;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Formats durations the way settings are written in messages: {@code 10s}, {@code 500ms}, {@code 1.5s}. */
public final class Durations {

    private static final Pattern WITH_UNIT = Pattern.compile("\\s*(\\d+(?:\\.\\d+)?)\\s*(ms|s|min|h|d)?\\s*");

    private Durations() {}

    /**
     * A time written as Patroni accepts it in a string ({@code member_slots_ttl}, a restart's {@code timeout}): a
     * number of seconds, or a number with a unit ({@code 500ms}, {@code 30s}, {@code 2min}, {@code 1h},
     * {@code 1d}); empty when the text is neither.
     */
    public static Optional<Duration> parseWithUnit(String text) {
        Matcher m = WITH_UNIT.matcher(text);
        if (!m.matches()) {
            return Optional.empty();
        }
        long unitMs = switch (m.group(2) == null ? "s" : m.group(2)) {
            case "ms" -> 1;
            case "min" -> 60_000;
            case "h" -> 3_600_000;
            case "d" -> 86_400_000;
            default -> 1000;
        };
        return Optional.of(Duration.ofMillis(Math.round(Double.parseDouble(m.group(1)) * unitMs)));
    }

    public static String format(Duration d) {
        long ms = d.toMillis();
        if (ms % 1000 == 0) {
            return ms / 1000 + "s";
        }
        if (ms < 1000) {
            return ms + "ms";
        }
        return BigDecimal.valueOf(ms, 3).stripTrailingZeros().toPlainString() + "s";
    }

    /** Seconds as Patroni writes them: an integer when whole, else a decimal. */
    public static Number toSeconds(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 == 0 ? (Number) (ms / 1000) : (Number) BigDecimal.valueOf(ms, 3).stripTrailingZeros();
    }
}
