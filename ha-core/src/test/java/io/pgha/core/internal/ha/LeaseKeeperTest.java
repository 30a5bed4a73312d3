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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The lease keeper on its own: its schedule, the send-time deadline, and that nothing it confirms late extends a
 * lease that was given up meanwhile. (Test fakes: InMemoryDcs, FakePostgres, ManualClock; calls on the test thread
 * move the manual clock.)
 */
class LeaseKeeperTest {

    private static final Duration TTL = Duration.ofSeconds(10);
    private static final Duration RETRY = Duration.ofSeconds(4);
    /** Guarantee 10 s, margin 1 s: interval min(2 s, (10 - 1 - 4) / 3 s) = 1.67 s. */
    private static final long INTERVAL = Duration.ofSeconds(5).toNanos() / 3;
    private static final long MARGIN = Duration.ofSeconds(1).toNanos();

    private final ManualClock clock = new ManualClock();
    private final KeyLayout layout = KeyLayout.of("keeper");
    private final InMemoryDcs store = new InMemoryDcs(layout, clock, TTL);
    private final HaSettings settings = HaSettings.builder("keeper", "m1").ttl(TTL).loopWait(Duration.ofSeconds(2))
            .retryTimeout(RETRY).build();
    private final AtomicLong progressAt = new AtomicLong();
    private final AtomicInteger refusals = new AtomicInteger();
    private final AtomicReference<String> fenced = new AtomicReference<>();
    private InMemoryDcs.Session dcs;
    private FakePostgres pg;
    private LeaseGuard lease;
    private LeaseKeeper keeper;

    @BeforeEach
    void leader() throws Exception {
        // The store gives up on a call only after 9 s: the keeper's own deadline (retryTimeout 4 s) must count.
        dcs = store.open(new DcsContext(layout, "m1", TTL, Duration.ofSeconds(9), clock));
        pg = new FakePostgresNetwork(clock, 3).create("m1", new HostPort("10.0.0.1", 5432),
                FakePostgres.Timings.DEFAULT, false);
        lease = new LeaseGuard(clock, pg, fenced::set, "m1 - ");
        keeper = new LeaseKeeper(dcs, clock, lease, () -> settings, progressAt::get, () -> true,
                refusals::incrementAndGet, "m1 - ");
        long sent = clock.nanoTime();
        assertThat(dcs.acquireLeader()).isTrue();
        lease.extend(sent, dcs.leaseGuarantee()); // as the cycle's AcquireLeader step does: opens a term
    }

    @AfterEach
    void stop() {
        clock.killAll();
    }

    @Test
    void theIntervalFollowsFromTheGuaranteeTheMarginAndRetryTimeout() {
        assertThat(LeaseGuard.renewInterval(settings, TTL)).isEqualTo(Duration.ofNanos(Duration.ofSeconds(5)
                .toNanos() / 3));
        HaSettings slow = HaSettings.builder("keeper", "m1").ttl(Duration.ofSeconds(30))
                .loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(10)).build();
        assertThat(LeaseGuard.renewInterval(slow, Duration.ofSeconds(30))).as("never less often than loopWait")
                .isEqualTo(Duration.ofSeconds(2));
        // 1.2 s guarantee, 0.5 s margin: loopWait + 2*retryTimeout fits (1.19 s), three renewals do not.
        HaSettings tight = HaSettings.builder("keeper", "m1").ttl(Duration.ofMillis(1200))
                .loopWait(Duration.ofMillis(50)).retryTimeout(Duration.ofMillis(570)).build();
        assertThat(LeaseGuard.problem(tight, Duration.ofMillis(1200), "S"))
                .isEqualTo("the lease renewal interval min(loopWait, (guarantee - margin - retryTimeout)/3) must be"
                        + " >= 50ms (got (1.2s - 500ms - 570ms)/3 = 43ms, with what S guarantees after a renewal)");
        HaSettings fits = HaSettings.builder("keeper", "m1").ttl(Duration.ofMillis(1200))
                .loopWait(Duration.ofMillis(100)).retryTimeout(Duration.ofMillis(500)).build();
        assertThat(LeaseGuard.problem(fits, Duration.ofMillis(1200), "S")).isNull();
    }

    @Test
    void renewsEveryIntervalAndExtendsTheGuardFromTheSendTimeEvenWhenTheAnswerIsSlow() throws Exception {
        long opened = lease.lastSentAt();
        store.setRenewalLatency("m1", Duration.ZERO, Duration.ofSeconds(3));
        keeper.step(); // waits until due
        long sentAt = clock.nanoTime();
        assertThat(sentAt - opened).as("first renewal one interval after the acquire was sent").isEqualTo(INTERVAL);
        keeper.step(); // sends, and the answer takes 3 s
        assertThat(clock.nanoTime() - sentAt).isEqualTo(Duration.ofSeconds(3).toNanos());
        assertThat(lease.lastSentAt()).isEqualTo(sentAt);
        assertThat(lease.remainingNanos()).as("deadline = send time + guarantee - margin, not from the answer")
                .isEqualTo(sentAt + TTL.toNanos() - MARGIN - clock.nanoTime());
    }

    @Test
    void aConfirmationLaterThanRetryTimeoutCountsAsFailed() throws Exception {
        long deadline = lease.remainingNanos(clock.nanoTime()) + clock.nanoTime();
        store.setRenewalLatency("m1", Duration.ZERO, RETRY.plusMillis(1));
        keeper.step();
        keeper.step();
        assertThat(store.leaderHeldBy("m1")).as("the store did renew").isTrue();
        assertThat(lease.remainingNanos(clock.nanoTime()) + clock.nanoTime()).as("but the guard was not extended")
                .isEqualTo(deadline);
    }

    @Test
    void aRenewalConfirmedAfterTheReleaseDoesNotExtendTheLease() throws Exception {
        store.setRenewalLatency("m1", Duration.ZERO, Duration.ofSeconds(3));
        // The cycle gives the lock up while the keeper's renewal is on its way back (release: end, then clear).
        store.afterNextRenewal("m1", () -> {
            lease.endTerm();
            lease.clear();
        });
        keeper.step();
        keeper.step();
        assertThat(lease.holds()).as("the late confirmation must not bring the lease back").isFalse();
        assertThat(lease.renewTerm()).isEqualTo(-1);
    }

    @Test
    void aRenewalInFlightWhenTheGuardFencesDoesNotExtendTheLeaseAfterwards() {
        long sent = clock.nanoTime() - Duration.ofSeconds(8).toNanos();
        lease.extend(sent, TTL); // the deadline is 1 s away; the next renewal is overdue
        long deadline = clock.nanoTime() + Duration.ofSeconds(1).toNanos();
        store.setRenewalLatency("m1", Duration.ZERO, Duration.ofMillis(3900));
        clock.setDefaultGroup("m1");
        lease.start("pgha-lease-guard-m1");
        keeper.start("pgha-lease-keeper-m1");
        clock.runUntil(deadline + Duration.ofSeconds(6).toNanos());
        assertThat(fenced.get()).as("fenced at the deadline").isNotNull();
        assertThat(pg.isFenced()).isTrue();
        assertThat(lease.holds()).as("the confirmation arrived after the fence: no lease again").isFalse();
        assertThat(lease.renewTerm()).isEqualTo(-1);
    }

    @Test
    void aRefusedRenewalEndsTheTermAndWakesTheCycle() throws Exception {
        store.adminDelete(KeyLayout.LEADER);
        keeper.step();
        keeper.step();
        assertThat(refusals.get()).isEqualTo(1);
        assertThat(lease.renewTerm()).as("no more renewals until the cycle renews").isEqualTo(-1);
        assertThat(lease.holds()).as("the guard still counts down to its deadline").isTrue();
    }

    @Test
    void aHungLoopGetsNoRenewalsAfterLoopWaitPlusTtl() throws Exception {
        long opened = clock.nanoTime();
        long stallLimit = settings.loopWait().plus(TTL).toNanos();
        int renewals = 0;
        while (clock.nanoTime() < opened + stallLimit + TTL.toNanos()) {
            long before = lease.lastSentAt();
            keeper.step();
            if (lease.lastSentAt() != before) {
                renewals++;
                assertThat(lease.lastSentAt() - opened).as("renewed only while the loop showed progress")
                        .isLessThanOrEqualTo(stallLimit);
            }
        }
        assertThat(renewals).as("renewed until the loop counted as hung").isGreaterThanOrEqualTo(6);
        assertThat(lease.holds()).as("the guard's deadline passed: nothing renewed it").isFalse();
    }
}
