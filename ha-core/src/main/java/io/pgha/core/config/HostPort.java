package io.pgha.core.config;

import java.net.URI;
import java.util.Objects;
import java.util.Optional;

/** A network address: host name or IP literal, and port. */
public record HostPort(String host, int port) {

    public HostPort {
        Objects.requireNonNull(host, "host");
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port must be 1..65535 (got " + port + ")");
        }
    }

    /** Host and port of a URL such as {@code postgres://10.0.0.1:5432/postgres}; empty when it has neither. */
    public static Optional<HostPort> fromUrl(String url) {
        if (url == null || url.isBlank()) {
            return Optional.empty();
        }
        try {
            URI u = URI.create(url.trim());
            if (u.getHost() == null || u.getPort() < 1) {
                return Optional.empty();
            }
            return Optional.of(new HostPort(u.getHost(), u.getPort()));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    @Override
    public String toString() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
