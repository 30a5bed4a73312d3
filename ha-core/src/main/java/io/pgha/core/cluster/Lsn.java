package io.pgha.core.cluster;

/**
 * A PostgreSQL WAL position (log sequence number), as an unsigned 64-bit byte offset.
 *
 * <p>Patroni stores positions in the DCS as plain integers ({@code xlog_location}, {@code status.optime});
 * PostgreSQL prints them as {@code "16/B374D848"}. Both forms parse here.
 */
public record Lsn(long value) implements Comparable<Lsn> {

    public static final Lsn ZERO = new Lsn(0);

    public Lsn {
        if (value < 0) {
            throw new IllegalArgumentException("an LSN cannot be negative (got " + value + ")");
        }
    }

    public static Lsn of(long value) {
        return value == 0 ? ZERO : new Lsn(value);
    }

    /** Parses PostgreSQL's {@code "X/Y"} text form or a decimal integer. */
    public static Lsn parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("an LSN is required, got an empty value");
        }
        String s = text.trim();
        int slash = s.indexOf('/');
        try {
            if (slash < 0) {
                return of(Long.parseLong(s));
            }
            long hi = Long.parseLong(s.substring(0, slash), 16);
            long lo = Long.parseLong(s.substring(slash + 1), 16);
            if (hi > 0xFFFFFFFFL || lo > 0xFFFFFFFFL) {
                throw new NumberFormatException("part out of range");
            }
            return of((hi << 32) | lo);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an LSN: '" + text + "' (expected e.g. 16/B374D848 or an integer)", e);
        }
    }

    /** Bytes from {@code other} up to this position; negative when {@code other} is ahead. */
    public long minus(Lsn other) {
        return value - other.value;
    }

    public Lsn plus(long bytes) {
        return of(value + bytes);
    }

    public boolean isAfter(Lsn other) {
        return value > other.value;
    }

    public boolean isBefore(Lsn other) {
        return value < other.value;
    }

    public static Lsn max(Lsn a, Lsn b) {
        if (a == null) {
            return b;
        }
        if (b == null) {
            return a;
        }
        return a.value >= b.value ? a : b;
    }

    @Override
    public int compareTo(Lsn o) {
        return Long.compare(value, o.value);
    }

    /** PostgreSQL's text form, e.g. {@code 0/3000148}. */
    @Override
    public String toString() {
        return Long.toHexString(value >>> 32).toUpperCase() + "/" + Long.toHexString(value & 0xFFFFFFFFL).toUpperCase();
    }
}
