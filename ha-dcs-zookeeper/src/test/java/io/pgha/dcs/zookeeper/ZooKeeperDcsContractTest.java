package io.pgha.dcs.zookeeper;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.testkit.DcsContractTest;
import io.pgha.core.testkit.TcpProxy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * The Dcs contract against an in-JVM ZooKeeper. Each member reaches the server through its own {@link TcpProxy}, so
 * a crash (connections reset, client closed without a session close) and a partition (blackhole) are real network
 * events for the client and the server.
 */
class ZooKeeperDcsContractTest extends DcsContractTest {

    private TestingServer server;
    private final Map<Dcs, TcpProxy> proxies = new ConcurrentHashMap<>();

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

    @AfterEach
    void closeProxies() {
        // Clients first, so their sessions end cleanly; the contract's own cleanup then finds them closed.
        proxies.keySet().forEach(Dcs::close);
        proxies.values().forEach(TcpProxy::close);
        proxies.clear();
    }

    @Override
    protected DcsFactory factory() {
        return context -> {
            TcpProxy proxy;
            try {
                proxy = TcpProxy.start("127.0.0.1", server.getPort());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            try {
                ZooKeeperDcs dcs = ZooKeeperDcs.open(ZooKeeperSettings.builder(proxy.address()).build(), context);
                proxies.put(dcs, proxy);
                return dcs;
            } catch (RuntimeException e) {
                proxy.close();
                throw e;
            }
        };
    }

    /** The process dies: its connections are reset and nothing more is sent, so the server keeps the session
     *  until it times out. */
    @Override
    protected void crash(Dcs member) {
        proxies.get(member).reset();
        member.close();
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
    protected void makeUnreachable(Dcs member) {
        proxies.get(member).blackhole();
    }

    @Override
    protected void heal(Dcs member) {
        proxies.get(member).heal();
    }

    @Override
    protected void writeRaw(KeyLayout layout, String key, String value) throws Exception {
        ZkTestServers.put(server.getConnectString(), layout.key(key), value);
    }
}
