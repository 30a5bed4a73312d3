package io.pgha.dcs.etcd;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.testkit.DcsContractTest;
import io.pgha.core.testkit.TcpProxy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Dcs contract against a real etcd 3.4 process. Each member reaches etcd through its own {@link TcpProxy}, so a
 * crash (connections reset, no revoke) and a partition (blackhole) are real network events; an admin client talks to
 * etcd directly to revoke leases and plant values.
 */
class EtcdDcsContractTest extends DcsContractTest {

    @TempDir
    static Path tmp;

    private EtcdServer server;
    private final Map<Dcs, TcpProxy> proxies = new ConcurrentHashMap<>();

    @BeforeAll
    void startEtcd() throws IOException {
        server = EtcdServer.start(tmp);
    }

    @AfterAll
    void stopEtcd() {
        if (server != null) {
            server.close();
        }
    }

    @AfterEach
    void closeProxies() {
        // Clients first, so their leases are revoked; the contract's own cleanup then finds them closed.
        proxies.keySet().forEach(Dcs::close);
        proxies.values().forEach(TcpProxy::close);
        proxies.clear();
    }

    @Override
    protected DcsFactory factory() {
        return context -> {
            TcpProxy proxy;
            try {
                proxy = TcpProxy.start("127.0.0.1", server.clientPort());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            try {
                EtcdDcs dcs = EtcdDcs.open(EtcdSettings.builder("http://" + proxy.address()).build(), context);
                proxies.put(dcs, proxy);
                return dcs;
            } catch (RuntimeException e) {
                proxy.close();
                throw e;
            }
        };
    }

    /** The process dies: its connections are reset, its keepalives stop, and nobody revokes its lease. */
    @Override
    protected void crash(Dcs member) {
        proxies.get(member).reset();
        ((EtcdDcs) member).abandon();
    }

    @Override
    protected void expireLease(Dcs member) {
        server.revoke(((EtcdDcs) member).leaseId());
    }

    @Override
    protected void stopServer() {
        server.kill();
    }

    @Override
    protected void startServer() throws IOException {
        server.start();
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
    protected void writeRaw(KeyLayout layout, String key, String value) {
        server.put(layout.key(key), value);
    }
}
