package io.pgha.examples.e2e;

import io.pgha.core.testkit.TestFiles;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What a quiet standalone agent costs (issue 11): one member on etcd with {@code loop_wait} 2 s, leading a cluster of
 * itself with nothing to do. After a settling period it samples, over a window (60 s by default), the agent JVM's
 * CPU ({@code /proc/<pid>/stat} utime + stime), its RSS and threads ({@code /proc/<pid>/status}), the CPU of its
 * PostgreSQL (postmaster with its reaped children, plus the live ones), the backends PostgreSQL started
 * ({@code pg_stat_database.sessions}) and the writes etcd applied (its revision). A runnable main, not a test.
 *
 * <p>The agent runs from this JVM's class path, or from {@code -Dsurefire.test.class.path=...} (how an older build's
 * agent is measured with the same harness).
 *
 * <pre>
 * java -cp ... io.pgha.examples.e2e.IdleCostBenchmark [window seconds] [settle seconds]
 * </pre>
 *
 * <p>It also prints where the agent's CPU went, thread by thread ({@code /proc/<pid>/task}), summed by thread name
 * with the numbers taken off ({@code pgha-etcd-3} and {@code pgha-etcd-7} count as one). {@code -Didle.hold=<seconds>}
 * keeps the cluster up that long after the table (to attach {@code jcmd <pid> JFR.start}, say).
 */
public final class IdleCostBenchmark {

    private IdleCostBenchmark() {}

    /** CPU ticks and memory of one process, read from /proc. */
    private record ProcSample(long ticks, long childTicks, long rssKb, int threads) {

        static ProcSample of(long pid) throws IOException {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            // Fields after the command name (which may hold spaces) start at state, field 3.
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long utime = Long.parseLong(f[11]);
            long stime = Long.parseLong(f[12]);
            long cutime = Long.parseLong(f[13]);
            long cstime = Long.parseLong(f[14]);
            long rss = 0;
            int threads = 0;
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.replaceAll("[^0-9]", ""));
                } else if (line.startsWith("Threads:")) {
                    threads = Integer.parseInt(line.replaceAll("[^0-9]", ""));
                }
            }
            return new ProcSample(utime + stime, cutime + cstime, rss, threads);
        }
    }

    public static void main(String[] args) throws Exception {
        Duration window = Duration.ofSeconds(args.length > 0 ? Long.parseLong(args[0]) : 60);
        // The agent as a user runs it: the launcher script and the packaged jar, when both are here (run from
        // examples/ after mvn package); -Dpgha.agent.jvm=... or -Didle.launcher=none measures the suite's way.
        Path launcher = Path.of("pgha-agent").toAbsolutePath();
        boolean viaLauncher = System.getProperty("pgha.agent.jvm") == null
                && !"none".equals(System.getProperty("idle.launcher")) && Files.isExecutable(launcher)
                && Files.isRegularFile(Path.of("target", "pgha-agent.jar"));
        if (viaLauncher) {
            System.setProperty(AgentProcess.LAUNCHER_PROPERTY, launcher.toString());
        }
        Duration settle = Duration.ofSeconds(args.length > 1 ? Long.parseLong(args[1]) : 30);
        long hz = clockTicksPerSecond();
        Path base = TestFiles.shortTempDir("pgha-idle");
        EtcdStore store = new EtcdStore(base);
        StoreUnderTest.Timings timings = new StoreUnderTest.Timings(Duration.ofSeconds(10), Duration.ofSeconds(2),
                Duration.ofSeconds(3));
        try (E2eCluster cluster = E2eCluster.create(store, base, "idle-cost", 1, timings)) {
            cluster.startAll();
            AgentProcess agent = cluster.awaitHealthy(Duration.ofSeconds(120));
            Thread.sleep(settle.toMillis());
            long agentPid = agent.pid();
            long pmPid = agent.postmasterPid().orElseThrow();
            try (Connection c = agent.sql()) {
                long sessions0 = sessions(c);
                long revision0 = etcdRevision(store);
                ProcSample a0 = ProcSample.of(agentPid);
                Map<Long, ThreadTicks> threads0 = ThreadTicks.of(agentPid);
                long pg0 = postgresTicks(pmPid);
                long t0 = System.nanoTime();
                List<ProcSample> during = new ArrayList<>();
                long end = t0 + window.toNanos();
                while (System.nanoTime() < end) {
                    Thread.sleep(Math.min(5000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
                    during.add(ProcSample.of(agentPid));
                }
                ProcSample a1 = ProcSample.of(agentPid);
                Map<Long, ThreadTicks> threads1 = ThreadTicks.of(agentPid);
                long pg1 = postgresTicks(pmPid);
                double seconds = (System.nanoTime() - t0) / 1e9;
                // Backends that exited flush their statistics on the way out; give the last ones a moment.
                Thread.sleep(1500);
                long sessions1 = sessions(c);
                long revision1 = etcdRevision(store);
                double perMinute = 60 / seconds;
                long maxRss = during.stream().mapToLong(ProcSample::rssKb).max().orElse(a1.rssKb());
                int maxThreads = during.stream().mapToInt(ProcSample::threads).max().orElse(a1.threads());
                System.out.println();
                System.out.printf(Locale.ROOT,
                        "idle agent, 1 member on etcd, loop_wait 2 s, %.0f s window, run by %s%n", seconds, viaLauncher ? "the launcher pgha-agent (target/pgha-agent.jar)"
                                : "java " + System.getProperty("pgha.agent.jvm", AgentProcess.DEFAULT_JVM_OPTIONS)
                                        + " (the class path)");
                System.out.println("| measure | value |");
                System.out.println("|---|---|");
                System.out.printf(Locale.ROOT, "| agent CPU | %.2f %% |%n",
                        100.0 * (a1.ticks() - a0.ticks()) / hz / seconds);
                System.out.printf(Locale.ROOT, "| agent RSS (end / max) | %d MB / %d MB |%n", a1.rssKb() / 1024,
                        maxRss / 1024);
                System.out.printf(Locale.ROOT, "| agent threads (end / max) | %d / %d |%n", a1.threads(),
                        maxThreads);
                System.out.printf(Locale.ROOT, "| PostgreSQL CPU (all its processes) | %.2f %% |%n",
                        100.0 * (pg1 - pg0) / hz / seconds);
                System.out.printf(Locale.ROOT, "| PostgreSQL sessions started per minute | %.1f |%n",
                        (sessions1 - sessions0) * perMinute);
                System.out.printf(Locale.ROOT, "| etcd writes per minute | %.1f |%n",
                        (revision1 - revision0) * perMinute);
                printThreads(threads0, threads1, hz, seconds);
                long hold = Long.getLong("idle.hold", 0);
                if (hold > 0) {
                    System.out.printf(Locale.ROOT, "%nholding the cluster for %d s (agent pid %d)%n", hold, agentPid);
                    Thread.sleep(hold * 1000);
                }
            }
        } finally {
            store.close();
        }
    }

    /** One thread's name and CPU ticks, read from /proc/<pid>/task/<tid>/stat. */
    private record ThreadTicks(String name, long ticks) {

        static Map<Long, ThreadTicks> of(long pid) throws IOException {
            Map<Long, ThreadTicks> out = new HashMap<>();
            try (Stream<Path> tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
                for (Path task : tasks.toList()) {
                    try {
                        String stat = Files.readString(task.resolve("stat"));
                        String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                        out.put(Long.parseLong(task.getFileName().toString()),
                                new ThreadTicks(name, Long.parseLong(f[11]) + Long.parseLong(f[12])));
                    } catch (IOException | RuntimeException e) {
                        // the thread ended between the listing and the read
                    }
                }
            }
            return out;
        }
    }

    /**
     * The agent's CPU over the window by thread name (numbers taken off). Threads that ended inside the window are
     * not seen; their time shows as the difference between the process's total and this table's.
     */
    private static void printThreads(Map<Long, ThreadTicks> before, Map<Long, ThreadTicks> after, long hz,
            double seconds) {
        Map<String, long[]> byName = new HashMap<>();
        after.forEach((tid, t) -> {
            ThreadTicks b = before.get(tid);
            long[] acc = byName.computeIfAbsent(t.name().replaceAll("[0-9]+", "N"), k -> new long[2]);
            acc[0] += t.ticks() - (b == null || !b.name().equals(t.name()) ? 0 : b.ticks());
            acc[1]++;
        });
        System.out.println();
        System.out.println("| agent thread (by name) | threads | CPU |");
        System.out.println("|---|---|---|");
        byName.entrySet().stream().sorted((x, y) -> Long.compare(y.getValue()[0], x.getValue()[0]))
                .forEach(e -> System.out.printf(Locale.ROOT, "| %s | %d | %.3f %% |%n", e.getKey(),
                        e.getValue()[1], 100.0 * e.getValue()[0] / hz / seconds));
    }

    /** The postmaster's CPU with that of its reaped children, plus the CPU of its live children. */
    private static long postgresTicks(long postmasterPid) throws IOException {
        ProcSample pm = ProcSample.of(postmasterPid);
        long total = pm.ticks() + pm.childTicks();
        for (ProcessHandle h : ProcessHandle.of(postmasterPid).orElseThrow().children().toList()) {
            try {
                total += ProcSample.of(h.pid()).ticks();
            } catch (IOException | RuntimeException e) {
                // exited meanwhile: its time is in the postmaster's children's time now
            }
        }
        return total;
    }

    private static long sessions(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT sum(sessions) FROM pg_stat_database")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** etcd's revision: it grows by one with every write it applies (lease keepalives are not writes). */
    private static long etcdRevision(EtcdStore store) throws IOException, InterruptedException {
        String key = Base64.getEncoder().encodeToString("/".getBytes(StandardCharsets.UTF_8));
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://" + store.host() + ":" + store.port()
                + "/v3/kv/range")).POST(HttpRequest.BodyPublishers.ofString("{\"key\":\"" + key + "\"}"))
                .timeout(Duration.ofSeconds(10)).build();
        String body = HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString()).body();
        return AgentProcess.JSON.readTree(body).path("header").path("revision").asLong(-1);
    }

    private static long clockTicksPerSecond() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        p.waitFor();
        return Long.parseLong(out);
    }
}
