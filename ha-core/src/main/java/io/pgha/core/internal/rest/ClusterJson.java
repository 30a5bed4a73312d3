package io.pgha.core.internal.rest;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.cluster.ClusterView;
import io.pgha.core.cluster.FailoverRequest;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.cluster.TimelineHistory;
import io.pgha.core.config.HostPort;
import io.pgha.core.config.SynchronousMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The documents of {@code GET /cluster} and {@code GET /history}, in Patroni's shapes. */
final class ClusterJson {

    private ClusterJson() {}

    /**
     * Members (the leader first, then by name) with their role as the cluster sees it, plus pause, a scheduled
     * switchover and the scope.
     *
     * @param syncMode the synchronous mode in force (decides whether {@code sync} standbys are shown as such)
     */
    static ObjectNode cluster(ClusterView v, String scope, SynchronousMode syncMode) {
        ObjectNode o = RestJson.MAPPER.createObjectNode();
        ArrayNode members = o.putArray("members");
        List<Member> ordered = new ArrayList<>();
        v.leaderMember().ifPresent(ordered::add);
        v.members().values().stream().filter(m -> !v.isLeader(m.name())).forEach(ordered::add);
        boolean syncActive = syncMode == SynchronousMode.ON && v.sync().isActive();
        Lsn optime = v.status().optime();
        for (Member m : ordered) {
            ObjectNode j = members.addObject();
            boolean leader = v.isLeader(m.name());
            j.put("name", m.name());
            String role = leader ? "leader"
                    : syncActive && v.sync().standbys().contains(m.name()) ? "sync_standby" : "replica";
            j.put("role", role);
            // A streaming replica shows how it replicates rather than just "running".
            j.put("state", !leader && m.isRunning() && m.replicationState() != null ? m.replicationState()
                    : m.state());
            if (m.apiUrl() != null) {
                j.put("api_url", m.apiUrl());
            }
            Optional<HostPort> hp = m.postgresAddress();
            if (hp.isPresent()) {
                j.put("host", hp.get().host());
                j.put("port", hp.get().port());
            }
            if (m.timeline() > 0) {
                j.put("timeline", m.timeline());
            }
            ObjectNode tags = RestJson.MAPPER.valueToTree(m.tags().toPatroni());
            if (!tags.isEmpty()) {
                j.set("tags", tags);
            }
            if (m.pendingRestart()) {
                j.put("pending_restart", true);
                // As Patroni's /cluster lists them: the member key's fields, as the member wrote them.
                Object reason = m.extra().get("pending_restart_reason");
                if (reason != null) {
                    j.set("pending_restart_reason", RestJson.MAPPER.valueToTree(reason));
                }
            }
            Object scheduledRestart = m.extra().get("scheduled_restart");
            if (scheduledRestart != null) {
                j.set("scheduled_restart", RestJson.MAPPER.valueToTree(scheduledRestart));
            }
            if (m.draining()) {
                // pgha's own field (Patroni's clients ignore it): a routing DataSource on REST URLs holds new writes.
                j.put("pgha_draining", true);
            }
            if (!leader) {
                Lsn pos = m.walPosition();
                if (pos == null) {
                    j.put("lag", "unknown");
                } else {
                    j.put("lag", optime == null ? 0 : Math.max(0, optime.minus(pos)));
                }
            }
        }
        if (v.config().pause()) {
            o.put("pause", true);
        }
        FailoverRequest f = v.failover();
        if (!f.isEmpty() && f.scheduledAt() != null) {
            ObjectNode s = o.putObject("scheduled_switchover");
            s.put("at", f.scheduledAt().toString());
            if (f.leader() != null) {
                s.put("from", f.leader());
            }
            if (f.candidate() != null) {
                s.put("to", f.candidate());
            }
        }
        o.put("scope", scope);
        return o;
    }

    /** {@code [[timeline, switch_lsn, reason, timestamp, new_leader], ...]}. */
    static ArrayNode history(TimelineHistory h) {
        ArrayNode a = RestJson.MAPPER.createArrayNode();
        for (TimelineHistory.Entry e : h.entries()) {
            ArrayNode row = a.addArray();
            row.add(e.timeline());
            row.add(e.switchLsn().value());
            row.add(e.reason());
            row.add(e.timestamp());
            row.add(e.newLeader());
        }
        return a;
    }
}
