package io.pgha.core.config;

import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A member's tags, published in its member key (Patroni's {@code tags}).
 *
 * @param nofailover        never take part in a leader race
 * @param failoverPriority  among members at the same WAL position the higher wins; {@code <= 0} acts like nofailover
 * @param nosync            never chosen as a synchronous standby
 * @param noloadbalance     {@code GET /replica} answers 503
 * @param clonefrom         preferred source for other members' base backups
 * @param custom            any other tags, published as given
 */
public record Tags(
        boolean nofailover,
        int failoverPriority,
        boolean nosync,
        boolean noloadbalance,
        boolean clonefrom,
        Map<String, String> custom) {

    public static final Tags DEFAULT = new Tags(false, 1, false, false, false, Map.of());

    public Tags {
        custom = Map.copyOf(Objects.requireNonNullElse(custom, Map.of()));
    }

    /** True when this member may never be promoted automatically. */
    public boolean neverPromote() {
        return nofailover || failoverPriority <= 0;
    }

    public Tags withNofailover(boolean v) {
        return new Tags(v, failoverPriority, nosync, noloadbalance, clonefrom, custom);
    }

    public Tags withFailoverPriority(int v) {
        return new Tags(nofailover, v, nosync, noloadbalance, clonefrom, custom);
    }

    public Tags withNosync(boolean v) {
        return new Tags(nofailover, failoverPriority, v, noloadbalance, clonefrom, custom);
    }

    public Tags withNoloadbalance(boolean v) {
        return new Tags(nofailover, failoverPriority, nosync, v, clonefrom, custom);
    }

    public Tags withClonefrom(boolean v) {
        return new Tags(nofailover, failoverPriority, nosync, noloadbalance, v, custom);
    }

    public Tags withCustom(String key, String value) {
        Map<String, String> m = new TreeMap<>(custom);
        m.put(key, value);
        return new Tags(nofailover, failoverPriority, nosync, noloadbalance, clonefrom, m);
    }
}
