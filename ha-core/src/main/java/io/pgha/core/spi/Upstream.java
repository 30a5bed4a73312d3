package io.pgha.core.spi;

import io.pgha.core.cluster.Member;
import io.pgha.core.config.HostPort;
import java.util.Objects;
import java.util.Optional;

/**
 * A member to replicate or clone from.
 *
 * @param member  its member name (used for messages and to match {@code pg_stat_replication})
 * @param address where its PostgreSQL listens
 */
public record Upstream(String member, HostPort address) {

    public Upstream {
        Objects.requireNonNull(member, "member");
        Objects.requireNonNull(address, "address");
    }

    /** The member's PostgreSQL address from its {@code conn_url}, if it published one. */
    public static Optional<Upstream> of(Member m) {
        return m.postgresAddress().map(a -> new Upstream(m.name(), a));
    }

    @Override
    public String toString() {
        return member + " (" + address + ")";
    }
}
