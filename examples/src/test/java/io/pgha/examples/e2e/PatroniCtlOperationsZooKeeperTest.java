package io.pgha.examples.e2e;

import java.nio.file.Path;

/** patronictl's restart, reinit and reload against a pgha cluster on a real ZooKeeper server. */
class PatroniCtlOperationsZooKeeperTest extends PatroniCtlOperationsScenarios {

    @Override
    StoreUnderTest startStore(Path dir) throws Exception {
        return new ZooKeeperStore();
    }
}
