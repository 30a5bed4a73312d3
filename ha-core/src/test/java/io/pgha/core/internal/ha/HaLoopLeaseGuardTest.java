package io.pgha.core.internal.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.Tags;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.FakePostgresNetwork;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.testkit.ManualClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Rule S1 at the HA loop: the leader's lease deadline is kept on the monotonic clock from the moment each renewal
 * was sent, and PostgreSQL is fenced when it passes, even while the loop thread hangs in a DCS call.
 * (Test fakes: InMemoryDcs, FakePostgres, ManualClock.)
 */
class HaLoopLeaseGuardTest {

    private final ManualClock clock = new ManualClock();
    private final KeyLayout layout = KeyLayout.of("guard");
    private final Duration ttl = Duration.ofSeconds(30);
    private final InMemoryDcs store = new InMemoryDcs(layout, clock, ttl);
    private final FakePostgresNetwork net = new FakePostgresNetwork(clock, 7);
    private final AtomicLong fencedAt = new AtomicLong(-1);
    private FakePostgres pg;
    private HaLoop loop;

    private void startLeader() {
        startLeader(HaSettings.builder("guard", "m1").ttl(ttl).loopWait(Duration.ofSeconds(10))
                .retryTimeout(Duration.ofSeconds(10)).build(), PeerClient.NONE);
    }

    private void startLeader(HaSettings s, PeerClient peers) {
        pg = net.create("m1", new HostPort("10.0.0.1", 5432), FakePostgres.Timings.DEFAULT, false);
        loop = new HaLoop(s, store.open(new DcsContext(layout, "m1", ttl, s.retryTimeout(), clock)), pg,
                peers, clock, new MemberEndpoints("postgres://10.0.0.1:5432/postgres", null),
                new HaObserver() {
                    @Override
                    public void fenced(String why) {
                        fencedAt.compareAndSet(-1, clock.nanoTime());
                    }
                });
        clock.setDefaultGroup("m1");
        loop.start();
        clock.runFor(Duration.ofSeconds(15));
        assertThat(pg.isWritablePrimary()).as("bootstrapped and leading").isTrue();
        assertThat(store.leaderHeldBy("m1")).isTrue();
    }

    @AfterEach
    void stop() {
        clock.killAll();
    }

    @Test
    void s1_theGuardFencesWhileTheLoopHangsInARenewalAndBeforeTheKeyExpires() {
        startLeader();
        long lastRenewalSent = clock.nanoTime(); // upper bound: the last successful renewal was sent before now
        // From now on every DCS answer takes far longer than the lease: the loop hangs in its next call.
        store.setLatency("m1", Duration.ZERO, Duration.ofMinutes(10));
        // Keep-alives stop reaching the store too, so the key can expire: the worst case.
        store.partition("m1", true);
        long deadline = lastRenewalSent + ttl.toNanos();
        clock.runUntil(deadline + Duration.ofSeconds(1).toNanos());

        assertThat(fencedAt.get()).as("fenced").isPositive();
        assertThat(fencedAt.get()).as("fenced before the lease could expire").isLessThan(deadline);
        assertThat(pg.isWritablePrimary()).isFalse();
        assertThat(pg.isFenced()).as("writable starts are refused until a new lease").isTrue();
        assertThat(loop.holdsLease()).isFalse();
    }

    @Test
    void aStoreGuaranteeingLessThanLoopWaitPlusTwoRetryTimeoutsIsRefusedAtStart() {
        store.overrideLeaseGuarantee(Duration.ofSeconds(20)); // loopWait 10 s + 2 x retryTimeout 10 s = 30 s
        assertThatThrownBy(this::startLeader).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("loopWait + 2*retryTimeout must be <= the DCS lease guarantee");
    }

    @Test
    void aCycleStuckForLongerThanTheLeaseDoesNotCostTheLockWhileTheKeeperRenews() {
        startLeader();
        // The loop thread hangs (a slow PostgreSQL step, a slow peer) for 35 s: longer than the guard's 28 s after a
        // renewal, shorter than loopWait + ttl (40 s), after which the keeper would count the loop as hung.
        long stuckUntil = clock.nanoTime() + Duration.ofSeconds(35).toNanos();
        clock.freeze("m1", "pgha-loop", stuckUntil);
        clock.runUntil(stuckUntil + Duration.ofSeconds(1).toNanos());
        assertThat(fencedAt.get()).as("never fenced: the keeper renewed while the cycle was stuck").isEqualTo(-1);
        assertThat(pg.isWritablePrimary()).isTrue();
        assertThat(loop.holdsLease()).isTrue();
        assertThat(store.leaderHeldBy("m1")).isTrue();
    }

    @Test
    void aLoopHungForLongerThanLoopWaitPlusTtlIsFencedAndLosesTheLock() {
        startLeader();
        long hungAt = clock.nanoTime();
        clock.freeze("m1", "pgha-loop", hungAt + Duration.ofMinutes(5).toNanos());
        clock.runUntil(hungAt + Duration.ofMinutes(3).toNanos());
        assertThat(fencedAt.get()).as("fenced once the keeper stopped renewing for the hung loop").isPositive();
        assertThat(store.leaderHeldBy("m1")).as("and the key expired: another member may take over").isFalse();
        assertThat(pg.isWritablePrimary()).isFalse();
    }

    @Test
    void aRenewalIntervalTooShortForTheStoresExpectedLeaseIsRejectedWhenBuilding() {
        HostPort address = new HostPort("10.0.0.1", 5432);
        pg = net.create("m1", address, FakePostgres.Timings.DEFAULT, false);
        io.pgha.core.spi.DcsFactory exact = new io.pgha.core.spi.DcsFactory() {
            @Override
            public io.pgha.core.spi.Dcs open(DcsContext context) {
                return store.open(context);
            }

            @Override
            public Duration expectedLeaseGuarantee(DcsContext context) {
                return context.ttl();
            }

            @Override
            public String toString() {
                return "a store keeping ttl";
            }
        };
        // loopWait + 2*retryTimeout = 1.19 s fits 1.2 s, but three renewals do not fit 1.2 s - 0.5 s - 0.57 s.
        assertThatThrownBy(() -> io.pgha.core.api.HaCluster.builder().scope("guard").member("m1").dcs(exact)
                .postgres(pg, address).ttl(Duration.ofMillis(1200)).loopWait(Duration.ofMillis(50))
                .retryTimeout(Duration.ofMillis(570)).clock(clock).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the lease renewal interval min(loopWait, (guarantee - margin - retryTimeout)/3) must be"
                        + " >= 50ms (got (1.2s - 500ms - 570ms)/3 = 43ms, with what a store keeping ttl guarantees"
                        + " after a renewal)");
        assertThat(io.pgha.core.api.HaCluster.builder().scope("guard").member("m1").dcs(exact).postgres(pg, address)
                .ttl(Duration.ofMillis(1200)).loopWait(Duration.ofMillis(100)).retryTimeout(Duration.ofMillis(500))
                .clock(clock).build()).as("(1.2s - 0.5s - 0.5s)/3 = 66ms").isNotNull();
    }

    @Test
    void aGuaranteeLearnedAfterTheStartThatIsTooShortStopsTheLoopAtRegistration() {
        store.overrideLeaseGuarantee(Duration.ZERO);
        HaSettings s = HaSettings.builder("guard", "m1").ttl(ttl).loopWait(Duration.ofSeconds(10))
                .retryTimeout(Duration.ofSeconds(10)).build();
        pg = net.create("m1", new HostPort("10.0.0.1", 5432), FakePostgres.Timings.DEFAULT, false);
        loop = new HaLoop(s, store.open(new DcsContext(layout, "m1", ttl, s.retryTimeout(), clock)), pg,
                PeerClient.NONE, clock, new MemberEndpoints("postgres://10.0.0.1:5432/postgres", null),
                new HaObserver() {});
        clock.setDefaultGroup("m1");
        loop.start();
        store.overrideLeaseGuarantee(Duration.ofSeconds(20)); // now known: shorter than 10 s + 2 x 10 s
        clock.runFor(Duration.ofSeconds(30));
        assertThat(store.leaderHeldBy("m1")).isFalse();
        assertThat(loop.holdsLease()).isFalse();
        // Checked once the member key is registered, before anything is decided (decision 0014).
        assertThat(loop.lastReport().detail()).contains("the lease the DCS granted is too short")
                .contains("must be <= the DCS lease guarantee");
        assertThat(pg.isUp()).as("nothing bootstrapped or started").isFalse();
    }

    @Test
    void aStoreThatHasGrantedNoLeaseYetDoesNotStopTheStart() {
        // etcd grants its lease with the first write; a ZooKeeper session may still be connecting: zero = unknown.
        store.overrideLeaseGuarantee(Duration.ZERO);
        HaSettings s = HaSettings.builder("guard", "m1").ttl(ttl).loopWait(Duration.ofSeconds(10))
                .retryTimeout(Duration.ofSeconds(10)).build();
        pg = net.create("m1", new HostPort("10.0.0.1", 5432), FakePostgres.Timings.DEFAULT, false);
        loop = new HaLoop(s, store.open(new DcsContext(layout, "m1", ttl, s.retryTimeout(), clock)), pg,
                PeerClient.NONE, clock, new MemberEndpoints("postgres://10.0.0.1:5432/postgres", null),
                new HaObserver() {});
        clock.setDefaultGroup("m1");
        loop.start();
        store.overrideLeaseGuarantee(null);
        clock.runFor(Duration.ofSeconds(15));
        assertThat(pg.isWritablePrimary()).as("bootstrapped and leading").isTrue();
        assertThat(loop.holdsLease()).isTrue();
    }

    @Test
    void aLeaderThatKeepsRenewingIsNeverFenced() {
        startLeader();
        clock.runFor(Duration.ofMinutes(5));
        assertThat(fencedAt.get()).isEqualTo(-1);
        assertThat(pg.isWritablePrimary()).isTrue();
        assertThat(loop.holdsLease()).isTrue();
    }

    @Test
    void aLeaderWhoseReadsTimeOutWhileItsRenewalsAreConfirmedStaysWritable() {
        startLeader();
        store.stallReads("m1", true);
        // Every cycle's read fails for 3 minutes; the keeper's renewals (under the key's compare) still land.
        for (int i = 0; i < 180; i++) {
            clock.runFor(Duration.ofSeconds(1));
            assertThat(pg.isWritablePrimary()).as("no demotion on failed reads while the lock is confirmed ours (%d s)",
                    i + 1).isTrue();
        }
        assertThat(fencedAt.get()).isEqualTo(-1);
        assertThat(store.leaderHeldBy("m1")).isTrue();

        // Renewals now fail too: the guard fences before the store could give the key away.
        long cutAt = clock.nanoTime();
        store.partition("m1", true);
        clock.runUntil(cutAt + ttl.toNanos());
        assertThat(pg.isWritablePrimary()).isFalse();
        assertThat(fencedAt.get()).isBetween(cutAt, cutAt + ttl.toNanos());
    }

    @Test
    void s1_aLeaderCutOffFromTheDcsStopsBeingWritableBeforeAnotherMemberCouldAcquire() {
        startLeader();
        long cutAt = clock.nanoTime();
        store.partition("m1", true);
        // The store expires the key ttl after the last keep-alive that reached it (at cutAt at the latest).
        clock.runUntil(cutAt + ttl.toNanos());
        assertThat(store.leaderHeldBy("m1")).as("the key expired").isFalse();
        assertThat(pg.isWritablePrimary()).as("not writable once another member could take the lock").isFalse();
    }

    @Test
    void s1_aPausedLeaderIsFencedInAStoreOutageLongerThanTheLeaseAndRestartsAsPrimaryWhenTheStoreReturns() {
        startLeader();
        java.util.Map<String, Object> pause = new java.util.HashMap<>();
        pause.put("pause", Boolean.TRUE);
        store.adminPatchConfig(pause);
        clock.runFor(Duration.ofSeconds(12));
        long outageAt = clock.nanoTime();
        store.outage(true);
        clock.runUntil(outageAt + ttl.toNanos());
        assertThat(pg.isWritablePrimary()).as("rule S1 holds in pause too: fenced when the lease ran out").isFalse();

        store.outage(false);
        clock.runFor(Duration.ofSeconds(25));
        assertThat(store.leaderHeldBy("m1")).as("took the free lock back").isTrue();
        assertThat(pg.isWritablePrimary()).as("restarted as primary without waiting for resume").isTrue();
        assertThat(loop.holdsLease()).isTrue();
    }

    @Test
    void aLeaderWhoseProbesTakeLongerThanItsLeaseAllowsKeepsRenewingAndIsNotFenced() {
        startLeader();
        // A loaded host: each probe takes longer than the lease leaves between two renewals (28 s here).
        pg.slowProbes(Duration.ofSeconds(35));
        clock.runFor(Duration.ofMinutes(4));
        assertThat(fencedAt.get()).as("the loop renews instead of waiting out a slow probe").isEqualTo(-1);
        assertThat(pg.isWritablePrimary()).isTrue();
        assertThat(store.leaderHeldBy("m1")).isTrue();
    }

    @Test
    void s1_aShutdownHeldUpByAHangingProbeStillFencesByTheLeaseDeadline() {
        startLeader();
        long lastRenewal = clock.nanoTime();
        pg.slowProbes(Duration.ofMinutes(10));
        clock.startThread("pgha-shutdown-m1", () -> loop.shutdown(false, Duration.ofSeconds(20)));
        clock.runUntil(lastRenewal + ttl.toNanos());
        assertThat(pg.isWritablePrimary()).as("the guard still fences while the shutdown waits for its probe")
                .isFalse();
        assertThat(fencedAt.get()).isPositive().isLessThan(lastRenewal + ttl.toNanos());
    }
    @Test
    void failsafe_withTheDefaultTimingsAPrimaryConfirmedByEveryMemberKeepsWritingThroughAStoreOutage() {
        // A store read that fails only after the whole retryTimeout used to leave the probe no time before the
        // guard's deadline: the cycle read postgres as unknown, asked nobody, and the guard fenced.
        HaSettings s = HaSettings.builder("guard", "m1").ttl(ttl).loopWait(Duration.ofSeconds(10))
                .retryTimeout(Duration.ofSeconds(10)).failsafeMode(true).build();
        java.util.List<java.util.List<String>> rounds = new java.util.concurrent.CopyOnWriteArrayList<>();
        PeerClient everyoneConfirms = new PeerClient() {
            @Override
            public java.util.Map<String, PeerStatus> fetchStatus(java.util.Collection<Member> members,
                    Duration timeout) {
                return java.util.Map.of();
            }

            @Override
            public FailsafeRound confirmFailsafe(java.util.Collection<Member> members, Member self, long sentAtNanos,
                    Duration timeout) {
                java.util.List<String> names = members.stream().map(Member::name).toList();
                rounds.add(names);
                return new FailsafeRound(sentAtNanos, names, java.util.List.of());
            }
        };
        startLeader(s, everyoneConfirms);
        try {
            store.open(new DcsContext(layout, "m2", ttl, s.retryTimeout(), clock)).touchMember(new Member("m2",
                    "postgres://10.0.0.2:5432/postgres", "http://10.0.0.2:8008/patroni", "running", Role.REPLICA,
                    null, null, null, "streaming", 1, Tags.DEFAULT, false, false, java.util.Map.of(),
                    DcsVersion.ABSENT));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        clock.runFor(Duration.ofSeconds(12)); // the leader reads m2 into its view

        store.outage(true);
        clock.runFor(Duration.ofSeconds(90));

        assertThat(rounds).as("failsafe rounds, each asking m2").isNotEmpty().allMatch(r -> r.equals(
                java.util.List.of("m2")));
        assertThat(fencedAt.get()).as("never fenced while every member confirmed").isEqualTo(-1);
        assertThat(pg.isWritablePrimary()).isTrue();
        assertThat(loop.lastReport().decision().reason()).contains("failsafe mode, all 1 members confirmed");
    }
    @Test
    void aPrimaryFencedInAStoreOutageServesReadsMeanwhileAndTakesWritesBackWhenTheStoreReturnsWithItsKey() {
        startLeader();
        long outageAt = clock.nanoTime();
        store.outage(true); // etcd's and ZooKeeper's leases are frozen while the store is down
        clock.runUntil(outageAt + ttl.toNanos() + Duration.ofSeconds(5).toNanos());
        assertThat(fencedAt.get()).as("rule S1: fenced before the lease could run out").isPositive()
                .isLessThan(outageAt + ttl.toNanos());
        assertThat(pg.isUp()).as("started again, read-only, instead of staying stopped").isTrue();
        assertThat(pg.isWritablePrimary()).isFalse();
        assertThat(loop.holdsLease()).isFalse();

        clock.runFor(Duration.ofSeconds(20));
        assertThat(pg.isUp()).as("still serving reads deep into the outage").isTrue();
        assertThat(pg.isWritablePrimary()).isFalse();

        long back = clock.nanoTime();
        store.outage(false);
        // One read may still hang for retryTimeout (this fake fails it whole); then the key is ours again.
        Duration bound = Duration.ofSeconds(10 + 2);
        while (!pg.isWritablePrimary() && clock.nanoTime() - back < bound.toNanos()) {
            clock.runFor(Duration.ofMillis(100));
        }
        assertThat(pg.isWritablePrimary()).as("writable again within retryTimeout + 2 s of the store's return")
                .isTrue();
        assertThat(store.leaderHeldBy("m1")).isTrue();
        assertThat(loop.holdsLease()).isTrue();
    }
}
