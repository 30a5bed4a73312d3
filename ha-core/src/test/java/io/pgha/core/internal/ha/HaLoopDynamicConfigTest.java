package io.pgha.core.internal.ha;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.core.config.Credentials;
import io.pgha.core.config.DataSize;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.ReloadableSettings;
import io.pgha.core.config.RestEndpoint;
import io.pgha.core.config.Tags;
import io.pgha.core.testkit.FakePostgres;
import io.pgha.core.testkit.InMemoryDcs;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A stored config that breaks a rule does not freeze the member's settings: the offending setting keeps its last
 * applied value, the rest applies (issue 12). (Test fakes: InMemoryDcs, FakePostgres, ManualClock.)
 */
@Timeout(60)
class HaLoopDynamicConfigTest {

    private final OneMemberSim sim = new OneMemberSim("dyn", Duration.ofSeconds(30));
    private final InMemoryDcs store = sim.store;

    @AfterEach
    void stop() {
        sim.close();
    }

    @Test
    void aBrokenTimingRuleKeepsOneSettingAndAppliesTheRest() {
        HaLoop loop = sim.start(HaSettings.builder("dyn", "m1").build(), new HaObserver() {});
        sim.clock.runFor(Duration.ofSeconds(20));
        assertThat(store.leaderHeldBy("m1")).isTrue();

        store.adminPatchConfig(Map.of("ttl", 10, "loop_wait", 3, "retry_timeout", 4,
                "maximum_lag_on_failover", 2048));
        sim.clock.runFor(Duration.ofSeconds(25));

        HaSettings e = loop.effectiveSettings();
        assertThat(e.maximumLagOnFailover()).as("the valid part applies").isEqualTo(DataSize.ofBytes(2048));
        assertThat(e.loopWait()).isEqualTo(Duration.ofSeconds(3));
        assertThat(e.retryTimeout()).isEqualTo(Duration.ofSeconds(4));
        assertThat(e.ttl()).as("kept: 3 + 2*4 > 10").isEqualTo(Duration.ofSeconds(30));
        assertThat(store.leaderHeldBy("m1")).isTrue();

        store.adminPatchConfig(Map.of("ttl", 12));
        sim.clock.runFor(Duration.ofSeconds(10));
        assertThat(loop.effectiveSettings().ttl()).as("repaired: applied").isEqualTo(Duration.ofSeconds(12));
        assertThat(store.leaderHeldBy("m1")).isTrue();
    }

    /**
     * Issue 12: a value of the wrong type keeps that setting's last applied value (not the member's own one) and
     * blocks nothing else: other settings and pause apply; a wrong-typed pause keeps maintenance mode as it was.
     */
    @Test
    void aValueOfTheWrongTypeKeepsItsLastValueAndTheRestStillApplies() {
        HaLoop loop = sim.start(HaSettings.builder("dyn", "m1").build(), new HaObserver() {});
        sim.clock.runFor(Duration.ofSeconds(20));
        store.adminPatchConfig(Map.of("ttl", 20, "loop_wait", 5, "retry_timeout", 5));
        sim.clock.runFor(Duration.ofSeconds(15));
        assertThat(loop.effectiveSettings().ttl()).isEqualTo(Duration.ofSeconds(20));

        store.adminPatchConfig(Map.of("ttl", "soon", "maximum_lag_on_failover", 4096, "pause", true));
        sim.clock.runFor(Duration.ofSeconds(15));
        HaSettings e = loop.effectiveSettings();
        assertThat(e.ttl()).as("the last applied, not the member's own 30 s").isEqualTo(Duration.ofSeconds(20));
        assertThat(e.maximumLagOnFailover()).isEqualTo(DataSize.ofBytes(4096));
        assertThat(loop.liveStatus().paused()).as("pause applies beside it").isTrue();

        store.adminPatchConfig(Map.of("pause", "perhaps"));
        sim.clock.runFor(Duration.ofSeconds(15));
        assertThat(loop.liveStatus().paused()).as("an unreadable pause keeps maintenance mode as it was").isTrue();
        store.adminPatchConfig(Map.of("pause", false, "ttl", 25));
        sim.clock.runFor(Duration.ofSeconds(15));
        assertThat(loop.liveStatus().paused()).isFalse();
        assertThat(loop.effectiveSettings().ttl()).isEqualTo(Duration.ofSeconds(25));
        assertThat(store.leaderHeldBy("m1")).isTrue();
    }

    /** Issue 12: the config key's postgresql.parameters are handed to PostgreSQL, before the key exists too. */
    @Test
    void clusterParametersAreHandedToPostgresFromTheBootstrapConfigAndThenFromTheConfigKey() {
        HaSettings s = HaSettings.builder("dyn", "m1")
                .bootstrapConfig(Map.of("postgresql", Map.of("parameters", Map.of("work_mem", "6MB")))).build();
        AtomicInteger reloads = startCountingReloads(s);
        sim.clock.runFor(Duration.ofSeconds(20));
        FakePostgres pg = sim.net.get("m1");
        assertThat(pg.clusterParameters()).isEqualTo(Map.of("work_mem", "6MB"));
        assertThat(reloads).as("taken before the first start: no reload").hasValue(0);
        assertThat(store.peek().config().postgresParameters()).as("bootstrap.dcs copied into the key")
                .isEqualTo(Map.of("work_mem", "6MB"));

        store.adminPatchConfig(Map.of("postgresql", Map.of("parameters", Map.of("work_mem", "8MB"))));
        sim.clock.runFor(Duration.ofSeconds(15));
        assertThat(pg.clusterParameters()).isEqualTo(Map.of("work_mem", "8MB"));
        assertThat(reloads).as("the change reloaded the running server (Patroni's on_reload fires)").hasValue(1);
    }

    /**
     * Issue 12: the config key's postgresql.pg_hba and pg_ident reach PostgreSQL like its parameters; a postgresql
     * section (or one of its entries) stored with the wrong type keeps what was last handed over instead of dropping
     * the cluster's parameters.
     */
    @Test
    void clusterAuthFilesAreHandedToPostgresAndAnUnusablePostgresqlSectionKeepsTheLastOnes() {
        HaSettings s = HaSettings.builder("dyn", "m1").bootstrapConfig(Map.of("postgresql", Map.of(
                "parameters", Map.of("work_mem", "6MB"),
                "pg_hba", List.of("local all all trust", "host all all 127.0.0.1/32 trust")))).build();
        AtomicInteger reloads = startCountingReloads(s);
        sim.clock.runFor(Duration.ofSeconds(20));
        FakePostgres pg = sim.net.get("m1");
        assertThat(pg.clusterHba()).containsExactly("local all all trust", "host all all 127.0.0.1/32 trust");
        assertThat(pg.clusterIdent()).isEmpty();

        store.adminPatchConfig(Map.of("postgresql", Map.of("pg_ident", List.of("ops alice postgres"))));
        sim.clock.runFor(Duration.ofSeconds(15));
        assertThat(pg.clusterIdent()).containsExactly("ops alice postgres");
        assertThat(reloads).as("the change reloaded the running server").hasValue(1);

        store.adminPatchConfig(Map.of("postgresql", Map.of("pg_hba", "host all all 0.0.0.0/0 trust")));
        sim.clock.runFor(Duration.ofSeconds(15));
        assertThat(pg.clusterHba()).as("a pg_hba that is not a list keeps the last lines")
                .containsExactly("local all all trust", "host all all 127.0.0.1/32 trust");

        store.adminPatchConfig(Map.of("postgresql", "off"));
        sim.clock.runFor(Duration.ofSeconds(15));
        assertThat(pg.clusterParameters()).as("a postgresql section that is not an object keeps the parameters")
                .isEqualTo(Map.of("work_mem", "6MB"));
        assertThat(pg.clusterIdent()).containsExactly("ops alice postgres");
        assertThat(reloads).as("nothing changed for PostgreSQL").hasValue(1);

        store.adminPatchConfig(Map.of("postgresql", Map.of("parameters", Map.of("work_mem", "8MB"))));
        sim.clock.runFor(Duration.ofSeconds(15));
        assertThat(pg.clusterParameters()).isEqualTo(Map.of("work_mem", "8MB"));
        assertThat(pg.clusterHba()).as("repaired: the key has no pg_hba any more").isEmpty();
        assertThat(store.leaderHeldBy("m1")).isTrue();
    }

    /**
     * Issue 12: the operator's reload re-reads the member's own settings from their source (the agent's YAML): new
     * tags are published with the member key, the member's own parameters reach PostgreSQL before it re-reads its
     * files; a source that fails (or a value PostgreSQL's settings refuse) fails the reload and changes nothing.
     */
    @Test
    void theOperatorsReloadReReadsTheMembersOwnSettings() {
        HaSettings s = HaSettings.builder("dyn", "m1").build();
        HaLoop loop = sim.start(s, new HaObserver() {});
        java.util.concurrent.atomic.AtomicReference<ReloadableSettings> file = new java.util.concurrent.atomic
                .AtomicReference<>(ReloadableSettings.of(s, null));
        loop.reloadSettingsFrom(() -> {
            ReloadableSettings r = file.get();
            if (r == null) {
                throw new IllegalArgumentException("member.yaml: not valid YAML (line 3)");
            }
            return r;
        }, ReloadableSettings.of(s, null));
        sim.clock.runFor(Duration.ofSeconds(20));
        FakePostgres pg = sim.net.get("m1");
        assertThat(store.leaderHeldBy("m1")).isTrue();

        file.set(new ReloadableSettings(Tags.DEFAULT.withNofailover(true).withCustom("dc", "eu-2"),
                Map.of("work_mem", "16MB"), List.of(), List.of()));
        long id = loop.operations().newRequestId();
        assertThat(loop.operations().submit(new MemberRequest.Reload(id))).isEmpty();
        sim.clock.runFor(Duration.ofSeconds(10));
        assertThat(loop.operations().outcome(id)).hasValueSatisfying(o -> {
            assertThat(o.ok()).as(o.message()).isTrue();
            assertThat(o.message()).contains("own parameters work_mem (unset) -> 16MB").contains("tags");
        });
        assertThat(pg.memberParameters()).isEqualTo(Map.of("work_mem", "16MB"));
        assertThat(store.peek().members().get("m1").tags().nofailover()).as("published with the member key")
                .isTrue();
        assertThat(loop.effectiveSettings().tags().custom()).containsEntry("dc", "eu-2");

        file.set(null);
        long broken = loop.operations().newRequestId();
        loop.operations().submit(new MemberRequest.Reload(broken));
        sim.clock.runFor(Duration.ofSeconds(10));
        assertThat(loop.operations().outcome(broken)).hasValueSatisfying(o -> {
            assertThat(o.ok()).isFalse();
            assertThat(o.message()).contains("member.yaml: not valid YAML (line 3)");
        });

        file.set(new ReloadableSettings(Tags.DEFAULT, Map.of("bad", "1"), List.of(), List.of()));
        long refused = loop.operations().newRequestId();
        loop.operations().submit(new MemberRequest.Reload(refused));
        sim.clock.runFor(Duration.ofSeconds(10));
        assertThat(loop.operations().outcome(refused)).hasValueSatisfying(o -> assertThat(o.ok()).isFalse());
        assertThat(pg.memberParameters()).isEqualTo(Map.of("work_mem", "16MB"));
        assertThat(loop.effectiveSettings().tags().nofailover()).as("nothing applied: the tags stay").isTrue();
    }

    /**
     * Issue 12: re-read REST settings go to the REST API's reload (which says what it did, in the answer), and the
     * api_url it publishes is in the member key from the next write on; a source that says nothing of the REST API
     * leaves it alone.
     */
    @Test
    void theOperatorsReloadHandsTheRestSettingsOverAndPublishesTheNewApiUrl() {
        HaSettings s = HaSettings.builder("dyn", "m1").build();
        HaLoop loop = sim.start(s, new HaObserver() {});
        RestEndpoint moved = new RestEndpoint("0.0.0.0", 8009, "api-1.internal", new Credentials("admin", "x"),
                false);
        java.util.concurrent.atomic.AtomicReference<ReloadableSettings> file = new java.util.concurrent.atomic
                .AtomicReference<>(new ReloadableSettings(Tags.DEFAULT, Map.of(), List.of(), List.of(), moved));
        loop.reloadSettingsFrom(file::get, ReloadableSettings.of(s, null));
        List<RestEndpoint> handed = new java.util.ArrayList<>();
        loop.reloadRestWith(e -> {
            handed.add(e);
            loop.useApiUrl("http://api-1.internal:8009/patroni");
            return "REST API: api_url http://api-1.internal:8009/patroni";
        });
        sim.clock.runFor(Duration.ofSeconds(20));
        assertThat(store.peek().members().get("m1").apiUrl()).isNull();

        long id = loop.operations().newRequestId();
        loop.operations().submit(new MemberRequest.Reload(id));
        sim.clock.runFor(Duration.ofSeconds(10));
        assertThat(loop.operations().outcome(id)).hasValueSatisfying(o -> assertThat(o.message())
                .contains("REST API: api_url http://api-1.internal:8009/patroni"));
        assertThat(handed).containsExactly(moved);
        assertThat(store.peek().members().get("m1").apiUrl()).isEqualTo("http://api-1.internal:8009/patroni");

        file.set(new ReloadableSettings(Tags.DEFAULT, Map.of(), List.of(), List.of()));
        long again = loop.operations().newRequestId();
        loop.operations().submit(new MemberRequest.Reload(again));
        sim.clock.runFor(Duration.ofSeconds(10));
        assertThat(loop.operations().outcome(again)).isPresent();
        assertThat(handed).as("nothing said of the REST API: not handed over").hasSize(1);
    }

    /**
     * Issue 11: the resolved config is reused while its inputs stay the same, never past a change. Each change to the
     * config key, made right after a cycle, is in force in the very next cycle: timings, maximum lag, synchronous
     * mode, failsafe mode, and a change back to values resolved before.
     */
    @Test
    void aChangedConfigKeyIsInForceInTheVeryNextCycle() {
        List<Map<String, Object>> patches = List.of(
                Map.of("ttl", 20, "loop_wait", 4, "retry_timeout", 6),
                Map.of("maximum_lag_on_failover", 4096),
                Map.of("synchronous_mode", true, "failsafe_mode", true),
                Map.of("ttl", 30, "loop_wait", 10, "retry_timeout", 10, "maximum_lag_on_failover", 1048576,
                        "synchronous_mode", false, "failsafe_mode", false));
        List<HaSettings> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.atomic.AtomicReference<HaLoop> self = new java.util.concurrent.atomic.AtomicReference<>();
        AtomicInteger patchedAfter = new AtomicInteger(-1);
        AtomicInteger next = new AtomicInteger();
        List<Integer> patchedAt = new java.util.concurrent.CopyOnWriteArrayList<>();
        HaLoop loop = sim.start(HaSettings.builder("dyn", "m1").build(), new HaObserver() {
            @Override
            public void cycleCompleted(CycleReport r) {
                seen.add(self.get().effectiveSettings());
                // Three settled cycles between changes: the cached resolution is in use when the key changes.
                if (store.leaderHeldBy("m1") && seen.size() - patchedAfter.get() > 3 && next.get() < patches.size()) {
                    store.adminPatchConfig(patches.get(next.getAndIncrement()));
                    patchedAfter.set(seen.size());
                    patchedAt.add(seen.size());
                }
            }
        });
        self.set(loop);
        sim.clock.runFor(Duration.ofSeconds(200));
        assertThat(patchedAt).hasSize(patches.size());

        HaSettings first = seen.get(patchedAt.get(0));
        assertThat(seen.get(patchedAt.get(0) - 1).ttl()).isEqualTo(Duration.ofSeconds(30));
        assertThat(first.ttl()).isEqualTo(Duration.ofSeconds(20));
        assertThat(first.loopWait()).isEqualTo(Duration.ofSeconds(4));
        assertThat(first.retryTimeout()).isEqualTo(Duration.ofSeconds(6));
        HaSettings second = seen.get(patchedAt.get(1));
        assertThat(seen.get(patchedAt.get(1) - 1).maximumLagOnFailover()).isEqualTo(DataSize.ofBytes(1048576));
        assertThat(second.maximumLagOnFailover()).isEqualTo(DataSize.ofBytes(4096));
        HaSettings third = seen.get(patchedAt.get(2));
        assertThat(seen.get(patchedAt.get(2) - 1).failsafeMode()).isFalse();
        assertThat(third.synchronousMode()).isEqualTo(io.pgha.core.config.SynchronousMode.ON);
        assertThat(third.failsafeMode()).isTrue();
        HaSettings back = seen.get(patchedAt.get(3));
        assertThat(back.dynamic()).as("back to the values resolved at the start")
                .isEqualTo(seen.get(patchedAt.get(0) - 1).dynamic());
        assertThat(seen.get(seen.size() - 1)).isEqualTo(back);
    }

    /** Starts the member; the counter tells how often it reloaded PostgreSQL (Patroni's on_reload). */
    private AtomicInteger startCountingReloads(HaSettings s) {
        AtomicInteger reloads = new AtomicInteger();
        sim.start(s, new HaObserver() {
            @Override
            public void reloaded() {
                reloads.incrementAndGet();
            }
        });
        return reloads;
    }
}
