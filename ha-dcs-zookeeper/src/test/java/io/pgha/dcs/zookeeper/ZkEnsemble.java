package io.pgha.dcs.zookeeper;

import io.pgha.core.testkit.TcpProxy;
import io.pgha.core.testkit.TestFiles;
import io.pgha.core.testkit.TestPorts;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.server.quorum.QuorumPeer;
import org.apache.zookeeper.server.quorum.QuorumPeerConfig;
import org.apache.zookeeper.server.quorum.QuorumPeerMain;

/**
 * A three-server ZooKeeper ensemble in this JVM, each server with its own configuration, in which server 3 reaches
 * the other two only through {@link TcpProxy}s: {@link #isolateServer3()} cuts it off while servers 1 and 2 keep
 * their quorum. Servers 1 and 2 are started first, so one of them leads and server 3 joins as a follower.
 *
 * <p>Server 3 has the highest id, so ZooKeeper makes it open every link between it and the others (a server drops a
 * connection from a lower id and connects back): its quorum link to the leader and both election links go through
 * the proxies named in its own configuration. Reconfiguration is off (ZooKeeper's default), so the leader's view of
 * the addresses never replaces server 3's.
 */
final class ZkEnsemble implements AutoCloseable {

    private final Duration tickTime;
    private final int syncLimit;
    private final Path base;
    private final int[] clientPorts = new int[3];
    private final int[] quorumPorts = new int[3];
    private final int[] electionPorts = new int[3];
    private final List<TcpProxy> server3Links = new ArrayList<>();
    private final Server[] servers = new Server[3];

    /** One server: ZooKeeper's own main class, run on a thread of its own until {@link #close()}. */
    private static final class Server extends QuorumPeerMain {
        private final Thread thread;
        private volatile Throwable failure;

        Server(QuorumPeerConfig config, int id) {
            thread = new Thread(() -> {
                try {
                    runFromConfig(config);
                } catch (Throwable t) {
                    failure = t;
                }
            }, "zk-ensemble-server-" + id);
            thread.setDaemon(true);
            thread.start();
        }

        QuorumPeer.ServerState state() {
            QuorumPeer p = quorumPeer;
            return p == null ? null : p.getPeerState();
        }

        void stop() throws InterruptedException {
            close();
            thread.join(TimeUnit.SECONDS.toMillis(20));
        }
    }

    private ZkEnsemble(Duration tickTime, int syncLimit) throws IOException {
        this.tickTime = tickTime;
        this.syncLimit = syncLimit;
        this.base = TestFiles.shortTempDir("pgha-zk");
    }

    /**
     * Starts the ensemble with these server timings; sessions up to {@code maxSessionTimeout} are granted as asked.
     * Returns once server 3 follows.
     */
    static ZkEnsemble start(Duration tickTime, int syncLimit, Duration maxSessionTimeout) throws Exception {
        ZkEnsemble e = new ZkEnsemble(tickTime, syncLimit);
        try {
            e.startServers(maxSessionTimeout);
            return e;
        } catch (Exception | Error t) {
            e.close();
            throw t;
        }
    }

    private void startServers(Duration maxSessionTimeout) throws Exception {
        for (int i = 0; i < 3; i++) {
            clientPorts[i] = TestPorts.freePort();
            quorumPorts[i] = TestPorts.freePort();
            electionPorts[i] = TestPorts.freePort();
        }
        String[] direct = new String[3];
        String[] seenFrom3 = new String[3];
        for (int i = 0; i < 3; i++) {
            direct[i] = "127.0.0.1:" + quorumPorts[i] + ":" + electionPorts[i];
            if (i == 2) {
                seenFrom3[i] = direct[i];
            } else {
                TcpProxy quorum = TcpProxy.start("127.0.0.1", quorumPorts[i]);
                server3Links.add(quorum);
                TcpProxy election = TcpProxy.start("127.0.0.1", electionPorts[i]);
                server3Links.add(election);
                seenFrom3[i] = "127.0.0.1:" + quorum.port() + ":" + election.port();
            }
        }
        servers[0] = new Server(config(1, direct, maxSessionTimeout), 1);
        servers[1] = new Server(config(2, direct, maxSessionTimeout), 2);
        awaitState("a leader among servers 1 and 2", () -> servers[0].state() == QuorumPeer.ServerState.LEADING
                || servers[1].state() == QuorumPeer.ServerState.LEADING);
        servers[2] = new Server(config(3, seenFrom3, maxSessionTimeout), 3);
        awaitState("server 3 following", () -> servers[2].state() == QuorumPeer.ServerState.FOLLOWING);
    }

    private QuorumPeerConfig config(int id, String[] addresses, Duration maxSessionTimeout) throws Exception {
        Path dir = base.resolve("server" + id);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("myid"), Integer.toString(id), StandardCharsets.US_ASCII);
        Properties p = new Properties();
        p.setProperty("dataDir", dir.toString());
        p.setProperty("clientPort", Integer.toString(clientPorts[id - 1]));
        p.setProperty("clientPortAddress", "127.0.0.1");
        p.setProperty("tickTime", Long.toString(tickTime.toMillis()));
        p.setProperty("initLimit", "20");
        p.setProperty("syncLimit", Integer.toString(syncLimit));
        p.setProperty("maxSessionTimeout", Long.toString(maxSessionTimeout.toMillis()));
        p.setProperty("admin.enableServer", "false");
        for (int i = 0; i < 3; i++) {
            p.setProperty("server." + (i + 1), addresses[i]);
        }
        QuorumPeerConfig c = new QuorumPeerConfig();
        c.parseProperties(p);
        return c;
    }

    private void awaitState(String what, java.util.function.BooleanSupplier done) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!done.getAsBoolean()) {
            for (Server s : servers) {
                if (s != null && s.failure != null) {
                    throw new IllegalStateException("a ZooKeeper server failed while waiting for " + what, s.failure);
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("ZooKeeper ensemble: no " + what + " within 60 s");
            }
            Thread.sleep(50);
        }
    }

    /** {@code 127.0.0.1:<client port>} of server {@code id} (1 to 3). */
    String connectString(int id) {
        return "127.0.0.1:" + clientPorts[id - 1];
    }

    /** The id of the server leading now, or 0. */
    int leader() {
        for (int i = 0; i < 3; i++) {
            if (servers[i] != null && servers[i].state() == QuorumPeer.ServerState.LEADING) {
                return i + 1;
            }
        }
        return 0;
    }

    /** Whether server {@code id} follows a leader now. */
    boolean follows(int id) {
        return servers[id - 1] != null && servers[id - 1].state() == QuorumPeer.ServerState.FOLLOWING;
    }

    /** A silent partition between server 3 and the other two, both ways at once; its clients can still reach it. */
    void isolateServer3() {
        for (TcpProxy p : server3Links) {
            p.blackhole();
        }
    }

    @Override
    public void close() {
        for (int i = servers.length - 1; i >= 0; i--) {
            if (servers[i] != null) {
                try {
                    servers[i].stop();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (RuntimeException e) {
                    // stop the others anyway
                }
            }
        }
        for (TcpProxy p : server3Links) {
            p.close();
        }
        TestFiles.deleteTree(base);
    }
}
