package io.pgha.examples.e2e;

import io.pgha.dcs.etcd.EtcdServer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** A real etcd process (Debian's etcd-server), started and stopped by its PID through ha-dcs-etcd's harness. */
final class EtcdStore extends StoreUnderTest {

    /** Issue 11's fast profile on etcd (README, *Timing profiles and their failure budgets*). */
    static final Timings FAST = new Timings(java.time.Duration.ofSeconds(5), java.time.Duration.ofSeconds(1),
            java.time.Duration.ofSeconds(2));

    private final EtcdServer server;
    private final Timings timings;

    EtcdStore(Path dir) throws IOException {
        this(dir, LEASE_OF_TTL);
    }

    EtcdStore(Path dir, Timings timings) throws IOException {
        this.timings = timings;
        server = EtcdServer.start(dir);
    }

    @Override
    String section() {
        return "etcd3";
    }

    @Override
    Timings timings() {
        return timings;
    }

    @Override
    int port() {
        return server.clientPort();
    }

    @Override
    Map<String, Object> memberSection(String endpoint) {
        return Map.of("hosts", List.of(endpoint));
    }

    /** SIGTERM to the etcd process (by its PID); its data directory stays. */
    @Override
    void stopForOutage() {
        server.stop();
    }

    @Override
    void restartAfterOutage() throws IOException {
        server.start();
    }

    @Override
    void stopServer() {
        server.close();
    }

    @Override
    public String toString() {
        return super.toString() + " (etcd pid " + server.pid() + ")";
    }

    String logTail() {
        return server.logTail();
    }
}
