package io.pgha.core.internal.ha;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.FakePostgresNetwork;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.testkit.ManualClock;
import java.time.Duration;

/**
 * One HA loop on the simulation's fakes (InMemoryDcs, FakePostgres, ManualClock), for tests of the loop's own
 * bookkeeping. {@link #close()} stops every simulated thread.
 */
final class OneMemberSim implements AutoCloseable {

    final ManualClock clock = new ManualClock();
    final KeyLayout layout;
    final InMemoryDcs store;
    final FakePostgresNetwork net = new FakePostgresNetwork(clock, 11);

    OneMemberSim(String scope, Duration storeTtl) {
        layout = KeyLayout.of(scope);
        store = new InMemoryDcs(layout, clock, storeTtl);
    }

    /** Starts member {@code s.name()} at 10.0.0.1:5432. */
    HaLoop start(HaSettings s, HaObserver observer) {
        FakePostgres pg = net.create(s.name(), new HostPort("10.0.0.1", 5432), FakePostgres.Timings.DEFAULT, false);
        HaLoop loop = new HaLoop(s, store.open(new DcsContext(layout, s.name(), s.ttl(), s.retryTimeout(), clock)),
                pg, PeerClient.NONE, clock, new MemberEndpoints("postgres://10.0.0.1:5432/postgres", null), observer);
        clock.setDefaultGroup(s.name());
        loop.start();
        return loop;
    }

    @Override
    public void close() {
        clock.killAll();
    }
}
