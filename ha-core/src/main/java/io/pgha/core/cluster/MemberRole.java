package io.pgha.core.cluster;

import java.util.Locale;

/** The role a member reports in its member key and REST status ({@code role}). */
public enum MemberRole {
    PRIMARY("primary"),
    REPLICA("replica"),
    STANDBY_LEADER("standby_leader"),
    DEMOTED("demoted"),
    PROMOTED("promoted"),
    UNINITIALIZED("uninitialized"),
    /** Any value this version does not know; kept as such rather than failing the read. */
    UNKNOWN("unknown");

    private final String json;

    MemberRole(String json) {
        this.json = json;
    }

    public String json() {
        return json;
    }

    /** Reads Patroni's value; {@code master} (Patroni 3.x) is read as {@link #PRIMARY}. */
    public static MemberRole fromJson(String value) {
        if (value == null) {
            return UNKNOWN;
        }
        String v = value.toLowerCase(Locale.ROOT);
        if (v.equals("master")) {
            return PRIMARY;
        }
        for (MemberRole r : values()) {
            if (r.json.equals(v)) {
                return r;
            }
        }
        return UNKNOWN;
    }
}
