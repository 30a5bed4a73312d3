package io.pgha.examples.e2e;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A daemon thread that runs one step, then waits {@code interval}, until it is closed or {@code maxRunTime} has
 * passed (so a watch that nobody closes still ends), then runs {@code atEnd} on the same thread.
 *
 * <p>Closing never interrupts a step: a step may be in the middle of a read through the store's shared observer
 * session, which an interrupt would leave failing the test's own reads for a while.
 */
final class Poller implements AutoCloseable {

    private final Thread thread;
    private final CountDownLatch stop = new CountDownLatch(1);

    Poller(String name, Duration interval, Duration maxRunTime, Runnable step, Runnable atEnd) {
        long deadline = System.nanoTime() + maxRunTime.toNanos();
        thread = new Thread(() -> {
            try {
                do {
                    step.run();
                } while (!stop.await(interval.toMillis(), TimeUnit.MILLISECONDS) && System.nanoTime() < deadline);
            } catch (InterruptedException e) {
                // Only the JVM's end interrupts this thread.
            } finally {
                atEnd.run();
            }
        }, name);
        thread.setDaemon(true);
        thread.start();
    }

    /** Stops after the current step and waits (30 s at most: a step's own timeouts are shorter) for the thread. */
    @Override
    public void close() {
        stop.countDown();
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
