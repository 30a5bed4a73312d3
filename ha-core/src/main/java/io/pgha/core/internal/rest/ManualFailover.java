package io.pgha.core.internal.rest;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.config.HaSettings;
import io.pgha.core.config.RestSettings;
import io.pgha.core.config.SynchronousMode;
import io.pgha.core.internal.ha.PeerStatus;
import io.pgha.core.internal.ha.SwitchoverPrecheck;
import io.pgha.core.spi.DcsUnavailableException;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /switchover}, {@code POST /failover} and {@code DELETE /switchover}: validate, check that someone
 * can take over, write the {@code failover} key, wake the HA loop, and (unless scheduled) wait for the outcome.
 *
 * <p>The HA loops carry the request out (research §2.4); this class only writes the key and watches the leader key.
 */
public final class ManualFailover {

    private static final Logger LOG = LoggerFactory.getLogger(ManualFailover.class);

    /** The two request kinds; a failover naming a leader is handled as a switchover, as Patroni does. */
    enum Kind {
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

    private final RestBackend backend;
    private final RestSettings settings;
    private final String prefix;

    ManualFailover(RestBackend backend, RestSettings settings, String prefix) {
        this.backend = backend;
        this.settings = settings;
        this.prefix = prefix;
    }

    Response post(Request r, Kind requested) throws HttpProblem {
        JsonNode body = HttpProblem.jsonObject(r);
        String leader = text(body, "leader");
        String candidate = text(body, "candidate");
        if (candidate == null) {
            candidate = text(body, "member");
        }
        return run(requested, leader, candidate, text(body, "scheduled_at"));
    }

    /** The outcome of a switchover or failover asked for in code ({@code HaCluster}) rather than over HTTP. */
    public record Outcome(int status, String message) {
        public boolean succeeded() {
            return status == 200 || status == 202;
        }
    }

    /**
     * Runs a switchover ({@code failover == false}) or failover with the same checks, key write and bounded wait as
     * {@code POST /switchover} and {@code POST /failover}; the status is the one the endpoint would answer.
     */
    public static Outcome request(RestBackend backend, RestSettings settings, String prefix, boolean failover,
            String leader, String candidate) {
        ManualFailover m = new ManualFailover(backend, settings, prefix);
        try {
            Response r = m.run(failover ? Kind.FAILOVER : Kind.SWITCHOVER, leader, candidate, null);
            return new Outcome(r.status(), new String(r.body(), java.nio.charset.StandardCharsets.UTF_8));
        } catch (HttpProblem e) {
            return new Outcome(e.status(), e.getMessage());
        }
    }

    private Response run(Kind requested, String leader, String candidate, String schedule) throws HttpProblem {
        NodeSnapshot self = backend.snapshot();
        ClusterView v = read();
        boolean paused = v.config().pause();
        LOG.info("{}{} requested: leader {}, candidate {}, scheduled at {}", prefix, requested.lower(), leader,
                candidate, schedule);

        if (requested == Kind.FAILOVER && candidate == null) {
            throw new HttpProblem(400, "a failover needs a candidate");
        }
        if (requested == Kind.SWITCHOVER && leader == null) {
            throw new HttpProblem(400, "a switchover needs the name of the current leader");
        }
        OffsetDateTime at = null;
        if (schedule != null) {
            if (requested == Kind.FAILOVER) {
                throw new HttpProblem(400, "a failover cannot be scheduled (use a switchover)");
            }
            if (paused) {
                throw new HttpProblem(400, "a switchover cannot be scheduled while the cluster is paused");
            }
            at = parseSchedule(schedule, self);
        }
        if (paused && candidate == null) {
            throw new HttpProblem(400, "while the cluster is paused a switchover needs a named candidate");
        }
        Kind kind = requested;
        if (kind == Kind.FAILOVER && leader != null) {
            LOG.info("{}a failover naming the leader {} is a switchover", prefix, leader);
            kind = Kind.SWITCHOVER;
        }
        if (leader != null && leader.equals(candidate)) {
            throw new HttpProblem(400, "the candidate and the leader are the same member (" + leader + ")");
        }
        if (at != null) {
            // The rest of the precheck would be stale by then; a wrong leader name never becomes right.
            String current = v.leaderName().orElse(null);
            if (!leader.equals(current)) {
                throw new HttpProblem(412, "leader name does not match (the leader is " + current + ")");
            }
        } else {
            Optional<String> refused = precheck(v, self, kind, leader, candidate);
            if (refused.isPresent()) {
                throw new HttpProblem(412, refused.get());
            }
        }
        try {
            if (!backend.writeFailover(new FailoverRequest(leader, candidate, at, v.failover().version()),
                    v.failover().version())) {
                throw new HttpProblem(503, "failed to write the failover key: it changed concurrently");
            }
        } catch (DcsUnavailableException e) {
            throw new HttpProblem(503, "failed to write the failover key: " + e.getMessage());
        }
        backend.wakeup();
        if (at != null) {
            return Response.text(202, kind.title + " scheduled");
        }
        return awaitOutcome(kind, v.leaderName().orElse(null), candidate, self.settings());
    }

    /** 200 when a scheduled switchover was removed, 404 when none is scheduled, 409 on a concurrent change. */
    Response deleteScheduled() throws HttpProblem {
        ClusterView v = read();
        FailoverRequest f = v.failover();
        if (f.isEmpty() || f.scheduledAt() == null) {
            throw new HttpProblem(404, "no switchover is scheduled");
        }
        try {
            if (!backend.clearFailover(f.version())) {
                throw new HttpProblem(409, "the failover key changed concurrently; nothing was deleted");
            }
        } catch (DcsUnavailableException e) {
            throw new HttpProblem(503, "DCS is not accessible: " + e.getMessage());
        }
        LOG.info("{}scheduled switchover at {} deleted", prefix, f.scheduledAt());
        return Response.text(200, "scheduled switchover deleted");
    }

    /** ISO-8601 with a zone: 400 without one, 422 when unparseable or in the past. */
    private static OffsetDateTime parseSchedule(String text, NodeSnapshot self) throws HttpProblem {
        String t = text.trim().replace(' ', 'T');
        OffsetDateTime at;
        try {
            at = OffsetDateTime.parse(t);
        } catch (DateTimeParseException e) {
            try {
                LocalDateTime.parse(t);
            } catch (DateTimeParseException e2) {
                throw new HttpProblem(422, "cannot parse scheduled_at '" + text
                        + "': use ISO 8601 with a time zone, e.g. 2030-01-31T04:00:00+00:00");
            }
            throw new HttpProblem(400, "scheduled_at '" + text + "' needs a time zone, e.g. " + t + "+00:00");
        }
        if (at.toInstant().isBefore(self.wallNow())) {
            throw new HttpProblem(422, "cannot schedule a switchover in the past (" + text + ")");
        }
        return at;
    }

    /**
     * Patroni's REST precheck messages, then the leader's own rule ({@link SwitchoverPrecheck}) against the
     * candidates' live answers.
     */
    private Optional<String> precheck(ClusterView v, NodeSnapshot self, Kind kind, String leader, String candidate) {
        HaSettings s = self.settings();
        String current = v.leaderName().orElse(null);
        if (leader != null && !leader.equals(current)) {
            return Optional.of("leader name does not match" + (current == null ? " (the cluster has no leader)"
                    : " (the leader is " + current + ")"));
        }
        boolean syncActive = s.synchronousMode() == SynchronousMode.ON && v.sync().isActive();
        List<Member> asked;
        if (candidate != null) {
            if (kind == Kind.SWITCHOVER && syncActive && !v.sync().mayPromote(candidate)) {
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
        Map<String, PeerStatus> answers = backend.peerStatuses(asked);
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

    /**
     * Re-reads the DCS until the leader key names someone new (200), the request vanished without that (503
     * failed), or the time is up (503 unknown). Read errors are retried: the DCS may blink during a switchover.
     */
    private Response awaitOutcome(Kind kind, String oldLeader, String candidate, HaSettings s) {
        Duration timeout = settings.switchoverTimeout() != null ? settings.switchoverTimeout()
                : max(Duration.ofSeconds(10), s.loopWait()).multipliedBy(2);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                ClusterView v = backend.readCluster();
                String now = v.leaderName().orElse(null);
                if (now != null && !now.equals(oldLeader)) {
                    LOG.info("{}{} to {} done", prefix, kind.lower(), now);
                    if (candidate == null || candidate.equals(now)) {
                        return Response.text(200, "Successfully " + kind.done + " to \"" + now + "\"");
                    }
                    return Response.text(200, kind.title + " went to \"" + now + "\" instead of \"" + candidate
                            + "\"");
                }
                if (v.failover().isEmpty()) {
                    LOG.info("{}{} failed: the request was dropped and {} still leads", prefix, kind.lower(),
                            oldLeader);
                    return Response.text(503, kind.title + " failed");
                }
            } catch (DcsUnavailableException e) {
                LOG.debug("{}reading the DCS while waiting for the {}: {}", prefix, kind.lower(), e.getMessage());
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return Response.text(503, kind.title + " status unknown");
            }
            try {
                Thread.sleep(Math.max(1, Math.min(settings.switchoverPoll().toMillis(), left / 1_000_000)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Response.text(503, kind.title + " status unknown (the API is shutting down)");
            }
        }
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    private ClusterView read() throws HttpProblem {
        try {
            return backend.readCluster();
        } catch (DcsUnavailableException e) {
            throw new HttpProblem(503, "DCS is not accessible: " + e.getMessage());
        }
    }

    private static String text(JsonNode body, String field) throws HttpProblem {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new HttpProblem(400, field + ": expected a string, got " + v.getNodeType().toString()
                    .toLowerCase(Locale.ROOT));
        }
        String s = v.textValue().trim();
        return s.isEmpty() ? null : s;
    }
}
