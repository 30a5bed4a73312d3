package io.pgha.core.internal.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.HostPort;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.FakePostgresNetwork;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.testkit.ManualClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The member key is written when it changes, not every cycle (docs/decisions/0013), while the lease behind it is
 * kept exactly as before: a quiet member still counts as alive, and a key that vanished or was rewritten by someone
 * else is published again at the next cycle. (Test fakes: InMemoryDcs, FakePostgres, ManualClock.)
 */
class HaLoopMemberKeyTest {

    private static final String M1 = KeyLayout.MEMBERS + "m1";
    private static final String M2 = KeyLayout.MEMBERS + "m2";

    private final ManualClock clock = new ManualClock();
    private final KeyLayout layout = KeyLayout.of("quiet");
    private final Duration ttl = Duration.ofSeconds(10);
    private final Duration loopWait = Duration.ofSeconds(2);
    private final InMemoryDcs store = new InMemoryDcs(layout, clock, ttl);
    private final FakePostgresNetwork net = new FakePostgresNetwork(clock, 11);
    private final List<HaLoop> loops = new ArrayList<>();
    private FakePostgres pg1;
    private FakePostgres pg2;

    private FakePostgres member(String name, String host) {
        HaSettings s = HaSettings.builder("quiet", name).ttl(ttl).loopWait(loopWait)
                .retryTimeout(Duration.ofSeconds(4)).build();
        FakePostgres pg = net.create(name, new HostPort(host, 5432), FakePostgres.Timings.DEFAULT, false);
        HaLoop loop = new HaLoop(s, store.open(new DcsContext(layout, name, ttl, s.retryTimeout(), clock)), pg,
                PeerClient.NONE, clock, new MemberEndpoints("postgres://" + host + ":5432/postgres", null),
                new HaObserver() {});
        clock.setDefaultGroup(name);
        loop.start();
        loops.add(loop);
        return pg;
    }

    @BeforeEach
    void cluster() {
        pg1 = member("m1", "10.0.0.1");
        clock.runFor(Duration.ofSeconds(15));
        pg2 = member("m2", "10.0.0.2");
        clock.runFor(Duration.ofSeconds(30));
        assertThat(store.leaderHeldBy("m1")).isTrue();
        assertThat(pg2.isReplicaRunning()).as("m2 runs as a replica").isTrue();
    }

    @AfterEach
    void stop() {
        clock.killAll();
    }

    @Test
    void aQuietClusterWritesNoMemberKeyAndKeepsBothKeysAliveLongPastTheTtl() {
        long m1 = store.writesOf(M1);
        long m2 = store.writesOf(M2);
        clock.runFor(Duration.ofSeconds(60)); // 30 cycles each, six ttls

        assertThat(store.writesOf(M1) - m1).as("writes of m1's member key in 60 quiet seconds").isZero();
        assertThat(store.writesOf(M2) - m2).as("writes of m2's member key in 60 quiet seconds").isZero();
        // The replica's only lease call is the member touch: skipped writes still keep its lease (the idle rule).
        assertThat(store.peek().member("m2")).as("m2's member key").isPresent();
        assertThat(store.peek().member("m1")).as("m1's member key").isPresent();
        assertThat(store.leaderHeldBy("m1")).isTrue();
    }

    @Test
    void aChangedPositionIsPublished() {
        long m1 = store.writesOf(M1);
        var before = store.peek().member("m1").orElseThrow().xlogLocation();
        pg1.write(42);
        clock.runFor(loopWait.multipliedBy(3));

        assertThat(store.writesOf(M1) - m1).as("writes of m1's member key after a commit").isPositive();
        assertThat(store.peek().member("m1").orElseThrow().xlogLocation()).isGreaterThan(before);
    }

    @Test
    void aKeyDeletedOrRewrittenBySomeoneElseIsPublishedAgainAtTheNextCycle() {
        store.adminDelete(M2);
        clock.runFor(loopWait.multipliedBy(2));
        assertThat(store.peek().member("m2")).as("m2's key after it was deleted by hand").isPresent();

        String mine = store.peekRaw(M2);
        store.putRaw(M2, "{\"conn_url\":\"postgres://10.9.9.9:5432/postgres\",\"state\":\"running\"}");
        clock.runFor(loopWait.multipliedBy(2));
        assertThat(store.peekRaw(M2)).as("m2's key after it was overwritten by hand").isEqualTo(mine);
    }

    @Test
    void aKeyThatWentWithItsLeaseIsPublishedUnderTheNewOne() {
        store.expire("m2");
        assertThat(store.peek().member("m2")).isEmpty();
        clock.runFor(loopWait.multipliedBy(2));
        assertThat(store.peek().member("m2")).as("m2's key after its lease expired").isPresent();
        long m2 = store.writesOf(M2);
        clock.runFor(Duration.ofSeconds(30));
        assertThat(store.writesOf(M2) - m2).as("writes once published again").isZero();
        assertThat(store.peek().member("m2")).isPresent();
    }
}
