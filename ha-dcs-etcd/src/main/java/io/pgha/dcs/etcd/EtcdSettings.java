package io.pgha.dcs.etcd;

import io.pgha.core.spi.DcsContext;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Options of the etcd adapter; see {@code docs/etcd-settings.md}. Build with {@link #builder(String...)}.
 *
 * @param endpoints          client URLs of the etcd members, {@code http://host:port} or {@code https://host:port};
 *                           tried in order, failing over to the next on connection errors
 * @param user               etcd user for {@code /v3/auth/authenticate}, or null when etcd runs without auth
 * @param password           that user's password (never logged); null exactly when {@code user} is null
 * @param trustStore         with https: a key store (PKCS12 or JKS) of the CA certificates to trust; null = the JVM's
 *                           default trust
 * @param trustStorePassword the trust store's password, or null
 * @param keyStore           with https: a key store holding the client certificate and key (etcd's
 *                           {@code --client-cert-auth}); null = no client certificate
 * @param keyStorePassword   the key store's password (also used for the key), or null
 * @param keepaliveInterval  how often the lease is kept alive in the background; null = ttl / 3
 * @param apiPrefix          the gateway prefix, {@code /v3} (etcd 3.4+) or {@code /v3beta} (3.3); null = ask
 *                           {@code /version} on first use
 */
public record EtcdSettings(
        List<URI> endpoints, String user, String password, Path trustStore, String trustStorePassword,
        Path keyStore, String keyStorePassword, Duration keepaliveInterval, String apiPrefix) {

    /** Shortest background keepalive interval accepted; below it the keepalives would only load etcd. */
    static final Duration MIN_KEEPALIVE_INTERVAL = Duration.ofMillis(100);

    public EtcdSettings {
        Objects.requireNonNull(endpoints, "etcd endpoints");
        if (endpoints.isEmpty()) {
            throw new IllegalArgumentException("etcd endpoints must name at least one etcd member "
                    + "(e.g. http://etcd1:2379)");
        }
        List<URI> checked = new ArrayList<>();
        for (URI u : endpoints) {
            checked.add(validateEndpoint(Objects.requireNonNull(u, "etcd endpoint").toString()));
        }
        endpoints = List.copyOf(checked);
        String scheme = endpoints.get(0).getScheme();
        for (URI u : endpoints) {
            if (!u.getScheme().equals(scheme)) {
                throw new IllegalArgumentException("etcd endpoints must all use the same scheme (got " + endpoints
                        + "): a cluster is either served over https or over http");
            }
        }
        boolean https = scheme.equals("https");
        if (user != null || password != null) {
            if (user == null || user.isBlank()) {
                throw new IllegalArgumentException("etcd user must not be empty when a password is set");
            }
            if (password == null) {
                throw new IllegalArgumentException("etcd password must be set with user '" + user + "'");
            }
        }
        if (trustStore != null && !https) {
            throw new IllegalArgumentException("etcd trustStore is set but no endpoint uses https (" + endpoints + ")");
        }
        if (keyStore != null && !https) {
            throw new IllegalArgumentException("etcd keyStore (client certificate) is set but no endpoint uses https ("
                    + endpoints + ")");
        }
        if (trustStore == null && trustStorePassword != null) {
            throw new IllegalArgumentException("etcd trustStorePassword is set without a trustStore");
        }
        if (keyStore == null && keyStorePassword != null) {
            throw new IllegalArgumentException("etcd keyStorePassword is set without a keyStore");
        }
        requireReadable("trustStore", trustStore);
        requireReadable("keyStore", keyStore);
        if (keepaliveInterval != null) {
            requireAtLeast("keepaliveInterval", keepaliveInterval, MIN_KEEPALIVE_INTERVAL);
        }
        if (apiPrefix != null && !apiPrefix.equals("/v3") && !apiPrefix.equals("/v3beta")) {
            throw new IllegalArgumentException("etcd apiPrefix must be /v3 (etcd 3.4 and later) or /v3beta (etcd 3.3),"
                    + " or unset to ask /version (got '" + apiPrefix + "')");
        }
    }

    /** A builder for these endpoints, e.g. {@code builder("http://etcd1:2379", "http://etcd2:2379")}. */
    public static Builder builder(String... endpoints) {
        return new Builder(List.of(endpoints));
    }

    /** A builder for these endpoints. */
    public static Builder builder(List<String> endpoints) {
        return new Builder(endpoints);
    }

    /** Whether the endpoints are https. */
    public boolean https() {
        return endpoints.get(0).getScheme().equals("https");
    }

    /** The lease TTL requested for {@code context}: the member's ttl in whole seconds (etcd's lease unit). */
    public long leaseTtlSecondsFor(DcsContext context) {
        Duration ttl = context.ttl();
        long seconds = ttl.getSeconds();
        if (seconds < 1) {
            throw new IllegalArgumentException("ttl must be at least 1 s for etcd (its lease TTL is whole seconds; got "
                    + ttl.toMillis() + " ms)");
        }
        if (context.retryTimeout().compareTo(Duration.ofSeconds(seconds)) >= 0) {
            throw new IllegalArgumentException("retryTimeout (" + context.retryTimeout().toMillis()
                    + " ms) must be shorter than the etcd lease TTL (" + seconds
                    + " s, from ttl): a leader must be able to renew within its lease");
        }
        return seconds;
    }

    /** The background keepalive interval for {@code context}: the setting, or ttl / 3; always shorter than the ttl. */
    public Duration keepaliveIntervalFor(DcsContext context) {
        Duration ttl = Duration.ofSeconds(leaseTtlSecondsFor(context));
        Duration d = keepaliveInterval != null ? keepaliveInterval : ttl.dividedBy(3);
        if (d.compareTo(MIN_KEEPALIVE_INTERVAL) < 0) {
            d = MIN_KEEPALIVE_INTERVAL;
        }
        if (d.multipliedBy(2).compareTo(ttl) > 0) {
            throw new IllegalArgumentException("etcd keepaliveInterval (" + d.toMillis() + " ms) must be at most half "
                    + "the lease TTL (" + ttl.toSeconds() + " s, from ttl), so one lost keepalive does not end the "
                    + "lease");
        }
        return d;
    }

    /** The TLS context for https endpoints, from the trust and key stores; null for http. */
    SSLContext sslContext() {
        if (!https()) {
            return null;
        }
        try {
            TrustManagerFactory tmf = null;
            if (trustStore != null) {
                KeyStore ts = load("trustStore", trustStore, trustStorePassword);
                tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ts);
            }
            KeyManagerFactory kmf = null;
            if (keyStore != null) {
                KeyStore ks = load("keyStore", keyStore, keyStorePassword);
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(ks, keyStorePassword == null ? new char[0] : keyStorePassword.toCharArray());
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("etcd TLS settings cannot be used: " + e.getMessage(), e);
        }
    }

    private static KeyStore load(String setting, Path file, String password) {
        try {
            // The type (PKCS12 or JKS) is detected from the file.
            return KeyStore.getInstance(file.toFile(), password == null ? null : password.toCharArray());
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("etcd " + setting + " " + file + " cannot be loaded (wrong password or "
                    + "not a PKCS12/JKS key store): " + e.getMessage(), e);
        }
    }

    private static void requireReadable(String setting, Path file) {
        if (file != null && !Files.isReadable(file)) {
            throw new IllegalArgumentException("etcd " + setting + " " + file + " does not exist or is not readable");
        }
    }

    private static void requireAtLeast(String setting, Duration d, Duration min) {
        if (d.compareTo(min) < 0) {
            throw new IllegalArgumentException("etcd " + setting + " must be at least " + min.toMillis() + " ms (got "
                    + d.toMillis() + " ms)");
        }
    }

    /**
     * Parses one endpoint: {@code http://host:port}, {@code https://host:port} or {@code host:port} (http). A missing
     * port means 2379, etcd's client port. Paths, queries and user info are refused: the adapter adds the API path.
     */
    static URI validateEndpoint(String endpoint) {
        Objects.requireNonNull(endpoint, "etcd endpoint");
        String s = endpoint.trim();
        if (s.isEmpty()) {
            throw new IllegalArgumentException("etcd endpoint must not be empty (expected http://host:port)");
        }
        if (!s.contains("://")) {
            s = "http://" + s;
        }
        URI u;
        try {
            u = new URI(s);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("etcd endpoint '" + endpoint + "' is not a URL (expected "
                    + "http://host:port): " + e.getMessage(), e);
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(java.util.Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException("etcd endpoint '" + endpoint + "' must use http or https (got '"
                    + u.getScheme() + "')");
        }
        if (u.getHost() == null || u.getHost().isEmpty()) {
            throw new IllegalArgumentException("etcd endpoint '" + endpoint + "' has no host (expected "
                    + scheme + "://host:port)");
        }
        if (u.getRawUserInfo() != null) {
            throw new IllegalArgumentException("etcd endpoint '" + endpoint + "' must not carry credentials: use the "
                    + "user and password settings");
        }
        if ((u.getRawPath() != null && !u.getRawPath().isEmpty() && !u.getRawPath().equals("/"))
                || u.getRawQuery() != null || u.getRawFragment() != null) {
            throw new IllegalArgumentException("etcd endpoint '" + endpoint + "' must be scheme://host:port without a "
                    + "path or query (the API prefix is added by the adapter)");
        }
        int port = u.getPort() == -1 ? 2379 : u.getPort();
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("etcd endpoint '" + endpoint + "': port must be 1 to 65535");
        }
        return URI.create(scheme + "://" + (u.getHost().contains(":") && !u.getHost().startsWith("[")
                ? "[" + u.getHost() + "]" : u.getHost()) + ":" + port);
    }

    @Override
    public String toString() {
        return "EtcdSettings[endpoints=" + endpoints + ", user=" + user
                + (password == null ? "" : ", password=***")
                + (trustStore == null ? "" : ", trustStore=" + trustStore)
                + (keyStore == null ? "" : ", keyStore=" + keyStore)
                + ", keepaliveInterval=" + (keepaliveInterval == null ? "ttl/3" : keepaliveInterval)
                + ", apiPrefix=" + (apiPrefix == null ? "detect" : apiPrefix) + "]";
    }

    /** Fluent builder; every setter checks its value at once, {@link #build()} checks the combination. */
    public static final class Builder {
        private final List<URI> endpoints = new ArrayList<>();
        private String user;
        private String password;
        private Path trustStore;
        private String trustStorePassword;
        private Path keyStore;
        private String keyStorePassword;
        private Duration keepaliveInterval;
        private String apiPrefix;

        private Builder(List<String> endpoints) {
            Objects.requireNonNull(endpoints, "etcd endpoints");
            for (String e : endpoints) {
                // A comma-separated list is accepted too, as Patroni's "hosts" setting is.
                for (String part : Objects.requireNonNull(e, "etcd endpoint").split(",", -1)) {
                    this.endpoints.add(validateEndpoint(part));
                }
            }
            if (this.endpoints.isEmpty()) {
                throw new IllegalArgumentException("etcd endpoints must name at least one etcd member "
                        + "(e.g. http://etcd1:2379)");
            }
        }

        /** Authenticates as {@code user} ({@code /v3/auth/authenticate}); the token is renewed when etcd rejects it. */
        public Builder auth(String user, String password) {
            Objects.requireNonNull(user, "etcd user");
            Objects.requireNonNull(password, "etcd password");
            if (user.isBlank()) {
                throw new IllegalArgumentException("etcd user must not be empty");
            }
            this.user = user;
            this.password = password;
            return this;
        }

        /** Trusts the CA certificates in this key store (PKCS12 or JKS) for https endpoints. */
        public Builder trustStore(Path file, String password) {
            requireReadable("trustStore", Objects.requireNonNull(file, "etcd trustStore"));
            this.trustStore = file;
            this.trustStorePassword = password;
            return this;
        }

        /** Presents the certificate and key in this key store (PKCS12 or JKS) to etcd. */
        public Builder keyStore(Path file, String password) {
            requireReadable("keyStore", Objects.requireNonNull(file, "etcd keyStore"));
            this.keyStore = file;
            this.keyStorePassword = password;
            return this;
        }

        /** Keeps the lease alive this often in the background instead of every ttl / 3. */
        public Builder keepaliveInterval(Duration v) {
            requireAtLeast("keepaliveInterval", Objects.requireNonNull(v, "etcd keepaliveInterval"),
                    MIN_KEEPALIVE_INTERVAL);
            this.keepaliveInterval = v;
            return this;
        }

        /** Uses this gateway prefix instead of asking {@code /version}: {@code /v3} or {@code /v3beta}. */
        public Builder apiPrefix(String v) {
            this.apiPrefix = Objects.requireNonNull(v, "etcd apiPrefix");
            return this;
        }

        public EtcdSettings build() {
            EtcdSettings s = new EtcdSettings(endpoints, user, password, trustStore, trustStorePassword, keyStore,
                    keyStorePassword, keepaliveInterval, apiPrefix);
            // Wrong store passwords fail here, at startup, not on the first request.
            s.sslContext();
            return s;
        }
    }
}
