package io.pgha.core.internal.ha;

import static io.pgha.core.internal.ha.Fixture.MB;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.HaSettings;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DivergenceCheck;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.StopMode;
import io.pgha.core.spi.Upstream;
import io.pgha.core.testkit.InMemoryDcs;
import io.pgha.core.time.SystemHaClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Rule S4 through the {@code history} key: it only ever grows, so the cluster's highest timeline never goes down and
 * no promotion reuses a number (issue: a promotion that skipped numbers rewrote the key from PostgreSQL's own history
 * file, which lists only the real parent, and the next promoter took the same number again).
 */
class TimelineHistoryKeyTest {

    private static final KeyLayout LAYOUT = KeyLayout.of("hist");
    private static final Duration TTL = Duration.ofSeconds(30);

    private final InMemoryDcs store = new InMemoryDcs(LAYOUT, SystemHaClock.INSTANCE, TTL);

    private InMemoryDcs.Session session(String name) {
        return store.open(new DcsContext(LAYOUT, name, TTL, Duration.ofSeconds(2), SystemHaClock.INSTANCE));
    }

    @Test
    void s4_aPromotionThatSkipsNumbersKeepsThemInTheKeySoNoOneTakesTheSameNumberAgain() throws Exception {
        // m2 promoted onto timeline 2 (leaving timeline 1 at 50 MB) and died before anyone followed it.
        session("m2").writeHistory(new TimelineHistory(List.of(new TimelineHistory.Entry(1, Lsn.of(50 * MB),
                "no recovery target specified", "2026-01-01T00:00:00Z", "m2")), -1), DcsVersion.ABSENT);
        // m3, still on timeline 1 at 60 MB, wins the race.
        InMemoryDcs.Session m3 = session("m3");
        StubPostgres pg = new StubPostgres(1, Lsn.of(60 * MB));
        Decision d = cycleAs("m3", m3, pg);
        assertThat(Steps.of(d)).containsSubsequence("AcquireLeader", "AnnounceTimeline", "Promote");
        assertThat(pg.timeline).as("m3 promoted past the announced numbers").isEqualTo(3);
        assertThat(store.peek().history().clusterTimeline()).as("announced before the promotion").isEqualTo(3);

        // m3's first cycle as leader merges its real lineage (its fork point from PostgreSQL's history file).
        assertThat(Steps.of(cycleAs("m3", m3, pg))).contains("WriteHistory");
        TimelineHistory key = store.peek().history();
        assertThat(key.clusterTimeline()).as("the cluster is on m3's timeline 3, not back on 2").isEqualTo(3);
        assertThat(key.entries()).extracting(TimelineHistory.Entry::timeline).containsExactly(1, 2);
        assertThat(key.entries().get(0).switchLsn()).as("m3's own fork point wins for timeline 1")
                .isEqualTo(Lsn.of(60 * MB));
        assertThat(key.entries().get(0).newLeader()).isEqualTo("m3");
        assertThat(key.entries().get(0).timestamp()).as("Patroni's format (issue 12)")
                .matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}\\+00:00");

        // m3 dies; m1, also on timeline 1, wins next: it must pick a number nobody has used.
        m3.abandon();
        InMemoryDcs.Session m1 = session("m1");
        store.expire("m3");
        StubPostgres pg1 = new StubPostgres(1, Lsn.of(60 * MB));
        cycleAs("m1", m1, pg1);
        assertThat(pg1.timeline).as("not 3 again").isEqualTo(4);
        assertThat(store.peek().history().clusterTimeline()).isEqualTo(4);
    }

    @Test
    void mergingKeepsEveryNumberAndTheTimestampsAlreadyThere() {
        TimelineHistory key = new TimelineHistory(List.of(
                new TimelineHistory.Entry(1, Lsn.of(10), "promoted", "2026-01-01T00:00:00Z", "m1"),
                new TimelineHistory.Entry(4, Lsn.of(40), "pgha: m3 promoting onto timeline 5", "t", "m3")), 7);
        List<TimelineHistory.Entry> lineage = List.of(new TimelineHistory.Entry(1, Lsn.of(10), "promoted", null,
                null), new TimelineHistory.Entry(2, Lsn.of(20), "promoted", null, null));
        TimelineHistory merged = TimelineHistories.merge(key, lineage, "m2", "now");
        assertThat(merged.entries()).extracting(TimelineHistory.Entry::timeline).containsExactly(1, 2, 4);
        assertThat(merged.entries().get(0).timestamp()).as("kept").isEqualTo("2026-01-01T00:00:00Z");
        assertThat(merged.entries().get(1).newLeader()).as("this member's promotion, stamped").isEqualTo("m2");
        assertThat(merged.clusterTimeline()).as("never down").isEqualTo(5);
    }

    @Test
    void promotionTimesAreWrittenAsPatroniWritesThem() {
        assertThat(TimelineHistory.timestamp(Instant.parse("2026-12-06T04:48:02.123456789Z")))
                .isEqualTo("2026-12-06T04:48:02.123456+00:00");
        assertThat(TimelineHistory.timestamp(Instant.parse("2026-01-01T00:00:00Z")))
                .isEqualTo("2026-01-01T00:00:00.000000+00:00");
    }

    /** Reads the keys as the HA loop would, decides as member {@code name}, and carries the decision out. */
    private Decision cycleAs(String name, InMemoryDcs.Session dcs, StubPostgres pg) throws Exception {
        HaSettings s = HaSettings.builder("hist", name).ttl(TTL).loopWait(Duration.ofSeconds(2))
                .retryTimeout(Duration.ofSeconds(2)).build();
        ClusterView v = dcs.read().withInitialize(Fixture.SYSID, 1);
        HaInput in = new HaInput(s, v, null, v, pg.probe(), Map.of(), null, null, NodeMemory.INITIAL,
                SystemHaClock.INSTANCE.nanoTime(), Instant.now());
        Decision d = HaDecider.decide(in);
        MemoryCell memory = new MemoryCell();
        LeaseGuard lease = new LeaseGuard(SystemHaClock.INSTANCE, pg, why -> {}, name + " - ");
        LeaseWatchdog watchdog = new LeaseWatchdog(Watchdog.OFF, io.pgha.core.config.WatchdogMode.OFF,
                SystemHaClock.INSTANCE, lease, name + " - ");
        ActionRunner runner = new ActionRunner(name, dcs, pg, SystemHaClock.INSTANCE, lease, watchdog, memory,
                new QuietEvents(), name + " - ");
        ActionRunner.Outcome o = runner.act(d, in);
        assertThat(o.kind()).as(o.detail()).isEqualTo(CycleReport.Outcome.DONE);
        return d;
    }

    /** Test stub: a running replica that promotes the way PostgreSQL does (its history lists the real parent only). */
    private static final class StubPostgres implements Postgres {
        int timeline;
        Lsn position;
        final List<TimelineHistory.Entry> history = new ArrayList<>();
        boolean primary;

        StubPostgres(int timeline, Lsn position) {
            this.timeline = timeline;
            this.position = position;
        }

        @Override
        public PgState probe() {
            return new PgState(PgState.DataDir.VALID, PgState.Run.RUNNING, primary ? Role.PRIMARY : Role.REPLICA,
                    Fixture.SYSID, timeline, position, primary ? null : position, primary ? null : position, null,
                    false, List.of(), "", false, "");
        }

        @Override
        public void promote(int minTimeline) {
            history.add(new TimelineHistory.Entry(timeline, position, "no recovery target specified", null, null));
            timeline = Math.max(timeline + 1, minTimeline);
            primary = true;
        }

        @Override
        public List<TimelineHistory.Entry> timelineHistory() {
            return List.copyOf(history);
        }

        @Override
        public void bootstrap() {}

        @Override
        public void createReplica(Upstream source) {}

        @Override
        public void startPrimary() {}

        @Override
        public void startReplica(Upstream upstream) {}

        @Override
        public void stop(StopMode mode) {}

        @Override
        public void follow(Upstream upstream) {}

        @Override
        public DivergenceCheck checkDivergence(Upstream leader) {
            return DivergenceCheck.unknown("stub");
        }

        @Override
        public void rewind(Upstream source) {}

        @Override
        public void reclone(Upstream source) {}

        @Override
        public void setSynchronousStandbyNames(String value) {}

        @Override
        public void checkpoint() {}

        @Override
        public void fence() {}

        @Override
        public void unfence() {}

        @Override
        public boolean unfenceIf(java.util.function.BooleanSupplier stillAllowed) {
            return stillAllowed.getAsBoolean();
        }
    }
}
