package io.pgha.examples.demo;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;

/**
 * The DCS the demo's members share: its section in the member YAML (Patroni's layout) and how to stop it. The
 * demo starts ZooKeeper in its own JVM and etcd as a child process; a Consul agent it can only use (docs/decisions
 * 0602).
 */
interface DemoStore extends AutoCloseable {

    /** The member YAML's store section name: {@code zookeeper}, {@code etcd3} or {@code consul}. */
    String section();

    /** The section's settings. */
    Map<String, Object> settings();

    /** For the timeline, e.g. {@code zookeeper up (in this JVM, 127.0.0.1:41234)}. */
    String describe();

    /** Stops what the demo started; bounded, never throws. */
    @Override
    void close();

    /** A port nobody listens on at the moment of asking, on loopback, outside the ephemeral range. */
    static int freePort() throws IOException {
        return LoopbackPorts.free();
    }

    /** ZooKeeper (Curator's test server) inside the demo's JVM, on a free loopback port. */
    final class ZooKeeper implements DemoStore {
        /** Fine ticks: ZooKeeper expires sessions on tick boundaries, so a dead leader's lock goes close to ttl. */
        private static final int TICK_MS = 200;
        private final TestingServer server;

        ZooKeeper(Path dir) throws Exception {
            InstanceSpec spec = new InstanceSpec(dir.toFile(), freePort(), -1, -1, true, -1, TICK_MS, -1,
                    Map.of("maxSessionTimeout", "120000", "clientPortAddress", "127.0.0.1",
                            "admin.enableServer", "false"), "127.0.0.1");
            server = new TestingServer(spec, true);
        }

        @Override
        public String section() {
            return "zookeeper";
        }

        @Override
        public Map<String, Object> settings() {
            // One server: the lease guarantee is the session timeout less the clock allowance.
            return Map.of("hosts", List.of(server.getConnectString()), "standalone", true);
        }

        @Override
        public String describe() {
            return "zookeeper up (in the demo's JVM, " + server.getConnectString() + ")";
        }

        @Override
        public void close() {
            try {
                server.close();
            } catch (IOException | RuntimeException e) {
                // its data directory is inside the work directory, which is deleted next
            }
        }
    }

    /** Debian's etcd as a child process on free loopback ports, data in the work directory. */
    final class Etcd implements DemoStore {
        private final Process process;
        private final String endpoint;

        Etcd(ChildProcesses children, Path binary, Path dir) throws IOException {
            Files.createDirectories(dir);
            int client = freePort();
            int peer = freePort();
            endpoint = "127.0.0.1:" + client;
            String peerUrl = "http://127.0.0.1:" + peer;
            Path log = dir.resolve("etcd.log");
            process = children.start(List.of(binary.toString(), "--name", "demo",
                    "--data-dir", dir.resolve("data").toString(),
                    "--listen-client-urls", "http://" + endpoint, "--advertise-client-urls", "http://" + endpoint,
                    "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
                    "--initial-cluster", "demo=" + peerUrl, "--initial-cluster-state", "new",
                    "--logger=zap", "--log-level=warn"), log);
            try {
                awaitHealthy(log);
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        /** Up to 20 s for {@code /health}; an etcd that exits says why in its log's last line. */
        private void awaitHealthy(Path log) {
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofMillis(500)).build();
            URI health = URI.create("http://" + endpoint + "/health");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) {
                    throw DemoException.failed("etcd exited with code " + process.exitValue() + ": "
                            + lastLine(log));
                }
                try {
                    HttpResponse<String> r = http.send(HttpRequest.newBuilder(health)
                            .timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 200 && r.body().contains("true")) {
                        return;
                    }
                } catch (IOException e) {
                    // not listening yet
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw DemoException.failed("interrupted while waiting for etcd");
                }
                sleep(100);
            }
            throw DemoException.failed("etcd did not report healthy within 20 s (" + lastLine(log) + ")");
        }

        @Override
        public String section() {
            return "etcd3";
        }

        @Override
        public Map<String, Object> settings() {
            return Map.of("hosts", List.of(endpoint));
        }

        @Override
        public String describe() {
            return "etcd up (" + endpoint + ", pid " + process.pid() + ")";
        }

        @Override
        public void close() {
            process.destroy();
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }

        long pid() {
            return process.pid();
        }
    }

    /** A Consul agent the user runs; the demo only checks that it answers. */
    final class Consul implements DemoStore {
        private final URI url;

        Consul(URI url) {
            this.url = url;
        }

        @Override
        public String section() {
            return "consul";
        }

        @Override
        public Map<String, Object> settings() {
            return Map.of("url", url.toString());
        }

        @Override
        public String describe() {
            return "consul agent at " + url + " answers (not started by the demo)";
        }

        @Override
        public void close() {
            // not ours to stop; the members' sessions end with them
        }
    }

    static String lastLine(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            for (int i = lines.size() - 1; i >= 0; i--) {
                if (!lines.get(i).isBlank()) {
                    String l = lines.get(i).trim();
                    return l.length() > 300 ? l.substring(0, 300) + "..." : l;
                }
            }
            return "its log " + log + " is empty";
        } catch (IOException e) {
            return "no log at " + log;
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw DemoException.failed("interrupted");
        }
    }
}
