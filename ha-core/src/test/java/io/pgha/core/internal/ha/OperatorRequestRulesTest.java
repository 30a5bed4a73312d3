package io.pgha.core.internal.ha;

import static io.pgha.core.internal.ha.Fixture.MB;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The operator's restart, reinitialize and reload requests as the pure decision core carries them out
 * ({@link OperatorRequests}): decision tables over {@link Fixture} inputs, no I/O.
 */
class OperatorRequestRulesTest {

    private static Fixture leading() {
        return Fixture.as("m1").leader("m1").optime(100 * MB).pg(Fixture.primary(Lsn.of(100 * MB)))
                .config(Map.of("ttl", 30));
    }

    private static Fixture replicaOfM1() {
        return Fixture.as("m2").leader("m1").optime(100 * MB).pg(Fixture.replica(Lsn.of(100 * MB), "m1"));
    }

    private static MemberRequest.Restart now() {
        return new MemberRequest.Restart(7, null, null, 0, null, false);
    }

    private static MemberRequest.Restart at(Instant when) {
        return new MemberRequest.Restart(8, when, null, 0, null, false);
    }

    private static PgState pendingRestart(PgState s) {
        return new PgState(s.dataDir(), s.run(), s.role(), s.systemId(), s.timeline(), s.walPosition(),
                s.receiveLsn(), s.replayLsn(), s.upstream(), s.streaming(), s.replication(),
                s.synchronousStandbyNames(), true, s.detail());
    }

    // ------------------------------------------------------------------------------------------------ restart

    @Test
    void theLeaderRestartsKeepingTheLock() {
        Decision d = leading().memory(NodeMemory.INITIAL.withRequest(now())).decide();
        assertThat(Steps.of(d)).containsExactly("RenewLeader", "Restart");
        Action.Restart r = Steps.find(d, Action.Restart.class);
        assertThat(r.primary()).isTrue();
        assertThat(r.requestId()).isEqualTo(7);
        assertThat(d.reason()).contains("keeping the lock");
    }

    @Test
    void aReplicaRestartsAsAReplicaOfItsUpstream() {
        Decision d = replicaOfM1().memory(NodeMemory.INITIAL.withRequest(now())).decide();
        assertThat(Steps.of(d)).containsExactly("Restart");
        Action.Restart r = Steps.find(d, Action.Restart.class);
        assertThat(r.primary()).isFalse();
        assertThat(r.upstream()).isNotNull();
        assertThat(r.upstream().address()).isEqualTo(Fixture.addressOf("m1"));
    }

    /**
     * Issue 12 (Patroni's order): a synchronous standby asked to restart first publishes a nosync tag and waits, at
     * most 2 x loopWait, for the leader to name another standby; then it restarts.
     */
    @Test
    void aSynchronousStandbyIsReleasedBeforeItRestarts() {
        Fixture f = replicaOfM1().sync("m1", "m2").memory(NodeMemory.INITIAL.withRequest(now()));
        Decision first = f.decide();
        assertThat(Steps.of(first)).containsExactly("ReleaseSync");
        assertThat(Steps.find(first, Action.ReleaseSync.class).upTo()).isEqualTo(Duration.ofSeconds(20));
        assertThat(first.reason()).contains("released first");

        f.memory(f.memory.withReleasingSyncUntil(f.now + Duration.ofSeconds(20).toNanos()));
        Decision waiting = f.decide();
        assertThat(Steps.of(waiting)).as("still listed in sync: wait").isEmpty();
        assertThat(waiting.reason()).contains("drop this member from the synchronous set");

        Fixture dropped = replicaOfM1().sync("m1", "m3").memory(f.memory);
        assertThat(Steps.of(dropped.decide())).as("released: restart").containsExactly("Restart");

        Fixture late = replicaOfM1().sync("m1", "m2").memory(f.memory.withReleasingSyncUntil(f.now - 1));
        assertThat(Steps.of(late.decide())).as("2 x loopWait passed: restart anyway").containsExactly("Restart");
    }

    @Test
    void anAsynchronousReplicaOrOneOutsideTheSetRestartsAtOnce() {
        assertThat(Steps.of(replicaOfM1().sync("m1", "m3").memory(NodeMemory.INITIAL.withRequest(now())).decide()))
                .containsExactly("Restart");
    }

    @Test
    void restartPendingGoesAheadOnlyWhenPostgresReportsAPendingRestart() {
        Fixture without = replicaOfM1().memory(NodeMemory.INITIAL
                .withRequest(new MemberRequest.Restart(3, null, null, 0, null, true)));
        Decision skipped = without.decide();
        assertThat(Steps.of(skipped)).containsExactly("EndRequest");
        Action.EndRequest end = Steps.find(skipped, Action.EndRequest.class);
        assertThat(end.ok()).isFalse();
        assertThat(end.message()).isEqualTo("restart conditions are not satisfied");
        assertThat(skipped.reason()).contains("pending restart flag is not set");

        Fixture with = replicaOfM1().memory(without.memory);
        with.pg(pendingRestart(with.pg));
        assertThat(Steps.of(with.decide())).containsExactly("Restart");
    }

    @Test
    void aRoleConditionThatDoesNotMatchEndsTheRequest() {
        MemberRequest.Restart replicasOnly = new MemberRequest.Restart(4, null, Role.REPLICA, 0, null, false);
        Decision onLeader = leading().memory(NodeMemory.INITIAL.withRequest(replicasOnly)).decide();
        assertThat(Steps.of(onLeader)).containsExactly("EndRequest");
        assertThat(onLeader.reason()).contains("host role mismatch");
        Decision onReplica = replicaOfM1().memory(NodeMemory.INITIAL.withRequest(replicasOnly)).decide();
        assertThat(Steps.of(onReplica)).containsExactly("Restart");
    }

    @Test
    void theVersionConditionTravelsWithTheActionToBeCheckedAgainstTheRunningServer() {
        MemberRequest.Restart older = new MemberRequest.Restart(5, null, null, 150009, "15.9", false);
        Action.Restart r = Steps.find(replicaOfM1().memory(NodeMemory.INITIAL.withRequest(older)).decide(),
                Action.Restart.class);
        assertThat(r.belowVersion()).isEqualTo(150009);
    }

    @Test
    void aPrimaryWithoutTheLockIsNotRestarted() {
        Decision d = Fixture.as("m2").leader("m1").pg(Fixture.primary(Lsn.of(MB)))
                .memory(NodeMemory.INITIAL.withRequest(now())).decide();
        assertThat(Steps.of(d)).containsExactly("EndRequest");
        assertThat(Steps.find(d, Action.EndRequest.class).ok()).isFalse();
    }

    @Test
    void aScheduledRestartWaitsForItsTimeThenRuns() {
        Fixture f = leading();
        f.memory(NodeMemory.INITIAL.withScheduledRestart(at(f.wallNow.plusSeconds(3600))));
        Decision before = f.decide();
        assertThat(Steps.of(before)).doesNotContain("Restart", "EndRequest");
        assertThat(before.reason()).contains("I am the leader");

        f.memory(NodeMemory.INITIAL.withScheduledRestart(at(f.wallNow.minusSeconds(1))));
        Decision due = f.decide();
        assertThat(Steps.of(due)).containsExactly("RenewLeader", "Restart");
        assertThat(Steps.find(due, Action.Restart.class).requestId()).isEqualTo(8);
        assertThat(due.reason()).contains("scheduled for");
    }

    @Test
    void aScheduledRestartLongOverdueIsDroppedNotRun() {
        Fixture f = leading();
        f.memory(NodeMemory.INITIAL.withScheduledRestart(at(f.wallNow.minus(Duration.ofHours(1)))));
        Decision d = f.decide();
        assertThat(Steps.of(d)).containsExactly("EndRequest");
        assertThat(d.reason()).contains("overdue");
    }

    @Test
    void aScheduledRestartWaitsWhileTheClusterIsPaused() {
        Fixture f = leading().paused();
        f.memory(NodeMemory.INITIAL.withScheduledRestart(at(f.wallNow.minusSeconds(1))));
        assertThat(Steps.of(f.decide())).doesNotContain("Restart", "EndRequest");
    }

    /** The leader's own restart has had postgres down for {@code down}, with primaryStartTimeout 60 s. */
    private static Decision leaderRestartingFor(Duration down) {
        Fixture f = leading().pg(Fixture.stopped(Role.PRIMARY, PgState.Run.STOPPED)).peer("m2", 100 * MB);
        f.settings.primaryStartTimeout(Duration.ofSeconds(60));
        f.memory(NodeMemory.INITIAL.withBusy(LongAction.RESTART).withPrimaryDownSince(f.now - down.toNanos()));
        return f.decide();
    }

    @Test
    void theLeaderKeepsTheLockWhileItsRestartRunsWithinPrimaryStartTimeout() {
        Decision d = leaderRestartingFor(Duration.ofSeconds(59));
        assertThat(Steps.of(d)).containsExactly("RenewLeader");
        assertThat(d.reason()).contains("restart in progress");
    }

    @Test
    void aLeaderRestartThatOutlastsPrimaryStartTimeoutFailsOver() {
        Decision d = leaderRestartingFor(Duration.ofSeconds(61));
        assertThat(Steps.of(d)).containsExactly("Fence", "ReleaseLeader");
        assertThat(d.reason()).contains("did not restart within primaryStartTimeout");
    }

    @Test
    void aLeaderRestartWithItsOwnTimeoutFailsOverAfterThatTimeoutNotPrimaryStartTimeout() {
        Fixture f = leading().pg(Fixture.stopped(Role.PRIMARY, PgState.Run.STOPPED)).peer("m2", 100 * MB);
        f.settings.primaryStartTimeout(Duration.ofSeconds(60));
        f.memory(NodeMemory.INITIAL.withBusy(LongAction.RESTART).withPrimaryDownSince(f.now
                - Duration.ofSeconds(11).toNanos()).withRestartStartTimeout(Duration.ofSeconds(10)));
        Decision d = f.decide();
        assertThat(Steps.of(d)).containsExactly("Fence", "ReleaseLeader");
        assertThat(d.reason()).contains("did not restart within the restart's timeout 10s");

        f.memory(f.memory.withPrimaryDownSince(f.now - Duration.ofSeconds(9).toNanos()));
        assertThat(Steps.of(f.decide())).containsExactly("RenewLeader");
    }

    @Test
    void theRestartActionCarriesTheOperatorsTimeout() {
        Decision d = leading().memory(NodeMemory.INITIAL.withRequest(new MemberRequest.Restart(5, null, null, 0, null,
                false, Duration.ofSeconds(20)))).decide();
        assertThat(Steps.find(d, Action.Restart.class).startTimeout()).isEqualTo(Duration.ofSeconds(20));
    }

    @Test
    void aRequestWaitsWhileALongActionRuns() {
        Decision d = replicaOfM1().memory(NodeMemory.INITIAL.withBusy(LongAction.START_REPLICA)
                .withRequest(now())).decide();
        assertThat(Steps.of(d)).isEmpty();
    }

    // ------------------------------------------------------------------------------------------------ reinitialize

    @Test
    void theLeaderRefusesToReinitialize() {
        Decision d = leading().memory(NodeMemory.INITIAL.withRequest(new MemberRequest.Reinitialize(9))).decide();
        assertThat(Steps.of(d)).containsExactly("EndRequest");
        assertThat(Steps.find(d, Action.EndRequest.class).message())
                .isEqualTo("I am the leader, can not reinitialize");
    }

    @Test
    void withoutALeaderNobodyReinitializes() {
        Decision d = replicaOfM1().noLeader()
                .memory(NodeMemory.INITIAL.withRequest(new MemberRequest.Reinitialize(9))).decide();
        assertThat(Steps.find(d, Action.EndRequest.class).message())
                .isEqualTo("Cluster has no leader, can not reinitialize");
    }

    @Test
    void aReplicaReinitializesFromTheLeaderEvenWithAnUnusableDataDirectory() {
        for (PgState pg : List.of(Fixture.replica(Lsn.of(100 * MB), "m1"),
                new PgState(PgState.DataDir.REWIND_INCOMPLETE, PgState.Run.STOPPED, Role.REPLICA, null, 0, null,
                        null, null, null, false, List.of(), "", false, "rewind interrupted"))) {
            Decision d = replicaOfM1().pg(pg).memory(NodeMemory.INITIAL.withRequest(new MemberRequest.Reinitialize(9)))
                    .decide();
            assertThat(Steps.of(d)).as(pg.dataDir().toString()).containsExactly("Reinitialize");
            Action.Reinitialize r = Steps.find(d, Action.Reinitialize.class);
            assertThat(r.leader().member()).isEqualTo("m1");
            assertThat(r.requestId()).isEqualTo(9);
        }
    }

    @Test
    void aForcedReinitializeCancelsAReplicasRestartCloneOrStart() {
        for (LongAction busy : List.of(LongAction.RESTART, LongAction.START_REPLICA, LongAction.REWIND,
                LongAction.CREATE_REPLICA, LongAction.RECLONE)) {
            Decision d = replicaOfM1().pg(Fixture.stopped(Role.REPLICA, PgState.Run.STARTING)).memory(NodeMemory.INITIAL
                    .withBusy(busy).withRequest(new MemberRequest.Reinitialize(9, true))).decide();
            assertThat(Steps.of(d)).as(busy.name()).containsExactly("CancelLongAction");
            assertThat(Steps.find(d, Action.CancelLongAction.class).running()).isEqualTo(busy);
        }
    }

    @Test
    void anUnforcedReinitializeWaitsForTheLongAction() {
        Decision d = replicaOfM1().memory(NodeMemory.INITIAL.withBusy(LongAction.RESTART)
                .withRequest(new MemberRequest.Reinitialize(9))).decide();
        assertThat(Steps.of(d)).isEmpty();
    }

    @Test
    void aForcedReinitializeNeverCancelsABootstrapOrAPrimarysStart() {
        for (LongAction busy : List.of(LongAction.BOOTSTRAP, LongAction.START_PRIMARY)) {
            Decision d = replicaOfM1().pg(Fixture.stopped(Role.PRIMARY, PgState.Run.STARTING)).memory(NodeMemory.INITIAL
                    .withBusy(busy).withRequest(new MemberRequest.Reinitialize(9, true))).decide();
            assertThat(Steps.of(d)).as(busy.name()).doesNotContain("CancelLongAction");
        }
    }

    @Test
    void aForcedReinitializeCancelsNothingOnTheLeaderOrWithoutALeader() {
        NodeMemory forced = NodeMemory.INITIAL.withBusy(LongAction.RESTART)
                .withRequest(new MemberRequest.Reinitialize(9, true));
        assertThat(Steps.of(leading().memory(forced).decide())).containsExactly("RenewLeader");
        assertThat(Steps.of(replicaOfM1().noLeader().memory(forced).decide())).doesNotContain("CancelLongAction");
    }

    // ------------------------------------------------------------------------------------------------ reload

    @Test
    void reloadRunsOnARunningServerAndTheLeaderStillRenews() {
        assertThat(Steps.of(leading().memory(NodeMemory.INITIAL.withRequest(new MemberRequest.Reload(2))).decide()))
                .containsExactly("RenewLeader", "ReloadPostgres");
        assertThat(Steps.of(replicaOfM1().memory(NodeMemory.INITIAL.withRequest(new MemberRequest.Reload(2)))
                .decide())).containsExactly("ReloadPostgres");
    }

    @Test
    void reloadOfAStoppedServerEndsTheRequest() {
        Decision d = replicaOfM1().pg(Fixture.stopped(Role.REPLICA, PgState.Run.STOPPED))
                .memory(NodeMemory.INITIAL.withRequest(new MemberRequest.Reload(2))).decide();
        assertThat(Steps.of(d)).containsExactly("EndRequest");
    }

    // ------------------------------------------------------------------------------------------------ memory

    @Test
    void anEndedRequestLeavesItsSlotAndRecordsItsOutcome() {
        NodeMemory m = NodeMemory.INITIAL.withRequest(now()).withScheduledRestart(at(Instant.EPOCH));
        NodeMemory after = m.withRequestDone(8, false, "scheduled restart was stale");
        assertThat(after.scheduledRestart()).isNull();
        assertThat(after.request()).isEqualTo(now());
        assertThat(after.requestOutcome()).isEqualTo(new MemberRequest.Outcome(8, false,
                "scheduled restart was stale"));
        assertThat(after.withRequestTaken(7).request()).isNull();
    }
}
