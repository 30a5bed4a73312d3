package io.pgha.core.internal.ha;

import io.pgha.core.config.Durations;
import io.pgha.core.config.HaSettings;
import java.io.IOException;
import java.time.Duration;

/**
 * A watchdog device the leader keeps alive (a port: the Linux device is {@code internal.watchdog.DeviceWatchdog}, the
 * simulation plugs in a fake). Once armed, the device resets the host unless another keepalive or a disarm comes
 * within {@link #timeout()} of the last keepalive; so it still fires when the whole JVM is paused, and when the agent
 * died while PostgreSQL outlives it.
 *
 * <p>The HA loop decides when to call it (see {@code LeaseWatchdog}: keepalives only while the lease covers the
 * device's timeout, a disarm once the lease is given up) and serializes the calls: an implementation need not be
 * thread-safe.
 */
public interface Watchdog {

    /** How long after a keepalive the device resets the host; known before the first keepalive, and constant. */
    Duration timeout();

    /** Arms the device if it is not armed (the first call after a disarm opens it) and restarts its countdown. */
    void keepalive() throws IOException;

    /**
     * Stops the countdown and releases the device; nothing when it is not armed. On failure the device may still be
     * counting down: the implementation must not pretend otherwise.
     */
    void disarm() throws IOException;

    /** For logs, e.g. {@code /dev/watchdog (Software Watchdog)}. */
    String describe();

    /** Mode off: never armed, nothing to reset. */
    Watchdog OFF = new Watchdog() {
        @Override
        public Duration timeout() {
            return Duration.ZERO;
        }

        @Override
        public void keepalive() {}

        @Override
        public void disarm() {}

        @Override
        public String describe() {
            return "no watchdog";
        }
    };

    /**
     * The two timing rules for a device with this {@code timeout}; null when they hold. The host must not be reset
     * during healthy operation, where keepalives come about every {@code loopWait} and a slow DCS call adds up to
     * {@code retryTimeout}; and it must be reset before the store can give the lock away, so {@code timeout} may not
     * exceed the lease deadline the guard keeps after a renewal ({@code guarantee - margin}). The second rule is
     * checked only once the store has granted a lease (a zero {@code guarantee} means not yet).
     */
    /**
     * What a renewal may take to come back and still be followed by a keepalive: a timeout that leaves it less would
     * skip nearly every keepalive (and a required watchdog would never arm).
     */
    Duration RENEWAL_ROUND_TRIP = Duration.ofSeconds(1);

    static String timingProblem(String device, Duration timeout, HaSettings s, Duration guarantee, String store) {
        Duration cycle = s.loopWait().plus(s.retryTimeout());
        if (timeout.compareTo(cycle) <= 0) {
            return "the watchdog timeout must be > loopWait + retryTimeout (got " + Durations.format(timeout)
                    + " <= " + Durations.format(s.loopWait()) + " + " + Durations.format(s.retryTimeout()) + ", the "
                    + "timeout of " + device + "): the device would reset a healthy leader between two keepalives";
        }
        if (guarantee.isZero()) {
            return null;
        }
        Duration margin = LeaseGuard.margin(guarantee);
        if (timeout.compareTo(guarantee.minus(margin).minus(RENEWAL_ROUND_TRIP)) > 0) {
            return "the watchdog timeout must be <= the DCS lease guarantee - the lease guard's margin - "
                    + Durations.format(RENEWAL_ROUND_TRIP) + " (got " + Durations.format(timeout) + " > "
                    + Durations.format(guarantee) + " - " + Durations.format(margin) + " - "
                    + Durations.format(RENEWAL_ROUND_TRIP) + ", the timeout of " + device + " and what " + store
                    + " guarantees after a renewal): a keepalive is sent only if the host would be reset before the"
                    + " store could give the lock away, and a renewal needs time to come back";
        }
        return null;
    }
}
