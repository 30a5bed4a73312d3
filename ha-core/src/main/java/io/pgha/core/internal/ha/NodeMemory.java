package io.pgha.core.internal.ha;

import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.Lsn;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * What a member remembers between HA cycles. Owned and updated by {@link HaLoop}; the decision core only reads it.
 * A restarted agent starts from {@link #INITIAL}: nothing in here may be needed for safety after a restart (what
 * must survive one, an unfinished pg_rewind, lives on disk).
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
 * @param lastLeader           the member seen holding the lock in the latest view that had a leader key; null until
 *                             one was seen (the only member whose failsafe pings count)
 * @param rewindFailed         pg_rewind failed against the current leader; only a re-clone can help now
 * @param lostRace             set on the immediate re-run after a compare-and-set was lost: the step that lost
 * @param fatal                the agent stopped acting, and why
 * @param unknownProbes        consecutive cycles whose probe of PostgreSQL failed (nothing known about it)
 * @param failedStarts         consecutive promotions or primary starts that failed while this member held the lock
 * @param lastStartFailure     why the last of those failed
 * @param sitOutUntil          monotonic time before which this member does not race (it gave up the lock after
 *                             failing to become primary, so a healthy member gets the chance); null when none
 * @param fencedWhilePaused    the lease guard fenced this member's primary while the cluster was paused (its lease
 *                             ran out, typically in a DCS outage): it may restart as primary once the store is back
 *                             and the lock is still free, without waiting for resume
 * @param probePendingFor      how long the probe this cycle waited for has been running without an answer (nanos; 0
 *                             when it answered): a slow probe, not yet a failed one
 * @param historyRecordedFor   the timeline whose lineage this member last merged into the {@code history} key as
 *                             leader; 0 when none (a restarted leader records once more, which changes nothing)
 * @param draining             this leader publishes that it is draining before the planned switchover it is about to
 *                             make; null when not
 * @param request              an operator's request to carry out at once (restart, reinitialize, reload); null when
 *                             none waits (it is taken off when carried out or refused)
 * @param scheduledRestart     a restart the operator scheduled (one at a time, as in Patroni); null when none
 * @param requestOutcome       how the last request carried out or refused ended, for the admin waiting for it
 * @param restartStartTimeout  the leader restart in flight gives up the lock if PostgreSQL is not up within this
 *                             (the operator's {@code timeout}); null = primaryStartTimeout
 * @param releasingSyncUntil   monotonic time until which this synchronous standby, asked to restart, publishes a
 *                             nosync tag and waits for the leader to drop it from {@code sync} (as Patroni does);
 *                             null when it is not releasing
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
        String lastLeader,
        boolean rewindFailed,
        Action lostRace,
        String fatal,
        int unknownProbes,
        int failedStarts,
        String lastStartFailure,
        Long sitOutUntil,
        boolean fencedWhilePaused,
        long probePendingFor,
        int historyRecordedFor,
        Draining draining,
        MemberRequest request,
        MemberRequest.Restart scheduledRestart,
        MemberRequest.Outcome requestOutcome,
        Duration restartStartTimeout,
        Long releasingSyncUntil) {

    public static final NodeMemory INITIAL =
            new NodeMemory(null, null, null, null, null, null, null, 0, null, false, null, null, 0, 0, null, null,
                    false, 0, 0, null, null, null, null, null, null);

    /** Draining for the switchover request of version {@code request}, since monotonic time {@code since}. */
    public record Draining(long since, long request) {}

    /** The outcome of a long action. */
    public record LongActionResult(LongAction action, boolean ok, String detail) {}

    /** The fields as a mutable bag, for {@link #with}: one place that copies them all. */
    static final class Fields {
        LongAction busy;
        LongActionResult lastLongAction;
        String bootstrappedSystemId;
        Long primaryDownSince;
        String ssnApplied;
        Lsn ssnAppliedAt;
        String failsafeLeader;
        long failsafePingAt;
        String lastLeader;
        boolean rewindFailed;
        Action lostRace;
        String fatal;
        int unknownProbes;
        int failedStarts;
        String lastStartFailure;
        Long sitOutUntil;
        boolean fencedWhilePaused;
        long probePendingFor;
        int historyRecordedFor;
        Draining draining;
        MemberRequest request;
        MemberRequest.Restart scheduledRestart;
        MemberRequest.Outcome requestOutcome;
        Duration restartStartTimeout;
        Long releasingSyncUntil;
    }

    /** A copy with {@code change} applied to its fields. */
    NodeMemory with(Consumer<Fields> change) {
        Fields f = new Fields();
        f.busy = busy;
        f.lastLongAction = lastLongAction;
        f.bootstrappedSystemId = bootstrappedSystemId;
        f.primaryDownSince = primaryDownSince;
        f.ssnApplied = ssnApplied;
        f.ssnAppliedAt = ssnAppliedAt;
        f.failsafeLeader = failsafeLeader;
        f.failsafePingAt = failsafePingAt;
        f.lastLeader = lastLeader;
        f.rewindFailed = rewindFailed;
        f.lostRace = lostRace;
        f.fatal = fatal;
        f.unknownProbes = unknownProbes;
        f.failedStarts = failedStarts;
        f.lastStartFailure = lastStartFailure;
        f.sitOutUntil = sitOutUntil;
        f.fencedWhilePaused = fencedWhilePaused;
        f.probePendingFor = probePendingFor;
        f.historyRecordedFor = historyRecordedFor;
        f.draining = draining;
        f.request = request;
        f.scheduledRestart = scheduledRestart;
        f.requestOutcome = requestOutcome;
        f.restartStartTimeout = restartStartTimeout;
        f.releasingSyncUntil = releasingSyncUntil;
        change.accept(f);
        return new NodeMemory(f.busy, f.lastLongAction, f.bootstrappedSystemId, f.primaryDownSince, f.ssnApplied,
                f.ssnAppliedAt, f.failsafeLeader, f.failsafePingAt, f.lastLeader, f.rewindFailed, f.lostRace, f.fatal,
                f.unknownProbes, f.failedStarts, f.lastStartFailure, f.sitOutUntil, f.fencedWhilePaused,
                f.probePendingFor, f.historyRecordedFor, f.draining, f.request, f.scheduledRestart,
                f.requestOutcome, f.restartStartTimeout, f.releasingSyncUntil);
    }

    public NodeMemory withRequest(MemberRequest v) {
        return with(f -> f.request = v);
    }

    /** Monotonic time until which this synchronous standby waits to be released before its restart; null: none. */
    public NodeMemory withReleasingSyncUntil(Long v) {
        return with(f -> f.releasingSyncUntil = v);
    }

    public NodeMemory withRestartStartTimeout(Duration v) {
        return with(f -> f.restartStartTimeout = v);
    }

    public NodeMemory withScheduledRestart(MemberRequest.Restart v) {
        return with(f -> f.scheduledRestart = v);
    }

    /**
     * Request {@code id} ended: it leaves whichever slot holds it and its outcome is recorded for the admin waiting
     * for it.
     */
    public NodeMemory withRequestDone(long id, boolean ok, String message) {
        return with(f -> {
            if (request != null && request.id() == id) {
                f.request = null;
            }
            if (scheduledRestart != null && scheduledRestart.id() == id) {
                f.scheduledRestart = null;
            }
            f.requestOutcome = new MemberRequest.Outcome(id, ok, message);
            f.releasingSyncUntil = null;
        });
    }

    /** Request {@code id} is being carried out: it leaves its slot (its outcome follows when it ends). */
    public NodeMemory withRequestTaken(long id) {
        return with(f -> {
            f.releasingSyncUntil = null;
            if (request != null && request.id() == id) {
                f.request = null;
            }
            if (scheduledRestart != null && scheduledRestart.id() == id) {
                f.scheduledRestart = null;
            }
        });
    }

    public NodeMemory withDraining(Draining v) {
        return with(f -> f.draining = v);
    }

    public NodeMemory withBusy(LongAction v) {
        return with(f -> f.busy = v);
    }

    public NodeMemory withLastLongAction(LongActionResult v) {
        return with(f -> f.lastLongAction = v);
    }

    public NodeMemory withBootstrappedSystemId(String v) {
        return with(f -> f.bootstrappedSystemId = v);
    }

    public NodeMemory withPrimaryDownSince(Long v) {
        return with(f -> f.primaryDownSince = v);
    }

    public NodeMemory withSsn(String value, Lsn at) {
        return with(f -> {
            f.ssnApplied = value;
            f.ssnAppliedAt = at;
        });
    }

    public NodeMemory withFailsafePing(String leader, long at) {
        return with(f -> {
            f.failsafeLeader = leader;
            f.failsafePingAt = at;
        });
    }

    public NodeMemory withLastLeader(String v) {
        return with(f -> f.lastLeader = v);
    }

    /**
     * Why a {@code POST /failsafe} from {@code sender} must not count, or null when it may. Only the member last seen
     * holding the lock may keep this one from racing: not a primary that lost the lock since, and not a request
     * naming some other member (decision 0507).
     */
    String failsafePingRefusal(String sender, String me) {
        if (lastLeader == null) {
            return me + " has not seen a leader yet";
        }
        if (sender.equals(me)) {
            return "the ping names " + me + " itself";
        }
        if (!sender.equals(lastLeader)) {
            return lastLeader + " holds the lock as far as " + me + " knows, not " + sender;
        }
        return null;
    }

    /** A failsafe ping that still holds this member back: from the member last seen holding the lock, within ttl. */
    boolean failsafePingCounts(String me, long now, Duration ttl) {
        return failsafeLeader != null && failsafePingRefusal(failsafeLeader, me) == null
                && now - failsafePingAt < ttl.toNanos();
    }

    public NodeMemory withRewindFailed(boolean v) {
        return with(f -> f.rewindFailed = v);
    }

    public NodeMemory withLostRace(Action v) {
        // Cleared at the end of every cycle: no copy when there is nothing to clear (issue 11).
        return v == lostRace ? this : with(f -> f.lostRace = v);
    }

    public NodeMemory withFatal(String v) {
        return with(f -> f.fatal = v);
    }

    public NodeMemory withUnknownProbes(int v) {
        return with(f -> f.unknownProbes = v);
    }

    /** One more failed promotion or primary start while holding the lock, and why. */
    public NodeMemory withFailedStart(String why) {
        return with(f -> {
            f.failedStarts = failedStarts + 1;
            f.lastStartFailure = why;
        });
    }

    /** Became primary, or no longer holds the lock: the count of failed attempts starts over. */
    public NodeMemory withStartsReset() {
        return failedStarts == 0 ? this : with(f -> f.failedStarts = 0);
    }

    public NodeMemory withFencedWhilePaused(boolean v) {
        return fencedWhilePaused == v ? this : with(f -> f.fencedWhilePaused = v);
    }

    public NodeMemory withProbePendingFor(long nanos) {
        return probePendingFor == nanos ? this : with(f -> f.probePendingFor = nanos);
    }

    public NodeMemory withHistoryRecordedFor(int timeline) {
        return with(f -> f.historyRecordedFor = timeline);
    }

    public NodeMemory withSitOutUntil(Long v) {
        return with(f -> f.sitOutUntil = v);
    }
}
