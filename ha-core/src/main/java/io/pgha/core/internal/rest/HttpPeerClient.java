package io.pgha.core.internal.rest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.cluster.Lsn;
import io.pgha.core.cluster.Member;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.Tags;
import io.pgha.core.internal.ha.FailsafeRound;
import io.pgha.core.internal.ha.PeerClient;
import io.pgha.core.internal.ha.PeerStatus;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The production {@link PeerClient}: other members' REST APIs over HTTP or HTTPS, as their {@code api_url} says
 * (JDK {@link HttpClient}).
 *
 * <p>Every round asks all members at once and waits for all of them together for at most the given timeout; a
 * member that has not answered by then is simply absent (status) or counted as refusing (failsafe). So one
 * blackholed peer costs the HA cycle one timeout, not one per peer.
 */
public final class HttpPeerClient implements PeerClient, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(HttpPeerClient.class);

    private final String prefix;
    /** Replaced by a reload of the REST API's own credentials when the peers are sent those. */
    private volatile Credentials credentials;
    private final ExecutorService executor;
    private final HttpClient http;

    /**
     * @param scope       cluster name (for log lines)
     * @param member      this member's name (for log lines)
     * @param credentials basic-auth credentials for the peers' mutating endpoints ({@code POST /failsafe}); null
     *                    when the peers demand none. Patroni uses {@code ctl} credentials, falling back to the
     *                    {@code restapi} ones: pass whichever applies.
     * @param tls         the TLS context for {@code https://} peers (client certificate and trusted CAs); null for
     *                    the JDK's default
     */
    public HttpPeerClient(String scope, String member, Credentials credentials, SSLContext tls) {
        this.prefix = scope + "/" + member + " - ";
        this.credentials = credentials;
        AtomicInteger n = new AtomicInteger();
        this.executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "pgha-peers-" + member + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        HttpClient.Builder b = HttpClient.newBuilder();
        if (tls != null) {
            b.sslContext(tls);
        }
        this.http = b
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(2))
                .followRedirects(HttpClient.Redirect.NEVER)
                .executor(executor)
                .build();
    }

    /** The credentials sent from the next request on (null: none); a reload changed the ones this client sends. */
    public void useCredentials(Credentials c) {
        credentials = c;
    }

    @Override
    public Map<String, PeerStatus> fetchStatus(Collection<Member> members, Duration timeout) {
        Map<String, CompletableFuture<HttpResponse<String>>> calls = new LinkedHashMap<>();
        for (Member m : members) {
            Optional<URI> uri = uri(m.apiUrl(), null);
            if (uri.isEmpty()) {
                continue;
            }
            HttpRequest.Builder req = HttpRequest.newBuilder(uri.get()).timeout(timeout).GET()
                    .header("Accept", "application/json");
            Credentials c = credentials;
            if (c != null) {
                req.header("Authorization", c.header());
            }
            calls.put(m.name(), http.sendAsync(req.build(), HttpResponse.BodyHandlers.ofString()));
        }
        awaitAll(calls.values(), timeout);
        Map<String, PeerStatus> out = new TreeMap<>();
        calls.forEach((name, f) -> answer(name, f).ifPresent(resp -> {
            if (resp.statusCode() != 200) {
                LOG.debug("{}GET status of {}: HTTP {}", prefix, name, resp.statusCode());
                return;
            }
            try {
                parseStatus(name, RestJson.MAPPER.readTree(resp.body())).ifPresent(s -> out.put(name, s));
            } catch (IOException | RuntimeException e) {
                LOG.debug("{}GET status of {}: unreadable answer: {}", prefix, name, e.getMessage());
            }
        }));
        return out;
    }

    @Override
    public FailsafeRound confirmFailsafe(Collection<Member> members, Member self, long sentAtNanos,
            Duration timeout) {
        ObjectNode body = RestJson.MAPPER.createObjectNode();
        body.put("name", self.name());
        if (self.connUrl() != null) {
            body.put("conn_url", self.connUrl());
        }
        if (self.apiUrl() != null) {
            body.put("api_url", self.apiUrl());
        }
        byte[] payload = RestJson.bytes(body);
        List<String> asked = new ArrayList<>();
        Map<String, CompletableFuture<HttpResponse<String>>> calls = new LinkedHashMap<>();
        for (Member m : members) {
            asked.add(m.name());
            Optional<URI> uri = uri(m.apiUrl(), "/failsafe");
            if (uri.isEmpty()) {
                continue;
            }
            HttpRequest.Builder req = HttpRequest.newBuilder(uri.get()).timeout(timeout)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(payload));
            Credentials c = credentials;
            if (c != null) {
                req.header("Authorization", c.header());
            }
            calls.put(m.name(), http.sendAsync(req.build(), HttpResponse.BodyHandlers.ofString()));
        }
        awaitAll(calls.values(), timeout);
        List<String> refused = new ArrayList<>();
        for (String name : asked) {
            CompletableFuture<HttpResponse<String>> f = calls.get(name);
            Optional<HttpResponse<String>> resp = f == null ? Optional.empty() : answer(name, f);
            // Only an explicit 200 confirms: a 500 is another running primary, anything else is no answer.
            if (resp.isEmpty() || resp.get().statusCode() != 200) {
                refused.add(name);
                LOG.info("{}failsafe: {} did not confirm ({})", prefix, name, resp.isEmpty() ? "no answer"
                        : "HTTP " + resp.get().statusCode() + " " + abbreviate(resp.get().body()));
            }
        }
        return new FailsafeRound(sentAtNanos, asked, refused);
    }

    /**
     * Reads a {@code GET /patroni} document as Patroni's leader race does: no {@code xlog} (or {@code wal}) object
     * means PostgreSQL does not answer, reported as not running; {@code xlog.location} or role primary means not
     * in recovery; a replica's position is max(received, replayed). Empty when the document is not a status.
     */
    public static Optional<PeerStatus> parseStatus(String name, JsonNode doc) {
        if (doc == null || !doc.isObject()) {
            return Optional.empty();
        }
        JsonNode wal = doc.get("wal");
        if (wal == null || !wal.isObject()) {
            wal = doc.get("xlog");
        }
        Tags tags;
        try {
            JsonNode t = doc.get("tags");
            tags = t == null || !t.isObject() ? Tags.DEFAULT : Tags.fromPatroni(RestJson.toMap(t));
        } catch (IllegalArgumentException e) {
            tags = Tags.DEFAULT;
        }
        String role = doc.path("role").asText("");
        boolean primaryRole = role.equals("primary") || role.equals("master");
        int timeline = doc.path("timeline").asInt(0);
        if (wal == null || !wal.isObject()) {
            return Optional.of(new PeerStatus(name, false, !primaryRole, null, timeline, tags.nofailover(),
                    tags.failoverPriority()));
        }
        Lsn location = lsn(wal.get("location"));
        boolean inRecovery = !((location != null && location.value() > 0) || primaryRole);
        boolean replayPaused = inRecovery && wal.path("paused").asBoolean(false);
        Lsn replayed = lsn(wal.get("replayed_location"));
        Lsn position = !inRecovery ? location : replayPaused ? replayed
                : Lsn.max(lsn(wal.get("received_location")), replayed);
        boolean running = "running".equals(doc.path("state").asText(""));
        return Optional.of(new PeerStatus(name, running, inRecovery, position, timeline, tags.nofailover(),
                tags.failoverPriority(), replayPaused, doc.path("pause").asBoolean(false)));
    }

    private static Lsn lsn(JsonNode v) {
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.canConvertToLong() && v.isIntegralNumber() && v.longValue() >= 0) {
            return Lsn.of(v.longValue());
        }
        if (v.isTextual()) {
            try {
                return Lsn.parse(v.textValue());
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
        return null;
    }

    /** {@code api_url} as published ({@code .../patroni}), or its root joined with {@code path}. */
    private Optional<URI> uri(String apiUrl, String path) {
        if (apiUrl == null || apiUrl.isBlank()) {
            return Optional.empty();
        }
        try {
            URI u = URI.create(apiUrl.trim());
            if (u.getHost() == null || u.getScheme() == null) {
                return Optional.empty();
            }
            return Optional.of(path == null ? u : u.resolve(path));
        } catch (IllegalArgumentException e) {
            LOG.debug("{}ignoring a malformed api_url '{}': {}", prefix, apiUrl, e.getMessage());
            return Optional.empty();
        }
    }

    /** Waits for all calls together, at most {@code timeout}; the stragglers are cancelled. */
    private static void awaitAll(Collection<CompletableFuture<HttpResponse<String>>> calls, Duration timeout) {
        if (calls.isEmpty()) {
            return;
        }
        CompletableFuture<Void> all = CompletableFuture.allOf(calls.stream()
                .map(f -> f.handle((r, e) -> null)).toArray(CompletableFuture[]::new));
        try {
            all.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            // the ones that answered are used; see answer()
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            throw new IllegalStateException("unreachable: failures are handled per call", e);
        } finally {
            calls.forEach(f -> f.cancel(true));
        }
    }

    private Optional<HttpResponse<String>> answer(String name, CompletableFuture<HttpResponse<String>> f) {
        if (!f.isDone() || f.isCancelled()) {
            LOG.debug("{}{} did not answer in time", prefix, name);
            return Optional.empty();
        }
        try {
            return Optional.of(f.join());
        } catch (RuntimeException e) {
            LOG.debug("{}{} is unreachable: {}", prefix, name, e.getMessage());
            return Optional.empty();
        }
    }

    private static String abbreviate(String s) {
        String t = s == null ? "" : s.strip();
        return t.length() > 80 ? t.substring(0, 80) + "..." : t;
    }

    /** Ends the client's threads. In-flight requests fail. */
    @Override
    public void close() {
        executor.shutdownNow();
    }

    @Override
    public String toString() {
        return "HttpPeerClient[" + prefix.substring(0, prefix.length() - 3) + (credentials == null ? ""
                : ", " + credentials) + "]";
    }
}
