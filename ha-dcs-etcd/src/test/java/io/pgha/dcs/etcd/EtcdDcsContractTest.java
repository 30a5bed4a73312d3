package io.pgha.dcs.etcd;

import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.spi.Dcs;
import io.pgha.core.testkit.DcsContractTest;
import io.pgha.core.testkit.ProxiedStore;
import io.pgha.core.testkit.TcpProxy;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
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
    private final ProxiedStore store = new ProxiedStore(() -> server.clientPort(),
            (address, context) -> EtcdDcs.open(EtcdSettings.builder("http://" + address).build(), context));

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

    /** Partition: the member's proxy blackholes (the kit's default); a crash is ours, below. */
    @Override
    protected ProxiedStore proxiedStore() {
        return store;
    }

    /** The process dies: its connections are reset, its keepalives stop, and nobody revokes its lease. */
    @Override
    protected void crash(Dcs member) {
        store.proxyOf(member).reset();
        ((EtcdDcs) member).abandon();
    }

    @Override
    protected String storeName() {
        return "etcd";
    }

    @Override
    protected void expireLease(Dcs member) {
        server.revoke(((EtcdDcs) member).leaseId());
    }

    /** The client's own record: every lease etcd granted it. */
    @Override
    protected boolean holdsLease(Dcs member) {
        return ((EtcdDcs) member).leasesGranted() > 0;
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
    protected void writeRaw(KeyLayout layout, String key, String value) {
        server.put(layout.key(key), value);
    }
}
