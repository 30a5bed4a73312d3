package io.pgha.core.spi;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;

/**
 * Opens {@link Dcs} sessions against one store. Adapters expose one (e.g. {@code ZooKeeperDcs.connect("zk:2181")})
 * and the builder opens the member's session once scope, name and timings are known.
 */
@FunctionalInterface
public interface DcsFactory {
    Dcs open(DcsContext context);

    /**
     * The {@link Dcs#leaseGuarantee()} a session opened with {@code context} will give, as far as it is known before
     * anything is opened; zero when only the store can tell (the HA loop checks again once it can). The member's
     * builder refuses timings that do not fit in it ({@code loopWait + 2*retryTimeout}), so they fail when the member
     * is built rather than in the background. {@link #toString()} should say how the value is derived: it is quoted
     * in that error.
     *
     * @throws IllegalArgumentException naming the settings and the rule, when they leave no safe guarantee at all
     */
    default Duration expectedLeaseGuarantee(DcsContext context) {
        return Duration.ZERO;
    }

    /**
     * A factory that opens sessions with {@code open} and answers {@link #expectedLeaseGuarantee} with {@code
     * expectedLeaseGuarantee}, which also refuses (IllegalArgumentException) a member's timings the store cannot
     * honour, so they fail when the member is built.
     *
     * @param description what {@link #toString()} says, quoted in timing errors, e.g. {@code "etcd (http://e1:2379)"}
     */
    static DcsFactory of(String description, Function<DcsContext, ? extends Dcs> open,
            Function<DcsContext, Duration> expectedLeaseGuarantee) {
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(open, "open");
        Objects.requireNonNull(expectedLeaseGuarantee, "expectedLeaseGuarantee");
        return new DcsFactory() {
            @Override
            public Dcs open(DcsContext context) {
                return open.apply(context);
            }

            @Override
            public Duration expectedLeaseGuarantee(DcsContext context) {
                return expectedLeaseGuarantee.apply(context);
            }

            @Override
            public String toString() {
                return description;
            }
        };
    }
}
