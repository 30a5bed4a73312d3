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
    /** The outcome of nearly every cycle's touch: one value, not one per cycle (issue 11). */
    private static final Outcome PUBLISHED = new Outcome(Kind.REGISTERED, null, null);

    private final Dcs dcs;
    private final HaClock clock;
    private boolean registered;
    private long refusedSince = NONE;
    /** The member document last written successfully, without its version; null when the next touch must write. */
    private Member written;
    /** The member key's version as the first view read after that write showed it; {@link #NONE} until then. */
    private long writtenVersion = NONE;

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
        forgetWrite();
    }

    /**
     * Publishes the member key; before the first registration a refusal is waited out for {@code patience}.
     *
     * <p>The write is skipped (docs/decisions/0013) when {@code self} equals the document last written, the view read
     * this cycle ({@code listed}) shows the member key at the version it had after that write, and the store vouches
     * that the key's lease was neither lost nor replaced since ({@link Dcs#memberKeyHeld}, which also keeps the lease
     * as a touch would). Anything else (a changed field, a key gone, rewritten or unknown, a new lease) writes.
     *
     * @param listed this member's key in the view read this cycle, or null when the view has none
     */
    Outcome touch(Member self, Member listed, Duration patience) {
        Member doc = self.withVersion(-1);
        try {
            if (unchanged(doc, listed) && dcs.memberKeyHeld()) {
                return PUBLISHED;
            }
            forgetWrite();
            dcs.touchMember(self);
            registered = true;
            refusedSince = NONE;
            written = doc;
            return PUBLISHED;
        } catch (DcsUnavailableException e) {
            // Whether the write was applied is unknown: write again next time.
            forgetWrite();
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

    /** Whether {@code doc} is what was last written and the view still shows the key as that write left it. */
    private boolean unchanged(Member doc, Member listed) {
        if (written == null || listed == null || !written.equals(doc)) {
            return false;
        }
        if (writtenVersion == NONE) {
            // The first view after the write: its version is the one the write gave the key.
            writtenVersion = listed.version();
        }
        return listed.version() == writtenVersion;
    }

    private void forgetWrite() {
        written = null;
        writtenVersion = NONE;
    }
}
