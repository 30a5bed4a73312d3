package io.pgha.examples.e2e;

import io.pgha.examples.e2e.BenchResults.Mark;
import io.pgha.examples.e2e.BenchResults.Repetition;
import io.pgha.examples.e2e.BenchResults.WriterResult;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * A hand-written SVG of {@link FailoverBenchmark}'s repetitions: per repetition a panel of acknowledged commits per
 * 100 ms for each writer across the fault, the fault (red) and every leader key change or store return (blue, dashed)
 * as vertical lines. The worst repetition (largest write outage of either writer) comes first.
 */
final class TimelineChart {

    static final double BIN_MS = 100;

    private static final int WIDTH = 960;
    private static final int PANEL_HEIGHT = 230;
    private static final int LEFT = 60;
    private static final int RIGHT = 20;
    private static final int TOP = 48;
    private static final int BOTTOM = 36;
    private static final String[] COLOURS = {"#1f77b4", "#e6550d", "#31a354", "#756bb1"};

    private TimelineChart() {}

    /** Acknowledged commits per {@link #BIN_MS} from {@code fromMs}: bin i counts [from + i*bin, from + (i+1)*bin). */
    static int[] bins(List<Double> ackMs, double fromMs, double toMs) {
        int n = Math.max(1, (int) Math.ceil((toMs - fromMs) / BIN_MS));
        int[] out = new int[n];
        for (double t : ackMs) {
            if (t >= fromMs && t < toMs) {
                out[Math.min(n - 1, (int) ((t - fromMs) / BIN_MS))]++;
            }
        }
        return out;
    }

    static String svg(List<Repetition> reps) {
        List<Repetition> ordered = new ArrayList<>(reps);
        Repetition worst = ordered.stream().max(Comparator.comparingDouble(Repetition::worstOutageMs)).orElseThrow();
        ordered.remove(worst);
        ordered.add(0, worst);
        int height = PANEL_HEIGHT * ordered.size();
        StringBuilder b = new StringBuilder();
        b.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        b.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(WIDTH).append("\" height=\"")
                .append(height).append("\" viewBox=\"0 0 ").append(WIDTH).append(' ').append(height)
                .append("\" font-family=\"sans-serif\" font-size=\"11\">\n");
        b.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        for (int i = 0; i < ordered.size(); i++) {
            panel(b, ordered.get(i), i * PANEL_HEIGHT, ordered.get(i) == worst);
        }
        b.append("</svg>\n");
        return b.toString();
    }

    private static void panel(StringBuilder b, Repetition r, int y0, boolean worst) {
        // From the first commit of either writer (at a bin's edge): before it the writers had not started yet.
        double firstAck = r.writers().stream().flatMap(w -> w.ackMs().stream()).mapToDouble(Double::doubleValue).min()
                .orElse(r.windowStartMs());
        double from = Math.max(r.windowStartMs(), r.windowStartMs()
                + Math.floor((firstAck - r.windowStartMs()) / BIN_MS) * BIN_MS);
        double to = Math.max(r.windowEndMs(), from + BIN_MS);
        int plotW = WIDTH - LEFT - RIGHT;
        int plotH = PANEL_HEIGHT - TOP - BOTTOM;
        int top = y0 + TOP;
        int bottom = top + plotH;
        List<int[]> series = r.writers().stream().map(w -> bins(w.ackMs(), from, to)).toList();
        int yMax = Math.max(1, series.stream().flatMapToInt(java.util.Arrays::stream).max().orElse(1));

        b.append("<g>\n");
        text(b, LEFT, y0 + 16, "bold", r.group() + ", repetition " + r.n() + (worst ? " (worst)" : "") + ": "
                + r.oldLeader() + " → " + r.finalLeader() + (r.leaderKeyMs() == null ? ""
                        : String.format(Locale.ROOT, ", new leader key after %.2f s", r.leaderKeyMs() / 1000)));
        StringBuilder legend = new StringBuilder();
        for (int i = 0; i < r.writers().size(); i++) {
            WriterResult w = r.writers().get(i);
            int lx = LEFT + i * 330;
            b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"3\" fill=\"%s\"/>%n",
                    lx, y0 + 27, COLOURS[i % COLOURS.length]));
            legend.setLength(0);
            legend.append(w.writer()).append(String.format(Locale.ROOT, ": outage %.2f s, %d exceptions",
                    w.outageMs() / 1000, w.exceptions()));
            text(b, lx + 18, y0 + 32, "normal", legend.toString());
        }
        // Axes and grid.
        b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\""
                + " stroke=\"#999\"/>%n", LEFT, top, plotW, plotH));
        double step = tickStep(to - from);
        for (double t = Math.ceil(from / step) * step; t <= to; t += step) {
            double x = x(t, from, to, plotW);
            b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>%n",
                    x, top, x, bottom));
            text(b, x - 8, bottom + 14, "normal", String.format(Locale.ROOT, "%s", trim(t / 1000)));
        }
        text(b, LEFT + plotW / 2.0 - 90, bottom + 30, "normal", "seconds from the fault (100 ms bins)");
        for (int v : new int[] {0, yMax / 2, yMax}) {
            double y = bottom - (double) v / yMax * plotH;
            text(b, LEFT - 24, y + 4, "normal", Integer.toString(v));
        }
        text(b, 4, top + plotH / 2.0, "normal", "commits");
        // The series: a step line per writer.
        for (int i = 0; i < series.size(); i++) {
            int[] s = series.get(i);
            StringBuilder pts = new StringBuilder();
            for (int k = 0; k < s.length; k++) {
                double xa = x(from + k * BIN_MS, from, to, plotW);
                double xb = x(Math.min(to, from + (k + 1) * BIN_MS), from, to, plotW);
                double y = bottom - (double) s[k] / yMax * plotH;
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f %.1f,%.1f ", xa, y, xb, y));
            }
            b.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.3\""
                    + " stroke-opacity=\"0.85\" points=\"%s\"/>%n", COLOURS[i % COLOURS.length], pts.toString().trim()));
        }
        // The fault, then the leader changes and the store's return.
        double fx = x(0, from, to, plotW);
        b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#d62728\""
                + " stroke-width=\"2\"/>%n", fx, top, fx, bottom));
        text(b, fx + 3, top + 11, "normal", r.scenario());
        int k = 0;
        for (Mark m : r.marks()) {
            // Before the fault, the old leader's own key is the state the watch started from, not a change.
            boolean start = m.atMs() < 0 && m.label().equals("key: " + r.oldLeader());
            if (m.atMs() < from || m.atMs() > to || start) {
                continue;
            }
            double mx = x(m.atMs(), from, to, plotW);
            b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#3182bd\""
                    + " stroke-dasharray=\"4,3\" stroke-width=\"1.5\"/>%n", mx, top, mx, bottom));
            text(b, mx + 3, top + 24 + 12 * (k++ % 4), "normal", m.label());
        }
        b.append("</g>\n");
    }

    private static double x(double t, double from, double to, int plotW) {
        return LEFT + (t - from) / (to - from) * plotW;
    }

    /** A tick every 0.5, 1, 2, 5, 10, 20 or 30 s: the smallest giving at most 14 ticks. */
    private static double tickStep(double spanMs) {
        for (double s : new double[] {500, 1000, 2000, 5000, 10_000, 20_000, 30_000}) {
            if (spanMs / s <= 14) {
                return s;
            }
        }
        return 60_000;
    }

    private static String trim(double seconds) {
        return seconds == Math.rint(seconds) ? Long.toString((long) seconds)
                : String.format(Locale.ROOT, "%.1f", seconds);
    }

    private static void text(StringBuilder b, double x, double y, String weight, String s) {
        b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"%s\">%s</text>%n", x, y,
                weight, escape(s)));
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
