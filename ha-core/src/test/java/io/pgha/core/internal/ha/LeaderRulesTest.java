package io.pgha.core.internal.ha;

import static io.pgha.core.internal.ha.Fixture.MB;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.spi.StopMode;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The lock holder: renewing, restarting a crashed primary, promoting after the race; and rule S1. */
class LeaderRulesTest {

    private static Fixture leading() {
        return Fixture.as("m1").leader("m1").optime(100 * MB).pg(Fixture.primary(Lsn.of(100 * MB)))
                .config(Map.of("ttl", 30));
    }

    @Test
    void s1_theLeaderRenewsFirstAndEverythingElseDependsOnIt() {
        Decision d = leading().decide();
        assertThat(Steps.of(d).get(0)).isEqualTo("RenewLeader");
        assertThat(d.reason()).contains("I am the leader");
    }

    @Test
    void theLeaderKeepsItsSlotsEachCycleAfterRenewingUnlessUseSlotsIsOff() {
        assertThat(Steps.of(leading().decide())).containsSubsequence("RenewLeader", "KeepSlots", "WriteStatus");
        assertThat(Steps.find(leading().decide(), Action.KeepSlots.class).asLeader()).isTrue();
        Fixture off = leading();
        off.settings.useSlots(false);
        assertThat(Steps.of(off.decide())).doesNotContain("KeepSlots");
        assertThat(Steps.of(Fixture.as("m1").leader("m1").pg(Fixture.replica(Lsn.of(100 * MB), null)).decide()))
                .as("not before the promotion: the first cycle as primary does it").doesNotContain("KeepSlots");
    }

    @Test
    void s1_aLeaderWhoseRenewalWasRefusedFencesAtOnce() {
        Decision d = leading().memory(NodeMemory.INITIAL.withLostRace(new Action.RenewLeader())).decide();
        assertThat(Steps.of(d)).containsExactly("Fence");
    }

    @Test
    void s1_aPrimaryUnderAnotherLeaderIsFenced() {
        Decision d = Fixture.as("m2").leader("m1").pg(Fixture.primary(Lsn.of(100 * MB))).decide();
        assertThat(Steps.of(d)).containsExactly("Fence");
        assertThat(d.reason()).contains("m1 holds the lock");
    }

    @Test
    void aLockHolderRunningReadOnlyPromotesAfterRenewing() {
        Decision d = Fixture.as("m1").leader("m1").pg(Fixture.replica(Lsn.of(100 * MB), null)).decide();
        assertThat(Steps.of(d)).containsSubsequence("RenewLeader", "AnnounceTimeline", "Promote");
    }

    @Test
    void theLeaderRestoresAMissingInitializeKeyAndConfigAfterRenewing() {
        Fixture f = Fixture.as("m1").leader("m1").pg(Fixture.primary(Lsn.of(100 * MB)));
        f.view = f.view.withInitialize(null, -1).withConfig(io.pgha.core.cluster.GlobalConfig.ABSENT);
        Decision d = f.decide();
        assertThat(Steps.of(d)).containsSubsequence("RenewLeader", "RaceInitialize", "WriteConfig");
    }

    @Test
    void aLeaderGivingUpTheLockDoesNoHousekeeping() {
        Fixture f = Fixture.as("m1").leader("m1").optime(100 * MB)
                .pg(Fixture.stopped(Role.PRIMARY, PgState.Run.CRASHED)).peer("m2", 100 * MB);
        f.view = f.view.withConfig(io.pgha.core.cluster.GlobalConfig.ABSENT);
        f.settings.primaryStartTimeout(Duration.ZERO);
        assertThat(Steps.of(f.decide())).containsExactly("Fence", "ReleaseLeader");
    }

    @Test
    void theLeaderPublishesHistoryAfterATimelineSwitch() {
        Decision d = leading().timeline(2).decide();
        assertThat(Steps.of(d)).contains("WriteHistory");
        assertThat(Steps.of(leading().timeline(2).history(1).decide()))
                .as("a leader that has not merged its lineage since it started does so once").contains("WriteHistory");
        assertThat(Steps.of(leading().timeline(2).history(1).memory(NodeMemory.INITIAL.withHistoryRecordedFor(2))
                .decide())).doesNotContain("WriteHistory");
        assertThat(Steps.of(leading().timeline(2).memory(NodeMemory.INITIAL.withHistoryRecordedFor(2)).decide()))
                .as("its entry was dropped from the key").contains("WriteHistory");
    }

    @Test
    void aCrashedPrimaryRestartsInPlaceKeepingTheLock() {
        Decision d = Fixture.as("m1").leader("m1").pg(Fixture.stopped(Role.PRIMARY, PgState.Run.CRASHED))
                .decide();
        assertThat(Steps.of(d)).containsExactly("RenewLeader", "StartPrimary");
    }

    @Test
    void aCrashedPrimaryFailsOverAtOnceWhenPrimaryStartTimeoutIsZero() {
        Fixture f = Fixture.as("m1").leader("m1").optime(100 * MB)
                .pg(Fixture.stopped(Role.PRIMARY, PgState.Run.CRASHED)).peer("m2", 100 * MB);
        f.settings.primaryStartTimeout(Duration.ZERO);
        Decision d = f.decide();
        assertThat(Steps.of(d)).containsExactly("Fence", "ReleaseLeader");
    }

    @Test
    void aCrashedPrimaryRestartsAnywayWhenNoOtherMemberCanTakeOver() {
        Fixture f = Fixture.as("m1").leader("m1").optime(100 * MB)
                .pg(Fixture.stopped(Role.PRIMARY, PgState.Run.CRASHED)).peer("m2", 90 * MB);
        f.settings.primaryStartTimeout(Duration.ZERO);
        assertThat(Steps.of(f.decide())).containsExactly("RenewLeader", "StartPrimary");
    }

    @Test
    void aPrimaryThatDoesNotStartWithinPrimaryStartTimeoutFailsOver() {
        Fixture f = Fixture.as("m1").leader("m1").optime(100 * MB)
                .pg(Fixture.stopped(Role.PRIMARY, PgState.Run.CRASHED)).peer("m2", 100 * MB);
        f.settings.primaryStartTimeout(Duration.ofSeconds(60));
        f.memory(NodeMemory.INITIAL.withPrimaryDownSince(f.now - Duration.ofSeconds(61).toNanos()));
        assertThat(Steps.of(f.decide())).containsExactly("Fence", "ReleaseLeader");
    }

    @Test
    void theHolderKeepsRenewingWhileALongActionRuns() {
        Decision d = Fixture.as("m1").leader("m1").memory(NodeMemory.INITIAL.withBusy(LongAction.START_PRIMARY))
                .pg(Fixture.stopped(Role.PRIMARY, PgState.Run.STARTING)).decide();
        assertThat(Steps.of(d)).containsExactly("RenewLeader");
    }

    @Test
    void losingTheLockDuringALongActionFencesAPrimary() {
        Decision d = Fixture.as("m1").leader("m2").memory(NodeMemory.INITIAL.withBusy(LongAction.START_PRIMARY))
                .pg(Fixture.primary(Lsn.of(MB))).decide();
        assertThat(Steps.of(d)).containsExactly("Fence");
    }

    @Test
    void dcsUnreachable_aPrimaryDemotesWithAFastStopAndRestartsReadOnly() {
        Decision d = leading().dcsDown("timeout").decide();
        assertThat(Steps.of(d)).containsExactly("Stop", "StartReplica");
        assertThat(Steps.find(d, Action.Stop.class).mode()).isEqualTo(StopMode.FAST);
        assertThat(d.reason()).contains("DCS unreachable (timeout)");
    }

    @Test
    void dcsUnreachable_aPrimaryWhoseLeaseIsStillConfirmedKeepsRunningUntilTheGuardFences() {
        Decision d = leading().leaseHeld().dcsDown("timeout").decide();
        assertThat(d.actions()).as("one failed read is no write outage while the renewals are confirmed").isEmpty();
        assertThat(d.reason()).contains("the lease is still ours");

        Fixture failsafe = leading().leaseHeld().dcsDown("timeout");
        failsafe.settings.failsafeMode(true);
        failsafe.failsafe = new FailsafeRound(failsafe.now, java.util.List.of("m2"), java.util.List.of());
        assertThat(Steps.of(failsafe.decide())).as("failsafe's own keep, so its pings keep the replicas back")
                .containsExactly("KeepLeadingInFailsafe");

        Decision replica = Fixture.as("m2").leader("m1").leaseHeld().dcsDown("timeout").decide();
        assertThat(replica.actions()).isEmpty();
        Decision guardStopped = leading().leaseHeld().pg(Fixture.stopped(Role.PRIMARY, PgState.Run.CRASHED))
                .dcsDown("timeout").decide();
        assertThat(Steps.of(guardStopped)).containsExactly("StartReplica");
    }

    @Test
    void dcsUnreachable_failsafeKeepsThePrimaryOnlyWhenEveryMemberConfirms() {
        Fixture f = leading().dcsDown("timeout");
        f.settings.failsafeMode(true);
        f.failsafe = new FailsafeRound(f.now, java.util.List.of("m2", "m3"), java.util.List.of());
        assertThat(Steps.of(f.decide())).containsExactly("KeepLeadingInFailsafe");
        f.failsafe = new FailsafeRound(f.now, java.util.List.of("m2", "m3"), java.util.List.of("m3"));
        Decision d = f.decide();
        assertThat(Steps.of(d)).containsExactly("Stop", "StartReplica");
        assertThat(d.reason()).contains("not confirmed by [m3]");
    }

    @Test
    void dcsUnreachable_aLeaderWhosePrimaryTheGuardStoppedStartsItReadOnlyAndWatchesForTheStore() {
        Decision d = leading().pg(Fixture.stopped(Role.PRIMARY, PgState.Run.CRASHED)).dcsDown("timeout").decide();
        assertThat(Steps.of(d)).containsExactly("StartReplica");
        assertThat(Steps.find(d, Action.StartReplica.class).upstream()).as("no upstream: read-only").isNull();
        assertThat(d.nextCycle()).isEqualTo(Duration.ofSeconds(1));

        Decision starting = leading().pg(Fixture.stopped(Role.PRIMARY, PgState.Run.STOPPED))
                .memory(NodeMemory.INITIAL.withBusy(LongAction.START_REPLICA)).dcsDown("timeout").decide();
        assertThat(starting.actions()).as("the demotion's own start is still running").isEmpty();

        Decision running = leading().pg(Fixture.replica(Lsn.of(100 * MB), null)).dcsDown("timeout").decide();
        assertThat(running.actions()).isEmpty();
        assertThat(running.nextCycle()).isEqualTo(Duration.ofSeconds(1));

        Decision paused = leading().paused().pg(Fixture.stopped(Role.PRIMARY, PgState.Run.CRASHED))
                .dcsDown("timeout").decide();
        assertThat(paused.actions()).as("paused: nothing is started").isEmpty();

        Decision unknown = leading().pg(PgState.unknown("no answer")).dcsDown("timeout").decide();
        assertThat(unknown.actions()).isEmpty();
        assertThat(unknown.reason()).contains("the state of postgres is unknown (no answer)");
    }

    @Test
    void dcsUnreachable_aReplicaDoesNothing() {
        Decision d = Fixture.as("m2").leader("m1").dcsDown("timeout").decide();
        assertThat(d.actions()).isEmpty();
    }

    @Test
    void paused_aLockHolderThatIsNotPrimaryReleasesTheLock() {
        Decision d = Fixture.as("m1").leader("m1").paused().pg(Fixture.replica(Lsn.of(MB), null)).decide();
        assertThat(Steps.of(d)).containsExactly("ReleaseLeader");
    }

    @Test
    void paused_aStoppedPostgresIsNotStarted() {
        Decision d = Fixture.as("m2").leader("m1").paused()
                .pg(Fixture.stopped(Role.REPLICA, PgState.Run.STOPPED)).decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("paused");
    }

    @Test
    void paused_aPrimaryUnderAnotherLeaderIsLeftRunning() {
        Decision d = Fixture.as("m2").leader("m1").paused().pg(Fixture.primary(Lsn.of(MB))).decide();
        assertThat(d.actions()).isEmpty();
    }
}
