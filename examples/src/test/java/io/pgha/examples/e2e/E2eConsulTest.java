package io.pgha.examples.e2e;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * A subset of the end-to-end scenarios on the Consul emulator (an emulator of Consul's HTTP API, not Consul; no
 * Consul server can be installed here): bootstrap, switchover, failover, the crash with pg_rewind, and the partition,
 * because Consul guarantees a session for only ttl/2 and rule S1 is tightest there; and, as on every store, the
 * synchronous crash, the close during a takeover (each store releases the lock its own way) and the second agent with
 * the leader's name (each store's adapter knows its own sessions), and issue 10's writer through HaDataSource (it
 * follows the leader key through each store's own watch). Patroni's patronictl too: it reads the cluster with
 * Patroni's Consul client (python3-consul), so it checks pgha's key layout and values on Consul as Patroni reads them,
 * through the one store call it makes here, a {@code ?recurse} read of the scope that the emulator already pins (pause,
 * resume and the switchover go through the members' REST API). patronictl's member and cluster operations on the
 * emulator, {@code edit-config}'s {@code ?cas=} write among them, are {@link PatroniCtlOperationsConsulTest}'s.
 * Pause, the lagging replica, the timeline numbers and the failed pg_rewind are decided by the same
 * store-independent rules, and run on ZooKeeper or etcd only, to keep within the time budget (pause alone took 31 s
 * here, patronictl 11-12 s).
 */
class E2eConsulTest extends E2eScenarios {

    @Override
    StoreUnderTest startStore(Path dir) {
        return new ConsulStore();
    }

    @Override
    Set<Scenario> scenarios() {
        return EnumSet.of(Scenario.BOOTSTRAP, Scenario.SWITCHOVER, Scenario.FAILOVER, Scenario.CRASH,
                Scenario.PARTITION, Scenario.PATRONICTL, Scenario.SYNCHRONOUS_CRASH, Scenario.CLOSE_DURING_PROMOTION,
                Scenario.SAME_NAME, Scenario.JDBC_KILL9, Scenario.JDBC_SWITCHOVER, Scenario.JDBC_DEMOTED);
    }
}
