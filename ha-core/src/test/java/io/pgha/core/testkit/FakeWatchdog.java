package io.pgha.core.testkit;

import io.pgha.core.internal.ha.Watchdog;
import io.pgha.core.time.HaClock;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * <b>Test fake</b> standing in for a Linux watchdog device: it resets nothing, it tells when the host would have been
 * reset. Armed by the first keepalive, disarmed by {@link #disarm()}; while armed the host would be reset at
 * {@link #resetAtNanos()}, {@code timeout} after the last keepalive. Like the kernel, the death of the process that
 * holds the device ({@link #processDied()}) closes it without the magic character: that pings it once more and it
 * keeps counting.
 */
public final class FakeWatchdog implements Watchdog {

    private final HaClock clock;
    private final Duration timeout;
    private final List<Long> keepalives = new ArrayList<>();
    private boolean armed;
    private long lastPing = Long.MIN_VALUE;
    private int disarms;
    private IOException failKeepalives;
    private Runnable onDisarm = () -> {};

    public FakeWatchdog(HaClock clock, Duration timeout) {
        this.clock = clock;
        this.timeout = timeout;
    }

    @Override
    public Duration timeout() {
        return timeout;
    }

    @Override
    public synchronized void keepalive() throws IOException {
        if (failKeepalives != null) {
            throw failKeepalives;
        }
        armed = true;
        lastPing = clock.nanoTime();
        keepalives.add(lastPing);
    }

    @Override
    public void disarm() {
        Runnable hook;
        synchronized (this) {
            if (!armed) {
                return;
            }
            armed = false;
            disarms++;
            hook = onDisarm;
        }
        hook.run();
    }

    @Override
    public String describe() {
        return "fake watchdog";
    }

    /** From now on every keepalive fails with {@code e} (null: they succeed again), like a device gone or busy. */
    public synchronized void failKeepalives(IOException e) {
        failKeepalives = e;
    }

    /** Runs {@code hook} at each disarm of an armed device (to look at the world at that moment). */
    public synchronized void onDisarm(Runnable hook) {
        onDisarm = hook;
    }

    /** The holding process died: the kernel closes the device without 'V', pings it once more, and it keeps counting. */
    public synchronized void processDied() {
        if (armed) {
            lastPing = clock.nanoTime();
        }
    }

    public synchronized boolean armed() {
        return armed;
    }

    /** When the host would be reset if nothing else reaches the device; {@code Long.MAX_VALUE} while disarmed. */
    public synchronized long resetAtNanos() {
        return armed ? lastPing + timeout.toNanos() : Long.MAX_VALUE;
    }

    /** The monotonic times of the successful keepalives, oldest first. */
    public synchronized List<Long> keepalives() {
        return List.copyOf(keepalives);
    }

    public synchronized int disarms() {
        return disarms;
    }
}
