package io.pgha.core.internal.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.WatchdogMode;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.FakePostgresNetwork;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.testkit.ManualClock;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The cycle's RenewLeader step next to the lease keeper: it leaves the store alone when a renewal confirmed in the open
 * term was sent less than half the keeper's interval ago (at idle the keeper fired just before every cycle, and each
 * leader sent two renewals per loop), and asks the store itself otherwise. (Test fakes: InMemoryDcs, FakePostgres,
 * ManualClock.)
 */
class CycleRenewalTest {

    private static final Duration TTL = Duration.ofSeconds(10);
    /** Guarantee 10 s, margin 1 s, retryTimeout 3 s, loopWait 2 s: the keeper's interval is min(2 s, 2 s) = 2 s. */
    private static final Duration INTERVAL = Duration.ofSeconds(2);

    private final ManualClock clock = new ManualClock();
    private final KeyLayout layout = KeyLayout.of("renew");
    private final InMemoryDcs store = new InMemoryDcs(layout, clock, TTL);
    private final HaSettings settings = HaSettings.builder("renew", "m1").ttl(TTL).loopWait(INTERVAL)
            .retryTimeout(Duration.ofSeconds(3)).build();
    private final AtomicInteger storeRenewals = new AtomicInteger();
    private Dcs dcs;
    private FakePostgres pg;
    private LeaseGuard lease;
    private ActionRunner runner;

    @BeforeEach
    void leader() throws Exception {
        InMemoryDcs.Session session = store.open(new DcsContext(layout, "m1", TTL, settings.retryTimeout(), clock));
        dcs = counting(session);
        pg = new FakePostgresNetwork(clock, 3).create("m1", new HostPort("10.0.0.1", 5432),
                FakePostgres.Timings.DEFAULT, false);
        lease = new LeaseGuard(clock, pg, why -> {}, "m1 - ");
        LeaseWatchdog watchdog = new LeaseWatchdog(Watchdog.OFF, WatchdogMode.OFF, clock, lease, "m1 - ");
        runner = new ActionRunner("m1", dcs, pg, clock, lease, watchdog, new MemoryCell(), new QuietEvents(), "m1 - ");
        long sent = clock.nanoTime();
        assertThat(session.acquireLeader()).isTrue();
        lease.extend(sent, session.leaseGuarantee()); // a confirmed renewal (the keeper's, say), sent now
    }

    @AfterEach
    void stop() {
        clock.killAll();
    }

    @Test
    void aRenewalConfirmedLessThanHalfAnIntervalAgoIsNotSentAgain() throws Exception {
        clock.sleepUntil(clock.nanoTime() + INTERVAL.toNanos() / 2 - 1_000_000);
        long deadlineBefore = lease.remainingNanos();

        assertThat(renewInCycle()).isEqualTo(CycleReport.Outcome.DONE);

        assertThat(storeRenewals).as("store renewals").hasValue(0);
        assertThat(lease.remainingNanos()).as("the guard is not extended by a renewal that was not sent")
                .isEqualTo(deadlineBefore);
        assertThat(runner.renewalDue(input())).as("best-effort writes still run").isFalse();
    }

    @Test
    void anOlderRenewalIsSentAgainAndExtendsTheGuardFromTheNewSendTime() throws Exception {
        clock.sleepUntil(clock.nanoTime() + INTERVAL.toNanos() / 2);
        long sentAt = clock.nanoTime();

        assertThat(renewInCycle()).isEqualTo(CycleReport.Outcome.DONE);

        assertThat(storeRenewals).hasValue(1);
        assertThat(lease.lastSentAt()).isEqualTo(sentAt);
    }

    @Test
    void afterTheTermEndedTheCycleAsksTheStoreEvenRightAway() throws Exception {
        lease.endTerm(); // a refused keeper renewal, or a release about to be sent

        renewInCycle();

        assertThat(storeRenewals).hasValue(1);
    }

    @Test
    void aKeyTakenByAnotherIsNotHiddenBehindARecentRenewalOnceTheKeeperWasRefused() throws Exception {
        store.adminDelete(KeyLayout.LEADER); // an operator deleted the leader key
        // The keeper's next renewal is refused (the key is not ours): it ends the term, as LeaseKeeper does.
        assertThat(dcs.renewLeader()).isFalse();
        lease.endTerm(lease.renewTerm());
        storeRenewals.set(0);

        assertThat(renewInCycle()).isEqualTo(CycleReport.Outcome.LOST_RACE);
        assertThat(storeRenewals).hasValue(1);
    }

    private CycleReport.Outcome renewInCycle() {
        return runner.act(Decision.of("test: renewing the lock", new Action.RenewLeader()), input()).kind();
    }

    private HaInput input() {
        ClusterView v;
        try {
            v = dcs.read();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return new HaInput(settings, v, null, v, pg.probe(), Map.of(), null, null, NodeMemory.INITIAL,
                clock.nanoTime(), Instant.now());
    }

    /** The session, counting its renewLeader calls. */
    private Dcs counting(Dcs target) {
        return (Dcs) Proxy.newProxyInstance(Dcs.class.getClassLoader(), new Class<?>[] {Dcs.class},
                (proxy, m, args) -> {
                    if (m.getName().equals("renewLeader")) {
                        storeRenewals.incrementAndGet();
                    }
                    try {
                        return m.invoke(target, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }
}
