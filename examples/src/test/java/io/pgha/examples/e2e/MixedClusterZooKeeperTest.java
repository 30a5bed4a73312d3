package io.pgha.examples.e2e;

import java.nio.file.Path;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * The mixed-cluster scenario ({@link MixedClusterScenarios}) on a real ZooKeeper server (in the test JVM), a pgha
 * agent bootstrapping: the agents through pgha's ZooKeeper adapter, the Patroni member through kazoo, on the same
 * znodes (ephemeral leader and member keys, {@code config}, {@code status}, {@code failover}, {@code history}). The
 * Patroni-first start runs on etcd only ({@link MixedClusterPatroniFirstEtcdTest}): which kind bootstraps does not
 * depend on the store.
 *
 * <p>Not in the default build ({@code -Dpgha.e2e.mixedZooKeeper=true} runs it, about 95 s): issue 12 asks for the
 * mixed cluster on etcd, which {@link MixedClusterEtcdTest} and {@link MixedClusterPatroniFirstEtcdTest} run on every
 * build; this one adds kazoo's view of the same znodes, which {@link PatroniCtlOperationsZooKeeperTest} already reads
 * through patronictl.
 */
@EnabledIfSystemProperty(named = "pgha.e2e.mixedZooKeeper", matches = "true")
class MixedClusterZooKeeperTest extends MixedClusterScenarios {

    @Override
    StoreUnderTest startStore(Path dir) throws Exception {
        return new ZooKeeperStore();
    }
}
