package io.pgha.core.spi;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.testkit.ManualClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class IdleLeaseRuleTest {

    private final ManualClock clock = new ManualClock();
    private final DcsCallGuard calls = new DcsCallGuard(new DcsContext(KeyLayout.of("orders"), "db1",
            Duration.ofSeconds(30), Duration.ofSeconds(10), clock), "this test client");

    @Test
    void aMemberIsIdleOnlyAfterMoreThanTheLimitWithoutACall() throws Exception {
        IdleLeaseRule rule = new IdleLeaseRule(calls, Duration.ofSeconds(30), "orders/db1 - ");
        calls.beginLeaseCall("renew the leader key");
        clock.runFor(Duration.ofSeconds(30));
        assertThat(rule.isIdle("keepalives pause")).as("exactly the limit").isFalse();
        clock.runFor(Duration.ofMillis(1));
        assertThat(rule.isIdle("keepalives pause")).isTrue();
        assertThat(rule.isIdle("keepalives pause")).as("stays idle").isTrue();
        calls.begin("read the cluster");
        calls.begin("write the failover key");
        assertThat(rule.isIdle("keepalives pause")).as("reads and admin writes (REST, ClusterAdmin) are no sign of"
                + " life: only the HA loop's lease calls are").isTrue();
        calls.beginLeaseCall("publish the member key");
        assertThat(rule.isIdle("keepalives pause")).as("a lease call ends it").isFalse();
    }

    @Test
    void theLimitIsAskedAtEveryCheck() throws Exception {
        AtomicReference<Duration> granted = new AtomicReference<>(Duration.ofSeconds(30));
        IdleLeaseRule rule = new IdleLeaseRule(calls, granted::get, "orders/db1 - ");
        calls.beginLeaseCall("renew the leader key");
        clock.runFor(Duration.ofSeconds(40));
        assertThat(rule.isIdle("the session closes")).isTrue();
        granted.set(Duration.ofSeconds(60));
        assertThat(rule.isIdle("the session closes")).as("a longer lease granted meanwhile").isFalse();
    }
}
