package io.pgha.core.config;

import java.math.BigDecimal;
import java.time.Duration;

/** Formats durations the way settings are written in messages: {@code 10s}, {@code 500ms}, {@code 1.5s}. */
public final class Durations {

    private Durations() {}

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
