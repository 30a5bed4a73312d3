package io.pgha.core.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.testkit.ManualClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class DcsCallGuardTest {

    private final ManualClock clock = new ManualClock();
    private final DcsContext context = new DcsContext(KeyLayout.of("orders"), "db1", Duration.ofSeconds(30),
            Duration.ofSeconds(10), clock);

    @Test
    void aCallsDeadlineIsRetryTimeoutFromItsStartOnTheMembersClock() throws Exception {
        DcsCallGuard calls = new DcsCallGuard(context, "this test client");
        clock.runFor(Duration.ofSeconds(3));
        long start = clock.nanoTime();
        assertThat(calls.begin("read the cluster")).isEqualTo(start + Duration.ofSeconds(10).toNanos());
        clock.runFor(Duration.ofSeconds(4));
        assertThat(calls.remainingNanos(start + Duration.ofSeconds(10).toNanos()))
                .isEqualTo(Duration.ofSeconds(6).toNanos());
        assertThat(calls.backgroundDeadline()).isEqualTo(clock.nanoTime() + Duration.ofSeconds(10).toNanos());
    }

    @Test
    void theIdleTimeCountsFromTheLastLeaseCallNotFromReadsOrBackgroundWork() throws Exception {
        DcsCallGuard calls = new DcsCallGuard(context, "this test client");
        clock.runFor(Duration.ofSeconds(5));
        assertThat(calls.sinceLastCall()).as("before the first call: since the guard was made")
                .isEqualTo(Duration.ofSeconds(5));
        calls.beginLeaseCall("renew the leader key");
        clock.runFor(Duration.ofSeconds(2));
        calls.backgroundDeadline();
        calls.begin("read the cluster");
        clock.runFor(Duration.ofSeconds(1));
        assertThat(calls.sinceLastCall()).as("background work and reads do not count").isEqualTo(Duration.ofSeconds(3));
    }

    @Test
    void afterCloseEveryCallIsRefused() throws Exception {
        DcsCallGuard calls = new DcsCallGuard(context, "this test client");
        assertThat(calls.close()).as("the first close releases the resources").isTrue();
        assertThat(calls.close()).as("later ones do nothing").isFalse();
        assertThat(calls.isClosed()).isTrue();
        assertThatThrownBy(() -> calls.begin("renew the leader key")).isInstanceOf(DcsUnavailableException.class)
                .hasMessage("renew the leader key: this test client is closed");
        assertThatThrownBy(() -> calls.requireOpen("grant a lease")).hasMessage("grant a lease: this test client "
                + "is closed");
    }
}
