package io.pgha.core.spi;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * One key as an adapter read it, before decoding.
 *
 * @param key     path relative to the cluster prefix, e.g. {@code leader} or {@code members/db-1}
 * @param value   the raw bytes (UTF-8 text for every Patroni key)
 * @param version the store's version for compare-and-set
 * @param epoch   for the leader key: a value that changes whenever the key is created anew; 0 otherwise
 */
public record RawNode(String key, byte[] value, long version, long epoch) {

    public RawNode {
        Objects.requireNonNull(key, "key");
        value = value == null ? new byte[0] : value;
    }

    public static RawNode of(String key, String value, long version) {
        return new RawNode(key, value.getBytes(StandardCharsets.UTF_8), version, 0);
    }

    public String text() {
        return new String(value, StandardCharsets.UTF_8);
    }
}
