package io.pgha.examples.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgha.dcs.consul.emulator.ConsulEmulator;
import io.pgha.dcs.consul.emulator.RawConsul;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * patronictl's operations on the Consul emulator (an emulator of Consul's HTTP API, not Consul; decision 0405), the
 * ones whose outcome goes through the store and that are quick: {@code restart} of the leader, {@code failover
 * --candidate}, {@code switchover --scheduled} far ahead (the failover key, written by the leader, shown by
 * {@code list}) and {@code flush <scope> switchover}, {@code topology}, {@code dsn}, {@code query} (each one finds the
 * members, the leader and their addresses in the keys it reads through Patroni's Consul client), and
 * {@code edit-config}, the one that writes through that client: the config key with Consul's {@code ?cas=}. The
 * other operations are decided by the members' REST API and the same store-independent code, and run on ZooKeeper
 * and etcd. Every call patronictl makes to the emulator (told apart from the members' by its client) is checked: a
 * recursive read of the scope in every step, and no answer Consul would give only to a request it refuses.
 */
class PatroniCtlOperationsConsulTest extends PatroniCtlOperationsScenarios {

    /** Patroni's Consul client names itself "Patroni/3.0.2 Python/..."; the members' adapter is Java's HTTP client. */
    private static final String PATRONICTL_CLIENT = "Patroni/";

    private final Queue<ConsulEmulator.Request> patronictlCalls = new ConcurrentLinkedQueue<>();
    private ConsulStore store;

    @Override
    StoreUnderTest startStore(Path dir) {
        store = new ConsulStore(r -> {
            if (r.userAgent().startsWith(PATRONICTL_CLIENT)) {
                patronictlCalls.add(r);
            }
        });
        return store;
    }

    @Override
    Set<Op> operations() {
        return EnumSet.of(Op.RESTART_LEADER, Op.FAILOVER, Op.SWITCHOVER_SCHEDULED_FAR_AND_FLUSH, Op.TOPOLOGY, Op.DSN,
                Op.QUERY);
    }

    @BeforeEach
    void forgetEarlierCalls() {
        patronictlCalls.clear();
    }

    @AfterEach
    void patronictlReadTheScopeThroughConsulAndWasNeverRefused() {
        List<ConsulEmulator.Request> calls = List.copyOf(patronictlCalls);
        if (running == null && calls.isEmpty()) {
            return; // skipped on this store
        }
        calls.forEach(c -> System.out.println("ops: patronictl -> consul: " + c.method() + " " + c.uri() + " "
                + c.status()));
        assertThat(calls).as("patronictl's calls to the emulator").isNotEmpty()
                .anySatisfy(c -> assertThat(c.method() + " " + c.uri())
                        .matches("GET /v1/kv/service/" + cluster.scope + "/\\?(.*&)?recurse(=1)?(&.*)?"))
                .allSatisfy(c -> assertThat(c.status()).as(c.method() + " " + c.uri()).isLessThan(400));
    }

    /**
     * {@code edit-config} writes the config key through Patroni's Consul client with {@code ?cas=} the key's
     * ModifyIndex as it read it; every member takes the changed parameter with a reload, and its removal the same way.
     */
    @Test
    @Order(15)
    void editConfigWritesTheConfigKeyWithCasAndEveryMemberTakesIt() throws Exception {
        cluster.ensureHealthy();
        RawConsul consul = new RawConsul(store.url(), null);
        String key = "/v1/kv/service/" + cluster.scope + "/config";
        long before = consul.get(key).json().get(0).path("ModifyIndex").asLong();
        assertThat(Sql.setting(cluster.members.get(0), "work_mem")).isEqualTo("4MB");

        ctl.run("edit-config", "--force", "-p", "work_mem=8MB").ok();
        assertThat(patronictlCalls).as("patronictl's calls to the emulator")
                .anySatisfy(c -> {
                    assertThat(c.method() + " " + c.uri()).isEqualTo("PUT " + key + "?cas=" + before);
                    assertThat(c.status()).isEqualTo(200);
                });
        assertThat(consul.get(key).json().get(0).path("ModifyIndex").asLong()).isGreaterThan(before);
        assertThat(cluster.view().config().postgresParameters()).containsEntry("work_mem", "8MB");
        Sql.awaitSetting(cluster.members, "work_mem", "8MB");

        ctl.run("edit-config", "--force", "--set", "postgresql.parameters.work_mem=null").ok();
        assertThat(cluster.view().config().postgresParameters()).doesNotContainKey("work_mem");
        Sql.awaitSetting(cluster.members, "work_mem", "4MB");
    }
}
