package io.pgha.jdbc;

import java.util.function.Supplier;

/**
 * What the router reports. {@link #NONE} when the application passed no Micrometer registry, so nothing here touches
 * Micrometer's classes unless it is on the class path and asked for ({@link MicrometerRoutingMetrics}).
 */
interface RoutingMetrics {

    /** Called once the router exists, so gauges can read its current topology. */
    default void bind(Supplier<Topology> current) {}

    /** The leader or its epoch changed. */
    default void switched(Topology now) {}

    /** A borrow finished: how long it took, whether it got a connection. */
    default void waited(TargetRole role, long nanos, boolean ok) {}

    /** Connections were evicted: {@code purpose} write or read, {@code reason} role-change, stale-epoch or a SQLState. */
    default void evicted(String purpose, String reason) {}

    /**
     * An attempt of a borrow failed and the borrow goes on: {@code reason} is {@code connect} (the pool gave no
     * connection), {@code stale-epoch} (the leadership ended meanwhile) or {@code not-replayed} (read-your-writes).
     */
    default void retried(TargetRole role, String reason) {}

    /** A cut-off COMMIT was resolved: {@code committed}, {@code not-committed} or {@code unknown}. */
    default void resolved(String outcome) {}

    RoutingMetrics NONE = new RoutingMetrics() {};
}
