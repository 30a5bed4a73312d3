package io.pgha.dcs.etcd;

import io.pgha.core.config.ConfigSection;
import io.pgha.core.spi.DcsFactory;
import io.pgha.core.spi.DcsProvider;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code etcd3:} (or {@code etcd:}) configuration section, Patroni's layout: {@code hosts} (list or
 * comma-separated {@code host:port}), {@code host}, or {@code url}; {@code protocol} (http/https); {@code username}
 * and {@code password}; plus pgha's {@code truststore} and {@code truststore_password} for https.
 */
public final class EtcdDcsProvider implements DcsProvider {

    @Override
    public List<String> names() {
        return List.of("etcd3", "etcd");
    }

    @Override
    public String artifact() {
        return "io.pgha:ha-dcs-etcd";
    }

    @Override
    public DcsFactory fromConfig(ConfigSection s) {
        String protocol = s.string("protocol", "http");
        if (!protocol.equals("http") && !protocol.equals("https")) {
            throw new IllegalArgumentException(s.key("protocol") + ": expected http or https, got '" + protocol + "'");
        }
        List<String> endpoints = new ArrayList<>();
        for (String h : s.strings("hosts")) {
            endpoints.add(h.contains("://") ? h : protocol + "://" + h);
        }
        String host = s.string("host", null);
        if (host != null) {
            endpoints.add(host.contains("://") ? host : protocol + "://" + host);
        }
        String url = s.string("url", null);
        if (url != null) {
            endpoints.add(url);
        }
        if (endpoints.isEmpty()) {
            throw new IllegalArgumentException(s.key("hosts") + " (or host, or url) is required, e.g. [127.0.0.1:2379]");
        }
        EtcdSettings.Builder b = EtcdSettings.builder(endpoints);
        String user = s.string("username", null);
        if (user != null) {
            b.auth(user, s.requiredString("password"));
        }
        String trust = s.string("truststore", null);
        if (trust != null) {
            b.trustStore(Path.of(trust), s.string("truststore_password", ""));
        }
        return EtcdDcs.connect(b.build());
    }
}
