package io.pgha.core.internal.admin;

import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.DcsVersion;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.GlobalConfig;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.cluster.PgState;
import io.pgha.core.cluster.Role;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.SynchronousMode;
import io.pgha.core.internal.admin.AdminResult.Why;
import io.pgha.core.internal.ha.DynamicConfigRules;
import io.pgha.core.internal.ha.MemberOperations;
import io.pgha.core.internal.ha.PeerClient;
import io.pgha.core.internal.ha.PeerStatus;
import io.pgha.core.internal.ha.SwitchoverPrecheck;
import io.pgha.core.spi.Dcs;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.time.HaClock;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's verbs on a cluster, in one place for every front end: switchover (now or scheduled), failover,
 * cancelling a scheduled switchover, pause and resume, and changes of the dynamic config. The REST API and
 * {@code HaCluster} both call these and only translate the {@link AdminResult}.
 *
 * <p>Nothing here decides who leads: a switchover or failover writes the {@code failover} key (after checking, with
 * the leader's own rule, that someone can take over) and the HA loops carry it out; this class then watches the
 * leader key for the outcome, for a bounded time. Config changes are a compare-and-set of the {@code config} key,
 * refused when a member would have to ignore the result.
 */
public final class ClusterAdmin {

    private static final Logger LOG = LoggerFactory.getLogger(ClusterAdmin.class);

    /** Conflicting writers of the config key a pause or resume outlasts (it re-applies its patch each time). */
    private static final int PAUSE_ATTEMPTS = 5;

    /** A switchover, or a failover (which also works without a leader and may promote a lagging candidate). */
    private enum Kind {
        SWITCHOVER("Switchover", "switched over"),
        FAILOVER("Failover", "failed over");

        final String title;
        final String done;

        Kind(String title, String done) {
            this.title = title;
            this.done = done;
        }

        String lower() {
            return title.toLowerCase(Locale.ROOT);
        }
    }

    private final String prefix;
    private final Dcs dcs;
    private final Supplier<NodeStatus> status;
    private final PeerClient peers;
    private final HaSettings localSettings;
    private final Runnable wakeup;
    private final HaClock clock;
    private final Duration poll;
    private final Duration timeout;
    private final MemberAdmin member;

    /** Without this member's PostgreSQL operations ({@link #member()}'s verbs are refused). */
    public ClusterAdmin(String prefix, Dcs dcs, Supplier<NodeStatus> status, PeerClient peers,
            HaSettings localSettings, Runnable wakeup, HaClock clock, Duration poll, Duration timeout) {
        this(prefix, dcs, status, peers, localSettings, wakeup, clock, poll, timeout, MemberOperations.NONE);
    }

    /**
     * @param status        this member's status now (for its settings and, as a candidate, its own position)
     * @param localSettings this member's own settings, against which a new config is checked as each member
     *                      applies it
     * @param wakeup        runs this member's HA cycle soon (after a write it should act on)
     * @param poll          how often a waiting switchover re-reads the leader key
     * @param timeout       how long it waits for the new leader; null = Patroni's 2 x max(10 s, loopWait)
     * @param ops           this member's HA loop, which carries out restart, reinitialize and reload
     */
    public ClusterAdmin(String prefix, Dcs dcs, Supplier<NodeStatus> status, PeerClient peers,
            HaSettings localSettings, Runnable wakeup, HaClock clock, Duration poll, Duration timeout,
            MemberOperations ops) {
        this.prefix = Objects.requireNonNull(prefix, "prefix");
        this.dcs = Objects.requireNonNull(dcs, "dcs");
        this.status = Objects.requireNonNull(status, "status");
        this.peers = Objects.requireNonNull(peers, "peers");
        this.localSettings = Objects.requireNonNull(localSettings, "localSettings");
        this.wakeup = Objects.requireNonNull(wakeup, "wakeup");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.poll = Objects.requireNonNull(poll, "poll");
        this.timeout = timeout;
        this.member = new MemberAdmin(dcs, status, ops, clock, poll);
    }

    /** The verbs on this member's own PostgreSQL (restart, reinitialize, reload). */
    public MemberAdmin member() {
        return member;
    }

    /** A fresh read of the whole cluster. */
    public ClusterView readCluster() throws DcsUnavailableException {
        return dcs.read();
    }

    // ------------------------------------------------------------------------------------------------ switchover

    /**
     * A switchover from {@code leader} to {@code candidate} (null: the healthiest replica), at once or at
     * {@code scheduledAt} (ISO 8601 with a zone; null: now). Done when the new leader holds the lock.
     */
    public AdminResult switchover(String leader, String candidate, String scheduledAt) {
        return manual(Kind.SWITCHOVER, leader, candidate, scheduledAt);
    }

    /**
     * A failover to {@code candidate}. Naming the {@code leader} makes it a switchover, as in Patroni; without one it
     * also works when the cluster has no leader.
     */
    public AdminResult failover(String leader, String candidate, String scheduledAt) {
        return manual(Kind.FAILOVER, leader, candidate, scheduledAt);
    }

    private AdminResult manual(Kind requested, String leader, String candidate, String schedule) {
        NodeStatus self = status.get();
        ClusterView v;
        try {
            v = dcs.read();
        } catch (DcsUnavailableException e) {
            return new AdminResult.Unavailable("DCS is not accessible: " + e.getMessage());
        }
        boolean paused = v.config().pause();
        LOG.info("{}{} requested: leader {}, candidate {}, scheduled at {}", prefix, requested.lower(), leader,
                candidate, schedule);

        if (requested == Kind.FAILOVER && candidate == null) {
            return refused(Why.INVALID, "a failover needs a candidate");
        }
        if (requested == Kind.SWITCHOVER && leader == null) {
            return refused(Why.INVALID, "a switchover needs the name of the current leader");
        }
        OffsetDateTime at = null;
        if (schedule != null) {
            if (requested == Kind.FAILOVER) {
                return refused(Why.INVALID, "a failover cannot be scheduled (use a switchover)");
            }
            if (paused) {
                return refused(Why.INVALID, "a switchover cannot be scheduled while the cluster is paused");
            }
            Object parsed = parseSchedule(schedule, self);
            if (parsed instanceof AdminResult r) {
                return r;
            }
            at = (OffsetDateTime) parsed;
        }
        if (paused && candidate == null) {
            return refused(Why.INVALID, "while the cluster is paused a switchover needs a named candidate");
        }
        Kind kind = requested;
        if (kind == Kind.FAILOVER && leader != null) {
            LOG.info("{}a failover naming the leader {} is a switchover", prefix, leader);
            kind = Kind.SWITCHOVER;
        }
        if (leader != null && leader.equals(candidate)) {
            return refused(Why.INVALID, "the candidate and the leader are the same member (" + leader + ")");
        }
        if (at != null) {
            // The rest of the precheck would be stale by then; a wrong leader name never becomes right.
            String current = v.leaderName().orElse(null);
            if (!leader.equals(current)) {
                return refused(Why.NOT_POSSIBLE, "leader name does not match (the leader is " + current + ")");
            }
        } else {
            Optional<String> refusal = precheck(v, self, kind, leader, candidate);
            if (refusal.isPresent()) {
                return refused(Why.NOT_POSSIBLE, refusal.get());
            }
        }
        try {
            if (!dcs.writeFailover(new FailoverRequest(leader, candidate, at, v.failover().version()),
                    v.failover().version())) {
                return new AdminResult.Unavailable("failed to write the failover key: it changed concurrently");
            }
        } catch (DcsUnavailableException e) {
            return new AdminResult.Unavailable("failed to write the failover key: " + e.getMessage());
        }
        wakeup.run();
        if (at != null) {
            return new AdminResult.Accepted(kind.title + " scheduled");
        }
        // Checked as a switchover when it names the leader, but answered in the words of what was asked, as Patroni
        // does ("failed over"): patronictl failover prints the answer.
        return awaitOutcome(requested, v.leaderName().orElse(null), candidate, self.settings());
    }

    /** Done when a scheduled switchover was removed; refused when none is scheduled; a conflict on a race. */
    public AdminResult cancelScheduledSwitchover() {
        ClusterView v;
        try {
            v = dcs.read();
        } catch (DcsUnavailableException e) {
            return new AdminResult.Unavailable("DCS is not accessible: " + e.getMessage());
        }
        FailoverRequest f = v.failover();
        if (f.isEmpty() || f.scheduledAt() == null) {
            return refused(Why.NOTHING_TO_DO, "no switchover is scheduled");
        }
        try {
            if (!dcs.clearFailover(f.version())) {
                return new AdminResult.Conflict("the failover key changed concurrently; nothing was deleted");
            }
        } catch (DcsUnavailableException e) {
            return new AdminResult.Unavailable("DCS is not accessible: " + e.getMessage());
        }
        LOG.info("{}scheduled switchover at {} deleted", prefix, f.scheduledAt());
        return new AdminResult.Done("scheduled switchover deleted");
    }

    /** ISO 8601 with a zone: the time, or the refusal (no zone: invalid; unparsable or past: unusable). */
    private Object parseSchedule(String text, NodeStatus self) {
        String t = text.trim().replace(' ', 'T');
        OffsetDateTime at;
        try {
            at = OffsetDateTime.parse(t);
        } catch (DateTimeParseException e) {
            try {
                LocalDateTime.parse(t);
            } catch (DateTimeParseException e2) {
                return refused(Why.UNUSABLE, "cannot parse scheduled_at '" + text
                        + "': use ISO 8601 with a time zone, e.g. 2030-01-31T04:00:00+00:00");
            }
            return refused(Why.INVALID, "scheduled_at '" + text + "' needs a time zone, e.g. " + t + "+00:00");
        }
        if (at.toInstant().isBefore(self.wallNow())) {
            return refused(Why.UNUSABLE, "cannot schedule a switchover in the past (" + text + ")");
        }
        return at;
    }

    /**
     * Patroni's REST precheck messages, then the leader's own rule ({@link SwitchoverPrecheck}) against the
     * candidates' live answers.
     */
    private Optional<String> precheck(ClusterView v, NodeStatus self, Kind kind, String leader, String candidate) {
        HaSettings s = self.settings();
        String current = v.leaderName().orElse(null);
        if (leader != null && !leader.equals(current)) {
            return Optional.of("leader name does not match" + (current == null ? " (the cluster has no leader)"
                    : " (the leader is " + current + ")"));
        }
        boolean syncActive = s.synchronousMode() == SynchronousMode.ON && v.sync().isActive();
        List<Member> asked;
        if (candidate != null) {
            // Rule S3 for a failover too (Patroni refuses both): only turning synchronous mode off lets the
            // operator promote a member that may lack acknowledged commits.
            if (syncActive && !v.sync().mayPromote(candidate)) {
                return Optional.of("candidate name does not match with sync_standby (synchronous standbys: "
                        + v.sync().standbys() + ")");
            }
            Member m = v.members().get(candidate);
            if (m == null) {
                return Optional.of("candidate does not exists (members: " + v.members().keySet() + ")");
            }
            asked = List.of(m);
        } else {
            asked = v.members().values().stream()
                    .filter(m -> !m.name().equals(current) && m.apiUrl() != null)
                    .filter(m -> !syncActive || v.sync().mayPromote(m.name()))
                    .toList();
            if (asked.isEmpty()) {
                return Optional.of(kind.lower() + " is not possible: "
                        + (syncActive ? "no synchronous standby to take over"
                                : "cluster does not have members except leader"));
            }
        }
        Map<String, PeerStatus> answers = peerStatuses(asked, self);
        Lsn leaderPosition = null;
        int leaderTimeline = 0;
        if (current != null) {
            if (current.equals(self.name())) {
                leaderPosition = self.pg().walPosition();
                leaderTimeline = self.pg().timeline();
            } else {
                Member lm = v.members().get(current);
                leaderPosition = lm == null ? null : lm.walPosition();
                leaderTimeline = lm == null ? 0 : lm.timeline();
            }
        }
        SwitchoverPrecheck.Result r = SwitchoverPrecheck.check(s, v, answers, current, leaderPosition,
                leaderTimeline, candidate);
        return r.possible() ? Optional.empty()
                : Optional.of(kind.lower() + " is not possible: no good candidates have been found (" + r.reason()
                        + ")");
    }

    /** Asks these members in parallel; this member answers from its own status (no HTTP to ourselves). */
    private Map<String, PeerStatus> peerStatuses(Collection<Member> members, NodeStatus self) {
        HaSettings s = self.settings();
        Map<String, PeerStatus> out = new TreeMap<>();
        List<Member> others = new ArrayList<>();
        for (Member m : members) {
            if (m.name().equals(s.name())) {
                PgState pg = self.pg();
                out.put(m.name(), new PeerStatus(m.name(), pg.run() == PgState.Run.RUNNING,
                        pg.role() != Role.PRIMARY, pg.walPosition(), pg.timeline(), s.tags().nofailover(),
                        s.tags().failoverPriority()));
            } else {
                others.add(m);
            }
        }
        if (!others.isEmpty()) {
            out.putAll(peers.fetchStatus(others, PeerClient.timeoutFor(s)));
        }
        return out;
    }

    /**
     * Re-reads the DCS until the leader key names someone new (done), the request vanished without that (failed),
     * or the time is up (unknown). Read errors are retried: the DCS may blink during a switchover.
     */
    private AdminResult awaitOutcome(Kind kind, String oldLeader, String candidate, HaSettings s) {
        Duration wait = timeout != null ? timeout : max(Duration.ofSeconds(10), s.loopWait()).multipliedBy(2);
        long deadline = clock.nanoTime() + wait.toNanos();
        while (true) {
            try {
                ClusterView v = dcs.read();
                String now = v.leaderName().orElse(null);
                if (now != null && !now.equals(oldLeader)) {
                    LOG.info("{}{} to {} done", prefix, kind.lower(), now);
                    if (candidate == null || candidate.equals(now)) {
                        return new AdminResult.Done("Successfully " + kind.done + " to \"" + now + "\"");
                    }
                    return new AdminResult.Done(kind.title + " went to \"" + now + "\" instead of \"" + candidate
                            + "\"");
                }
                if (v.failover().isEmpty()) {
                    LOG.info("{}{} failed: the request was dropped and {} still leads", prefix, kind.lower(),
                            oldLeader);
                    return new AdminResult.Unavailable(kind.title + " failed");
                }
            } catch (DcsUnavailableException e) {
                LOG.debug("{}reading the DCS while waiting for the {}: {}", prefix, kind.lower(), e.getMessage());
            }
            long left = deadline - clock.nanoTime();
            if (left <= 0) {
                return new AdminResult.Unavailable(kind.title + " status unknown");
            }
            try {
                clock.sleep(Math.max(1_000_000, Math.min(poll.toNanos(), left)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new AdminResult.Unavailable(kind.title + " status unknown (the API is shutting down)");
            }
        }
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    // ------------------------------------------------------------------------------------------------ config

    /**
     * A JSON merge patch of the {@code config} key (RFC 7396, Patroni's {@code PATCH /config}), compare-and-set on
     * the version read. Done with the resulting document; a conflict when someone changed the key in between.
     */
    public AdminResult patchConfig(Map<String, ?> patch) {
        ClusterView v;
        try {
            v = dcs.read();
        } catch (DcsUnavailableException e) {
            return new AdminResult.Unavailable("DCS is not accessible: " + e.getMessage());
        }
        if (v.config().isAbsent()) {
            return new AdminResult.Unavailable("the cluster has no (readable) config key to patch" + problemFor(v));
        }
        GlobalConfig merged;
        try {
            merged = v.config().mergePatch(patch);
            check(v.config(), merged);
        } catch (IllegalArgumentException e) {
            return refused(Why.INVALID, "invalid config: " + e.getMessage());
        }
        try {
            if (!dcs.writeConfig(merged, v.config().version())) {
                return new AdminResult.Conflict("the config key was changed concurrently; read it again and retry");
            }
        } catch (DcsUnavailableException e) {
            return new AdminResult.Unavailable("DCS is not accessible: " + e.getMessage());
        }
        wakeup.run();
        return new AdminResult.Done("config changed", merged.json());
    }

    /** Replaces the {@code config} key whatever it holds (Patroni's {@code PUT /config}). */
    public AdminResult replaceConfig(Map<String, ?> config) {
        GlobalConfig c;
        try {
            c = new GlobalConfig(config, DcsVersion.ABSENT);
            check(GlobalConfig.ABSENT, c);
        } catch (IllegalArgumentException e) {
            return refused(Why.INVALID, "invalid config: " + e.getMessage());
        }
        try {
            if (!dcs.writeConfig(c, Dcs.ANY_VERSION)) {
                return new AdminResult.Conflict("the config key could not be replaced");
            }
        } catch (DcsUnavailableException e) {
            return new AdminResult.Unavailable("writing the config key failed: " + e.getMessage());
        }
        wakeup.run();
        return new AdminResult.Done("config replaced", c.json());
    }

    /** Maintenance mode for the whole cluster: no automatic failover or PostgreSQL restarts until resumed. */
    public AdminResult pause() {
        return setPause(true);
    }

    public AdminResult resume() {
        return setPause(false);
    }

    /** The patch re-applies on each fresh read, so a concurrent writer costs a retry, never a lost update. */
    private AdminResult setPause(boolean pause) {
        Map<String, Object> patch = new HashMap<>();
        patch.put("pause", pause ? Boolean.TRUE : null);
        AdminResult r = null;
        for (int attempt = 0; attempt < PAUSE_ATTEMPTS; attempt++) {
            r = patchConfig(patch);
            if (!(r instanceof AdminResult.Conflict)) {
                break;
            }
        }
        if (r instanceof AdminResult.Done) {
            LOG.info("{}cluster {}", prefix, pause ? "paused" : "resumed");
            return new AdminResult.Done("cluster " + (pause ? "paused" : "resumed"), ((AdminResult.Done) r).document());
        }
        return r;
    }

    /**
     * A change that would make members keep an old value is refused here rather than written and then partly
     * ignored. What the stored key already breaks does not block other changes: members keep their last valid value
     * of those settings ({@code DynamicConfigRules}), and pause/resume or a repair must get through.
     */
    private void check(GlobalConfig current, GlobalConfig c) {
        // Against the local settings, as each member applies it: a key the patch removes falls back to them.
        // A wrong-typed value counts as offending too: one already stored does not block the patch, a new one does.
        Map<String, String> before = DynamicConfigRules.resolve(localSettings, localSettings, current, s -> null)
                .kept();
        Map<String, String> after = DynamicConfigRules.resolve(localSettings, localSettings, c, s -> null).kept();
        for (Map.Entry<String, String> e : after.entrySet()) {
            if (!before.containsKey(e.getKey())) {
                throw new IllegalArgumentException(e.getKey() + ": " + rule(e.getValue()));
            }
        }
    }

    /** The rule part of a {@code DynamicConfigRules} message ("keeping x = 1, not the stored 2: RULE"). */
    private static String rule(String kept) {
        int i = kept.indexOf(": ");
        return i < 0 ? kept : kept.substring(i + 2);
    }

    private static String problemFor(ClusterView v) {
        return v.problems().stream().filter(p -> p.contains("/config:")).findFirst().map(p -> " (" + p + ")")
                .orElse("");
    }

    private AdminResult refused(Why why, String message) {
        return new AdminResult.Refused(why, message);
    }
}
