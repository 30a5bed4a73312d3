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
import io.pgha.core.spi.DaemonThreadFactory;
import io.pgha.core.spi.http.HttpTransport;
import io.pgha.core.spi.http.HttpTransport.Attempt;
import io.pgha.core.spi.http.HttpTransport.Kind;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The production {@link PeerClient}: other members' REST APIs over HTTP or HTTPS, as their {@code api_url} says,
 * through ha-core's blocking {@link HttpTransport} (decision 0311).
 *
 * <p>Every round asks all members at once and waits for all of them together for at most the given timeout; a
 * member that has not answered by then is simply absent (status) or counted as refusing (failsafe). So one
 * blackholed peer costs the HA cycle one timeout, not one per peer.
 *
 * <p>Peers are asked only around failovers, switchovers and store outages, so an idle member should pay nothing
 * for this client: the calls run on threads that exist only while calls run (none kept after
 * {@value #IDLE_THREAD_SECONDS} s without a call), and the TLS stack is loaded only when a TLS context is given or
 * an {@code https://} peer is first asked.
 */
public final class HttpPeerClient implements PeerClient, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(HttpPeerClient.class);

    /** How long a call thread waits for the next call before it ends. */
    static final int IDLE_THREAD_SECONDS = 5;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);

    private final String prefix;
    /** Replaced by a reload of the REST API's own credentials when the peers are sent those. */
    private volatile Credentials credentials;
    private final ThreadPoolExecutor executor;
    private final HttpTransport http;

    /**
     * @param scope       cluster name (for log lines)
     * @param member      this member's name (for log lines)
     * @param credentials basic-auth credentials for the peers' mutating endpoints ({@code POST /failsafe}); null
     *                    when the peers demand none. Patroni uses {@code ctl} credentials, falling back to the
     *                    {@code restapi} ones: pass whichever applies.
     * @param tls         the TLS context for {@code https://} peers (client certificate and trusted CAs); null for
     *                    the JDK's default, created when an {@code https://} peer is first asked
     */
    public HttpPeerClient(String scope, String member, Credentials credentials, SSLContext tls) {
        this(scope, member, credentials, tls, Duration.ofSeconds(IDLE_THREAD_SECONDS));
    }

    /** @param idleThread how long a call thread waits for the next call before it ends (tests shorten it) */
    HttpPeerClient(String scope, String member, Credentials credentials, SSLContext tls, Duration idleThread) {
        this.prefix = scope + "/" + member + " - ";
        this.credentials = credentials;
        // No core thread: an idle member keeps none; a round starts one thread per peer it asks at once.
        this.executor = new ThreadPoolExecutor(0, Integer.MAX_VALUE, idleThread.toNanos(), TimeUnit.NANOSECONDS,
                new SynchronousQueue<>(), new DaemonThreadFactory("pgha-peers-" + member));
        this.http = new HttpTransport(tls, CONNECT_TIMEOUT);
    }

    /** The credentials sent from the next request on (null: none); a reload changed the ones this client sends. */
    public void useCredentials(Credentials c) {
        credentials = c;
    }

    @Override
    public Map<String, PeerStatus> fetchStatus(Collection<Member> members, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<String, CompletableFuture<Attempt>> calls = new LinkedHashMap<>();
        for (Member m : members) {
            Optional<URI> uri = uri(m.apiUrl(), null);
            if (uri.isEmpty()) {
                continue;
            }
            calls.put(m.name(), call(uri.get(), "GET", null, deadline));
        }
        awaitAll(calls.values(), deadline);
        Map<String, PeerStatus> out = new TreeMap<>();
        calls.forEach((name, f) -> answer(name, f).ifPresent(resp -> {
            if (resp.status() != 200) {
                LOG.debug("{}GET status of {}: HTTP {}", prefix, name, resp.status());
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
        long deadline = System.nanoTime() + timeout.toNanos();
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
        Map<String, CompletableFuture<Attempt>> calls = new LinkedHashMap<>();
        for (Member m : members) {
            asked.add(m.name());
            Optional<URI> uri = uri(m.apiUrl(), "/failsafe");
            if (uri.isEmpty()) {
                continue;
            }
            calls.put(m.name(), call(uri.get(), "POST", payload, deadline));
        }
        awaitAll(calls.values(), deadline);
        List<String> refused = new ArrayList<>();
        for (String name : asked) {
            CompletableFuture<Attempt> f = calls.get(name);
            Optional<Attempt> resp = f == null ? Optional.empty() : answer(name, f);
            // Only an explicit 200 confirms: a 500 is another running primary, anything else is no answer.
            if (resp.isEmpty() || resp.get().status() != 200) {
                refused.add(name);
                LOG.info("{}failsafe: {} did not confirm ({})", prefix, name, resp.isEmpty() ? "no answer"
                        : "HTTP " + resp.get().status() + " " + abbreviate(resp.get().body()));
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
            String scheme = u.getScheme().toLowerCase(Locale.ROOT);
            if (!scheme.equals("http") && !scheme.equals("https")) {
                LOG.debug("{}ignoring an api_url that is not http or https: '{}'", prefix, apiUrl);
                return Optional.empty();
            }
            return Optional.of(path == null ? u : u.resolve(path));
        } catch (IllegalArgumentException e) {
            LOG.debug("{}ignoring a malformed api_url '{}': {}", prefix, apiUrl, e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * One request on a call thread, its answer read by {@code deadline} (a nanoTime). Failsafe pings may be sent
     * twice on a kept connection the peer had closed: a second ping says no more than the first.
     */
    private CompletableFuture<Attempt> call(URI uri, String method, byte[] body, long deadline) {
        String target = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        if (uri.getRawQuery() != null) {
            target += "?" + uri.getRawQuery();
        }
        String t = target;
        // Kept connections are pooled per endpoint: one for the member, whatever the path.
        URI endpoint = URI.create(uri.getScheme() + "://" + uri.getRawAuthority());
        Credentials c = credentials;
        String auth = c == null ? null : c.header();
        try {
            return CompletableFuture.supplyAsync(() -> http.exchange(endpoint, method, t, body, auth,
                    Math.max(1, deadline - System.nanoTime()), true), executor);
        } catch (RejectedExecutionException e) {
            // closed
            return CompletableFuture.completedFuture(Attempt.failed(Kind.NOT_SENT,
                    new IOException("the peer client is closed")));
        }
    }

    /**
     * Waits for all calls together until {@code deadline}. A call still running then ends by the same deadline on
     * its own (each read is bounded by it); its answer is not used.
     */
    private static void awaitAll(Collection<CompletableFuture<Attempt>> calls, long deadline) {
        if (calls.isEmpty()) {
            return;
        }
        CompletableFuture<Void> all = CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new));
        try {
            all.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            // the ones that answered are used; see answer()
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            throw new IllegalStateException("unreachable: exchanges report failures in their attempt", e);
        }
    }

    private Optional<Attempt> answer(String name, CompletableFuture<Attempt> f) {
        if (!f.isDone()) {
            LOG.debug("{}{} did not answer in time", prefix, name);
            return Optional.empty();
        }
        Attempt a = f.join();
        if (a.kind() == Kind.ANSWERED) {
            return Optional.of(a);
        }
        if (a.failure() instanceof SocketTimeoutException) {
            LOG.debug("{}{} did not answer in time", prefix, name);
        } else {
            LOG.debug("{}{} is unreachable: {}", prefix, name, a.failure());
        }
        return Optional.empty();
    }

    private static String abbreviate(byte[] body) {
        String t = body == null ? "" : new String(body, StandardCharsets.UTF_8).strip();
        return t.length() > 80 ? t.substring(0, 80) + "..." : t;
    }

    /** Closes the connections to peers (calls in flight fail at once) and ends the call threads. */
    @Override
    public void close() {
        http.close();
        executor.shutdownNow();
    }

    /** Call threads alive now, for tests. */
    int callThreads() {
        return executor.getPoolSize();
    }

    @Override
    public String toString() {
        return "HttpPeerClient[" + prefix.substring(0, prefix.length() - 3) + (credentials == null ? ""
                : ", " + credentials) + "]";
    }
}
