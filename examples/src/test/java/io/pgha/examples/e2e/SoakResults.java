package io.pgha.examples.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What {@link SoakBenchmark} measured, and its table, JSON and CSV. Pure: times are seconds since the load started
 * (plus the wall-clock time of day, to find the moment in the agents' logs), so the arithmetic can be tested on
 * synthetic data.
 */
final class SoakResults {

    /**
     * A store read of the leader key that differed from the one before: when it ended, the holder ({@code ""}: no key)
     * and the key's epoch (it changes each time the key is created anew).
     */
    record Observation(double atS, String wallTime, String holder, long epoch) {}

    /**
     * A change of the leader key: {@code failover} when another member took the key, {@code re-acquired} when the same
     * member created it anew (it had lost its lease), {@code key gone} when it disappeared. With no fault injected
     * every failover is a spurious one.
     */
    record LeaderChange(double atS, String wallTime, String kind, String from, String to) {}

    /** Between two acknowledged commits of one writer (or from the last to the end of the run). */
    record Gap(double atS, double lengthMs) {}

    /**
     * One writer over the whole run. {@code longestGapMs} counts the end of the run as a commit, so a writer that
     * stopped committing gets the rest of the run.
     */
    record WriterSummary(String writer, int acknowledged, int failures, List<String> failureStates,
            double longestGapMs, double longestGapAtS, List<Gap> gapsOver500ms) {}

    /**
     * One member: fences and HA decisions counted by its {@code /metrics} over the run ({@code -1}: unknown, its
     * agent did not answer or restarted), and from its log: the WARN/ERROR lines, the lines of a fence (the guard's
     * "fencing postgres" and the fence's own "fenced"), the demotions ("demoting: ..."), the lease renewals it called
     * late or failed; every fence line, and the first WARN/ERROR lines.
     */
    record MemberSummary(String member, long fences, Map<String, Long> decisions, int warnLines, int fenceLines,
            int demotions, int renewalWarnings, List<String> fenceLog, List<String> firstWarnLines) {}

    /** {@code /proc/loadavg}'s first three fields. */
    record LoadSample(double atS, double load1, double load5, double load15) {}

    private SoakResults() {}

    /** The changes of the leader key between consecutive observations (the first is the state at the start). */
    static List<LeaderChange> changes(List<Observation> seen) {
        List<LeaderChange> out = new ArrayList<>();
        Observation last = null;
        // The last holder there was, across a moment with no key: a key that vanished and came back to the same
        // member is a re-acquisition, to another one a failover.
        Observation lastHeld = null;
        for (Observation o : seen) {
            if (last != null) {
                if (o.holder().isEmpty()) {
                    out.add(new LeaderChange(o.atS(), o.wallTime(), "key gone", last.holder(), ""));
                } else if (lastHeld != null && !o.holder().equals(lastHeld.holder())) {
                    out.add(new LeaderChange(o.atS(), o.wallTime(), "failover", lastHeld.holder(), o.holder()));
                } else if (lastHeld != null && o.epoch() != lastHeld.epoch()) {
                    out.add(new LeaderChange(o.atS(), o.wallTime(), "re-acquired", lastHeld.holder(), o.holder()));
                }
            }
            last = o;
            if (!o.holder().isEmpty()) {
                lastHeld = o;
            }
        }
        return out;
    }

    static long count(List<LeaderChange> changes, String kind) {
        return changes.stream().filter(c -> c.kind().equals(kind)).count();
    }

    /** Gaps of at least {@code minMs} between consecutive acknowledgements (seconds), the end counting as one. */
    static List<Gap> gaps(List<Double> ackS, double endS, double minMs) {
        List<Gap> out = new ArrayList<>();
        List<Double> sorted = ackS.stream().sorted().toList();
        for (int i = 1; i <= sorted.size(); i++) {
            double to = i < sorted.size() ? sorted.get(i) : endS;
            double ms = (to - sorted.get(i - 1)) * 1000;
            if (ms >= minMs) {
                out.add(new Gap(sorted.get(i - 1), ms));
            }
        }
        return out;
    }

    /** The writer's summary from its acknowledgement times (seconds since the start) and failures. */
    static WriterSummary writer(String name, List<Double> ackS, int failures, List<String> failureStates,
            double endS) {
        List<Gap> all = gaps(ackS, endS, 0);
        Gap longest = all.stream().max((a, b) -> Double.compare(a.lengthMs(), b.lengthMs()))
                .orElse(new Gap(0, endS * 1000));
        return new WriterSummary(name, ackS.size(), failures, failureStates, longest.lengthMs(), longest.atS(),
                all.stream().filter(g -> g.lengthMs() >= 500).toList());
    }

    static BenchResults.Stats load1(List<LoadSample> samples) {
        return BenchResults.Stats.of(samples.stream().map(LoadSample::load1).toList());
    }

    /** The printed table: one line per measure. */
    static String table(Map<String, Object> run, List<LeaderChange> changes, List<WriterSummary> writers,
            List<MemberSummary> members, List<LoadSample> load, int historyEntriesAdded) {
        StringBuilder b = new StringBuilder();
        b.append("| measure | value |\n|---|---|\n");
        row(b, "store / profile", run.get("store") + " / " + run.get("profile") + " (" + run.get("timings") + ")");
        row(b, "duration under load", run.get("duration") + ", load: " + run.get("load"));
        row(b, "leader changes (spurious failovers)", count(changes, "failover")
                + (changes.isEmpty() ? "" : "; all key changes: " + changes.size() + " (" + count(changes,
                        "re-acquired") + " re-acquired by the same member, " + count(changes, "key gone")
                        + " key gone)"));
        row(b, "history entries added (promotions, a fenced leader promoting again included)",
                Integer.toString(historyEntriesAdded));
        long fences = members.stream().mapToLong(MemberSummary::fences).filter(f -> f >= 0).sum();
        boolean unknown = members.stream().anyMatch(m -> m.fences() < 0);
        row(b, "fences (/metrics pgha_fences_total)", fences + (unknown ? " (some members unknown)" : "") + ": "
                + String.join(", ", members.stream().map(m -> m.member() + " " + m.fences()).toList()));
        row(b, "log: fence lines / demotions / lease renewals late or failed", members.stream()
                .mapToInt(MemberSummary::fenceLines).sum() + " / " + members.stream()
                .mapToInt(MemberSummary::demotions).sum() + " / " + members.stream()
                .mapToInt(MemberSummary::renewalWarnings).sum());
        row(b, "WARN/ERROR log lines", String.join(", ", members.stream()
                .map(m -> m.member() + " " + m.warnLines()).toList()));
        for (WriterSummary w : writers) {
            row(b, "writer " + w.writer(), String.format(Locale.ROOT, "%d acknowledged, %d failures%s, longest gap"
                    + " %.2f s (at %.0f s), %d gaps >= 0.5 s", w.acknowledged(), w.failures(),
                    w.failureStates().isEmpty() ? "" : " " + w.failureStates(), w.longestGapMs() / 1000,
                    w.longestGapAtS(), w.gapsOver500ms().size()));
        }
        if (!load.isEmpty()) {
            BenchResults.Stats s = load1(load);
            row(b, "load average (1 min) min / median / max", String.format(Locale.ROOT, "%.2f / %.2f / %.2f (%d"
                    + " samples)", s.min(), s.median(), s.max(), load.size()));
        }
        return b.toString();
    }

    private static void row(StringBuilder b, String measure, String value) {
        b.append("| ").append(measure).append(" | ").append(value.replace("|", "\\|")).append(" |\n");
    }

    /** One line per writer (the run's other measures repeated on each). */
    static String csv(Map<String, Object> run, List<LeaderChange> changes, List<WriterSummary> writers,
            List<MemberSummary> members, List<LoadSample> load) {
        StringBuilder b = new StringBuilder("store,profile,duration,load,writer,acknowledged,failures,"
                + "longest_gap_ms,longest_gap_at_s,gaps_over_500ms,failovers,key_changes,fences,fence_log_lines,"
                + "load1_min,load1_median,load1_max\n");
        long fences = members.stream().mapToLong(MemberSummary::fences).filter(f -> f >= 0).sum();
        int fenceLines = members.stream().mapToInt(MemberSummary::fenceLines).sum();
        BenchResults.Stats s = load.isEmpty() ? new BenchResults.Stats(Double.NaN, Double.NaN, Double.NaN)
                : load1(load);
        for (WriterSummary w : writers) {
            b.append(String.join(",", BenchResults.csvText(String.valueOf(run.get("store"))),
                    BenchResults.csvText(String.valueOf(run.get("profile"))),
                    BenchResults.csvText(String.valueOf(run.get("duration"))),
                    BenchResults.csvText(String.valueOf(run.get("load"))), BenchResults.csvText(w.writer()),
                    Integer.toString(w.acknowledged()), Integer.toString(w.failures()),
                    String.format(Locale.ROOT, "%.1f", w.longestGapMs()),
                    String.format(Locale.ROOT, "%.1f", w.longestGapAtS()),
                    Integer.toString(w.gapsOver500ms().size()), Long.toString(count(changes, "failover")),
                    Integer.toString(changes.size()), Long.toString(fences), Integer.toString(fenceLines),
                    String.format(Locale.ROOT, "%.2f", s.min()), String.format(Locale.ROOT, "%.2f", s.median()),
                    String.format(Locale.ROOT, "%.2f", s.max()))).append('\n');
        }
        return b.toString();
    }

    /** Writes results.json (everything), results.csv and table.md into {@code dir}. */
    static List<Path> write(Path dir, Map<String, Object> run, List<Observation> seen, List<WriterSummary> writers,
            List<MemberSummary> members, List<LoadSample> load, int historyEntriesAdded,
            Map<String, Object> extra) throws IOException {
        Files.createDirectories(dir);
        List<LeaderChange> changes = changes(seen);
        Map<String, Object> doc = new LinkedHashMap<>(run);
        doc.put("leader_changes", changes);
        doc.put("spurious_failovers", count(changes, "failover"));
        doc.put("history_entries_added", historyEntriesAdded);
        doc.put("writers", writers);
        doc.put("members", members);
        doc.put("load", load);
        doc.put("leader_key_observations", seen);
        doc.putAll(extra);
        List<Path> out = new ArrayList<>();
        out.add(Files.writeString(dir.resolve("results.json"), BenchResults.JSON.writeValueAsString(doc)));
        out.add(Files.writeString(dir.resolve("results.csv"), csv(run, changes, writers, members, load)));
        out.add(Files.writeString(dir.resolve("table.md"), table(run, changes, writers, members, load,
                historyEntriesAdded)));
        return out;
    }
}
