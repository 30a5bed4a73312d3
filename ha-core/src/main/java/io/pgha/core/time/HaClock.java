package io.pgha.core.time;

import java.time.Instant;

/**
 * Time, waiting and threads for the HA loop, behind one interface so the deterministic simulation can replace all
 * three (the test kit's {@code ManualClock}). Production code uses {@link SystemHaClock}.
 *
 * <p>Every wait the HA loop and its lease guard perform goes through {@link #newWakeup()}; every thread they start
 * goes through {@link #startThread}. Nothing in the loop calls {@code Thread.sleep} or {@code System.nanoTime()}.
 */
public interface HaClock {

    /** Monotonic time in nanoseconds; only differences are meaningful. */
    long nanoTime();

    /** Wall-clock time, for timestamps shown to people and for scheduled switchovers. */
    Instant wallTime();

    /** A fresh signal a thread can wait on with a deadline. */
    Wakeup newWakeup();

    /** Creates and starts a thread (daemon in production). */
    Thread startThread(String name, Runnable body);

    /** Waits until {@code deadlineNanos} (monotonic) passes. */
    default void sleepUntil(long deadlineNanos) throws InterruptedException {
        newWakeup().awaitUntil(deadlineNanos);
    }

    /** Waits for {@code nanos}. */
    default void sleep(long nanos) throws InterruptedException {
        sleepUntil(nanoTime() + nanos);
    }
}
