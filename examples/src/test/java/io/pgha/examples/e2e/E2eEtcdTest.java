package io.pgha.examples.e2e;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * The end-to-end scenarios on a real etcd process (Debian's etcd-server). The failed pg_rewind runs on ZooKeeper only:
 * it is decided on the member's own disk, whatever the store. Maintenance mode runs on ZooKeeper only too: the
 * members read the pause flag from the config key as on any store, and patronictl's pause and resume run on etcd in
 * {@code PATRONICTL} and {@link PatroniCtlOperationsEtcdTest}.
 */
class E2eEtcdTest extends E2eScenarios {

    @Override
    StoreUnderTest startStore(Path dir) throws Exception {
        return new EtcdStore(dir);
    }

    @Override
    Set<Scenario> scenarios() {
        return EnumSet.complementOf(EnumSet.of(Scenario.FAILED_REWIND, Scenario.PAUSE));
    }
}
