package io.pgha.core.internal.ha;

import io.pgha.core.config.Durations;
import io.pgha.core.config.HaSettings;
import io.pgha.core.spi.Postgres;
import io.pgha.core.time.HaClock;
import io.pgha.core.time.Wakeup;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rule S1 on this member: a primary stops being writable before the store can give its lock to anyone else.
 *
 * <p>After each successful acquire or renewal the lease deadline becomes {@code sentAt + guarantee - margin}, where
 * {@code sentAt} is the monotonic time read just before the request was sent and {@code guarantee} is what the store
 * promises after such a call ({@code Dcs.leaseGuarantee()}). A thread of its own fences PostgreSQL (immediate stop,
 * writable starts refused) the moment the deadline passes without a newer confirmed renewal, even while the HA
 * loop hangs in a DCS call. {@code Promote} and {@code StartPrimary} call {@link #require} first.
 *
 * <p>The margin, min(2 s, guarantee / 10) but at least the fence's own budget (0.5 s), absorbs the time between the
 * guard waking up and the postmaster being gone. What the guard cannot cover (a pause of the whole JVM, the guard
 * thread included) is in docs/decisions/0003; the watchdog ({@link LeaseWatchdog}, decision 0010) covers it.
 *
 * <p>Two threads renew: the HA cycle (acquire, and renew as part of a decision) and the {@link LeaseKeeper} between
 * cycles (decision 0016). The keeper only renews inside a <em>term</em>: one begins with each acquire or renewal of
 * the cycle and ends when the lease is given up (cleared, fenced by this guard, relinquished, or ended before a
 * release). A keeper renewal confirmed after its term ended never extends the deadline again, however late it
 * answers.
 */
final class LeaseGuard implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LeaseGuard.class);
    private static final long NO_LEASE = Long.MIN_VALUE;
    private static final Duration MAX_MARGIN = Duration.ofSeconds(2);

    /**
     * The worst time a fence takes, from the guard's wake-up until no postmaster runs. LocalPostgres sends SIGQUIT
     * without forking and follows with SIGKILL after 300 ms; on PostgreSQL 15 the immediate shutdown itself ends in
     * tens of milliseconds (LocalPostgresTest prints the measured latency).
     */
    static final Duration FENCE_BUDGET = Duration.ofMillis(500);

    /** The smallest renewal interval the keeper accepts: anything shorter would mostly load the store. */
    static final Duration MIN_RENEW_INTERVAL = Duration.ofMillis(50);

    private final HaClock clock;
    private final Postgres postgres;
    private final Consumer<String> onFenced;
    private final String prefix;
    private final AtomicLong deadline = new AtomicLong(NO_LEASE);
    private final AtomicLong term = new AtomicLong();
    private final Wakeup wakeup;
    private volatile boolean closed;
    private volatile boolean relinquished;
    /** True while the current term is open: the cycle's last lease step was an acquire or a renewal. */
    private volatile boolean renewable;
    private volatile long lastSentAt = NO_LEASE;
    private volatile Runnable onRenewable = () -> { };

    /**
     * @param onFenced called on the guard thread after it fenced, with the reason (must be quick)
     */
    LeaseGuard(HaClock clock, Postgres postgres, Consumer<String> onFenced, String prefix) {
        this.clock = clock;
        this.postgres = postgres;
        this.onFenced = onFenced;
        this.prefix = prefix;
        this.wakeup = clock.newWakeup();
    }

    void start(String threadName) {
        clock.startThread(threadName, this::run);
    }

    @Override
    public void close() {
        closed = true;
        wakeup.signal();
    }

    /** Called (quickly, on the cycle's thread) whenever the cycle opens a term: the keeper wakes up. */
    void onRenewable(Runnable r) {
        onRenewable = r;
    }

    /**
     * The cycle's acquire or renewal sent at {@code sentAtNanos} was confirmed; the store promises {@code guarantee}
     * from then. Opens a term for the keeper.
     */
    void extend(long sentAtNanos, Duration guarantee) {
        synchronized (this) {
            if (relinquished) {
                return;
            }
            deadline.set(sentAtNanos + guarantee.toNanos() - margin(guarantee).toNanos());
            lastSentAt = sentAtNanos;
            renewable = true;
        }
        wakeup.signal();
        onRenewable.run();
    }

    /**
     * The open term the keeper may renew in, read before it sends a renewal; -1 when it may not (no lease held, or
     * the lease is being given up).
     */
    synchronized long renewTerm() {
        return renewable && holds() ? term.get() : -1;
    }

    /**
     * A keeper renewal sent at {@code sentAtNanos} within {@code inTerm} was confirmed. Extends the deadline only
     * while that term is still open and the deadline has not passed (the guard may be fencing right now): false
     * otherwise, and then nothing changed. Never moves the deadline back (the cycle may have renewed later).
     */
    synchronized boolean extendInTerm(long inTerm, long sentAtNanos, Duration guarantee) {
        if (relinquished || !renewable || term.get() != inTerm) {
            return false;
        }
        long d = sentAtNanos + guarantee.toNanos() - margin(guarantee).toNanos();
        while (true) {
            long current = deadline.get();
            if (current == NO_LEASE || clock.nanoTime() >= current) {
                return false;
            }
            // Against the guard thread, which swaps the deadline for NO_LEASE when it passes and then fences.
            if (d <= current || deadline.compareAndSet(current, d)) {
                break;
            }
        }
        lastSentAt = Math.max(lastSentAt, sentAtNanos);
        wakeup.signal();
        return true;
    }

    /** Ends {@code inTerm} if it is still the current one (a keeper renewal was refused: the key is not ours). */
    synchronized void endTerm(long inTerm) {
        if (term.get() == inTerm) {
            endTerm();
        }
    }

    /**
     * The lease is about to be given up (a release is sent next): the keeper renews no more, and no renewal in
     * flight extends the deadline. The deadline itself stays until {@link #clear}.
     */
    synchronized void endTerm() {
        term.incrementAndGet();
        renewable = false;
    }

    /** Monotonic send time of the last confirmed acquire or renewal (the keeper schedules from it). */
    long lastSentAt() {
        return lastSentAt;
    }

    /** The lease is given up (released or fenced): nothing is writable under it any more. */
    synchronized void clear() {
        endTerm();
        deadline.set(NO_LEASE);
    }

    /** True while this member holds a lease that has not run out (and has not given it up on shutdown). */
    boolean holds() {
        long d = deadline.get();
        return !relinquished && d != NO_LEASE && clock.nanoTime() < d;
    }

    /**
     * Shutdown: from now on nothing may become writable under this lease (promotions and primary starts in flight
     * fail their check, renewals no longer extend it), but the guard still fences at the deadline until PostgreSQL
     * is stopped: a slow step of the shutdown must not leave a writable primary unguarded.
     */
    synchronized void relinquish() {
        relinquished = true;
        endTerm();
    }

    /** Time left until the deadline while a lease is held; zero or less once it has run out, or with none. */
    long remainingNanos() {
        long d = deadline.get();
        return d == NO_LEASE ? 0 : d - clock.nanoTime();
    }

    /**
     * True while a lease is held whose deadline is not before {@code atNanos}: a watchdog keepalive is safe only when
     * the device would fire by the deadline ({@code LeaseWatchdog}).
     */
    boolean coversUntil(long atNanos) {
        long d = deadline.get();
        return d != NO_LEASE && atNanos <= d;
    }

    /** Nanoseconds from {@code nowNanos} to the deadline (negative once passed); null without a lease. */
    Long remainingNanos(long nowNanos) {
        long d = deadline.get();
        return d == NO_LEASE ? null : d - nowNanos;
    }

    /** Throws unless {@link #holds()}: the check before any step that makes PostgreSQL writable. */
    void require(String what) {
        if (!holds()) {
            throw new IllegalStateException("not allowed to " + what + ": the lease has run out");
        }
    }

    /**
     * How much earlier than the store's guarantee the guard fences: a tenth of it, at most 2 s, and never less than
     * {@link #FENCE_BUDGET}, the time a fence itself may take.
     */
    static Duration margin(Duration guarantee) {
        Duration tenth = divided(guarantee, 10);
        Duration m = tenth.compareTo(MAX_MARGIN) < 0 ? tenth : MAX_MARGIN;
        return m.compareTo(FENCE_BUDGET) > 0 ? m : FENCE_BUDGET;
    }

    /**
     * Rule S1 against what the store really grants (ZooKeeper may negotiate a shorter session than ttl; Consul
     * guarantees only ttl/2): a leader that cannot renew must demote before the store can give its lock away. Null
     * when the settings fit, or when the store has granted nothing yet (a zero guarantee: nothing to check against).
     */
    static String problem(HaSettings s, Duration guarantee, String store) {
        if (guarantee.isZero()) {
            return null;
        }
        Duration needed = s.loopWait().plus(s.retryTimeout().multipliedBy(2));
        if (guarantee.compareTo(needed) < 0) {
            return "loopWait + 2*retryTimeout must be <= the DCS lease guarantee (got " + Durations.format(s.loopWait())
                    + " + 2*" + Durations.format(s.retryTimeout()) + " > " + Durations.format(guarantee) + ", what "
                    + store + " guarantees after a renewal)";
        }
        Duration interval = renewInterval(s, guarantee);
        if (interval.compareTo(MIN_RENEW_INTERVAL) < 0) {
            Duration m = margin(guarantee);
            return "the lease renewal interval min(loopWait, (guarantee - margin - retryTimeout)/3) must be >= "
                    + Durations.format(MIN_RENEW_INTERVAL) + " (got (" + Durations.format(guarantee) + " - "
                    + Durations.format(m) + " - " + Durations.format(s.retryTimeout()) + ")/3 = "
                    + Durations.format(interval) + ", with what " + store + " guarantees after a renewal)";
        }
        return null;
    }

    /**
     * How often the {@link LeaseKeeper} renews, counted from the send time of the last confirmed renewal:
     * {@code min(loopWait, (guarantee - margin - retryTimeout) / 3)}. Three renewals are sent after the last
     * confirmed one, each answering within retryTimeout, before the guard's deadline; so two that fail (refused,
     * reset, unreachable) still leave a third that can land in time. Never less often than the cycle renewed.
     * May be zero or negative for settings that {@link #problem} refuses.
     */
    static Duration renewInterval(HaSettings s, Duration guarantee) {
        Duration third = divided(guarantee.minus(margin(guarantee)).minus(s.retryTimeout()), 3);
        return third.compareTo(s.loopWait()) < 0 ? third : s.loopWait();
    }

    /**
     * {@code d / by} rounded toward zero, as {@link Duration#dividedBy(long)}, but in long nanoseconds: the JDK's
     * goes through BigDecimal, and the margin and renewal interval are computed at every cycle and renewal (issue
     * 11). A duration too long for long nanoseconds (about 292 years) takes the JDK's way.
     */
    static Duration divided(Duration d, long by) {
        long nanos;
        try {
            nanos = d.toNanos();
        } catch (ArithmeticException tooLong) {
            return d.dividedBy(by);
        }
        return Duration.ofNanos(nanos / by);
    }

    private void run() {
        try {
            while (!closed) {
                long d = deadline.get();
                if (d == NO_LEASE) {
                    wakeup.awaitUntil(clock.nanoTime() + Duration.ofHours(1).toNanos());
                    continue;
                }
                if (clock.nanoTime() < d) {
                    wakeup.awaitUntil(d);
                    continue;
                }
                if (deadline.compareAndSet(d, NO_LEASE)) {
                    endTerm();
                    LOG.warn("{}lease deadline passed without a confirmed renewal: fencing postgres", prefix);
                    postgres.fence();
                    onFenced.accept("lease deadline passed without a confirmed renewal");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
