package io.pgha.examples.e2e;

import io.pgha.dcs.etcd.EtcdServer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** A real etcd process (Debian's etcd-server), started and stopped by its PID through ha-dcs-etcd's harness. */
final class EtcdStore extends StoreUnderTest {

    private final EtcdServer server;

    EtcdStore(Path dir) throws IOException {
        server = EtcdServer.start(dir);
    }

    @Override
    String section() {
        return "etcd3";
    }

    @Override
    Timings timings() {
        return LEASE_OF_TTL;
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
