package io.pgha.jdbc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgha.core.cluster.Role;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * One {@code GET /cluster} answer in Patroni's shape (pgha's REST API serves the same): the leader, its timeline and
 * the members with an address. {@code /cluster} carries no leader-key version, so the epoch is derived by the
 * source (docs/decisions 0806).
 *
 * @param scope          the {@code scope} field; null when the server does not say (older Patroni)
 * @param leader         the member whose role is {@code leader}; null when none is
 * @param leaderTimeline that member's {@code timeline}; 0 when absent
 */
record ClusterDocument(String scope, String leader, long leaderTimeline, Map<String, Topology.Node> members) {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    /** States in which PostgreSQL accepts connections; a streaming replica shows how it replicates. */
    private static final Set<String> RUNNING = Set.of("running", "streaming", "in archive recovery");

    ClusterDocument {
        members = Map.copyOf(members);
    }

    /**
     * @throws IOException when {@code body} is not JSON or has no {@code members} array
     */
    static ClusterDocument parse(byte[] body) throws IOException {
        JsonNode root = MAPPER.readTree(body);
        if (root == null || !root.path("members").isArray()) {
            throw new IOException("not a /cluster document (no members array)");
        }
        String leader = null;
        long timeline = 0;
        Map<String, Topology.Node> nodes = new HashMap<>();
        for (JsonNode m : root.get("members")) {
            String name = m.path("name").asText(null);
            if (name == null) {
                continue;
            }
            String role = m.path("role").asText("");
            boolean isLeader = role.equals("leader");
            if (isLeader) {
                leader = name;
                timeline = m.path("timeline").asLong(0);
            }
            String host = m.path("host").asText(null);
            int port = m.path("port").asInt(0);
            if (host == null || host.isEmpty() || port <= 0) {
                continue; // nothing to connect to
            }
            Role r = isLeader ? Role.PRIMARY : role.equals("standby_leader") ? Role.STANDBY_LEADER : Role.REPLICA;
            JsonNode lag = m.path("lag");
            Long lagBytes = isLeader ? Long.valueOf(0) : lag.isIntegralNumber() ? Long.valueOf(lag.asLong()) : null;
            nodes.put(name, new Topology.Node(name, host, port, r, RUNNING.contains(m.path("state").asText("")),
                    lagBytes, m.path("pgha_draining").asBoolean(false)));
        }
        return new ClusterDocument(root.path("scope").asText(null), leader, timeline, nodes);
    }
}
