package io.pgha.examples.e2e;

import java.nio.file.Path;

/**
 * The mixed-cluster scenario ({@link MixedClusterScenarios}) on a real ZooKeeper server (in the test JVM), a pgha
 * agent bootstrapping: the agents through pgha's ZooKeeper adapter, the Patroni member through kazoo, on the same
 * znodes (ephemeral leader and member keys, {@code config}, {@code status}, {@code failover}, {@code history}). The
 * Patroni-first start runs on etcd only ({@link MixedClusterPatroniFirstEtcdTest}): which kind bootstraps does not
 * depend on the store.
 */
class MixedClusterZooKeeperTest extends MixedClusterScenarios {

    @Override
    StoreUnderTest startStore(Path dir) throws Exception {
        return new ZooKeeperStore();
    }
}
