package io.pgha.core.config;

import java.util.Locale;

/** An amount of bytes, for settings such as {@code maximumLagOnFailover}. */
public record DataSize(long bytes) implements Comparable<DataSize> {

    public DataSize {
        if (bytes < 0) {
            throw new IllegalArgumentException("a data size cannot be negative (got " + bytes + " bytes)");
        }
    }

    public static DataSize ofBytes(long bytes) {
        return new DataSize(bytes);
    }

    public static DataSize ofKilobytes(long kb) {
        return new DataSize(Math.multiplyExact(kb, 1024L));
    }

    public static DataSize ofMegabytes(long mb) {
        return new DataSize(Math.multiplyExact(mb, 1024L * 1024L));
    }

    public static DataSize ofGigabytes(long gb) {
        return new DataSize(Math.multiplyExact(gb, 1024L * 1024L * 1024L));
    }

    /**
     * Parses {@code 1048576}, {@code 16kB}, {@code 64MB}, {@code 1GB} (PostgreSQL's units: powers of 1024).
     */
    public static DataSize parse(String text) {
        String s = text == null ? "" : text.trim();
        int i = 0;
        while (i < s.length() && Character.isDigit(s.charAt(i))) {
            i++;
        }
        if (i == 0) {
            throw new IllegalArgumentException("not a data size: '" + text + "' (expected e.g. 1048576, 16kB, 64MB, 1GB)");
        }
        long n = Long.parseLong(s.substring(0, i));
        String unit = s.substring(i).trim().toUpperCase(Locale.ROOT);
        return switch (unit) {
            case "", "B" -> ofBytes(n);
            case "KB", "K" -> ofKilobytes(n);
            case "MB", "M" -> ofMegabytes(n);
            case "GB", "G" -> ofGigabytes(n);
            case "TB", "T" -> new DataSize(Math.multiplyExact(n, 1024L * 1024L * 1024L * 1024L));
            default -> throw new IllegalArgumentException(
                    "not a data size: '" + text + "' (unknown unit '" + unit + "'; use B, kB, MB, GB or TB)");
        };
    }

    @Override
    public int compareTo(DataSize o) {
        return Long.compare(bytes, o.bytes);
    }

    @Override
    public String toString() {
        if (bytes >= 1024L * 1024 && bytes % (1024L * 1024) == 0) {
            return bytes / (1024L * 1024) + " MB";
        }
        if (bytes >= 1024 && bytes % 1024 == 0) {
            return bytes / 1024 + " kB";
        }
        return bytes + " B";
    }
}
