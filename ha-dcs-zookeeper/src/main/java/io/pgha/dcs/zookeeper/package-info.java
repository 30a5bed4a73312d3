/**
 * The Dcs port on Apache ZooKeeper through Curator: {@link io.pgha.dcs.zookeeper.ZooKeeperDcs#connect(String)}.
 *
 * <p>Settings and digest auth are described in {@code docs/zookeeper-settings.md}; the design choices (ephemeral
 * leader key with an owner check, SUSPENDED means unavailable, linearizable reads) in {@code docs/decisions/02xx}.
 */
package io.pgha.dcs.zookeeper;
