package io.pgha.dcs.zookeeper;

import io.pgha.core.config.ConfigSection;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsProvider;
import java.time.Duration;
import java.util.List;

/**
 * The {@code zookeeper:} configuration section (Patroni's layout): {@code hosts} (list or comma-separated), plus
 * pgha's {@code connection_timeout} (seconds), {@code digest_auth} ({@code user:password}), {@code world_readable},
 * and the servers' timing the lease guarantee is derived from: {@code tick_time_ms} and {@code sync_limit} as in
 * their zoo.cfg, or {@code standalone: true} for a single server.
 */
public final class ZooKeeperDcsProvider implements DcsProvider {

    @Override
    public List<String> names() {
        return List.of("zookeeper");
    }

    @Override
    public String artifact() {
        return "io.pgha:ha-dcs-zookeeper";
    }

    @Override
    public DcsFactory fromConfig(ConfigSection s) {
        List<String> hosts = s.strings("hosts");
        if (hosts.isEmpty()) {
            throw new IllegalArgumentException(s.key("hosts") + " is required (e.g. [zk1:2181, zk2:2181])");
        }
        ZooKeeperSettings.Builder b = ZooKeeperSettings.builder(String.join(",", hosts));
        Duration connect = s.seconds("connection_timeout");
        if (connect != null) {
            b.connectionTimeout(connect);
        }
        String digest = s.string("digest_auth", null);
        if (digest != null) {
            b.digestAuth(digest);
        }
        if (s.has("world_readable")) {
            b.worldReadable(s.bool("world_readable", true));
        }
        if (s.has("tick_time_ms")) {
            b.tickTime(Duration.ofMillis(positiveInt(s, "tick_time_ms", "the servers' tickTime in milliseconds")));
        }
        if (s.has("sync_limit")) {
            b.syncLimit(positiveInt(s, "sync_limit", "the servers' syncLimit in ticks"));
        }
        if (s.bool("standalone", false)) {
            b.standalone();
        }
        s.ignore("use_ssl", "set_acls");
        return ZooKeeperDcs.connect(b.build());
    }

    private static int positiveInt(ConfigSection s, String key, String what) {
        long v = s.integer(key, 0);
        if (v < 1 || v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(s.key(key) + " must be " + what + ", at least 1 (got " + v + ")");
        }
        return (int) v;
    }
}
