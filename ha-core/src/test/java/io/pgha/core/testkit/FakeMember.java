package io.pgha.core.testkit;

import io.pgha.core.api.HaCluster;
import io.pgha.core.api.HaClusterBuilder;
import io.pgha.core.config.HostPort;
import io.pgha.core.spi.DcsFactory;

/**
 * <b>Test fake.</b> A member builder over a {@link FakePostgres} on a {@link ManualClock}, for tests of what a
 * store's factory accepts when a member is built (nothing is started).
 */
public final class FakeMember {

    private FakeMember() {}

    /** Member {@code a} of {@code scope} on {@code dcs}; timings are the caller's. */
    public static HaClusterBuilder builder(String scope, DcsFactory dcs) {
        ManualClock clock = new ManualClock();
        HostPort address = new HostPort("127.0.0.1", 5432);
        FakePostgres pg = new FakePostgresNetwork(clock, 1).create("a", address, FakePostgres.Timings.DEFAULT, false);
        return HaCluster.builder().scope(scope).member("a").dcs(dcs).postgres(pg, address).clock(clock);
    }
}
