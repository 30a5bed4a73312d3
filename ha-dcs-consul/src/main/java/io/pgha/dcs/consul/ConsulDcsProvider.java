package io.pgha.dcs.consul;

import io.pgha.core.config.ConfigSection;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsProvider;
import java.util.List;

/**
 * The {@code consul:} configuration section, Patroni's layout: {@code url}, or {@code host} ({@code host:port})
 * with {@code scheme}; {@code token}; {@code dc}. pgha also reads {@code session_ttl_min} (seconds) for agents
 * configured with a lower {@code session_ttl_min} than Consul's default 10 s.
 */
public final class ConsulDcsProvider implements DcsProvider {

    @Override
    public List<String> names() {
        return List.of("consul");
    }

    @Override
    public String artifact() {
        return "io.pgha:ha-dcs-consul";
    }

    @Override
    public DcsFactory fromConfig(ConfigSection s) {
        String url = s.string("url", null);
        if (url == null) {
            String host = s.string("host", null);
            if (host == null) {
                throw new IllegalArgumentException(s.key("url") + " (or host) is required, e.g. http://127.0.0.1:8500");
            }
            url = s.string("scheme", "http") + "://" + host;
        }
        ConsulSettings.Builder b = ConsulSettings.builder(url);
        String token = s.string("token", null);
        if (token != null) {
            b.token(token);
        }
        String dc = s.string("dc", null);
        if (dc != null) {
            b.datacenter(dc);
        }
        java.time.Duration min = s.seconds("session_ttl_min");
        if (min != null) {
            b.sessionTtlMin(min);
        }
        s.ignore("verify", "consistency", "checks", "register_service", "service_tags");
        return ConsulDcs.connect(b.build());
    }
}
