package io.pgha.core.api;

import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.PostgresSettings;
import io.pgha.core.postgres.LocalPostgres;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;

/**
 * The PostgreSQL a member runs: the local controller built from {@link PostgresSettings}, or another implementation
 * of the port with the address other members reach it at.
 *
 * @param port    what the HA loop drives
 * @param local   the same object when it is a {@link LocalPostgres} pgha built (closed with the member), else null
 * @param address where other members reach it
 */
record MemberPostgres(Postgres port, LocalPostgres local, HostPort address) {

    /**
     * A {@link LocalPostgres} for this member: the member name and allowReclone come from the member's settings
     * (a different value on the postgres builder is an error), and its binaries are checked now.
     */
    static MemberPostgres local(PostgresSettings.Builder configured, HaSettings member) {
        PostgresSettings ps = configured.forMember(member.name(), member.allowReclone()).build();
        HostPort address = ps.connectAddress();
        if (address == null) {
            throw new IllegalArgumentException("postgres connectAddress is required when listening on "
                    + ps.listenHost() + " (other members need one concrete address)");
        }
        try {
            LocalPostgres local = new LocalPostgres(ps);
            return new MemberPostgres(local, local, address);
        } catch (PostgresException e) {
            throw new IllegalArgumentException("postgres: " + e.getMessage(), e);
        }
    }
}
