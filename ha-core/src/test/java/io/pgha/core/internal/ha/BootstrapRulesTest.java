package io.pgha.core.internal.ha;

import static io.pgha.core.internal.ha.Fixture.MB;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.PgState;
import io.pgha.core.config.SynchronousMode;
import io.pgha.core.config.Tags;
import org.junit.jupiter.api.Test;

/** Patroni's decision order (ha.py _run_cycle): bootstrap, cloning and adopting existing data. */
class BootstrapRulesTest {

    @Test
    void anEmptyNodeInAnUninitializedClusterRacesForInitializeThenBootstraps() {
        Decision d = Fixture.as("m1").uninitialized().noLeader().pg(PgState.empty()).decide();
        assertThat(Steps.of(d)).containsExactly("RaceInitialize", "Bootstrap");
        assertThat(Steps.find(d, Action.RaceInitialize.class).value()).isEmpty();
        assertThat(d.reason()).contains("bootstrapping");
    }

    @Test
    void anEmptyNodeWaitsWhileAnotherMemberBootstraps() {
        Fixture f = Fixture.as("m2").noLeader().pg(PgState.empty());
        f.view = f.view.withInitialize("", 3);
        Decision d = f.decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("waiting for the member bootstrapping");
    }

    @Test
    void aNofailoverMemberNeverBootstraps() {
        Fixture f = Fixture.as("m1").uninitialized().noLeader().pg(PgState.empty());
        f.settings.tags(Tags.DEFAULT.withNofailover(true));
        assertThat(f.decide().actions()).isEmpty();
    }

    @Test
    void anEmptyNodeClonesFromTheLeader() {
        Decision d = Fixture.as("m3").leader("m1").pg(PgState.empty()).decide();
        Action.CreateReplica c = Steps.find(d, Action.CreateReplica.class);
        assertThat(c.source().member()).isEqualTo("m1");
        assertThat(c.leader().member()).isEqualTo("m1");
    }

    @Test
    void anEmptyNodePrefersARunningClonefromReplica() {
        Decision d = Fixture.as("m3").leader("m1").member("m2", Tags.DEFAULT.withClonefrom(true))
                .pg(PgState.empty()).decide();
        Action.CreateReplica c = Steps.find(d, Action.CreateReplica.class);
        assertThat(c.source().member()).isEqualTo("m2");
        assertThat(c.leader().member()).isEqualTo("m1");
    }

    @Test
    void theBootstrapsOwnPrimaryIsNotFencedBeforeItMayTakeTheLock() {
        // initdb is done and the new primary runs (roles are being created); the lock is taken only afterwards.
        Fixture f = Fixture.as("m1").noLeader().pg(Fixture.primary(Lsn.of(MB)))
                .memory(NodeMemory.INITIAL.withBusy(LongAction.BOOTSTRAP));
        f.view = f.view.withInitialize("", 3);
        Decision d = f.decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).isEqualTo("bootstrap in progress");
    }

    @Test
    void aBootstrappingPrimaryIsFencedWhenAnotherMemberHoldsTheLock() {
        Fixture f = Fixture.as("m1").leader("m2").pg(Fixture.primary(Lsn.of(MB)))
                .memory(NodeMemory.INITIAL.withBusy(LongAction.BOOTSTRAP));
        assertThat(Steps.of(f.decide())).containsExactly("Fence");
    }

    @Test
    void anEmptyLockHolderReleasesTheLock() {
        assertThat(Steps.of(Fixture.as("m1").leader("m1").pg(PgState.empty()).decide()))
                .containsExactly("ReleaseLeader");
    }

    @Test
    void afterBootstrapTheInitializeKeyTheLockAndTheConfigAreWrittenInThatOrder() {
        Fixture f = Fixture.as("m1").noLeader().pg(Fixture.primary(Lsn.of(MB)))
                .memory(NodeMemory.INITIAL.withBootstrappedSystemId(Fixture.SYSID));
        f.view = f.view.withInitialize("", 3).withConfig(io.pgha.core.cluster.GlobalConfig.ABSENT);
        assertThat(Steps.of(f.decide())).containsExactly("SetInitialize", "AcquireLeader", "WriteConfig");
    }

    @Test
    void afterBootstrapInSynchronousModeTheSyncKeyIsClaimedAtOnce() {
        Fixture f = Fixture.as("m1").noLeader().pg(Fixture.primary(Lsn.of(MB)))
                .memory(NodeMemory.INITIAL.withBootstrappedSystemId(Fixture.SYSID));
        f.settings.synchronousMode(SynchronousMode.ON);
        f.view = f.view.withInitialize("", 3).withConfig(io.pgha.core.cluster.GlobalConfig.ABSENT);
        assertThat(Steps.of(f.decide())).containsExactly("SetInitialize", "AcquireLeader", "WriteConfig", "WriteSync");
    }

    @Test
    void aFailedBootstrapGivesBackTheInitializeKeyAndStops() {
        Fixture f = Fixture.as("m1").noLeader().pg(PgState.empty()).memory(NodeMemory.INITIAL
                .withLastLongAction(new NodeMemory.LongActionResult(LongAction.BOOTSTRAP, false, "initdb: disk full")));
        f.view = f.view.withInitialize("", 3);
        Decision d = f.decide();
        assertThat(Steps.of(d)).containsExactly("DeleteInitialize", "Fatal");
        assertThat(d.reason()).contains("initdb: disk full");
    }

    @Test
    void existingDataInAnUninitializedClusterIsAdopted() {
        Decision d = Fixture.as("m1").uninitialized().noLeader().pg(Fixture.primary(Lsn.of(MB))).decide();
        assertThat(Steps.of(d)).containsExactly("RaceInitialize");
        assertThat(Steps.find(d, Action.RaceInitialize.class).value()).isEqualTo(Fixture.SYSID);
    }

    @Test
    void aRunningReplicaIsNotAdoptedAsTheFirstMember() {
        Decision d = Fixture.as("m1").uninitialized().noLeader().pg(Fixture.replica(Lsn.of(MB), null)).decide();
        assertThat(d.actions()).isEmpty();
        assertThat(d.reason()).contains("start pgha on the primary first");
    }

    @Test
    void aDataDirectoryOfAnotherClusterIsFatal() {
        Fixture f = Fixture.as("m2").leader("m1");
        f.view = f.view.withInitialize("9999", 2);
        Decision d = f.decide();
        assertThat(Steps.of(d)).containsExactly("Fatal");
        assertThat(d.reason()).contains("system identifier mismatch").contains("9999").contains(Fixture.SYSID);
    }
}
