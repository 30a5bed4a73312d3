package io.pgha.core.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.HostPort;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.FakePostgresNetwork;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.testkit.ManualClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The public API's lifecycle and operations, on test fakes (InMemoryDcs, FakePostgres) driven by a
 * {@link ManualClock}; the real-PostgreSQL end-to-end suite lives in the examples module.
 */
class HaClusterTest {

    private final ManualClock clock = new ManualClock();
    private final InMemoryDcs store = new InMemoryDcs(KeyLayout.of("api"), clock, Duration.ofSeconds(10));
    private final FakePostgresNetwork net = new FakePostgresNetwork(clock, 3);
    private final List<HaCluster> nodes = new CopyOnWriteArrayList<>();

    private HaCluster node(String name, int host, List<HaCluster.RoleChange> events) {
        HostPort address = new HostPort("10.9.0." + host, 5432);
        FakePostgres pg = net.create(name, address, FakePostgres.Timings.DEFAULT, false);
        HaCluster n = HaCluster.builder().scope("api").member(name).dcs(store).postgres(pg, address)
                .ttl(Duration.ofSeconds(10)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                .clock(clock).onRoleChange(events::add).build();
        nodes.add(n);
        return n;
    }

    private void run(Duration d) {
        for (long t = 0; t < d.toMillis(); t += 250) {
            clock.runFor(Duration.ofMillis(250));
            net.tick();
        }
    }

    @AfterEach
    void stop() {
        clock.killAll();
    }

    @Test
    void aStartedNodeBootstrapsLeadsAndReportsItsRole() {
        List<HaCluster.RoleChange> events = new CopyOnWriteArrayList<>();
        HaCluster a = node("a", 1, events);
        assertThat(a.role()).isEqualTo(Role.STARTING);
        clock.setDefaultGroup("a");
        a.start();
        run(Duration.ofSeconds(10));
        assertThat(a.role()).isEqualTo(Role.PRIMARY);
        assertThat(a.leader()).contains("a");
        assertThat(a.members()).extracting(m -> m.name()).containsExactly("a");
        assertThat(events).extracting(HaCluster.RoleChange::newRole).contains(Role.PRIMARY);
    }

    @Test
    void aSecondStartIsAnError() {
        HaCluster a = node("a", 1, new CopyOnWriteArrayList<>());
        clock.setDefaultGroup("a");
        a.start();
        assertThatThrownBy(a::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("already");
    }

    @Test
    void pauseAndResumeGoThroughTheDcsConfig() {
        HaCluster a = node("a", 1, new CopyOnWriteArrayList<>());
        clock.setDefaultGroup("a");
        a.start();
        run(Duration.ofSeconds(10));
        // pause() blocks on the store: run it on a simulated thread
        clock.startThread("op", a::pause);
        run(Duration.ofSeconds(1));
        assertThat(store.peek().config().pause()).isTrue();
        clock.startThread("op", a::resume);
        run(Duration.ofSeconds(1));
        assertThat(store.peek().config().pause()).isFalse();
    }

    @Test
    void closeStopsPostgresAndFreesTheLock() {
        HaCluster a = node("a", 1, new CopyOnWriteArrayList<>());
        clock.setDefaultGroup("a");
        a.start();
        run(Duration.ofSeconds(10));
        clock.startThread("closer", a::close);
        run(Duration.ofSeconds(2));
        assertThat(a.role()).isEqualTo(Role.CLOSED);
        assertThat(net.get("a").isUp()).isFalse();
        assertThat(store.peek().leader()).isNull();
        assertThatThrownBy(a::start).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void badSettingsAreRejectedWhenBuilding() {
        assertThatThrownBy(() -> HaCluster.builder().member("a").dcs(store).build()).hasMessage("scope is required");
        assertThatThrownBy(() -> HaCluster.builder().scope("s").member("a").build())
                .hasMessageContaining("dcs is required");
        assertThatThrownBy(() -> HaCluster.builder().scope("s").member("a").dcs(store)
                .postgres(net.create("x", new HostPort("h", 1), FakePostgres.Timings.DEFAULT, false), new HostPort("h", 1))
                .ttl(Duration.ofSeconds(5)).build())
                .hasMessageContaining("loopWait + 2*retryTimeout must be <= ttl");
    }
}
