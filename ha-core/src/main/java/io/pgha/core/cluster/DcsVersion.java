package io.pgha.core.cluster;

/**
 * The version a DCS value was read at, used for compare-and-set. Its meaning belongs to the store (ZooKeeper's
 * {@code mzxid}, etcd's {@code mod_revision}, Consul's {@code ModifyIndex}); callers only pass it back. A key deleted and
 * created again never has a version it had before (docs/decisions 0208).
 */
public final class DcsVersion {

    /** The key did not exist when read: a compare-and-set with this version means "create if absent". */
    public static final long ABSENT = -1L;

    private DcsVersion() {}
}
