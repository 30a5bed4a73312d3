package io.pgha.examples.demo;

import java.io.PrintStream;
import java.util.Locale;

/**
 * The demo's output: one line per event, stamped with the seconds since the demo started (monotonic clock), printed
 * as it happens. Several threads report (the watcher, the writer, the main thread), so printing is serialized.
 */
final class Timeline {

    private final PrintStream out;
    private final long startNanos;

    Timeline(PrintStream out, long startNanos) {
        this.out = out;
        this.startNanos = startNanos;
    }

    /** Nanoseconds on the demo's clock now. */
    long now() {
        return System.nanoTime();
    }

    /** {@code at} as seconds since the start, e.g. {@code 12.3}. */
    double seconds(long at) {
        return (at - startNanos) / 1e9;
    }

    /** An event that happened at {@code at}: {@code " 12.3s  text"}. */
    synchronized void event(long at, String text) {
        out.printf(Locale.ROOT, "%6.1fs  %s%n", seconds(at), text);
        out.flush();
    }

    void event(String text) {
        event(now(), text);
    }

    /** A line without a time stamp (headings, results). */
    synchronized void line(String text) {
        out.println(text);
        out.flush();
    }

    static String secs(long nanos) {
        return String.format(Locale.ROOT, "%.1f s", nanos / 1e9);
    }
}
