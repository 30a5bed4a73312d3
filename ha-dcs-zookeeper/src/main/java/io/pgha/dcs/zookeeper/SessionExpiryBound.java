package io.pgha.dcs.zookeeper;

import io.pgha.core.config.Durations;
import java.time.Duration;

/**
 * The earliest the ZooKeeper servers can delete this member's ephemeral keys after a successful acquire or renew,
 * counted from the moment the call was sent: the adapter's lease guarantee (docs/decisions 0203).
 *
 * <p>Only the ZooKeeper leader expires sessions, at the last touch it saw plus the session timeout T (rounded up to
 * its next tick, which only makes it later). A client on a follower touches its session there; the follower relays
 * the touches only in its answers to the leader's pings (every half tick). A successful renew proves the follower
 * reached the leader when it forwarded the renew's {@code sync}, not that the renew's own touch was relayed after
 * it, so the leader may have last heard of the session from the relay before: up to half a tick plus the client's
 * longest silence earlier (the ZooKeeper client sends nothing for up to T/3 when idle), and, when the leader's pings
 * stopped reaching the follower before the renew, up to the follower's link timeout ({@code syncLimit × tickTime})
 * earlier. Another half tick covers the two one-way delays. Every term is measured on a different machine's clock,
 * so the session timeout is shortened and the allowance lengthened by {@link #CLOCK_RATE_ALLOWANCE}.
 *
 * <p>A standalone server expires sessions itself from the touch of the renew, which it handled after it was sent.
 *
 * @param sessionTimeout the session timeout the server granted (or the one requested, before it granted one)
 * @param standalone     a single server: no follower relays anything
 * @param tickTime       the servers' {@code tickTime}
 * @param syncLimit      the servers' {@code syncLimit}, in ticks
 */
record SessionExpiryBound(Duration sessionTimeout, boolean standalone, Duration tickTime, int syncLimit) {

    /**
     * How much faster one machine's monotonic clock may run than another's: 1%, ten times what two clocks kept by
     * NTP's kernel discipline (each within 500 ppm of its nominal rate) can differ by. chrony's fast slewing of a large
     * offset ({@code maxslewrate}, 83333 ppm by default) is beyond it.
     */
    static final double CLOCK_RATE_ALLOWANCE = 0.01;

    private static final long PERCENT_SHORTER = 99;
    private static final long PERCENT_LONGER = 101;

    /** What the session timeout loses to the follower's relay and link timeout: zero on a standalone server. */
    Duration allowance() {
        if (standalone) {
            return Duration.ZERO;
        }
        long oneThirdUp = (sessionTimeout.toNanos() + 2) / 3;
        return tickTime.multipliedBy(syncLimit).plus(tickTime).plusNanos(oneThirdUp);
    }

    /** The lease guarantee; zero or negative when these settings leave none. */
    Duration guarantee() {
        long scaled = PERCENT_SHORTER * sessionTimeout.toNanos() - PERCENT_LONGER * allowance().toNanos();
        return Duration.ofNanos(Math.floorDiv(scaled, 100));
    }

    /** The arithmetic with its numbers, for logs and errors. */
    String explain() {
        String shorter = "×" + (PERCENT_SHORTER / 100.0);
        String t = Durations.format(sessionTimeout);
        if (standalone) {
            return "sessionTimeout" + shorter + " = " + t + shorter + " = " + Durations.format(guarantee())
                    + " (a standalone server)";
        }
        String longer = "×" + (PERCENT_LONGER / 100.0);
        String tick = Durations.format(tickTime);
        return "sessionTimeout" + shorter + " − (syncLimit×tickTime + tickTime + sessionTimeout/3)" + longer + " = "
                + t + shorter + " − (" + syncLimit + "×" + tick + " + " + tick + " + " + t + "/3)" + longer + " = "
                + Durations.format(guarantee()) + " (a client on a follower)";
    }

    /** The rule without the session timeout's numbers, for a description of the store. */
    String rule() {
        if (standalone) {
            return "a standalone server: sessionTimeout×" + (PERCENT_SHORTER / 100.0);
        }
        String tick = Durations.format(tickTime);
        return "an ensemble with tickTime " + tick + ", syncLimit " + syncLimit + ": sessionTimeout×"
                + (PERCENT_SHORTER / 100.0) + " − (" + syncLimit + "×" + tick + " + " + tick + " + sessionTimeout/3)×"
                + (PERCENT_LONGER / 100.0);
    }
}
