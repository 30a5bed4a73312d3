package io.pgha.core.internal.ha;

import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.spi.MemberNameTakenException;
import java.time.Duration;

/**
 * Hooks into the HA loop, called on the loop's own threads: implementations must be quick and must not block (hand
 * off to an executor for anything slow).
 */
public interface HaObserver {

    /** After each cycle (also the immediate re-run after a lost race). */
    default void cycleCompleted(CycleReport report) {}

    /**
     * How long the loop's last cycle took, failed or not (measured on the loop's clock; only cycles the loop thread
     * runs, not {@code runCycle()} called directly).
     */
    default void cycleTimed(Duration took) {}

    /** PostgreSQL was promoted by this member. */
    default void promoted() {}

    /** The operator's restart of PostgreSQL begins (it stops next); {@link #restartEnded} follows. */
    default void restartBegan() {}

    /** The operator's restart ended: PostgreSQL runs again ({@code ok}), or the restart failed. */
    default void restartEnded(boolean ok) {}

    /** PostgreSQL re-read its configuration: the operator's reload, or changed cluster-wide parameters. */
    default void reloaded() {}

    /** PostgreSQL was fenced (stopped at once) because the lease ran out or another member leads. */
    default void fenced(String why) {}

    /** A cycle threw instead of completing (a bug: the loop logs it and carries on with the next cycle). */
    default void cycleFailed(RuntimeException e) {}

    /** A new {@link NodeStatus} was published: after each cycle, a promotion or a fence. */
    default void published(NodeStatus status) {}

    /** The member key was published for the first time: the member name is this member's (docs/decisions 0011). */
    default void registered() {}

    /**
     * Another live process holds this member's name, at start or later: the loop has fenced PostgreSQL and stopped
     * for good (docs/decisions 0011).
     */
    default void nameTaken(MemberNameTakenException e) {}

    /**
     * The store granted a lease too short for this member's timings (known only once a session exists: a ZooKeeper
     * server's negotiated session timeout, say); the loop stopped before it decided anything.
     */
    default void leaseTooShort(String problem) {}

    HaObserver NONE = new HaObserver() {};
}
