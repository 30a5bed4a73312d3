package io.pgha.core.spi;

import io.pgha.core.config.ConfigSection;
import java.util.List;

/**
 * A DCS module, found with {@link java.util.ServiceLoader} so that configuration can name a store (Patroni's
 * {@code zookeeper:}, {@code etcd3:}, {@code consul:} sections) without the code depending on every adapter. Each
 * adapter module lists its provider in {@code META-INF/services/io.pgha.core.spi.DcsProvider}.
 */
public interface DcsProvider {

    /** The configuration section names this store answers to, e.g. {@code ["etcd3", "etcd"]}. */
    List<String> names();

    /** The Maven artifact to add when this provider is missing, for error messages. */
    String artifact();

    /** A factory from the section's settings; errors name the key (see {@link ConfigSection}). */
    DcsFactory fromConfig(ConfigSection section);
}
