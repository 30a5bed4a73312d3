package io.pgha.examples.e2e;

import static org.awaitility.Awaitility.await;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.LeaderLock;
import io.pgha.core.config.Durations;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.examples.e2e.SoakResults.LoadSample;
import io.pgha.examples.e2e.SoakResults.MemberSummary;
import io.pgha.examples.e2e.SoakResults.Observation;
import io.pgha.examples.e2e.SoakResults.WriterSummary;
import io.pgha.jdbc.HaDataSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalTime;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Not a test: issue 11's soak run, "zero spurious failovers in 30 minutes of the fast profile under steady writes
 * with both cores kept busy by another process". A three-member cluster as {@link FailoverBenchmark} starts one, its
 * two writers (one through {@link HaDataSource}, one through a multi-host URL, each committing every 20 ms), and
 * beside them {@code stress-ng --cpu 2} (or nothing) for the given duration; no fault is injected, so every change
 * of the leader key is spurious.
 *
 * <p>Recorded: every change of the leader key (a store read every 100 ms: holder and the key's epoch), the history
 * entries added, each member's fences ({@code pgha_fences_total} of {@code /metrics}) and its WARN/ERROR log lines
 * (those mentioning a fence; late or failed lease renewals), each writer's failures and longest gap between
 * acknowledged commits, and the load average every 5 s. Results (table.md, results.json, results.csv) go to
 * {@code -Dbench.out} (default {@code target/bench/soak}), rewritten every minute so an interrupted run keeps what
 * it measured; the agents' logs to {@code target/e2e-logs/<scope>/} under {@code -Dbasedir} (default: the working
 * directory).
 *
 * <pre>
 * java -cp ... io.pgha.examples.e2e.SoakBenchmark etcd ttl=2s,loopWait=1s,retryTimeout=500ms 30m stress-ng
 * </pre>
 * stress-ng is stopped by its PID (and its workers by theirs) at the end, on failure and on Ctrl-C; it also carries
 * {@code --timeout} (the run's length plus 5 minutes) and dies with this JVM, in case all of that fails.
 */
public final class SoakBenchmark {

    static final Duration LEADER_POLL = Duration.ofMillis(100);
    static final Duration LOAD_POLL = Duration.ofSeconds(5);
    static final Duration PROGRESS = Duration.ofMinutes(1);
    /** Log lines kept around a leader change: this long before it, and {@link #CONTEXT_AFTER} after. */
    static final Duration CONTEXT_BEFORE = Duration.ofSeconds(8);
    static final Duration CONTEXT_AFTER = Duration.ofSeconds(3);
    static final Pattern FENCE_LINE = Pattern.compile("\\bfenced\\b|\\bfencing\\b");

    private final SoakArgs args;
    private final E2eCluster cluster;
    private final List<Observation> seen = Collections.synchronizedList(new ArrayList<>());
    private final List<LoadSample> load = Collections.synchronizedList(new ArrayList<>());
    private volatile long startNanos;

    private SoakBenchmark(SoakArgs args, E2eCluster cluster) {
        this.args = args;
        this.cluster = cluster;
    }

    public static void main(String[] argv) throws Exception {
        SoakArgs args = SoakArgs.parse(argv);
        Path out = Path.of(System.getProperty("bench.out",
                Path.of(System.getProperty("basedir", "."), "target", "bench", "soak").toString()));
        StoreUnderTest.Timings t = args.timings();
        boolean ok = false;
        try (E2eCluster cluster = E2eCluster.onNewStore("pgha-soak", "soak-",
                dir -> args.store().equals("etcd") ? new EtcdStore(dir) : new ZooKeeperStore(), t)) {
            System.out.printf("soak: %s on %s (ttl %s, loop_wait %s, retry_timeout %s) for %s, load %s; results to"
                    + " %s%n", args.profile(), cluster.store, Durations.format(t.ttl()), Durations.format(t.loopWait()),
                    Durations.format(t.retryTimeout()), Durations.format(args.length()), args.load(), out);
            new SoakBenchmark(args, cluster).run(out);
            ok = true;
        } catch (Exception | AssertionError e) {
            System.out.println("soak: FAILED: " + e);
            e.printStackTrace(System.out);
        }
        // Agents' JVMs and etcd are gone; curator's and the HTTP client's threads would keep this one alive.
        System.exit(ok ? 0 : 1);
    }

    private void run(Path out) throws Exception {
        Map<String, Object> run = new LinkedHashMap<>();
        run.put("started", Instant.now().toString());
        run.put("store", args.store());
        run.put("profile", args.profile());
        StoreUnderTest.Timings t = args.timings();
        run.put("timings", "ttl " + Durations.format(t.ttl()) + ", loop_wait " + Durations.format(t.loopWait())
                + ", retry_timeout " + Durations.format(t.retryTimeout()));
        run.put("duration", Durations.format(args.length()));
        run.put("load", args.load().equals("none") ? "none" : "stress-ng --cpu 2");
        run.put("machine", FailoverBenchmark.machine());
        run.put("writers", FailoverBenchmark.WRITERS);
        run.put("logs", Path.of(System.getProperty("basedir", "."), "target", "e2e-logs", cluster.scope)
                .toAbsolutePath().toString());

        cluster.startAll();
        AgentProcess leader = cluster.awaitHealthy(Duration.ofSeconds(180));
        Sql.createRoutedTable(leader);
        System.out.println("soak: healthy, leader " + leader.name);
        String tag = "soak-" + UUID.randomUUID().toString().substring(0, 6);
        Duration maxRun = args.length().plusMinutes(5);
        try (Dcs dcs = cluster.store.openReadOnly(cluster.scope, "soak-jdbc");
                HaDataSource ds = HaDataSource.builder().dcs(dcs).user("postgres")
                        .password(leader.superuserPassword()).hikari(h -> h.setMaximumPoolSize(4)).name("soak")
                        .build()) {
            RoutedWriter ha = new RoutedWriter(ds, tag + "-ha", FailoverBenchmark.WRITE_PAUSE, maxRun);
            MultiHostWriter url = new MultiHostWriter(cluster.members, leader.superuserPassword(), tag + "-url",
                    FailoverBenchmark.WRITE_PAUSE, maxRun);
            Process stress = null;
            Poller leaderWatch = null;
            Poller loadWatch = null;
            try {
                await("both writers commit").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                        .until(() -> ha.commits().size() >= 50 && url.commits().size() >= 50);
                Map<String, Long> logMarks = new LinkedHashMap<>();
                Map<String, Metrics> before = new LinkedHashMap<>();
                for (AgentProcess m : cluster.members) {
                    logMarks.put(m.name, m.logMark());
                    before.put(m.name, Metrics.of(m));
                }
                int historyBefore = historySize();
                startNanos = System.nanoTime();
                run.put("load_started", Instant.now().toString());
                if (!args.load().equals("none")) {
                    stress = startStress(args.length().plusMinutes(5), out);
                    run.put("stress_ng_pid", stress.pid());
                }
                leaderWatch = new Poller("soak-leader-watch", LEADER_POLL, maxRun, this::observe, () -> { });
                loadWatch = new Poller("soak-load-watch", LOAD_POLL, maxRun, this::sampleLoad, () -> { });
                long end = startNanos + args.length().toNanos();
                long nextReport = startNanos + PROGRESS.toNanos();
                while (System.nanoTime() - end < 0) {
                    long now = System.nanoTime();
                    if (now - nextReport >= 0) {
                        nextReport += PROGRESS.toNanos();
                        progress(ha, url);
                        try {
                            // So that an interrupted run keeps what it measured.
                            run.put("partial_at_s", Math.round(seconds(now)));
                            report(out, run, ha, url, before, logMarks, historyBefore, seconds(now));
                        } catch (IOException | RuntimeException e) {
                            System.out.println("soak: no partial report this minute: " + e);
                        }
                        if (stress != null && !stress.isAlive()) {
                            throw new IllegalStateException("stress-ng exited early (" + stress.exitValue() + ")");
                        }
                    }
                    Thread.sleep(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(end - now), 1000)));
                }
                double endS = seconds(System.nanoTime());
                run.remove("partial_at_s");
                run.put("load_stopped", Instant.now().toString());
                stopStress(stress);
                stress = null;
                leaderWatch.close();
                loadWatch.close();
                url.close();
                ha.close();
                run.put("finished", Instant.now().toString());
                Report r = report(out, run, ha, url, before, logMarks, historyBefore, endS);
                System.out.println();
                System.out.println(r.table());
                SoakResults.changes(r.observations()).forEach(c -> System.out.println("soak: leader change " + c));
                r.files().forEach(f -> System.out.println("soak: wrote " + f));
                System.out.println("soak: agent logs (after the cluster stops): " + run.get("logs"));
            } finally {
                stopStress(stress);
                if (leaderWatch != null) {
                    leaderWatch.close();
                }
                if (loadWatch != null) {
                    loadWatch.close();
                }
                url.close();
                ha.close();
            }
        }
    }

    /** Entries of the history key (one per promotion); a store stalled by the load gets 30 s to answer. */
    private int historySize() {
        return await("the history key").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                .ignoreExceptions().until(() -> cluster.view().history().entries().size(), n -> true);
    }

    /** What {@link #report} wrote: the observations it used, its table and its files. */
    private record Report(List<Observation> observations, String table, List<Path> files) {}

    /** Summarises the run up to {@code endS} (seconds under load) and writes the results. */
    private Report report(Path out, Map<String, Object> run, RoutedWriter ha, MultiHostWriter url,
            Map<String, Metrics> before, Map<String, Long> logMarks, int historyBefore, double endS)
            throws IOException {
        List<WriterSummary> writers = List.of(writer(FailoverBenchmark.HA_WRITER, ha.commits(), ha.failures(), endS),
                writer(FailoverBenchmark.URL_WRITER, url.commits(), url.failures(), endS));
        List<MemberSummary> members = new ArrayList<>();
        for (AgentProcess m : cluster.members) {
            members.add(member(m, before.get(m.name), logMarks.get(m.name)));
        }
        int historyAdded = historySize() - historyBefore;
        List<Observation> observations = List.copyOf(seen);
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put("log_context_of_changes", context(SoakResults.changes(observations), logMarks));
        List<LoadSample> loadSamples = List.copyOf(load);
        List<Path> files = SoakResults.write(out, run, observations, writers, members, loadSamples, historyAdded,
                extra);
        return new Report(observations, SoakResults.table(run, SoakResults.changes(observations), writers, members,
                loadSamples, historyAdded), files);
    }

    // ------------------------------------------------------------------------------------------------ load

    /**
     * {@code stress-ng --cpu 2} for at most {@code timeout}, tied to this JVM (pdeathsig) as the agents are; its
     * output to {@code stress-ng.log} in {@code out}.
     */
    private static Process startStress(Duration timeout, Path out) throws IOException {
        Files.createDirectories(out);
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(AgentProcess.SETPRIV)) {
            cmd.addAll(List.of(AgentProcess.SETPRIV.toString(), "--pdeathsig", "KILL", "--"));
        }
        cmd.addAll(List.of("stress-ng", "--cpu", "2", "--timeout", timeout.toSeconds() + "s", "--metrics-brief"));
        Process p = E2eKit.launch(new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(out.resolve("stress-ng.log").toFile()), "stress-ng (apt-get install stress-ng)");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> stopStress(p), "soak-stop-stress-ng"));
        System.out.println("soak: stress-ng --cpu 2 started, pid " + p.pid());
        return p;
    }

    /** SIGTERM to stress-ng (it stops its workers), then SIGKILL to whatever of it is left, each by PID. */
    private static void stopStress(Process p) {
        if (p == null) {
            return;
        }
        List<ProcessHandle> workers = p.descendants().toList();
        p.destroy();
        try {
            p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        workers.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
        if (p.isAlive()) {
            p.destroyForcibly();
        }
    }

    private void sampleLoad() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).strip().split("\\s+");
            load.add(new LoadSample(seconds(System.nanoTime()), Double.parseDouble(f[0]), Double.parseDouble(f[1]),
                    Double.parseDouble(f[2])));
        } catch (IOException | RuntimeException e) {
            // No sample this time.
        }
    }

    // ------------------------------------------------------------------------------------------------ leader key

    private void observe() {
        ClusterView v;
        try {
            v = cluster.view();
        } catch (DcsUnavailableException | RuntimeException e) {
            // The store cannot tell (stalled under the load): no observation.
            return;
        }
        LeaderLock l = v.leader();
        Observation o = new Observation(seconds(System.nanoTime()), LocalTime.now().truncatedTo(ChronoUnit.MILLIS)
                .toString(), l == null ? "" : l.holder(), l == null ? 0 : l.epoch());
        synchronized (seen) {
            Observation last = seen.isEmpty() ? null : seen.get(seen.size() - 1);
            if (last == null || !last.holder().equals(o.holder()) || last.epoch() != o.epoch()) {
                seen.add(o);
                if (last != null) {
                    System.out.println("soak: leader key now " + (o.holder().isEmpty() ? "gone" : o.holder()
                            + " (epoch " + o.epoch() + ")") + " at " + o.wallTime());
                }
            }
        }
    }

    private double seconds(long nanos) {
        return (nanos - startNanos) / 1e9;
    }

    // ------------------------------------------------------------------------------------------------ writers

    private WriterSummary writer(String name, List<RoutedWriter.Commit> commits, List<RoutedWriter.Failure> failures,
            double endS) {
        // Only what happened under load: the warm-up's commits are not part of the run.
        List<Double> ackS = commits.stream().map(c -> seconds(c.returnedNanos())).filter(s -> s >= 0).toList();
        List<RoutedWriter.Failure> during = failures.stream().filter(f -> seconds(f.atNanos()) >= 0).toList();
        Map<String, Long> states = new TreeMap<>(during.stream().collect(Collectors.groupingBy(
                f -> String.valueOf(f.sqlState()), Collectors.counting())));
        return SoakResults.writer(name, ackS, during.size(),
                states.entrySet().stream().map(e -> e.getKey() + " x" + e.getValue()).toList(), endS);
    }

    private void progress(RoutedWriter ha, MultiHostWriter url) {
        String l = load.isEmpty() ? "?" : Double.toString(load.get(load.size() - 1).load1());
        System.out.printf("soak: %.0f s, leader key changes %d, %s %d acked / %d failed, %s %d acked / %d failed,"
                + " load %s%n", seconds(System.nanoTime()), SoakResults.changes(List.copyOf(seen)).size(),
                FailoverBenchmark.HA_WRITER, ha.commits().size(), ha.failures().size(), FailoverBenchmark.URL_WRITER,
                url.commits().size(), url.failures().size(), l);
    }

    // ------------------------------------------------------------------------------------------------ members

    /** pgha_fences_total and pgha_ha_decisions_total of one member's {@code /metrics}; null: no answer. */
    record Metrics(long fences, Map<String, Long> decisions) {
        static Metrics of(AgentProcess m) {
            try {
                AgentProcess.Reply r = m.get("/metrics");
                return r.status() == 200 ? parse(r.body()) : null;
            } catch (IOException | RuntimeException e) {
                return null;
            }
        }

        static Metrics parse(String text) {
            long fences = -1;
            Map<String, Long> decisions = new TreeMap<>();
            for (String line : text.split("\n")) {
                if (line.startsWith("pgha_fences_total{")) {
                    fences = (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                } else if (line.startsWith("pgha_ha_decisions_total{")) {
                    int k = line.indexOf("kind=\"") + 6;
                    decisions.put(line.substring(k, line.indexOf('"', k)),
                            (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)));
                }
            }
            return new Metrics(fences, decisions);
        }
    }

    private static MemberSummary member(AgentProcess m, Metrics before, long logMark) {
        Metrics after = Metrics.of(m);
        long fences = -1;
        Map<String, Long> decisions = new TreeMap<>();
        if (before != null && after != null && after.fences() >= before.fences()) {
            fences = after.fences() - before.fences();
            after.decisions().forEach((k, v) -> decisions.put(k, v - before.decisions().getOrDefault(k, 0L)));
        }
        List<String> lines = m.logSince(logMark).lines().toList();
        List<String> warn = lines.stream().filter(l -> l.contains(" WARN ") || l.contains(" ERROR ")).toList();
        // "fenced: postmaster pid .. stopped", "fenced (no postmaster was running)", "..: fencing postgres"; not
        // "unfenced", nor a renewal warning's "the guard fences in".
        List<String> fenceLog = lines.stream().filter(l -> FENCE_LINE.matcher(l).find()).toList();
        int demotions = (int) lines.stream().filter(l -> l.contains(" - demoting")).count();
        int renewal = (int) warn.stream().filter(l -> l.contains("lease renewal")).count();
        return new MemberSummary(m.name, fences, decisions, warn.size(), fenceLog.size(), demotions, renewal,
                fenceLog.stream().limit(500).toList(), warn.stream().limit(40).toList());
    }

    /**
     * Per leader change, the members' log lines from {@link #CONTEXT_BEFORE} before it to {@link #CONTEXT_AFTER}
     * after (by the time of day the agents' log lines start with).
     */
    private Map<String, List<String>> context(List<SoakResults.LeaderChange> changes, Map<String, Long> logMarks) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (SoakResults.LeaderChange c : changes) {
            LocalTime at = LocalTime.parse(c.wallTime());
            List<String> lines = new ArrayList<>();
            for (AgentProcess m : cluster.members) {
                m.logSince(logMarks.get(m.name)).lines().filter(l -> within(l, at)).limit(400)
                        .forEach(l -> lines.add(m.name + ": " + l));
            }
            out.put(c.wallTime() + " " + c.kind() + " " + c.from() + " -> " + c.to(), lines);
        }
        return out;
    }

    private static boolean within(String line, LocalTime at) {
        if (line.length() < 12) {
            return false;
        }
        try {
            LocalTime t = LocalTime.parse(line.substring(0, 12));
            return !t.isBefore(at.minus(CONTEXT_BEFORE)) && !t.isAfter(at.plus(CONTEXT_AFTER));
        } catch (DateTimeParseException e) {
            return false;
        }
    }
}
