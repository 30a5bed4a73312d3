package io.pgha.core.postgres;

import io.pgha.core.cluster.Lsn;

/**
 * One row of {@code pg_replication_slots}.
 *
 * @param name       the slot name
 * @param type       {@code physical} or {@code logical}
 * @param active     a connection uses it now
 * @param restartLsn oldest WAL it keeps; null when it reserves none yet
 */
public record ReplicationSlot(String name, String type, boolean active, Lsn restartLsn) {}
