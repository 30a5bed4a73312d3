package io.pgha.core.internal.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.FakePostgresNetwork;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.testkit.ManualClock;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * pgha's own metrics as the HA loop feeds them: cycles and their duration, decided steps by kind, the lease left,
 * fences. (Test fakes: InMemoryDcs, FakePostgres, ManualClock — the loop's own bookkeeping is under test.)
 */
class HaMetricsTest {

    private final ManualClock clock = new ManualClock();
    private final KeyLayout layout = KeyLayout.of("metrics");
    private final Duration ttl = Duration.ofSeconds(30);
    private final InMemoryDcs store = new InMemoryDcs(layout, clock, ttl);
    private final FakePostgresNetwork net = new FakePostgresNetwork(clock, 11);

    @AfterEach
    void stop() {
        clock.killAll();
    }

    @Test
    void stepKindsAreSnakeCaseNames() {
        assertThat(HaMetrics.kind(new Action.AcquireLeader())).isEqualTo("acquire_leader");
        assertThat(HaMetrics.kind(new Action.Promote(2))).isEqualTo("promote");
        assertThat(HaMetrics.kind(new Action.KeepLeadingInFailsafe())).isEqualTo("keep_leading_in_failsafe");
    }

    @Test
    void aLeadingLoopCountsItsCyclesStepsAndLeaseAndThenItsFence() {
        HaSettings s = HaSettings.builder("metrics", "m1").ttl(ttl).loopWait(Duration.ofSeconds(10))
                .retryTimeout(Duration.ofSeconds(10)).build();
        FakePostgres pg = net.create("m1", new HostPort("10.0.0.1", 5432), FakePostgres.Timings.DEFAULT, false);
        HaMetrics metrics = new HaMetrics();
        HaLoop loop = new HaLoop(s, store.open(new DcsContext(layout, "m1", ttl, s.retryTimeout(), clock)), pg,
                PeerClient.NONE, clock, new MemberEndpoints("postgres://10.0.0.1:5432/postgres", null), metrics);
        clock.setDefaultGroup("m1");
        loop.start();
        clock.runFor(Duration.ofSeconds(25));
        assertThat(pg.isWritablePrimary()).as("bootstrapped and leading").isTrue();

        HaMetrics.Snapshot leading = metrics.snapshot(loop.leaseRemaining());
        assertThat(leading.cycles()).isGreaterThanOrEqualTo(2);
        assertThat(leading.lastCycle()).isNotNull().isGreaterThanOrEqualTo(Duration.ZERO);
        assertThat(leading.decisions()).containsKeys("bootstrap", "acquire_leader", "renew_leader");
        assertThat(leading.decisions().get("renew_leader")).isPositive();
        assertThat(leading.leaseRemaining()).isPositive().isLessThanOrEqualTo(ttl);
        assertThat(leading.fences()).isZero();

        // The store stops answering: the lease runs out and the guard fences.
        store.setLatency("m1", Duration.ZERO, Duration.ofMinutes(10));
        store.partition("m1", true);
        clock.runFor(ttl.plusSeconds(5));

        HaMetrics.Snapshot fenced = metrics.snapshot(loop.leaseRemaining());
        assertThat(pg.isWritablePrimary()).isFalse();
        assertThat(fenced.fences()).isEqualTo(1);
        assertThat(fenced.leaseRemaining()).as("no lease any more").isNull();
    }
}
