package io.pgha.jdbc;

import io.pgha.core.spi.DaemonThreadFactory;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * A source that reads the whole picture on one thread of its own: every {@code interval}, and at once (coalesced) on
 * a {@link #refresh()} hint. Subclasses say how one read is done; a failed read keeps the last picture, marked
 * unreachable.
 */
abstract class ReadingTopologySource implements TopologySource {

    private final Duration interval;
    private final ScheduledExecutorService thread;
    private final AtomicBoolean pending = new AtomicBoolean();
    private volatile Consumer<Topology> sink;
    private volatile boolean closed;
    /** Only touched on {@link #thread}. */
    private Topology last = Topology.NOTHING_YET;

    ReadingTopologySource(Duration interval) {
        this.interval = Objects.requireNonNull(interval, "interval");
        this.thread = Executors.newSingleThreadScheduledExecutor(new DaemonThreadFactory("pgha-jdbc-topology"));
    }

    /**
     * One read, on the source's thread.
     *
     * @throws Exception any failure: the last picture is kept, marked unreachable with the exception's message
     */
    abstract Topology read() throws Exception;

    @Override
    public void start(Consumer<Topology> sink) {
        this.sink = Objects.requireNonNull(sink, "sink");
        thread.scheduleWithFixedDelay(this::readNow, 0, interval.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    public void refresh() {
        // Coalesced: one read is queued at most; a hint arriving while a read runs queues the next one.
        if (closed || !pending.compareAndSet(false, true)) {
            return;
        }
        try {
            thread.execute(() -> {
                pending.set(false);
                readNow();
            });
        } catch (RejectedExecutionException e) {
            // Closed meanwhile: nothing to read for.
        }
    }

    private void readNow() {
        if (closed) {
            return;
        }
        try {
            last = read();
        } catch (Exception e) {
            last = last.unreachable(describe() + ": " + e.getMessage());
        }
        if (!closed) {
            sink.accept(last);
        }
    }

    boolean closed() {
        return closed;
    }

    @Override
    public void close() {
        closed = true;
        thread.shutdownNow();
    }
}
