package io.pgha.core.internal.ha;

import io.pgha.core.config.Durations;
import io.pgha.core.config.HaSettings;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.time.HaClock;
import io.pgha.core.time.Wakeup;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Renews the leader lease on a schedule of its own, apart from the HA cycle, whose probes, peer calls and writes may
 * be slow (decision 0016). It renews only inside a term the cycle opened ({@link LeaseGuard#renewTerm}): the cycle
 * still decides to take, keep or give up the lock; the keeper only keeps it on time in between.
 *
 * <ul>
 *   <li>Schedule: a renewal {@link LeaseGuard#renewInterval} after the send time of the last confirmed renewal (the
 *       keeper's or the cycle's) or of its own last attempt, whichever is later.</li>
 *   <li>Deadline per request: retryTimeout (every adapter call is bounded by it). An answer after it counts as
 *       failed, even a confirmation; the next attempt goes out an interval after this one was sent, or at once if
 *       that has passed.</li>
 *   <li>A confirmation extends the guard from the <em>send</em> time, and only in the term it was sent in: after a
 *       release, a fence or a shutdown it changes nothing.</li>
 *   <li>A refusal (the key is not ours) ends the term and wakes the cycle, which decides (fence, follow).</li>
 *   <li>A hung HA loop must still lose the lease (as {@code IdleLeaseRule} makes the adapters do): once the loop has
 *       shown no progress for {@code loopWait + ttl}, the keeper stops renewing, and the guard fences at its
 *       deadline.</li>
 * </ul>
 * Logs only failed or late renewals (WARN: an answer after its deadline, or a renewal sent more than an interval
 * after it was due), a stall once, and the first success after failures (INFO); nothing per renewal.
 */
final class LeaseKeeper implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LeaseKeeper.class);
    private static final long IDLE_WAIT = Duration.ofHours(1).toNanos();

    private final Dcs dcs;
    private final HaClock clock;
    private final LeaseGuard lease;
    private final Supplier<HaSettings> settings;
    private final LongSupplier loopProgressAt;
    private final BooleanSupplier afterRenewal;
    private final Runnable onRefused;
    private final String prefix;
    private final Wakeup wakeup;
    private volatile boolean closed;
    private long lastAttemptAt = Long.MIN_VALUE;
    /** The due time this thread last went to sleep for; MIN_VALUE when it did not (or after an attempt). */
    private long plannedWake = Long.MIN_VALUE;
    private int failuresInARow;
    private boolean stallReported;

    /**
     * @param loopProgressAt monotonic time the HA loop last showed progress (a cycle began or ended)
     * @param afterRenewal   the watchdog keepalive after a confirmed renewal; false when the member stepped down
     * @param onRefused      a renewal was refused: the cycle should decide now (quick, any thread)
     */
    LeaseKeeper(Dcs dcs, HaClock clock, LeaseGuard lease, Supplier<HaSettings> settings, LongSupplier loopProgressAt,
            BooleanSupplier afterRenewal, Runnable onRefused, String prefix) {
        this.dcs = dcs;
        this.clock = clock;
        this.lease = lease;
        this.settings = settings;
        this.loopProgressAt = loopProgressAt;
        this.afterRenewal = afterRenewal;
        this.onRefused = onRefused;
        this.prefix = prefix;
        this.wakeup = clock.newWakeup();
    }

    void start(String threadName) {
        clock.startThread(threadName, this::run);
    }

    /** The cycle opened a term (took or renewed the lock): schedule from it. */
    void wake() {
        wakeup.signal();
    }

    @Override
    public void close() {
        closed = true;
        wakeup.signal();
    }

    private void run() {
        try {
            while (!closed) {
                step();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One pass: wait for the next due time, or send one renewal. */
    void step() throws InterruptedException {
        long term = lease.renewTerm();
        long now = clock.nanoTime();
        if (term < 0) {
            failuresInARow = 0;
            plannedWake = Long.MIN_VALUE;
            wakeup.awaitUntil(now + IDLE_WAIT);
            return;
        }
        HaSettings s = settings.get();
        Duration guarantee = dcs.leaseGuarantee();
        long interval = Math.max(LeaseGuard.MIN_RENEW_INTERVAL.toNanos(),
                LeaseGuard.renewInterval(s, guarantee).toNanos());
        long due = Math.max(lease.lastSentAt(), lastAttemptAt) + interval;
        if (now < due) {
            plannedWake = due;
            wakeup.awaitUntil(due);
            return;
        }
        long late = plannedWake == Long.MIN_VALUE ? 0 : now - plannedWake;
        plannedWake = Long.MIN_VALUE;
        if (late > interval) {
            // Woken more than an interval after it meant to: this thread was held up (a pause, a starved host).
            LOG.warn("{}lease renewal sent {} late (the keeper thread was held up); the guard fences in {} unless one"
                    + " is confirmed", prefix, Durations.format(Duration.ofNanos(late)),
                    Durations.format(Duration.ofNanos(Math.max(0, lease.remainingNanos()))));
        }
        lastAttemptAt = now;
        long stalled = now - loopProgressAt.getAsLong();
        Duration stallLimit = s.loopWait().plus(s.ttl());
        if (stalled > stallLimit.toNanos()) {
            if (!stallReported) {
                stallReported = true;
                LOG.warn("{}not renewing the lease: the HA loop has shown no progress for {} (limit loopWait + ttl ="
                        + " {}); the lease guard fences at its deadline", prefix,
                        Durations.format(Duration.ofNanos(stalled)), Durations.format(stallLimit));
            }
            return;
        }
        stallReported = false;
        renewOnce(term, s, now);
    }

    private void renewOnce(long term, HaSettings s, long sentAt) {
        boolean ok;
        String failure = null;
        try {
            ok = dcs.renewLeader();
        } catch (DcsUnavailableException | RuntimeException e) {
            ok = false;
            failure = e.getMessage();
        }
        long took = clock.nanoTime() - sentAt;
        if (failure == null && took > s.retryTimeout().toNanos()) {
            failure = "answered after " + Durations.format(Duration.ofNanos(took)) + ", later than its deadline"
                    + " (retryTimeout " + Durations.format(s.retryTimeout()) + ")";
        }
        if (failure != null) {
            failuresInARow++;
            long left = lease.remainingNanos();
            LOG.warn("{}lease renewal failed ({} in a row): {}; the guard fences in {} unless one is confirmed",
                    prefix, failuresInARow, failure, Durations.format(Duration.ofNanos(Math.max(0, left))));
            return;
        }
        if (!ok) {
            LOG.warn("{}lease renewal refused: the leader key is no longer this member's; the HA cycle decides",
                    prefix);
            lease.endTerm(term);
            onRefused.run();
            return;
        }
        if (!lease.extendInTerm(term, sentAt, dcs.leaseGuarantee())) {
            // Given up (released, fenced, shut down) while it was in flight: it must not count.
            return;
        }
        if (failuresInARow > 0) {
            LOG.info("{}lease renewed again after {} failed renewal(s)", prefix, failuresInARow);
            failuresInARow = 0;
        }
        if (!afterRenewal.getAsBoolean()) {
            onRefused.run();
        }
    }
}
