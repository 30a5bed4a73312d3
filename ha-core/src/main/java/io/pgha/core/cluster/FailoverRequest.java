package io.pgha.core.cluster;

import java.time.OffsetDateTime;

/**
 * The {@code failover} key: a manual switchover or failover request.
 *
 * @param leader      the leader that must step down (switchover); null for a failover
 * @param candidate   the member that should take over; null means "the healthiest"
 * @param scheduledAt when a scheduled switchover should happen; null means now
 * @param version     DCS version, for compare-and-set
 */
public record FailoverRequest(String leader, String candidate, OffsetDateTime scheduledAt, long version) {

    public static final FailoverRequest ABSENT = new FailoverRequest(null, null, null, DcsVersion.ABSENT);

    /** A key with neither leader nor candidate counts as no request (Patroni clears it by writing {@code {}}). */
    public boolean isEmpty() {
        return leader == null && candidate == null;
    }

    public FailoverRequest withVersion(long v) {
        return new FailoverRequest(leader, candidate, scheduledAt, v);
    }
}
