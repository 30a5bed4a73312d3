package io.pgha.core.internal.ha;

import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * pgha's own counters for {@code GET /metrics} (docs/decisions 0508), fed by the HA loop's observer hooks: cycles and
 * how long the last one took, decisions by step kind, fences. Lock-free: the hooks run on the loop's threads, the
 * snapshot on REST request threads.
 */
public final class HaMetrics implements HaObserver {

    /** The step kind counted for a decision without steps (a replica following its leader, say). */
    static final String NO_STEP = "none";

    private final LongAdder cycles = new LongAdder();
    private final AtomicReference<Duration> lastCycle = new AtomicReference<>();
    private final Map<String, LongAdder> decisions = new ConcurrentHashMap<>();
    private final AtomicLong fences = new AtomicLong();
    /** Each step class's label, made once: a cycle counts at least one step (issue 11). */
    private final Map<Class<?>, String> kinds = new ConcurrentHashMap<>();

    /**
     * The counters now, with the lease time left as the caller measured it.
     *
     * @param cycles         HA cycles the loop thread ran (failed ones included)
     * @param lastCycle      how long the last of them took; null before the first
     * @param decisions      decided steps by kind ({@code acquire_leader}, {@code promote}, ..., {@code none}): each
     *                       step of a decision counts once
     * @param fences         times PostgreSQL was fenced (stopped at once because the lease ran out or another leads)
     * @param leaseRemaining time left on this member's lease; null while it holds none
     */
    public record Snapshot(long cycles, Duration lastCycle, Map<String, Long> decisions, long fences,
            Duration leaseRemaining) {

        public Snapshot {
            decisions = Map.copyOf(decisions);
        }

        /** Nothing counted yet and no lease. */
        public static final Snapshot EMPTY = new Snapshot(0, null, Map.of(), 0, null);
    }

    @Override
    public void cycleTimed(Duration took) {
        cycles.increment();
        lastCycle.set(took);
    }

    @Override
    public void cycleCompleted(CycleReport report) {
        if (report.decision().actions().isEmpty()) {
            count(NO_STEP);
        }
        for (Action a : report.decision().actions()) {
            count(kinds.computeIfAbsent(a.getClass(), c -> kind(a)));
        }
    }

    @Override
    public void fenced(String why) {
        fences.incrementAndGet();
    }

    public Snapshot snapshot(Duration leaseRemaining) {
        Map<String, Long> d = new TreeMap<>();
        decisions.forEach((k, v) -> d.put(k, v.sum()));
        return new Snapshot(cycles.sum(), lastCycle.get(), d, fences.get(), leaseRemaining);
    }

    private void count(String kind) {
        decisions.computeIfAbsent(kind, k -> new LongAdder()).increment();
    }

    /** {@code AcquireLeader} → {@code acquire_leader}: a small fixed set, so a safe label value. */
    static String kind(Action a) {
        String simple = a.getClass().getSimpleName();
        StringBuilder b = new StringBuilder(simple.length() + 4);
        for (int i = 0; i < simple.length(); i++) {
            char c = simple.charAt(i);
            if (Character.isUpperCase(c)) {
                if (i > 0) {
                    b.append('_');
                }
                b.append(Character.toLowerCase(c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
