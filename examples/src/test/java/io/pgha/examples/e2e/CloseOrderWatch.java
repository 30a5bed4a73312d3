package io.pgha.examples.e2e;

import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Watches one member being closed: in one thread, reads the store's leader key and then asks the member's PostgreSQL
 * its role, over and over. Because each question starts after the previous answer came back, the observations are in
 * a known order, and "PostgreSQL answered as a writable primary after the store already showed the member's leader
 * key gone" is a proven violation of the close order (stop and fence PostgreSQL, only then release the lock).
 */
final class CloseOrderWatch implements AutoCloseable {

    /**
     * One round: the leader key's holder ({@code ""} none; null when the store could not be read), then the member's
     * role (null when it did not answer), with the time the round started.
     */
    record Round(long startNanos, String keyHolder, Sql.PgRole role) {}

    private final E2eCluster cluster;
    private final AgentProcess member;
    private final List<Round> rounds = new ArrayList<>();
    private final Poller poller;

    CloseOrderWatch(E2eCluster cluster, AgentProcess member, Duration interval, Duration maxRunTime) {
        this.cluster = cluster;
        this.member = member;
        this.poller = new Poller("e2e-close-order-" + member.name, interval, maxRunTime, this::round, () -> { });
    }

    private void round() {
        long start = System.nanoTime();
        String holder;
        try {
            holder = cluster.leaderName().orElse("");
        } catch (Exception e) {
            holder = null;
        }
        Sql.PgRole role;
        try {
            role = Sql.role(member);
        } catch (SQLException e) {
            role = null;
        }
        synchronized (this) {
            rounds.add(new Round(start, holder, role));
        }
    }

    synchronized List<Round> rounds() {
        return List.copyOf(rounds);
    }

    /** Whether some round saw the member hold the leader key. */
    synchronized boolean sawKeyHeld() {
        return rounds.stream().anyMatch(r -> member.name.equals(r.keyHolder()));
    }

    /** Index of the first round after the member held the key that saw the key gone or held by another member. */
    synchronized Optional<Integer> firstRoundWithoutTheKey() {
        boolean held = false;
        for (int i = 0; i < rounds.size(); i++) {
            String h = rounds.get(i).keyHolder();
            if (member.name.equals(h)) {
                held = true;
            } else if (held && h != null) {
                return Optional.of(i);
            }
        }
        return Optional.empty();
    }

    @Override
    public void close() {
        poller.close();
    }
}
