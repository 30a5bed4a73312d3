package io.pgha.core.api;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The listeners of one kind of event a member publishes (role changes, statuses, PostgreSQL events): each event is
 * handed to each listener on the listener executor, in the order the events happen; a listener that throws is logged
 * and the others still hear of it.
 */
final class Listeners<T> {

    private static final Logger LOG = LoggerFactory.getLogger(HaCluster.class);

    private final List<Consumer<T>> list;
    private final Executor executor;
    private final String kind;
    private final String prefix;

    /** @param kind the event, for the log line of a failing listener, e.g. {@code "role-change"} */
    Listeners(String kind, Executor executor, String prefix, List<Consumer<T>> initial) {
        this.kind = kind;
        this.executor = Objects.requireNonNull(executor, "executor");
        this.prefix = prefix;
        this.list = new CopyOnWriteArrayList<>(initial);
    }

    void add(Consumer<T> listener) {
        list.add(Objects.requireNonNull(listener, "listener"));
    }

    void remove(Consumer<T> listener) {
        list.remove(listener);
    }

    void deliver(T event) {
        for (Consumer<T> l : list) {
            executor.execute(() -> {
                try {
                    l.accept(event);
                } catch (RuntimeException ex) {
                    LOG.warn("{}a {} listener failed: {}", prefix, kind, ex.toString());
                }
            });
        }
    }
}
