package io.pgha.core.internal.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
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
import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The operator's restart through the real HA loop and action runner: the leader restarting a PostgreSQL whose start
 * takes longer than two ttls keeps the lock throughout and nobody else is promoted, while a start slower than
 * primaryStartTimeout gives the lock up for a failover. (Test fakes: InMemoryDcs, FakePostgres with a slow start, ManualClock, peers answering from the fakes.)
 */
class HaLoopOperatorRequestsTest {

    private final ManualClock clock = new ManualClock();
    private final KeyLayout layout = KeyLayout.of("ops");
    private final Duration ttl = Duration.ofSeconds(10);
    private final Duration loopWait = Duration.ofSeconds(2);
    private final InMemoryDcs store = new InMemoryDcs(layout, clock, ttl);
    private final FakePostgresNetwork net = new FakePostgresNetwork(clock, 17);
    // A start of 25 s: longer than two ttls, so only renewals during the restart keep the lock.
    private final FakePostgres.Timings slowStart = new FakePostgres.Timings(Duration.ofSeconds(25),
            Duration.ofMillis(800), Duration.ofMillis(100), Duration.ofMillis(150), Duration.ofMillis(600),
            Duration.ofMillis(1200), Duration.ofMillis(500), Duration.ofSeconds(2));
    private final List<HaLoop> loops = new ArrayList<>();
    private final Map<String, FakePostgres> pgs = new ConcurrentHashMap<>();
    /** Whether the members' fakes may remove their data (a reinitialize needs it). */
    private boolean allowReclone;
    private HaLoop loop1;
    private HaLoop loop2;
    private FakePostgres pg1;
    private FakePostgres pg2;

    private HaLoop member(String name, String host, Duration primaryStartTimeout) {
        HaSettings s = HaSettings.builder("ops", name).ttl(ttl).loopWait(loopWait)
                .retryTimeout(Duration.ofSeconds(4)).primaryStartTimeout(primaryStartTimeout).build();
        FakePostgres pg = net.create(name, new HostPort(host, 5432), slowStart, allowReclone);
        HaLoop loop = new HaLoop(s, store.open(new DcsContext(layout, name, ttl, s.retryTimeout(), clock)), pg,
                new FakePeers(), clock, new MemberEndpoints("postgres://" + host + ":5432/postgres",
                        "http://" + host + ":8008/patroni"),
                new HaObserver() {});
        clock.setDefaultGroup(name);
        loop.start();
        loops.add(loop);
        pgs.put(name, pg);
        if (name.equals("m1")) {
            pg1 = pg;
        } else {
            pg2 = pg;
            loop2 = loop;
        }
        return loop;
    }

    private void cluster(Duration primaryStartTimeout) {
        loop1 = member("m1", "10.0.0.1", primaryStartTimeout);
        clock.runFor(Duration.ofSeconds(40));
        member("m2", "10.0.0.2", primaryStartTimeout);
        clock.runFor(Duration.ofSeconds(60));
        assertThat(store.leaderHeldBy("m1")).isTrue();
        assertThat(pg1.isWritablePrimary()).isTrue();
        assertThat(pg2.isReplicaRunning()).as("m2 runs as a replica").isTrue();
    }

    /** FAKE peers: each member answers from its FakePostgres at once, as its REST API would from a probe. */
    private final class FakePeers implements PeerClient {
        @Override
        public Map<String, PeerStatus> fetchStatus(Collection<Member> asked, Duration timeout) {
            Map<String, PeerStatus> out = new TreeMap<>();
            for (Member m : asked) {
                FakePostgres pg = pgs.get(m.name());
                if (pg != null) {
                    PgState s = pg.probeNow();
                    out.put(m.name(), new PeerStatus(m.name(), s.run() == PgState.Run.RUNNING,
                            s.role() != Role.PRIMARY, s.walPosition(), s.timeline(), false, 1));
                }
            }
            return out;
        }

        @Override
        public FailsafeRound confirmFailsafe(Collection<Member> members, Member self, long sentAtNanos,
                Duration timeout) {
            throw new UnsupportedOperationException("failsafe mode is off here");
        }
    }

    @AfterEach
    void stop() {
        clock.killAll();
    }

    /** Runs for {@code d} in steps of 250 ms; true when m1 held the lock and m2 stayed a replica at every step. */
    private boolean m1LeadsThroughout(Duration d, boolean[] sawM1Down) {
        boolean held = true;
        for (long t = 0; t < d.toMillis(); t += 250) {
            clock.runFor(Duration.ofMillis(250));
            held &= store.leaderHeldBy("m1") && !pg2.isWritablePrimary();
            sawM1Down[0] |= !pg1.isWritablePrimary();
        }
        return held;
    }

    @Test
    void theLeadersRestartKeepsTheLockThroughAStartLongerThanTwoTtls() {
        cluster(Duration.ofSeconds(300));
        long id = loop1.operations().newRequestId();
        assertThat(loop1.operations().submit(new MemberRequest.Restart(id, null, null, 0, null, false))).isEmpty();
        boolean[] down = {false};
        assertThat(m1LeadsThroughout(Duration.ofSeconds(40), down)).as("m1 held the lock at every step").isTrue();
        assertThat(down[0]).as("m1's PostgreSQL was not writable for a while during the restart").isTrue();
        assertThat(loop1.operations().outcome(id)).contains(new MemberRequest.Outcome(id, true, "restarted successfully"));
        assertThat(pg1.isWritablePrimary()).isTrue();
        assertThat(loop1.operations().busy()).isNull();
    }

    @Test
    void aLeaderRestartSlowerThanPrimaryStartTimeoutGivesTheLockUp() {
        cluster(Duration.ofSeconds(8));
        long id = loop1.operations().newRequestId();
        loop1.operations().submit(new MemberRequest.Restart(id, null, null, 0, null, false));
        boolean[] down = {false};
        // The 25 s start outlasts primaryStartTimeout (8 s) while m2 could take over: m1 fences and releases.
        assertThat(m1LeadsThroughout(Duration.ofSeconds(20), down)).as("m1 held the lock at every step").isFalse();
        // Then the usual race (the fake's m1 is ahead by its shutdown checkpoint, which m2 never received).
        clock.runFor(Duration.ofSeconds(60));
        assertThat(loop1.operations().outcome(id)).hasValueSatisfying(o -> {
            assertThat(o.ok()).isFalse();
            assertThat(o.message()).isEqualTo("restart failed");
        });
        assertThat(store.leaderHeldBy("m1") || store.leaderHeldBy("m2")).as("a leader again").isTrue();
        assertThat(pg1.isWritablePrimary() && pg2.isWritablePrimary()).as("two writable primaries").isFalse();
    }

    @Test
    void aForcedReinitializeCancelsAReplicasSlowRestartAndReclones() {
        allowReclone = true;
        cluster(Duration.ofSeconds(300));
        MemberOperations ops = loop2.operations();
        long restart = ops.newRequestId();
        assertThat(ops.submit(new MemberRequest.Restart(restart, null, null, 0, null, false))).isEmpty();
        clock.runFor(Duration.ofSeconds(5));
        assertThat(ops.busy()).as("m2's restart waits for its 25 s start").isEqualTo(LongAction.RESTART);

        long reinit = ops.newRequestId();
        assertThat(ops.submit(new MemberRequest.Reinitialize(reinit, true))).isEmpty();
        // Within a few cycles, long before the 25 s start would have ended: cancelled, then the re-clone runs.
        boolean recloning = false;
        for (int i = 0; i < 20 && !recloning; i++) {
            clock.runFor(Duration.ofMillis(250));
            recloning = ops.busy() == LongAction.RECLONE;
        }
        assertThat(recloning).as("the re-clone took over within 5 s").isTrue();
        assertThat(pg2.cancelledOperations()).as("the restart's start was cut short").isEqualTo(1);
        assertThat(ops.waiting(reinit)).isFalse();

        clock.runFor(Duration.ofSeconds(60));
        assertThat(ops.outcome(reinit)).contains(new MemberRequest.Outcome(reinit, true, "reinitialized from m1"));
        assertThat(ops.busy()).isNull();
        assertThat(pg2.isReplicaRunning()).as("m2 runs as a replica again").isTrue();
        assertThat(store.leaderHeldBy("m1")).isTrue();
    }

    @Test
    void anUnforcedReinitializeWaitsForTheReplicasRestart() {
        allowReclone = true;
        cluster(Duration.ofSeconds(300));
        MemberOperations ops = loop2.operations();
        ops.submit(new MemberRequest.Restart(ops.newRequestId(), null, null, 0, null, false));
        clock.runFor(Duration.ofSeconds(5));
        long reinit = ops.newRequestId();
        assertThat(ops.submit(new MemberRequest.Reinitialize(reinit))).isEmpty();
        clock.runFor(Duration.ofSeconds(10));
        assertThat(ops.busy()).as("still the restart").isEqualTo(LongAction.RESTART);
        assertThat(ops.waiting(reinit)).isTrue();
        assertThat(pg2.cancelledOperations()).isZero();
    }

    @Test
    void aSecondRequestIsRefusedWhileTheFirstWaits() {
        cluster(Duration.ofSeconds(300));
        assertThat(loop1.operations().submit(new MemberRequest.Reload(loop1.operations().newRequestId()))).isEmpty();
        Optional<String> second = loop1.operations().submit(new MemberRequest.Restart(loop1.operations().newRequestId(), null, null, 0, null,
                false));
        assertThat(second).contains("reload already in progress");
    }
}
