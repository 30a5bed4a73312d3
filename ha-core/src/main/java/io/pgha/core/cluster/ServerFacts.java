package io.pgha.core.cluster;

import java.time.Instant;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * What a running server says about itself beyond its role and positions, for Patroni's status document and metrics:
 * unknown ({@link #NONE}) whenever the probe could not ask it.
 *
 * @param postmasterStartTime  {@code pg_postmaster_start_time()}, or null
 * @param serverVersion        {@code server_version_num} (150004 for 15.4), or 0
 * @param lastReplayTimestamp  {@code pg_last_xact_replay_timestamp()} on a standby (the commit time of the last
 *                             transaction it replayed), or null
 * @param pendingRestartReason the parameters waiting for a restart, by name (sorted), with the value in force and the
 *                             one a restart brings; empty when none waits or the probe could not tell which
 */
public record ServerFacts(Instant postmasterStartTime, int serverVersion, Instant lastReplayTimestamp,
        Map<String, ParameterChange> pendingRestartReason) {

    public static final ServerFacts NONE = new ServerFacts(null, 0, null);

    public ServerFacts {
        pendingRestartReason = Collections.unmodifiableMap(
                new TreeMap<>(Objects.requireNonNullElse(pendingRestartReason, Map.of())));
    }

    /** Facts with no parameter waiting for a restart. */
    public ServerFacts(Instant postmasterStartTime, int serverVersion, Instant lastReplayTimestamp) {
        this(postmasterStartTime, serverVersion, lastReplayTimestamp, Map.of());
    }
}
