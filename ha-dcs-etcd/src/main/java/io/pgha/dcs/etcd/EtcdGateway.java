package io.pgha.dcs.etcd;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.spi.http.HttpTransport;
import io.pgha.core.spi.http.HttpTransport.Attempt;
import io.pgha.core.spi.http.HttpTransport.Kind;
import io.pgha.core.time.HaClock;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP side of the adapter: JSON POSTs to etcd's v3 gateway (sent by {@link HttpTransport}), failing over between
 * endpoints, authenticating, and never blocking past the caller's deadline.
 *
 * <p>Failover rules. A request that surely was not sent (connection refused, connect timeout) moves on to the next
 * endpoint. A request that was sent and got no answer has an unknown outcome: an idempotent one (reads, keepalives)
 * moves on, a write throws and the next call starts at the next endpoint, because replaying a compare-and-set on
 * another member could turn our own success into a reported loss. Each attempt gets an equal share of the time left,
 * so one silent member cannot use up the whole {@code retryTimeout}.
 */
final class EtcdGateway implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EtcdGateway.class);

    /** The least time an attempt gets when several endpoints share the budget (a healthy etcd answers in ms). */
    private static final long MIN_ATTEMPT_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    /** Pause between two rounds over the endpoints within one call. */
    private static final long RETRY_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    /** An open streaming response (a watch) and the endpoint serving it. */
    record Stream(InputStream body, URI endpoint) {}

    private final EtcdSettings settings;
    private final List<URI> endpoints;
    private final String log;
    private final HttpTransport http;
    private final AtomicInteger current = new AtomicInteger();
    private final Object authLock = new Object();
    /** Told the endpoint of each request that was sent and got no answer (the watch drops a stream there). */
    private final Consumer<URI> onSilentEndpoint;
    private final HaClock clock;
    /** The budget of an attempt while etcd is unreachable: an eighth of the retryTimeout, at least 200 ms. */
    private final long quickAttemptNanos;

    private volatile String prefix;
    /** What the first server asked for its version warned about, for tests; null if nothing. */
    private volatile String versionWarning;
    private volatile String token;
    private volatile boolean closed;
    private volatile boolean suspended;
    private final AtomicInteger authentications = new AtomicInteger();

    /** @param clock the member's clock: every deadline given to this gateway is a value of its nanoTime() */
    EtcdGateway(EtcdSettings settings, Duration retryTimeout, HaClock clock, String log,
            Consumer<URI> onSilentEndpoint) {
        this.settings = settings;
        this.endpoints = settings.endpoints();
        this.log = log;
        this.prefix = settings.apiPrefix();
        this.onSilentEndpoint = onSilentEndpoint;
        this.quickAttemptNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(200), retryTimeout.toNanos() / 8);
        this.clock = clock;
        // A connect that takes longer than a fair share of the retry budget is as good as refused.
        long connectMillis = Math.max(200, retryTimeout.toMillis() / endpoints.size());
        this.http = new HttpTransport(settings.sslContext(), Duration.ofMillis(connectMillis));
    }

    List<URI> endpoints() {
        return endpoints;
    }

    /** The endpoint the next call starts with. */
    URI currentEndpoint() {
        return endpoints.get(Math.floorMod(current.get(), endpoints.size()));
    }

    /** Forgets the token, so the next call authenticates again (the watch saw it rejected). */
    void invalidateToken(String rejected) {
        synchronized (authLock) {
            if (rejected == null || rejected.equals(token)) {
                token = null;
            }
        }
    }

    /**
     * POSTs {@code body} to {@code path} (below the API prefix) and returns the answer.
     *
     * @param idempotent whether the call may be repeated on another endpoint after it was sent without an answer
     * @throws EtcdErrorException      etcd answered with an error
     * @throws DcsUnavailableException no endpoint answered before {@code deadline}
     */
    JsonNode post(String what, String path, ObjectNode body, long deadline, boolean idempotent)
            throws DcsUnavailableException {
        String p = prefix(what, deadline);
        byte[] bytes = bytes(body);
        boolean reauthenticated = false;
        int n = endpoints.size();
        int first = current.get();
        String lastProblem = null;
        boolean quick = false;
        boolean answered = false;
        rounds:
        while (true) {
            quick = suspended;
            answered = false;
            first = current.get();
            for (int i = 0; i < n; ) {
                int idx = Math.floorMod(first + i, n);
                URI ep = endpoints.get(idx);
                long budget = budget(deadline, n - i, quick);
                if (budget <= 0) {
                    break rounds;
                }
                String tok = token(what, deadline);
                Attempt a = attempt(ep, "POST", p + path, bytes, tok, budget, idempotent);
                if (a.kind() == Kind.ANSWERED) {
                    JsonNode json = parse(what, ep, a.body());
                    EtcdJson.Error err = a.status() / 100 == 2 ? EtcdJson.error(json) : errorOf(json, a.status());
                    if (err == null) {
                        current.set(idx);
                        return json;
                    }
                    if (settings.user() != null && (err.tokenRejected() || err.tokenMissing()) && !reauthenticated) {
                        // Tokens expire (--auth-token-ttl) and die with the member that issued them: get a new one.
                        LOG.info("{}etcd rejected the auth token ({}); authenticating again", log, err.message());
                        invalidateToken(tok);
                        reauthenticated = true;
                        continue;
                    }
                    if (err.unavailable() && idempotent) {
                        lastProblem = ep + " answered: " + err.message();
                        answered = true;
                        i++;
                        continue;
                    }
                    current.set(err.unavailable() ? (idx + 1) % n : idx);
                    throw answered(what, ep, err);
                }
                if (a.kind() == Kind.NOT_SENT || idempotent) {
                    lastProblem = ep + ": " + describe(a.failure());
                    if (a.kind() == Kind.NO_ANSWER) {
                        onSilentEndpoint.accept(ep);
                    }
                    i++;
                    continue;
                }
                // Sent, no answer, not repeatable: the next call starts elsewhere.
                current.compareAndSet(first, (idx + 1) % n);
                onSilentEndpoint.accept(ep);
                suspend(ep + ": " + describe(a.failure()));
                throw new DcsUnavailableException(what + ": no answer from etcd " + ep + " (" + describe(a.failure())
                        + "); the outcome is unknown");
            }
            // Every endpoint failed in a way that is safe to repeat. A fresh outage (an etcd restarting, an election)
            // may end within the retryTimeout: try again until then. A known one fails fast (see suspend).
            long pause = Math.min(RETRY_PAUSE_NANOS, deadline - clock.nanoTime());
            if (quick || pause <= 0) {
                break;
            }
            LockSupport.parkNanos(pause);
            if (Thread.currentThread().isInterrupted() || closed) {
                break;
            }
        }
        current.compareAndSet(first, (first + 1) % n);
        if (!answered) {
            // "No leader" answers mean etcd is there but busy: only silence counts as unreachable.
            suspend(lastProblem);
        }
        throw new DcsUnavailableException(what + ": no etcd endpoint "
                + (quick ? "answered (etcd has been unreachable since an earlier call; one short attempt per endpoint)"
                        : "could serve the call within retryTimeout")
                + " (" + (lastProblem == null ? "the retryTimeout ran out before a request could be sent"
                        : "last: " + lastProblem) + ")");
    }

    /**
     * etcd did not answer: until it answers again, calls make one short attempt per endpoint instead of retrying for
     * the whole retryTimeout, so a member cut off from etcd learns it at once on every call, as a ZooKeeper client
     * does while SUSPENDED (docs/decisions 0304). Any answer, to any call or keepalive, ends it.
     */
    private void suspend(String why) {
        if (!suspended && !closed) {
            suspended = true;
            LOG.warn("{}etcd is unreachable ({}): calls fail fast until it answers again", log,
                    why == null ? "the retryTimeout ran out before a request could be sent" : why);
        }
    }

    private void answeredAgain() {
        if (suspended) {
            suspended = false;
            LOG.info("{}etcd answers again", log);
        }
    }

    /** Tokens obtained so far. */
    int authentications() {
        return authentications.get();
    }

    private static String describeLast(String lastProblem) {
        return lastProblem == null ? "the retryTimeout ran out before a request could be sent" : "last: " + lastProblem;
    }

    /** Whether etcd is considered unreachable (calls fail fast). */
    boolean suspended() {
        return suspended;
    }

    /**
     * Opens a streaming POST (a watch) on the first endpoint that answers, returning once the response headers
     * arrived. The caller reads the body and closes it to cancel the stream.
     */
    Stream openStream(String what, String path, ObjectNode body, long deadline) throws DcsUnavailableException {
        String p = prefix(what, deadline);
        byte[] bytes = bytes(body);
        int first = current.get();
        int n = endpoints.size();
        String lastProblem = null;
        for (int i = 0; i < n; i++) {
            int idx = Math.floorMod(first + i, n);
            URI ep = endpoints.get(idx);
            long budget = budget(deadline, n - i);
            if (budget <= 0) {
                break;
            }
            String tok = token(what, deadline);
            // The response is meant to last: only the wait for its head is bounded.
            Attempt a = closed ? notSentClosed() : answered(http.openStream(ep, p + path, bytes, tok, budget));
            if (a.kind() == Kind.ANSWERED) {
                if (a.stream() != null) {
                    return new Stream(a.stream(), ep);
                }
                EtcdJson.Error err = errorOf(parse(what, ep, a.body()), a.status());
                if (err.tokenRejected()) {
                    invalidateToken(tok);
                }
                lastProblem = ep + " answered: " + err.message();
                continue;
            }
            lastProblem = ep + ": " + describe(a.failure());
        }
        current.compareAndSet(first, (first + 1) % n);
        throw new DcsUnavailableException(what + ": could not open a stream on any etcd endpoint ("
                + describeLast(lastProblem) + ")");
    }

    /** Moves the next call to the endpoint after {@code ep} (a stream there broke). */
    void avoid(URI ep) {
        int idx = endpoints.indexOf(ep);
        if (idx >= 0) {
            current.compareAndSet(idx, (idx + 1) % endpoints.size());
        }
    }

    /** The warning about the etcd release logged when the API prefix was asked for, or null. */
    String versionWarning() {
        return versionWarning;
    }

    @Override
    public void close() {
        closed = true;
        http.close();
    }

    // ------------------------------------------------------------------------------------------------ internals

    /** The API prefix, asked from {@code /version} once (a GET that needs no auth). */
    private String prefix(String what, long deadline) throws DcsUnavailableException {
        String p = prefix;
        if (p != null) {
            return p;
        }
        int first = current.get();
        int n = endpoints.size();
        String lastProblem = null;
        for (int i = 0; i < n; i++) {
            int idx = Math.floorMod(first + i, n);
            URI ep = endpoints.get(idx);
            long budget = budget(deadline, n - i);
            if (budget <= 0) {
                break;
            }
            Attempt a = attempt(ep, "GET", "/version", null, null, budget, true);
            if (a.kind() != Kind.ANSWERED) {
                lastProblem = ep + ": " + describe(a.failure());
                continue;
            }
            if (a.status() != 200) {
                lastProblem = ep + "/version answered HTTP " + a.status();
                continue;
            }
            JsonNode v = parse(what, ep, a.body());
            String found;
            try {
                found = EtcdJson.apiPrefixFor(v);
            } catch (IllegalArgumentException e) {
                throw new DcsUnavailableException(what + ": " + ep + ": " + e.getMessage());
            }
            if (found == null) {
                lastProblem = ep + " does not know its cluster version yet (" + v + ")";
                continue;
            }
            LOG.info("{}etcd {} reports server {} cluster {}: using the JSON gateway at {}", log, ep,
                    v.path("etcdserver").asText("?"), v.path("etcdcluster").asText("?"), found);
            String warning = EtcdJson.leaseRevocationWarning(v.path("etcdserver").asText(null));
            if (warning != null) {
                LOG.warn("{}{} ({})", log, warning, ep);
                versionWarning = warning;
            }
            current.set(idx);
            prefix = found;
            return found;
        }
        throw new DcsUnavailableException(what + ": could not ask etcd for its version ("
                + describeLast(lastProblem) + ")");
    }

    /** The auth token, authenticating first when there is none; null without auth. */
    private String token(String what, long deadline) throws DcsUnavailableException {
        if (settings.user() == null) {
            return null;
        }
        String t = token;
        if (t != null) {
            return t;
        }
        synchronized (authLock) {
            if (token != null) {
                return token;
            }
            JsonNode answer = authenticate(what, deadline);
            String fresh = answer.path("token").asText("");
            if (fresh.isEmpty()) {
                throw new DcsUnavailableException(what + ": etcd authenticated user '" + settings.user()
                        + "' but returned no token: is auth enabled on the cluster (etcdctl auth enable)?");
            }
            token = fresh;
            authentications.incrementAndGet();
            LOG.info("{}authenticated to etcd as '{}'", log, settings.user());
            return fresh;
        }
    }

    private JsonNode authenticate(String what, long deadline) throws DcsUnavailableException {
        String p = prefix(what, deadline);
        byte[] bytes = bytes(EtcdJson.authenticate(settings.user(), settings.password()));
        int first = current.get();
        int n = endpoints.size();
        String lastProblem = null;
        for (int i = 0; i < n; i++) {
            int idx = Math.floorMod(first + i, n);
            URI ep = endpoints.get(idx);
            long budget = budget(deadline, n - i);
            if (budget <= 0) {
                break;
            }
            Attempt a = attempt(ep, "POST", p + "/auth/authenticate", bytes, null, budget, true);
            if (a.kind() != Kind.ANSWERED) {
                lastProblem = ep + ": " + describe(a.failure());
                continue;
            }
            JsonNode json = parse(what, ep, a.body());
            EtcdJson.Error err = a.status() / 100 == 2 ? EtcdJson.error(json) : errorOf(json, a.status());
            if (err == null) {
                current.set(idx);
                return json;
            }
            if (err.unavailable()) {
                lastProblem = ep + " answered: " + err.message();
                continue;
            }
            throw new EtcdErrorException(what + ": etcd refused to authenticate user '" + settings.user() + "' ("
                    + err.message() + "): check the user and password settings", err);
        }
        throw new DcsUnavailableException(what + ": could not authenticate to etcd ("
                + describeLast(lastProblem) + ")");
    }

    /**
     * One request on one endpoint, at most {@code budgetNanos}. After a timeout the connection is closed, not kept;
     * what was already sent may still arrive, so the outcome of an unanswered write stays unknown.
     */
    private Attempt attempt(URI ep, String method, String target, byte[] body, String tok, long budgetNanos,
            boolean idempotent) {
        if (closed) {
            return notSentClosed();
        }
        return answered(http.exchange(ep, method, target, body, tok, budgetNanos, idempotent));
    }

    private Attempt answered(Attempt a) {
        if (a.kind() == Kind.ANSWERED) {
            answeredAgain();
            return a;
        }
        // close() closes the sockets under running calls: say so rather than "socket closed".
        return closed ? Attempt.failed(a.kind(), new NoExchange("the etcd client is closed", a.failure())) : a;
    }

    private static Attempt notSentClosed() {
        return Attempt.failed(Kind.NOT_SENT, new NoExchange("the etcd client is closed", null));
    }

    private long budget(long deadline, int endpointsLeft) {
        return budget(deadline, endpointsLeft, suspended);
    }

    private long budget(long deadline, int endpointsLeft, boolean quick) {
        long remaining = deadline - clock.nanoTime();
        if (quick) {
            return Math.min(remaining, quickAttemptNanos);
        }
        if (remaining <= 0 || endpointsLeft <= 1) {
            return remaining;
        }
        return Math.max(remaining / endpointsLeft, Math.min(remaining, MIN_ATTEMPT_NANOS));
    }

    private EtcdErrorException answered(String what, URI ep, EtcdJson.Error err) {
        String why;
        if (err.permissionDenied()) {
            why = "permission denied for etcd user '" + settings.user() + "': grant it read and write on the cluster "
                    + "prefix";
        } else if (err.tokenMissing()) {
            why = "etcd requires authentication (" + err.message() + "): set the user and password settings";
        } else if (err.tokenRejected()) {
            why = "etcd rejected the auth token of user '" + settings.user() + "' (" + err.message() + ")";
        } else {
            why = "etcd " + ep + " answered: " + err.message() + " (gRPC code " + err.code() + ")";
        }
        return new EtcdErrorException(what + ": " + why, err);
    }

    private static EtcdJson.Error errorOf(JsonNode json, int status) {
        EtcdJson.Error e = EtcdJson.error(json);
        return e != null ? e : new EtcdJson.Error(0, "HTTP " + status + " " + json);
    }

    private static JsonNode parse(String what, URI ep, byte[] body) throws DcsUnavailableException {
        try {
            JsonNode n = EtcdJson.MAPPER.readTree(body);
            if (n == null || n.isMissingNode()) {
                return EtcdJson.MAPPER.createObjectNode();
            }
            if (!n.isObject()) {
                throw new DcsUnavailableException(what + ": etcd " + ep + " answered with non-object JSON: "
                        + abbreviate(body));
            }
            return n;
        } catch (IOException e) {
            // Not JSON at all (a proxy's error page, a 404 of a wrong prefix): show what came.
            return EtcdJson.MAPPER.createObjectNode().put("error", "not JSON: " + abbreviate(body));
        }
    }

    private static String abbreviate(byte[] body) {
        String s = new String(body, StandardCharsets.UTF_8).strip();
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }

    private static byte[] bytes(ObjectNode body) {
        try {
            return EtcdJson.MAPPER.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode an etcd request", e);
        }
    }

    private String describe(Throwable t) {
        String d = describeFailure(t);
        return mayLackAClientCertificate(settings, t) ? d + NO_CLIENT_CERTIFICATE_HINT : d;
    }

    private static final String NO_CLIENT_CERTIFICATE_HINT = " - no client certificate (keyStore) is configured; an etcd run "
            + "with --client-cert-auth drops such connections during or right after the TLS handshake";

    /**
     * etcd with --client-cert-auth refuses a client without a certificate in the TLS 1.3 handshake, and the client
     * learns of it either as a handshake failure or, when the refusal arrives after its first request left, as a
     * connection closed without an answer. Both look like a network fault unless we say what is missing.
     */
    static boolean mayLackAClientCertificate(EtcdSettings settings, Throwable t) {
        if (t == null || t instanceof NoExchange || settings.keyStore() != null
                || !"https".equals(settings.endpoints().get(0).getScheme())) {
            return false;
        }
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof ConnectException || c instanceof InterruptedIOException
                    || c instanceof UnknownHostException || String.valueOf(c.getMessage()).contains("PKIX")) {
                return false;
            }
        }
        return t instanceof IOException;
    }

    private static String describeFailure(Throwable t) {
        if (t == null) {
            return "no answer";
        }
        String m = t.getMessage();
        String name = t.getClass().getSimpleName();
        if (t instanceof ConnectException) {
            return "connection refused";
        }
        if (t instanceof NoExchange || (t instanceof SocketTimeoutException && m != null)) {
            return m;
        }
        return m == null || m.isBlank() ? name : name + ": " + m;
    }

    /** A request that got no exchange with etcd at all (timed out, interrupted, client closed): no TLS refusal. */
    static final class NoExchange extends IOException {
        private static final long serialVersionUID = 1L;

        NoExchange(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
