package io.pgha.core.internal.ha;

import static io.pgha.core.internal.ha.Fixture.MB;
import static io.pgha.core.internal.ha.Fixture.row;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.SyncState;
import io.pgha.core.config.Tags;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Synchronous standby management by the primary (Patroni's process_sync_replication) and rule S3. */
class SyncRulesTest {

    private static Fixture primary() {
        return Fixture.as("m1").leader("m1").optime(100 * MB).pg(Fixture.primary(Lsn.of(100 * MB)));
    }

    @Test
    void s3_thePrimaryClaimsTheSyncKeyBeforeNamingStandbys() {
        Fixture f = primary();
        f.settings.synchronousMode(io.pgha.core.config.SynchronousMode.ON);
        Decision d = f.replication("", row("m2", "async", 100 * MB)).decide();
        Action.WriteSync w = Steps.find(d, Action.WriteSync.class);
        assertThat(w.state().leader()).isEqualTo("m1");
        assertThat(w.state().standbys()).isEmpty();
        assertThat(Steps.of(d)).doesNotContain("SetSyncStandbyNames");
    }

    @Test
    void s3_aStandbyIsNamedInPostgresBeforeItIsPublished() {
        Decision d = primary().sync("m1").replication("", row("m2", "async", 100 * MB)).decide();
        assertThat(Steps.find(d, Action.SetSyncStandbyNames.class).value()).isEqualTo("\"m2\"");
        assertThat(Steps.of(d)).doesNotContain("WriteSync");
    }

    @Test
    void s3_aStandbyIsPublishedOnlyOnceSynchronousAndPastThePositionWhenItWasNamed() {
        NodeMemory named = NodeMemory.INITIAL.withSsn("\"m2\"", Lsn.of(100 * MB));
        Decision behind = primary().sync("m1").memory(named)
                .replication("\"m2\"", row("m2", "sync", 99 * MB)).decide();
        assertThat(Steps.of(behind)).as("sync but not caught up").doesNotContain("WriteSync");
        Decision caughtUp = primary().sync("m1").memory(named)
                .replication("\"m2\"", row("m2", "sync", 100 * MB)).decide();
        assertThat(Steps.find(caughtUp, Action.WriteSync.class).state().standbys()).containsExactly("m2");
    }

    @Test
    void s3_aStandbyLeavesTheSyncKeyBeforePostgresStopsWaitingForIt() {
        NodeMemory named = NodeMemory.INITIAL.withSsn("\"m2\"", Lsn.of(MB));
        Decision d = primary().sync("m1", "m2").memory(named).replication("\"m2\"", row("m3", "async", 100 * MB))
                .decide();
        assertLeavesSyncThenWaitsFor(d, "m3");
    }

    /** The sync key is emptied first, then PostgreSQL waits for {@code next} instead (rule S3's order). */
    private static void assertLeavesSyncThenWaitsFor(Decision d, String next) {
        assertThat(Steps.of(d)).containsSubsequence("WriteSync", "SetSyncStandbyNames");
        assertThat(Steps.find(d, Action.WriteSync.class).state().standbys()).isEmpty();
        assertThat(Steps.find(d, Action.SetSyncStandbyNames.class).value()).isEqualTo(SyncPlanner.quote(next));
    }

    @Test
    void s3_nosyncMembersAreNeverChosen() {
        Decision d = primary().sync("m1").member("m2", Tags.DEFAULT.withNosync(true))
                .replication("", row("m2", "async", 100 * MB)).decide();
        assertThat(Steps.find(d, Action.SetSyncStandbyNames.class).value()).doesNotContain("m2").isEmpty();
    }

    /**
     * Patroni (3.0.2 and later) prefers standbys without {@code nofailover} when it picks synchronous ones: a
     * {@code nofailover} standby in the sync key can never be promoted, so naming it leaves a synchronous cluster with
     * no candidate for failover or switchover. Seen in the mixed cluster (pg1 nofailover, pt3 the Patroni member):
     * pgha picked pg1 by name at equal positions and refused a switchover to pt3, where Patroni would have named pt3.
     */
    @Test
    void s3_aStandbyThatMayBePromotedIsPreferredToANofailoverOneEvenIfThatOneIsAheadOrAlreadySynchronous() {
        Decision equal = primary().sync("m1").member("m2", Tags.DEFAULT.withNofailover(true))
                .replication("", row("m2", "async", 100 * MB), row("m3", "async", 100 * MB)).decide();
        assertThat(Steps.find(equal, Action.SetSyncStandbyNames.class).value()).isEqualTo("\"m3\"");
        Decision ahead = primary().sync("m1").member("m2", Tags.DEFAULT.withNofailover(true))
                .replication("", row("m2", "async", 100 * MB), row("m3", "async", 99 * MB)).decide();
        assertThat(Steps.find(ahead, Action.SetSyncStandbyNames.class).value()).isEqualTo("\"m3\"");
        Decision alreadySync = primary().sync("m1", "m2").member("m2", Tags.DEFAULT.withNofailover(true))
                .memory(NodeMemory.INITIAL.withSsn("\"m2\"", Lsn.of(MB)))
                .replication("\"m2\"", row("m2", "sync", 100 * MB), row("m3", "async", 100 * MB)).decide();
        assertLeavesSyncThenWaitsFor(alreadySync, "m3");
    }

    @Test
    void aNofailoverStandbyIsStillChosenWhenNoOtherStreams() {
        Decision d = primary().sync("m1").member("m2", Tags.DEFAULT.withNofailover(true))
                .replication("", row("m2", "async", 100 * MB)).decide();
        assertThat(Steps.find(d, Action.SetSyncStandbyNames.class).value()).isEqualTo("\"m2\"");
    }

    @Test
    void strictModeWaitsForAPlaceholderWhenNoStandbyIsLeft() {
        Fixture f = primary().sync("m1");
        f.settings.synchronousModeStrict(true);
        Decision d = f.replication("").decide();
        assertThat(Steps.find(d, Action.SetSyncStandbyNames.class).value()).contains("placeholder");
    }

    @Test
    void s3_aStrictPromoterNeverNamesAMemberTaggedNosyncNorTheOldLeaderWhoseTagsItMayNotKnow() {
        Fixture f = Fixture.as("m2").noLeader().optime(100 * MB).pg(Fixture.replica(Lsn.of(100 * MB), "m1"))
                .sync("m1", "m2", "m3").member("m3", Tags.DEFAULT.withNosync(true)).peer("m3", 90 * MB);
        f.settings.synchronousModeStrict(true);
        Decision d = f.decide();
        assertThat(Steps.of(d)).contains("Promote");
        assertThat(Steps.find(d, Action.WriteSync.class).state().standbys()).isEmpty();
        assertThat(Steps.find(d, Action.SetSyncStandbyNames.class).value()).contains("placeholder")
                .doesNotContain("m1").doesNotContain("m3");
    }

    @Test
    void nonStrictModeRunsAsynchronouslyWhenNoStandbyIsLeft() {
        Decision d = primary().sync("m1").replication("\"m2\"").memory(NodeMemory.INITIAL.withSsn("\"m2\"", null))
                .decide();
        assertThat(Steps.find(d, Action.SetSyncStandbyNames.class).value()).isEmpty();
    }

    @Test
    void severalStandbysAreAllRequired() {
        Fixture f = primary().sync("m1").replication("", row("m2", "async", 100 * MB), row("m3", "async", 99 * MB));
        f.settings.synchronousNodeCount(2);
        assertThat(Steps.find(f.decide(), Action.SetSyncStandbyNames.class).value())
                .isEqualTo("2 (\"m2\",\"m3\")");
    }

    @Test
    void turningSynchronousModeOffClearsNamesBeforeDroppingTheKey() {
        Fixture f = primary().memory(NodeMemory.INITIAL.withSsn("\"m2\"", Lsn.of(MB))).replication("\"m2\"");
        f.view = f.view.withSync(new SyncState("m1", List.of("m2"), 4));
        assertThat(Steps.of(f.decide())).containsSubsequence("SetSyncStandbyNames", "DeleteSync");
    }

    /**
     * Seen end to end: a leader in synchronous mode crashed, came back as a replica (its data directory keeps the
     * standby names it set), synchronous mode was turned off meanwhile (sync key deleted), and it was promoted again:
     * its commits kept waiting for that standby and hung when it stopped.
     */
    @Test
    void withSynchronousModeOffAStandbyNameLeftInForceIsClearedEvenWithoutTheSyncKeyOrMemoryOfIt() {
        Fixture f = primary().replication("\"m2\"");
        Decision d = f.decide();
        assertThat(Steps.of(d)).contains("SetSyncStandbyNames").doesNotContain("DeleteSync");
        assertThat(Steps.find(d, Action.SetSyncStandbyNames.class).value()).isEmpty();
    }

    @Test
    void ssnFormatIsReadBackByTheParser() {
        assertThat(SyncPlanner.parse(SyncPlanner.format(List.of("a", "b\"c")))).containsExactly("a", "b\"c");
        assertThat(SyncPlanner.parse("\"x\"")).containsExactly("x");
        assertThat(SyncPlanner.parse("")).isEmpty();
    }
}
