package io.pgha.examples.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.testkit.TcpProxy;
import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A second agent process configured as an existing member (same name, scope, store and credentials: a copied config
 * file) but with its own ports, proxies and an empty data directory. Not started by the constructor; {@link #close()}
 * kills it by PID and closes its proxies.
 */
final class SameNameAgent implements AutoCloseable {

    final AgentProcess agent;
    private final TcpProxy dcsProxy;
    private final TcpProxy pgProxy;

    SameNameAgent(E2eCluster cluster, AgentProcess original) throws IOException {
        Path dir = cluster.base.resolve(original.name + "-again");
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        int pgPort = TestPorts.freePort();
        int restPort = TestPorts.freePort();
        ObjectNode y = (ObjectNode) AgentProcess.YAML.readTree(original.config.toFile());
        dcsProxy = TcpProxy.start(cluster.store.host(), cluster.store.port(), 16);
        pgProxy = TcpProxy.start("127.0.0.1", pgPort, 16);
        JsonNode auth = y.path("restapi").path("authentication");
        agent = new AgentProcess(original.name, dir, pgPort, restPort, dcsProxy, pgProxy,
                y.path("postgresql").path("authentication").path("superuser").path("password").asText(),
                auth.path("username").asText(), auth.path("password").asText());
        ObjectNode rest = (ObjectNode) y.path("restapi");
        rest.put("listen", "127.0.0.1:" + restPort).put("connect_address", "127.0.0.1:" + restPort);
        y.set(cluster.store.section(), AgentProcess.YAML.valueToTree(
                cluster.store.memberSection(dcsProxy.address())));
        ObjectNode pg = (ObjectNode) y.path("postgresql");
        pg.put("listen", "127.0.0.1:" + pgPort).put("connect_address", pgProxy.address())
                .put("data_dir", agent.dataDir.toString()).put("node_dir", agent.nodeDir.toString());
        AgentProcess.YAML.writeValue(agent.config.toFile(), y);
    }

    /** Whether its data directory is still empty (or was never created): it neither bootstrapped nor cloned. */
    boolean dataDirectoryEmpty() throws IOException {
        if (!Files.exists(agent.dataDir)) {
            return true;
        }
        try (var files = Files.list(agent.dataDir)) {
            return files.findAny().isEmpty();
        }
    }

    @Override
    public void close() {
        try {
            agent.killEverything();
        } finally {
            dcsProxy.close();
            pgProxy.close();
        }
    }
}
