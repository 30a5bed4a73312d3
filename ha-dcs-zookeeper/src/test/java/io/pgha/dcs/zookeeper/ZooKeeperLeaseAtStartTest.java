package io.pgha.dcs.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgha.core.api.HaCluster;
import io.pgha.core.cluster.PgState;
import io.pgha.core.config.HostPort;
import io.pgha.core.spi.Postgres;
import io.pgha.core.spi.PostgresException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A session timeout the servers negotiate down below what the member's timings need is only known once a session
 * exists: the start fails with the rule, instead of the member running on without ever taking the leader lock.
 */
class ZooKeeperLeaseAtStartTest {

    /** A PostgreSQL port that is never reached: the start fails before the loop decides anything. */
    private static Postgres noPostgres() {
        return (Postgres) Proxy.newProxyInstance(Postgres.class.getClassLoader(), new Class<?>[] {Postgres.class},
                (proxy, m, args) -> {
                    switch (m.getName()) {
                        case "probe":
                            return PgState.unknown("no PostgreSQL in this test");
                        case "toString":
                            return "no PostgreSQL";
                        case "hashCode":
                            return System.identityHashCode(proxy);
                        case "equals":
                            return proxy == args[0];
                        default:
                            break;
                    }
                    if (Arrays.asList(m.getExceptionTypes()).contains(PostgresException.class)) {
                        throw new PostgresException(m.getName() + ": no PostgreSQL in this test");
                    }
                    return m.getReturnType() == boolean.class ? Boolean.FALSE : null;
                });
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aNegotiatedSessionTimeoutTooShortForTheTimingsFailsTheStart() throws Exception {
        try (TestingServer stingy = ZkTestServers.standalone(Duration.ofSeconds(3))) {
            HaCluster member = HaCluster.builder().scope("stingy").member("a")
                    .dcs(ZooKeeperDcs.connect(ZkTestServers.settings(stingy.getConnectString()).build()))
                    .postgres(noPostgres(), new HostPort("127.0.0.1", 5432))
                    .ttl(Duration.ofSeconds(10)).loopWait(Duration.ofSeconds(2)).retryTimeout(Duration.ofSeconds(2))
                    .build();
            try {
                assertThatThrownBy(member::start).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("the lease the DCS granted is too short")
                        .hasMessageContaining("loopWait + 2*retryTimeout must be <= the DCS lease guarantee");
                assertThat(member.role()).isEqualTo(io.pgha.core.cluster.Role.CLOSED);
            } finally {
                member.close();
            }
        }
    }
}
