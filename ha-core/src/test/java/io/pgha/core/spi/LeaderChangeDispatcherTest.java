package io.pgha.core.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class LeaderChangeDispatcherTest {

    @Test
    void callbacksRunOnTheDispatchersDaemonThreadNotTheCallers() {
        try (LeaderChangeDispatcher d = new LeaderChangeDispatcher("pgha-test-callback", "orders/db1 - ")) {
            List<Thread> ranOn = new CopyOnWriteArrayList<>();
            d.add(() -> ranOn.add(Thread.currentThread()));
            assertThat(d.hasCallbacks()).isTrue();
            d.leaderChanged();
            await().atMost(Duration.ofSeconds(5)).until(() -> !ranOn.isEmpty());
            assertThat(ranOn.get(0)).isNotSameAs(Thread.currentThread());
            assertThat(ranOn.get(0).getName()).startsWith("pgha-test-callback-");
            assertThat(ranOn.get(0).isDaemon()).isTrue();
        }
    }

    @Test
    void aBurstOfChangesWhileARunIsPendingMergesIntoOneRun() throws Exception {
        try (LeaderChangeDispatcher d = new LeaderChangeDispatcher("pgha-test-callback", "orders/db1 - ")) {
            CountDownLatch running = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicInteger runs = new AtomicInteger();
            d.add(() -> {
                runs.incrementAndGet();
                running.countDown();
                try {
                    release.await(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            d.leaderChanged();
            assertThat(running.await(5, TimeUnit.SECONDS)).isTrue();
            for (int i = 0; i < 10; i++) {
                d.leaderChanged(); // never blocks, though the callback does
            }
            release.countDown();
            await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 2);
            Thread.sleep(200);
            assertThat(runs.get()).as("the ten changes during the first run merged into one more").isEqualTo(2);
        }
    }

    @Test
    void aFailingCallbackIsLoggedAndTheOthersStillRun() {
        try (LeaderChangeDispatcher d = new LeaderChangeDispatcher("pgha-test-callback", "orders/db1 - ")) {
            AtomicInteger second = new AtomicInteger();
            d.add(() -> {
                throw new IllegalStateException("callback bug");
            });
            d.add(second::incrementAndGet);
            d.leaderChanged();
            await().atMost(Duration.ofSeconds(5)).until(() -> second.get() == 1);
            d.leaderChanged();
            await().atMost(Duration.ofSeconds(5)).until(() -> second.get() == 2);
        }
    }

    @Test
    void nothingRunsAfterClose() throws Exception {
        LeaderChangeDispatcher d = new LeaderChangeDispatcher("pgha-test-callback", "orders/db1 - ");
        AtomicInteger runs = new AtomicInteger();
        d.add(runs::incrementAndGet);
        d.close();
        d.leaderChanged();
        Thread.sleep(200);
        assertThat(runs.get()).isZero();
    }
}
