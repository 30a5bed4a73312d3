package io.pgha.core.time;

/** A one-slot signal: {@link #signal()} wakes a thread blocked in {@link #awaitUntil}, or the next one to call it. */
public interface Wakeup {

    /** Wakes the waiter now, or makes the next {@link #awaitUntil} return at once. */
    void signal();

    /**
     * Blocks until signalled or until the monotonic deadline passes, whichever is first. A pending signal is
     * consumed.
     *
     * @return true if woken by a signal, false if the deadline passed
     */
    boolean awaitUntil(long deadlineNanos) throws InterruptedException;
}
