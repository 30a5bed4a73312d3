package io.pgha.examples.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.cluster.Role;

/**
 * The reverse of {@link MixedClusterEtcdTest}: the Patroni member bootstraps the cluster and both pgha agents clone
 * from it through their slots; a switchover hands the leadership to pg2, and from there the scenario of
 * {@link MixedClusterScenarios} runs unchanged (switchovers both ways, a kill -9 of each side's leader, rewinds, no row
 * lost) but for the synchronous-mode steps.
 */
class MixedClusterPatroniFirstEtcdTest extends MixedClusterEtcdTest {

    @Override
    String scopePrefix() {
        return "mixedpt-";
    }

    /**
     * The synchronous-mode steps run on {@link MixedClusterEtcdTest} and {@link MixedClusterZooKeeperTest}: here they
     * would start from the same state (pg2 leading, the same members) and add CI time without a new case.
     */
    @Override
    boolean runsSynchronousSteps() {
        return false;
    }

    /** Patroni bootstraps, the pgha agents clone from it, then a switchover makes pg2 the leader. */
    @Override
    void bootstrap() throws Exception {
        patroni.start();
        await(() -> Sql.isPrimary(patroni) && cluster.leaderName().filter(PATRONI::equals).isPresent());
        Sql.createTable(patroni);
        write(patroni, "before-pgha");
        cluster.startAll();
        assertThat(awaitHealthy(WAIT).name()).isEqualTo(PATRONI);
        assertThat(Sql.slots(patroni)).as("the Patroni leader keeps a slot per pgha member").containsKeys("pg1", "pg2");
        for (AgentProcess m : cluster.members) {
            assertThat(Sql.systemId(m)).isEqualTo(Sql.systemId(patroni));
            assertThat(Sql.setting(m, "primary_slot_name")).as(m.name + " streams through its slot").isEqualTo(m.name);
            assertThat(Sql.setting(m, "max_connections")).as("from the config key Patroni wrote").isEqualTo("40");
            assertThat(Sql.hasNote(m, "before-pgha")).isTrue();
            assertThat(cluster.view().members().get(m.name).role()).isEqualTo(Role.REPLICA);
        }
        PatroniCtl.Run sw = ctl.run("switchover", "--leader", PATRONI, "--candidate", "pg2", "--force");
        assertThat(sw.ok().output()).contains("Successfully switched over to \"pg2\"");
        assertThat(awaitHealthy(WAIT).name()).isEqualTo("pg2");
    }

    private static void await(java.util.concurrent.Callable<Boolean> condition) {
        org.awaitility.Awaitility.await("the Patroni member bootstraps and leads").atMost(WAIT)
                .pollInterval(java.time.Duration.ofMillis(250)).ignoreExceptions().until(condition);
    }
}
