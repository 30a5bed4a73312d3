package io.pgha.jdbc.spring;

import io.pgha.core.api.HaCluster;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.jdbc.HaDataSource;
import io.pgha.jdbc.TargetRole;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * What the health indicators of both Boot lines report, computed once here: UP while a leader is known and a write
 * connection can be borrowed from it and answers. A replica being down does not matter (reads fall back to the
 * leader). Details: the leader, the epoch, whether the store answered, and for an embedded member its own role,
 * state, store reachability and replay lag.
 */
final class PghaHealth {

    /** @param up the verdict; {@code details} say why */
    record Reading(boolean up, Map<String, Object> details) {}

    private static final int QUERY_TIMEOUT_SECONDS = 5;

    private final HaDataSource ds;
    private final DataSource writes;
    /** The embedded member of pgha.member.*, or null. */
    private final PghaMember member;

    PghaHealth(HaDataSource ds, PghaMember member) {
        this.ds = ds;
        this.writes = ds.withRole(TargetRole.PRIMARY);
        this.member = member;
    }

    Reading read() {
        Map<String, Object> details = new LinkedHashMap<>();
        Optional<String> leader = ds.leader();
        leader.ifPresent(l -> details.put("leader", l));
        details.put("epoch", ds.epoch());
        details.put("storeReachable", ds.storeReachable());
        if (member != null) {
            member.cluster().ifPresent(m -> details.put("member", memberDetails(m)));
        }
        if (leader.isEmpty()) {
            // No borrow: it would wait leaderWait for a leader that the topology says is not there.
            details.put("error", "no leader known");
            return new Reading(false, details);
        }
        try (Connection c = writes.getConnection(); Statement s = c.createStatement()) {
            s.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
            s.execute("SELECT 1");
            return new Reading(true, details);
        } catch (SQLException e) {
            details.put("error", e.getSQLState() + ": " + e.getMessage());
            return new Reading(false, details);
        }
    }

    private static Map<String, Object> memberDetails(HaCluster m) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", m.name());
        out.put("role", m.role().name());
        Optional<NodeStatus> status = m.status();
        status.ifPresent(s -> {
            out.put("state", s.state());
            out.put("storeReachable", s.dcsReachable());
            Lsn leaderAt = s.optime();
            Lsn here = s.pg().replayLsn() != null ? s.pg().replayLsn() : s.pg().walPosition();
            if (s.role() != io.pgha.core.cluster.Role.PRIMARY && leaderAt != null && here != null) {
                out.put("lagBytes", Math.max(0, leaderAt.minus(here)));
            }
        });
        return out;
    }
}
