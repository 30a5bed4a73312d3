package io.pgha.examples.e2e;

import java.nio.file.Path;

/** The mixed-cluster scenario ({@link MixedClusterScenarios}) on a real etcd process, a pgha agent bootstrapping. */
class MixedClusterEtcdTest extends MixedClusterScenarios {

    @Override
    StoreUnderTest startStore(Path dir) throws Exception {
        return new EtcdStore(dir);
    }
}
