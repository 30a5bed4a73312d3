package io.pgha.dcs.zookeeper;

import io.pgha.core.config.ConfigSection;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsProvider;
import java.time.Duration;
import java.util.List;

/**
 * The {@code zookeeper:} configuration section (Patroni's layout): {@code hosts} (list or comma-separated), plus
 * pgha's {@code connection_timeout} (seconds), {@code digest_auth} ({@code user:password}) and {@code world_readable}.
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
        s.ignore("use_ssl", "set_acls");
        return ZooKeeperDcs.connect(b.build());
    }
}
