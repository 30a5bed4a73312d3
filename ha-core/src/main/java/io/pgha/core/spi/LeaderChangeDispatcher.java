package io.pgha.core.spi;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the {@link Dcs#watchLeader} callbacks of one adapter instance, the same way on every store.
 *
 * <ul>
 *   <li>Callbacks run on one daemon thread owned by this dispatcher, never on the thread that saw the change (a
 *       store's watch or event thread), so a slow callback cannot delay the next event or a store call.</li>
 *   <li>{@link #leaderChanged()} never blocks. Changes reported while a run is pending merge into that run: a burst
 *       of events wakes each callback once, which the port allows (callbacks are hints to wake up early).</li>
 *   <li>A callback that throws is logged and the others still run.</li>
 *   <li>After {@link #close()} nothing more runs.</li>
 * </ul>
 *
 * <p>The thread is started on the first change and ends after 30 s without one.
 */
public final class LeaderChangeDispatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LeaderChangeDispatcher.class);

    private final String logPrefix;
    private final List<Runnable> callbacks = new CopyOnWriteArrayList<>();
    private final AtomicBoolean runPending = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final ThreadPoolExecutor thread;

    /**
     * @param threadName the callback thread's name prefix, e.g. {@code pgha-zk-orders-db1-callback}
     * @param logPrefix  put before log messages, e.g. {@code "orders/db1 - "}
     */
    public LeaderChangeDispatcher(String threadName, String logPrefix) {
        this.logPrefix = Objects.requireNonNull(logPrefix, "logPrefix");
        this.thread = new ThreadPoolExecutor(0, 1, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                new DaemonThreadFactory(threadName));
    }

    /** Adds a callback (what {@link Dcs#watchLeader} was given). */
    public void add(Runnable callback) {
        callbacks.add(Objects.requireNonNull(callback, "callback"));
    }

    /** True once a callback was added: a store may skip setting up its watch until then. */
    public boolean hasCallbacks() {
        return !callbacks.isEmpty();
    }

    /** The leader key changed, or may have (a reconnect): schedules one run of every callback. */
    public void leaderChanged() {
        if (callbacks.isEmpty() || closed.get() || !runPending.compareAndSet(false, true)) {
            return;
        }
        try {
            thread.execute(this::runCallbacks);
        } catch (RejectedExecutionException e) {
            // closed meanwhile
            runPending.set(false);
        }
    }

    private void runCallbacks() {
        // Cleared first: a change seen while the callbacks run schedules another run.
        runPending.set(false);
        for (Runnable r : callbacks) {
            if (closed.get()) {
                return;
            }
            try {
                r.run();
            } catch (RuntimeException e) {
                LOG.warn("{}leader watch callback failed", logPrefix, e);
            }
        }
    }

    /** Stops the thread; a run in progress is interrupted and nothing runs afterwards. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            thread.shutdownNow();
        }
    }
}
