package io.pgha.dcs.zookeeper;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.spi.Dcs;
import io.pgha.core.testkit.DcsContractTest;
import io.pgha.core.testkit.ProxiedStore;
import io.pgha.core.testkit.TcpProxy;
import java.io.IOException;
import java.time.Duration;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The Dcs contract against an in-JVM ZooKeeper. Each member reaches the server through its own {@link TcpProxy}, so
 * a crash (connections reset, client closed without a session close) and a partition (blackhole) are real network
 * events for the client and the server.
 */
class ZooKeeperDcsContractTest extends DcsContractTest {

    private TestingServer server;
    private final ProxiedStore store = new ProxiedStore(() -> server.getPort(),
            (address, context) -> ZooKeeperDcs.open(ZkTestServers.settings(address).build(), context));

    @BeforeAll
    void startZooKeeper() throws Exception {
        server = ZkTestServers.standalone(Duration.ofSeconds(60));
    }

    @AfterAll
    void stopZooKeeper() throws IOException {
        if (server != null) {
            server.close();
        }
    }

    /** Crash: connections reset, client closed without a session close; partition: blackhole (the kit's defaults). */
    @Override
    protected ProxiedStore proxiedStore() {
        return store;
    }

    @Override
    protected String storeName() {
        return "ZooKeeper";
    }

    @Override
    protected void expireLease(Dcs member) throws Exception {
        ZkTestServers.expireSession(server.getConnectString(), (ZooKeeperDcs) member);
    }

    /**
     * Asks the server: a client always has a session (that is the protocol), so the lease is an ephemeral znode of
     * that session anywhere in the scope.
     */
    @Override
    protected boolean holdsLease(Dcs member) throws Exception {
        long session = ((ZooKeeperDcs) member).sessionId();
        String scope = layout().prefix().substring(0, layout().prefix().length() - 1);
        try (CuratorFramework admin = ZkTestServers.admin(server.getConnectString())) {
            return ownsEphemeral(admin, scope, session);
        }
    }

    private static boolean ownsEphemeral(CuratorFramework admin, String path, long session) throws Exception {
        Stat st = admin.checkExists().forPath(path);
        if (st == null) {
            return false;
        }
        if (st.getEphemeralOwner() == session) {
            return true;
        }
        for (String child : admin.getChildren().forPath(path)) {
            if (ownsEphemeral(admin, path + "/" + child, session)) {
                return true;
            }
        }
        return false;
    }

    @Override
    protected void stopServer() throws IOException {
        server.stop();
    }

    @Override
    protected void startServer() throws Exception {
        server.restart();
    }

    @Override
    protected void writeRaw(KeyLayout layout, String key, String value) throws Exception {
        ZkTestServers.put(server.getConnectString(), layout.key(key), value);
    }
}
