package io.pgha.core.spi.http;

import java.io.IOException;
import java.io.InputStream;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;

/**
 * A small blocking HTTP/1.1 client for pgha's own calls to other servers: the etcd adapter's gateway and the HA
 * loop's calls to other members' REST APIs. One request on one endpoint within a budget, on the caller's thread,
 * over blocking sockets, with a few kept connections per endpoint. No thread of its own, no selector, no executor:
 * the JDK's asynchronous client cost about 2.4 ms of CPU per request in hand-offs, and building one loads the TLS
 * stack even for plain http (docs/decisions 0311).
 *
 * <p><b>Adapter support, not the user API:</b> public because adapter modules use it; it may change with ha-core.
 *
 * <p>Each answer is classified for the caller's failover rules: {@link Kind#ANSWERED}, {@link Kind#NOT_SENT}
 * (connecting or the TLS handshake failed: nothing of the request left) or {@link Kind#NO_ANSWER} (sent, then a
 * timeout, the end of the connection or a reset: the outcome is unknown).
 *
 * <p>TLS. An {@code https} endpoint is reached over TLS with the context given to the constructor, or, when none was
 * given, the JDK's default context, created at the first {@code https} connection: a client that only ever speaks
 * plain http never loads the TLS stack nor reads the JDK's trust store.
 *
 * <p>Kept connections. A connection goes back to its endpoint's pool only after its answer was read to the end and
 * the server did not ask to close it; at most {@value #MAX_IDLE_PER_ENDPOINT} wait per endpoint, and one idle for
 * longer than {@link #MAX_IDLE_NANOS} (10 s) is closed, not reused: a server or a middlebox may have dropped it
 * without a word. The server may also have closed a kept connection just before we sent on it; then no byte of an
 * answer comes back. An idempotent request is then sent once more on a fresh connection. A non-idempotent one (a
 * txn) would have an unknown outcome, so before one is sent on a kept connection, a read of at most 1 ms checks that
 * the server has not closed it ({@link HttpConnection#closedWhileIdle()}).
 *
 * <p>Not supported, on purpose (neither etcd's gateway nor a member's REST API needs it): redirects, proxies,
 * HTTP/2, {@code Expect: 100-continue}, compression, cookies, response headers beyond the framing.
 */
public final class HttpTransport implements AutoCloseable {

    /** What happened to one attempt on one endpoint. */
    public enum Kind { ANSWERED, NOT_SENT, NO_ANSWER }

    /**
     * One attempt: an answer's status and body (or, for an open stream with a 2xx status, the body to read), or why
     * there was none.
     */
    public record Attempt(Kind kind, int status, byte[] body, InputStream stream, IOException failure) {

        /** No answer, for {@code failure}. */
        public static Attempt failed(Kind kind, IOException failure) {
            return new Attempt(kind, 0, null, null, failure);
        }
    }

    /** A kept connection and since when (a nanoTime) it waits. */
    private record Idle(HttpConnection connection, long since) {}

    static final int MAX_IDLE_PER_ENDPOINT = 2;
    static final long MAX_IDLE_NANOS = TimeUnit.SECONDS.toNanos(10);
    /** What is read of an error answer to a stream: its explanation, not a stream of events. */
    private static final int MAX_ERROR_BYTES = 64 * 1024;

    /** The context given, or null: then the JDK's default, made at the first https connection. */
    private final SSLContext ssl;
    private volatile SSLSocketFactory tls;
    private final long connectNanos;
    private final long maxIdleNanos;
    /** Idle connections per endpoint, the most recently used first; guarded by itself. */
    private final Map<URI, ArrayDeque<Idle>> idle = new HashMap<>();
    /** Every open connection, idle, in use or streaming, so that close() can close them all. */
    private final Set<HttpConnection> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /**
     * @param ssl            the TLS context for https endpoints (trusted CAs, client certificate); null for the JDK's
     *                       default, created only when an https endpoint is first called
     * @param connectTimeout the longest wait for a TCP connection (a shorter budget shortens it)
     */
    public HttpTransport(SSLContext ssl, Duration connectTimeout) {
        this(ssl, connectTimeout.toNanos(), MAX_IDLE_NANOS);
    }

    /** @param maxIdleNanos how long a connection may wait in the pool and still be used (tests shorten it) */
    HttpTransport(SSLContext ssl, long connectNanos, long maxIdleNanos) {
        if (connectNanos <= 0) {
            throw new IllegalArgumentException("connectTimeout must be positive (got " + connectNanos + " ns)");
        }
        this.ssl = ssl;
        this.connectNanos = connectNanos;
        this.maxIdleNanos = maxIdleNanos;
    }

    /**
     * Sends one request to {@code endpoint} and reads its answer, all within {@code budgetNanos} (callers count in
     * {@link System#nanoTime()} deadlines). Never throws for a failed exchange: the attempt says what happened.
     *
     * @param endpoint   {@code http://host:port} or {@code https://host:port}; its path is ignored
     * @param method     {@code GET} (no body) or {@code POST}
     * @param target     the request target: a path, with its query if any
     * @param body       a JSON body for a POST, null for a GET
     * @param token      the {@code Authorization} header's value, or null
     * @param idempotent whether the request may be sent again when a kept connection turns out closed
     */
    public Attempt exchange(URI endpoint, String method, String target, byte[] body, String token, long budgetNanos,
            boolean idempotent) {
        long deadline = System.nanoTime() + budgetNanos;
        byte[] request = request(method, endpoint, target, body, token);
        boolean fresh = false;
        while (true) {
            HttpConnection c = fresh ? null : kept(endpoint, !idempotent);
            boolean reused = c != null;
            if (c == null) {
                try {
                    c = connect(endpoint, deadline);
                } catch (IOException e) {
                    return Attempt.failed(Kind.NOT_SENT, e);
                }
            }
            try {
                c.send(request, deadline);
                HttpConnection.Head h = c.readHead();
                byte[] answer = c.readBody(h);
                release(endpoint, c, h.keepAlive() && c.drained());
                return new Attempt(Kind.ANSWERED, h.status(), answer, null, null);
            } catch (IOException e) {
                discard(c);
                if (reused && !c.answerStarted() && idempotent && !(e instanceof SocketTimeoutException)
                        && !closed) {
                    // A kept connection the server had closed: whatever else waits in the pool is as old.
                    dropIdle(endpoint);
                    fresh = true;
                    continue;
                }
                return Attempt.failed(Kind.NO_ANSWER, noAnswer(e, budgetNanos));
            }
        }
    }

    /**
     * Sends a streaming request (a watch) on a connection of its own and returns once the head of the answer arrived
     * within {@code budgetNanos}. With a 2xx status, {@link Attempt#stream()} is the body, read with no deadline;
     * closing it closes the connection. Otherwise {@link Attempt#body()} holds the start of the error's body.
     */
    public Attempt openStream(URI endpoint, String target, byte[] body, String token, long budgetNanos) {
        long deadline = System.nanoTime() + budgetNanos;
        HttpConnection c;
        try {
            c = connect(endpoint, deadline);
        } catch (IOException e) {
            return Attempt.failed(Kind.NOT_SENT, e);
        }
        try {
            c.send(request("POST", endpoint, target, body, token), deadline);
            HttpConnection.Head h = c.readHead();
            if (h.status() / 100 == 2) {
                return new Attempt(Kind.ANSWERED, h.status(), null, c.stream(h), null);
            }
            byte[] error = c.readSome(h, MAX_ERROR_BYTES);
            discard(c);
            return new Attempt(Kind.ANSWERED, h.status(), error, null, null);
        } catch (IOException e) {
            discard(c);
            return Attempt.failed(Kind.NO_ANSWER, noAnswer(e, budgetNanos));
        }
    }

    /** Closes every connection, kept or in use: a read blocked on one fails at once; later calls are not sent. */
    @Override
    public void close() {
        closed = true;
        synchronized (idle) {
            idle.clear();
        }
        for (HttpConnection c : open) {
            c.close();
        }
        open.clear();
    }

    /** Open connections, for tests. */
    int openConnections() {
        return open.size();
    }

    /** Whether the TLS socket factory was made, for tests. */
    boolean tlsReady() {
        return tls != null;
    }

    private HttpConnection connect(URI endpoint, long deadline) throws IOException {
        if (closed) {
            throw new SocketException("the HTTP client is closed");
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
            throw new SocketTimeoutException("no time left to connect");
        }
        int millis = (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(Math.min(left, connectNanos)));
        SSLSocketFactory f = "https".equalsIgnoreCase(endpoint.getScheme()) ? tls() : null;
        HttpConnection c = HttpConnection.open(endpoint, f, millis, deadline);
        // Streams close their own connection when they are closed: forget those here.
        open.removeIf(HttpConnection::isClosed);
        open.add(c);
        if (closed) {
            // close() ran while we connected and did not see this one.
            discard(c);
            throw new SocketException("the HTTP client is closed");
        }
        return c;
    }

    /** The TLS socket factory: the given context's, or the JDK default's, made once on first use. */
    private SSLSocketFactory tls() throws IOException {
        SSLSocketFactory f = tls;
        if (f == null) {
            synchronized (this) {
                f = tls;
                if (f == null) {
                    try {
                        f = (ssl != null ? ssl : SSLContext.getDefault()).getSocketFactory();
                    } catch (NoSuchAlgorithmException e) {
                        throw new IOException("no default TLS context: " + e.getMessage(), e);
                    }
                    tls = f;
                }
            }
        }
        return f;
    }

    /** A kept connection to {@code endpoint}, or null; with {@code check}, one the server has not closed. */
    private HttpConnection kept(URI endpoint, boolean check) {
        while (true) {
            HttpConnection c;
            synchronized (idle) {
                expire(System.nanoTime());
                ArrayDeque<Idle> q = idle.get(endpoint);
                Idle i = q == null ? null : q.pollFirst();
                c = i == null ? null : i.connection();
            }
            if (c == null || !check || !c.closedWhileIdle()) {
                return c;
            }
            discard(c);
        }
    }

    private void release(URI endpoint, HttpConnection c, boolean keepAlive) {
        if (!keepAlive || closed) {
            discard(c);
            return;
        }
        long now = System.nanoTime();
        Idle extra = null;
        synchronized (idle) {
            expire(now);
            ArrayDeque<Idle> q = idle.computeIfAbsent(endpoint, k -> new ArrayDeque<>());
            q.addFirst(new Idle(c, now));
            if (q.size() > MAX_IDLE_PER_ENDPOINT) {
                extra = q.pollLast();
            }
        }
        if (extra != null) {
            discard(extra.connection());
        }
        if (closed) {
            // close() ran meanwhile and may have missed it.
            discard(c);
        }
    }

    /** Closes idle connections kept too long, on every endpoint (the calls may have moved to another one). */
    private void expire(long now) {
        for (ArrayDeque<Idle> q : idle.values()) {
            for (Iterator<Idle> it = q.descendingIterator(); it.hasNext(); ) {
                Idle i = it.next();
                if (now - i.since() < maxIdleNanos) {
                    break;
                }
                it.remove();
                discard(i.connection());
            }
        }
    }

    private void dropIdle(URI endpoint) {
        ArrayDeque<Idle> q;
        synchronized (idle) {
            q = idle.remove(endpoint);
        }
        if (q != null) {
            q.forEach(i -> discard(i.connection()));
        }
    }

    private void discard(HttpConnection c) {
        open.remove(c);
        c.close();
    }

    private IOException noAnswer(IOException e, long budgetNanos) {
        if (closed) {
            return new SocketException("the HTTP client is closed");
        }
        if (e instanceof SocketTimeoutException) {
            SocketTimeoutException t = new SocketTimeoutException("no answer within "
                    + TimeUnit.NANOSECONDS.toMillis(budgetNanos) + " ms");
            t.initCause(e);
            return t;
        }
        return e;
    }

    /** The request, head and body, to be written at once. */
    private static byte[] request(String method, URI endpoint, String target, byte[] body, String token) {
        StringBuilder h = new StringBuilder(160).append(method).append(' ').append(target).append(" HTTP/1.1\r\n")
                .append("Host: ").append(endpoint.getRawAuthority()).append("\r\n");
        if (body != null) {
            h.append("Content-Type: application/json\r\nContent-Length: ").append(body.length).append("\r\n");
        }
        if (token != null) {
            h.append("Authorization: ").append(token).append("\r\n");
        }
        byte[] head = h.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
        if (body == null) {
            return head;
        }
        byte[] all = new byte[head.length + body.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(body, 0, all, head.length, body.length);
        return all;
    }
}
