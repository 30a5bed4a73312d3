package io.pgha.core.cluster;

import io.pgha.core.config.HostPort;
import io.pgha.core.config.Tags;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One member key ({@code members/<name>}): what a member last published about itself.
 *
 * @param name           member name (the last path element)
 * @param connUrl        {@code postgres://host:port/postgres}; null if the member never published one
 * @param apiUrl         {@code http://host:port/patroni}; null if it runs no REST API
 * @param state          PostgreSQL state as Patroni names it ({@code running}, {@code starting}, {@code stopped}, ...)
 * @param role           reported role
 * @param xlogLocation   flush position on a primary, max(received, replayed) on a replica; null when unknown
 * @param timeline       current timeline; 0 when unknown
 * @param tags           the member's tags
 * @param pendingRestart a parameter change waits for a restart
 * @param paused         the member saw {@code pause: true} in the global config
 * @param extra          fields this version does not interpret, kept as read
 * @param version        the DCS version of the key
 */
public record Member(
        String name,
        String connUrl,
        String apiUrl,
        String state,
        Role role,
        Lsn xlogLocation,
        Lsn receiveLsn,
        Lsn replayLsn,
        String replicationState,
        int timeline,
        Tags tags,
        boolean pendingRestart,
        boolean paused,
        Map<String, Object> extra,
        long version) {

    public Member {
        Objects.requireNonNull(name, "name");
        state = Objects.requireNonNullElse(state, "unknown");
        role = Objects.requireNonNullElse(role, Role.UNKNOWN);
        tags = Objects.requireNonNullElse(tags, Tags.DEFAULT);
        extra = Map.copyOf(Objects.requireNonNullElse(extra, Map.of()));
    }

    public boolean isRunning() {
        return "running".equals(state);
    }

    /** Host and port from {@code conn_url}, if it is a parsable URL. */
    public Optional<HostPort> postgresAddress() {
        return HostPort.fromUrl(connUrl);
    }

    public Member withVersion(long v) {
        return new Member(name, connUrl, apiUrl, state, role, xlogLocation, receiveLsn, replayLsn, replicationState,
                timeline, tags, pendingRestart, paused, extra, v);
    }

    /** The position used to compare members: reported flush or receive/replay position. */
    public Lsn walPosition() {
        return Lsn.max(xlogLocation, Lsn.max(receiveLsn, replayLsn));
    }
}
