package io.pgha.dcs.zookeeper;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.spi.Dcs;
import io.pgha.core.testkit.DcsContractTest;
import io.pgha.core.testkit.ProxiedStore;
import io.pgha.core.testkit.TcpProxy;
import java.io.IOException;
import java.time.Duration;
import org.apache.curator.test.TestingServer;
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
    protected void expireLease(Dcs member) throws Exception {
        ZkTestServers.expireSession(server.getConnectString(), (ZooKeeperDcs) member);
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
