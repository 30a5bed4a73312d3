package io.pgha.core.internal.ha;

import io.pgha.core.config.Durations;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.WatchdogMode;
import io.pgha.core.time.HaClock;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rule S1 where the lease guard cannot act (the whole JVM paused, the agent dead while PostgreSQL outlives it): the
 * leader keeps a {@link Watchdog} alive, so that the host is reset before the store can give the lock away.
 *
 * <p>A keepalive is sent after each confirmed renewal, and only when the lease covers the device's whole timeout
 * ({@code now + timeout <= deadline}): if the JVM froze right after it, the device would still fire before the
 * guard's deadline. When the renewal came back too late for that, the keepalive is skipped and the device keeps
 * counting from the previous one, which was safe when it was sent. The device is disarmed once the lease is given up
 * (released, fenced, shut down) and nothing under it is writable any more.
 *
 * <p>Modes: {@code AUTOMATIC} gives up the watchdog (one warning) when it breaks a timing rule or fails, and leads on
 * without it; {@code REQUIRED} refuses to start, refuses the lock, or gives up leading (fence, release) instead, and
 * marks the member so that it takes no part in elections until restarted. All methods are safe from any thread.
 */
final class LeaseWatchdog {

    private static final Logger LOG = LoggerFactory.getLogger(LeaseWatchdog.class);

    private final Watchdog device;
    private final boolean required;
    private final HaClock clock;
    private final LeaseGuard lease;
    private final String prefix;

    private boolean inUse;
    private boolean closed;
    private volatile boolean armed;
    private volatile String failure;

    LeaseWatchdog(Watchdog device, WatchdogMode mode, HaClock clock, LeaseGuard lease, String prefix) {
        Objects.requireNonNull(mode, "watchdog mode");
        this.device = mode == WatchdogMode.OFF ? Watchdog.OFF : Objects.requireNonNull(device, "watchdog");
        if (mode != WatchdogMode.OFF && device == Watchdog.OFF) {
            throw new IllegalArgumentException("watchdog mode " + mode + " needs a watchdog device, not Watchdog.OFF");
        }
        this.required = mode == WatchdogMode.REQUIRED;
        this.inUse = mode != WatchdogMode.OFF;
        this.clock = clock;
        this.lease = lease;
        this.prefix = prefix;
    }

    /** The timing rules ({@link Watchdog#timingProblem}) while a watchdog is in use; null when they hold or none is. */
    synchronized String problem(HaSettings s, Duration guarantee, String store) {
        return inUse ? Watchdog.timingProblem(device.describe(), device.timeout(), s, guarantee, store) : null;
    }

    /** At the loop's start: a required watchdog that breaks a rule stops the start; an automatic one is dropped. */
    void checkAtStart(HaSettings s, Duration guarantee, String store) {
        String p = problem(s, guarantee, store);
        if (p == null) {
            if (isInUse()) {
                LOG.info("{}watchdog {} with a {} timeout in use ({} mode); armed while this member leads", prefix,
                        device.describe(), Durations.format(device.timeout()), required ? "required" : "automatic");
            }
            return;
        }
        if (required) {
            throw new IllegalStateException("watchdog required, but " + p);
        }
        giveUp(p);
    }

    /**
     * Before racing for the lock (the store's guarantee may only be known now): a required watchdog that failed or
     * breaks a rule keeps this member from taking it.
     */
    void checkBeforeAcquire(HaSettings s, Duration guarantee, String store) {
        String failed = failure;
        if (failed != null) {
            throw new IllegalStateException("not taking the leader lock: the watchdog is required but " + failed);
        }
        String p = problem(s, guarantee, store);
        if (p == null) {
            return;
        }
        if (required) {
            fail(p);
            throw new IllegalStateException("not taking the leader lock: the watchdog is required but " + p);
        }
        giveUp(p);
    }

    /**
     * After a confirmed renewal (or acquire, or a failsafe extension): a keepalive if the lease covers the device's
     * timeout, none otherwise. False only when a required watchdog failed: the caller must give up leading.
     */
    synchronized boolean keepaliveIfSafe() {
        if (!inUse || closed) {
            return true;
        }
        long now = clock.nanoTime();
        Duration timeout = device.timeout();
        if (!lease.coversUntil(now + timeout.toNanos())) {
            Long left = lease.remainingNanos(now);
            if (left == null) {
                LOG.info("{}no watchdog keepalive: no lease is held", prefix);
            } else {
                LOG.warn("{}no watchdog keepalive: the lease deadline is {} away, closer than the timeout {} of {};"
                        + " the device counts from the previous keepalive", prefix,
                        Durations.format(Duration.ofNanos(Math.max(0, left))), Durations.format(timeout),
                        device.describe());
            }
            return true;
        }
        try {
            device.keepalive();
        } catch (IOException | RuntimeException e) {
            // The device may have been opened (armed) before the write failed: the disarm below must try it.
            armed = true;
            String why = "the keepalive to " + device.describe() + " failed: " + e.getMessage();
            if (required) {
                fail(why);
                return false;
            }
            giveUp(why);
            return true;
        }
        if (!armed) {
            LOG.info("{}watchdog {} armed: the host is reset if no keepalive comes within {}", prefix,
                    device.describe(), Durations.format(timeout));
            armed = true;
        }
        return true;
    }

    /**
     * The lease was given up (released, or PostgreSQL fenced): disarms, unless a lease is held again by now (a
     * renewal confirmed while the guard was fencing re-arms the device, and must not be undone).
     */
    synchronized void disarmUnlessLeased(String why) {
        if (!lease.holds()) {
            disarm(why);
        }
    }

    /** On shutdown, after PostgreSQL was stopped or fenced: disarms for good (later keepalives are ignored). */
    synchronized void close() {
        disarm("shutdown");
        closed = true;
    }

    /**
     * Whether PostgreSQL may be made writable as far as the watchdog goes: always without a required one; with one,
     * only while it is armed (so a primary never runs without a device that would reset it).
     */
    boolean readyForWritable() {
        return !required || (armed && failure == null);
    }

    /** Why the required watchdog failed (the member then leads no more until restarted); null if it did not. */
    String failure() {
        return failure;
    }

    /** Whether a device is in use: {@link #problem} checks its rules only then. */
    synchronized boolean isInUse() {
        return inUse;
    }

    private synchronized void fail(String why) {
        LOG.error("{}watchdog required, but {}: this member does not lead (tagged nofailover) until restarted", prefix,
                why);
        failure = why;
        disarm("the required watchdog failed");
        inUse = false;
    }

    private synchronized void giveUp(String why) {
        LOG.warn("{}watchdog {} not used: {}; running without it (automatic mode)", prefix, device.describe(), why);
        disarm("the watchdog is given up");
        inUse = false;
    }

    private void disarm(String why) {
        if (!armed) {
            return;
        }
        armed = false;
        try {
            device.disarm();
            LOG.info("{}watchdog {} disarmed ({})", prefix, device.describe(), why);
        } catch (IOException | RuntimeException e) {
            LOG.error("{}could not disarm the watchdog {} ({}): {}; the host will be reset within {} of the last"
                    + " keepalive", prefix, device.describe(), why, e.getMessage(),
                    Durations.format(device.timeout()));
        }
    }
}
