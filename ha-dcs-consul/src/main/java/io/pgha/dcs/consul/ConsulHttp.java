package io.pgha.dcs.consul;

import io.pgha.core.spi.DaemonThreadFactory;
import io.pgha.core.spi.DcsUnavailableException;
import io.pgha.core.time.HaClock;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLHandshakeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consul's HTTP API as the adapter uses it: one request at a time per call, bounded by the caller's deadline, with
 * transport failures translated into {@link DcsUnavailableException} here, at the boundary.
 *
 * <p>Several agents may be configured: a request goes to the agent that answered last, and moves on to the next one
 * only when the connection itself failed (refused, connect timeout, TLS handshake), because then nothing was sent
 * and trying elsewhere cannot apply a write twice.
 */
final class ConsulHttp implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ConsulHttp.class);

    /** An answer from Consul, whatever its status. */
    record Response(int status, byte[] body, HttpHeaders headers, URI agent) {

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        /** {@code X-Consul-Index}, or -1 when absent or not a number. */
        long index() {
            return headers.firstValue("X-Consul-Index").map(v -> {
                try {
                    return Long.parseLong(v.trim());
                } catch (NumberFormatException e) {
                    return -1L;
                }
            }).orElse(-1L);
        }

        /** Consul left entries out of a list because the token may not read them (1.11+ sets this header). */
        boolean filteredByAcls() {
            return headers.firstValue("X-Consul-Results-Filtered-By-ACLs").map("true"::equalsIgnoreCase)
                    .orElse(false);
        }
    }

    private final ConsulSettings settings;
    private final HaClock clock;
    private final String log;
    private final ExecutorService executor;
    private final HttpClient client;
    private final AtomicInteger current = new AtomicInteger();

    /** @param clock the member's clock: every deadline given to {@link #send} is a value of its nanoTime() */
    ConsulHttp(ConsulSettings settings, Duration connectTimeout, HaClock clock, String threadName, String log) {
        this.settings = settings;
        this.clock = clock;
        this.log = log;
        this.executor = Executors.newCachedThreadPool(new DaemonThreadFactory(threadName));
        HttpClient.Builder b = HttpClient.newBuilder()
                // HTTP/1.1 only: Consul's API is HTTP/1.1 and an h2c upgrade attempt would only add a round trip.
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(connectTimeout)
                .executor(executor);
        if (settings.sslContext() != null) {
            b.sslContext(settings.sslContext());
        }
        this.client = b.build();
    }

    /** The agent the next request goes to. */
    URI currentAgent() {
        return settings.agents().get(Math.floorMod(current.get(), settings.agents().size()));
    }

    /**
     * Sends one request and returns Consul's answer. A 403 (ACL) is thrown as unavailable here, since no caller can do
     * anything else with it; every other status is the caller's to read.
     *
     * @param path  the path below {@code /v1/}, unencoded (e.g. {@code kv/service/orders/leader})
     * @param query alternating names and values; a null value makes a flag parameter ({@code ?recurse})
     */
    Response send(String what, String method, String path, List<String> query, byte[] body, long deadline)
            throws DcsUnavailableException {
        List<URI> agents = settings.agents();
        int start = current.get();
        for (int attempt = 0; ; attempt++) {
            int i = Math.floorMod(start + attempt, agents.size());
            URI agent = agents.get(i);
            try {
                Response r = sendTo(agent, method, path, query, body, deadline);
                current.set(i);
                if (r.status() == 403) {
                    throw new DcsUnavailableException(what + ": Consul (" + agent + ") refused the request with 403 \""
                            + r.text().trim() + "\": check the ACL token ("
                            + (settings.token() == null ? "none is set" : "the one set") + "); it needs key:write on "
                            + "the cluster prefix and session:write");
                }
                return r;
            } catch (NotSent e) {
                boolean more = attempt + 1 < agents.size() && deadline - clock.nanoTime() > 0;
                if (!more) {
                    throw new DcsUnavailableException(what + ": cannot reach Consul (" + agent + "): "
                            + describe(e.getCause()), e.getCause());
                }
                URI next = agents.get(Math.floorMod(start + attempt + 1, agents.size()));
                LOG.warn("{}Consul agent {} cannot be reached ({}); trying {}", log, agent, describe(e.getCause()),
                        next);
            } catch (TimedOut e) {
                throw new DcsUnavailableException(what + ": no answer from Consul (" + agent + ") in time; the "
                        + "outcome is unknown", e.getCause());
            } catch (Failed e) {
                throw new DcsUnavailableException(what + ": the request to Consul (" + agent + ") failed: "
                        + describe(e.getCause()) + "; the outcome is unknown", e.getCause());
            }
        }
    }

    /** A status the caller did not expect, as an exception naming the call. */
    static DcsUnavailableException unexpected(String what, Response r) {
        String body = r.text().trim();
        if (body.length() > 300) {
            body = body.substring(0, 300) + "...";
        }
        return new DcsUnavailableException(what + ": Consul (" + r.agent() + ") answered " + r.status()
                + (body.isEmpty() ? "" : " \"" + body + "\""));
    }

    private Response sendTo(URI agent, String method, String path, List<String> query, byte[] body, long deadline)
            throws NotSent, TimedOut, Failed {
        long remaining = deadline - clock.nanoTime();
        if (remaining <= 0) {
            throw new TimedOut(null);
        }
        HttpRequest.Builder rb = HttpRequest.newBuilder(uri(agent, path, query))
                .timeout(Duration.ofNanos(remaining))
                .header("Accept", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        if (settings.token() != null) {
            rb.header("X-Consul-Token", settings.token());
        }
        CompletableFuture<HttpResponse<byte[]>> f;
        try {
            f = client.sendAsync(rb.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (RuntimeException e) {
            throw new Failed(e);
        }
        try {
            // The request timeout covers the wait for the headers only; this bounds the body as well.
            HttpResponse<byte[]> r = f.get(Math.max(1, deadline - clock.nanoTime()), TimeUnit.NANOSECONDS);
            return new Response(r.statusCode(), r.body() == null ? new byte[0] : r.body(), r.headers(), agent);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new TimedOut(e);
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new Failed(e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof HttpConnectTimeoutException || c instanceof ConnectException
                    || c instanceof SSLHandshakeException
                    || (c instanceof IOException && c.getCause() instanceof ConnectException)) {
                throw new NotSent(c);
            }
            if (c instanceof HttpTimeoutException) {
                throw new TimedOut(c);
            }
            throw new Failed(c);
        }
    }

    private URI uri(URI agent, String path, List<String> query) {
        StringBuilder sb = new StringBuilder(agent.toString()).append("/v1/").append(encodePath(path));
        char sep = '?';
        for (int i = 0; i < query.size(); i += 2) {
            sb.append(sep).append(encode(query.get(i)));
            String v = query.get(i + 1);
            if (v != null) {
                sb.append('=').append(encode(v));
            }
            sep = '&';
        }
        if (settings.datacenter() != null) {
            sb.append(sep).append("dc=").append(encode(settings.datacenter()));
        }
        return URI.create(sb.toString());
    }

    /** Percent-encodes everything but unreserved characters and '/'. */
    static String encodePath(String path) {
        StringBuilder sb = new StringBuilder();
        String[] segments = path.split("/", -1);
        for (int i = 0; i < segments.length; i++) {
            if (i > 0) {
                sb.append('/');
            }
            sb.append(encode(segments[i]));
        }
        return sb.toString();
    }

    private static String encode(String s) {
        StringBuilder sb = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
                    || c == '_' || c == '~') {
                sb.append(c);
            } else {
                sb.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xf, 16)))
                        .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
            }
        }
        return sb.toString();
    }

    private static String describe(Throwable t) {
        if (t == null) {
            return "deadline passed";
        }
        String m = t.getMessage();
        return t.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + m);
    }

    /**
     * Stops the client's worker threads. (The JDK 17 HttpClient has no close(); its selector thread is a daemon and
     * ends once the client is unreachable.)
     */
    @Override
    public void close() {
        executor.shutdownNow();
    }

    // The connection failed before anything was sent: another agent may be tried.
    private static final class NotSent extends Exception {
        private static final long serialVersionUID = 1L;

        NotSent(Throwable cause) {
            super(cause);
        }
    }

    private static final class TimedOut extends Exception {
        private static final long serialVersionUID = 1L;

        TimedOut(Throwable cause) {
            super(cause);
        }
    }

    private static final class Failed extends Exception {
        private static final long serialVersionUID = 1L;

        Failed(Throwable cause) {
            super(cause);
        }
    }
}
