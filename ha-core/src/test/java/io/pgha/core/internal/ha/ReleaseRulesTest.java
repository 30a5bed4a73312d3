package io.pgha.core.internal.ha;

import static io.pgha.core.internal.ha.Fixture.MB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Rule S1 when a lock holder gives the lock up: never while its PostgreSQL may still accept writes. A probe that
 * fails means "unknown", not "invalid" or "stopped"; and a holder that cannot become primary does not keep the lock
 * forever.
 */
class ReleaseRulesTest {

    private static final String EMFILE = "probe failed: java.nio.file.FileSystemException: /data: Too many open files";

    private static Fixture leading() {
        return Fixture.as("m1").leader("m1").optime(100 * MB).pg(Fixture.primary(Lsn.of(100 * MB)));
    }

    @Test
    void s1_aLeaderWhoseProbeFailsKeepsTheLockForOneCycleThenFencesBeforeReleasing() {
        Fixture f = leading().pg(PgState.unknown(EMFILE));
        Decision first = f.memory(NodeMemory.INITIAL.withUnknownProbes(1)).decide();
        assertThat(Steps.of(first)).containsExactly("RenewLeader");
        assertThat(first.reason()).contains("cannot tell what postgres is doing").contains("Too many open files");

        Decision second = f.memory(NodeMemory.INITIAL.withUnknownProbes(2)).decide();
        assertThat(Steps.of(second)).containsExactly("Fence", "ReleaseLeader");
    }

    @Test
    void s1_aMemberWithoutTheLockWhoseProbeFailsFencesItsPostgres() {
        Decision d = Fixture.as("m2").leader("m1").pg(PgState.unknown(EMFILE))
                .memory(NodeMemory.INITIAL.withUnknownProbes(1)).decide();
        assertThat(Steps.of(d)).containsExactly("Fence");
        Decision noLeader = Fixture.as("m2").noLeader().pg(PgState.unknown(EMFILE))
                .memory(NodeMemory.INITIAL.withUnknownProbes(1)).decide();
        assertThat(Steps.of(noLeader)).as("and never races").containsExactly("Fence");
    }

    @Test
    void s1_anInvalidOrEmptyDataDirectoryUnderARunningPostmasterIsFencedBeforeTheRelease() {
        PgState invalidButRunning = new PgState(PgState.DataDir.INVALID, PgState.Run.STARTING, Role.UNKNOWN, null, 0,
                null, null, null, null, false, List.of(), "", false, "dataDir cannot be read");
        assertThat(Steps.of(leading().pg(invalidButRunning).decide())).containsExactly("Fence", "ReleaseLeader");
        PgState emptyButRunning = new PgState(PgState.DataDir.EMPTY, PgState.Run.STARTING, Role.UNKNOWN, null, 0,
                null, null, null, null, false, List.of(), "", false, "");
        assertThat(Steps.of(leading().pg(emptyButRunning).decide())).containsExactly("Fence", "ReleaseLeader");
        PgState emptyAndStopped = PgState.empty();
        assertThat(Steps.of(leading().pg(emptyAndStopped).decide())).as("nothing runs: no fence needed")
                .containsExactly("ReleaseLeader");
    }

    @Test
    void s1_noDecisionOfALockHolderReleasesWhilePostgresMayBeWritable() {
        List<PgState> states = List.of(Fixture.primary(Lsn.of(100 * MB)), Fixture.replica(Lsn.of(100 * MB), null),
                Fixture.stopped(Role.PRIMARY, PgState.Run.CRASHED), Fixture.stopped(Role.REPLICA, PgState.Run.STOPPED),
                PgState.unknown(EMFILE), PgState.empty(),
                new PgState(PgState.DataDir.VALID, PgState.Run.STARTING, Role.PRIMARY, Fixture.SYSID, 1, null, null,
                        null, null, false, List.of(), "", false, ""),
                new PgState(PgState.DataDir.INVALID, PgState.Run.STARTING, Role.UNKNOWN, null, 0, null, null, null,
                        null, false, List.of(), "", false, "broken"));
        List<NodeMemory> memories = List.of(NodeMemory.INITIAL, NodeMemory.INITIAL.withUnknownProbes(3),
                NodeMemory.INITIAL.withFailedStart("x").withFailedStart("x").withFailedStart("x"),
                NodeMemory.INITIAL.withBusy(LongAction.START_PRIMARY).withPrimaryDownSince(0L));
        int decisions = 0;
        List<String> releases = new ArrayList<>();
        for (PgState pg : states) {
            for (NodeMemory m : memories) {
                for (boolean paused : new boolean[] {false, true}) {
                    Fixture f = leading().pg(pg).memory(m).peer("m2", 100 * MB);
                    if (paused) {
                        f.paused();
                    }
                    // decide() itself refuses a release that is not preceded by a fence or stop.
                    Decision d = f.decide();
                    decisions++;
                    if (d.actions().contains(new Action.ReleaseLeader())) {
                        releases.add(d.reason());
                    }
                }
            }
        }
        assertThat(decisions).isEqualTo(states.size() * memories.size() * 2);
        assertThat(releases).as("the release paths were exercised").hasSizeGreaterThan(5);
    }

    @Test
    void theReleaseCheckRejectsAReleaseWithoutAFence() {
        HaInput in = leading().input();
        Decision unsafe = Decision.of("test", new Action.ReleaseLeader());
        assertThatThrownBy(() -> HaDecider.requireUnwritableBeforeRelease(in, unsafe))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("may be writable");
        HaDecider.requireUnwritableBeforeRelease(in, Decision.of("test", new Action.Fence(),
                new Action.ReleaseLeader()));
    }

    @Test
    void aLockHolderThatFailsToBecomePrimaryThreeTimesGivesTheLockUpAndSitsOutTheRace() {
        NodeMemory failed = NodeMemory.INITIAL;
        for (int i = 0; i < HaDecider.MAX_FAILED_STARTS; i++) {
            failed = failed.withFailedStart("promote: recovery did not end: insufficient parameter settings");
        }
        Decision d = Fixture.as("m1").leader("m1").pg(Fixture.replica(Lsn.of(100 * MB), null)).memory(failed)
                .decide();
        assertThat(Steps.of(d)).containsExactly("Fence", "ReleaseLeader", "SitOut");
        assertThat(d.reason()).contains("failed to become primary 3 times").contains("insufficient parameter");

        Decision twice = Fixture.as("m1").leader("m1").pg(Fixture.replica(Lsn.of(100 * MB), null))
                .memory(NodeMemory.INITIAL.withFailedStart("x").withFailedStart("x")).decide();
        assertThat(Steps.of(twice)).as("two failures: still trying").contains("Promote");
    }

    @Test
    void aMemberSittingOutDoesNotRaceUntilItsTimeIsUp() {
        Fixture f = Fixture.as("m2").noLeader().optime(100 * MB).pg(Fixture.replica(Lsn.of(100 * MB), null));
        f.memory(NodeMemory.INITIAL.withSitOutUntil(f.now + 5_000_000_000L).withFailedStart("promote: boom"));
        Decision out = f.decide();
        assertThat(Steps.of(out)).isEmpty();
        assertThat(out.reason()).contains("sitting out the race").contains("promote: boom");
        f.memory(NodeMemory.INITIAL.withSitOutUntil(f.now - 1));
        assertThat(Steps.of(f.decide())).contains("AcquireLeader");
    }

    @Test
    void pausedMembersKeepTheirLockWhenTheProbeFails() {
        Decision d = leading().paused().pg(PgState.unknown(EMFILE)).memory(NodeMemory.INITIAL.withUnknownProbes(5))
                .decide();
        assertThat(Steps.of(d)).containsExactly("RenewLeader");
        assertThat(Map.of("reason", d.reason())).extractingByKey("reason").asString().contains("paused");
    }
}
