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

class ChangeDispatcherTest {

    @Test
    void callbacksRunOnTheDispatchersDaemonThreadNotTheCallers() {
        try (ChangeDispatcher d = new ChangeDispatcher("pgha-test-callback", "orders/db1 - ", "leader watch")) {
            List<Thread> ranOn = new CopyOnWriteArrayList<>();
            d.add(() -> ranOn.add(Thread.currentThread()));
            assertThat(d.hasCallbacks()).isTrue();
            d.changed();
            await().atMost(Duration.ofSeconds(5)).until(() -> !ranOn.isEmpty());
            assertThat(ranOn.get(0)).isNotSameAs(Thread.currentThread());
            assertThat(ranOn.get(0).getName()).startsWith("pgha-test-callback-");
            assertThat(ranOn.get(0).isDaemon()).isTrue();
        }
    }

    @Test
    void aBurstOfChangesWhileARunIsPendingMergesIntoOneRun() throws Exception {
        try (ChangeDispatcher d = new ChangeDispatcher("pgha-test-callback", "orders/db1 - ", "leader watch")) {
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
            d.changed();
            assertThat(running.await(5, TimeUnit.SECONDS)).isTrue();
            for (int i = 0; i < 10; i++) {
                d.changed(); // never blocks, though the callback does
            }
            release.countDown();
            await().atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 2);
            Thread.sleep(200);
            assertThat(runs.get()).as("the ten changes during the first run merged into one more").isEqualTo(2);
        }
    }

    @Test
    void aFailingCallbackIsLoggedAndTheOthersStillRun() {
        try (ChangeDispatcher d = new ChangeDispatcher("pgha-test-callback", "orders/db1 - ", "leader watch")) {
            AtomicInteger second = new AtomicInteger();
            d.add(() -> {
                throw new IllegalStateException("callback bug");
            });
            d.add(second::incrementAndGet);
            d.changed();
            await().atMost(Duration.ofSeconds(5)).until(() -> second.get() == 1);
            d.changed();
            await().atMost(Duration.ofSeconds(5)).until(() -> second.get() == 2);
        }
    }

    @Test
    void nothingRunsAfterClose() throws Exception {
        ChangeDispatcher d = new ChangeDispatcher("pgha-test-callback", "orders/db1 - ", "leader watch");
        AtomicInteger runs = new AtomicInteger();
        d.add(runs::incrementAndGet);
        d.close();
        d.changed();
        Thread.sleep(200);
        assertThat(runs.get()).isZero();
    }

    @Test
    void theStoreWatchStartsOnceAndStopsWithTheDispatcherNeverAfterClose() {
        AtomicInteger started = new AtomicInteger();
        AtomicInteger stopped = new AtomicInteger();
        ChangeDispatcher d = new ChangeDispatcher("pgha-test-callback", "orders/db1 - ", "member watch");
        d.startWatchOnce(() -> {
            started.incrementAndGet();
            return stopped::incrementAndGet;
        });
        d.startWatchOnce(() -> {
            started.incrementAndGet();
            return stopped::incrementAndGet;
        });
        assertThat(started.get()).as("a second watch call starts nothing").isEqualTo(1);
        assertThat(stopped.get()).isZero();
        d.close();
        assertThat(stopped.get()).isEqualTo(1);
        d.startWatchOnce(() -> {
            started.incrementAndGet();
            return stopped::incrementAndGet;
        });
        d.close();
        assertThat(started.get()).as("nothing starts after close").isEqualTo(1);
        assertThat(stopped.get()).isEqualTo(1);
    }
}
