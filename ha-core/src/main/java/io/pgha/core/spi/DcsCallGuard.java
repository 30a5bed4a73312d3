package io.pgha.core.spi;

import io.pgha.core.time.HaClock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What every {@link Dcs} call of an adapter does first, in one place: refuse to run after {@link Dcs#close()}, note
 * that the member is alive when the call is one of the HA loop's lease calls (see {@link IdleLeaseRule}), and fix the call's deadline, {@code retryTimeout} from now
 * (the port's bound on every call). Time is the member's {@link DcsContext#clock()}, so deadlines, idle times and the
 * HA loop's own lease bookkeeping are measured on one clock.
 *
 * <p>Deadlines are values of {@link #nanoTime()}; compare them with that, never with {@link System#nanoTime()}.
 * Thread-safe.
 */
public final class DcsCallGuard {

    private final HaClock clock;
    private final long retryTimeoutNanos;
    private final String client;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile long lastCallNanos;

    /**
     * @param context the member's context (clock and retryTimeout)
     * @param client  names the client in the message of a call after close, e.g. {@code "this etcd client"}
     */
    public DcsCallGuard(DcsContext context, String client) {
        Objects.requireNonNull(context, "context");
        this.clock = context.clock();
        this.retryTimeoutNanos = context.retryTimeout().toNanos();
        this.client = Objects.requireNonNull(client, "client");
        this.lastCallNanos = clock.nanoTime();
    }

    /**
     * Starts a call that is not a sign of life (a read, an admin write, a release): throws when the adapter is closed
     * and returns the call's deadline. Reads come from anyone (the REST API, {@code ClusterAdmin}, a user's query), so
     * they must not keep the lease of a member whose HA loop hangs (issue 9, item 9).
     *
     * @param what the call, for the message, e.g. {@code "read the cluster"}
     */
    public long begin(String what) throws DcsUnavailableException {
        requireOpen(what);
        return clock.nanoTime() + retryTimeoutNanos;
    }

    /**
     * Starts one of the HA loop's lease calls ({@link Dcs#acquireLeader}, {@link Dcs#renewLeader},
     * {@link Dcs#touchMember}, which the loop makes every cycle): like {@link #begin}, and notes that the member is
     * alive for {@link IdleLeaseRule}.
     */
    public long beginLeaseCall(String what) throws DcsUnavailableException {
        requireOpen(what);
        long now = clock.nanoTime();
        lastCallNanos = now;
        return now + retryTimeoutNanos;
    }

    /** Throws when the adapter is closed; for steps inside a call that must not go on after a close. */
    public void requireOpen(String what) throws DcsUnavailableException {
        if (closed.get()) {
            throw new DcsUnavailableException(what + ": " + client + " is closed");
        }
    }

    /** A deadline for the adapter's own background work (a keepalive, a watch request): not a sign of life. */
    public long backgroundDeadline() {
        return clock.nanoTime() + retryTimeoutNanos;
    }

    /** Now, on the member's clock. */
    public long nanoTime() {
        return clock.nanoTime();
    }

    /** Time left until {@code deadline}; zero or less when it has passed. */
    public long remainingNanos(long deadline) {
        return deadline - clock.nanoTime();
    }

    /** How long since the member's last lease call began (since the guard was made, before the first). */
    public Duration sinceLastCall() {
        return Duration.ofNanos(clock.nanoTime() - lastCallNanos);
    }

    /** Marks the adapter closed; true for the first caller only, who then releases the resources. */
    public boolean close() {
        return closed.compareAndSet(false, true);
    }

    public boolean isClosed() {
        return closed.get();
    }
}
