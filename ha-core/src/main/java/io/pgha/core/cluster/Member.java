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
 * @param draining       the leader is about to hand over in a planned switchover: routing clients (ha-jdbc) stop
 *                       handing out new connections to it and let running transactions finish (JSON
 *                       {@code pgha_draining}; Patroni's tools ignore it)
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
        boolean draining,
        Map<String, Object> extra,
        long version) {

    public Member {
        Objects.requireNonNull(name, "name");
        state = Objects.requireNonNullElse(state, "unknown");
        role = Objects.requireNonNullElse(role, Role.UNKNOWN);
        tags = Objects.requireNonNullElse(tags, Tags.DEFAULT);
        extra = Map.copyOf(Objects.requireNonNullElse(extra, Map.of()));
    }

    /** A member key that does not say it is draining (what every writer but a leader handing over publishes). */
    public Member(String name, String connUrl, String apiUrl, String state, Role role, Lsn xlogLocation,
            Lsn receiveLsn, Lsn replayLsn, String replicationState, int timeline, Tags tags, boolean pendingRestart,
            boolean paused, Map<String, Object> extra, long version) {
        this(name, connUrl, apiUrl, state, role, xlogLocation, receiveLsn, replayLsn, replicationState, timeline, tags,
                pendingRestart, paused, false, extra, version);
    }

    public boolean isRunning() {
        return "running".equals(state);
    }

    /** Host and port from {@code conn_url}, if it is a parsable URL. */
    public Optional<HostPort> postgresAddress() {
        return HostPort.fromUrl(connUrl);
    }

    public Member withVersion(long v) {
        if (v == version) {
            return this;
        }
        return new Member(name, connUrl, apiUrl, state, role, xlogLocation, receiveLsn, replayLsn, replicationState,
                timeline, tags, pendingRestart, paused, draining, extra, v);
    }

    public Member withDraining(boolean d) {
        if (d == draining) {
            return this;
        }
        return new Member(name, connUrl, apiUrl, state, role, xlogLocation, receiveLsn, replayLsn, replicationState,
                timeline, tags, pendingRestart, paused, d, extra, version);
    }

    public Member withTags(Tags t) {
        return new Member(name, connUrl, apiUrl, state, role, xlogLocation, receiveLsn, replayLsn, replicationState,
                timeline, t, pendingRestart, paused, draining, extra, version);
    }

    /** The position used to compare members: reported flush or receive/replay position. */
    public Lsn walPosition() {
        return Lsn.max(xlogLocation, Lsn.max(receiveLsn, replayLsn));
    }
}
