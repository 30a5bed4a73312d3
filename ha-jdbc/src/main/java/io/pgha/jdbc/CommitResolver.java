package io.pgha.jdbc;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds out whether a transaction whose COMMIT was cut off committed, by asking the leader
 * {@code txid_status(xid)} (docs/decisions 0810). The leader is asked through the router, so after a failover it is
 * the new leader, asked only once it accepts writes (its recovery, and with it the replay of every commit it
 * received, is over).
 */
final class CommitResolver {

    private static final Logger LOG = LoggerFactory.getLogger(CommitResolver.class);
    private static final Duration IN_PROGRESS_PAUSE = Duration.ofMillis(20);

    private final Router router;

    CommitResolver(Router router) {
        this.router = router;
    }

    /**
     * Returns normally when the transaction committed.
     *
     * @throws SQLException {@value FailoverErrors#RECONNECT_AND_RERUN} when it did not commit (re-run it),
     *                      {@value FailoverErrors#OUTCOME_UNKNOWN} when nobody could tell within leaderWait; the
     *                      commit's own failure is the cause of both
     */
    void resolve(long xid, Topology under, SQLException failure) throws SQLException {
        long deadline = System.nanoTime() + router.leaderWait().toNanos();
        String last = "no answer yet";
        while (System.nanoTime() - deadline < 0) {
            Router.Borrowed b;
            try {
                b = router.borrow(TargetRole.PRIMARY);
            } catch (SQLException e) {
                last = "no leader to ask: " + e.getMessage();
                break;
            }
            String status;
            try (Connection c = b.connection(); PreparedStatement ps = c.prepareStatement("SELECT txid_status(?)")) {
                ps.setLong(1, xid);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    status = rs.getString(1);
                }
            } catch (SQLException e) {
                if ("22023".equals(e.getSQLState())) {
                    // "transaction ID is in the future": the leader never received it, so it did not commit there.
                    router.metrics().resolved("not-committed");
                    throw notCommitted(xid, b, "the leader never received it", failure);
                }
                last = b.member() + " could not answer: " + e.getMessage();
                pause();
                continue;
            }
            if (status == null) {
                last = b.member() + " no longer knows it (too old)";
                break;
            }
            switch (status) {
                case "committed":
                    router.metrics().resolved("committed");
                    LOG.info("the COMMIT of transaction {} was cut off ({}), but it committed: {} (leader {}, epoch {})"
                            + " says so", xid, failure.getMessage(), b.member(), b.topology().leader(),
                            b.topology().epoch());
                    return;
                case "aborted":
                    router.metrics().resolved("not-committed");
                    throw notCommitted(xid, b, "it was rolled back", failure);
                default:
                    last = b.member() + " says it is " + status;
                    pause();
            }
        }
        router.metrics().resolved("unknown");
        throw new SQLException("the COMMIT of transaction " + xid + " (leader " + under.leader() + ", epoch "
                + under.epoch() + ") was cut off and its outcome is unknown: " + last, FailoverErrors.OUTCOME_UNKNOWN,
                failure);
    }

    private static SQLException notCommitted(long xid, Router.Borrowed asked, String why, SQLException failure) {
        return new SQLException("the COMMIT of transaction " + xid + " was cut off and it did not commit (" + why
                + ", says " + asked.member() + "): borrow a connection again and re-run it",
                FailoverErrors.RECONNECT_AND_RERUN, failure);
    }

    private static void pause() {
        try {
            Thread.sleep(IN_PROGRESS_PAUSE.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
