package io.pgha.examples.demo;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ports the demo writes into a configuration and binds seconds later (PostgreSQL, the agents' REST APIs, the store).
 * They come from below the kernel's ephemeral range: a port from {@code bind(0)} could meanwhile become the local
 * port of one of the many outgoing loopback connections, and the server would fail with "Address already in use".
 * The test kit's {@code TestPorts} does the same for the tests; the demo cannot depend on test code.
 */
final class LoopbackPorts {

    private static final Path EPHEMERAL_RANGE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
    private static final int SPAN = 10_000;

    private LoopbackPorts() {}

    /** A loopback port nobody listens on now; outside the ephemeral range when the range leaves room below it. */
    static int free() throws IOException {
        int below = ephemeralLow() - 1;
        if (below - SPAN < 1024) {
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                return s.getLocalPort();
            }
        }
        int start = ThreadLocalRandom.current().nextInt(SPAN);
        for (int i = 0; i < SPAN; i++) {
            int p = below - (start + i) % SPAN;
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(false);
                s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), p), 1);
                return p;
            } catch (IOException taken) {
                // try the next one
            }
        }
        throw new IOException("no free loopback port in " + (below - SPAN + 1) + ".." + below);
    }

    private static int ephemeralLow() {
        try {
            return Integer.parseInt(Files.readAllLines(EPHEMERAL_RANGE).get(0).trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 32768; // Linux's default
        }
    }
}
