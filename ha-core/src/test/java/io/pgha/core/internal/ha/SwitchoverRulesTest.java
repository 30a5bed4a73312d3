package io.pgha.core.internal.ha;

import static io.pgha.core.internal.ha.Fixture.MB;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.spi.StopMode;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** Manual switchover and failover through the failover key (Patroni's manual failover handling). */
class SwitchoverRulesTest {

    private static Fixture leaderWithRequest(String leader, String candidate) {
        return Fixture.as("m1").leader("m1").optime(100 * MB).pg(Fixture.primary(Lsn.of(100 * MB)))
                .failover(leader, candidate);
    }

    @Test
    void aPossibleSwitchoverStopsPostgresBeforeReleasingTheLock() {
        Decision d = leaderWithRequest("m1", "m2").peer("m2", 100 * MB).decide();
        assertThat(Steps.of(d)).containsSubsequence("RenewLeader", "Checkpoint", "Stop", "ReleaseLeader");
        assertThat(Steps.find(d, Action.Stop.class).mode()).isEqualTo(StopMode.FAST);
        assertThat(Steps.of(d)).as("the key stays for the candidate").doesNotContain("ClearFailover");
    }

    @Test
    void drainingALeaderPublishesItFirstAndDemotesOnlyOnceTheWindowIsOver() {
        Fixture f = leaderWithRequest("m1", "m2").peer("m2", 100 * MB);
        f.settings.switchoverDrain(java.time.Duration.ofSeconds(2));
        Decision first = f.decide();
        assertThat(Steps.of(first)).as("keeps the lock, starts draining, no demotion yet")
                .containsSubsequence("RenewLeader", "Drain").doesNotContain("Stop", "ReleaseLeader");
        assertThat(Steps.find(first, Action.Drain.class).request()).isEqualTo(9);
        assertThat(first.reason()).contains("draining clients for 2s before demoting");
        assertThat(first.nextCycle()).isEqualTo(java.time.Duration.ofSeconds(2));

        f.memory(NodeMemory.INITIAL.withDraining(new NodeMemory.Draining(f.now, 9)));
        f.now += java.time.Duration.ofMillis(500).toNanos();
        Decision during = f.decide();
        assertThat(Steps.of(during)).doesNotContain("Stop", "Drain");
        assertThat(during.reason()).contains("demoting in 1.5s");

        f.now += java.time.Duration.ofMillis(1500).toNanos();
        Decision after = f.decide();
        assertThat(Steps.of(after)).containsSubsequence("RenewLeader", "Checkpoint", "Stop", "ReleaseLeader",
                "Drain");
        assertThat(Steps.find(after, Action.Drain.class).request()).as("draining ends with the demotion").isNegative();
    }

    @Test
    void aLeaderStopsDrainingWhenTheRequestIsCancelled() {
        Fixture f = Fixture.as("m1").leader("m1").optime(100 * MB).pg(Fixture.primary(Lsn.of(100 * MB)));
        f.settings.switchoverDrain(java.time.Duration.ofSeconds(2));
        f.memory(NodeMemory.INITIAL.withDraining(new NodeMemory.Draining(f.now, 9)));
        Decision d = f.decide();
        assertThat(Steps.of(d)).contains("Drain").doesNotContain("Stop");
        assertThat(Steps.find(d, Action.Drain.class).request()).isNegative();
    }

    @Test
    void aSwitchoverToALaggingCandidateIsRefusedAndCleared() {
        Decision d = leaderWithRequest("m1", "m2").peer("m2", 50 * MB).decide();
        assertThat(Steps.of(d)).contains("ClearFailover").doesNotContain("Stop");
        assertThat(d.reason()).contains("switchover refused").contains("lags");
    }

    @Test
    void aSwitchoverToAnUnreachableCandidateIsRefused() {
        Decision d = leaderWithRequest("m1", "m2").decide();
        assertThat(d.reason()).contains("m2: unreachable");
    }

    @Test
    void inSynchronousModeTheSwitchoverCandidateMustBeASynchronousStandby() {
        Decision d = leaderWithRequest("m1", "m3").sync("m1", "m2").peer("m3", 100 * MB).decide();
        assertThat(d.reason()).contains("not a synchronous standby");
    }

    @Test
    void aRequestForAnotherLeaderIsCleared() {
        Decision d = leaderWithRequest("m3", "m2").decide();
        assertThat(Steps.of(d)).contains("ClearFailover");
    }

    @Test
    void aScheduledSwitchoverWaitsForItsTime() {
        Fixture f = leaderWithRequest("m1", "m2").peer("m2", 100 * MB);
        f.view = f.view.withFailover(new FailoverRequest("m1", "m2",
                OffsetDateTime.ofInstant(f.wallNow.plusSeconds(3600), ZoneOffset.UTC), 9));
        Decision d = f.decide();
        assertThat(Steps.of(d)).doesNotContain("Stop", "ClearFailover");
        assertThat(d.reason()).contains("scheduled");
    }

    @Test
    void aStaleScheduledSwitchoverIsCleared() {
        Fixture f = leaderWithRequest("m1", "m2").peer("m2", 100 * MB);
        f.view = f.view.withFailover(new FailoverRequest("m1", "m2",
                OffsetDateTime.ofInstant(f.wallNow.minusSeconds(3600), ZoneOffset.UTC), 9));
        assertThat(Steps.of(f.decide())).contains("ClearFailover").doesNotContain("Stop");
    }

    @Test
    void aManualFailoverCandidatePromotesEvenWhenLagging() {
        Decision d = Fixture.as("m2").noLeader().optime(100 * MB).pg(Fixture.replica(Lsn.of(10 * MB), "m1"))
                .failover(null, "m2").decide();
        assertThat(Steps.of(d)).containsSubsequence("AcquireLeader", "Promote", "ClearFailover");
    }

    @Test
    void s3_aManualFailoverToAMemberOutsideTheSynchronousSetIsRefusedAndOthersRace() {
        // As Patroni: in synchronous mode an explicit failover may only name a synchronous standby.
        Decision d = Fixture.as("m3").noLeader().optime(100 * MB).pg(Fixture.replica(Lsn.of(100 * MB), "m1"))
                .sync("m1", "m2").failover(null, "m3").decide();
        assertThat(Steps.of(d)).doesNotContain("AcquireLeader", "Promote");
        assertThat(d.reason()).contains("not a synchronous standby");
        Decision m2 = Fixture.as("m2").noLeader().optime(100 * MB).pg(Fixture.replica(Lsn.of(100 * MB), "m1"))
                .sync("m1", "m2").failover(null, "m3").peer("m3", 100 * MB).decide();
        assertThat(Steps.of(m2)).as("the synchronous standby does not wait for a candidate that may not win")
                .contains("AcquireLeader", "Promote");
    }

    @Test
    void s4_aManualFailoverOntoAnOlderTimelinePromotesOntoAFreshNumber() {
        Decision d = Fixture.as("m2").noLeader().history(1).pg(Fixture.replica(Lsn.of(MB / 2), "m1"))
                .failover(null, "m2").decide();
        assertThat(Steps.find(d, Action.Promote.class).minTimeline()).isEqualTo(3);
    }

    @Test
    void s2_aSwitchoverCandidateWhoseLeaderVanishedIsStillHeldToTheLagLimit() {
        Decision d = Fixture.as("m2").noLeader().optime(100 * MB).pg(Fixture.replica(Lsn.of(10 * MB), "m1"))
                .failover("m1", "m2").decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("maximumLagOnFailover");
    }

    @Test
    void othersLetAReachableEligibleCandidateTakeOver() {
        Decision d = Fixture.as("m3").noLeader().optime(100 * MB).pg(Fixture.replica(Lsn.of(100 * MB), "m1"))
                .failover("m1", "m2").peer("m2", 100 * MB).decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("letting the failover candidate m2 take over");
    }

    @Test
    void othersRaceWhenTheCandidateCouldNotWin() {
        Decision d = Fixture.as("m3").noLeader().optime(100 * MB).pg(Fixture.replica(Lsn.of(100 * MB), "m1"))
                .failover("m1", "m2").peer("m2", 10 * MB).decide();
        assertThat(Steps.of(d)).contains("AcquireLeader");
    }
}
