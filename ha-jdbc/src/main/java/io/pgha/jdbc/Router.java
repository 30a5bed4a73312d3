package io.pgha.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.Durations;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a borrow into a connection from the right member's pool, by the latest {@link Topology}.
 *
 * <p>Epoch fencing (docs/decisions 0803): every decision is taken on one snapshot and carries its epoch. When the
 * leader or its epoch changes, the old leader's write pools are soft-evicted (idle connections closed now, borrowed
 * ones when returned) after the new snapshot is published; a write connection obtained under a snapshot that is no
 * longer current when the pool returns it is evicted and the borrow retried. Either way no connection borrowed under
 * an older epoch is handed out again.
 */
final class Router implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Router.class);
    /** Pause between attempts after a failed one when nothing changed (the source was asked to re-read). */
    private static final long RETRY_PAUSE_NANOS = Duration.ofMillis(50).toNanos();

    private final TopologySource source;
    private final MemberPools pools;
    private final Duration leaderWait;
    private final Duration drainWait;
    private final long maxLagBytes;
    private final RoutingMetrics metrics;
    private final PromotionGate gate;
    private final boolean autoCommitDefault;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final AtomicInteger roundRobin = new AtomicInteger();
    private volatile Topology topology = Topology.NOTHING_YET;
    private volatile boolean closed;

    Router(TopologySource source, MemberPools pools, Duration leaderWait, Duration drainWait, long maxLagBytes,
           RoutingMetrics metrics) {
        this(source, pools, leaderWait, drainWait, maxLagBytes, metrics, true);
    }

    /** @param autoCommitDefault the pools' autoCommit setting (Hikari's default: true) */
    Router(TopologySource source, MemberPools pools, Duration leaderWait, Duration drainWait, long maxLagBytes,
           RoutingMetrics metrics, boolean autoCommitDefault) {
        this.autoCommitDefault = autoCommitDefault;
        this.source = source;
        this.pools = pools;
        this.leaderWait = leaderWait;
        this.drainWait = drainWait;
        this.maxLagBytes = maxLagBytes;
        this.metrics = metrics;
        this.gate = new PromotionGate(pools::openProbe);
        metrics.bind(() -> topology);
    }

    void start() {
        source.start(this::apply);
    }

    Topology topology() {
        return topology;
    }

    RoutingMetrics metrics() {
        return metrics;
    }

    Duration leaderWait() {
        return leaderWait;
    }

    boolean autoCommitDefault() {
        return autoCommitDefault;
    }

    List<MemberPools.Key> poolKeys() {
        return pools.keys();
    }

    String describeSource() {
        return source.describe();
    }

    // ------------------------------------------------------------------------------------------------ topology

    /** Called on the source's thread, one snapshot at a time. */
    void apply(Topology next) {
        Topology prev;
        lock.lock();
        try {
            prev = topology;
            topology = next;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        if (next.storeReachable() != prev.storeReachable() && prev.known()) {
            if (next.storeReachable()) {
                LOG.info("{}: the store answers again; routing by it", source.describe());
            } else {
                LOG.warn("{}: the store is unreachable ({}); keeping leader {} (epoch {}) while it verifies as "
                        + "primary", source.describe(), next.problem(), next.leader(), next.epoch());
            }
        }
        if (next.leadershipDiffers(prev) && next.known()) {
            LOG.info("{}: leader {} (epoch {}) -> {} (epoch {})", source.describe(), prev.leader(), prev.epoch(),
                    next.leader(), next.epoch());
            metrics.switched(next);
            if (prev.leader() != null && prev.leader().equals(next.leader())) {
                // The same member under a new lock. After publishing `next`: a borrow that raced with this sees either
                // the new epoch (and drops its connection) or gets a connection that existed now (and is evicted
                // here, at its return).
                for (HikariDataSource p : pools.existing(prev.leader(), true)) {
                    p.getHikariPoolMXBean().softEvictConnections();
                    metrics.evicted("write", "role-change");
                }
            }
        }
        if (next.known()) {
            // Every other member's write pool is closed, also one a borrow of an ended leadership re-created after
            // the last switch: a pool kept for a non-leader keeps failing and backing off in the background.
            for (int i = pools.retireWritePoolsExcept(next.leader()); i > 0; i--) {
                metrics.evicted("write", "role-change");
            }
        }
    }

    /** A pooled connection failed in a way that says its server changed (25006, 57P0x, 08xxx). */
    void serverChanged(MemberPools.Key key, String sqlState) {
        metrics.evicted(key.purpose(), sqlState);
        source.refresh();
    }

    // ------------------------------------------------------------------------------------------------ borrowing

    Connection connection(TargetRole role) throws SQLException {
        return borrow(role).connection();
    }

    /** A connection, the member it is to, and the snapshot it was chosen under (for a write: its leadership). */
    record Borrowed(Connection connection, String member, Topology topology) {}

    /** Decides on a replica's fresh connection whether it may serve this borrow (read-your-writes). */
    interface ReplicaCheck {
        boolean accept(Connection c) throws SQLException;
    }

    Borrowed borrow(TargetRole role) throws SQLException {
        return borrow(role, null);
    }

    /** @param check asked about each replica's connection before it is handed out; null: none */
    Borrowed borrow(TargetRole role, ReplicaCheck check) throws SQLException {
        long start = System.nanoTime();
        long deadline = start + leaderWait.toNanos();
        long drainUntil = 0;
        SQLException last = null;
        Set<String> failedReplicas = new HashSet<>();
        while (true) {
            if (closed) {
                throw new SQLException("the pgha DataSource is closed", "08003");
            }
            Topology t = topology;
            Choice c = choose(t, role, failedReplicas);
            if (c == null) {
                source.refresh();
                if (!awaitChange(t, deadline)) {
                    metrics.waited(role, System.nanoTime() - start, false);
                    throw noLeader(t, last);
                }
                continue;
            }
            if (c.write() && c.node().draining() && drainWait.toNanos() > 0) {
                // A planned hand-over: hold the borrow (bounded) rather than start a transaction on a leaving leader.
                long now = System.nanoTime();
                if (drainUntil == 0) {
                    drainUntil = now + drainWait.toNanos();
                }
                if (now - drainUntil < 0 && now - deadline < 0) {
                    awaitChange(t, Math.min(drainUntil, deadline));
                    continue;
                }
            }
            if (c.write() && !pools.has(c.key())) {
                // A leadership this DataSource has not written to yet: its server may still be promoting.
                gate.awaitWritable(c.key(), deadline, () -> !topology.leadershipDiffers(t) && !closed);
                if (topology.leadershipDiffers(t)) {
                    continue; // ended while waiting: decide again rather than open a pool for a former leader
                }
            }
            HikariDataSource pool = pools.pool(c.key());
            Connection conn;
            try {
                conn = pool.getConnection();
            } catch (SQLException e) {
                last = e;
                metrics.retried(role, "connect");
                if (!c.write() && !c.key().member().equals(t.leader())) {
                    failedReplicas.add(c.key().member());
                    continue; // another replica, or the leader
                }
                source.refresh();
                if (System.nanoTime() - deadline >= 0) {
                    metrics.waited(role, System.nanoTime() - start, false);
                    throw noLeader(t, last);
                }
                awaitChange(t, Math.min(deadline, System.nanoTime() + RETRY_PAUSE_NANOS));
                continue;
            }
            if (c.write() && topology.leadershipDiffers(t)) {
                // Decided under an epoch that has ended: this connection must not be used for writes.
                pool.evictConnection(conn);
                metrics.evicted("write", "stale-epoch");
                metrics.retried(role, "stale-epoch");
                continue;
            }
            if (check != null && !c.write() && !replicaAccepts(check, conn)) {
                failedReplicas.add(c.key().member());
                metrics.retried(role, "not-replayed");
                continue; // another replica, or the leader
            }
            metrics.waited(role, System.nanoTime() - start, true);
            return new Borrowed(conn, c.key().member(), t);
        }
    }

    private static boolean replicaAccepts(ReplicaCheck check, Connection conn) throws SQLException {
        boolean ok;
        try {
            ok = check.accept(conn);
        } catch (SQLException e) {
            ok = false;
        }
        if (!ok) {
            conn.close();
        }
        return ok;
    }

    /** A decision: which pool, taken on a snapshot with {@code epoch}. */
    private record Choice(MemberPools.Key key, Topology.Node node, boolean write) {}

    private Choice choose(Topology t, TargetRole role, Set<String> failedReplicas) {
        if (role != TargetRole.PRIMARY) {
            List<Topology.Node> fit = new ArrayList<>();
            for (Topology.Node n : t.members().values()) {
                boolean replica = !n.name().equals(t.leader());
                if ((replica || role == TargetRole.ANY) && n.running() && !failedReplicas.contains(n.name())
                        && (n.name().equals(t.leader()) || withinLag(n))) {
                    fit.add(n);
                }
            }
            if (!fit.isEmpty()) {
                fit.sort((a, b) -> a.name().compareTo(b.name()));
                Topology.Node n = fit.get(Math.floorMod(roundRobin.getAndIncrement(), fit.size()));
                boolean leader = n.name().equals(t.leader());
                return new Choice(new MemberPools.Key(n.name(), n.host(), n.port(), leader), n, leader);
            }
            // No replica qualifies: the leader serves the read.
        }
        return t.leaderNode().map(n -> new Choice(new MemberPools.Key(n.name(), n.host(), n.port(), true), n, true))
                .orElse(null);
    }

    private boolean withinLag(Topology.Node n) {
        return n.role() == Role.REPLICA && n.lagBytes() != null && n.lagBytes() <= maxLagBytes;
    }

    /** Waits until the topology is no longer {@code seen} or {@code deadline} passes; true if it changed. */
    private boolean awaitChange(Topology seen, long deadline) {
        lock.lock();
        try {
            while (topology == seen && !closed) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                changed.awaitNanos(left);
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
    }

    private SQLException noLeader(Topology t, SQLException last) {
        String why;
        if (!t.known()) {
            why = "the store was never read: " + t.problem();
        } else if (t.leader() == null) {
            why = "the leader key is absent" + (t.members().isEmpty() ? " and no member published an address (is "
                    + "the scope right?)" : "") + (t.storeReachable() ? "" : " as last read; " + t.problem());
        } else if (t.leaderNode().isEmpty()) {
            why = "leader " + t.leader() + " published no connection address";
        } else {
            why = "leader " + t.leader() + " (" + t.leaderNode().get().address() + ", epoch " + t.epoch()
                    + ") gave no writable connection" + (last == null ? "" : ": " + describe(last))
                    + (t.storeReachable() ? "" : "; the store is unreachable: " + t.problem());
        }
        return new SQLException("no leader within leaderWait " + Durations.format(leaderWait) + " for "
                + source.describe() + ": " + why, FailoverErrors.NO_LEADER, last);
    }

    /**
     * Hikari's timeout says only that no connection came; the reason (wrong password, refused, not a primary) is its
     * cause, the last attempt's failure.
     */
    private static String describe(SQLException e) {
        Throwable cause = e.getCause();
        return e.getMessage() + (cause == null || cause.getMessage() == null ? "" : " (" + cause.getMessage() + ")");
    }

    @Override
    public void close() {
        closed = true;
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        source.close();
        pools.close();
    }
}
