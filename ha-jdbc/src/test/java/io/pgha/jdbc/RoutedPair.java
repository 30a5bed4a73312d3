package io.pgha.jdbc;

import io.pgha.core.cluster.Role;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.testkit.TestPorts;
import io.pgha.dcs.zookeeper.ZooKeeperDcs;
import io.pgha.dcs.zookeeper.ZooKeeperSettings;
import java.io.IOException;
import java.util.Map;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;

/**
 * A {@link PgPair} routed by a real in-JVM ZooKeeper: member keys of {@code a} (primary, holding the leader key of
 * scope {@code orders}) and {@code b} (its standby), both at the same WAL position so b qualifies for reads. Closing
 * stops everything it started, even when the setup failed half-way.
 */
final class RoutedPair implements AutoCloseable {

    private static final long GB = 1L << 30;

    TestingServer zk;
    PgPair pg;
    DcsFactory store;
    MemberKeys a;
    MemberKeys b;
    int aPort;
    int bPort;

    RoutedPair() throws Exception {
        try {
            zk = new TestingServer(new InstanceSpec(null, TestPorts.freePort(), -1, -1, true, -1, 200, -1,
                    Map.of("maxSessionTimeout", "60000")), true);
            pg = new PgPair();
            store = ZooKeeperDcs.connect(ZooKeeperSettings.builder(zk.getConnectString()).standalone().build());
            a = new MemberKeys(store, "orders", "a");
            b = new MemberKeys(store, "orders", "b");
            a.publish(Role.PRIMARY, PgPair.connUrl(pg.a), GB);
            b.publish(Role.REPLICA, PgPair.connUrl(pg.b), GB);
            if (!a.lead()) {
                throw new IllegalStateException("a did not get the leader key of a fresh store");
            }
            aPort = PgPair.port(pg.a);
            bPort = PgPair.port(pg.b);
        } catch (Exception e) {
            try {
                close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        if (a != null) {
            a.close();
        }
        if (b != null) {
            b.close();
        }
        if (pg != null) {
            pg.close();
        }
        if (zk != null) {
            zk.close();
        }
    }
}
