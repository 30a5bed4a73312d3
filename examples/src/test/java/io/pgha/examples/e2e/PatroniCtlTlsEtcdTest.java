package io.pgha.examples.e2e;

import java.nio.file.Path;

/** The REST-over-TLS scenario ({@link PatroniCtlTlsScenarios}) on a real etcd process. */
class PatroniCtlTlsEtcdTest extends PatroniCtlTlsScenarios {

    @Override
    StoreUnderTest startStore(Path dir) throws Exception {
        return new EtcdStore(dir);
    }
}
