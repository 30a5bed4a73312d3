package io.pgha.dcs.consul.emulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.pgha.dcs.consul.emulator.EmulatorStore.ConsulError;
import io.pgha.dcs.consul.emulator.EmulatorStore.Entry;
import io.pgha.dcs.consul.emulator.EmulatorStore.Kv;
import io.pgha.dcs.consul.emulator.EmulatorStore.Result;
import io.pgha.dcs.consul.emulator.EmulatorStore.Session;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;

/**
 * <b>An emulator of Consul's HTTP API, not Consul.</b> An in-process HTTP server on 127.0.0.1 (JDK
 * {@code com.sun.net.httpserver}) that follows Consul's documented API for exactly what pgha's Consul adapter uses,
 * so the adapter can be tested on machines where no Consul binary can be installed. Behaviour was taken from
 * Consul's API documentation (Sessions, KV Store, Transactions, Blocking Queries, Consistency Modes) and, where the
 * documentation is silent, from reading Consul's state store; no Consul code is copied. What holds against the
 * emulator is verified against a real agent only when {@code ConsulDcsContractTest} runs with
 * {@code -Dpgha.consul.url=...}.
 *
 * <h2>What it emulates</h2>
 * One datacenter with one server that is also the agent (node {@code nodeName}):
 * <ul>
 *   <li>{@code PUT /v1/session/create|renew/:id|destroy/:id}, {@code GET /v1/session/info/:id|list|node/:node}:
 *       TTL between {@code sessionTtlMin} (10 s, like Consul's {@code session_ttl_min}) and 24 h; invalidation
 *       {@code TTL x sessionTtlMultiplier} (2, like Consul) after creation or the last renewal; renew answers 404 once
 *       the session is gone; {@code Behavior} release/delete; {@code LockDelay} (default 15 s, values under 1000 ns
 *       read as seconds, capped at 60 s) applied to every key an invalidated session held; {@code Checks} /
 *       {@code NodeChecks} ({@code serfHealth} only; default {@code [serfHealth]}, an empty list removes it).</li>
 *   <li>{@code GET/PUT/DELETE /v1/kv/:key}: single, {@code ?recurse}, {@code ?keys[&separator]}, {@code ?raw};
 *       base64 values; 404 when nothing matches; {@code ?acquire}, {@code ?release}, {@code ?cas}, {@code ?flags}
 *       (and 400 "Conflicting flags" when combined); DELETE with {@code ?recurse} or {@code ?cas}; CreateIndex,
 *       ModifyIndex, LockIndex, Session as in Consul's state store (a write that changes nothing keeps its index; a
 *       CAS delete of a missing key answers true).</li>
 *   <li>{@code PUT /v1/txn} with KV verbs only (set, cas, lock, unlock, get, get-or-empty, get-tree, check-index,
 *       check-session, check-not-exists, delete, delete-tree, delete-cas): atomic, 409 with per-operation errors.</li>
 *   <li>Blocking queries ({@code ?index}, {@code ?wait} up to 10 min, default 5 min, plus up to wait/16 jitter) on KV
 *       and session reads, with {@code X-Consul-Index} set as Consul sets it; {@code ?consistent} and {@code ?stale}
 *       accepted (one server: every read is consistent), both at once is a 400.</li>
 *   <li>ACLs (optional): one token with every right; no token is the anonymous token under {@code default_policy
 *       = deny} (403, lists filtered with {@code X-Consul-Results-Filtered-By-ACLs}, 409 in transactions); any other
 *       token is 403 "ACL not found".</li>
 *   <li>{@code ?dc=} other than the emulated datacenter: 500 "No path to datacenter".</li>
 * </ul>
 *
 * <h2>Fault hooks</h2>
 * {@link #stop()}/{@link #start()} restart the server on the same port keeping all data (sessions survive, as they
 * do in Consul's Raft state, and their timers restart at a full TTL x multiplier, as under a newly elected Consul
 * leader); {@link #agentLeave()} does what a graceful agent shutdown does to sessions (patroni#2070: the node leaves
 * and all its sessions are invalidated, whatever their checks); {@link #serfHealthCritical()} invalidates the sessions
 * that depend on {@code serfHealth}; {@link #destroySession(String)}.
 *
 * <h2>Observation</h2>
 * {@link Builder#onRequest(Consumer)} is told of every request when its answer is ready and before it is sent
 * ({@link Request}: method, path with its query as sent, the client's {@code User-Agent}, the status), so a test can
 * tell which calls a client made as soon as the client has its answers.
 *
 * <h2>Known gaps</h2>
 * No Raft, no followers, so no stale reads and no leader elections; no tombstone reaping; no namespaces, partitions,
 * catalog, health or agent endpoints; no ACL policies beyond all-or-nothing; only the newest Consul's rejection of
 * keys starting with '/' is emulated, not its character checks; timers use this JVM's clock.
 */
public final class ConsulEmulator implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_VALUE_SIZE = 512 * 1024;
    private static final int MAX_TXN_OPS = 64;
    private static final Duration DEFAULT_WAIT = Duration.ofMinutes(5);
    private static final Duration MAX_WAIT = Duration.ofMinutes(10);
    private static final Set<String> WRITE_VERBS = Set.of("set", "cas", "lock", "unlock", "delete", "delete-tree",
            "delete-cas");
    private static final Set<String> SESSION_FIELDS = Set.of("id", "name", "node", "checks", "nodechecks",
            "servicechecks", "lockdelay", "behavior", "ttl", "createindex", "modifyindex");

    private final Builder config;
    private final EmulatorStore store;
    private final ScheduledExecutorService timers;
    private final ExecutorService handlers;
    private final Object lifecycle = new Object();
    private HttpServer server;
    private int port;
    private boolean closed;

    private ConsulEmulator(Builder b) {
        this.config = b;
        AtomicInteger n = new AtomicInteger();
        this.timers = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "consul-emulator-timers"));
        this.handlers = Executors.newCachedThreadPool(r -> daemon(r, "consul-emulator-http-" + n.incrementAndGet()));
        this.store = new EmulatorStore(timers, b.sessionTtlMin, b.sessionTtlMultiplier, b.nodeName);
        this.port = b.port;
    }

    /** An emulator with Consul's defaults, listening on a free loopback port. */
    public static ConsulEmulator start() {
        return builder().start();
    }

    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------------------------------------ lifecycle

    /** The base URL, e.g. {@code http://127.0.0.1:40123}. */
    public URI url() {
        return URI.create((config.sslContext != null ? "https" : "http") + "://127.0.0.1:" + port);
    }

    public int port() {
        return port;
    }

    /** Starts serving again on the same port after {@link #stop()}, with every session's timer reset. */
    public void restart() {
        synchronized (lifecycle) {
            if (closed) {
                throw new IllegalStateException("the emulator is closed");
            }
            if (server != null) {
                return;
            }
            bind();
            store.startServing();
        }
    }

    /** Stops serving (connections are closed, blocking queries end); the data and sessions are kept. */
    public void stop() {
        synchronized (lifecycle) {
            if (server == null) {
                return;
            }
            store.stopServing();
            server.stop(0);
            server = null;
        }
    }

    public boolean isRunning() {
        synchronized (lifecycle) {
            return server != null;
        }
    }

    @Override
    public void close() {
        synchronized (lifecycle) {
            if (closed) {
                return;
            }
            closed = true;
            stop();
        }
        timers.shutdownNow();
        handlers.shutdownNow();
    }

    private void bind() {
        InetSocketAddress addr = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
        IOException last = null;
        // The old listening socket may linger for a moment after a stop; the port must stay the same.
        for (int attempt = 0; attempt < 50; attempt++) {
            try {
                HttpServer s;
                if (config.sslContext != null) {
                    HttpsServer https = HttpsServer.create(addr, 64);
                    https.setHttpsConfigurator(new HttpsConfigurator(config.sslContext));
                    s = https;
                } else {
                    s = HttpServer.create(addr, 64);
                }
                s.setExecutor(handlers);
                s.createContext("/", this::handle);
                s.start();
                server = s;
                port = s.getAddress().getPort();
                return;
            } catch (BindException e) {
                last = e;
                try {
                    Thread.sleep(50);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    break;
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        throw new UncheckedIOException("cannot bind the emulator to port " + port, last);
    }

    // ------------------------------------------------------------------------------------------------ fault hooks

    /** Destroys a session as {@code PUT /v1/session/destroy} would (keys handled by its Behavior, lock delay set). */
    public boolean destroySession(String id) {
        return store.invalidate(id);
    }

    /**
     * A graceful shutdown of the emulated agent ({@code consul leave}, SIGTERM): its node leaves the cluster and every
     * session of that node is invalidated, whatever its checks (patroni#2070). The HTTP API keeps answering, as a
     * restarted agent would. Returns the number of sessions invalidated.
     */
    public int agentLeave() {
        return store.invalidateNodeSessions();
    }

    /** The node's {@code serfHealth} check turns critical: sessions that list it are invalidated. */
    public int serfHealthCritical() {
        return store.invalidateSessionsWithCheck("serfHealth");
    }

    /** The ids of the live sessions. */
    public List<String> sessionIds() {
        return store.sessions().stream().map(Session::id).toList();
    }

    /** A live session as the emulator holds it. */
    public record SessionInfo(String id, String name, String behavior, String ttl, Duration lockDelay,
            List<String> checks, long lastRenewedNanos) {}

    public Optional<SessionInfo> session(String id) {
        Session s = store.session(id);
        Long renewed = store.lastRenewedNanos(id);
        if (s == null || renewed == null) {
            return Optional.empty();
        }
        return Optional.of(new SessionInfo(s.id(), s.name(), s.behavior(), s.ttl(), Duration.ofNanos(s.lockDelayNanos()),
                s.nodeChecks(), renewed));
    }

    /** A KV entry as the emulator holds it; {@code session} null when unlocked. */
    public record KvInfo(String key, byte[] value, String session, long lockIndex, long createIndex,
            long modifyIndex) {}

    public Optional<KvInfo> kv(String key) {
        store.lock.lock();
        try {
            Entry e = store.kv().entries.get(key);
            return e == null ? Optional.empty() : Optional.of(new KvInfo(e.key(), e.value().clone(), e.session(),
                    e.lockIndex(), e.createIndex(), e.modifyIndex()));
        } finally {
            store.lock.unlock();
        }
    }

    /** The current Raft-like index. */
    public long index() {
        return store.raftIndex();
    }

    // ------------------------------------------------------------------------------------------------ HTTP

    /** One request as the handlers see it. */
    private record Req(String method, String path, Map<String, String> params, String token, byte[] body,
            Headers headers) {

        boolean has(String p) {
            return params.containsKey(p);
        }

        String get(String p) {
            return params.get(p);
        }
    }

    /** One answer. */
    private record Resp(int status, byte[] body, String contentType, Map<String, String> headers) {
        static Resp json(int status, Object value) {
            try {
                return new Resp(status, JSON.writeValueAsBytes(value), "application/json", new LinkedHashMap<>());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        static Resp text(int status, String text) {
            return new Resp(status, text.getBytes(StandardCharsets.UTF_8), "text/plain; charset=utf-8",
                    new LinkedHashMap<>());
        }

        static Resp empty(int status) {
            return new Resp(status, new byte[0], null, new LinkedHashMap<>());
        }

        Resp with(String header, String value) {
            headers.put(header, value);
            return this;
        }
    }

    /**
     * One answered request: {@code uri} is the path and query as the client sent them (still percent-encoded),
     * {@code userAgent} its {@code User-Agent} header ("" without one).
     */
    public record Request(String method, String uri, String userAgent, int status) {}

    private enum Access { FULL, ANONYMOUS }

    private void handle(HttpExchange ex) {
        try (ex) {
            Resp r;
            try {
                byte[] body;
                try (InputStream in = ex.getRequestBody()) {
                    body = in.readAllBytes();
                }
                r = route(parse(ex, body));
            } catch (ConsulError e) {
                r = Resp.text(e.status, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                r = Resp.text(500, "interrupted");
            } catch (RuntimeException e) {
                r = Resp.text(500, "emulator error: " + e);
            }
            Headers h = ex.getResponseHeaders();
            if (r.contentType() != null) {
                h.set("Content-Type", r.contentType());
            }
            r.headers().forEach(h::set);
            tell(ex, r.status());
            ex.sendResponseHeaders(r.status(), r.body().length == 0 ? -1 : r.body().length);
            if (r.body().length > 0) {
                ex.getResponseBody().write(r.body());
            }
        } catch (IOException e) {
            // The client went away (or the server was stopped under a blocking query): nothing to answer.
        }
    }

    private void tell(HttpExchange ex, int status) {
        if (config.onRequest != null) {
            String agent = ex.getRequestHeaders().getFirst("User-Agent");
            config.onRequest.accept(new Request(ex.getRequestMethod().toUpperCase(Locale.ROOT),
                    ex.getRequestURI().toString(), agent == null ? "" : agent, status));
        }
    }

    private Req parse(HttpExchange ex, byte[] body) throws ConsulError {
        String rawPath = ex.getRequestURI().getRawPath();
        String path = URLDecoder.decode(rawPath.replace("+", "%2B"), StandardCharsets.UTF_8);
        Map<String, String> params = new LinkedHashMap<>();
        String q = ex.getRequestURI().getRawQuery();
        if (q != null && !q.isEmpty()) {
            for (String kv : q.split("&")) {
                if (kv.isEmpty()) {
                    continue;
                }
                int eq = kv.indexOf('=');
                String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
                String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
                params.putIfAbsent(k, v);
            }
        }
        String token = ex.getRequestHeaders().getFirst("X-Consul-Token");
        if (token == null) {
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
                token = auth.substring(7).trim();
            }
        }
        if (token == null) {
            token = params.get("token");
        }
        return new Req(ex.getRequestMethod().toUpperCase(Locale.ROOT), path, params, token, body,
                ex.getRequestHeaders());
    }

    private Resp route(Req r) throws ConsulError, InterruptedException {
        if (r.has("dc") && !r.get("dc").equals(config.datacenter)) {
            throw new ConsulError(500, "No path to datacenter");
        }
        Access access = access(r);
        if (r.has("stale") && r.has("consistent")) {
            throw new ConsulError(400, "Cannot specify ?stale with ?consistent, conflicting semantics.");
        }
        String p = r.path();
        if (p.startsWith("/v1/kv/") || p.equals("/v1/kv")) {
            String key = p.length() > "/v1/kv/".length() ? p.substring("/v1/kv/".length()) : "";
            return switch (r.method()) {
                case "GET" -> kvGet(r, key, access);
                case "PUT" -> kvPut(r, key, access);
                case "DELETE" -> kvDelete(r, key, access);
                default -> methodNotAllowed(r);
            };
        }
        if (p.equals("/v1/txn")) {
            return r.method().equals("PUT") ? txn(r, access) : methodNotAllowed(r);
        }
        if (p.equals("/v1/session/create")) {
            return r.method().equals("PUT") ? sessionCreate(r, access) : methodNotAllowed(r);
        }
        if (p.startsWith("/v1/session/renew/") || p.equals("/v1/session/renew")) {
            return r.method().equals("PUT") ? sessionRenew(r, tail(p, "/v1/session/renew/"), access)
                    : methodNotAllowed(r);
        }
        if (p.startsWith("/v1/session/destroy/") || p.equals("/v1/session/destroy")) {
            return r.method().equals("PUT") ? sessionDestroy(tail(p, "/v1/session/destroy/"), access)
                    : methodNotAllowed(r);
        }
        if (p.startsWith("/v1/session/info/")) {
            return r.method().equals("GET") ? sessionRead(r, access, tail(p, "/v1/session/info/"), null)
                    : methodNotAllowed(r);
        }
        if (p.equals("/v1/session/list")) {
            return r.method().equals("GET") ? sessionRead(r, access, null, null) : methodNotAllowed(r);
        }
        if (p.startsWith("/v1/session/node/")) {
            return r.method().equals("GET") ? sessionRead(r, access, null, tail(p, "/v1/session/node/"))
                    : methodNotAllowed(r);
        }
        if (p.equals("/v1/status/leader")) {
            return Resp.json(200, "127.0.0.1:8300");
        }
        return Resp.text(404, "404 page not found");
    }

    private static String tail(String path, String prefix) {
        return path.length() > prefix.length() ? path.substring(prefix.length()) : "";
    }

    private static Resp methodNotAllowed(Req r) {
        return Resp.text(405, "method " + r.method() + " not allowed");
    }

    /** ACLs off: everyone has every right. On: the configured token has them all, no token is anonymous (deny). */
    private Access access(Req r) throws ConsulError {
        if (config.aclToken == null) {
            return Access.FULL;
        }
        if (r.token() == null || r.token().isEmpty() || r.token().equals("anonymous")) {
            return Access.ANONYMOUS;
        }
        if (!r.token().equals(config.aclToken)) {
            throw new ConsulError(403, "ACL not found");
        }
        return Access.FULL;
    }

    private static void requireWrite(Access a) throws ConsulError {
        if (a != Access.FULL) {
            throw new ConsulError(403, "Permission denied");
        }
    }

    // ------------------------------------------------------------------------------------------------ KV endpoint

    private static void validateKey(String key) throws ConsulError {
        if (key.startsWith("/")) {
            throw new ConsulError(400, "key must not begin with a '/'");
        }
    }

    private Resp kvGet(Req r, String key, Access access) throws ConsulError, InterruptedException {
        validateKey(key);
        boolean keys = r.has("keys");
        boolean recurse = r.has("recurse") || keys;
        if (!recurse && key.isEmpty()) {
            throw new ConsulError(400, "Missing key name");
        }
        if (!recurse && access != Access.FULL) {
            throw new ConsulError(403, "Permission denied");
        }
        long minIndex = index(r);
        long deadline = deadline(r);
        Result<Object> res = store.blocking(minIndex, deadline, () -> {
            Kv kv = store.kv();
            if (!recurse) {
                Entry e = kv.entries.get(key);
                long idx = e != null ? e.modifyIndex() : Math.max(1, kv.tableIndex);
                return new Result<>(idx, e, kv.lastChange(key));
            }
            List<Entry> es = kv.under(key);
            long sub = key.isEmpty() ? kv.tableIndex : kv.maxIndexUnder(key);
            long idx = sub != 0 ? sub : kv.tableIndex;
            return new Result<>(Math.max(1, idx), es, key.isEmpty() ? kv.tableIndex : kv.maxIndexUnder(key));
        });
        Resp out;
        if (!recurse) {
            Entry e = (Entry) res.value();
            if (e == null) {
                out = Resp.empty(404);
            } else if (r.has("raw")) {
                out = new Resp(200, e.value(), "text/plain", new LinkedHashMap<>());
            } else {
                out = Resp.json(200, List.of(entryJson(e, true)));
            }
        } else {
            @SuppressWarnings("unchecked")
            List<Entry> es = (List<Entry>) res.value();
            boolean filtered = access != Access.FULL && !es.isEmpty();
            if (access != Access.FULL) {
                es = List.of();
            }
            if (keys) {
                out = keyList(key, r.has("separator") ? r.get("separator") : r.get("seperator"), es);
            } else if (es.isEmpty()) {
                out = Resp.empty(404);
            } else {
                List<ObjectNode> list = new ArrayList<>();
                for (Entry e : es) {
                    list.add(entryJson(e, true));
                }
                out = Resp.json(200, list);
            }
            if (filtered) {
                out.with("X-Consul-Results-Filtered-By-ACLs", "true");
            }
        }
        return meta(out, res.index(), r);
    }

    private static Resp keyList(String prefix, String separator, List<Entry> es) {
        Set<String> out = new LinkedHashSet<>();
        for (Entry e : es) {
            if (separator == null || separator.isEmpty()) {
                out.add(e.key());
                continue;
            }
            String after = e.key().substring(prefix.length());
            int i = after.indexOf(separator);
            out.add(i < 0 ? e.key() : e.key().substring(0, prefix.length() + i + separator.length()));
        }
        if (out.isEmpty() && !prefix.isEmpty()) {
            return Resp.empty(404);
        }
        return Resp.json(200, new ArrayList<>(out));
    }

    private Resp kvPut(Req r, String key, Access access) throws ConsulError {
        if (key.isEmpty()) {
            throw new ConsulError(400, "Missing key name");
        }
        validateKey(key);
        conflicting(r, "cas", "acquire", "release");
        requireWrite(access);
        long flags = r.has("flags") ? unsigned(r.get("flags"), "flags") : 0;
        if (r.body().length > MAX_VALUE_SIZE) {
            throw new ConsulError(413, "Request body(" + r.body().length + " bytes) too large, max size: "
                    + MAX_VALUE_SIZE + " bytes.");
        }
        byte[] value = r.body();
        store.lock.lock();
        try {
            boolean ok;
            if (r.has("acquire")) {
                // The lock delay is checked before anything is applied, as Consul's KVS.Apply does.
                if (store.inLockDelay(key)) {
                    ok = false;
                } else {
                    Kv kv = store.kv();
                    ok = store.lockKey(kv, store.nextIndex(), key, value, flags, r.get("acquire"));
                }
            } else if (r.has("release")) {
                ok = EmulatorStore.unlockKey(store.kv(), store.nextIndex(), key, value, flags, r.get("release"));
            } else if (r.has("cas")) {
                ok = EmulatorStore.cas(store.kv(), store.nextIndex(), key, value, flags, unsigned(r.get("cas"), "cas"));
            } else {
                EmulatorStore.set(store.kv(), store.nextIndex(), key, value, flags);
                ok = true;
            }
            store.signal();
            return Resp.json(200, ok);
        } finally {
            store.lock.unlock();
        }
    }

    private Resp kvDelete(Req r, String key, Access access) throws ConsulError {
        validateKey(key);
        conflicting(r, "recurse", "cas");
        boolean recurse = r.has("recurse");
        if (!recurse && key.isEmpty()) {
            throw new ConsulError(400, "Missing key name");
        }
        requireWrite(access);
        store.lock.lock();
        try {
            boolean ok = true;
            long idx = store.nextIndex();
            if (r.has("cas")) {
                ok = EmulatorStore.deleteCas(store.kv(), idx, key, unsigned(r.get("cas"), "cas"));
            } else if (recurse) {
                EmulatorStore.deleteTree(store.kv(), idx, key);
            } else {
                store.kv().delete(key, idx);
            }
            store.signal();
            return Resp.json(200, ok);
        } finally {
            store.lock.unlock();
        }
    }

    private static void conflicting(Req r, String... flags) throws ConsulError {
        int found = 0;
        for (String f : flags) {
            if (r.has(f)) {
                found++;
            }
        }
        if (found > 1) {
            StringBuilder sb = new StringBuilder();
            r.params().forEach((k, v) -> sb.append(sb.length() == 0 ? "" : "&").append(k).append('=').append(v));
            throw new ConsulError(400, "Conflicting flags: " + sb + "\n");
        }
    }

    private static ObjectNode entryJson(Entry e, boolean withValue) {
        ObjectNode o = JSON.createObjectNode();
        o.put("LockIndex", e.lockIndex());
        o.put("Key", e.key());
        o.put("Flags", e.flags());
        if (withValue && e.value().length > 0) {
            o.put("Value", Base64.getEncoder().encodeToString(e.value()));
        } else {
            o.putNull("Value");
        }
        if (e.session() != null) {
            o.put("Session", e.session());
        }
        o.put("CreateIndex", e.createIndex());
        o.put("ModifyIndex", e.modifyIndex());
        return o;
    }

    // ------------------------------------------------------------------------------------------------ transactions

    /** One decoded KV operation of a transaction. */
    private record TxnOp(String verb, String key, byte[] value, long flags, long index, String session) {}

    private Resp txn(Req r, Access access) throws ConsulError {
        List<TxnOp> ops = new ArrayList<>();
        JsonNode body;
        try {
            body = JSON.readTree(r.body());
        } catch (IOException e) {
            throw new ConsulError(400, "Failed to parse body: " + e.getMessage());
        }
        if (body == null || !body.isArray()) {
            throw new ConsulError(400, "Failed to parse body: expected a JSON array of operations");
        }
        if (body.size() > MAX_TXN_OPS) {
            throw new ConsulError(413, "Transaction contains too many operations (" + body.size() + " > "
                    + MAX_TXN_OPS + ")");
        }
        for (JsonNode n : body) {
            JsonNode kv = field(n, "KV");
            if (kv == null) {
                throw new ConsulError(400, "emulator: only KV operations are supported in transactions");
            }
            JsonNode v = field(kv, "Value");
            byte[] value = null;
            if (v != null && !v.isNull()) {
                try {
                    value = Base64.getDecoder().decode(v.asText());
                } catch (IllegalArgumentException e) {
                    throw new ConsulError(400, "Failed to parse body: failed to decode value: " + e.getMessage());
                }
            }
            if (value != null && value.length > MAX_VALUE_SIZE) {
                throw new ConsulError(413, "Value for key " + EmulatorStore.quote(text(kv, "Key")) + " is too large");
            }
            ops.add(new TxnOp(text(kv, "Verb"), text(kv, "Key"), value == null ? new byte[0] : value,
                    number(kv, "Flags"), number(kv, "Index"), text(kv, "Session")));
        }
        boolean writes = ops.stream().anyMatch(o -> WRITE_VERBS.contains(o.verb()));

        store.lock.lock();
        try {
            // Pre-checks outside the "Raft apply", as Consul's Txn endpoint runs them: ACLs and lock delays.
            List<ObjectNode> errors = new ArrayList<>();
            for (int i = 0; i < ops.size(); i++) {
                TxnOp o = ops.get(i);
                boolean isRead = o.verb().equals("get") || o.verb().equals("get-tree")
                        || o.verb().equals("get-or-empty");
                if (access != Access.FULL && !isRead) {
                    errors.add(txnError(i, "Permission denied"));
                } else if (o.key().isEmpty() && !o.verb().equals("delete-tree")) {
                    errors.add(txnError(i, "Must provide key"));
                } else if (o.verb().equals("lock") && store.inLockDelay(o.key())) {
                    errors.add(txnError(i, "failed to lock key " + EmulatorStore.quote(o.key()) + " due to lock delay"));
                }
            }
            if (!errors.isEmpty()) {
                return txnAnswer(null, errors, writes, r);
            }
            Kv work = store.kv().copy();
            long idx = writes ? store.nextIndex() : 0;
            List<ObjectNode> results = new ArrayList<>();
            for (int i = 0; i < ops.size(); i++) {
                try {
                    results.addAll(apply(work, idx, ops.get(i), access));
                } catch (ConsulError e) {
                    // Consul keeps going after a failed operation and reports every failure.
                    errors.add(txnError(i, e.getMessage()));
                }
            }
            if (!errors.isEmpty()) {
                return txnAnswer(null, errors, writes, r);
            }
            if (writes) {
                store.commit(work);
            }
            return txnAnswer(results, null, writes, r);
        } finally {
            store.lock.unlock();
        }
    }

    private List<ObjectNode> apply(Kv t, long idx, TxnOp o, Access access) throws ConsulError {
        String k = o.key();
        String q = EmulatorStore.quote(k);
        Entry e;
        switch (o.verb()) {
            case "set" -> {
                EmulatorStore.set(t, idx, k, o.value(), o.flags());
                return result(t.entries.get(k), false);
            }
            case "cas" -> {
                if (!EmulatorStore.cas(t, idx, k, o.value(), o.flags(), o.index())) {
                    throw new ConsulError(409, "failed to set key " + q + ", index is stale");
                }
                return result(t.entries.get(k), false);
            }
            case "lock" -> {
                if (!store.lockKey(t, idx, k, o.value(), o.flags(), o.session())) {
                    throw new ConsulError(409, "failed to lock key " + q + ", lock is already held");
                }
                return result(t.entries.get(k), false);
            }
            case "unlock" -> {
                if (!EmulatorStore.unlockKey(t, idx, k, o.value(), o.flags(), o.session())) {
                    throw new ConsulError(409, "failed to unlock key " + q
                            + ", lock isn't held, or is held by another session");
                }
                return result(t.entries.get(k), false);
            }
            case "get" -> {
                e = t.entries.get(k);
                if (e == null) {
                    throw new ConsulError(409, "key " + q + " doesn't exist");
                }
                return access == Access.FULL ? result(e, true) : List.of();
            }
            case "get-or-empty" -> {
                e = t.entries.get(k);
                return e == null || access != Access.FULL ? List.of() : result(e, true);
            }
            case "get-tree" -> {
                List<ObjectNode> out = new ArrayList<>();
                if (access == Access.FULL) {
                    for (Entry x : t.under(k)) {
                        out.addAll(result(x, true));
                    }
                }
                return out;
            }
            case "check-index" -> {
                e = t.entries.get(k);
                if (e == null) {
                    throw new ConsulError(409, "failed to check index, key " + q + " doesn't exist");
                }
                if (e.modifyIndex() != o.index()) {
                    throw new ConsulError(409, "failed index check for key " + q + ", current modify index "
                            + e.modifyIndex() + " != " + o.index());
                }
                return result(e, false);
            }
            case "check-session" -> {
                e = t.entries.get(k);
                if (e == null) {
                    throw new ConsulError(409, "failed to check session, key " + q + " doesn't exist");
                }
                if (!Objects.equals(e.session() == null ? "" : e.session(), o.session())) {
                    throw new ConsulError(409, "failed session check for key " + q + ", current session "
                            + EmulatorStore.quote(e.session() == null ? "" : e.session()) + " != "
                            + EmulatorStore.quote(o.session()));
                }
                return result(e, false);
            }
            case "check-not-exists" -> {
                if (t.entries.containsKey(k)) {
                    throw new ConsulError(409, "key " + q + " exists");
                }
                return List.of();
            }
            case "delete" -> {
                t.delete(k, idx);
                return List.of();
            }
            case "delete-tree" -> {
                EmulatorStore.deleteTree(t, idx, k);
                return List.of();
            }
            case "delete-cas" -> {
                if (!EmulatorStore.deleteCas(t, idx, k, o.index())) {
                    throw new ConsulError(409, "failed to delete key " + q + ", index is stale");
                }
                return List.of();
            }
            default -> throw new ConsulError(409, "unknown KV verb " + EmulatorStore.quote(o.verb()));
        }
    }

    private static List<ObjectNode> result(Entry e, boolean withValue) {
        if (e == null) {
            return List.of();
        }
        ObjectNode o = JSON.createObjectNode();
        o.set("KV", entryJson(e, withValue));
        return List.of(o);
    }

    private static ObjectNode txnError(int i, String what) {
        ObjectNode o = JSON.createObjectNode();
        o.put("OpIndex", i);
        o.put("What", what);
        return o;
    }

    private Resp txnAnswer(List<ObjectNode> results, List<ObjectNode> errors, boolean writes, Req r) {
        ObjectNode o = JSON.createObjectNode();
        if (results == null) {
            o.putNull("Results");
        } else {
            ArrayNode a = o.putArray("Results");
            results.forEach(a::add);
        }
        if (errors == null) {
            o.putNull("Errors");
        } else {
            ArrayNode a = o.putArray("Errors");
            errors.forEach(a::add);
        }
        Resp out = Resp.json(errors == null ? 200 : 409, o);
        if (!writes) {
            out.with("X-Consul-KnownLeader", "true").with("X-Consul-LastContact", "0");
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------------ sessions

    private Resp sessionCreate(Req r, Access access) throws ConsulError {
        requireWrite(access);
        String name = "";
        String node = config.nodeName;
        List<String> checks = List.of("serfHealth");
        List<String> nodeChecks = new ArrayList<>();
        String behavior = "release";
        long lockDelay = Duration.ofSeconds(15).toNanos();
        String ttl = "";
        if (r.body().length > 0) {
            JsonNode body;
            try {
                body = JSON.readTree(r.body());
            } catch (IOException e) {
                throw new ConsulError(400, "Request decode failed: " + e.getMessage());
            }
            if (body == null || !body.isObject()) {
                throw new ConsulError(400, "Request decode failed: expected a JSON object");
            }
            for (Map.Entry<String, JsonNode> f : body.properties()) {
                // Go's JSON decoding matches field names without regard to case.
                String k = f.getKey().toLowerCase(Locale.ROOT);
                JsonNode v = f.getValue();
                if (!SESSION_FIELDS.contains(k)) {
                    throw new ConsulError(400, "Request decode failed: json: unknown field "
                            + EmulatorStore.quote(f.getKey()));
                }
                switch (k) {
                    case "name" -> name = v.asText("");
                    case "node" -> node = v.asText("");
                    case "behavior" -> behavior = v.asText("");
                    case "ttl" -> ttl = v.isNull() ? "" : v.asText("");
                    case "lockdelay" -> lockDelay = lockDelay(v);
                    case "checks" -> checks = strings(v);
                    case "nodechecks" -> nodeChecks.addAll(strings(v));
                    case "servicechecks" -> {
                        if (v.isArray() && v.size() > 0) {
                            throw new ConsulError(500, "Missing service check '"
                                    + text(v.get(0), "ID") + "' registration");
                        }
                    }
                    default -> {
                        // ID, CreateIndex, ModifyIndex: decoded by Consul, then overwritten.
                    }
                }
            }
        }
        // The session depends on Checks (default [serfHealth] unless the field is given) plus NodeChecks.
        List<String> all = new ArrayList<>(checks);
        for (String c : nodeChecks) {
            if (!all.contains(c)) {
                all.add(c);
            }
        }
        Session s = store.createSession(name, node, all, behavior, lockDelay, ttl);
        ObjectNode o = JSON.createObjectNode();
        o.put("ID", s.id());
        return Resp.json(200, o);
    }

    /** Consul's FixupLockDelay: a Go duration string or a number of nanoseconds; under 1000 ns means seconds. */
    private static long lockDelay(JsonNode v) throws ConsulError {
        long ns;
        if (v.isTextual()) {
            try {
                ns = GoDurations.parse(v.asText()).toNanos();
            } catch (IllegalArgumentException e) {
                throw new ConsulError(400, "Request decode failed: " + e.getMessage());
            }
        } else if (v.isNumber()) {
            ns = v.asLong();
        } else {
            throw new ConsulError(400, "Request decode failed: LockDelay must be a string or a number");
        }
        return ns < 1000 ? ns * 1_000_000_000L : ns;
    }

    private Resp sessionRenew(Req r, String id, Access access) throws ConsulError {
        if (id.isEmpty()) {
            throw new ConsulError(400, "Missing session");
        }
        requireWrite(access);
        Session s = store.renew(id);
        if (s == null) {
            return Resp.text(404, "Session id '" + id + "' not found");
        }
        return meta(Resp.json(200, List.of(sessionJson(s))), store.sessionsIndex(), r);
    }

    private Resp sessionDestroy(String id, Access access) throws ConsulError {
        if (id.isEmpty()) {
            throw new ConsulError(400, "Missing session");
        }
        requireWrite(access);
        store.invalidate(id);
        return Resp.json(200, true);
    }

    private Resp sessionRead(Req r, Access access, String id, String node) throws ConsulError, InterruptedException {
        if (id != null && id.isEmpty()) {
            throw new ConsulError(400, "Missing session");
        }
        Result<List<Session>> res = store.blocking(index(r), deadline(r), () -> {
            List<Session> out = new ArrayList<>();
            for (Session s : store.sessions()) {
                if ((id == null || s.id().equals(id)) && (node == null || s.node().equals(node))) {
                    out.add(s);
                }
            }
            return new Result<>(Math.max(1, store.sessionsIndex()), out, store.sessionsIndex());
        });
        List<ObjectNode> list = new ArrayList<>();
        if (access == Access.FULL) {
            for (Session s : res.value()) {
                list.add(sessionJson(s));
            }
        }
        return meta(Resp.json(200, list), res.index(), r);
    }

    private static ObjectNode sessionJson(Session s) {
        ObjectNode o = JSON.createObjectNode();
        o.put("ID", s.id());
        o.put("Name", s.name());
        o.put("Node", s.node());
        o.put("LockDelay", s.lockDelayNanos());
        o.put("Behavior", s.behavior());
        o.put("TTL", s.ttl());
        ArrayNode checks = o.putArray("NodeChecks");
        s.nodeChecks().forEach(checks::add);
        o.putNull("ServiceChecks");
        o.put("CreateIndex", s.createIndex());
        o.put("ModifyIndex", s.modifyIndex());
        return o;
    }

    // ------------------------------------------------------------------------------------------------ query options

    private static long index(Req r) throws ConsulError {
        if (!r.has("index")) {
            return 0;
        }
        try {
            return Long.parseUnsignedLong(r.get("index"));
        } catch (NumberFormatException e) {
            throw new ConsulError(400, "Invalid index");
        }
    }

    /** The blocking deadline: wait (default 5 min, at most 10 min) plus up to wait/16 of jitter, as Consul adds. */
    private static long deadline(Req r) throws ConsulError {
        Duration wait = DEFAULT_WAIT;
        if (r.has("wait")) {
            try {
                wait = GoDurations.parse(r.get("wait"));
            } catch (IllegalArgumentException e) {
                throw new ConsulError(400, "Invalid wait time");
            }
        }
        if (wait.isNegative() || wait.isZero()) {
            wait = DEFAULT_WAIT;
        } else if (wait.compareTo(MAX_WAIT) > 0) {
            wait = MAX_WAIT;
        }
        long jitter = wait.toNanos() / 16 > 0 ? ThreadLocalRandom.current().nextLong(wait.toNanos() / 16) : 0;
        return System.nanoTime() + wait.toNanos() + jitter;
    }

    private static Resp meta(Resp out, long index, Req r) {
        out.with("X-Consul-Index", Long.toString(index));
        out.with("X-Consul-KnownLeader", "true");
        out.with("X-Consul-LastContact", "0");
        out.with("X-Consul-Effective-Consistency", r.has("consistent") ? "consistent"
                : r.has("stale") ? "stale" : "leader");
        return out;
    }

    // ------------------------------------------------------------------------------------------------ small helpers

    /** Go's JSON decoding is case-insensitive on field names. */
    private static JsonNode field(JsonNode o, String name) {
        if (o == null || !o.isObject()) {
            return null;
        }
        for (Map.Entry<String, JsonNode> f : o.properties()) {
            if (f.getKey().equalsIgnoreCase(name)) {
                return f.getValue();
            }
        }
        return null;
    }

    private static String text(JsonNode o, String name) {
        JsonNode v = field(o, name);
        return v == null || v.isNull() ? "" : v.asText("");
    }

    private static long number(JsonNode o, String name) {
        JsonNode v = field(o, name);
        return v == null || v.isNull() ? 0 : v.asLong();
    }

    private static List<String> strings(JsonNode v) throws ConsulError {
        if (v == null || v.isNull()) {
            return List.of();
        }
        if (!v.isArray()) {
            throw new ConsulError(400, "Request decode failed: expected a list of check IDs");
        }
        List<String> out = new ArrayList<>();
        v.forEach(x -> out.add(x.asText()));
        return out;
    }

    private static long unsigned(String v, String what) throws ConsulError {
        try {
            return Long.parseUnsignedLong(v);
        } catch (NumberFormatException e) {
            throw new ConsulError(400, "Invalid " + what + " value " + EmulatorStore.quote(v));
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    @Override
    public String toString() {
        return "ConsulEmulator[" + url() + " (an emulator of Consul's HTTP API, not Consul)]";
    }

    /**
     * Runs the emulator as its own process until it is killed, for tests whose members are separate JVMs:
     * {@code [--port N] [--session-ttl-min 10s] [--session-ttl-multiplier 2] [--acl-token T]}. Prints the URL.
     */
    public static void main(String[] args) throws InterruptedException {
        Builder b = builder();
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--port" -> b.port(Integer.parseInt(Objects.requireNonNull(v, "--port N")));
                case "--session-ttl-min" -> b.sessionTtlMin(GoDurations.parse(Objects.requireNonNull(v,
                        "--session-ttl-min DURATION")));
                case "--session-ttl-multiplier" -> b.sessionTtlMultiplier(Double.parseDouble(
                        Objects.requireNonNull(v, "--session-ttl-multiplier X")));
                case "--acl-token" -> b.aclToken(Objects.requireNonNull(v, "--acl-token TOKEN"));
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (expected --port, "
                        + "--session-ttl-min, --session-ttl-multiplier, --acl-token)");
            }
            i++;
        }
        ConsulEmulator e = b.start();
        System.out.println(e.url() + " (ConsulEmulator: an emulator of Consul's HTTP API, not Consul)");
        Runtime.getRuntime().addShutdownHook(new Thread(e::close));
        Thread.currentThread().join();
    }

    // ------------------------------------------------------------------------------------------------ builder

    /** Options; the defaults are Consul's. */
    public static final class Builder {
        private Duration sessionTtlMin = Duration.ofSeconds(10);
        private double sessionTtlMultiplier = 2;
        private String aclToken;
        private String nodeName = "emulator-node";
        private String datacenter = "dc1";
        private SSLContext sslContext;
        private int port;
        private Consumer<Request> onRequest;

        private Builder() {}

        /** The servers' {@code session_ttl_min} (Consul's default 10 s). */
        public Builder sessionTtlMin(Duration v) {
            if (v.isNegative() || v.isZero()) {
                throw new IllegalArgumentException("sessionTtlMin must be positive");
            }
            sessionTtlMin = v;
            return this;
        }

        /** A session is invalidated TTL x this after its last renewal (Consul: 2; 1 models the documented minimum). */
        public Builder sessionTtlMultiplier(double v) {
            if (v < 1) {
                throw new IllegalArgumentException("sessionTtlMultiplier must be at least 1 (Consul never ends a "
                        + "session before its TTL)");
            }
            sessionTtlMultiplier = v;
            return this;
        }

        /** Turns ACLs on (default policy deny) with this one all-powerful token. */
        public Builder aclToken(String v) {
            aclToken = Objects.requireNonNull(v, "aclToken");
            return this;
        }

        public Builder nodeName(String v) {
            nodeName = Objects.requireNonNull(v, "nodeName");
            return this;
        }

        public Builder datacenter(String v) {
            datacenter = Objects.requireNonNull(v, "datacenter");
            return this;
        }

        /** Serves HTTPS with this context (its key manager holds the server certificate). */
        public Builder https(SSLContext v) {
            sslContext = Objects.requireNonNull(v, "sslContext");
            return this;
        }

        /**
         * Told of every request before its answer is sent, on the thread that serves it (so it must not block or
         * throw; a blocking query is told when it returns).
         */
        public Builder onRequest(Consumer<Request> v) {
            onRequest = Objects.requireNonNull(v, "onRequest");
            return this;
        }

        /** A fixed loopback port; 0 (default) picks a free one. */
        public Builder port(int v) {
            port = v;
            return this;
        }

        public ConsulEmulator start() {
            ConsulEmulator e = new ConsulEmulator(this);
            e.restart();
            return e;
        }
    }
}
