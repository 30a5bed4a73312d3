package io.pgha.core.config;

/** Patroni's {@code synchronous_mode}. Quorum commit is not supported yet and is rejected where configured. */
public enum SynchronousMode {
    /** Asynchronous replication: a failover may lose up to {@code maximumLagOnFailover} of acknowledged commits. */
    OFF,
    /**
     * Synchronous replication managed by the leader: only the leader or a standby listed in the DCS {@code sync}
     * key may be promoted, so no acknowledged commit is lost.
     */
    ON
}
