package io.pgha.examples.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Watches the members through their REST API ({@code GET /patroni}, every 100 ms) and puts what it sees on the
 * timeline as it sees it: who leads, who streams from whom, who is the synchronous standby, who got promoted. The
 * times are when an answer showed the change, so they are late by at most one poll.
 */
final class ClusterWatch implements AutoCloseable {

    private static final long POLL_MS = 100;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One member's last answer. */
    record Status(boolean reachable, String role, String state, int timeline, boolean syncStandby,
            Map<String, String> replication) {
        static final Status UNREACHABLE = new Status(false, "unknown", "unreachable", 0, false, Map.of());

        /**
         * PostgreSQL answers and is not in recovery. The role alone is not enough: a member reports the role its
         * data directory implies also while PostgreSQL is down, starting or still being created.
         */
        boolean primary() {
            return reachable && "primary".equals(role) && "running".equals(state) && timeline > 0;
        }
    }

    private final List<MemberProcess> members;
    private final Timeline timeline;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofMillis(500)).build();
    private final Thread thread;
    private volatile boolean closed;

    // Guarded by this.
    private final Map<String, Status> status = new HashMap<>();
    private final Set<String> killed = new HashSet<>();
    private final Set<String> announced = new HashSet<>();
    private String leader;
    private int leadersSeen;
    private final Map<String, Long> becameLeaderAt = new HashMap<>();
    private String failure;

    ClusterWatch(List<MemberProcess> members, Timeline timeline) {
        this.members = List.copyOf(members);
        this.timeline = timeline;
        members.forEach(m -> status.put(m.name, Status.UNREACHABLE));
        thread = new Thread(this::run, "pgha-demo-watch");
        thread.setDaemon(true);
        thread.start();
    }

    private void run() {
        while (!closed) {
            long round = System.nanoTime();
            Map<String, CompletableFuture<Status>> answers = new LinkedHashMap<>();
            for (MemberProcess m : members) {
                answers.put(m.name, poll(m));
            }
            Map<String, Status> now = new LinkedHashMap<>();
            answers.forEach((name, f) -> {
                try {
                    now.put(name, f.get(2, TimeUnit.SECONDS));
                } catch (Exception e) {
                    now.put(name, Status.UNREACHABLE);
                }
            });
            observe(now, timeline.now());
            long left = POLL_MS - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - round);
            if (left > 0) {
                try {
                    Thread.sleep(left);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    private CompletableFuture<Status> poll(MemberProcess m) {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + m.restPort + "/patroni"))
                .timeout(Duration.ofSeconds(1)).GET().build();
        return http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).thenApply(r -> {
            if (r.statusCode() != 200) {
                return Status.UNREACHABLE;
            }
            try {
                JsonNode j = JSON.readTree(r.body());
                Map<String, String> repl = new LinkedHashMap<>();
                for (JsonNode row : j.path("replication")) {
                    repl.put(row.path("application_name").asText(), row.path("state").asText() + "/"
                            + row.path("sync_state").asText());
                }
                return new Status(true, j.path("role").asText("unknown"), j.path("state").asText("unknown"),
                        j.path("timeline").asInt(0), j.path("sync_standby").asBoolean(false), repl);
            } catch (Exception e) {
                return Status.UNREACHABLE;
            }
        }).exceptionally(e -> Status.UNREACHABLE);
    }

    private synchronized void observe(Map<String, Status> now, long at) {
        status.putAll(now);
        for (MemberProcess m : members) {
            if (!killed.contains(m.name) && m.agent().isPresent() && !m.agentAlive() && failure == null) {
                failure = "the agent of " + m.name + " exited (code " + m.agent().get().exitValue() + "): "
                        + m.lastLogLine();
            }
        }
        List<String> primaries = members.stream().map(m -> m.name)
                .filter(n -> !killed.contains(n) && status.get(n).primary()).toList();
        if (primaries.size() > 1 && announced.add("two primaries " + primaries)) {
            timeline.event(at, "WARNING: " + String.join(" and ", primaries) + " both run as primary");
        }
        if (!primaries.isEmpty() && !primaries.contains(leader)) {
            String p = primaries.get(0);
            leader = p;
            becameLeaderAt.put(p, at);
            timeline.event(at, leadersSeen++ == 0 ? p + " leads (bootstrapped a new cluster)"
                    : p + " promoted (timeline " + status.get(p).timeline() + ")");
        }
        if (leader == null || killed.contains(leader)) {
            return;
        }
        Status l = status.get(leader);
        l.replication().forEach((replica, stateAndSync) -> {
            if (stateAndSync.startsWith("streaming/") && announced.add("stream " + leader + " " + replica)) {
                timeline.event(at, killed.isEmpty() ? replica + " cloned from " + leader + ", streaming"
                        : replica + " streaming from " + leader);
            }
        });
        for (MemberProcess m : members) {
            Status s = status.get(m.name);
            if (s.syncStandby() && !m.name.equals(leader) && announced.add("sync " + leader + " " + m.name)) {
                timeline.event(at, m.name + " is the synchronous standby: commits on " + leader + " wait for it");
            }
        }
    }

    /** The member that runs as primary now, unless it was killed. */
    synchronized Optional<String> leader() {
        return leader == null || killed.contains(leader) || !status.get(leader).primary() ? Optional.empty()
                : Optional.of(leader);
    }

    /** When {@code member} was first seen leading (monotonic nanos). */
    synchronized Optional<Long> becameLeaderAt(String member) {
        return Optional.ofNullable(becameLeaderAt.get(member));
    }

    /** The member listed as synchronous standby of the current leader, if any. */
    synchronized Optional<String> syncStandby() {
        if (leader == null) {
            return Optional.empty();
        }
        return members.stream().map(m -> m.name).filter(n -> !n.equals(leader) && !killed.contains(n)
                && status.get(n).syncStandby()).findFirst();
    }

    /** Whether the current leader reports {@code replica} streaming from it. */
    synchronized boolean streaming(String replica) {
        return leader != null && status.get(leader).replication().getOrDefault(replica, "").startsWith("streaming/");
    }

    synchronized Status status(String member) {
        return status.get(member);
    }

    /** An agent that exited on its own (not killed by the demo), with its last log line. */
    synchronized Optional<String> failure() {
        return Optional.ofNullable(failure);
    }

    /** From now on {@code member}'s death is expected and it no longer counts as leader. */
    synchronized void markKilled(String member) {
        killed.add(member);
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(3000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
