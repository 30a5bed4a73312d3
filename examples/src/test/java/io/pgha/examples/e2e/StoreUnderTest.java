package io.pgha.examples.e2e;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.KeyLayout;
import io.pgha.core.config.ConfigSection;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsContext;
import io.pgha.core.spi.DcsProviders;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.time.SystemHaClock;
import java.time.Duration;
import java.util.Map;

/**
 * A real DCS server the members of one {@link E2eCluster} share, with the HA timings that suit it. Members never
 * talk to it directly: each one's connection goes through its own {@link io.pgha.core.testkit.TcpProxy}, so a test
 * can cut exactly that member off. The test itself reads the store straight, through {@link #read}.
 */
abstract class StoreUnderTest implements AutoCloseable {

    /** The dynamic settings of {@code bootstrap.dcs}. */
    record Timings(Duration ttl, Duration loopWait, Duration retryTimeout) {
        /** How long a dead leader's key can survive, plus one cycle for a replica to notice and promote. */
        Duration failoverBound(Duration slack) {
            return ttl.plus(loopWait).plus(slack);
        }
    }

    /**
     * For a store whose lease lasts the whole ttl (a ZooKeeper session, an etcd lease): loop_wait + 2*retry_timeout =
     * 7 s fits inside the 10 s.
     */
    static final Timings LEASE_OF_TTL = new Timings(Duration.ofSeconds(10), Duration.ofSeconds(1),
            Duration.ofSeconds(3));

    private Dcs observer;

    /** The section name in the member YAML: {@code zookeeper}, {@code etcd3}, {@code consul}. */
    abstract String section();

    abstract Timings timings();

    /** host:port of the real server (the proxies forward there); every server of the suite is on loopback. */
    String host() {
        return "127.0.0.1";
    }

    abstract int port();

    /** The YAML store section for a member whose connection goes to {@code endpoint} (host:port, its proxy). */
    abstract Map<String, Object> memberSection(String endpoint);

    /** Stops the server and removes its files. */
    abstract void stopServer();

    /**
     * Stops the server process but keeps its data, for a store outage that {@link #restartAfterOutage()} ends; the
     * members and the observer see an unreachable store. A store that cannot do this says so.
     */
    void stopForOutage() {
        throw new UnsupportedOperationException(section() + " cannot be stopped and restarted by this harness");
    }

    /** Starts the server stopped by {@link #stopForOutage()} again, on the same data and port, and waits for it. */
    void restartAfterOutage() throws Exception {
        throw new UnsupportedOperationException(section() + " cannot be stopped and restarted by this harness");
    }

    /** Reads the cluster's keys straight from the server (no proxy): what the store really holds now. */
    final synchronized ClusterView read(String scope) throws DcsUnavailableException {
        if (observer == null) {
            observer = openReadOnly(scope, "e2e-observer");
        }
        return observer.read();
    }

    /**
     * A client of the real server (no proxy) that the caller only reads and watches through, and closes: the adapters
     * create a lease only on the first write. The routing DataSource of the issue 10 scenarios follows the cluster
     * through one.
     */
    final Dcs openReadOnly(String scope, String clientName) {
        ConfigSection s = new ConfigSection(section(), memberSection(host() + ":" + port()));
        Timings t = timings();
        return DcsProviders.fromConfig(section(), s).open(new DcsContext(
                new KeyLayout(KeyLayout.DEFAULT_NAMESPACE, scope), clientName, t.ttl(), t.retryTimeout(),
                SystemHaClock.INSTANCE));
    }

    /** The store's contents for a failure report; never throws. */
    final String dump(String scope) {
        try {
            ClusterView v = read(scope);
            StringBuilder b = new StringBuilder();
            b.append("  initialize: ").append(v.initialize()).append('\n');
            b.append("  leader:     ").append(v.leader()).append('\n');
            b.append("  config:     ").append(v.config()).append('\n');
            b.append("  failover:   ").append(v.failover()).append('\n');
            b.append("  status:     ").append(v.status()).append('\n');
            b.append("  history:    ").append(v.history()).append('\n');
            v.members().values().forEach(m -> b.append("  member:     ").append(m).append('\n'));
            v.problems().forEach(p -> b.append("  problem:    ").append(p).append('\n'));
            return b.toString();
        } catch (DcsUnavailableException | RuntimeException e) {
            return "  (cannot read the store: " + e + ")\n";
        }
    }

    @Override
    public final void close() {
        synchronized (this) {
            if (observer != null) {
                try {
                    observer.close();
                } catch (RuntimeException e) {
                    // The server may already be gone; nothing else holds this session.
                }
                observer = null;
            }
        }
        stopServer();
    }

    @Override
    public String toString() {
        return section() + " at " + host() + ":" + port();
    }
}
