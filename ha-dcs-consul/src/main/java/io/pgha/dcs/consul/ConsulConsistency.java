package io.pgha.dcs.consul;

/**
 * Consul's read consistency modes offered for {@code read()} and the leader checks (see Consul's "Consistency Modes"
 * API page). {@code stale} is deliberately absent: a follower may answer from an old state and show a leader key that
 * the quorum has already deleted, which is exactly what the HA loop must never act on.
 */
public enum ConsulConsistency {

    /** {@code ?consistent}: the leader confirms with a quorum that it still leads before answering (linearizable). */
    CONSISTENT("consistent"),

    /**
     * No parameter: the leader answers from its own state without that extra round trip. Cheaper, but a leader cut off
     * from its quorum may answer stale data for a short window until it steps down.
     */
    DEFAULT(null);

    private final String queryParameter;

    ConsulConsistency(String queryParameter) {
        this.queryParameter = queryParameter;
    }

    /** The query parameter that selects this mode, or null for none. */
    public String queryParameter() {
        return queryParameter;
    }
}
