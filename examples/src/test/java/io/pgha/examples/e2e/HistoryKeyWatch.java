package io.pgha.examples.e2e;

import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.spi.DcsUnavailableException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Samples the store's {@code history} key for a whole scenario (rule S4: it only grows). Every timeline number it
 * ever held must stay in it: a number that disappears could be handed out again by the next promotion, and two
 * different histories would then share one number (docs/decisions/0004). A sample that cannot be read is counted and
 * proves nothing either way.
 */
final class HistoryKeyWatch implements AutoCloseable {

    private final E2eCluster cluster;
    private final Poller poller;
    // Every number seen so far, shared across scenarios; guarded by this.
    private final Set<Integer> seen;
    private final List<String> violations = new ArrayList<>();
    private final AtomicLong samples = new AtomicLong();
    private final AtomicLong unreadable = new AtomicLong();

    /** {@code seen}: the numbers earlier scenarios saw (updated by this watch). */
    HistoryKeyWatch(E2eCluster cluster, Set<Integer> seen, Duration interval, Duration maxRunTime) {
        this.cluster = cluster;
        this.seen = seen;
        this.poller = new Poller("e2e-history-watch-" + cluster.scope, interval, maxRunTime, this::sample, () -> { });
    }

    private void sample() {
        TimelineHistory h;
        try {
            h = cluster.view().history();
        } catch (DcsUnavailableException | RuntimeException e) {
            unreadable.incrementAndGet();
            return;
        }
        samples.incrementAndGet();
        Set<Integer> now = new TreeSet<>();
        h.entries().forEach(e -> now.add(e.timeline()));
        synchronized (this) {
            Set<Integer> lost = new TreeSet<>(seen);
            lost.removeAll(now);
            String v = "the history key lost timeline numbers " + lost + " (it held " + seen + ", now " + now + ")";
            // Once per distinct loss: a lost number stays lost in every later sample.
            if (!lost.isEmpty() && !violations.contains(v)) {
                violations.add(v);
            }
            seen.addAll(now);
        }
    }

    /** Every timeline number the key held, in this scenario or before. */
    synchronized Set<Integer> numbers() {
        return new TreeSet<>(seen);
    }

    synchronized List<String> violations() {
        return List.copyOf(violations);
    }

    long samples() {
        return samples.get();
    }

    long unreadable() {
        return unreadable.get();
    }

    /** Stops sampling after one last sample. */
    @Override
    public void close() {
        poller.close();
        sample();
    }
}
