package io.pgha.core.internal.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.WatchdogMode;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.FakePostgresNetwork;
import io.pgha.core.testkit.FakeWatchdog;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.testkit.ManualClock;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The watchdog at the HA loop: armed by the leader, kept alive with each renewal that leaves room for its timeout,
 * disarmed when the lease is given up, and what it covers that the lease guard cannot (a frozen JVM). ttl 30 s,
 * loopWait 10 s, retryTimeout 10 s; the store guarantees 30 s, so the guard's deadline is a renewal's send time +
 * 28 s and a 25 s device timeout fits both rules. (Test fakes: FakeWatchdog, InMemoryDcs, FakePostgres, ManualClock.)
 */
class HaLoopWatchdogTest {

    private static final Duration TTL = Duration.ofSeconds(30);
    private static final Duration TIMEOUT = Duration.ofSeconds(25);

    private final ManualClock clock = new ManualClock();
    private final KeyLayout layout = KeyLayout.of("wd");
    private final InMemoryDcs store = new InMemoryDcs(layout, clock, TTL);
    private final FakePostgresNetwork net = new FakePostgresNetwork(clock, 11);
    private final AtomicLong fencedAt = new AtomicLong(-1);
    private final HaSettings settings = HaSettings.builder("wd", "m1").ttl(TTL).loopWait(Duration.ofSeconds(10))
            .retryTimeout(Duration.ofSeconds(10)).build();
    private FakeWatchdog device = new FakeWatchdog(clock, TIMEOUT);
    private FakePostgres pg;
    private InMemoryDcs.Session session;
    private HaLoop loop;

    private void create(WatchdogMode mode) {
        pg = net.create("m1", new HostPort("10.0.0.1", 5432), FakePostgres.Timings.DEFAULT, false);
        session = store.open(new DcsContext(layout, "m1", TTL, settings.retryTimeout(), clock));
        loop = new HaLoop(settings, session, pg,
                PeerClient.NONE, clock, new MemberEndpoints("postgres://10.0.0.1:5432/postgres", null),
                new HaObserver() {
                    @Override
                    public void fenced(String why) {
                        fencedAt.compareAndSet(-1, clock.nanoTime());
                    }
                }, device, mode);
        clock.setDefaultGroup("m1");
    }

    /** m1 bootstraps the cluster and leads. */
    private void startLeader(WatchdogMode mode) {
        create(mode);
        loop.start();
        clock.runFor(Duration.ofSeconds(15));
        assertThat(pg.isWritablePrimary() && store.leaderHeldBy("m1")).as("bootstrapped and leading").isTrue();
    }

    @AfterEach
    void stop() {
        clock.killAll();
    }

    @Test
    void aLeaderArmsTheDeviceAndKeepsItAliveWithEveryRenewal() {
        startLeader(WatchdogMode.REQUIRED);
        assertThat(device.armed()).isTrue();
        clock.runFor(Duration.ofMinutes(5));
        List<Long> k = device.keepalives();
        assertThat(k.size()).as("one keepalive per renewal, about every loopWait").isGreaterThanOrEqualTo(30);
        for (int i = 1; i < k.size(); i++) {
            assertThat(k.get(i) - k.get(i - 1)).as("gap between keepalives").isLessThan(TIMEOUT.toNanos());
        }
        assertThat(device.resetAtNanos()).as("a healthy leader is never reset").isGreaterThan(clock.nanoTime());
        assertThat(fencedAt.get()).isEqualTo(-1);
    }

    @Test
    void s1_aFrozenJvmIsResetByTheDeviceBeforeTheStoreCanGiveTheLockAway() {
        startLeader(WatchdogMode.REQUIRED);
        AtomicLong lockGoneAt = new AtomicLong(-1);
        clock.afterEachEvent(() -> {
            if (lockGoneAt.get() < 0 && !store.leaderHeldBy("m1")) {
                lockGoneAt.set(clock.nanoTime());
            }
        });
        // Stop-the-world: every thread of the member stops (the lease guard too), and so do its store client's
        // keep-alives; PostgreSQL, another process, goes on accepting writes.
        clock.freeze("m1", "", clock.nanoTime() + Duration.ofMinutes(10).toNanos());
        store.partition("m1", true);
        clock.runFor(Duration.ofMinutes(2));

        assertThat(lockGoneAt.get()).as("the store gave the lock away").isPositive();
        assertThat(fencedAt.get()).as("the guard could not act: it was frozen too").isEqualTo(-1);
        assertThat(pg.isWritablePrimary()).as("the hole the guard leaves").isTrue();
        assertThat(device.armed()).isTrue();
        assertThat(device.resetAtNanos()).as("the device resets the host before the lock can be taken")
                .isLessThan(lockGoneAt.get());
    }

    @Test
    void s1_noKeepaliveForRenewalsThatComeBackTooLateForTheDeviceToFireBeforeTheDeadline() {
        startLeader(WatchdogMode.AUTOMATIC);
        int before = device.keepalives().size();
        long resetAt = device.resetAtNanos();
        // Each call now takes 4 s to answer: a renewal's deadline is its send time + 28 s, but a keepalive when the
        // answer arrives would let the device fire only at send time + 29 s.
        store.setLatency("m1", Duration.ZERO, Duration.ofSeconds(4));
        clock.runFor(Duration.ofSeconds(20));
        assertThat(store.leaderHeldBy("m1")).as("still renewing").isTrue();
        assertThat(device.keepalives()).as("no keepalive after a late renewal").hasSize(before);
        assertThat(device.resetAtNanos()).as("the device counts from the last safe keepalive").isEqualTo(resetAt);
    }

    @Test
    void theGuardsFenceDisarmsTheDevice() {
        startLeader(WatchdogMode.REQUIRED);
        store.setLatency("m1", Duration.ZERO, Duration.ofMinutes(10));
        store.partition("m1", true);
        clock.runFor(Duration.ofSeconds(40));
        assertThat(fencedAt.get()).as("fenced by the guard").isPositive();
        assertThat(pg.isWritablePrimary()).isFalse();
        assertThat(device.armed()).as("nothing writable is left: no reset needed").isFalse();
    }

    @Test
    void s1_aShutdownDisarmsOnlyAfterPostgresStoppedAndBeforeTheLockIsReleased() {
        startLeader(WatchdogMode.REQUIRED);
        List<String> atDisarm = new CopyOnWriteArrayList<>();
        device.onDisarm(() -> atDisarm.add("postgres up: " + pg.isUp() + ", lock held: " + store.leaderHeldBy("m1")));
        clock.startThread("closer", () -> loop.shutdown(false, Duration.ofSeconds(20)));
        clock.runFor(Duration.ofSeconds(10));
        assertThat(atDisarm).containsExactly("postgres up: false, lock held: true");
        assertThat(store.leaderHeldBy("m1")).isFalse();
        assertThat(device.armed()).isFalse();
    }

    @Test
    void aRequiredWatchdogThatFailsMakesTheLeaderFenceReleaseAndStayOutOfElections() {
        startLeader(WatchdogMode.REQUIRED);
        device.failKeepalives(new IOException("Device or resource busy"));
        clock.runFor(Duration.ofSeconds(12));
        assertThat(pg.isWritablePrimary()).isFalse();
        assertThat(pg.isFenced()).isTrue();
        assertThat(store.leaderHeldBy("m1")).isFalse();
        assertThat(loop.effectiveSettings().tags().nofailover()).as("published as nofailover").isTrue();
        device.failKeepalives(null);
        clock.runFor(Duration.ofMinutes(1));
        assertThat(store.peek().leader()).as("it does not take the lock again").isNull();
        assertThat(store.peek().members().get("m1").tags().nofailover()).as("peers see it in its member key")
                .isTrue();
    }

    @Test
    void anAutomaticWatchdogThatFailsIsDroppedAndTheLeaderCarriesOn() {
        startLeader(WatchdogMode.AUTOMATIC);
        device.failKeepalives(new IOException("No such device"));
        clock.runFor(Duration.ofMinutes(1));
        assertThat(pg.isWritablePrimary()).isTrue();
        assertThat(store.leaderHeldBy("m1")).isTrue();
        assertThat(loop.effectiveSettings().tags().nofailover()).isFalse();
    }

    @Test
    void aRequiredWatchdogThatCouldNotBeArmedKeepsAPromotionWaiting() {
        // m1 leads without a watchdog; m2, a replica with a required one, is to take over when m1's host dies.
        startLeader(WatchdogMode.OFF);
        InMemoryDcs.Session s1 = session;
        FakePostgres pg1 = pg;
        FakeWatchdog device2 = new FakeWatchdog(clock, TIMEOUT);
        FakePostgres pg2 = net.create("m2", new HostPort("10.0.0.2", 5432), FakePostgres.Timings.DEFAULT, false);
        HaSettings s2 = HaSettings.builder("wd", "m2").ttl(TTL).loopWait(Duration.ofSeconds(10))
                .retryTimeout(Duration.ofSeconds(10)).build();
        HaLoop loop2 = new HaLoop(s2, store.open(new DcsContext(layout, "m2", TTL, s2.retryTimeout(), clock)), pg2,
                PeerClient.NONE, clock, new MemberEndpoints("postgres://10.0.0.2:5432/postgres", null),
                HaObserver.NONE, device2, WatchdogMode.REQUIRED);
        clock.setDefaultGroup("m2");
        loop2.start();
        net.runFor(clock, Duration.ofSeconds(60));
        assertThat(pg2.isStreaming()).as("m2 replicates").isTrue();

        List<String> unguarded = new CopyOnWriteArrayList<>();
        AtomicLong acquiredAt = new AtomicLong(-1);
        clock.afterEachEvent(() -> {
            if (pg2.isWritablePrimary() && !device2.armed()) {
                unguarded.add("writable without an armed watchdog at " + clock.nanoTime());
            }
            if (acquiredAt.get() < 0 && "m2".equals(store.peekLeader())) {
                acquiredAt.set(clock.nanoTime());
            }
        });
        // Every answer to m2 now takes 4 s: after its acquire no keepalive is safe, so its device is never armed.
        store.setLatency("m2", Duration.ZERO, Duration.ofSeconds(4));
        clock.kill("m1");
        s1.abandon();
        pg1.crash();
        net.runFor(clock, Duration.ofSeconds(90));
        assertThat(acquiredAt.get()).as("m2 took the lock").isPositive();
        assertThat(device2.armed()).isFalse();
        assertThat(pg2.isWritablePrimary()).as("no primary without an armed watchdog").isFalse();

        store.setLatency("m2", Duration.ZERO, Duration.ZERO);
        net.runFor(clock, Duration.ofMinutes(2));
        assertThat(unguarded).isEmpty();
        assertThat(device2.armed()).isTrue();
        assertThat(pg2.isWritablePrimary()).as("promoted once armed").isTrue();
    }

    @Test
    void aRequiredWatchdogWhoseTimeoutExceedsTheLeaseDeadlineStopsTheStart() {
        device = new FakeWatchdog(clock, Duration.ofSeconds(29));
        create(WatchdogMode.REQUIRED);
        assertThatThrownBy(loop::start).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("watchdog required, but the watchdog timeout must be <= the DCS lease"
                        + " guarantee - the lease guard's margin - 1s (got 29s > 30s - 2s - 1s");
    }

    @Test
    void aGuaranteeLearnedAfterTheStartThatIsTooShortForTheDeviceKeepsTheMemberFromTakingTheLock() {
        device = new FakeWatchdog(clock, Duration.ofSeconds(29));
        store.overrideLeaseGuarantee(Duration.ZERO);
        create(WatchdogMode.REQUIRED);
        loop.start();
        store.overrideLeaseGuarantee(null);
        clock.runFor(Duration.ofSeconds(30));
        // (Bootstrap leaves a writable primary before the lock is taken, as under Patroni: nobody else can be one
        // before the cluster is initialized.)
        assertThat(store.leaderHeldBy("m1")).isFalse();
        assertThat(loop.lastReport().detail()).contains("not taking the leader lock: the watchdog is required but");
    }

    @Test
    void aDynamicConfigThatBreaksTheWatchdogRuleIsIgnored() {
        startLeader(WatchdogMode.REQUIRED);
        // 20 s + 2 x 5 s fits the 30 s ttl and guarantee, but 20 s + 5 s is not shorter than the 25 s timeout.
        store.adminPatchConfig(Map.of("loop_wait", 20, "retry_timeout", 5));
        clock.runFor(Duration.ofSeconds(30));
        assertThat(loop.effectiveSettings().loopWait()).isEqualTo(Duration.ofSeconds(10));
        assertThat(device.resetAtNanos()).isGreaterThan(clock.nanoTime());
    }
}
