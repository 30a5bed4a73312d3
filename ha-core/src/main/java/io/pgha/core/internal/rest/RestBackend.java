package io.pgha.core.internal.rest;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.Member;
import io.pgha.core.internal.ha.PeerStatus;
import io.pgha.core.spi.DcsUnavailableException;
import java.util.Collection;
import java.util.Map;

/**
 * Everything the REST API reads and changes, behind one port: {@link HaLoopBackend} implements it over the HA loop,
 * the DCS and PostgreSQL; tests may implement it with plain values.
 *
 * <p>Implementations are called from the API's request threads, concurrently. None of these methods may block the
 * HA loop: they read what the loop publishes and call the DCS and PostgreSQL themselves.
 */
public interface RestBackend {

    /** This member now. Cheap enough to take once per request (one PostgreSQL probe). */
    NodeSnapshot snapshot();

    /** A fresh read of the whole cluster from the DCS. */
    ClusterView readCluster() throws DcsUnavailableException;

    /** Compare-and-set of the {@code config} key; {@link io.pgha.core.spi.Dcs#ANY_VERSION} replaces it. */
    boolean writeConfig(GlobalConfig config, long expectedVersion) throws DcsUnavailableException;

    /** Compare-and-set of the {@code failover} key. */
    boolean writeFailover(FailoverRequest request, long expectedVersion) throws DcsUnavailableException;

    /** Compare-and-set delete of the {@code failover} key. */
    boolean clearFailover(long expectedVersion) throws DcsUnavailableException;

    /**
     * Throws {@link IllegalArgumentException}, with a message naming the setting, if this member would have to
     * ignore {@code config} (e.g. {@code loop_wait + 2*retry_timeout > ttl}).
     */
    void checkConfig(GlobalConfig config);

    /** Asks these members for their status in parallel (this member answers from its own snapshot). */
    Map<String, PeerStatus> peerStatuses(Collection<Member> members);

    /** Runs an HA cycle soon (after a change to the DCS made through the API). */
    void wakeup();

    /** A primary told us it still runs (failsafe mode, {@code POST /failsafe}). */
    void failsafePing(String primary);
}
