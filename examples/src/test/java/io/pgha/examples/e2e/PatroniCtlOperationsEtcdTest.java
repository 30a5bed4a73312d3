package io.pgha.examples.e2e;

import java.nio.file.Path;

/**
 * patronictl's member and cluster operations (restart, reinit, reload, failover, switchover, topology, dsn, query)
 * against a pgha cluster on a real etcd process.
 */
class PatroniCtlOperationsEtcdTest extends PatroniCtlOperationsScenarios {

    @Override
    StoreUnderTest startStore(Path dir) throws Exception {
        return new EtcdStore(dir);
    }
}
