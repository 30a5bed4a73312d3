package io.pgha.core.internal.ha;

import io.pgha.core.cluster.Member;
import io.pgha.core.config.Durations;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.MemberNameTakenException;
import io.pgha.core.time.HaClock;
import java.time.Duration;

/**
 * This member's claim on its name in the DCS (docs/decisions 0011). The HA loop decides nothing on a view until the
 * member key is registered; the store refuses a name that another live session holds ({@link
 * MemberNameTakenException}).
 *
 * <p>A refusal before the first registration is not final at once: a process that died moments ago (the last run of
 * this very member) keeps its lease until the store expires it, and a new process cannot tell that from another one
 * using the name. So the claim waits while the store stays reachable: if the holder is still there after
 * {@code patience} (a ttl and then some), it renews its lease, i.e. it lives, and the name is taken. Once registered,
 * a refusal means another process took the name while this member's lease had lapsed: taken at once.
 *
 * <p>Used by the loop thread only.
 */
final class NameClaim {

    /** What an attempt to publish the member key came to. */
    enum Kind {
        /** The member key is published under this member's lease. */
        REGISTERED,
        /** Another live session holds the name; still within the patience for a predecessor's lease to end. */
        WAITING,
        /** The store could not be reached for the write; try again next cycle. */
        UNAVAILABLE,
        /** Another live process uses this name: the HA loop must stop. */
        TAKEN
    }

    record Outcome(Kind kind, MemberNameTakenException refusal, String detail) {}

    private static final long NONE = Long.MIN_VALUE;

    private final Dcs dcs;
    private final HaClock clock;
    private boolean registered;
    private long refusedSince = NONE;

    NameClaim(Dcs dcs, HaClock clock) {
        this.dcs = dcs;
        this.clock = clock;
    }

    /** Whether the member key was published at least once. */
    boolean registered() {
        return registered;
    }

    /**
     * The store could not be read this cycle. A lease may outlive an outage (etcd re-arms every lease when it has a
     * leader again), so the patience starts over once it is reachable.
     */
    void storeUnreachable() {
        refusedSince = NONE;
    }

    /** Publishes the member key; before the first registration a refusal is waited out for {@code patience}. */
    Outcome touch(Member self, Duration patience) {
        try {
            dcs.touchMember(self);
            registered = true;
            refusedSince = NONE;
            return new Outcome(Kind.REGISTERED, null, null);
        } catch (DcsUnavailableException e) {
            return new Outcome(Kind.UNAVAILABLE, null, e.getMessage());
        } catch (MemberNameTakenException e) {
            if (registered) {
                return new Outcome(Kind.TAKEN, e, e.getMessage());
            }
            long now = clock.nanoTime();
            if (refusedSince == NONE) {
                refusedSince = now;
            }
            long waited = now - refusedSince;
            if (waited >= patience.toNanos()) {
                return new Outcome(Kind.TAKEN, e, e.getMessage() + " (still held after "
                        + Durations.format(Duration.ofNanos(waited)) + ", longer than a lease of a "
                        + "process that died can last)");
            }
            return new Outcome(Kind.WAITING, e, e.getMessage() + "; waiting up to "
                    + Durations.format(patience.minusNanos(waited)) + " more in case it is the "
                    + "lease of an earlier run of this member that died");
        }
    }
}
