package io.pgha.examples.e2e;

import java.nio.file.Path;

/** The end-to-end scenarios on a real ZooKeeper server. */
class E2eZooKeeperTest extends E2eScenarios {

    @Override
    StoreUnderTest startStore(Path dir) throws Exception {
        return new ZooKeeperStore();
    }
}
