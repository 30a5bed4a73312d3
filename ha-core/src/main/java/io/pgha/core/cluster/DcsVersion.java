package io.pgha.core.cluster;

/**
 * The version a DCS value was read at, used for compare-and-set. Its meaning belongs to the store (ZooKeeper's
 * {@code Stat.version}, etcd's {@code mod_revision}, Consul's {@code ModifyIndex}); callers only pass it back.
 */
public final class DcsVersion {

    /** The key did not exist when read: a compare-and-set with this version means "create if absent". */
    public static final long ABSENT = -1L;

    private DcsVersion() {}
}
