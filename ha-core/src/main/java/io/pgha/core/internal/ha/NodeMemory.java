package io.pgha.core.internal.ha;

import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.Lsn;

/**
 * What a member remembers between HA cycles. Owned and updated by {@link HaLoop}; the decision core only reads it.
 * A restarted agent starts from {@link #INITIAL}: nothing in here may be needed for safety after a restart.
 *
 * @param busy                 the long action in flight, or null
 * @param lastLongAction       how the last long action ended, or null
 * @param bootstrappedSystemId a bootstrap finished with this system id and is not yet published in the DCS
 * @param primaryDownSince     monotonic time since when the lock holder has seen PostgreSQL not running; null if
 *                             it runs
 * @param ssnApplied           the {@code synchronous_standby_names} last set by this primary, or null
 * @param ssnAppliedAt         the primary's WAL position just after it took effect: a standby is confirmed
 *                             synchronous only once it flushed past it
 * @param failsafeLeader       the primary that last sent us {@code POST /failsafe}, or null
 * @param failsafePingAt       monotonic time of that ping
 * @param rewindFailed         pg_rewind failed against the current leader; only a re-clone can help now
 * @param lostRace             set on the immediate re-run after a compare-and-set was lost: the step that lost
 * @param fatal                the agent stopped acting, and why
 */
record NodeMemory(
        LongAction busy,
        LongActionResult lastLongAction,
        String bootstrappedSystemId,
        Long primaryDownSince,
        String ssnApplied,
        Lsn ssnAppliedAt,
        String failsafeLeader,
        long failsafePingAt,
        boolean rewindFailed,
        Action lostRace,
        String fatal) {

    public static final NodeMemory INITIAL =
            new NodeMemory(null, null, null, null, null, null, null, 0, false, null, null);

    /** The outcome of a long action. */
    public record LongActionResult(LongAction action, boolean ok, String detail) {}

    public NodeMemory withBusy(LongAction v) {
        return new NodeMemory(v, lastLongAction, bootstrappedSystemId, primaryDownSince, ssnApplied, ssnAppliedAt,
                failsafeLeader, failsafePingAt, rewindFailed, lostRace, fatal);
    }

    public NodeMemory withLastLongAction(LongActionResult v) {
        return new NodeMemory(busy, v, bootstrappedSystemId, primaryDownSince, ssnApplied, ssnAppliedAt,
                failsafeLeader, failsafePingAt, rewindFailed, lostRace, fatal);
    }

    public NodeMemory withBootstrappedSystemId(String v) {
        return new NodeMemory(busy, lastLongAction, v, primaryDownSince, ssnApplied, ssnAppliedAt, failsafeLeader,
                failsafePingAt, rewindFailed, lostRace, fatal);
    }

    public NodeMemory withPrimaryDownSince(Long v) {
        return new NodeMemory(busy, lastLongAction, bootstrappedSystemId, v, ssnApplied, ssnAppliedAt, failsafeLeader,
                failsafePingAt, rewindFailed, lostRace, fatal);
    }

    public NodeMemory withSsn(String value, Lsn at) {
        return new NodeMemory(busy, lastLongAction, bootstrappedSystemId, primaryDownSince, value, at, failsafeLeader,
                failsafePingAt, rewindFailed, lostRace, fatal);
    }

    public NodeMemory withFailsafePing(String leader, long at) {
        return new NodeMemory(busy, lastLongAction, bootstrappedSystemId, primaryDownSince, ssnApplied, ssnAppliedAt,
                leader, at, rewindFailed, lostRace, fatal);
    }

    public NodeMemory withRewindFailed(boolean v) {
        return new NodeMemory(busy, lastLongAction, bootstrappedSystemId, primaryDownSince, ssnApplied, ssnAppliedAt,
                failsafeLeader, failsafePingAt, v, lostRace, fatal);
    }

    public NodeMemory withLostRace(Action v) {
        return new NodeMemory(busy, lastLongAction, bootstrappedSystemId, primaryDownSince, ssnApplied, ssnAppliedAt,
                failsafeLeader, failsafePingAt, rewindFailed, v, fatal);
    }

    public NodeMemory withFatal(String v) {
        return new NodeMemory(busy, lastLongAction, bootstrappedSystemId, primaryDownSince, ssnApplied, ssnAppliedAt,
                failsafeLeader, failsafePingAt, rewindFailed, lostRace, v);
    }
}
