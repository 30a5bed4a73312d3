package io.pgha.core.cluster;

import java.time.Instant;

/**
 * What a running server says about itself beyond its role and positions, for Patroni's status document and metrics:
 * unknown ({@link #NONE}) whenever the probe could not ask it.
 *
 * @param postmasterStartTime {@code pg_postmaster_start_time()}, or null
 * @param serverVersion       {@code server_version_num} (150004 for 15.4), or 0
 * @param lastReplayTimestamp {@code pg_last_xact_replay_timestamp()} on a standby (the commit time of the last
 *                            transaction it replayed), or null
 */
public record ServerFacts(Instant postmasterStartTime, int serverVersion, Instant lastReplayTimestamp) {

    public static final ServerFacts NONE = new ServerFacts(null, 0, null);
}
