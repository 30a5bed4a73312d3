package io.pgha.core.internal.ha;

import static io.pgha.core.internal.ha.Fixture.MB;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.spi.DivergenceCheck;
import org.junit.jupiter.api.Test;

/** Following another leader and rule S4: never stream from a diverged history. */
class FollowRulesTest {

    private static Fixture stoppedUnder(String leader) {
        return Fixture.as("m2").leader(leader).pg(Fixture.stopped(Role.PRIMARY, PgState.Run.STOPPED));
    }

    @Test
    void aReplicaStreamingFromTheLeaderDoesNothingButLookForSlotsOfItsOwn() {
        Decision d = Fixture.as("m2").leader("m1").pg(Fixture.replica(Lsn.of(MB), "m1")).decide();
        assertThat(d.actions()).as("slots left from an earlier life as a primary would pin WAL here")
                .containsExactly(new Action.KeepSlots(false));
        assertThat(d.reason()).contains("streaming from the leader m1");

        Fixture noSlots = Fixture.as("m2").leader("m1").pg(Fixture.replica(Lsn.of(MB), "m1"));
        noSlots.settings.useSlots(false);
        assertThat(noSlots.decide().actions()).as("use_slots off: pgha leaves slots alone").isEmpty();
    }

    @Test
    void aReplicaFollowsANewLeaderWhenItHasNotDiverged() {
        Decision d = Fixture.as("m2").leader("m3").pg(Fixture.replica(Lsn.of(MB), "m1"))
                .diverged(DivergenceCheck.Result.NONE).decide();
        assertThat(Steps.of(d)).containsExactly("Follow");
        assertThat(Steps.find(d, Action.Follow.class).leader().member()).isEqualTo("m3");
    }

    @Test
    void s4_aDivergedReplicaStopsInsteadOfFollowing() {
        Decision d = Fixture.as("m2").leader("m3").pg(Fixture.replica(Lsn.of(MB), "m1"))
                .diverged(DivergenceCheck.Result.DIVERGED).decide();
        assertThat(Steps.of(d)).containsExactly("Stop");
    }

    @Test
    void s4_aReplicaStuckOnItsLeaderBecauseItDivergedStops() {
        PgState notStreaming = new PgState(PgState.DataDir.VALID, PgState.Run.RUNNING, Role.REPLICA,
                Fixture.SYSID, 1, Lsn.of(MB), Lsn.of(MB), Lsn.of(MB), Fixture.addressOf("m1"), false,
                java.util.List.of(), "", false, "");
        Decision d = Fixture.as("m2").leader("m1").pg(notStreaming).diverged(DivergenceCheck.Result.DIVERGED).decide();
        assertThat(Steps.of(d)).containsExactly("Stop");
    }

    @Test
    void s4_withoutADivergenceAnswerTheMemberWaits() {
        Decision d = stoppedUnder("m1").diverged(DivergenceCheck.Result.UNKNOWN).decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("cannot tell");
        assertThat(stoppedUnder("m1").decide().actions()).as("not checked at all").isEmpty();
    }

    @Test
    void s4_aDivergedStoppedNodeIsRewound() {
        Decision d = stoppedUnder("m1").diverged(DivergenceCheck.Result.DIVERGED).decide();
        assertThat(Steps.of(d)).containsExactly("RewindAndFollow");
    }

    @Test
    void s4_withRewindOffADivergedNodeIsReclonedOnlyIfAllowed() {
        Fixture f = stoppedUnder("m1").diverged(DivergenceCheck.Result.DIVERGED);
        f.settings.usePgRewind(false);
        Decision refused = f.decide();
        assertThat(refused.actions()).isEmpty();
        assertThat(refused.reason()).contains("not following");
        f.settings.allowReclone(true);
        assertThat(Steps.of(f.decide())).containsExactly("RecloneAndFollow");
    }

    @Test
    void s4_afterAFailedRewindOnlyAReclonecanHelp() {
        Fixture f = stoppedUnder("m1").diverged(DivergenceCheck.Result.DIVERGED)
                .memory(NodeMemory.INITIAL.withRewindFailed(true));
        assertThat(f.decide().actions()).isEmpty();
        f.settings.allowReclone(true);
        assertThat(Steps.of(f.decide())).containsExactly("RecloneAndFollow");
    }

    @Test
    void aStoppedNodeThatHasNotDivergedStartsAsAReplicaOfTheLeader() {
        Decision d = stoppedUnder("m1").diverged(DivergenceCheck.Result.NONE).decide();
        assertThat(Steps.of(d)).containsExactly("StartReplica");
        assertThat(Steps.find(d, Action.StartReplica.class).upstream().member()).isEqualTo("m1");
    }
}
