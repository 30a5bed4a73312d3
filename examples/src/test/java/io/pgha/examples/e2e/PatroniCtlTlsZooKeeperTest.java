package io.pgha.examples.e2e;

import java.nio.file.Path;

/**
 * The REST-over-TLS scenario ({@link PatroniCtlTlsScenarios}) on a real ZooKeeper server (in the test JVM):
 * patronictl reads the cluster through kazoo, the members' REST APIs over https as on etcd.
 */
class PatroniCtlTlsZooKeeperTest extends PatroniCtlTlsScenarios {

    @Override
    StoreUnderTest startStore(Path dir) throws Exception {
        return new ZooKeeperStore();
    }
}
