package io.pgha.core.internal.ha;

import static io.pgha.core.internal.ha.Fixture.MB;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.spi.DivergenceCheck;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Rule S4 around pg_rewind: a data directory a rewind left half rewritten (known from disk, so after an agent
 * restart too) never starts, races or leads; a fork on the same timeline number is re-cloned, not "rewound".
 */
class RewindRulesTest {

    private static PgState halfRewound(PgState.Run run) {
        return new PgState(PgState.DataDir.REWIND_INCOMPLETE, run, run == PgState.Run.RUNNING ? Role.PRIMARY
                : Role.REPLICA, Fixture.SYSID, 2,
                Lsn.of(90 * MB), null, null, null, false, List.of(), "", false,
                "a pg_rewind did not complete (pg_rewind onto m1 started at ...)");
    }

    @Test
    void s4_aHalfRewoundMemberReclonesWhenAllowedAndOtherwiseNeverStarts() {
        Fixture f = Fixture.as("m2").leader("m1").pg(halfRewound(PgState.Run.STOPPED))
                .diverged(DivergenceCheck.Result.NONE);
        Decision refused = f.decide();
        assertThat(Steps.of(refused)).as("allowReclone is off by default").isEmpty();
        assertThat(refused.reason()).contains("half rewritten").contains("re-clone this member by hand");

        f.settings.allowReclone(true);
        assertThat(Steps.of(f.decide())).containsExactly("RecloneAndFollow");
    }

    @Test
    void s4_aHalfRewoundMemberNeverRacesAndALockHolderFencesAndReleases() {
        Decision noLeader = Fixture.as("m2").noLeader().optime(90 * MB).pg(halfRewound(PgState.Run.STOPPED))
                .peer("m3", 10 * MB).decide();
        assertThat(Steps.of(noLeader)).isEmpty();
        assertThat(noLeader.reason()).contains("waiting for a leader to re-clone from");

        Decision holder = Fixture.as("m2").leader("m2").pg(halfRewound(PgState.Run.CRASHED)).decide();
        assertThat(Steps.of(holder)).containsExactly("ReleaseLeader");
        Decision running = Fixture.as("m2").leader("m2").pg(halfRewound(PgState.Run.RUNNING)).decide();
        assertThat(Steps.of(running)).containsExactly("Fence", "ReleaseLeader");
    }

    @Test
    void s4_aForkOnTheSameTimelineNumberIsReclonedNotRewound() {
        Fixture f = Fixture.as("m3").leader("m1").pg(Fixture.stopped(Role.PRIMARY, PgState.Run.CRASHED));
        f.divergence = DivergenceCheck.forkedOnSameTimeline("timeline 3 here forked at 0/5000000, the leader's at"
                + " 0/5100000");
        Decision noReclone = f.decide();
        assertThat(Steps.of(noReclone)).as("pg_rewind would answer 'no rewind required'").isEmpty();
        assertThat(noReclone.reason()).contains("pg_rewind cannot undo a fork on the same timeline number");
        f.settings.allowReclone(true);
        assertThat(Steps.of(f.decide())).containsExactly("RecloneAndFollow");
    }
}
