package io.pgha.core.internal.ha;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.WatchdogMode;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.FakePostgresNetwork;
import io.pgha.core.testkit.FakeWatchdog;
import io.pgha.core.testkit.ManualClock;
import java.io.IOException;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * When the leader keeps its watchdog alive: only while the lease covers the device's whole timeout, so that a JVM
 * frozen right after a keepalive is reset before the guard's deadline; disarmed once the lease is given up; and how
 * the automatic and required modes react to a rule or a device that fails. (Test fakes: FakeWatchdog, FakePostgres,
 * ManualClock; the guard's own thread is not started, the lease is moved by hand.)
 */
class LeaseWatchdogTest {

    private static final Duration GUARANTEE = Duration.ofSeconds(30); // margin 2 s: deadline = sentAt + 28 s
    private static final Duration TIMEOUT = Duration.ofSeconds(25);

    private final ManualClock clock = new ManualClock();
    private final FakePostgres pg = new FakePostgresNetwork(clock, 1).create("m1", new HostPort("10.0.0.1", 5432),
            FakePostgres.Timings.DEFAULT, false);
    private final LeaseGuard lease = new LeaseGuard(clock, pg, why -> {}, "test - ");
    private final FakeWatchdog device = new FakeWatchdog(clock, TIMEOUT);
    private final HaSettings settings = HaSettings.builder("wd", "m1").ttl(Duration.ofSeconds(30))
            .loopWait(Duration.ofSeconds(10)).retryTimeout(Duration.ofSeconds(10)).build();

    @AfterEach
    void stop() {
        clock.killAll();
    }

    private LeaseWatchdog watchdog(WatchdogMode mode) {
        return new LeaseWatchdog(device, mode, clock, lease, "test - ");
    }

    /** A renewal sent at {@code sentAt} and confirmed now. */
    private void renewed(long sentAt) {
        lease.extend(sentAt, GUARANTEE);
    }

    private void advance(Duration d) {
        clock.runFor(d);
    }

    @Test
    void aKeepaliveArmsTheDeviceWhenTheLeaseCoversItsTimeout() {
        LeaseWatchdog w = watchdog(WatchdogMode.REQUIRED);
        assertThat(w.readyForWritable()).as("a required watchdog must be armed before anything is writable")
                .isFalse();
        long sent = clock.nanoTime();
        advance(Duration.ofMillis(300));
        renewed(sent);
        assertThat(w.keepaliveIfSafe()).isTrue();
        assertThat(device.armed()).isTrue();
        assertThat(device.keepalives()).containsExactly(clock.nanoTime());
        assertThat(device.resetAtNanos()).isLessThanOrEqualTo(sent + GUARANTEE.toNanos()
                - LeaseGuard.margin(GUARANTEE).toNanos());
        assertThat(w.readyForWritable()).isTrue();
    }

    @Test
    void s1_noKeepaliveWhenTheRenewalCameBackTooLateForTheDeviceToFireBeforeTheDeadline() {
        LeaseWatchdog w = watchdog(WatchdogMode.AUTOMATIC);
        long first = clock.nanoTime();
        renewed(first);
        w.keepaliveIfSafe();
        long firstReset = device.resetAtNanos();
        advance(Duration.ofSeconds(10));
        long sent = clock.nanoTime();
        advance(Duration.ofSeconds(4)); // the renewal took 4 s: deadline sent + 28 s, a keepalive would fire at + 29 s
        renewed(sent);
        long deadline = sent + GUARANTEE.toNanos() - LeaseGuard.margin(GUARANTEE).toNanos();

        assertThat(w.keepaliveIfSafe()).isTrue();
        assertThat(device.keepalives()).as("the late renewal got no keepalive").containsExactly(first);
        assertThat(device.resetAtNanos()).as("the device still counts from the previous, safe keepalive")
                .isEqualTo(firstReset).isLessThanOrEqualTo(deadline);
    }

    @Test
    void aKeepaliveThatFiresExactlyAtTheDeadlineIsStillSafe() {
        LeaseWatchdog w = watchdog(WatchdogMode.AUTOMATIC);
        long sent = clock.nanoTime();
        advance(Duration.ofSeconds(3)); // 3 s + 25 s = the 28 s deadline
        renewed(sent);
        w.keepaliveIfSafe();
        assertThat(device.keepalives()).hasSize(1);
        assertThat(device.resetAtNanos()).isEqualTo(sent + Duration.ofSeconds(28).toNanos());
    }

    @Test
    void noKeepaliveWithoutALease() {
        LeaseWatchdog w = watchdog(WatchdogMode.AUTOMATIC);
        assertThat(w.keepaliveIfSafe()).isTrue();
        assertThat(device.armed()).isFalse();
        renewed(clock.nanoTime());
        lease.clear(); // the guard fenced between the renewal and the keepalive
        w.keepaliveIfSafe();
        assertThat(device.armed()).isFalse();
    }

    @Test
    void theDeviceIsDisarmedOnceTheLeaseIsGivenUp() {
        LeaseWatchdog w = watchdog(WatchdogMode.REQUIRED);
        renewed(clock.nanoTime());
        w.keepaliveIfSafe();
        lease.clear();
        w.disarmUnlessLeased("released");
        assertThat(device.armed()).isFalse();
        assertThat(device.disarms()).isEqualTo(1);
        assertThat(w.readyForWritable()).isFalse();
    }

    @Test
    void aRenewalConfirmedWhileTheGuardWasFencingKeepsTheDeviceArmed() {
        LeaseWatchdog w = watchdog(WatchdogMode.AUTOMATIC);
        renewed(clock.nanoTime());
        w.keepaliveIfSafe();
        // The guard cleared the lease and fenced; meanwhile a late renewal was confirmed and re-extended it.
        renewed(clock.nanoTime());
        w.disarmUnlessLeased("postgres was fenced");
        assertThat(device.armed()).isTrue();
    }

    @Test
    void afterCloseNoKeepaliveArmsTheDeviceAgain() {
        LeaseWatchdog w = watchdog(WatchdogMode.AUTOMATIC);
        renewed(clock.nanoTime());
        w.keepaliveIfSafe();
        w.close();
        assertThat(device.armed()).isFalse();
        renewed(clock.nanoTime()); // a renewal still in flight when the shutdown gave up waiting for the loop
        w.keepaliveIfSafe();
        assertThat(device.armed()).isFalse();
    }

    @Test
    void aRequiredWatchdogThatFailsMakesTheCallerStepDownAndKeepsTheMemberFromLeading() {
        LeaseWatchdog w = watchdog(WatchdogMode.REQUIRED);
        renewed(clock.nanoTime());
        w.keepaliveIfSafe();
        device.failKeepalives(new IOException("Device or resource busy"));
        renewed(clock.nanoTime());
        assertThat(w.keepaliveIfSafe()).as("the caller must fence and release").isFalse();
        assertThat(w.failure()).contains("Device or resource busy");
        assertThat(device.armed()).as("disarmed on the way out").isFalse();
        assertThat(w.readyForWritable()).isFalse();
        assertThatThrownBy(() -> w.checkBeforeAcquire(settings, GUARANTEE, "store"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("not taking the leader lock: the watchdog is required but the keepalive")
                .hasMessageContaining("Device or resource busy");
    }

    @Test
    void anAutomaticWatchdogThatFailsIsGivenUpAndTheLeaderCarriesOn() {
        LeaseWatchdog w = watchdog(WatchdogMode.AUTOMATIC);
        device.failKeepalives(new IOException("No such device"));
        renewed(clock.nanoTime());
        assertThat(w.keepaliveIfSafe()).isTrue();
        assertThat(w.failure()).isNull();
        device.failKeepalives(null);
        renewed(clock.nanoTime());
        w.keepaliveIfSafe();
        assertThat(device.keepalives()).as("given up: no more keepalives").isEmpty();
        assertThat(w.readyForWritable()).isTrue();
        w.checkBeforeAcquire(settings, GUARANTEE, "store");
    }

    @Test
    void aTimeoutNotLongerThanLoopWaitPlusRetryTimeoutIsRefused() {
        HaSettings slow = HaSettings.builder("wd", "m1").ttl(Duration.ofSeconds(60)).loopWait(Duration.ofSeconds(15))
                .retryTimeout(Duration.ofSeconds(10)).build();
        assertThatThrownBy(() -> watchdog(WatchdogMode.REQUIRED).checkAtStart(slow, Duration.ofSeconds(60), "store"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("watchdog required, but the watchdog timeout must be > loopWait + retryTimeout (got 25s"
                        + " <= 15s + 10s, the timeout of fake watchdog): the device would reset a"
                        + " healthy leader between two keepalives");

        LeaseWatchdog automatic = watchdog(WatchdogMode.AUTOMATIC);
        automatic.checkAtStart(slow, Duration.ofSeconds(60), "store");
        renewed(clock.nanoTime());
        automatic.keepaliveIfSafe();
        assertThat(device.armed()).as("automatic: dropped, never armed").isFalse();
    }

    @Test
    void aTimeoutBeyondTheLeaseDeadlineIsRefusedOnceTheGuaranteeIsKnown() {
        FakeWatchdog long29 = new FakeWatchdog(clock, Duration.ofSeconds(29));
        LeaseWatchdog w = new LeaseWatchdog(long29, WatchdogMode.REQUIRED, clock, lease, "test - ");
        w.checkAtStart(settings, Duration.ZERO, "store"); // not granted yet: only the other rule applies
        assertThatThrownBy(() -> w.checkBeforeAcquire(settings, GUARANTEE, "InMemoryDcs"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("the watchdog timeout must be <= the DCS lease guarantee - the lease guard's"
                        + " margin - 1s (got 29s > 30s - 2s - 1s");
        assertThat(w.failure()).as("the member stays out of elections").isNotNull();
    }

    @Test
    void modeOffNeverTouchesADevice() {
        LeaseWatchdog w = new LeaseWatchdog(null, WatchdogMode.OFF, clock, lease, "test - ");
        renewed(clock.nanoTime());
        assertThat(w.keepaliveIfSafe()).isTrue();
        assertThat(w.readyForWritable()).isTrue();
        assertThat(w.problem(settings, GUARANTEE, "store")).isNull();
        assertThatThrownBy(() -> new LeaseWatchdog(Watchdog.OFF, WatchdogMode.REQUIRED, clock, lease, "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs a watchdog device");
    }
}
