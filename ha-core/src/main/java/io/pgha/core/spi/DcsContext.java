package io.pgha.core.spi;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.time.HaClock;
import java.time.Duration;
import java.util.Objects;

/**
 * What an adapter needs to open a {@link Dcs} for one member.
 *
 * @param layout       the cluster's key layout
 * @param memberName   the member this session acts for: non-empty, no '/' (it becomes the key {@code members/<name>}
 *                     in every store)
 * @param ttl          lease time to live: the leader and member keys vanish this long after the member stops renewing
 * @param retryTimeout the longest any single call may block
 * @param clock        monotonic time for lease bookkeeping (the simulation passes its own); adapters take every call's
 *                     deadline and the member's idle time from it ({@link DcsCallGuard})
 */
public record DcsContext(KeyLayout layout, String memberName, Duration ttl, Duration retryTimeout, HaClock clock) {
    public DcsContext {
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(memberName, "memberName");
        if (memberName.isBlank() || memberName.contains("/")) {
            throw new IllegalArgumentException("member name must be non-empty and contain no '/' (it becomes the key "
                    + "members/<name> in the store; got '" + memberName + "')");
        }
        Objects.requireNonNull(ttl, "ttl");
        Objects.requireNonNull(retryTimeout, "retryTimeout");
        Objects.requireNonNull(clock, "clock");
    }
}
