package io.pgha.jdbc;

import java.util.function.Consumer;

/**
 * Where the routing picture comes from (a store's watch, an embedded member's status, {@code GET /cluster} polls): a
 * source pushes a new {@link Topology} whenever it learns one and never blocks the caller of
 * {@link #refresh()}. The router neither knows nor cares which store or API is behind it.
 */
interface TopologySource extends AutoCloseable {

    /** Starts delivering; {@code sink} is called on the source's own thread, one snapshot at a time, in order. */
    void start(Consumer<Topology> sink);

    /** A hint to look again soon (a connection failed, a borrow waits for a leader). Never blocks. */
    void refresh();

    /** Names the scope and the store or member, for log lines and error messages. */
    String describe();

    @Override
    void close();
}
