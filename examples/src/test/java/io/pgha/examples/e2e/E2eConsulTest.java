package io.pgha.examples.e2e;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * A subset of the end-to-end scenarios on the Consul emulator (an emulator of Consul's HTTP API, not Consul; no
 * Consul server can be installed here): bootstrap, switchover, failover, the crash with pg_rewind, the partition,
 * because Consul guarantees a session for only ttl/2 and rule S1 is tightest there, and the second agent with the
 * leader's name, because ownership of Consul keys is the adapter's own (sessions it created). Pause and the lagging replica
 * are decided by the same store-independent rules, and run on ZooKeeper and etcd only, to keep within the time
 * budget. patronictl runs on ZooKeeper and etcd only: its Consul client would test the emulator more than pgha.
 */
class E2eConsulTest extends E2eScenarios {

    @Override
    StoreUnderTest startStore(Path dir) {
        return new ConsulStore();
    }

    @Override
    Set<Scenario> scenarios() {
        return EnumSet.of(Scenario.BOOTSTRAP, Scenario.SWITCHOVER, Scenario.FAILOVER, Scenario.CRASH,
                Scenario.PARTITION, Scenario.SAME_NAME);
    }
}
