package io.pgha.core.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.spi.DivergenceCheck;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The comparison rules, without servers. */
class DivergenceTest {

    private static final List<TimelineHistory.Entry> FORK_AT_3000 =
            List.of(new TimelineHistory.Entry(1, Lsn.parse("0/3000"), "", null, null));

    private static Divergence.Leader leaderOnTimeline2() {
        return new Divergence.Leader("42", 2, Lsn.parse("0/9000"), FORK_AT_3000);
    }

    private static DivergenceCheck.Result check(Divergence.Local me, Divergence.Leader leader) {
        return Divergence.compare(me, leader).result();
    }

    @Test
    void aStoppedOldPrimaryWhoseLastRecordStartsAtOrAfterTheForkDiverged() {
        assertThat(check(stopped(1, "0/3000"), leaderOnTimeline2())).isEqualTo(DivergenceCheck.Result.DIVERGED);
        assertThat(check(stopped(1, "0/3100"), leaderOnTimeline2())).isEqualTo(DivergenceCheck.Result.DIVERGED);
        // A clean switchover: the shutdown checkpoint starts before the fork and ends exactly at it.
        assertThat(check(stopped(1, "0/2F90"), leaderOnTimeline2())).isEqualTo(DivergenceCheck.Result.NONE);
    }

    @Test
    void s4_twoTimelinesWithTheSameNumberAndDifferentForksAreDivergedAndNotRewindable() {
        // Two members each promoted from timeline 1 onto "timeline 2", at different points.
        Divergence.Local me = new Divergence.Local("42", 2, Lsn.parse("0/8000"), false,
                List.of(new TimelineHistory.Entry(1, Lsn.parse("0/3500"), "", null, null)), "running primary");
        DivergenceCheck d = Divergence.compare(me, leaderOnTimeline2());
        assertThat(d.result()).isEqualTo(DivergenceCheck.Result.DIVERGED);
        assertThat(d.rewindable()).as("pg_rewind would say 'no rewind required'").isFalse();
        assertThat(d.detail()).contains("another timeline 2 than the leader's");
        // Different numbers: pg_rewind can do it.
        assertThat(Divergence.compare(stopped(1, "0/3100"), leaderOnTimeline2()).rewindable()).isTrue();
    }

    @Test
    void aRunningNodeDivergesOnlyPastTheFork() {
        assertThat(check(running(1, "0/3000"), leaderOnTimeline2())).isEqualTo(DivergenceCheck.Result.NONE);
        assertThat(check(running(1, "0/3001"), leaderOnTimeline2())).isEqualTo(DivergenceCheck.Result.DIVERGED);
    }

    @Test
    void timelinesAheadOfOrMissingFromTheLeadersHistoryDiverged() {
        assertThat(check(running(3, "0/1000"), leaderOnTimeline2())).isEqualTo(DivergenceCheck.Result.DIVERGED);
        Divergence.Leader onTl3 = new Divergence.Leader("42", 3, Lsn.parse("0/9000"),
                List.of(new TimelineHistory.Entry(1, Lsn.parse("0/3000"), "", null, null),
                        new TimelineHistory.Entry(2, Lsn.parse("0/5000"), "", null, null)));
        Divergence.Local tl2Elsewhere = new Divergence.Local("42", 2, Lsn.parse("0/4000"), true,
                List.of(new TimelineHistory.Entry(1, Lsn.parse("0/2800"), "", null, null)), "test");
        assertThat(check(tl2Elsewhere, onTl3)).isEqualTo(DivergenceCheck.Result.DIVERGED);
        Divergence.Local tl2Same = new Divergence.Local("42", 2, Lsn.parse("0/4000"), true, FORK_AT_3000, "test");
        assertThat(check(tl2Same, onTl3)).isEqualTo(DivergenceCheck.Result.NONE);
    }

    @Test
    void sameTimelineIsFineUnlessAheadOfTheLeaderOrAnotherCluster() {
        assertThat(check(running(2, "0/8000"), leaderOnTimeline2())).isEqualTo(DivergenceCheck.Result.NONE);
        assertThat(check(running(2, "0/9001"), leaderOnTimeline2())).isEqualTo(DivergenceCheck.Result.DIVERGED);
        Divergence.Local other = new Divergence.Local("43", 2, Lsn.parse("0/1"), false, List.of(), "test");
        DivergenceCheck d = Divergence.compare(other, leaderOnTimeline2());
        assertThat(d.result()).isEqualTo(DivergenceCheck.Result.DIVERGED);
        assertThat(d.detail()).contains("different clusters");
    }

    @Test
    void historyFilesParse() {
        List<TimelineHistory.Entry> h = Divergence.parseHistory(
                "1\t0/3000000\tno recovery target specified\n\n# comment\n2\t0/5000A28\tbefore 2020\n");
        assertThat(h).hasSize(2);
        assertThat(h.get(1).timeline()).isEqualTo(2);
        assertThat(h.get(1).switchLsn()).isEqualTo(Lsn.parse("0/5000A28"));
        assertThat(h.get(0).reason()).isEqualTo("no recovery target specified");
    }

    private static Divergence.Local stopped(int tl, String lastRecord) {
        return new Divergence.Local("42", tl, Lsn.parse(lastRecord), true, List.of(), "test");
    }

    private static Divergence.Local running(int tl, String position) {
        return new Divergence.Local("42", tl, Lsn.parse(position), false,
                tl == 2 ? FORK_AT_3000 : List.of(), "test");
    }
}
