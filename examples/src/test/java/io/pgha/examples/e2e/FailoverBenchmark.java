package io.pgha.examples.e2e;

import static org.awaitility.Awaitility.await;

import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.testkit.TestFiles;
import io.pgha.examples.e2e.BenchResults.Mark;
import io.pgha.examples.e2e.BenchResults.Repetition;
import io.pgha.examples.e2e.BenchResults.WriterResult;
import io.pgha.jdbc.HaDataSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import io.pgha.core.config.Durations;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Collectors;
import org.awaitility.core.ConditionTimeoutException;

/**
 * Not a test: issue 11's failover benchmark. A local three-member cluster of the end-to-end suite ({@link E2eCluster}:
 * agent processes on PostgreSQL 15, a real store) per profile; per repetition two writers, each committing a row every
 * 20 ms and recording every acknowledged commit: one through {@link HaDataSource} (store source, default settings,
 * pools of 4), one through plain pgjdbc on a multi-host URL ({@link MultiHostWriter}). Then a fault:
 * <ul>
 *   <li>{@code kill9}: SIGKILL to the leader's PostgreSQL (postmaster and children) and its agent, as a host crash;
 *       the killed member is started again after the measurement;</li>
 *   <li>{@code switchover}: {@code POST /switchover} to the leader, candidates alternating;</li>
 *   <li>{@code store-outage}: the store's server stopped for 30 s, then started on the same data.</li>
 * </ul>
 * Measured per writer: the write outage (largest gap between consecutive acknowledged commits from 2 s before the fault
 * to the end of the observation), client exceptions, acknowledged rows missing on the final leader and rows there that
 * were never acknowledged; per repetition the time from the fault to the first store read (every 20 ms) showing a new
 * leader key. Results go to {@code target/bench/} (JSON, CSV, the Markdown table, one SVG timeline per scenario).
 *
 * <pre>
 * mvn -B -DskipTests -pl examples -am package
 * cd examples &amp;&amp; java -cp target/test-classes:target/classes:$(cat target/test-classpath.txt) \
 *     io.pgha.examples.e2e.FailoverBenchmark [etcd|zookeeper] [default,fast] [off|on|off,on] [repetitions] \
 *     [kill9,switchover,store-outage:1]
 * java -cp ... io.pgha.examples.e2e.FailoverBenchmark render target/bench/results.json   # reports again
 * </pre>
 * A scenario may carry its own repetitions ({@code store-outage:1}); a profile name may end in {@code +failsafe}
 * ({@code fast+failsafe}: failsafe_mode on); {@code -Dbench.out=dir} writes elsewhere than {@code target/bench}. Every wait is bounded; every process is stopped
 * by its PID at the end, on failure and on Ctrl-C ({@link E2eCluster}'s and the etcd harness's shutdown hooks).
 */
public final class FailoverBenchmark {

    enum Scenario {
        KILL9("kill9"), SWITCHOVER("switchover"), STORE_OUTAGE("store-outage");

        final String label;

        Scenario(String label) {
            this.label = label;
        }

        static Scenario of(String s) {
            for (Scenario v : values()) {
                if (v.label.equals(s)) {
                    return v;
                }
            }
            throw new IllegalArgumentException("scenario must be kill9, switchover or store-outage (got " + s + ")");
        }
    }

    static final Duration WRITE_PAUSE = Duration.ofMillis(20);
    static final Duration STORE_OUTAGE = Duration.ofSeconds(30);
    /** How far before the fault the window (gaps, chart) starts. */
    static final Duration BEFORE_FAULT = Duration.ofSeconds(2);
    /** Steady commits the window keeps after both writers are back. */
    static final Duration AFTER_RECOVERY = Duration.ofSeconds(3);
    static final Duration LEADER_POLL = Duration.ofMillis(20);
    static final String HA_WRITER = "HaDataSource";
    static final String URL_WRITER = "multi-host URL";

    /** How each writer works, for the results' description. */
    static final Map<String, String> WRITERS = Map.of(HA_WRITER, "HaDataSource with a store source, default settings,"
            + " Hikari pools of 4, a fresh connection per transaction (SELECT inet_server_port(), INSERT, COMMIT), 20 ms"
            + " between", URL_WRITER, "pgjdbc, one connection, autocommitted INSERT ... RETURNING, 20 ms between,"
            + " reconnect after any failure; the members' published addresses,"
            + " targetServerType=primary&hostRecheckSeconds=0");

    /** A profile name ending in this runs with {@code failsafe_mode} on (set by {@code PATCH /config}). */
    static final String FAILSAFE = "+failsafe";

    /** Set by Ctrl-C: start nothing new while the shutdown hooks stop the clusters. */
    private static volatile boolean shuttingDown;

    private final String storeName;
    private final String profile;
    private final StoreUnderTest.Timings timings;
    private final E2eCluster cluster;

    private FailoverBenchmark(String storeName, String profile, StoreUnderTest.Timings timings, E2eCluster cluster) {
        this.storeName = storeName;
        this.profile = profile;
        this.timings = timings;
        this.cluster = cluster;
    }

    /**
     * The profiles. {@code default} is the product's defaults (README, HA settings). {@code fast} on etcd is ttl 5 s,
     * loop_wait 1 s, retry_timeout 2 s: the rules {@code loopWait + 2*retryTimeout <= ttl} and {@code retryTimeout <
     * the lease TTL} would accept shorter ones (decision 0605 says why these); on ZooKeeper the end-to-end suite's
     * 10 / 1 / 3, which fits the session's lease guarantee. {@code fast2} (etcd only) is ttl 2 s, loop_wait 1 s,
     * retry_timeout 500 ms: etcd's shortest lease with its default election timeout.
     */
    static StoreUnderTest.Timings timings(String store, String profile) {
        return switch (profile.replace(FAILSAFE, "")) {
            case "default" -> new StoreUnderTest.Timings(Duration.ofSeconds(30), Duration.ofSeconds(10),
                    Duration.ofSeconds(10));
            case "fast" -> store.equals("etcd")
                    ? new StoreUnderTest.Timings(Duration.ofSeconds(5), Duration.ofSeconds(1), Duration.ofSeconds(2))
                    : StoreUnderTest.LEASE_OF_TTL;
            // The shortest lease etcd grants with its default election timeout (2 s): the crash-failover target.
            case "fast2" -> {
                if (!store.equals("etcd")) {
                    throw new IllegalArgumentException("profile fast2 (ttl 2 s) is for etcd only: ZooKeeper's and"
                            + " Consul's lease guarantees are shorter than the ttl (got store " + store + ")");
                }
                yield new StoreUnderTest.Timings(Duration.ofSeconds(2), Duration.ofSeconds(1), Duration.ofMillis(500));
            }
            default -> throw new IllegalArgumentException("profile must be default, fast or fast2 (got " + profile
                    + ")");
        };
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("render")) {
            // Draw the table, CSV and charts again from a results.json, next to it.
            Path json = Path.of(args[1]);
            BenchResults.Saved saved = BenchResults.read(json);
            List<Repetition> reps = saved.repetitions().stream().map(BenchResults::recomputed).toList();
            BenchResults.write(json.toAbsolutePath().getParent(), saved.run(), reps);
            System.out.println(BenchResults.table(reps));
            return;
        }
        String storeName = args.length > 0 ? args[0] : "etcd";
        if (!storeName.equals("etcd") && !storeName.equals("zookeeper")) {
            throw new IllegalArgumentException("store must be etcd or zookeeper (got " + storeName + ")");
        }
        List<String> profiles = List.of((args.length > 1 ? args[1] : "default,fast").split(","));
        profiles.forEach(p -> timings(storeName, p));
        List<Boolean> syncs = new ArrayList<>();
        for (String s : (args.length > 2 ? args[2] : "off").split(",")) {
            if (!s.equals("on") && !s.equals("off")) {
                throw new IllegalArgumentException("sync must be on, off or off,on (got " + s + ")");
            }
            syncs.add(s.equals("on"));
        }
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        if (reps < 1) {
            throw new IllegalArgumentException("repetitions must be >= 1 (got " + reps + ")");
        }
        Map<Scenario, Integer> scenarios = new LinkedHashMap<>();
        for (String s : (args.length > 4 ? args[4] : "kill9,switchover,store-outage:1").split(",")) {
            String[] p = s.split(":");
            int n = p.length > 1 ? Integer.parseInt(p[1]) : reps;
            if (n < 1) {
                throw new IllegalArgumentException("repetitions of " + p[0] + " must be >= 1 (got " + n + ")");
            }
            scenarios.put(Scenario.of(p[0]), n);
        }

        Path out = Path.of(System.getProperty("bench.out",
                Path.of(System.getProperty("basedir", "."), "target", "bench").toString()));
        Map<String, Object> run = new LinkedHashMap<>();
        run.put("started", Instant.now().toString());
        run.put("store", storeName);
        run.put("machine", machine());
        run.put("writers", WRITERS);
        Map<String, Object> profileInfo = new LinkedHashMap<>();
        for (String p : profiles) {
            StoreUnderTest.Timings t = timings(storeName, p);
            profileInfo.put(p, "ttl " + Durations.format(t.ttl()) + ", loop_wait " + Durations.format(t.loopWait())
                    + ", retry_timeout " + Durations.format(t.retryTimeout()));
        }
        run.put("profiles", profileInfo);
        List<Repetition> results = Collections.synchronizedList(new ArrayList<>());
        List<String> failed = Collections.synchronizedList(new ArrayList<>());
        run.put("failed", failed);
        Thread stopping = new Thread(() -> shuttingDown = true, "bench-stopping");
        Runtime.getRuntime().addShutdownHook(stopping);
        try {
            for (String profile : profiles) {
                if (shuttingDown) {
                    break;
                }
                try {
                    runProfile(storeName, profile, syncs, scenarios, results, failed, out, run);
                } catch (Exception e) {
                    failed.add(profile + ": " + e);
                    System.out.println("bench: profile " + profile + " stopped: " + e);
                    e.printStackTrace(System.out);
                }
            }
        } finally {
            run.put("finished", Instant.now().toString());
            if (!results.isEmpty()) {
                List<Path> files = BenchResults.write(out, run, results);
                System.out.println();
                System.out.println(BenchResults.table(results));
                files.forEach(f -> System.out.println("bench: wrote " + f));
            }
            failed.forEach(f -> System.out.println("bench: FAILED " + f));
        }
        // Agents' JVMs and etcd are gone; curator's and the HTTP client's threads would keep this one alive.
        System.exit(failed.isEmpty() ? 0 : 1);
    }

    private static void runProfile(String storeName, String profile, List<Boolean> syncs,
            Map<Scenario, Integer> scenarios, List<Repetition> results, List<String> failed, Path out,
            Map<String, Object> run) throws Exception {
        StoreUnderTest.Timings timings = timings(storeName, profile);
        Path base = TestFiles.shortTempDir("pgha-bench");
        StoreUnderTest store = storeName.equals("etcd") ? new EtcdStore(base) : new ZooKeeperStore();
        System.out.printf("bench: profile %s on %s: ttl %s, loop_wait %s, retry_timeout %s%n", profile, store,
                Durations.format(timings.ttl()), Durations.format(timings.loopWait()),
                Durations.format(timings.retryTimeout()));
        try (E2eCluster cluster = E2eCluster.create(store, base, "bench-" + profile.replace('+', '-'), 3, timings)) {
            cluster.startAll();
            AgentProcess leader = cluster.awaitHealthy(Duration.ofSeconds(180));
            Sql.createRoutedTable(leader);
            if (profile.endsWith(FAILSAFE)) {
                AgentProcess.Reply r = leader.patch("/config", "{\"failsafe_mode\": true}");
                if (r.status() != 200) {
                    throw new IllegalStateException("PATCH /config failsafe_mode answered " + r.status() + ": "
                            + r.body());
                }
                await("failsafe_mode in the config key").atMost(Duration.ofSeconds(30))
                        .pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                        .until(() -> cluster.view().config().failsafeMode().orElse(false));
                // Each member applies the config key on its next cycle: until then a replica answers the leader's
                // failsafe call with "not enabled" (a first default-profile run measured exactly that). Two cycles.
                Thread.sleep(timings.loopWait().multipliedBy(2).plusSeconds(2).toMillis());
            }
            FailoverBenchmark bench = new FailoverBenchmark(storeName, profile, timings, cluster);
            for (boolean sync : syncs) {
                bench.synchronousMode(sync);
                for (Map.Entry<Scenario, Integer> e : scenarios.entrySet()) {
                    for (int i = 1; i <= e.getValue() && !shuttingDown; i++) {
                        String what = e.getKey().label + " / " + profile + " / sync " + (sync ? "on" : "off") + " #"
                                + i;
                        try {
                            Repetition r = bench.repetition(e.getKey(), sync, i);
                            results.add(r);
                            print(r);
                        } catch (Exception | AssertionError x) {
                            failed.add(what + ": " + x);
                            System.out.println("bench: " + what + " failed: " + x);
                            System.out.println(cluster.diagnostics());
                        }
                        BenchResults.write(out, run, results);
                        bench.restoreMembers();
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ one repetition

    /** A leader-key read that differed from the one before: when it ended, and the holder ("" for none). */
    private record Observation(long nanos, String holder) {}

    private Repetition repetition(Scenario scenario, boolean sync, int n) throws Exception {
        AgentProcess leader = awaitHealthy(sync);
        String tag = scenario.label + "-" + profile + "-" + n + "-" + UUID.randomUUID().toString().substring(0, 6);
        String haRun = tag + "-ha";
        String urlRun = tag + "-url";
        List<Observation> seen = Collections.synchronizedList(new ArrayList<>());
        Duration bound = timings.failoverBound(Duration.ofSeconds(60))
                .plus(scenario == Scenario.STORE_OUTAGE ? STORE_OUTAGE : Duration.ZERO);
        Duration maxRun = bound.plusMinutes(3);
        long fault;
        long faultDone;
        Long storeBack = null;
        long windowEnd;
        String note = "";
        List<RoutedWriter.Commit> haCommits;
        List<RoutedWriter.Failure> haFailures;
        List<RoutedWriter.Commit> urlCommits;
        List<RoutedWriter.Failure> urlFailures;
        try (Dcs dcs = cluster.store.openReadOnly(cluster.scope, "bench-jdbc");
                HaDataSource ds = HaDataSource.builder().dcs(dcs).user("postgres")
                        .password(leader.superuserPassword()).hikari(h -> h.setMaximumPoolSize(4)).name("bench")
                        .build()) {
            RoutedWriter ha = new RoutedWriter(ds, haRun, WRITE_PAUSE, maxRun);
            MultiHostWriter url = new MultiHostWriter(cluster.members, leader.superuserPassword(), urlRun,
                    WRITE_PAUSE, maxRun);
            Poller watch = new Poller("bench-leader-watch", LEADER_POLL, maxRun, () -> observe(seen), () -> { });
            try {
                // Steady commits over the whole window before the fault (and a bit more), so that the chart shows them.
                await("both writers commit on " + leader.name).atMost(Duration.ofSeconds(60))
                        .pollInterval(Duration.ofMillis(100))
                        .until(() -> steadyFor(ha.commits()) && steadyFor(url.commits()));
                fault = System.nanoTime();
                switch (scenario) {
                    case KILL9 -> {
                        // A host crash: the postmaster, its children and the agent, one right after the other; the
                        // other members' connections through its proxy are reset as the kernel would.
                        leader.crash();
                        leader.pgProxy.reset();
                    }
                    case SWITCHOVER -> {
                        AgentProcess candidate = cluster.others(leader).get(n % 2);
                        AgentProcess.Reply r = leader.post("/switchover",
                                "{\"leader\": \"" + leader.name + "\", \"candidate\": \"" + candidate.name + "\"}");
                        if (r.status() != 200) {
                            note = "POST /switchover answered " + r.status() + ": " + r.body();
                        }
                    }
                    case STORE_OUTAGE -> {
                        cluster.store.stopForOutage();
                        Thread.sleep(STORE_OUTAGE.toMillis());
                        storeBack = System.nanoTime();
                        cluster.store.restartAfterOutage();
                    }
                }
                faultDone = System.nanoTime();
                note = awaitRecovery(scenario, leader, fault, faultDone, seen, ha, url, bound, note);
                windowEnd = System.nanoTime();
            } finally {
                watch.close();
                url.close();
                ha.close();
            }
            haCommits = ha.commits();
            haFailures = ha.failures();
            urlCommits = url.commits();
            urlFailures = url.failures();
        }
        List<AgentProcess> alive = cluster.members.stream().filter(AgentProcess::isAlive).toList();
        AgentProcess finalLeader = cluster.awaitNewLeader(alive, Duration.ofSeconds(90));
        double from = -BEFORE_FAULT.toNanos() / 1e6;
        double to = (windowEnd - fault) / 1e6;
        long settled = settledFrom(scenario, leader, fault, faultDone, seen);
        List<WriterResult> writers = List.of(
                writerResult(HA_WRITER, haCommits, haFailures, Sql.routedRows(finalLeader, haRun).keySet(), fault,
                        settled, from, to),
                writerResult(URL_WRITER, urlCommits, urlFailures, Sql.routedRows(finalLeader, urlRun).keySet(), fault,
                        settled, from, to));
        List<Mark> marks = new ArrayList<>();
        Double leaderKeyMs = null;
        synchronized (seen) {
            for (Observation o : seen) {
                double at = (o.nanos() - fault) / 1e6;
                // The first read is the state before the fault, not a change.
                if (at >= from && o != seen.get(0)) {
                    marks.add(new Mark(at, o.holder().isEmpty() ? "no leader key" : "key: " + o.holder()));
                }
                if (leaderKeyMs == null && at > 0 && !o.holder().isEmpty() && !o.holder().equals(leader.name)) {
                    leaderKeyMs = at;
                }
            }
        }
        if (storeBack != null) {
            marks.add(new Mark((storeBack - fault) / 1e6, "store restarting"));
        }
        return new Repetition(storeName, scenario.label, profile, sync, n, leader.name, finalLeader.name, leaderKeyMs,
                from, to, marks, writers, note);
    }

    /**
     * Waits (bounded) until the fault is over for both writers: for a kill or switchover a new leader key was seen; then
     * each writer committed after that (or after the store returned), and {@link #AFTER_RECOVERY} more passed. Returns
     * the note, extended when the bound ran out.
     */
    private String awaitRecovery(Scenario scenario, AgentProcess leader, long fault, long faultDone,
            List<Observation> seen, RoutedWriter ha, MultiHostWriter url, Duration bound, String note)
            throws InterruptedException {
        try {
            await("a new leader key and both writers committing again").atMost(bound)
                    .pollInterval(Duration.ofMillis(100)).until(() -> {
                        long settled = settledFrom(scenario, leader, fault, faultDone, seen);
                        return settled != Long.MIN_VALUE && committedAfter(ha.commits(), settled)
                                && committedAfter(url.commits(), settled);
                    });
            Thread.sleep(AFTER_RECOVERY.toMillis());
            return note;
        } catch (ConditionTimeoutException e) {
            return (note.isEmpty() ? "" : note + "; ") + "not recovered within " + bound.toSeconds() + " s";
        }
    }

    /**
     * From when a commit counts as "after the fault": the end of the fault's action, and for a kill or switchover not
     * before a new leader key was seen. {@link Long#MIN_VALUE} while that key has not been seen.
     */
    private static long settledFrom(Scenario scenario, AgentProcess leader, long fault, long faultDone,
            List<Observation> seen) {
        if (scenario == Scenario.STORE_OUTAGE) {
            return faultDone;
        }
        synchronized (seen) {
            return seen.stream().filter(o -> o.nanos() - fault > 0 && !o.holder().isEmpty()
                    && !o.holder().equals(leader.name)).mapToLong(o -> Math.max(o.nanos(), faultDone)).findFirst()
                    .orElse(Long.MIN_VALUE);
        }
    }

    /** At least 50 commits, the first of them more than {@link #BEFORE_FAULT} + 0.5 s ago. */
    private static boolean steadyFor(List<RoutedWriter.Commit> commits) {
        return commits.size() >= 50
                && System.nanoTime() - commits.get(0).returnedNanos() > BEFORE_FAULT.plusMillis(500).toNanos();
    }

    private static boolean committedAfter(List<RoutedWriter.Commit> commits, long nanos) {
        return !commits.isEmpty() && commits.get(commits.size() - 1).returnedNanos() - nanos > 0;
    }

    private void observe(List<Observation> seen) {
        try {
            String holder = cluster.leaderName().orElse("");
            long at = System.nanoTime();
            synchronized (seen) {
                if (seen.isEmpty() || !seen.get(seen.size() - 1).holder().equals(holder)) {
                    seen.add(new Observation(at, holder));
                }
            }
        } catch (DcsUnavailableException | RuntimeException e) {
            // The store cannot tell (down, or restarting): no observation.
        }
    }

    static WriterResult writerResult(String name, List<RoutedWriter.Commit> commits,
            List<RoutedWriter.Failure> failures, Set<Long> onFinalLeader, long fault, long settled, double fromMs,
            double toMs) {
        List<Double> ackMs = commits.stream().map(c -> (c.returnedNanos() - fault) / 1e6)
                .filter(t -> t >= fromMs && t <= toMs).toList();
        Set<Long> acked = commits.stream().map(RoutedWriter.Commit::n).collect(Collectors.toSet());
        int missing = (int) acked.stream().filter(n -> !onFinalLeader.contains(n)).count();
        int unacked = (int) onFinalLeader.stream().filter(n -> !acked.contains(n)).count();
        Map<String, Long> states = new TreeMap<>(failures.stream().collect(Collectors.groupingBy(
                f -> String.valueOf(f.sqlState()), Collectors.counting())));
        List<String> stateList = states.entrySet().stream().map(e -> e.getKey() + " x" + e.getValue()).toList();
        boolean recovered = settled != Long.MIN_VALUE && committedAfter(commits, settled);
        return new WriterResult(name, BenchResults.largestGap(ackMs, fromMs, toMs), recovered, failures.size(),
                missing, unacked, commits.size(), stateList, ackMs);
    }

    // ------------------------------------------------------------------------------------------------ between

    /**
     * Starts any member that is not running (the killed one), as an operator would, and lets its proxy forward again:
     * a kill reset it, and a proxy left resetting would refuse the member's replication and clients forever.
     */
    private void restoreMembers() throws IOException {
        cluster.members.forEach(m -> m.pgProxy.heal());
        for (AgentProcess m : cluster.members) {
            if (!m.isAlive()) {
                System.out.println("bench: starting " + m.name + " again");
                m.killEverything();
                m.start();
            }
        }
    }

    /** Three members streaming from a writable leader (and in synchronous mode a synchronous standby), bounded. */
    private AgentProcess awaitHealthy(boolean sync) {
        AgentProcess leader = cluster.awaitHealthy(Duration.ofSeconds(180));
        if (sync) {
            awaitSynchronous(leader);
        }
        return leader;
    }

    private void synchronousMode(boolean on) throws IOException {
        AgentProcess leader = cluster.awaitHealthy(Duration.ofSeconds(180));
        // Issue 11's durability run: strict, and every replica synchronous (3 members: synchronous_node_count 2).
        AgentProcess.Reply r = leader.patch("/config", on
                ? "{\"synchronous_mode\": true, \"synchronous_mode_strict\": true, \"synchronous_node_count\": 2}"
                : "{\"synchronous_mode\": false, \"synchronous_mode_strict\": false, \"synchronous_node_count\": 1}");
        if (r.status() != 200) {
            throw new IllegalStateException("PATCH /config answered " + r.status() + ": " + r.body());
        }
        if (on) {
            awaitSynchronous(leader);
        } else {
            cluster.awaitAsynchronous(leader);
        }
    }

    private void awaitSynchronous(AgentProcess leader) {
        await("a synchronous standby of " + leader.name).atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                .until(() -> leader.name.equals(cluster.view().sync().leader())
                        && !cluster.view().sync().standbys().isEmpty()
                        && !Sql.setting(leader, "synchronous_standby_names").isEmpty());
    }

    // ------------------------------------------------------------------------------------------------ report

    private static void print(Repetition r) {
        StringBuilder b = new StringBuilder();
        b.append(String.format("bench: %s #%d %s -> %s, new leader key %s", r.group(), r.n(), r.oldLeader(),
                r.finalLeader(), r.leaderKeyMs() == null ? "not seen" : String.format("after %.0f ms",
                        r.leaderKeyMs())));
        for (WriterResult w : r.writers()) {
            b.append(String.format("; %s: outage %.0f ms%s, %d exceptions %s, %d acked, %d acked missing,"
                    + " %d present never acked", w.writer(), w.outageMs(), w.recovered() ? "" : " (not recovered)",
                    w.exceptions(), w.exceptionStates(), w.acknowledged(), w.missing(), w.unacknowledgedPresent()));
        }
        if (!r.note().isEmpty()) {
            b.append("; ").append(r.note());
        }
        System.out.println(b);
    }

    static Map<String, Object> machine() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpus", Runtime.getRuntime().availableProcessors());
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        m.put("java", System.getProperty("java.version"));
        try {
            m.put("loadavg_at_start", Files.readString(Path.of("/proc/loadavg")).strip());
            m.put("cpu", Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse("?"));
        } catch (IOException e) {
            m.put("loadavg_at_start", "?");
        }
        Optional.ofNullable(System.getenv("BENCH_MACHINE")).ifPresent(v -> m.put("note", v));
        return m;
    }
}
