package io.pgha.dcs.zookeeper;

import io.pgha.core.testkit.TestPorts;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;

/** In-JVM ZooKeeper servers and admin helpers for the tests of this module. */
final class ZkTestServers {

    /** Fine-grained server ticks, so session expiry happens close to the timeout rather than a 2 s tick later. */
    static final int TICK_MS = 200;

    private ZkTestServers() {}

    /** A standalone server on a free port granting session timeouts up to {@code maxSessionTimeout}. */
    static TestingServer standalone(Duration maxSessionTimeout) throws Exception {
        InstanceSpec spec = new InstanceSpec(null, TestPorts.freePort(), -1, -1, true, -1, TICK_MS, -1,
                Map.of("maxSessionTimeout", Long.toString(maxSessionTimeout.toMillis())));
        return new TestingServer(spec, true);
    }

    /** Settings for a member of a {@link #standalone} server: its lease is the whole session, less the clock allowance. */
    static ZooKeeperSettings.Builder settings(String connectString) {
        return ZooKeeperSettings.builder(connectString).standalone();
    }

    /** A client straight to the server (no proxy, no auth) for planting and inspecting znodes. */
    static CuratorFramework admin(String connectString) throws InterruptedException {
        CuratorFramework c = CuratorFrameworkFactory.newClient(connectString, 10_000, 5_000, new RetryOneTime(200));
        c.start();
        if (!c.blockUntilConnected(10, TimeUnit.SECONDS)) {
            c.close();
            throw new IllegalStateException("admin client could not connect to " + connectString);
        }
        return c;
    }

    /** Creates or replaces {@code path} with {@code value}, creating parents. */
    static void put(String connectString, String path, String value) throws Exception {
        try (CuratorFramework c = admin(connectString)) {
            byte[] data = value.getBytes(StandardCharsets.UTF_8);
            if (c.checkExists().forPath(path) == null) {
                c.create().creatingParentsIfNeeded().withMode(CreateMode.PERSISTENT).forPath(path, data);
            } else {
                c.setData().forPath(path, data);
            }
        }
    }

    /**
     * Expires a member's session on the server, as the server itself does after the timeout: a second handle
     * attaches to the same session and closes it, which deletes the session's ephemeral znodes at once.
     */
    static void expireSession(String connectString, ZooKeeperDcs member) throws Exception {
        ZooKeeper zk = member.curator().getZookeeperClient().getZooKeeper();
        long id = zk.getSessionId();
        byte[] password = zk.getSessionPasswd();
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper twin = new ZooKeeper(connectString, 10_000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        }, id, password);
        try {
            if (!connected.await(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("could not attach to session 0x" + Long.toHexString(id));
            }
        } finally {
            twin.close();
        }
    }
}
