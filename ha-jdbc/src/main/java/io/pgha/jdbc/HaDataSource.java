package io.pgha.jdbc;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * A {@link DataSource} that always hands out connections to the current leader of a pgha (or Patroni) cluster, in
 * place of a static JDBC URL.
 *
 * <pre>{@code
 * HaDataSource ds = HaDataSource.builder()
 *         .dcs(ZooKeeperDcs.connect("zk1:2181,zk2:2181,zk3:2181"), "orders")
 *         .database("app").user("app").password(secret)
 *         .hikari(h -> h.setMaximumPoolSize(20))
 *         .build();
 * }</pre>
 *
 * <p>It follows the leader key (pushed by the store's watch, or by an embedded member's status) and keeps one
 * HikariCP pool per member. A borrow waits up to {@code leaderWait} for a writable leader and retries failed attempts
 * itself; the connections are Hikari's own, so statements run at the driver's speed. See {@link FailoverErrors} for
 * what an application sees when a failover hits a transaction.
 */
public final class HaDataSource extends DataSourceBase implements AutoCloseable {

    private final Router router;
    private final TargetRole role;
    /** False for a {@link #withRole} view, which must not close the pools it shares. */
    private final boolean owner;
    /** Null: connections are Hikari's own; else each is a {@link RoutingConnection} with these options. */
    private final RoutingConnection.Options routing;

    HaDataSource(Router router, TargetRole role, boolean owner, RoutingConnection.Options routing) {
        this.router = router;
        this.role = role;
        this.owner = owner;
        this.routing = routing;
    }

    public static HaDataSourceBuilder builder() {
        return new HaDataSourceBuilder();
    }

    /**
     * A connection to a member of the configured role: the leader for {@link TargetRole#PRIMARY}.
     *
     * @throws SQLException with SQLState {@value FailoverErrors#NO_LEADER} when no writable leader answered within
     *                      {@code leaderWait}; the message names the scope, the store and why
     */
    @Override
    public Connection getConnection() throws SQLException {
        if (routing != null) {
            return RoutingConnection.open(router, role, routing, null);
        }
        return router.connection(role);
    }

    /**
     * A view in which a connection set read-only before its first statement reads from a replica that has replayed
     * this session's writes (see {@link ReadYourWritesSession}). Closing this DataSource ends every session.
     */
    public ReadYourWritesSession readYourWrites() {
        return new ReadYourWritesSession(router, routing == null
                ? new RoutingConnection.Options(true, false, router.autoCommitDefault()) : routing);
    }

    /**
     * A DataSource sharing this one's pools and topology, handing out connections of another role (e.g. a
     * {@link TargetRole#REPLICA} view for read-only work). Closing the view does nothing; close this one.
     */
    public DataSource withRole(TargetRole other) {
        Objects.requireNonNull(other, "role");
        return new HaDataSource(router, other, false, routing);
    }

    /** The routing picture now (for the driver's fencing of connections an outer pool keeps). */
    Topology topology() {
        return router.topology();
    }

    /** The pools open now, for tests in this package. */
    java.util.List<MemberPools.Key> poolKeys() {
        return router.poolKeys();
    }

    /** A connection of this DataSource's role, with the snapshot it was chosen under. */
    Router.Borrowed borrow() throws SQLException {
        return router.borrow(role);
    }

    /** The member writes go to now, as last learned; empty without a leader. */
    public Optional<String> leader() {
        return Optional.ofNullable(router.topology().leader());
    }

    /** The epoch of the leader key writes are routed by; 0 without a leader. */
    public long epoch() {
        return router.topology().epoch();
    }

    /**
     * Whether the last read of the topology source succeeded. While it is false the DataSource keeps routing to the
     * last known leader, for as long as that server verifies as a writable primary.
     */
    public boolean storeReachable() {
        return router.topology().storeReachable();
    }

    /** Closes every pool (connections still borrowed are closed by Hikari) and stops following the cluster. */
    @Override
    public void close() {
        if (owner) {
            router.close();
        }
    }

    @Override
    public String toString() {
        return "HaDataSource[" + router.describeSource() + ", role " + role + "]";
    }
}
