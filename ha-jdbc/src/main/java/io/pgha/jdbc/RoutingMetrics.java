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

    RoutingMetrics NONE = new RoutingMetrics() {};
}
