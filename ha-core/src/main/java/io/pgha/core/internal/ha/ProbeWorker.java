package io.pgha.core.internal.ha;

import io.pgha.core.cluster.PgState;
import io.pgha.core.config.Durations;
import io.pgha.core.spi.Postgres;
import io.pgha.core.time.HaClock;
import io.pgha.core.time.Wakeup;
import java.time.Duration;

/**
 * Probes PostgreSQL on a thread of its own, so that the HA loop waits for an answer only as long as its lease allows:
 * a probe may take tens of seconds (a loaded host, the {@code pg_controldata} fallback), and a lock holder must not
 * miss its renewal for it. A probe that has not answered in time reads as unknown for that cycle (a holder renews
 * and asks again; see {@code HaDecider}); it goes on, and the next cycle takes its answer instead of starting another.
 */
final class ProbeWorker implements AutoCloseable {

    private final Postgres postgres;
    private final HaClock clock;
    private final Wakeup requested;
    private final Wakeup answered;
    private final Object lock = new Object();
    private boolean wanted;
    private boolean running;
    private PgState answer;
    private long answerStartedAt;
    private long startedAt;
    private volatile boolean closed;
    private volatile boolean started;

    ProbeWorker(Postgres postgres, HaClock clock) {
        this.postgres = postgres;
        this.clock = clock;
        this.requested = clock.newWakeup();
        this.answered = clock.newWakeup();
    }

    void start(String threadName) {
        started = true;
        clock.startThread(threadName, this::run);
    }

    /** How long the probe now running has been waited for; 0 when none runs. */
    long pendingNanos() {
        synchronized (lock) {
            return running ? clock.nanoTime() - startedAt : 0;
        }
    }

    /**
     * A probe's answer if it comes within {@code budget} (zero: only one already there), else unknown. A probe still
     * running from an earlier cycle is waited for rather than started again; an answer from a probe that started
     * before {@code notBefore} (the previous cycle's start) is too old and is dropped.
     */
    PgState probe(Duration budget, long notBefore) throws InterruptedException {
        if (!started) {
            // A cycle run by hand (a test), with no worker thread: probe on the caller's thread.
            return postgres.probe();
        }
        long deadline = clock.nanoTime() + Math.max(0, budget.toNanos());
        synchronized (lock) {
            if (answer != null && answerStartedAt < notBefore) {
                answer = null;
            }
            if (!running && answer == null) {
                wanted = true;
                requested.signal();
            }
        }
        while (true) {
            synchronized (lock) {
                if (answer != null && !running) {
                    PgState a = answer;
                    answer = null;
                    return a;
                }
            }
            if (closed || clock.nanoTime() >= deadline) {
                return PgState.unknown("the probe of postgres has not answered for "
                        + Durations.format(Duration.ofNanos(pendingNanos()).withNanos(0)) + " (waited "
                        + Durations.format(budget.withNanos(budget.getNano() / 1_000_000 * 1_000_000))
                        + " this cycle)");
            }
            answered.awaitUntil(deadline);
        }
    }

    @Override
    public void close() {
        closed = true;
        requested.signal();
        answered.signal();
    }

    private void run() {
        try {
            while (!closed) {
                boolean go;
                synchronized (lock) {
                    go = wanted;
                    if (go) {
                        wanted = false;
                        running = true;
                        startedAt = clock.nanoTime();
                    }
                }
                if (!go) {
                    requested.awaitUntil(clock.nanoTime() + Duration.ofHours(1).toNanos());
                    continue;
                }
                PgState s;
                try {
                    s = postgres.probe();
                } catch (RuntimeException e) {
                    s = PgState.unknown("probe failed: " + e);
                }
                synchronized (lock) {
                    answer = s;
                    answerStartedAt = startedAt;
                    running = false;
                }
                answered.signal();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
