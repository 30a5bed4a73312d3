package io.pgha.examples.e2e;

import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;

/** A real ZooKeeper server (curator-test's {@link TestingServer}) in the test JVM. */
final class ZooKeeperStore extends StoreUnderTest {

    // Fine server ticks: a session expires close to its timeout instead of up to a 2 s tick later.
    private static final int TICK_MS = 200;

    private final TestingServer server;

    ZooKeeperStore() throws Exception {
        InstanceSpec spec = new InstanceSpec(null, TestPorts.freePort(), -1, -1, true, -1, TICK_MS, -1,
                Map.of("maxSessionTimeout", "60000"));
        server = new TestingServer(spec, true);
    }

    @Override
    String section() {
        return "zookeeper";
    }

    @Override
    Timings timings() {
        return LEASE_OF_TTL;
    }

    @Override
    int port() {
        return server.getPort();
    }

    @Override
    Map<String, Object> memberSection(String endpoint) {
        // One server: the lease guarantee is the session timeout less the clock allowance (docs/zookeeper-settings.md).
        return Map.of("hosts", List.of(endpoint), "standalone", true);
    }

    /** Stops the in-JVM server; curator-test keeps its data directory and port for {@link #restartAfterOutage()}. */
    @Override
    void stopForOutage() {
        try {
            server.stop();
        } catch (IOException e) {
            throw new IllegalStateException("stopping ZooKeeper: " + e.getMessage(), e);
        }
    }

    @Override
    void restartAfterOutage() throws Exception {
        server.restart();
    }

    @Override
    void stopServer() {
        try {
            server.close();
        } catch (IOException e) {
            throw new IllegalStateException("stopping ZooKeeper: " + e.getMessage(), e);
        }
    }
}
