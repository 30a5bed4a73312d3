package io.pgha.core.internal.ha;

import static io.pgha.core.internal.ha.Fixture.MB;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.Tags;
import org.junit.jupiter.api.Test;

/** The leader race with a free lock (Patroni's is_healthiest_node): rules S2 (lag), S3 (synchronous set) and S4 (timelines). */
class RaceRulesTest {

    private static Fixture freeLock(String me) {
        return Fixture.as(me).noLeader().optime(100 * MB).pg(Fixture.replica(Lsn.of(100 * MB), "m1"));
    }

    @Test
    void theHealthiestReplicaAcquiresBeforeItPromotes() {
        Decision d = freeLock("m2").peer("m3", 100 * MB).decide();
        assertThat(Steps.of(d)).containsSubsequence("AcquireLeader", "AnnounceTimeline", "Promote");
        assertThat(Steps.of(d).get(0)).isEqualTo("AcquireLeader");
    }

    @Test
    void s2_aReplicaLaggingMoreThanMaximumLagOnFailoverDoesNotRace() {
        Decision d = freeLock("m2").pg(Fixture.replica(Lsn.of(98 * MB), "m1")).decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("maximumLagOnFailover");
    }

    @Test
    void s2_aReplicaWithinTheLagLimitRaces() {
        Decision d = freeLock("m2").pg(Fixture.replica(Lsn.of(100 * MB - 512 * 1024), "m1")).decide();
        assertThat(Steps.of(d)).contains("AcquireLeader");
    }

    @Test
    void s2_aReplicaBehindAReachablePeerDoesNotRace() {
        Decision d = freeLock("m2").peer("m3", 100 * MB + 8192).decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("m3 is ahead");
    }

    @Test
    void anUnreachablePeerIsNotCompared() {
        Decision d = freeLock("m2").decide(); // m3 did not answer
        assertThat(Steps.of(d)).contains("AcquireLeader");
    }

    @Test
    void aPeerOnAnOlderTimelineIsNotAheadWhateverItsPosition() {
        Decision d = freeLock("m2").timeline(2).history(1)
                .peer(new PeerStatus("m3", true, true, Lsn.of(200 * MB), 1, false, 1)).decide();
        assertThat(Steps.of(d)).contains("AcquireLeader");
    }

    @Test
    void s2_aMemberOnATimelineNumberALaterPromotionSkippedNeverRaces() {
        // m2 promoted onto timeline 2 from 1 at 50 MB and was cut off; m3, still on 1, promoted past it onto 3 at
        // 90 MB. m2's timeline 2 is a branch the cluster left: its WAL beyond 50 MB is not the cluster's, and the
        // key's placeholder for 2 says nothing about where it forked.
        TimelineHistory key = TimelineHistories.announce(new TimelineHistory(java.util.List.of(
                new TimelineHistory.Entry(1, Lsn.of(50 * MB), "m2's promotion", null, "m2")), 6), 1, 3,
                Lsn.of(90 * MB), "pgha: m3 promoting onto timeline 3", null, "m3");
        assertThat(key.skipped(2)).isTrue();
        assertThat(key.skipped(1)).isFalse();
        Fixture f = freeLock("m2").timeline(2).optime(90 * MB).pg(Fixture.replica(Lsn.of(100 * MB), null));
        f.view = f.view.withHistory(key);
        Decision d = f.timeline(2).decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("my timeline 2 is a branch the cluster left");
    }

    @Test
    void aScheduledSwitchoverWhoseTimeHasComeIsTakenOverByItsCandidateOnly() {
        // The leader stepped down at the scheduled time: m3, as healthy as the candidate m2, must not race.
        Fixture due = freeLock("m3").peer("m2", 100 * MB);
        due.view = due.view.withFailover(new io.pgha.core.cluster.FailoverRequest("m1", "m2",
                java.time.OffsetDateTime.ofInstant(due.wallNow.minusSeconds(1), java.time.ZoneOffset.UTC), 9));
        Decision d = due.decide();
        assertThat(d.actions()).as(d.reason()).isEmpty();

        // The leader crashed long before a switchover scheduled for later: an ordinary race.
        Fixture later = freeLock("m3").peer("m2", 100 * MB);
        later.view = later.view.withFailover(new io.pgha.core.cluster.FailoverRequest("m1", "m2",
                java.time.OffsetDateTime.ofInstant(later.wallNow.plusSeconds(3600), java.time.ZoneOffset.UTC), 9));
        assertThat(Steps.of(later.decide())).contains("AcquireLeader");
    }

    /**
     * Issue 11: the named candidate of a due switchover decides on its own state and the store alone, so the cycle
     * does not wait for its peers' status probes (the old leader, restarting just then, answers late): what they
     * would say does not change its decision. Everyone else, and a request scheduled for later, still asks.
     */
    @Test
    void theNamedCandidateOfADueSwitchoverDecidesWithoutItsPeers() {
        Fixture alone = freeLock("m2").failover("m1", "m2");
        HaInput in = alone.input();
        assertThat(LeaderRace.candidateDecidesAlone(in.view(), in.pg(), "m2", in.wallNow(), in.settings().loopWait()))
                .isTrue();
        Decision without = alone.decide();
        Decision with = freeLock("m2").failover("m1", "m2").peer("m3", 100 * MB + 8192)
                .peer(new PeerStatus("m1", false, false, Lsn.of(100 * MB), 1, false, 1)).decide();
        assertThat(Steps.of(without)).contains("AcquireLeader");
        assertThat(without.reason()).isEqualTo(with.reason());
        assertThat(Steps.of(without)).isEqualTo(Steps.of(with));

        HaInput other = freeLock("m3").failover("m1", "m2").input();
        assertThat(LeaderRace.candidateDecidesAlone(other.view(), other.pg(), "m3", other.wallNow(),
                other.settings().loopWait())).as("not the candidate").isFalse();
        Fixture later = freeLock("m2");
        later.view = later.view.withFailover(new io.pgha.core.cluster.FailoverRequest("m1", "m2",
                java.time.OffsetDateTime.ofInstant(later.wallNow.plusSeconds(3600), java.time.ZoneOffset.UTC), 9));
        HaInput l = later.input();
        assertThat(LeaderRace.candidateDecidesAlone(l.view(), l.pg(), "m2", l.wallNow(), l.settings().loopWait()))
                .as("scheduled for later: an ordinary race").isFalse();
        HaInput primary = freeLock("m2").failover("m1", "m2").pg(Fixture.primary(Lsn.of(100 * MB))).input();
        assertThat(LeaderRace.candidateDecidesAlone(primary.view(), primary.pg(), "m2", primary.wallNow(),
                primary.settings().loopWait())).as("running as primary: compared with its peers").isFalse();
    }

    @Test
    void aPeerThatStillRunsAsPrimaryStopsTheRace() {
        Decision d = freeLock("m2")
                .peer(new PeerStatus("m1", true, false, Lsn.of(100 * MB), 1, false, 1)).decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("m1 still runs as primary");
    }

    @Test
    void atTheSamePositionAHigherFailoverPriorityWins() {
        Decision d = freeLock("m2").peer(new PeerStatus("m3", true, true, Lsn.of(100 * MB), 1, false, 5))
                .decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("higher failover priority");
    }

    @Test
    void aNofailoverPeerAheadDoesNotBlockTheRace() {
        Fixture f = freeLock("m2").member("m3", Tags.DEFAULT.withNofailover(true)).peer("m3", 101 * MB);
        assertThat(Steps.of(f.decide())).contains("AcquireLeader");
    }

    @Test
    void aNofailoverMemberDoesNotRace() {
        Fixture f = freeLock("m2");
        f.settings.tags(Tags.DEFAULT.withNofailover(true));
        assertThat(f.decide().reason()).contains("nofailover");
    }

    @Test
    void failoverPriorityZeroActsLikeNofailover() {
        Fixture f = freeLock("m2");
        f.settings.tags(Tags.DEFAULT.withFailoverPriority(0));
        assertThat(f.decide().actions()).isEmpty();
    }

    @Test
    void s3_onlyMembersOfTheSynchronousSetRace() {
        Decision d = freeLock("m3").sync("m1", "m2").decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("not a synchronous standby");
        assertThat(Steps.of(freeLock("m2").sync("m1", "m2").decide())).contains("AcquireLeader", "Promote");
    }

    @Test
    void s3_aSynchronousStandbyClaimsTheSyncKeyBeforePromoting() {
        Decision d = freeLock("m2").sync("m1", "m2").decide();
        assertThat(Steps.of(d)).containsSubsequence("AcquireLeader", "WriteSync", "SetSyncStandbyNames", "Promote");
        assertThat(Steps.find(d, Action.WriteSync.class).state().leader()).isEqualTo("m2");
    }

    @Test
    void s2_onAnOlderTimelineOnlyTheHistoryUpToTheForkCounts() {
        // The cluster left timeline 1 at 1 MB; what m2 has beyond that on timeline 1 is a dead branch.
        Decision d = freeLock("m2").history(1).decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("maximumLagOnFailover");
    }

    @Test
    void s4_aPromotionPicksATimelineNumberNoMemberHasUsed() {
        Fixture f = freeLock("m2").timeline(2);
        f.view = f.view.withHistory(new io.pgha.core.cluster.TimelineHistory(java.util.List.of(
                new io.pgha.core.cluster.TimelineHistory.Entry(1, Lsn.of(200 * MB), "x", null, null),
                new io.pgha.core.cluster.TimelineHistory.Entry(2, Lsn.of(200 * MB), "x", null, "m1"),
                new io.pgha.core.cluster.TimelineHistory.Entry(3, Lsn.of(200 * MB), "x", null, "m3")), 6));
        Decision d = f.decide(); // m2 on timeline 2; timeline 4 was announced by m3 (maybe never created)
        assertThat(Steps.find(d, Action.AnnounceTimeline.class).timeline()).isEqualTo(5);
        assertThat(Steps.find(d, Action.Promote.class).minTimeline()).isEqualTo(5);
    }

    @Test
    void s4_thePromoterAnnouncesItsTimelineBeforePromoting() {
        Decision d = freeLock("m2").decide();
        assertThat(Steps.of(d)).containsSubsequence("AcquireLeader", "AnnounceTimeline", "Promote");
        assertThat(Steps.find(d, Action.Promote.class).minTimeline()).isEqualTo(2);
    }

    @Test
    void aRunningPrimaryTakesTheFreeLockWithoutPromoting() {
        Decision d = Fixture.as("m1").noLeader().pg(Fixture.primary(Lsn.of(100 * MB))).decide();
        assertThat(Steps.of(d)).contains("AcquireLeader").doesNotContain("Promote");
    }

    @Test
    void aRunningPrimaryBehindTheClusterTimelineIsFencedInsteadOfTakingTheLock() {
        Decision d = Fixture.as("m1").noLeader().history(1).pg(Fixture.primary(Lsn.of(100 * MB))).decide();
        assertThat(Steps.of(d)).containsExactly("Fence");
    }

    @Test
    void s2_aRunningPrimaryBehindAPeerDoesNotRetakeTheFreeLockButIsFenced() {
        // It lost its lock in a stall; m2 was promoted meanwhile and wrote more, then lost the lock in turn.
        Decision d = Fixture.as("m1").noLeader().optime(100 * MB).pg(Fixture.primary(Lsn.of(100 * MB)))
                .peer("m2", 120 * MB).peer("m3", 100 * MB).decide();
        assertThat(Steps.of(d)).containsExactly("Fence");
        assertThat(d.reason()).contains("m2 is ahead");
    }

    @Test
    void s2_aRunningPrimaryBehindTheLastPublishedPositionDoesNotRetakeTheFreeLock() {
        Decision d = Fixture.as("m1").noLeader().optime(101 * MB).pg(Fixture.primary(Lsn.of(100 * MB)))
                .peer("m2", 100 * MB).peer("m3", 100 * MB).decide();
        assertThat(Steps.of(d)).containsExactly("Fence");
        assertThat(d.reason()).contains("another primary wrote after me");
    }

    @Test
    void s2_aRunningPrimaryDoesNotRetakeTheFreeLockWhileAnotherPrimaryAnswers() {
        Decision d = Fixture.as("m1").noLeader().optime(100 * MB).pg(Fixture.primary(Lsn.of(100 * MB)))
                .peer(new PeerStatus("m2", true, false, Lsn.of(100 * MB), 1, false, 1)).decide();
        assertThat(Steps.of(d)).containsExactly("Fence");
        assertThat(d.reason()).contains("m2 still runs as primary");
    }

    @Test
    void s3_aRunningPrimaryOutsideTheSynchronousSetDoesNotRetakeTheFreeLock() {
        Decision d = Fixture.as("m1").noLeader().optime(100 * MB).pg(Fixture.primary(Lsn.of(100 * MB)))
                .sync("m2", "m3").peer("m2", 100 * MB).peer("m3", 100 * MB).decide();
        assertThat(Steps.of(d)).containsExactly("Fence");
        assertThat(d.reason()).contains("not a synchronous standby");
    }

    @Test
    void aRunningPrimaryKeepsATieWithAHigherPriorityPeer() {
        Decision d = Fixture.as("m1").noLeader().optime(100 * MB).pg(Fixture.primary(Lsn.of(100 * MB)))
                .peer(new PeerStatus("m2", true, true, Lsn.of(100 * MB), 1, false, 9)).peer("m3", 90 * MB)
                .decide();
        assertThat(Steps.of(d)).contains("AcquireLeader").doesNotContain("Fence", "Promote");
    }

    @Test
    void s2_aReplicaWhoseReplayIsPausedDoesNotRace() {
        Decision d = freeLock("m2").replayPaused().peer("m3", 90 * MB).decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("WAL replay is paused");
    }

    @Test
    void s2_aPeerWhoseReplayIsPausedDoesNotHoldOthersBack() {
        // m3 received more but cannot win; m2 must not wait for it.
        Decision d = freeLock("m2").peer(new PeerStatus("m3", true, true, Lsn.of(100 * MB), 1, false, 5, true))
                .decide();
        assertThat(Steps.of(d)).contains("AcquireLeader");
    }

    @Test
    void aPeerThatBelievesTheClusterPausedDoesNotHoldTheRaceBack() {
        // It reads an older config (the key is undecodable and it substitutes what it last decoded): it will not race.
        Decision d = freeLock("m2").peer(new PeerStatus("m3", true, true, Lsn.of(100 * MB), 1, false, 9, false, true))
                .decide();
        assertThat(Steps.of(d)).contains("AcquireLeader");
    }

    @Test
    void whilePausedNobodyRaces() {
        Decision d = freeLock("m2").paused().decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("paused");
    }

    @Test
    void failsafe_aRecentPingFromThePrimaryStopsTheRace() {
        Fixture f = freeLock("m2").memory(NodeMemory.INITIAL.withLastLeader("m1")
                .withFailsafePing("m1", Fixture.as("m2").now - 1000));
        f.settings.failsafeMode(true);
        Decision d = f.decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("m1 confirmed it runs as primary");
    }

    @Test
    void failsafe_aPingFromAMemberThatDidNotHoldTheLockDoesNotStopTheRace() {
        long now = Fixture.as("m2").now;
        Fixture spoofed = freeLock("m2").memory(NodeMemory.INITIAL.withLastLeader("m1").withFailsafePing("m3",
                now - 1000));
        spoofed.settings.failsafeMode(true);
        assertThat(Steps.of(spoofed.decide())).startsWith("AcquireLeader");

        // The primary that pinged lost the lock since: another leader has been seen, its pings no longer count.
        Fixture stale = freeLock("m2").memory(NodeMemory.INITIAL.withFailsafePing("m1", now - 1000)
                .withLastLeader("m3"));
        stale.settings.failsafeMode(true);
        assertThat(Steps.of(stale.decide())).startsWith("AcquireLeader");

        Fixture blind = freeLock("m2").memory(NodeMemory.INITIAL.withFailsafePing("m1", now - 1000));
        blind.settings.failsafeMode(true);
        assertThat(Steps.of(blind.decide())).as("no lock holder ever seen").startsWith("AcquireLeader");
    }

    @Test
    void failsafe_onlyThePingOfTheLastLockHolderIsBelieved() {
        NodeMemory saw = NodeMemory.INITIAL.withLastLeader("m1");
        assertThat(saw.failsafePingRefusal("m1", "m2")).isNull();
        assertThat(saw.failsafePingRefusal("m3", "m2")).isEqualTo("m1 holds the lock as far as m2 knows, not m3");
        assertThat(NodeMemory.INITIAL.failsafePingRefusal("m1", "m2")).isEqualTo("m2 has not seen a leader yet");
        assertThat(NodeMemory.INITIAL.withLastLeader("m2").failsafePingRefusal("m2", "m2"))
                .isEqualTo("the ping names m2 itself");
    }

    @Test
    void failsafe_aMemberMissingFromTheFailsafeKeyDoesNotRace() {
        Fixture f = freeLock("m2");
        f.settings.failsafeMode(true);
        f.view = f.view.withFailsafe(java.util.Map.of("m1", "http://a/patroni", "m3", "http://c/patroni"));
        assertThat(f.decide().reason()).contains("not in the failsafe member list");
    }

    @Test
    void s1_anOperatorsFailoverDoesNotPromoteAMemberMissingFromTheFailsafeKey() {
        // Simulation seed 13554 (nightly run of 2026-12-05): m1 ran as primary in failsafe mode, confirmed by m2; m3,
        // back from a host crash and never asked, was the candidate of an explicit failover and promoted next to it.
        Fixture f = freeLock("m3").failover(null, "m3");
        f.settings.failsafeMode(true);
        f.view = f.view.withFailsafe(java.util.Map.of("m1", "http://a/patroni", "m2", "http://b/patroni"));
        Decision d = f.decide();
        assertThat(Steps.of(d)).doesNotContain("AcquireLeader", "Promote");
        assertThat(d.reason()).contains("manual failover names me, but I am not in the failsafe member list");
    }

    @Test
    void aStartingPostgresDoesNotRace() {
        Decision d = freeLock("m2").pg(Fixture.stopped(Role.REPLICA, PgState.Run.STARTING)).decide();
        assertThat(Steps.of(d)).doesNotContain("AcquireLeader");
    }

    @Test
    void aStoppedNodeStartsReadOnlyToTakePartInTheRace() {
        Decision d = freeLock("m2").pg(Fixture.stopped(Role.REPLICA, PgState.Run.STOPPED)).decide();
        assertThat(Steps.of(d)).containsExactly("StartReplica");
        assertThat(Steps.find(d, Action.StartReplica.class).upstream()).isNull();
    }
}
