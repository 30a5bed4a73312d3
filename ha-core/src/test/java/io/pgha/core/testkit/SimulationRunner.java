package io.pgha.core.testkit;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/** Runs many seeds of the {@link Simulation}, one per core at a time; each seed is independent and deterministic. */
public final class SimulationRunner {

    /** The outcome of a batch. */
    public record Batch(int seeds, long steps, List<Simulation.Result> failures, double seconds, long s2Checks,
            long s3Checks) {
        public String line() {
            return "simulation: " + seeds + " seeds, " + steps + " steps, " + failures.size() + " violations ("
                    + s2Checks + " S2 and " + s3Checks + " S3 checks evaluated)";
        }
    }

    /** How long one seed may run on the wall clock before the batch fails naming it (it hangs, it does not end). */
    private static final long SEED_WALL_LIMIT_SECONDS = Long.getLong("sim.seedLimitSeconds", 300);

    private SimulationRunner() {}

    /**
     * Runs seeds {@code first..first+count-1}.
     *
     * @param stopAtFirst stop scheduling new seeds after the first violation (for the broken variants)
     */
    public static Batch run(long first, int count, Simulation.Variant variant, boolean stopAtFirst) {
        return run(first, count, variant, stopAtFirst ? r -> !r.ok() : r -> false);
    }

    /** Runs seeds {@code first..first+count-1}, scheduling no new ones once a result matches {@code stopWhen}. */
    public static Batch run(long first, int count, Simulation.Variant variant,
            java.util.function.Predicate<Simulation.Result> stopWhen) {
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "simulation-driver");
            t.setDaemon(true);
            return t;
        });
        long start = System.nanoTime();
        AtomicLong steps = new AtomicLong();
        AtomicLong s2 = new AtomicLong();
        AtomicLong s3 = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        List<Future<Simulation.Result>> futures = new ArrayList<>();
        for (long seed = first; seed < first + count; seed++) {
            long s = seed;
            futures.add(pool.submit(() -> {
                if (stop.get()) {
                    return null;
                }
                Simulation.Result r = new Simulation(Simulation.Config.forSeed(s, variant)).run();
                steps.addAndGet(r.steps());
                s2.addAndGet(r.s2Checks());
                s3.addAndGet(r.s3Checks());
                if (stopWhen.test(r)) {
                    stop.set(true);
                }
                return r;
            }));
        }
        List<Simulation.Result> failures = new ArrayList<>();
        int ran = 0;
        long seed = first;
        try {
            for (Future<Simulation.Result> f : futures) {
                Simulation.Result r;
                try {
                    // Seeds finish about in order: each one is waited for at most this long after the one before.
                    r = f.get(SEED_WALL_LIMIT_SECONDS, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    throw new IllegalStateException("seed " + seed + " (or one before it) did not finish: replay it with"
                            + " -Dsim.seed=" + seed, e);
                }
                seed++;
                if (r == null) {
                    continue;
                }
                ran++;
                if (!r.ok()) {
                    failures.add(r);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("a simulation run crashed: " + e.getCause(), e.getCause());
        } finally {
            pool.shutdownNow();
        }
        return new Batch(ran, steps.get(), failures, (System.nanoTime() - start) / 1e9, s2.get(), s3.get());
    }
}
