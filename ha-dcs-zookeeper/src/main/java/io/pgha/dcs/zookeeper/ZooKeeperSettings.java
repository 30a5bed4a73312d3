package io.pgha.dcs.zookeeper;

import io.pgha.core.spi.DcsContext;
import java.time.Duration;
import java.util.Objects;

/**
 * Options of the ZooKeeper adapter; see {@code docs/zookeeper-settings.md}. Build with {@link #builder(String)}.
 *
 * @param connectString     ZooKeeper's {@code host:port[,host:port...][/chroot]}
 * @param sessionTimeout    the session timeout to request; null = the member's {@code ttl} (Patroni's rule). The
 *                          server may grant a different one; the granted value bounds the leader lease
 * @param connectionTimeout how long Curator waits for a connection before an operation fails, and the longest the
 *                          first call waits for the initial connection; null = the member's {@code retryTimeout}
 * @param auth              digest credentials, or null for an unauthenticated client creating open keys
 * @param worldReadable     with {@code auth}: unauthenticated clients may still read the keys (never write them)
 */
public record ZooKeeperSettings(
        String connectString, Duration sessionTimeout, Duration connectionTimeout, DigestAuth auth,
        boolean worldReadable) {

    public ZooKeeperSettings {
        connectString = validateConnectString(connectString);
        if (sessionTimeout != null) {
            requireMillis("sessionTimeout", sessionTimeout);
        }
        if (connectionTimeout != null) {
            requireMillis("connectionTimeout", connectionTimeout);
        }
    }

    public static Builder builder(String connectString) {
        return new Builder(connectString);
    }

    /** The session timeout requested for {@code context}: the override, or the member's ttl. */
    public Duration sessionTimeoutFor(DcsContext context) {
        Duration d = sessionTimeout != null ? sessionTimeout : context.ttl();
        requireMillis(sessionTimeout != null ? "sessionTimeout" : "ttl", d);
        if (d.compareTo(context.retryTimeout()) <= 0) {
            throw new IllegalArgumentException("ZooKeeper session timeout (" + d.toMillis() + " ms"
                    + (sessionTimeout != null ? ", from sessionTimeout" : ", from ttl")
                    + ") must be longer than retryTimeout (" + context.retryTimeout().toMillis()
                    + " ms): a leader must be able to renew within its session");
        }
        return d;
    }

    /** The connection timeout for {@code context}: the override, or the member's retryTimeout. */
    public Duration connectionTimeoutFor(DcsContext context) {
        Duration d = connectionTimeout != null ? connectionTimeout : context.retryTimeout();
        requireMillis(connectionTimeout != null ? "connectionTimeout" : "retryTimeout", d);
        return d;
    }

    private static void requireMillis(String name, Duration d) {
        if (d.isNegative() || d.isZero() || d.toMillis() < 1) {
            throw new IllegalArgumentException("ZooKeeper " + name + " must be at least 1 ms (got " + d + ")");
        }
        if (d.toMillis() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(
                    "ZooKeeper " + name + " must fit in an int of milliseconds (got " + d + ")");
        }
    }

    /** Checks the host list early, so a typo fails at startup rather than as an endless reconnect loop. */
    static String validateConnectString(String connectString) {
        Objects.requireNonNull(connectString, "ZooKeeper connectString");
        String s = connectString.trim();
        if (s.isEmpty()) {
            throw new IllegalArgumentException("ZooKeeper connectString must not be empty (expected host:port[,host:port...])");
        }
        String hosts = s;
        int slash = s.indexOf('/');
        if (slash >= 0) {
            hosts = s.substring(0, slash);
            String chroot = s.substring(slash);
            if (chroot.length() > 1 && (chroot.endsWith("/") || chroot.contains("//"))) {
                throw new IllegalArgumentException("ZooKeeper connectString chroot '" + chroot
                        + "' must be an absolute path without a trailing or doubled '/'");
            }
        }
        for (String hp : hosts.split(",", -1)) {
            String h = hp.trim();
            int colon = h.lastIndexOf(':');
            if (h.isEmpty() || colon <= 0 || colon == h.length() - 1) {
                throw new IllegalArgumentException("ZooKeeper connectString '" + s + "': '" + h
                        + "' is not host:port (expected host:port[,host:port...][/chroot])");
            }
            String port = h.substring(colon + 1);
            int p;
            try {
                p = Integer.parseInt(port);
            } catch (NumberFormatException e) {
                p = -1;
            }
            if (p < 1 || p > 65535) {
                throw new IllegalArgumentException("ZooKeeper connectString '" + s + "': port '" + port + "' of '" + h
                        + "' must be a number from 1 to 65535");
            }
        }
        return s;
    }

    @Override
    public String toString() {
        return "ZooKeeperSettings[connectString=" + connectString + ", sessionTimeout="
                + (sessionTimeout == null ? "ttl" : sessionTimeout) + ", connectionTimeout="
                + (connectionTimeout == null ? "retryTimeout" : connectionTimeout) + ", auth=" + auth
                + ", worldReadable=" + worldReadable + "]";
    }

    /** Fluent builder; every setter checks its value at once. */
    public static final class Builder {
        private final String connectString;
        private Duration sessionTimeout;
        private Duration connectionTimeout;
        private DigestAuth auth;
        private boolean worldReadable = true;

        private Builder(String connectString) {
            this.connectString = validateConnectString(connectString);
        }

        /** Requests this session timeout instead of the member's ttl. */
        public Builder sessionTimeout(Duration v) {
            requireMillis("sessionTimeout", Objects.requireNonNull(v, "sessionTimeout"));
            sessionTimeout = v;
            return this;
        }

        public Builder connectionTimeout(Duration v) {
            requireMillis("connectionTimeout", Objects.requireNonNull(v, "connectionTimeout"));
            connectionTimeout = v;
            return this;
        }

        /** Authenticates with {@code digest} and creates every key writable only by this identity. */
        public Builder digestAuth(String user, String password) {
            auth = new DigestAuth(user, password);
            return this;
        }

        /** Same as {@link #digestAuth(String, String)} from ZooKeeper's {@code user:password} form. */
        public Builder digestAuth(String userColonPassword) {
            auth = DigestAuth.parse(userColonPassword);
            return this;
        }

        /** With digest auth: whether unauthenticated clients may read the keys (default true). */
        public Builder worldReadable(boolean v) {
            worldReadable = v;
            return this;
        }

        public ZooKeeperSettings build() {
            return new ZooKeeperSettings(connectString, sessionTimeout, connectionTimeout, auth, worldReadable);
        }
    }
}
