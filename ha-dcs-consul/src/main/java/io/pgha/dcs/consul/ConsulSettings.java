package io.pgha.dcs.consul;

import io.pgha.core.spi.DcsContext;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Options of the Consul adapter; see {@code docs/consul-settings.md}. Build with {@link #builder(String...)}.
 *
 * @param agents         Consul HTTP API addresses, tried in order; the next one is used when one refuses connections
 * @param token          ACL token sent as {@code X-Consul-Token}, or null for none
 * @param datacenter     sent as {@code ?dc=} on every request, or null for the agent's own datacenter
 * @param consistency    the consistency mode of {@code read()} and of the leader checks
 * @param sslContext     TLS for {@code https} agents (custom trust store, client certificate), or null for the JDK
 *                       default
 * @param lockDelay      the session's {@code LockDelay}: how long Consul refuses to hand out a lock that an
 *                       invalidated session held (1 ms by default: effectively off, see docs/decisions 0403)
 * @param sessionTtlMin  the servers' {@code session_ttl_min} (Consul's default 10 s): the smallest session TTL they
 *                       accept, which sets the smallest usable {@code ttl} (twice this)
 * @param watchWait      the {@code wait} of the blocking query that watches the leader key
 * @param connectTimeout TCP/TLS connect timeout, or null for the member's {@code retryTimeout}; never longer than it
 */
public record ConsulSettings(
        List<URI> agents, String token, String datacenter, ConsulConsistency consistency, SSLContext sslContext,
        Duration lockDelay, Duration sessionTtlMin, Duration watchWait, Duration connectTimeout) {

    /** Consul's default {@code session_ttl_min}. */
    public static final Duration DEFAULT_SESSION_TTL_MIN = Duration.ofSeconds(10);
    /** Consul's largest session TTL ({@code SessionTTLMax}). */
    public static final Duration SESSION_TTL_MAX = Duration.ofSeconds(86_400);
    /** Consul caps lock delays at this value ({@code MaxLockDelay}). */
    public static final Duration LOCK_DELAY_MAX = Duration.ofSeconds(60);
    /** Consul's cap on a blocking query's {@code wait}. */
    public static final Duration WATCH_WAIT_MAX = Duration.ofMinutes(10);

    private static final Pattern DATACENTER = Pattern.compile("[A-Za-z0-9_.-]+");

    public ConsulSettings {
        Objects.requireNonNull(agents, "Consul agents");
        if (agents.isEmpty()) {
            throw new IllegalArgumentException("Consul agents must name at least one agent URL (e.g. "
                    + "http://127.0.0.1:8500)");
        }
        agents = List.copyOf(agents.stream().map(u -> parseAgent(u.toString())).toList());
        if (token != null) {
            token = validateToken(token);
        }
        if (datacenter != null && !DATACENTER.matcher(datacenter).matches()) {
            throw new IllegalArgumentException("Consul datacenter '" + datacenter
                    + "' must be letters, digits, '_', '-' or '.'");
        }
        Objects.requireNonNull(consistency, "Consul consistency");
        Objects.requireNonNull(lockDelay, "Consul lockDelay");
        if (lockDelay.compareTo(Duration.ofMillis(1)) < 0 || lockDelay.compareTo(LOCK_DELAY_MAX) > 0) {
            // Consul reads a LockDelay under 1000 ns as seconds and its documentation asks for more than 0; an omitted
            // one is 15 s. 1 ms is the smallest value that means what it says.
            throw new IllegalArgumentException("Consul lockDelay must be from 1 ms to 60 s (Consul caps it at 60 s; "
                    + "got " + lockDelay + ")");
        }
        Objects.requireNonNull(sessionTtlMin, "Consul sessionTtlMin");
        if (sessionTtlMin.compareTo(Duration.ofMillis(1)) < 0 || sessionTtlMin.compareTo(SESSION_TTL_MAX) > 0) {
            throw new IllegalArgumentException("Consul sessionTtlMin must be from 1 ms to 86400 s (got "
                    + sessionTtlMin + ")");
        }
        Objects.requireNonNull(watchWait, "Consul watchWait");
        if (watchWait.compareTo(Duration.ofSeconds(1)) < 0 || watchWait.compareTo(WATCH_WAIT_MAX) > 0) {
            throw new IllegalArgumentException("Consul watchWait must be from 1 s to 10 min (Consul's limit for a "
                    + "blocking query; got " + watchWait + ")");
        }
        if (connectTimeout != null && connectTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("Consul connectTimeout must be at least 1 ms (got " + connectTimeout
                    + ")");
        }
    }

    public static Builder builder(String... agentUrls) {
        return new Builder(Arrays.asList(agentUrls));
    }

    public static Builder builder(List<String> agentUrls) {
        return new Builder(agentUrls);
    }

    /**
     * The session TTL requested for {@code context}: half the member's ttl. Consul may keep a session alive for up
     * to twice its TTL after the last renewal, so asking for ttl/2 makes a dead member's keys vanish within the ttl.
     * Consul rejects TTLs below its {@code session_ttl_min}; hence the minimum ttl.
     */
    public Duration sessionTtlFor(DcsContext context) {
        Duration ttl = context.ttl();
        Duration half = ttl.dividedBy(2);
        if (half.compareTo(sessionTtlMin) < 0) {
            throw new IllegalArgumentException("ttl " + seconds(ttl) + " is too short for Consul: the adapter asks "
                    + "Consul for a session TTL of ttl/2, because Consul may keep a session up to twice its TTL, and "
                    + "Consul rejects session TTLs below its session_ttl_min (" + seconds(sessionTtlMin) + "), so ttl "
                    + "must be at least 2 x " + seconds(sessionTtlMin) + " = " + seconds(sessionTtlMin.multipliedBy(2))
                    + " (setting sessionTtlMin, only if the servers set session_ttl_min lower)");
        }
        if (half.compareTo(SESSION_TTL_MAX) > 0) {
            throw new IllegalArgumentException("ttl " + seconds(ttl) + " is too long for Consul: the session TTL "
                    + "(ttl/2) must be at most 86400 s");
        }
        if (half.compareTo(context.retryTimeout()) <= 0) {
            throw new IllegalArgumentException("Consul session TTL (ttl/2 = " + seconds(half) + ") must be longer "
                    + "than retryTimeout (" + seconds(context.retryTimeout()) + "): the lease a leader can count on "
                    + "after a renewal is ttl/2, so a renewal must be able to finish within it");
        }
        return half;
    }

    /** The connect timeout for {@code context}: the setting or the retryTimeout, whichever is shorter. */
    public Duration connectTimeoutFor(DcsContext context) {
        if (connectTimeout == null || connectTimeout.compareTo(context.retryTimeout()) > 0) {
            return context.retryTimeout();
        }
        return connectTimeout;
    }

    static String seconds(Duration d) {
        if (d.toMillis() % 1000 == 0) {
            return d.toSeconds() + " s";
        }
        return new java.math.BigDecimal(d.toMillis()).movePointLeft(3).stripTrailingZeros().toPlainString() + " s";
    }

    /** Accepts {@code http(s)://host[:port]} or a bare {@code host:port} (http); the port defaults to 8500/8501. */
    static URI parseAgent(String url) {
        Objects.requireNonNull(url, "Consul agent URL");
        String s = url.trim();
        if (s.isEmpty()) {
            throw new IllegalArgumentException("Consul agent URL must not be empty (e.g. http://127.0.0.1:8500)");
        }
        if (!s.contains("://")) {
            s = "http://" + s;
        }
        URI u;
        try {
            u = new URI(s);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("Consul agent URL '" + url + "' is not a URL: " + e.getMessage(), e);
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase();
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException("Consul agent URL '" + url + "' must use http or https");
        }
        if (u.getHost() == null || u.getHost().isEmpty()) {
            throw new IllegalArgumentException("Consul agent URL '" + url + "' has no host (expected "
                    + "http(s)://host:port)");
        }
        if (u.getRawUserInfo() != null || u.getRawQuery() != null || u.getRawFragment() != null
                || (u.getRawPath() != null && !u.getRawPath().isEmpty() && !u.getRawPath().equals("/"))) {
            throw new IllegalArgumentException("Consul agent URL '" + url + "' must be only scheme://host:port (the "
                    + "adapter adds /v1/...; the token goes in the token setting)");
        }
        int port = u.getPort();
        if (port == -1) {
            port = scheme.equals("https") ? 8501 : 8500;
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("Consul agent URL '" + url + "': port must be from 1 to 65535");
        }
        try {
            return new URI(scheme, null, u.getHost(), port, null, null, null);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("Consul agent URL '" + url + "': " + e.getMessage(), e);
        }
    }

    private static String validateToken(String token) {
        String t = token.trim();
        if (t.isEmpty()) {
            throw new IllegalArgumentException("Consul token must not be blank (leave it unset for no token)");
        }
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (c < 0x21 || c > 0x7e) {
                throw new IllegalArgumentException("Consul token must be printable ASCII without spaces (it is sent "
                        + "as the X-Consul-Token header)");
            }
        }
        return t;
    }

    @Override
    public String toString() {
        return "ConsulSettings[agents=" + agents + ", token=" + (token == null ? "none" : "****") + ", datacenter="
                + (datacenter == null ? "agent's" : datacenter) + ", consistency=" + consistency + ", tls="
                + (sslContext == null ? "default" : "custom") + ", lockDelay=" + lockDelay + ", sessionTtlMin="
                + sessionTtlMin + ", watchWait=" + watchWait + ", connectTimeout="
                + (connectTimeout == null ? "retryTimeout" : connectTimeout) + "]";
    }

    /** Fluent builder; every setter checks its value at once. */
    public static final class Builder {
        private final List<URI> agents = new ArrayList<>();
        private String token;
        private String datacenter;
        private ConsulConsistency consistency = ConsulConsistency.CONSISTENT;
        private SSLContext sslContext;
        private Path trustStore;
        private char[] trustStorePassword;
        private Path keyStore;
        private char[] keyStorePassword;
        private Duration lockDelay = Duration.ofMillis(1);
        private Duration sessionTtlMin = DEFAULT_SESSION_TTL_MIN;
        private Duration watchWait = Duration.ofSeconds(30);
        private Duration connectTimeout;

        private Builder(List<String> agentUrls) {
            Objects.requireNonNull(agentUrls, "Consul agent URLs");
            for (String u : agentUrls) {
                agents.add(parseAgent(u));
            }
            if (agents.isEmpty()) {
                throw new IllegalArgumentException("Consul agents must name at least one agent URL (e.g. "
                        + "http://127.0.0.1:8500)");
            }
        }

        /** The ACL token, sent as {@code X-Consul-Token}; needs {@code key:write} on the prefix and {@code session:write}. */
        public Builder token(String v) {
            token = validateToken(Objects.requireNonNull(v, "token"));
            return this;
        }

        public Builder datacenter(String v) {
            Objects.requireNonNull(v, "datacenter");
            if (!DATACENTER.matcher(v).matches()) {
                throw new IllegalArgumentException("Consul datacenter '" + v
                        + "' must be letters, digits, '_', '-' or '.'");
            }
            datacenter = v;
            return this;
        }

        public Builder consistency(ConsulConsistency v) {
            consistency = Objects.requireNonNull(v, "consistency");
            return this;
        }

        /** Trusts the certificates in this key store (PKCS12 or JKS) instead of the JDK's default CAs. */
        public Builder trustStore(Path file, char[] password) {
            trustStore = Objects.requireNonNull(file, "trustStore");
            trustStorePassword = password == null ? null : password.clone();
            return this;
        }

        /** Presents the key and certificate in this key store (PKCS12 or JKS) to agents that verify clients. */
        public Builder keyStore(Path file, char[] password) {
            keyStore = Objects.requireNonNull(file, "keyStore");
            keyStorePassword = password == null ? null : password.clone();
            return this;
        }

        /** A ready TLS context; excludes {@link #trustStore} and {@link #keyStore}. */
        public Builder sslContext(SSLContext v) {
            sslContext = Objects.requireNonNull(v, "sslContext");
            return this;
        }

        public Builder lockDelay(Duration v) {
            lockDelay = Objects.requireNonNull(v, "lockDelay");
            return this;
        }

        /** Only if the Consul servers set {@code session_ttl_min} below its 10 s default. */
        public Builder sessionTtlMin(Duration v) {
            sessionTtlMin = Objects.requireNonNull(v, "sessionTtlMin");
            return this;
        }

        public Builder watchWait(Duration v) {
            watchWait = Objects.requireNonNull(v, "watchWait");
            return this;
        }

        public Builder connectTimeout(Duration v) {
            connectTimeout = Objects.requireNonNull(v, "connectTimeout");
            return this;
        }

        public ConsulSettings build() {
            SSLContext tls = sslContext;
            if (trustStore != null || keyStore != null) {
                if (sslContext != null) {
                    throw new IllegalArgumentException("Consul sslContext excludes trustStore and keyStore: set "
                            + "either a ready SSLContext or the stores");
                }
                tls = buildSslContext();
            }
            return new ConsulSettings(agents, token, datacenter, consistency, tls, lockDelay, sessionTtlMin,
                    watchWait, connectTimeout);
        }

        private SSLContext buildSslContext() {
            try {
                TrustManagerFactory tmf = null;
                if (trustStore != null) {
                    tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                    tmf.init(load("trustStore", trustStore, trustStorePassword));
                }
                KeyManagerFactory kmf = null;
                if (keyStore != null) {
                    kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                    kmf.init(load("keyStore", keyStore, keyStorePassword),
                            keyStorePassword == null ? new char[0] : keyStorePassword);
                }
                SSLContext ctx = SSLContext.getInstance("TLS");
                ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
                return ctx;
            } catch (GeneralSecurityException e) {
                throw new IllegalArgumentException("Consul TLS settings: " + e.getMessage(), e);
            }
        }

        private static KeyStore load(String setting, Path file, char[] password) {
            if (!Files.isReadable(file)) {
                throw new IllegalArgumentException("Consul " + setting + " " + file + " is not a readable file");
            }
            // The default type (PKCS12) also reads JKS files.
            try (InputStream in = Files.newInputStream(file)) {
                KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
                ks.load(in, password);
                return ks;
            } catch (IOException | GeneralSecurityException e) {
                throw new IllegalArgumentException("Consul " + setting + " " + file + " cannot be loaded (wrong "
                        + "password or not a PKCS12/JKS key store): " + e.getMessage(), e);
            }
        }
    }
}
