package io.pgha.core.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.ReplicationRow;
import io.pgha.core.cluster.Role;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.spi.DivergenceCheck;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import io.pgha.core.spi.StopMode;
import io.pgha.core.spi.Upstream;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the HA loop and the simulation rely on from a {@link Postgres}, written against the port only. Each
 * implementation (LocalPostgres with real servers, FakePostgres in memory) extends this class and supplies the hooks.
 *
 * <p>Hooks, kept implementation-neutral:
 * <ul>
 *   <li>{@link #newInstance(String)}: a fresh node with nothing on disk and the {@link Upstream} address other
 *       members use to reach it (its member name is {@code name});</li>
 *   <li>{@link #write(Postgres, String)}: commit a marker on a running primary;</li>
 *   <li>{@link #contains(Postgres, String)}: whether a running node has that marker (on a replica: once
 *       replayed); false rather than an exception when it is not there (yet);</li>
 *   <li>{@link #releaseAll()}: stop and forget every instance made by this test (runs after each test);</li>
 *   <li>{@link #awaitTrue(String, Callable)} (optional): wait for a condition; a model driven by a manual clock
 *       overrides it to advance its time instead of sleeping.</li>
 * </ul>
 * Only what any faithful implementation must do is asserted; timing and wording are not. Conventions the tests rely
 * on: a standby appears in its primary's {@code probe().replication()} under its member name (the name given to
 * {@code newInstance}); a replica's {@code probe().upstream()} is exactly the address it was started or pointed with;
 * {@code stop} and {@code fence} on a stopped node are no-ops.
 */
public abstract class PostgresContractTest {

    /** A node under test and the address other members reach it at. */
    public record Instance(Postgres postgres, Upstream address) {}

    /** A fresh node with an empty data directory, reachable at the returned address once started. */
    protected abstract Instance newInstance(String name) throws Exception;

    /** Commits {@code marker} on the running primary {@code p}. */
    protected abstract void write(Postgres p, String marker) throws Exception;

    /** Whether the running node {@code p} has {@code marker} (replayed, on a replica). */
    protected abstract boolean contains(Postgres p, String marker) throws Exception;

    /** Stops and forgets every instance this test made. */
    protected abstract void releaseAll() throws Exception;

    /** Waits until {@code condition} holds; fails the test with {@code what} if it never does. */
    protected void awaitTrue(String what, Callable<Boolean> condition) {
        Awaitility.await(what).atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                .ignoreExceptions().until(condition);
    }

    @AfterEach
    void releaseInstances() throws Exception {
        releaseAll();
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private Instance primary(String name) throws Exception {
        Instance i = newInstance(name);
        i.postgres().bootstrap();
        return i;
    }

    private Instance streamingReplica(String name, Instance primary) throws Exception {
        Instance r = newInstance(name);
        r.postgres().createReplica(primary.address());
        r.postgres().startReplica(primary.address());
        awaitStreaming(primary, name);
        return r;
    }

    private void awaitStreaming(Instance primary, String standby) {
        awaitTrue(standby + " streams from " + primary.address().member(),
                () -> row(primary, standby).map(ReplicationRow::isStreaming).orElse(false));
    }

    private static Optional<ReplicationRow> row(Instance primary, String standby) {
        return primary.postgres().probe().replication().stream()
                .filter(r -> r.applicationName().equals(standby)).findFirst();
    }

    // ------------------------------------------------------------------------------------------------ tests

    @Test
    void bootstrapGivesARunningPrimaryOnTimelineOne() throws Exception {
        Instance a = newInstance("a");
        PgState empty = a.postgres().probe();
        assertThat(empty.dataDir()).isEqualTo(PgState.DataDir.EMPTY);
        assertThat(empty.isRunning()).isFalse();

        a.postgres().bootstrap();

        PgState s = a.postgres().probe();
        assertThat(s.dataDir()).isEqualTo(PgState.DataDir.VALID);
        assertThat(s.run()).isEqualTo(PgState.Run.RUNNING);
        assertThat(s.isRunningPrimary()).isTrue();
        assertThat(s.systemId()).isNotBlank();
        assertThat(s.timeline()).isEqualTo(1);
        assertThat(s.walPosition()).isNotNull();
        assertThat(a.postgres().timelineHistory()).isEmpty();
        write(a.postgres(), "m1");
        assertThat(contains(a.postgres(), "m1")).isTrue();
        assertThat(contains(a.postgres(), "never-written")).isFalse();
    }

    @Test
    void aCloneStreamsFromItsPrimaryAndReplaysItsWrites() throws Exception {
        Instance a = primary("a");
        write(a.postgres(), "before-clone");
        Instance b = newInstance("b");

        b.postgres().createReplica(a.address());
        PgState cloned = b.postgres().probe();
        assertThat(cloned.dataDir()).isEqualTo(PgState.DataDir.VALID);
        assertThat(cloned.isRunning()).isFalse();
        assertThat(cloned.run()).isEqualTo(PgState.Run.STOPPED);
        assertThat(cloned.role()).isEqualTo(Role.REPLICA);
        assertThat(cloned.systemId()).isEqualTo(a.postgres().probe().systemId());

        b.postgres().startReplica(a.address());
        awaitStreaming(a, "b");
        write(a.postgres(), "after-clone");
        awaitTrue("b replays a's writes", () -> contains(b.postgres(), "after-clone"));
        assertThat(contains(b.postgres(), "before-clone")).isTrue();
        awaitTrue("b reports streaming", () -> b.postgres().probe().streaming());
        PgState s = b.postgres().probe();
        assertThat(s.isRunningReplica()).isTrue();
        assertThat(s.upstream()).isEqualTo(a.address().address());
        assertThat(s.timeline()).isEqualTo(1);
        assertThat(s.replayLsn()).isNotNull();
    }

    @Test
    void promoteMovesToTheNextTimelineAndAcceptsWrites() throws Exception {
        Instance a = primary("a");
        Instance b = streamingReplica("b", a);
        write(a.postgres(), "on-a");
        awaitTrue("b replays", () -> contains(b.postgres(), "on-a"));

        b.postgres().promote(0);

        PgState s = b.postgres().probe();
        assertThat(s.isRunningPrimary()).isTrue();
        assertThat(s.timeline()).isEqualTo(2);
        write(b.postgres(), "on-b");
        assertThat(contains(b.postgres(), "on-b")).isTrue();
        List<TimelineHistory.Entry> history = b.postgres().timelineHistory();
        assertThat(history).hasSize(1);
        assertThat(history.get(0).timeline()).isEqualTo(1);
        assertThat(history.get(0).switchLsn()).isNotNull();
    }

    @Test
    void fenceStopsThePostmasterAndRefusesWritableStartsUntilUnfenced() throws Exception {
        Instance a = primary("a");
        write(a.postgres(), "committed");

        a.postgres().fence();

        PgState s = a.postgres().probe();
        assertThat(s.isRunning()).isFalse();
        assertThat(s.run()).isEqualTo(PgState.Run.CRASHED);
        assertThat(s.role()).isEqualTo(Role.PRIMARY);
        assertThatThrownBy(a.postgres()::startPrimary).isInstanceOf(PostgresException.class);
        assertThatThrownBy(() -> a.postgres().promote(0)).isInstanceOf(PostgresException.class);
        assertThat(a.postgres().probe().isRunning()).isFalse();
        a.postgres().fence();

        a.postgres().unfence();
        a.postgres().startPrimary();
        assertThat(a.postgres().probe().isRunningPrimary()).isTrue();
        assertThat(contains(a.postgres(), "committed")).isTrue();
    }

    @Test
    void s1_aConditionalUnfenceChecksItsConditionInTheSameStep() throws Exception {
        Instance a = primary("a");
        a.postgres().fence();

        assertThat(a.postgres().unfenceIf(() -> false)).as("the lease ran out: stays fenced").isFalse();
        assertThatThrownBy(a.postgres()::startPrimary).isInstanceOf(PostgresException.class);

        assertThat(a.postgres().unfenceIf(() -> true)).isTrue();
        a.postgres().startPrimary();
        assertThat(a.postgres().probe().isRunningPrimary()).isTrue();
    }

    @Test
    void aFastStopIsStoppedAndKeepsItsIdentity() throws Exception {
        Instance a = primary("a");
        String sysid = a.postgres().probe().systemId();

        a.postgres().stop(StopMode.FAST);

        PgState s = a.postgres().probe();
        assertThat(s.run()).isEqualTo(PgState.Run.STOPPED);
        assertThat(s.role()).isEqualTo(Role.PRIMARY);
        assertThat(s.systemId()).isEqualTo(sysid);
        assertThat(s.timeline()).isEqualTo(1);
        a.postgres().stop(StopMode.FAST);
        a.postgres().startPrimary();
        assertThat(a.postgres().probe().isRunningPrimary()).isTrue();
    }

    @Test
    void aDivergedOldPrimaryIsDetectedAndRewoundOntoTheNewPrimary() throws Exception {
        Instance a = primary("a");
        Instance b = streamingReplica("b", a);
        write(a.postgres(), "common");
        awaitTrue("b replays", () -> contains(b.postgres(), "common"));

        b.postgres().promote(0);
        write(a.postgres(), "divergent");
        write(b.postgres(), "new");
        a.postgres().fence();

        DivergenceCheck d = a.postgres().checkDivergence(b.address());
        assertThat(d.result()).as(d.detail()).isEqualTo(DivergenceCheck.Result.DIVERGED);

        a.postgres().rewind(b.address());
        assertThat(a.postgres().probe().isRunning()).isFalse();
        DivergenceCheck after = a.postgres().checkDivergence(b.address());
        assertThat(after.result()).as(after.detail()).isEqualTo(DivergenceCheck.Result.NONE);

        a.postgres().startReplica(b.address());
        awaitStreaming(b, "a");
        write(b.postgres(), "after-rewind");
        awaitTrue("a replays b's writes", () -> contains(a.postgres(), "after-rewind"));
        assertThat(contains(a.postgres(), "new")).isTrue();
        assertThat(contains(a.postgres(), "common")).isTrue();
        assertThat(contains(a.postgres(), "divergent")).isFalse();
        assertThat(a.postgres().probe().timeline()).isEqualTo(2);
    }

    @Test
    void aCleanlyStoppedOldPrimaryNeedsNoRewindAfterASwitchover() throws Exception {
        Instance a = primary("a");
        Instance b = streamingReplica("b", a);
        write(a.postgres(), "last-on-a");
        awaitTrue("b replays", () -> contains(b.postgres(), "last-on-a"));

        a.postgres().stop(StopMode.FAST);
        b.postgres().promote(0);

        DivergenceCheck d = a.postgres().checkDivergence(b.address());
        assertThat(d.result()).as(d.detail()).isEqualTo(DivergenceCheck.Result.NONE);
        a.postgres().startReplica(b.address());
        awaitStreaming(b, "a");
        write(b.postgres(), "first-on-b");
        awaitTrue("a replays b's writes", () -> contains(a.postgres(), "first-on-b"));
    }

    @Test
    void aPromotionCanSkipTimelineNumbersAndStillBeFollowed() throws Exception {
        Instance a = primary("a");
        Instance b = streamingReplica("b", a);
        Instance c = streamingReplica("c", a);
        write(a.postgres(), "before");
        awaitTrue("b and c replayed the marker", () -> contains(b.postgres(), "before")
                && contains(c.postgres(), "before"));
        a.postgres().stop(StopMode.FAST);
        b.postgres().promote(4);
        assertThat(b.postgres().probe().timeline()).as("timelines 2 and 3 are skipped").isEqualTo(4);
        assertThat(b.postgres().timelineHistory()).extracting(TimelineHistory.Entry::timeline).containsExactly(1);
        assertThat(c.postgres().checkDivergence(b.address()).result()).isEqualTo(DivergenceCheck.Result.NONE);
        c.postgres().follow(b.address());
        write(b.postgres(), "after");
        awaitTrue("c follows b onto timeline 4", () -> contains(c.postgres(), "after"));
        awaitTrue("c is on timeline 4", () -> c.postgres().probe().timeline() == 4);
    }

    @Test
    void aReplicaFollowsANewPrimaryWithoutAReclone() throws Exception {
        Instance a = primary("a");
        Instance b = streamingReplica("b", a);
        Instance c = streamingReplica("c", a);
        write(a.postgres(), "from-a");
        awaitTrue("b replays", () -> contains(b.postgres(), "from-a"));
        awaitTrue("c replays", () -> contains(c.postgres(), "from-a"));

        a.postgres().stop(StopMode.FAST);
        b.postgres().promote(0);
        DivergenceCheck d = c.postgres().checkDivergence(b.address());
        assertThat(d.result()).as(d.detail()).isEqualTo(DivergenceCheck.Result.NONE);
        c.postgres().follow(b.address());

        assertThat(c.postgres().probe().upstream()).isEqualTo(b.address().address());
        awaitStreaming(b, "c");
        write(b.postgres(), "from-b");
        awaitTrue("c replays b's writes", () -> contains(c.postgres(), "from-b"));
        assertThat(c.postgres().probe().isRunningReplica()).isTrue();
    }

    @Test
    void divergenceAgainstAnUnreachableLeaderIsUnknownNotAnError() throws Exception {
        Instance a = primary("a");
        Instance nowhere = newInstance("nowhere");

        DivergenceCheck d = a.postgres().checkDivergence(nowhere.address());

        assertThat(d.result()).isEqualTo(DivergenceCheck.Result.UNKNOWN);
        assertThat(d.detail()).isNotBlank();
    }

    @Test
    void synchronousStandbyNamesAreReportedAndMakeTheStandbySynchronous() throws Exception {
        Instance a = primary("a");
        streamingReplica("b", a);

        a.postgres().setSynchronousStandbyNames("b");

        assertThat(a.postgres().probe().synchronousStandbyNames()).isEqualTo("b");
        awaitTrue("b is synchronous", () -> row(a, "b").map(ReplicationRow::isSynchronous).orElse(false));
        write(a.postgres(), "sync-commit");

        a.postgres().setSynchronousStandbyNames("");
        assertThat(a.postgres().probe().synchronousStandbyNames()).isEmpty();
        awaitTrue("b is asynchronous again", () -> row(a, "b").map(r -> "async".equals(r.syncState())).orElse(false));
    }

    @Test
    void twoSynchronousStandbysFollowPostgresFirstNRule() throws Exception {
        Instance a = primary("a");
        Instance b = streamingReplica("b", a);
        Instance c = streamingReplica("c", a);

        a.postgres().setSynchronousStandbyNames("2 (b,c)");
        awaitTrue("b and c are both synchronous", () -> row(a, "b").map(ReplicationRow::isSynchronous).orElse(false)
                && row(a, "c").map(ReplicationRow::isSynchronous).orElse(false));
        write(a.postgres(), "acknowledged-by-both");
        awaitTrue("c has it", () -> contains(c.postgres(), "acknowledged-by-both"));

        // FIRST 1 of (b, c): b, listed first, is the synchronous one; c waits as a potential replacement.
        a.postgres().setSynchronousStandbyNames("1 (b,c)");
        awaitTrue("b synchronous, c potential", () -> row(a, "b").map(ReplicationRow::isSynchronous).orElse(false)
                && row(a, "c").map(r -> "potential".equals(r.syncState())).orElse(false));
        b.postgres().stop(io.pgha.core.spi.StopMode.FAST);
        awaitTrue("c takes over as the synchronous standby",
                () -> row(a, "c").map(ReplicationRow::isSynchronous).orElse(false));
    }
}
