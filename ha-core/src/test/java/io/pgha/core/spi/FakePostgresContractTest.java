package io.pgha.core.spi;

import io.pgha.core.config.HostPort;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.FakePostgresNetwork;
import io.pgha.core.testkit.ManualClock;
import io.pgha.core.testkit.PostgresContractTest;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The simulation's PostgreSQL model must keep the same contract as {@code LocalPostgres} on a real server, so the
 * fake and the real thing cannot drift apart. Time is a {@link ManualClock}: waiting means ticking the fake network.
 */
class FakePostgresContractTest extends PostgresContractTest {

    private ManualClock clock = new ManualClock();
    private FakePostgresNetwork net = new FakePostgresNetwork(clock, 1);
    private final Map<String, Long> markers = new HashMap<>();
    private int hosts;

    @Override
    protected Instance newInstance(String name) {
        HostPort address = new HostPort("10.1.0." + (++hosts), 5432);
        FakePostgres p = net.create(name, address, FakePostgres.Timings.DEFAULT, false);
        return new Instance(p, new Upstream(name, address));
    }

    @Override
    protected void write(Postgres p, String marker) {
        FakePostgresNetwork.Commit c = net.commit((FakePostgres) p);
        if (c == null) {
            throw new IllegalStateException(((FakePostgres) p).name() + " does not accept writes");
        }
        markers.put(marker, c.id);
    }

    @Override
    protected boolean contains(Postgres p, String marker) {
        Long id = markers.get(marker);
        return id != null && ((FakePostgres) p).contains(id);
    }

    @Override
    protected void releaseAll() {
        clock = new ManualClock();
        net = new FakePostgresNetwork(clock, 1);
        markers.clear();
        hosts = 0;
    }

    /** Advances virtual time in steps, letting WAL flow, until the condition holds (or 60 virtual seconds pass). */
    @Override
    protected void awaitTrue(String what, Callable<Boolean> condition) {
        for (int i = 0; i < 600; i++) {
            net.tick();
            try {
                if (Boolean.TRUE.equals(condition.call())) {
                    return;
                }
            } catch (Exception e) {
                // not yet
            }
            clock.sleepUntil(clock.nanoTime() + Duration.ofMillis(100).toNanos());
        }
        throw new AssertionError("not within 60 s of virtual time: " + what);
    }
}
