package io.pgha.examples.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Issue 12: SIGHUP asks for the member's reload on a thread of its own; the signal's thread never waits for it, and
 * signals that come while one reload waits are folded into it. The real signal is sent to a real agent by
 * {@code PatroniCtlOperationsScenarios}; the handler is not installed in this JVM (it would replace the test JVM's
 * own).
 */
class SighupReloadTest {

    @Test
    void theSignalsThreadReturnsAtOnceAndSignalsWhileOneWaitsAreFoldedIntoIt() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch firstStarted = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        List<String> threads = new CopyOnWriteArrayList<>();
        try (SighupReload hup = new SighupReload("db-1", () -> {
            threads.add(Thread.currentThread().getName());
            calls.incrementAndGet();
            firstStarted.countDown();
            try {
                release.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return "reload scheduled";
        })) {
            long t0 = System.nanoTime();
            hup.signalled();
            assertThat(firstStarted.await(10, TimeUnit.SECONDS)).as("the first reload asked for").isTrue();
            for (int i = 0; i < 5; i++) {
                hup.signalled(); // the first still runs: one waits, the rest are folded into it
            }
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("the signal's thread never waits for a reload")
                    .isLessThan(Duration.ofSeconds(5));
            release.countDown();
            await().atMost(Duration.ofSeconds(10)).until(() -> calls.get() == 2);
            Thread.sleep(300);
            assertThat(calls.get()).as("six signals, one running when five came").isEqualTo(2);
            assertThat(threads).containsOnly("pgha-sighup-reload");
        }
    }

    @Test
    void aRefusedReloadIsLoggedAndTheNextSignalStillReloads() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        try (SighupReload hup = new SighupReload("db-1", () -> {
            if (calls.incrementAndGet() == 1) {
                throw new IllegalStateException("reload: the agent is not running yet (DCS session not open)");
            }
            return "reload scheduled";
        })) {
            hup.signalled();
            await().atMost(Duration.ofSeconds(10)).until(() -> calls.get() == 1);
            hup.signalled();
            await().atMost(Duration.ofSeconds(10)).until(() -> calls.get() == 2);
        }
    }
}
