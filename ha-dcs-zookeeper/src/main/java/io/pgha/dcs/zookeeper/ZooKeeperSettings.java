package io.pgha.dcs.zookeeper;

import io.pgha.core.config.Durations;
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
 * @param tickTime          the servers' {@code tickTime} as their zoo.cfg declares it (ZooKeeper's sample config:
 *                          2000 ms); with {@code syncLimit} it bounds how early a session can expire
 * @param syncLimit         the servers' {@code syncLimit} in ticks (ZooKeeper's sample config: 5); ignored when
 *                          {@code standalone}
 * @param standalone        the connect string names one standalone server (no ensemble, no followers)
 */
public record ZooKeeperSettings(
        String connectString, Duration sessionTimeout, Duration connectionTimeout, DigestAuth auth,
        boolean worldReadable, Duration tickTime, int syncLimit, boolean standalone) {

    /** zoo_sample.cfg's {@code tickTime}, which Debian's and most installations' zoo.cfg keep. */
    public static final Duration DEFAULT_TICK_TIME = Duration.ofMillis(2000);
    /** zoo_sample.cfg's {@code syncLimit}. */
    public static final int DEFAULT_SYNC_LIMIT = 5;

    public ZooKeeperSettings {
        connectString = validateConnectString(connectString);
        if (sessionTimeout != null) {
            requireMillis("sessionTimeout", sessionTimeout);
        }
        if (connectionTimeout != null) {
            requireMillis("connectionTimeout", connectionTimeout);
        }
        requireMillis("tickTime", Objects.requireNonNull(tickTime, "tickTime"));
        requireSyncLimit(syncLimit);
    }

    public static Builder builder(String connectString) {
        return new Builder(connectString);
    }

    /**
     * The session timeout requested for {@code context}: the override, or the member's ttl. The lease it gives
     * (docs/decisions 0203) must be longer than the member's retryTimeout, or a renewal could end after
     * the lease it renewed.
     */
    public Duration sessionTimeoutFor(DcsContext context) {
        Duration d = sessionTimeout != null ? sessionTimeout : context.ttl();
        requireMillis(sessionTimeout != null ? "sessionTimeout" : "ttl", d);
        SessionExpiryBound bound = bound(d);
        if (bound.guarantee().compareTo(context.retryTimeout()) <= 0) {
            throw new IllegalArgumentException("ZooKeeper lease guarantee " + bound.explain() + ", with the session "
                    + "timeout " + (sessionTimeout != null ? "from sessionTimeout" : "from ttl")
                    + ", must be longer than retryTimeout (" + Durations.format(context.retryTimeout())
                    + "): a leader must be able to renew within its lease. Raise the session timeout (the ttl, or "
                    + "sessionTimeout within the servers' maxSessionTimeout)"
                    + (standalone ? "" : ", or lower the servers' tickTime and syncLimit and declare them here")
                    + " (docs/zookeeper-settings.md)");
        }
        return d;
    }

    /** The lease a session of {@code grantedSessionTimeout} gives on the servers these settings describe. */
    SessionExpiryBound bound(Duration grantedSessionTimeout) {
        return new SessionExpiryBound(grantedSessionTimeout, standalone, tickTime, syncLimit);
    }

    /** The connection timeout for {@code context}: the override, or the member's retryTimeout. */
    public Duration connectionTimeoutFor(DcsContext context) {
        Duration d = connectionTimeout != null ? connectionTimeout : context.retryTimeout();
        requireMillis(connectionTimeout != null ? "connectionTimeout" : "retryTimeout", d);
        return d;
    }

    private static void requireSyncLimit(int v) {
        if (v < 1) {
            throw new IllegalArgumentException("ZooKeeper syncLimit must be at least 1 tick, as in the servers' zoo.cfg"
                    + " (got " + v + ")");
        }
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
                + ", worldReadable=" + worldReadable + ", servers="
                + (standalone ? "standalone" : "ensemble(tickTime=" + Durations.format(tickTime) + ", syncLimit="
                        + syncLimit + ")") + "]";
    }

    /** Fluent builder; every setter checks its value at once. */
    public static final class Builder {
        private final String connectString;
        private Duration sessionTimeout;
        private Duration connectionTimeout;
        private DigestAuth auth;
        private boolean worldReadable = true;
        private Duration tickTime = DEFAULT_TICK_TIME;
        private Integer syncLimit;
        private boolean standalone;

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

        /**
         * The servers' {@code tickTime}, as their zoo.cfg says (default 2000 ms). The client
         * cannot read it from the servers, and a value shorter than the real one overstates the lease.
         */
        public Builder tickTime(Duration v) {
            requireMillis("tickTime", Objects.requireNonNull(v, "tickTime"));
            tickTime = v;
            return this;
        }

        /** The servers' {@code syncLimit} in ticks, as their zoo.cfg says (default 5). */
        public Builder syncLimit(int v) {
            requireSyncLimit(v);
            syncLimit = v;
            return this;
        }

        /**
         * The connect string names one standalone ZooKeeper server (no {@code server.N} lines in its zoo.cfg). Never
         * declare it for an ensemble: its followers' delay would then be missing from the lease.
         */
        public Builder standalone() {
            standalone = true;
            return this;
        }

        public ZooKeeperSettings build() {
            if (standalone && syncLimit != null) {
                throw new IllegalArgumentException("ZooKeeper standalone and syncLimit " + syncLimit + " contradict "
                        + "each other: a standalone server has no followers to sync (declare one or the other)");
            }
            return new ZooKeeperSettings(connectString, sessionTimeout, connectionTimeout, auth, worldReadable,
                    tickTime, syncLimit == null ? DEFAULT_SYNC_LIMIT : syncLimit, standalone);
        }
    }
}
