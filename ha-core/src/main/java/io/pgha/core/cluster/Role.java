package io.pgha.core.cluster;

import java.util.Locale;

/**
 * A member's role: the one role type pgha shows, whether read from a member key ({@code role} in Patroni's JSON),
 * probed from the local PostgreSQL, or derived by {@code HaCluster} for the service that embeds it.
 *
 * <p>Each source uses the values that apply to it: a probe says {@link #PRIMARY}, {@link #REPLICA} or
 * {@link #UNKNOWN}; a member key may say anything Patroni writes; {@code HaCluster.role()} adds the lifecycle values
 * ({@link #STARTING}, {@link #STOPPED}, {@link #CLOSED}) and says {@link #PRIMARY} only while the member holds an
 * unexpired leader lease.
 */
public enum Role {
    /** The primary (for {@code HaCluster}: running as primary and holding an unexpired leader lease). */
    PRIMARY("primary"),
    /** A read-only standby. */
    REPLICA("replica"),
    /** The leader of a Patroni standby cluster; pgha reads the value but never runs one. */
    STANDBY_LEADER("standby_leader"),
    /** No data directory yet: waiting to bootstrap or clone. */
    UNINITIALIZED("uninitialized"),
    /** PostgreSQL is not running (stopped, crashed, fenced, or being cloned). */
    STOPPED("stopped"),
    /** The agent is starting: its DCS session is not open yet. */
    STARTING("starting"),
    /** The agent was closed. */
    CLOSED("closed"),
    /** Not known: a probe that could not tell, or a value this version does not know. */
    UNKNOWN("unknown");

    private final String json;

    Role(String json) {
        this.json = json;
    }

    /** The value in Patroni's JSON ({@code role} of a member key and of {@code GET /patroni}). */
    public String json() {
        return json;
    }

    /**
     * Reads Patroni's value. {@code master} (Patroni before 4.0) is {@link #PRIMARY}; Patroni's transient
     * {@code promoted} and {@code demoted} are {@link #PRIMARY} and {@link #REPLICA}, the roles they turn into;
     * anything unknown is {@link #UNKNOWN}, never an error.
     */
    public static Role fromJson(String value) {
        if (value == null) {
            return UNKNOWN;
        }
        String v = value.toLowerCase(Locale.ROOT);
        switch (v) {
            case "master", "promoted":
                return PRIMARY;
            case "demoted":
                return REPLICA;
            default:
                break;
        }
        for (Role r : values()) {
            if (r.json.equals(v)) {
                return r;
            }
        }
        return UNKNOWN;
    }
}
