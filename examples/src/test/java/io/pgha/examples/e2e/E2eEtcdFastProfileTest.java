package io.pgha.examples.e2e;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * Issue 11: the fast profile (ttl 5 s, loop_wait 1 s, retry_timeout 2 s) on a real etcd, through the suite's own
 * scenarios: bootstrap, a graceful switchover, and a kill -9 of the leader replaced within ttl + loop_wait + slack
 * and rejoining through pg_rewind. Every scenario runs under the suite's continuous S1/S4 watch, which a short lease
 * makes harder to satisfy. Speed is the failover benchmark's to measure; these assert behaviour.
 */
class E2eEtcdFastProfileTest extends E2eScenarios {

    @Override
    StoreUnderTest startStore(Path dir) throws Exception {
        return new EtcdStore(dir, EtcdStore.FAST);
    }

    @Override
    Set<Scenario> scenarios() {
        return EnumSet.of(Scenario.BOOTSTRAP, Scenario.SWITCHOVER, Scenario.CRASH);
    }
}
