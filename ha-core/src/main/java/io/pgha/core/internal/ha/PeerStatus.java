package io.pgha.core.internal.ha;

import io.pgha.core.cluster.Lsn;

/**
 * What a peer answered on {@code GET /patroni} during a leader race or a switchover check.
 *
 * @param name             member name
 * @param running          its PostgreSQL is running
 * @param inRecovery       false when it runs as a primary
 * @param walPosition      its WAL position (flush on a primary, max(received, replayed) on a replica)
 * @param timeline         its timeline, 0 if unknown
 * @param nofailover       it may never be promoted (tag)
 * @param failoverPriority its failover priority (tag)
 * @param replayPaused     its WAL replay is paused: its position is its replayed one and it cannot win a race
 * @param paused           it believes the cluster is paused ({@code "pause": true}), so it does not race
 */
public record PeerStatus(
        String name,
        boolean running,
        boolean inRecovery,
        Lsn walPosition,
        int timeline,
        boolean nofailover,
        int failoverPriority,
        boolean replayPaused,
        boolean paused) {

    /** A peer whose replay is not paused and that does not believe the cluster is paused. */
    public PeerStatus(String name, boolean running, boolean inRecovery, Lsn walPosition, int timeline,
            boolean nofailover, int failoverPriority) {
        this(name, running, inRecovery, walPosition, timeline, nofailover, failoverPriority, false, false);
    }

    /** A peer that does not believe the cluster is paused. */
    public PeerStatus(String name, boolean running, boolean inRecovery, Lsn walPosition, int timeline,
            boolean nofailover, int failoverPriority, boolean replayPaused) {
        this(name, running, inRecovery, walPosition, timeline, nofailover, failoverPriority, replayPaused, false);
    }

    public Lsn position() {
        return walPosition == null ? Lsn.ZERO : walPosition;
    }
}
