package io.pgha.examples.e2e;

import java.time.Duration;

/**
 * A daemon thread that runs one step, then sleeps {@code interval}, until it is closed or {@code maxRunTime} has
 * passed (so a watch that nobody closes still ends), then runs {@code atEnd} on the same thread.
 */
final class Poller implements AutoCloseable {

    private final Thread thread;
    private volatile boolean stopped;

    Poller(String name, Duration interval, Duration maxRunTime, Runnable step, Runnable atEnd) {
        long deadline = System.nanoTime() + maxRunTime.toNanos();
        thread = new Thread(() -> {
            try {
                while (!stopped && System.nanoTime() < deadline) {
                    step.run();
                    Thread.sleep(interval.toMillis());
                }
            } catch (InterruptedException e) {
                // Closed.
            } finally {
                atEnd.run();
            }
        }, name);
        thread.setDaemon(true);
        thread.start();
    }

    /** Stops after the current step and waits (20 s at most) for the thread to end. */
    @Override
    public void close() {
        stopped = true;
        thread.interrupt();
        try {
            thread.join(20_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
