package io.pgha.core.cluster;

import java.util.Objects;

/**
 * One row of {@code pg_replication_slots}.
 *
 * @param name       the slot name
 * @param type       {@code physical} or {@code logical}
 * @param active     a connection uses it now
 * @param restartLsn oldest WAL it keeps; null when it reserves none yet
 * @param database   a logical slot's database; null for a physical one
 * @param plugin     a logical slot's output plugin; null for a physical one
 * @param temporary  a session's temporary slot (pg_basebackup makes one): it goes away by itself
 */
public record ReplicationSlot(String name, String type, boolean active, Lsn restartLsn, String database,
        String plugin, boolean temporary) {

    public static final String PHYSICAL = "physical";
    public static final String LOGICAL = "logical";

    public ReplicationSlot {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
    }

    /** A persistent physical slot. */
    public static ReplicationSlot physical(String name, boolean active, Lsn restartLsn) {
        return new ReplicationSlot(name, PHYSICAL, active, restartLsn, null, null, false);
    }

    public boolean isPhysical() {
        return PHYSICAL.equals(type);
    }
}
