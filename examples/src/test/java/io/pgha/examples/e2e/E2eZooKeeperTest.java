package io.pgha.examples.e2e;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * The end-to-end scenarios on a real ZooKeeper server. The timeline-number sequence runs on etcd only: the numbers
 * are chosen by the store-independent HA core, and each adapter's compare-and-set of the history key is covered by
 * its DCS contract test. The store outage runs on etcd only: an etcd server stopped and started keeps its data and
 * its leases, an in-JVM ZooKeeper restarted would not (its session expiry is covered by the adapter's tests). The
 * lagging replica runs on etcd only: maximum_lag_on_failover is checked against the WAL positions the members publish,
 * whatever the store carries them.
 */
class E2eZooKeeperTest extends E2eScenarios {

    @Override
    StoreUnderTest startStore(Path dir) throws Exception {
        return new ZooKeeperStore();
    }

    @Override
    Set<Scenario> scenarios() {
        return EnumSet.complementOf(EnumSet.of(Scenario.TIMELINE_NUMBERS, Scenario.STORE_OUTAGE,
                Scenario.LAGGING_REPLICA));
    }
}
