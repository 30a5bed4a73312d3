package io.pgha.core.spi;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the callbacks of one watch ({@link Dcs#watchLeader} or {@link Dcs#watchMembers}) of one adapter instance, the
 * same way on every store. An adapter has one dispatcher per watch, so a member-key change never wakes a leader-watch
 * callback (the HA loop) and the other way round.
 *
 * <ul>
 *   <li>Callbacks run on one daemon thread owned by this dispatcher, never on the thread that saw the change (a
 *       store's watch or event thread), so a slow callback cannot delay the next event or a store call.</li>
 *   <li>{@link #changed()} never blocks. Changes reported while a run is pending merge into that run: a burst
 *       of events wakes each callback once, which the port allows (callbacks are hints to wake up early).</li>
 *   <li>A callback that throws is logged and the others still run.</li>
 *   <li>After {@link #close()} nothing more runs, and the store-side watch started through
 *       {@link #startWatchOnce} is stopped.</li>
 * </ul>
 *
 * <p>The thread is started on the first change and ends after 30 s without one.
 */
public final class ChangeDispatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ChangeDispatcher.class);

    private final String logPrefix;
    private final String what;
    private final List<Runnable> callbacks = new CopyOnWriteArrayList<>();
    private final AtomicBoolean runPending = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final ThreadPoolExecutor thread;
    /** Stops the store-side watch; null until one was started. Guarded by this. */
    private Runnable stopWatch;

    /**
     * @param threadName the callback thread's name prefix, e.g. {@code pgha-zk-orders-db1-callback}
     * @param logPrefix  put before log messages, e.g. {@code "orders/db1 - "}
     * @param what       the watch, for log messages, e.g. {@code "leader watch"}
     */
    public ChangeDispatcher(String threadName, String logPrefix, String what) {
        this.logPrefix = Objects.requireNonNull(logPrefix, "logPrefix");
        this.what = Objects.requireNonNull(what, "what");
        this.thread = new ThreadPoolExecutor(0, 1, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                new DaemonThreadFactory(threadName));
    }

    /** Adds a callback (what {@link Dcs#watchLeader} or {@link Dcs#watchMembers} was given). */
    public void add(Runnable callback) {
        callbacks.add(Objects.requireNonNull(callback, "callback"));
    }

    /** True once a callback was added: a store may skip setting up its watch until then. */
    public boolean hasCallbacks() {
        return !callbacks.isEmpty();
    }

    /** The watched keys changed, or may have (a reconnect): schedules one run of every callback. */
    public void changed() {
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
                LOG.warn("{}{} callback failed", logPrefix, what, e);
            }
        }
    }

    /**
     * Starts the store-side watch that reports to {@link #changed()}, on the first call only and never after
     * {@link #close()}, which stops it.
     *
     * @param start starts the watch and returns how to stop it
     */
    public synchronized void startWatchOnce(Supplier<Runnable> start) {
        if (stopWatch == null && !closed.get()) {
            stopWatch = Objects.requireNonNull(start.get(), "the watch's stop action");
        }
    }

    /** Stops the store-side watch and the thread; a run in progress is interrupted and nothing runs afterwards. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            Runnable stop;
            synchronized (this) {
                stop = stopWatch;
            }
            if (stop != null) {
                stop.run();
            }
            thread.shutdownNow();
        }
    }
}
