package io.pgha.core.internal.ha;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.ThreadMXBean;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.spi.ClusterViewDecoder;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.RawNode;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.FakePostgresNetwork;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.testkit.ManualClock;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * <b>Measurement, not a test of behaviour</b> (issue 11, "a lighter agent"): CPU time and bytes allocated per HA
 * cycle by the loop thread of an idle leader and an idle replica, three members on the simulation's fakes
 * (InMemoryDcs, FakePostgres, ManualClock), loopWait 2 s. Off in the default build; run it with
 * {@code -pl ha-core test -Dtest=LoopCostHarness -Dpgha.loopcost=true} (optionally {@code -Dpgha.loopcost.cycles=N},
 * {@code -Dpgha.loopcost.windows=W}; the agent runs C1 only: add {@code -DargLine=-XX:TieredStopAtLevel=1}).
 * The fakes cost nothing like a real store or PostgreSQL do, so what it shows is the loop's own work. Replication
 * ticks (the replicas stream) run on the driver thread, outside what is measured.
 */
@EnabledIfSystemProperty(named = "pgha.loopcost", matches = "true")
@Timeout(600)
class LoopCostHarness {

    private static final Duration LOOP_WAIT = Duration.ofSeconds(2);

    /** A thread measured, by the member whose cycles it is counted against (ManualClock prefixes "sim-"). */
    private record Watched(String label, String thread, String member) {}

    private static final java.util.List<Watched> WATCHED = List.of(
            new Watched("leader  m1", "sim-pgha-loop-m1", "m1"),
            new Watched("replica m2", "sim-pgha-loop-m2", "m2"),
            new Watched("leader  m1 keeper", "sim-pgha-lease-keeper-m1", "m1"),
            new Watched("leader  m1 probe", "sim-pgha-probe-m1", "m1"),
            new Watched("replica m2 probe", "sim-pgha-probe-m2", "m2"));

    private final ManualClock clock = new ManualClock();
    private final KeyLayout layout = KeyLayout.of("cost");
    private final InMemoryDcs store = new InMemoryDcs(layout, clock, Duration.ofSeconds(30));
    private final FakePostgresNetwork net = new FakePostgresNetwork(clock, 5);
    private final Map<String, LongAdder> cycles = new LinkedHashMap<>();

    private HaLoop member(String name, String host) {
        HaSettings s = HaSettings.builder("cost", name).loopWait(LOOP_WAIT).build();
        FakePostgres pg = net.create(name, new HostPort(host, 5432), FakePostgres.Timings.DEFAULT, false);
        LongAdder n = new LongAdder();
        cycles.put(name, n);
        HaMetrics metrics = new HaMetrics();
        HaLoop loop = new HaLoop(s, store.open(new DcsContext(layout, name, s.ttl(), s.retryTimeout(), clock)), pg,
                PeerClient.NONE, clock, new MemberEndpoints("postgres://" + host + ":5432/postgres",
                        "http://" + host + ":8008/patroni"), new HaObserver() {
                            @Override
                            public void cycleTimed(Duration took) {
                                metrics.cycleTimed(took);
                                n.increment();
                            }

                            @Override
                            public void cycleCompleted(CycleReport r) {
                                metrics.cycleCompleted(r);
                            }
                        });
        clock.setDefaultGroup(name);
        loop.start();
        return loop;
    }

    /** m1 leads, m2 and m3 stream from it. */
    private void startIdleCluster() {
        member("m1", "10.0.0.1");
        net.runFor(clock, Duration.ofSeconds(40));
        member("m2", "10.0.0.2");
        member("m3", "10.0.0.3");
        net.runFor(clock, Duration.ofSeconds(90));
        assertThat(store.leaderHeldBy("m1")).as("m1 leads").isTrue();
    }

    @Test
    void idleLeaderAndReplicaCostPerCycle() {
        int measured = Integer.getInteger("pgha.loopcost.cycles", 20_000);
        try {
            startIdleCluster();

            // Warm-up: the JIT compiles the cycle's code.
            net.runFor(clock, LOOP_WAIT.multipliedBy(Math.max(2_000, measured / 4)));
            // Several windows, the cheapest one reported: on a busy host other processes inflate a thread's CPU time
            // (never deflate it), while the bytes allocated are the same in every window.
            int windows = Integer.getInteger("pgha.loopcost.windows", 5);
            Map<String, double[]> best = new LinkedHashMap<>();
            for (int w = 0; w < windows; w++) {
                Map<String, long[]> before = perThread();
                Map<String, Long> cyclesBefore = cycleCounts();
                net.runFor(clock, LOOP_WAIT.multipliedBy(measured / windows));
                Map<String, long[]> after = perThread();
                Map<String, Long> cyclesAfter = cycleCounts();
                for (Watched t : WATCHED) {
                    long n = cyclesAfter.get(t.member()) - cyclesBefore.get(t.member());
                    keepCheapest(best, t.label(), after.get(t.thread()), before.get(t.thread()), n);
                }
            }
            assertThat(store.leaderHeldBy("m1")).as("m1 still leads").isTrue();
            best.forEach((who, v) -> System.out.printf(
                    "LOOPCOST %-20s %6d cycles/window  %8.1f us CPU/cycle (cheapest of %d)  %9.0f bytes/cycle%n",
                    who, (long) v[2], v[0], windows, v[1]));
        } finally {
            clock.killAll();
        }
    }

    /**
     * What a real store adapter does every cycle and the in-memory store does once per revision: decoding the
     * cluster's keys (three members, leader, config, status, history) into a view.
     */
    @Test
    void decodingAnIdleClusterViewPerRead() {
        try {
            startIdleCluster();
        } finally {
            clock.killAll();
        }
        List<RawNode> raw = store.rawNodes();
        assertThat(ClusterViewDecoder.decode(layout, raw).members()).hasSize(3);
        ThreadMXBean mx = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        int n = Integer.getInteger("pgha.loopcost.cycles", 20_000);
        for (int i = 0; i < n; i++) {
            ClusterViewDecoder.decode(layout, raw);
        }
        double cheapest = Double.MAX_VALUE;
        long bytes = 0;
        for (int w = 0; w < 5; w++) {
            long cpu0 = mx.getCurrentThreadCpuTime();
            long b0 = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
            for (int i = 0; i < n / 5; i++) {
                ClusterViewDecoder.decode(layout, raw);
            }
            cheapest = Math.min(cheapest, (mx.getCurrentThreadCpuTime() - cpu0) / 1000.0 / (n / 5));
            bytes = (mx.getThreadAllocatedBytes(Thread.currentThread().getId()) - b0) / (n / 5);
        }
        System.out.printf(
                "LOOPCOST decode view (%d keys, %d bytes)  %8.1f us CPU/read (cheapest of 5)  %9d bytes/read%n", raw.size(),
                raw.stream().mapToInt(r -> r.value().length).sum(), cheapest, bytes);
    }

    private Map<String, Long> cycleCounts() {
        Map<String, Long> out = new LinkedHashMap<>();
        cycles.forEach((name, n) -> out.put(name, n.sum()));
        return out;
    }

    /** Keeps, per thread, the window with the least CPU per cycle: {CPU us, bytes, cycles} per cycle. */
    private static void keepCheapest(Map<String, double[]> best, String who, long[] after, long[] before, long n) {
        assertThat(after).as(who).isNotNull();
        assertThat(n).as(who + ": cycles in the window").isPositive();
        double cpu = (after[0] - before[0]) / 1000.0 / n;
        double bytes = (double) (after[1] - before[1]) / n;
        double[] b = best.get(who);
        if (b == null || cpu < b[0]) {
            best.put(who, new double[] {cpu, bytes, n});
        }
    }

    /** CPU nanoseconds and allocated bytes so far, by thread name (ManualClock names its threads "sim-" + name). */
    private static Map<String, long[]> perThread() {
        ThreadMXBean mx = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        Map<String, long[]> out = new LinkedHashMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("sim-pgha-")) {
                long id = t.getId();
                out.put(t.getName(), new long[] {mx.getThreadCpuTime(id), mx.getThreadAllocatedBytes(id)});
            }
        }
        return out;
    }
}
