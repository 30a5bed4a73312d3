package io.pgha.core.spi;

/**
 * Opens {@link Dcs} sessions against one store. Adapters expose one (e.g. {@code ZooKeeperDcs.connect("zk:2181")})
 * and the builder opens the member's session once scope, name and timings are known.
 */
@FunctionalInterface
public interface DcsFactory {
    Dcs open(DcsContext context);
}
