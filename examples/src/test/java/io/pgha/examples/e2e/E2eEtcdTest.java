package io.pgha.examples.e2e;

import java.nio.file.Path;

/** The end-to-end scenarios on a real etcd process (Debian's etcd-server). */
class E2eEtcdTest extends E2eScenarios {

    @Override
    StoreUnderTest startStore(Path dir) throws Exception {
        return new EtcdStore(dir);
    }
}
