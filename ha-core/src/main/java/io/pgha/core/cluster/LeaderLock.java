package io.pgha.core.cluster;

import java.util.Objects;

/**
 * The {@code leader} key: who holds the leader lock.
 *
 * @param holder  the member name stored in the key
 * @param version the DCS version, for compare-and-set
 * @param epoch   a value that changes each time the key is created anew (etcd {@code create_revision}, ZooKeeper
 *                {@code czxid}, Consul {@code CreateIndex}: the key is deleted at every hand-over, so its
 *                {@code LockIndex} would stay 1); clients use it as a fencing token
 */
public record LeaderLock(String holder, long version, long epoch) {
    public LeaderLock {
        Objects.requireNonNull(holder, "holder");
    }
}
