package io.pgha.examples.e2e;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * What {@link FailoverBenchmark} measured, and its table, JSON and CSV. Pure: no cluster, no clock; every time is in
 * milliseconds relative to the fault (negative before it), so a repetition can be built from synthetic data in a test.
 */
final class BenchResults {

    /** A vertical line of a timeline: the leader key changed hands (or vanished), or the store came back. */
    record Mark(double atMs, String label) {}

    /**
     * One writer's view of one repetition. {@code outageMs} is the largest gap between consecutive acknowledged
     * commits in the observed window (its edges count as commits, so a writer that never recovered gets the whole
     * rest of the window); {@code recovered} says whether it committed again after the fault's last gap.
     */
    record WriterResult(String writer, double outageMs, boolean recovered, int exceptions, int missing,
            int unacknowledgedPresent, int acknowledged, List<String> exceptionStates, List<Double> ackMs) {}

    /**
     * One repetition of one scenario. {@code leaderKeyMs} is from the fault to the first store read showing another
     * holder of the leader key (null: none in the window, as in a store outage the leader survives). The window runs
     * from {@code windowStartMs} (before the fault) to {@code windowEndMs}.
     */
    record Repetition(String store, String scenario, String profile, boolean sync, int n, String oldLeader,
            String finalLeader, Double leaderKeyMs, double windowStartMs, double windowEndMs, List<Mark> marks,
            List<WriterResult> writers, String note) {

        /** The larger of the writers' outages: what "worst repetition" means. */
        double worstOutageMs() {
            return writers.stream().mapToDouble(WriterResult::outageMs).max().orElse(0);
        }

        String group() {
            return scenario + " / " + profile + " / sync " + (sync ? "on" : "off");
        }
    }

    /** min, median and max of a non-empty list. */
    record Stats(double min, double median, double max) {
        static Stats of(List<Double> values) {
            if (values.isEmpty()) {
                throw new IllegalArgumentException("no values");
            }
            List<Double> s = values.stream().sorted().toList();
            int k = s.size();
            double median = k % 2 == 1 ? s.get(k / 2) : (s.get(k / 2 - 1) + s.get(k / 2)) / 2;
            return new Stats(s.get(0), median, s.get(k - 1));
        }
    }

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private BenchResults() {}

    /**
     * The write outage of one writer: the largest gap between consecutive acknowledged commits in
     * [{@code fromMs}, {@code toMs}], the window's end counting as a commit (a writer that never committed again gets
     * the rest of the window; no commit at all is the whole window). Its start does not count: the writer may have
     * begun inside the window, and the time before its first commit is no outage.
     */
    static double largestGap(List<Double> ackMs, double fromMs, double toMs) {
        List<Double> in = ackMs.stream().filter(t -> t >= fromMs && t <= toMs).sorted().toList();
        if (in.isEmpty()) {
            return toMs - fromMs;
        }
        double previous = in.get(0);
        double largest = 0;
        for (double t : in) {
            largest = Math.max(largest, t - previous);
            previous = t;
        }
        return Math.max(largest, toMs - previous);
    }

    /** {@code r} with each writer's outage computed again from its acknowledgements (by the current rule). */
    static Repetition recomputed(Repetition r) {
        List<WriterResult> ws = r.writers().stream().map(w -> new WriterResult(w.writer(),
                largestGap(w.ackMs(), r.windowStartMs(), r.windowEndMs()), w.recovered(), w.exceptions(), w.missing(),
                w.unacknowledgedPresent(), w.acknowledged(), w.exceptionStates(), w.ackMs())).toList();
        return new Repetition(r.store(), r.scenario(), r.profile(), r.sync(), r.n(), r.oldLeader(), r.finalLeader(),
                r.leaderKeyMs(), r.windowStartMs(), r.windowEndMs(), r.marks(), ws, r.note());
    }

    /** Rows of the printed table: one per scenario, profile, sync and writer, in the order first measured. */
    static Map<String, List<Repetition>> groups(List<Repetition> reps) {
        Map<String, List<Repetition>> out = new LinkedHashMap<>();
        for (Repetition r : reps) {
            out.computeIfAbsent(r.group(), k -> new ArrayList<>()).add(r);
        }
        return out;
    }

    /** The Markdown table: min / median / max of each measure per scenario, profile, sync and writer. */
    static String table(List<Repetition> reps) {
        StringBuilder b = new StringBuilder();
        b.append("| scenario | profile | sync | writer | reps | write outage s | fault → new leader key s |"
                + " exceptions | acked, missing | present, never acked |\n");
        b.append("|---|---|---|---|---|---|---|---|---|---|\n");
        for (List<Repetition> g : groups(reps).values()) {
            Repetition first = g.get(0);
            List<String> writers = first.writers().stream().map(WriterResult::writer).toList();
            List<Double> keys = g.stream().map(Repetition::leaderKeyMs).filter(v -> v != null).toList();
            String key = keys.isEmpty() ? "–" : seconds(Stats.of(keys)) + (keys.size() < g.size()
                    ? " (" + keys.size() + " of " + g.size() + ")" : "");
            for (String w : writers) {
                List<WriterResult> ws = g.stream().map(r -> writer(r, w)).toList();
                long unrecovered = ws.stream().filter(x -> !x.recovered()).count();
                b.append("| ").append(first.scenario()).append(" | ").append(first.profile()).append(" | ")
                        .append(first.sync() ? "on" : "off").append(" | ").append(w).append(" | ").append(g.size())
                        .append(" | ").append(seconds(stat(ws, WriterResult::outageMs)))
                        .append(unrecovered > 0 ? " (" + unrecovered + " never recovered)" : "")
                        .append(" | ").append(key)
                        .append(" | ").append(count(stat(ws, x -> (double) x.exceptions())))
                        .append(" | ").append(count(stat(ws, x -> (double) x.missing())))
                        .append(" | ").append(count(stat(ws, x -> (double) x.unacknowledgedPresent())))
                        .append(" |\n");
            }
        }
        return b.toString();
    }

    private static WriterResult writer(Repetition r, String name) {
        return r.writers().stream().filter(w -> w.writer().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalStateException("no writer " + name + " in " + r.group()));
    }

    private static Stats stat(List<WriterResult> ws, Function<WriterResult, Double> f) {
        return Stats.of(ws.stream().map(f).toList());
    }

    private static String seconds(Stats s) {
        return String.format(Locale.ROOT, "%.2f / %.2f / %.2f", s.min() / 1000, s.median() / 1000, s.max() / 1000);
    }

    private static String count(Stats s) {
        return String.format(Locale.ROOT, "%.0f / %s / %.0f", s.min(), s.median() == Math.rint(s.median())
                ? String.format(Locale.ROOT, "%.0f", s.median()) : String.format(Locale.ROOT, "%.1f", s.median()),
                s.max());
    }

    /** One line per writer and repetition. */
    static String csv(List<Repetition> reps) {
        StringBuilder b = new StringBuilder("store,scenario,profile,sync,rep,writer,write_outage_ms,recovered,"
                + "leader_key_ms,exceptions,acked_missing,present_never_acked,acknowledged,old_leader,final_leader,"
                + "note\n");
        for (Repetition r : reps) {
            for (WriterResult w : r.writers()) {
                b.append(String.join(",", r.store(), r.scenario(), r.profile(), r.sync() ? "on" : "off",
                        Integer.toString(r.n()), w.writer(), String.format(Locale.ROOT, "%.1f", w.outageMs()),
                        Boolean.toString(w.recovered()),
                        r.leaderKeyMs() == null ? "" : String.format(Locale.ROOT, "%.1f", r.leaderKeyMs()),
                        Integer.toString(w.exceptions()), Integer.toString(w.missing()),
                        Integer.toString(w.unacknowledgedPresent()), Integer.toString(w.acknowledged()),
                        r.oldLeader(), r.finalLeader(), csvText(r.note()))).append('\n');
            }
        }
        return b.toString();
    }

    static String csvText(String s) {
        return s == null || s.isEmpty() ? "" : "\"" + s.replace("\"", "\"\"") + "\"";
    }

    static String json(Map<String, Object> run, List<Repetition> reps) throws IOException {
        Map<String, Object> doc = new LinkedHashMap<>(run);
        doc.put("repetitions", reps);
        return JSON.writeValueAsString(doc);
    }

    /** What {@link #json} wrote: the run's description (under "run") and the repetitions. */
    record Saved(Map<String, Object> run, List<Repetition> repetitions) {}

    /** Reads a results.json back, to draw the reports again (after a change to them) without a new run. */
    static Saved read(Path json) throws IOException {
        Map<String, Object> doc = JSON.readValue(json.toFile(), new TypeReference<LinkedHashMap<String, Object>>() { });
        List<Repetition> reps = JSON.convertValue(doc.remove("repetitions"), new TypeReference<List<Repetition>>() { });
        return new Saved(doc, reps);
    }

    /**
     * Writes results.json, results.csv, table.md and per scenario group two SVGs into {@code dir}: every repetition
     * (worst first), and the worst alone ({@code -worst.svg}).
     */
    static List<Path> write(Path dir, Map<String, Object> run, List<Repetition> reps) throws IOException {
        Files.createDirectories(dir);
        List<Path> out = new ArrayList<>();
        out.add(Files.writeString(dir.resolve("results.json"), json(run, reps)));
        out.add(Files.writeString(dir.resolve("results.csv"), csv(reps)));
        out.add(Files.writeString(dir.resolve("table.md"), table(reps)));
        for (List<Repetition> g : groups(reps).values()) {
            Repetition f = g.get(0);
            String name = "timeline-" + f.store() + "-" + f.scenario() + "-" + f.profile() + "-sync-"
                    + (f.sync() ? "on" : "off") + ".svg";
            out.add(Files.writeString(dir.resolve(name), TimelineChart.svg(g)));
            Repetition worst = g.stream().max(Comparator.comparingDouble(Repetition::worstOutageMs))
                    .orElseThrow();
            out.add(Files.writeString(dir.resolve(name.replace(".svg", "-worst.svg")),
                    TimelineChart.svg(List.of(worst))));
        }
        return out;
    }
}
