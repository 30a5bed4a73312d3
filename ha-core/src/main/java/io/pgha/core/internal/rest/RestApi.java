package io.pgha.core.internal.rest;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsExchange;
import io.pgha.core.config.Credentials;
import io.pgha.core.config.VerifyClient;
import io.pgha.core.cluster.NodeStatus;
import io.pgha.core.config.RestSettings;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Patroni-compatible REST API of one member, on the JDK's built-in HTTP server: HAProxy health checks,
 * patronictl, and other members' leader-race and failsafe requests all work against it (docs/rest-api.md).
 *
 * <p>Two steps, so that a free port can be advertised before the HA loop that publishes it exists:
 * <pre>{@code
 * RestApi api = RestApi.bind(RestSettings.builder().listen("0.0.0.0", 0).credentials(user, password).build());
 * HaLoop loop = new HaLoop(..., new MemberEndpoints(connUrl, api.apiUrl("db-1.internal")), ...);
 * api.start(RestBackend.of(loop, admin));
 * }</pre>
 * Requests run on a small bounded pool; when it and its queue are full, new connections are closed at once rather
 * than piling up. Nothing here runs on, or waits for, the HA loop's threads.
 */
public final class RestApi implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RestApi.class);

    private enum State {
        BOUND,
        STARTED,
        CLOSED
    }

    private final RestSettings settings;
    private final RestListener listener;
    private final AtomicReference<State> state = new AtomicReference<>(State.BOUND);
    /** SHA-256 of the expected basic-auth token; null when the mutating endpoints are open to anyone. */
    private volatile byte[] expectedAuthDigest;
    private volatile ThreadPoolExecutor executor;
    private volatile Routes routes;
    private volatile String prefix = "";

    private RestApi(RestSettings settings, RestListener listener) {
        this.settings = settings;
        this.listener = listener;
        this.expectedAuthDigest = digest(settings.credentials());
    }

    /** Binds the listening socket (so {@link #address()} is known) without serving yet. */
    public static RestApi bind(RestSettings settings) throws IOException {
        Objects.requireNonNull(settings, "settings");
        return new RestApi(settings, RestListener.bind(settings));
    }

    /** Starts serving requests from {@code backend}. */
    public void start(RestBackend backend) {
        Objects.requireNonNull(backend, "backend");
        if (!state.compareAndSet(State.BOUND, State.STARTED)) {
            throw new IllegalStateException("RestApi can be started once, after bind (state " + state.get() + ")");
        }
        NodeStatus first = backend.status();
        prefix = first.settings().scope() + "/" + first.name() + " - ";
        routes = new Routes(backend, settings, prefix);
        AtomicInteger n = new AtomicInteger();
        String threadName = "pgha-rest-" + first.name() + "-";
        ThreadPoolExecutor pool = new ThreadPoolExecutor(settings.threads(), settings.threads(), 30, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(settings.queueSize()), r -> {
                    Thread t = new Thread(r, threadName + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        pool.allowCoreThreadTimeOut(true);
        executor = pool;
        listener.start(this::serve, pool);
        String over = settings.tls() == null ? "" : " over " + settings.tls();
        if (settings.allowUnauthenticated()) {
            LOG.warn("{}REST API listening on {}{} WITHOUT authentication (allowUnauthenticated): anyone who can reach"
                    + " it may {}", prefix, address(), over, RestSettings.MUTATING_ENDPOINTS);
        } else {
            LOG.info("{}REST API listening on {}{} (basic auth on mutating requests)", prefix, address(), over);
        }
    }

    /**
     * Moves the API to another address (Patroni's reload of a changed {@code restapi.listen}): the new socket serves
     * before the old one closes, so the member is never without its API; the old one refuses new connections at once
     * and stops when its requests are done, after at most 5 s, without the caller waiting.
     *
     * @return the address now bound (the real port when 0 was asked for)
     * @throws IOException the new address cannot be bound (in use, not local, unknown host): the API stays where it
     *                     was
     * @throws IllegalStateException the API is not serving (not started yet, or closed)
     */
    public InetSocketAddress rebind(String host, int port) throws IOException {
        return listener.rebind(host, port, prefix);
    }

    /**
     * The credentials the mutating endpoints demand from the next request on (a reload of
     * {@code restapi.authentication}); null opens them to anyone, which only a caller that checked the explicit
     * opt-out may ask for.
     */
    public void useCredentials(Credentials credentials) {
        expectedAuthDigest = digest(credentials);
        if (credentials == null) {
            LOG.warn("{}REST API now WITHOUT authentication: anyone who can reach it may {}", prefix,
                    RestSettings.MUTATING_ENDPOINTS);
        }
    }

    /** The settings it was bound with (a {@link #rebind} or {@link #useCredentials} does not change them). */
    public RestSettings settings() {
        return settings;
    }

    /** The bound address (the real port when 0 was asked for). */
    public InetSocketAddress address() {
        return listener.address();
    }

    /**
     * {@code http://<host>:<port>/patroni} ({@code https://} with TLS): the {@code api_url} to publish, for the host
     * others reach us by.
     */
    public String apiUrl(String host) {
        String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
        return settings.scheme() + "://" + h + ":" + address().getPort() + "/patroni";
    }

    /** Stops listening and ends the request threads (a waiting switchover request answers 503). */
    @Override
    public void close() {
        State was = state.getAndSet(State.CLOSED);
        if (was == State.CLOSED) {
            return;
        }
        listener.close();
        ThreadPoolExecutor pool = executor;
        if (pool != null) {
            pool.shutdownNow();
            try {
                if (!pool.awaitTermination(5, TimeUnit.SECONDS)) {
                    LOG.warn("{}REST request threads did not end within 5 s", prefix);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        LOG.info("{}REST API closed", prefix);
    }

    // ------------------------------------------------------------------------------------------------ plumbing

    private void serve(HttpExchange ex) {
        try {
            String method = ex.getRequestMethod().toUpperCase(Locale.ROOT);
            boolean bare = method.equals("HEAD") || method.equals("OPTIONS");
            Response resp = respond(ex, method);
            send(ex, resp, bare);
        } catch (IOException e) {
            LOG.debug("{}REST exchange with {} failed: {}", prefix, ex.getRemoteAddress(), e.getMessage());
        } catch (RuntimeException e) {
            LOG.error("{}REST request {} {} failed", prefix, ex.getRequestMethod(), ex.getRequestURI(), e);
            try {
                send(ex, Response.text(500, "internal error: " + e), false);
            } catch (IOException | RuntimeException ignored) {
                // headers were already sent: the client sees a cut connection
            }
        } finally {
            ex.close();
        }
    }

    private Response respond(HttpExchange ex, String method) throws IOException {
        boolean unsafe = switch (method) {
            case "POST", "PUT", "PATCH", "DELETE" -> true;
            default -> false;
        };
        if (unsafe && settings.tls() != null && settings.tls().verifyClient() != VerifyClient.NONE
                && !hasClientCertificate(ex)) {
            // Patroni's answer for verify_client optional; with required the handshake already refused.
            LOG.info("{}{} {} from {}: no client certificate", prefix, method, ex.getRequestURI().getRawPath(),
                    ex.getRemoteAddress());
            return Response.text(403, "client certificate required");
        }
        if (unsafe && !authorized(ex.getRequestHeaders().getFirst("Authorization"))) {
            LOG.info("{}{} {} from {}: not authorized", prefix, method, ex.getRequestURI().getRawPath(),
                    ex.getRemoteAddress());
            return Response.text(401, "authentication required").withHeader("WWW-Authenticate",
                    "Basic realm=\"pgha\"");
        }
        String lengthHeader = ex.getRequestHeaders().getFirst("Content-Length");
        byte[] body = new byte[0];
        if (lengthHeader != null) {
            long length;
            try {
                length = Long.parseLong(lengthHeader.trim());
            } catch (NumberFormatException e) {
                return Response.text(400, "Content-Length is not a number: " + lengthHeader);
            }
            if (length > settings.maxBodyBytes()) {
                return Response.text(413, "the body exceeds " + settings.maxBodyBytes() + " bytes");
            }
            body = readBody(ex.getRequestBody(), (int) Math.max(0, length));
        }
        URI uri = ex.getRequestURI();
        Request r = new Request(method, normalize(uri.getRawPath()), query(uri.getRawQuery()), body,
                lengthHeader != null);
        return routes.handle(r);
    }

    private static boolean hasClientCertificate(HttpExchange ex) {
        if (!(ex instanceof HttpsExchange https) || https.getSSLSession() == null) {
            return false;
        }
        try {
            // The handshake verified it against the cafile: a presented certificate is a valid one.
            return https.getSSLSession().getPeerCertificates().length > 0;
        } catch (SSLPeerUnverifiedException e) {
            return false;
        }
    }

    /**
     * Basic auth, unless the settings opted out. Compares digests, so neither content nor length of the secret leaks
     * through timing.
     */
    private boolean authorized(String header) {
        byte[] expected = expectedAuthDigest;
        if (expected == null) {
            return true;
        }
        String token = header == null ? null : basicToken(header);
        return token != null && MessageDigest.isEqual(expected, sha256(token.getBytes(StandardCharsets.UTF_8)));
    }

    private static byte[] digest(Credentials c) {
        return c == null ? null : sha256(basicToken(c.header()).getBytes(StandardCharsets.UTF_8));
    }

    /** The credentials of a {@code Basic} authorization header (the scheme is case-insensitive), or null. */
    private static String basicToken(String header) {
        String h = header.trim();
        int space = h.indexOf(' ');
        if (space < 0 || !h.substring(0, space).equalsIgnoreCase("Basic")) {
            return null;
        }
        return h.substring(space + 1).trim();
    }

    private static void send(HttpExchange ex, Response resp, boolean bare) throws IOException {
        resp.headers().forEach((k, v) -> ex.getResponseHeaders().set(k, v));
        if (resp.contentType() != null) {
            ex.getResponseHeaders().set("Content-Type", resp.contentType());
        }
        if (bare || resp.body().length == 0) {
            ex.sendResponseHeaders(resp.status(), -1);
            return;
        }
        ex.sendResponseHeaders(resp.status(), resp.body().length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(resp.body());
        }
    }

    private static byte[] readBody(InputStream in, int length) throws IOException {
        byte[] b = in.readNBytes(length);
        if (b.length < length) {
            throw new IOException("the body ended after " + b.length + " of " + length + " bytes");
        }
        return b;
    }

    /** {@code /primary/} and {@code /primary} are the same endpoint. */
    static String normalize(String rawPath) {
        String p = rawPath == null || rawPath.isEmpty() ? "/" : rawPath;
        while (p.length() > 1 && p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        return p;
    }

    /** First value of each parameter, URL-decoded. */
    static Map<String, String> query(String raw) {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String pair : raw.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String k = decode(eq < 0 ? pair : pair.substring(0, eq));
            String v = eq < 0 ? "" : decode(pair.substring(eq + 1));
            out.putIfAbsent(k, v);
        }
        return out;
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return s;
        }
    }

    private static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
