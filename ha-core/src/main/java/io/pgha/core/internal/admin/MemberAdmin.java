package io.pgha.core.internal.admin;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.LongAction;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.Durations;
import io.pgha.core.config.HaSettings;
import io.pgha.core.internal.admin.AdminResult.Why;
import io.pgha.core.internal.ha.MemberOperations;
import io.pgha.core.internal.ha.MemberRequest;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.time.HaClock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The operator's verbs on this one member's PostgreSQL: restart (now or scheduled, with Patroni's conditions),
 * cancelling a scheduled restart, reinitialize and reload. The REST API and {@code HaCluster} call these; the
 * member's HA loop ({@link MemberOperations}) carries each one out between its cycles, so a verb never races the
 * loop's own actions on PostgreSQL. What concerns the whole cluster (switchover, config, pause) is
 * {@link ClusterAdmin}'s.
 */
public final class MemberAdmin {

    private final Dcs dcs;
    private final Supplier<NodeStatus> status;
    private final MemberOperations ops;
    private final HaClock clock;
    private final Duration poll;

    /**
     * @param status this member's status now (its settings, role and whether the cluster is paused)
     * @param ops    this member's HA loop, which carries out restart, reinitialize and reload
     * @param poll   how often a waiting verb looks for its outcome
     */
    public MemberAdmin(Dcs dcs, Supplier<NodeStatus> status, MemberOperations ops, HaClock clock, Duration poll) {
        this.dcs = Objects.requireNonNull(dcs, "dcs");
        this.status = Objects.requireNonNull(status, "status");
        this.ops = Objects.requireNonNull(ops, "ops");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.poll = Objects.requireNonNull(poll, "poll");
    }

    /**
     * Restarts this member's PostgreSQL (Patroni's {@code POST /restart}), in the role it runs in; a leader keeps its
     * lock. Each condition given must hold: {@code role} ({@code primary}, {@code master} or {@code replica}),
     * {@code postgresVersion} (the running server is older than this {@code X.Y}, or {@code X.Y.Z} before 10),
     * {@code pendingOnly} (PostgreSQL reports a setting waiting for a restart). With {@code schedule} (ISO 8601 with
     * a zone) it is recorded for then (one at a time) and the conditions are checked then; without, it is carried out
     * now and this returns when it is done.
     */
    public AdminResult restart(String schedule, String role, String postgresVersion, boolean pendingOnly) {
        return restart(schedule, role, postgresVersion, pendingOnly, null);
    }

    /**
     * {@link #restart(String, String, String, boolean)} with Patroni's {@code timeout}: a leader whose PostgreSQL is
     * not up again within it gives up the lock as after a crash (null: primaryStartTimeout).
     */
    public AdminResult restart(String schedule, String role, String postgresVersion, boolean pendingOnly,
            Duration timeout) {
        if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
            return refused(Why.INVALID, "timeout must be > 0 (got " + Durations.format(timeout) + ")");
        }
        Role wanted = null;
        if (role != null) {
            wanted = switch (role.toLowerCase(Locale.ROOT)) {
                case "primary", "master" -> Role.PRIMARY;
                case "replica" -> Role.REPLICA;
                default -> null;
            };
            if (wanted == null) {
                return refused(Why.INVALID, "PostgreSQL role should be either primary or replica");
            }
        }
        int below = 0;
        if (postgresVersion != null) {
            try {
                below = versionNumber(postgresVersion);
            } catch (IllegalArgumentException e) {
                return refused(Why.INVALID, e.getMessage());
            }
        }
        NodeStatus self = status.get();
        Instant at = null;
        if (schedule != null) {
            if (self.paused()) {
                return refused(Why.INVALID, "Can't schedule restart in the paused state");
            }
            Object parsed = parseRestartSchedule(schedule, self);
            if (parsed instanceof AdminResult r) {
                return r;
            }
            at = (Instant) parsed;
        }
        MemberRequest.Restart r = new MemberRequest.Restart(ops.newRequestId(), at, wanted, below,
                postgresVersion, pendingOnly, timeout);
        if (at != null) {
            return ops.schedule(r) ? new AdminResult.Accepted("Restart scheduled")
                    : new AdminResult.Conflict("Another restart is already scheduled");
        }
        LongAction busy = ops.busy();
        if (busy != null) {
            return refused(Why.NOT_NOW, busy + " already in progress");
        }
        HaSettings s = self.settings();
        // The stop, then a start that may take primaryStartTimeout, after the cycle that takes the request up.
        Duration start = timeout != null ? timeout : s.primaryStartTimeout();
        Duration wait = start.plus(s.ttl().multipliedBy(2)).plus(s.loopWait().multipliedBy(2))
                .plus(Duration.ofSeconds(60));
        return carryOut(r, wait, "restart", "postgres is still starting");
    }

    /** Removes the restart scheduled on this member (Patroni's {@code DELETE /restart}). */
    public AdminResult cancelScheduledRestart() {
        return ops.cancelScheduledRestart() ? new AdminResult.Done("scheduled restart deleted")
                : refused(Why.NOTHING_TO_DO, "no restarts are scheduled");
    }

    /** The restart scheduled on this member, as Patroni shows it ({@code scheduled_restart}); empty when none. */
    public Optional<Map<String, Object>> scheduledRestart() {
        return ops.scheduledRestart().map(MemberRequest.Restart::patroniJson);
    }

    /**
     * Wipes this replica's data directory and clones it again from the leader (Patroni's {@code POST /reinitialize}).
     * Refused on the leader, without a leader, and while another long action runs unless {@code force}. With
     * {@code force}, as in Patroni, the HA loop cuts that action short first: a restart, a replica's start, a rewind
     * or a clone in flight is cancelled (its pg_basebackup, pg_rewind or postgres process killed by PID) and the
     * reinitialize then replaces whatever it left. A bootstrap of a new cluster or a primary's start is never cut
     * short: the reinitialize follows it (docs/decisions/0109). Returns once the HA loop started it.
     */
    public AdminResult reinitialize(boolean force) {
        ClusterView v;
        try {
            v = dcs.read();
        } catch (DcsUnavailableException e) {
            return new AdminResult.Unavailable("DCS is not accessible: " + e.getMessage());
        }
        NodeStatus self = status.get();
        if (v.isUnlocked()) {
            return refused(Why.NOT_NOW, "Cluster has no leader, can not reinitialize");
        }
        if (v.isLeader(self.name())) {
            return refused(Why.NOT_NOW, "I am the leader, can not reinitialize");
        }
        LongAction busy = ops.busy();
        if (busy != null && !force) {
            return refused(Why.NOT_NOW, busy + " already in progress");
        }
        HaSettings s = self.settings();
        Duration wait = s.ttl().multipliedBy(2).plus(s.loopWait().multipliedBy(2))
                .plus(busy != null ? s.primaryStartTimeout() : Duration.ZERO);
        MemberRequest.Reinitialize r = new MemberRequest.Reinitialize(ops.newRequestId(), force);
        Optional<String> refusal = ops.submit(r);
        if (refusal.isPresent()) {
            return refused(Why.NOT_NOW, refusal.get());
        }
        long deadline = clock.nanoTime() + wait.toNanos();
        while (ops.waiting(r.id()) && clock.nanoTime() < deadline) {
            sleep(poll);
        }
        Optional<MemberRequest.Outcome> o = ops.outcome(r.id());
        if (o.isPresent() && !o.get().ok()) {
            return refused(Why.NOT_NOW, o.get().message());
        }
        if (ops.waiting(r.id())) {
            ops.withdraw(r.id());
            return new AdminResult.Unavailable("reinitialize was not started within " + Durations.format(wait));
        }
        return new AdminResult.Done("reinitialize started");
    }

    /**
     * Makes this member's PostgreSQL re-read its configuration (Patroni's {@code POST /reload}): queued for the HA
     * loop, which rewrites the node's configuration file and sends the reload.
     */
    public AdminResult reload() {
        Optional<String> refusal = ops.submit(new MemberRequest.Reload(ops.newRequestId()));
        return refusal.isPresent() ? refused(Why.NOT_NOW, refusal.get())
                : new AdminResult.Accepted("reload scheduled");
    }

    /** Queues {@code r} and waits for its outcome, at most {@code wait}. */
    private AdminResult carryOut(MemberRequest r, Duration wait, String what, String stillRunning) {
        Optional<String> refusal = ops.submit(r);
        if (refusal.isPresent()) {
            return refused(Why.NOT_NOW, refusal.get());
        }
        long deadline = clock.nanoTime() + wait.toNanos();
        while (clock.nanoTime() < deadline) {
            Optional<MemberRequest.Outcome> o = ops.outcome(r.id());
            if (o.isPresent()) {
                return o.get().ok() ? new AdminResult.Done(o.get().message())
                        : refused(Why.NOT_NOW, o.get().message());
            }
            sleep(poll);
        }
        if (ops.withdraw(r.id())) {
            return new AdminResult.Unavailable(what + " was not started within " + Durations.format(wait));
        }
        return new AdminResult.Unavailable(stillRunning);
    }

    private void sleep(Duration d) {
        try {
            clock.sleep(d.toNanos());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Patroni's version numbers: {@code X.Y} from 10 on (15.4 = 150004), {@code X.Y.Z} before (9.6.2 = 90602).
     */
    static int versionNumber(String text) {
        String[] parts = text.trim().split("\\.");
        int[] n = new int[parts.length];
        try {
            for (int i = 0; i < parts.length; i++) {
                n[i] = Integer.parseInt(parts[i]);
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("Invalid PostgreSQL version: " + text);
        }
        if (n.length == 2 && n[0] >= 10) {
            return n[0] * 10000 + n[1];
        }
        if (n.length == 3 && n[0] < 10) {
            return n[0] * 10000 + n[1] * 100 + n[2];
        }
        throw new IllegalArgumentException("Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: " + text);
    }

    /** Patroni's rules and answers for a restart's schedule: a zone is required, the past is refused. */
    private Object parseRestartSchedule(String text, NodeStatus self) {
        OffsetDateTime at;
        try {
            at = OffsetDateTime.parse(text.trim().replace(' ', 'T'));
        } catch (DateTimeParseException e) {
            try {
                LocalDateTime.parse(text.trim().replace(' ', 'T'));
            } catch (DateTimeParseException e2) {
                return refused(Why.UNUSABLE, "Unable to parse scheduled timestamp. It should be in an unambiguous"
                        + " format, e.g. ISO 8601");
            }
            return refused(Why.INVALID, "Timezone information is mandatory for the scheduled restart");
        }
        if (at.toInstant().isBefore(self.wallNow())) {
            return refused(Why.UNUSABLE, "Cannot schedule restart in the past");
        }
        return at.toInstant();
    }

    private static AdminResult refused(Why why, String message) {
        return new AdminResult.Refused(why, message);
    }
}
